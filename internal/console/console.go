// Package console writes kf-run's human output to the CI log: plain lines,
// groups (GitHub ::group::, GitLab collapsible sections, a header locally),
// annotations, a live status line on a terminal, and remote text fenced so
// it cannot run workflow commands. Every line it writes has the registered
// secrets replaced by ***, on every provider (GitLab and a terminal have no
// runtime mask command, so redaction happens here too).
//
// It does not decide what to print (that is report's and the stages' job),
// and it does not write files: outputs and summaries are report's.
//
// Workflow commands: https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
// GitLab sections: https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections
package console

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kf-run/kf-run/internal/ci"
)

// maxAnnotations is GitHub's per-step limit for error and for warning
// annotations; later ones are dropped by GitHub, so they become plain lines.
const maxAnnotations = 10

// Console writes log lines for one CI provider. The zero value is not
// usable; call New. All methods are safe for concurrent use.
type Console struct {
	mu       sync.Mutex
	w        io.Writer
	provider ci.Provider
	terminal bool
	quiet    bool // only annotations and untrusted text: see Quiet

	masked []string          // registered values, to skip duplicates
	redact *strings.Replacer // nil until Mask is called

	group    string // open GitLab section name or GitHub/local title; "" when none
	groupSeq int    // identifies the open group, so a stale end func is a no-op
	status   string // live status line currently drawn on a terminal

	errors, warnings int
	err              error // first write error

	// Injected by tests for deterministic output.
	now   func() time.Time
	token func() string
}

// New returns a Console writing to w in the conventions of provider p.
// terminal enables the redrawn status line.
func New(w io.Writer, p ci.Provider, terminal bool) *Console {
	return &Console{w: w, provider: p, terminal: terminal, now: time.Now, token: randomToken}
}

// Quiet drops progress: Printf lines, groups and the status line. Masks,
// errors, warnings, notices and Untrusted text (a failed step's log, a
// compiler's errors) are still written.
func (c *Console) Quiet() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quiet = true
}

// Err returns the first error met writing to the underlying writer.
func (c *Console) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Mask registers secret values. On GitHub each is announced with
// ::add-mask:: (escaped, so that every line of a multi-line value is masked
// by the runner); on every provider later lines have them replaced by ***.
func (c *Console) Mask(values ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	added := false
	for _, v := range values {
		if !Maskable(v) || slices.Contains(c.masked, v) {
			continue
		}
		c.masked = append(c.masked, v)
		added = true
		if c.provider == ci.GitHub {
			// The runner registers the whole value and each trimmed line,
			// but only when the newlines arrive escaped.
			b.WriteString("::add-mask::" + escapeData(v) + "\n")
		}
	}
	if added {
		c.redact = Redactor(c.masked...)
	}
	c.write(b.String())
}

// Redact registers secret values to replace by *** without announcing
// them: for a second stream (stdout) whose values another Console (on
// stderr) has announced with Mask.
func (c *Console) Redact(values ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range values {
		if Maskable(v) && !slices.Contains(c.masked, v) {
			c.masked = append(c.masked, v)
		}
	}
	c.redact = Redactor(c.masked...)
}

// Group starts a collapsible group and returns the function that ends it.
// Groups are flat: starting one ends the one that is open. Calling end
// after another group has started is a no-op.
func (c *Console) Group(title string) (end func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.quiet {
		return func() {}
	}
	var b strings.Builder
	c.startGroup(&b, title)
	c.write(b.String())
	seq := c.groupSeq
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.groupSeq != seq || c.group == "" {
			return
		}
		var b strings.Builder
		c.endGroup(&b)
		c.write(b.String())
	}
}

// Printf writes one log line (more if the text has newlines), masked, with
// control characters removed. On GitHub a line that the runner would parse
// as a workflow command is fenced with stop-commands, so text from KFP that
// reaches Printf cannot run one.
func (c *Console) Printf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.quiet {
		return
	}
	var b strings.Builder
	for _, l := range c.lines(fmt.Sprintf(format, a...)) {
		c.plain(&b, l)
	}
	c.write(b.String())
}

// Errorf writes an error annotation on GitHub (the first ten of a step) and
// an "error: " line elsewhere.
func (c *Console) Errorf(title, format string, a ...any) {
	c.annotate("error", title, fmt.Sprintf(format, a...))
}

// Warningf writes a warning annotation on GitHub (the first ten of a step)
// and a "warning: " line elsewhere.
func (c *Console) Warningf(title, format string, a ...any) {
	c.annotate("warning", title, fmt.Sprintf(format, a...))
}

// Noticef writes a notice annotation on GitHub and a "notice: " line
// elsewhere.
func (c *Console) Noticef(title, format string, a ...any) {
	c.annotate("notice", title, fmt.Sprintf(format, a...))
}

// Untrusted writes remote text (pod logs, KFP messages) in a group titled
// title, masked and with control characters removed. On GitHub the lines
// are fenced with ::stop-commands:: and a random token, so a line such as
// "::add-mask::x" printed by a pipeline is shown, not run. If a group is
// already open the text goes into it under a header line instead of
// closing it.
func (c *Console) Untrusted(title string, lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	own := c.group == ""
	if own {
		c.startGroup(&b, title)
	} else {
		c.plain(&b, "--- "+c.line(title))
	}
	var clean []string
	for _, l := range lines {
		clean = append(clean, c.lines(l)...)
	}
	if c.provider == ci.GitHub {
		c.fenced(&b, clean)
	} else {
		for _, l := range clean {
			b.WriteString(l + "\n")
		}
	}
	if own {
		c.endGroup(&b)
	}
	c.write(b.String())
}

// Status redraws the single live status line on a terminal; elsewhere it
// does nothing (callers print state changes with Printf). An empty line
// clears it.
func (c *Console) Status(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.terminal || c.quiet {
		return
	}
	line = c.line(line)
	s := "\r\x1b[2K"
	if c.status == "" {
		s = ""
	}
	c.status = line
	c.writeRaw(s + line)
}

func (c *Console) annotate(kind, title, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	title, msg = c.mask(title), c.mask(msg)
	n := &c.errors
	if kind == "warning" {
		n = &c.warnings
	}
	if c.provider == ci.GitHub && (kind == "notice" || *n < maxAnnotations) {
		*n++
		cmd := "::" + kind
		if title != "" {
			cmd += " title=" + escapeProperty(title)
		}
		c.write(cmd + "::" + escapeData(msg) + "\n")
		return
	}
	head := kind + ": "
	if title != "" {
		head += title + ": "
	}
	var b strings.Builder
	for _, l := range c.lines(head + msg) {
		c.plain(&b, l)
	}
	c.write(b.String())
}

func (c *Console) startGroup(b *strings.Builder, title string) {
	if c.group != "" {
		c.endGroup(b)
	}
	c.groupSeq++
	title = c.line(title)
	switch c.provider {
	case ci.GitHub:
		c.group = "open"
		b.WriteString("::group::" + escapeData(title) + "\n")
	case ci.GitLab:
		c.group = sectionName(c.groupSeq, title)
		fmt.Fprintf(b, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", c.now().Unix(), c.group, title)
	default:
		c.group = "open"
		b.WriteString("==> " + title + "\n")
	}
}

func (c *Console) endGroup(b *strings.Builder) {
	switch c.provider {
	case ci.GitHub:
		b.WriteString("::endgroup::\n")
	case ci.GitLab:
		fmt.Fprintf(b, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", c.now().Unix(), c.group)
	}
	c.group = ""
}

// plain writes one clean line; on GitHub a line the runner would take for
// a command is fenced.
func (c *Console) plain(b *strings.Builder, l string) {
	if c.provider == ci.GitHub && looksLikeCommand(l) {
		c.fenced(b, []string{l})
		return
	}
	b.WriteString(l + "\n")
}

// fenced writes lines between ::stop-commands::TOKEN and ::TOKEN::, the
// runner's documented way to print text without processing commands.
func (c *Console) fenced(b *strings.Builder, lines []string) {
	tok := c.token()
	b.WriteString("::stop-commands::" + tok + "\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString("::" + tok + "::\n")
}

// lines masks s and splits it into clean lines.
func (c *Console) lines(s string) []string {
	s = strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	// Redact before splitting so a multi-line secret printed whole is caught.
	s = c.mask(s)
	var out []string
	for _, l := range strings.Split(s, "\n") {
		out = append(out, c.line(l))
	}
	return out
}

// line masks one line and drops control characters (ANSI escapes could
// forge GitLab sections or redraw a terminal).
func (c *Console) line(s string) string {
	return c.mask(strings.ReplaceAll(StripControl(s), "\n", " "))
}

func (c *Console) mask(s string) string {
	if c.redact == nil {
		return s
	}
	return c.redact.Replace(s)
}

// write prints s, first clearing a live status line and redrawing it after.
func (c *Console) write(s string) {
	if s == "" {
		return
	}
	if c.status != "" {
		s = "\r\x1b[2K" + s + c.status
	}
	c.writeRaw(s)
}

func (c *Console) writeRaw(s string) {
	if _, err := io.WriteString(c.w, s); err != nil && c.err == nil {
		c.err = err
	}
}

// looksLikeCommand reports whether the runner would parse line as a
// workflow command: "::name" after leading space, or the legacy "##[name"
// anywhere (actions/runner src/Runner.Common/ActionCommand.cs).
func looksLikeCommand(line string) bool {
	// unicode.IsSpace is the same set as .NET's TrimStart.
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") ||
		strings.Contains(line, "##[")
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// sectionName makes a GitLab section name: letters, digits, _ . - only,
// unique per group so start and end always pair up.
func sectionName(seq int, title string) string {
	name := "kf-run_" + strconv.Itoa(seq)
	if title != "" {
		name += "_" + SafeName(title)
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// SafeName keeps the ASCII letters, digits, "_", "." and "-" of s and
// turns every other character into "_": the one name sanitizer for GitLab
// sections, comment markers and dotenv keys.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// StripControl removes ANSI escape sequences and C0/C1 control characters
// other than tab and newline: remote text could otherwise forge GitLab
// sections or redraw a terminal. Report uses it for markdown too.
func StripControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			// CSI: parameters and intermediates, then one final byte.
			j := i + 2
			for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
				j++
			}
			i = j
			continue
		}
		r, size := rune(ch), 1
		if ch >= 0x80 {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !isControl(r) {
			b.WriteString(s[i : i+size])
		}
		i += size - 1
	}
	return b.String()
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error.
	return hex.EncodeToString(b[:])
}

// tagColours are the ANSI colours of Tagged's tags on a terminal.
var tagColours = []string{"36", "33", "35", "32", "34", "31"}

// Tagged writes remote lines (a step's log) each after tag, e.g.
// "[train/trainer]": masked and with control characters removed. On a
// terminal the tag is coloured (colour picks one of six); on GitHub the
// lines are plain and one the runner would take for a command is fenced.
// Quiet does not drop them: they were asked for.
func (c *Console) Tagged(tag string, colour int, lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tag = c.line(tag)
	if c.terminal {
		tag = "\x1b[" + tagColours[(colour%len(tagColours)+len(tagColours))%len(tagColours)] + "m" + tag + "\x1b[0m"
	}
	var b strings.Builder
	for _, l := range lines {
		for _, cl := range c.lines(l) {
			c.plain(&b, tag+" "+cl)
		}
	}
	c.write(b.String())
}

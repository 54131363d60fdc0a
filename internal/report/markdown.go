package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// SummaryBudget is the byte budget of the whole step summary: GitHub drops
// a step summary over 1 MiB whole (actions/runner FileCommandManager.cs).
const SummaryBudget = 900 << 10

const (
	maxMessage = 300  // runes of a task message in the table
	maxError   = 2000 // runes of a pipeline error
	errorLines = 12   // lines of a pipeline error (KFP sends Go stack traces)
	trimLogTo  = 20   // lines per log tail when shrinking
	maxLogLine = 1000 // runes of one log line
)

// view says which parts of the report to render; Markdown shrinks it stage
// by stage until the text fits its budget.
type view struct {
	mermaid  bool
	maxTasks int // -1: all
	logLines int // -1: all; 0: no log tails
	params   bool
}

// Markdown renders one pipeline's result as GitHub-flavoured markdown of at
// most budget bytes (budget <= 0: no limit). Over budget it drops the DAG,
// then trims the task table (keeping failed tasks first), then the log
// tails, then the parameters, and as a last resort cuts the text; it never
// fails. All text from KFP and the spec is escaped and the plan's secrets
// are replaced by ***. The output depends only on p and pl.
func Markdown(p *plan.Plan, pl *plan.Pipeline, budget int) string {
	r := newRenderer(p, pl)
	v := view{mermaid: true, maxTasks: -1, logLines: -1, params: true}
	fits := func(s string) bool { return budget <= 0 || len(s) <= budget }
	s := r.render(v)
	if fits(s) {
		return s
	}
	v.mermaid = false
	if s = r.render(v); fits(s) {
		return s
	}
	// The longest table that fits, by binary search over the row count.
	lo, hi, best := 1, len(r.rows)-1, ""
	for lo <= hi {
		v.maxTasks = (lo + hi) / 2
		if t := r.render(v); fits(t) {
			best, lo = t, v.maxTasks+1
		} else {
			hi = v.maxTasks - 1
		}
	}
	if best != "" {
		return best
	}
	v.maxTasks = 0
	v.logLines = trimLogTo
	if s = r.render(v); fits(s) {
		return s
	}
	v.logLines = 0
	if s = r.render(v); fits(s) {
		return s
	}
	v.params = false
	if s = r.render(v); fits(s) {
		return s
	}
	return truncate(s, budget)
}

// Summary renders every pipeline, joined, within SummaryBudget bytes: each
// pipeline gets an equal share of what the smaller ones leave.
func Summary(p *plan.Plan) string {
	return joinWithin(p, SummaryBudget)
}

func joinWithin(p *plan.Plan, budget int) string {
	const sep = "\n"
	n := len(p.Pipelines)
	if n == 0 {
		return ""
	}
	full := make([]string, n)
	total := 0
	for i, pl := range p.Pipelines {
		full[i] = Markdown(p, pl, 0)
		total += len(full[i]) + len(sep)
	}
	if total <= budget {
		return strings.Join(full, sep)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(full[a]) - len(full[b]) })
	out := make([]string, n)
	left := budget
	for k, i := range order {
		share := left/(n-k) - len(sep)
		out[i] = full[i]
		if len(out[i]) > share {
			out[i] = Markdown(p, p.Pipelines[i], max(share, 1))
		}
		left -= len(out[i]) + len(sep)
	}
	return strings.Join(out, sep)
}

// row is one task of the table, in spec order.
type row struct {
	name  string
	task  *kfp.Task // nil: KFP reported nothing for it (yet)
	class string    // Mermaid class
}

type renderer struct {
	p      *plan.Plan
	pl     *plan.Pipeline
	redact *strings.Replacer
	rows   []row
}

func newRenderer(p *plan.Plan, pl *plan.Pipeline) *renderer {
	r := &renderer{p: p, pl: pl, redact: secrets(p)}
	var tasks []kfp.Task
	if pl.Outcome != nil {
		tasks = pl.Outcome.Tasks
	}
	byName := map[string]*kfp.Task{}
	for i := range tasks {
		if _, ok := byName[tasks[i].Name]; !ok {
			byName[tasks[i].Name] = &tasks[i]
		}
	}
	seen := map[string]bool{}
	if pl.Spec != nil {
		for _, t := range pl.Spec.Tasks {
			if seen[t.Name] {
				continue
			}
			seen[t.Name] = true
			r.rows = append(r.rows, row{name: t.Name, task: byName[t.Name]})
		}
	}
	// Tasks KFP reports that the root DAG does not list (nested DAGs).
	for i := range tasks {
		if !seen[tasks[i].Name] {
			seen[tasks[i].Name] = true
			r.rows = append(r.rows, row{name: tasks[i].Name, task: &tasks[i]})
		}
	}
	for i := range r.rows {
		r.rows[i].class = "pending"
		if r.rows[i].task != nil {
			r.rows[i].class = stateClass(r.rows[i].task.State)
		}
	}
	return r
}

func (r *renderer) render(v view) string {
	var b strings.Builder
	r.header(&b)
	r.facts(&b)
	r.earlier(&b)
	if r.pl.Outcome != nil {
		// Without an outcome every task would read "—": leave the table
		// and the picture out.
		r.tasks(&b, v)
	}
	if v.logLines != 0 {
		r.logs(&b, v.logLines)
	}
	if v.params {
		r.params(&b)
	}
	r.images(&b)
	if v.mermaid && r.pl.Outcome != nil {
		r.mermaid(&b)
	}
	// Belt and braces: a secret that reached the text some other way
	// (a run URL, a version name) is caught here.
	return r.redact.Replace(b.String())
}

// text redacts untrusted text before it is escaped, so the secret's
// escaped form never appears either.
func (r *renderer) text(s string) string { return r.redact.Replace(s) }

func (r *renderer) header(b *strings.Builder) {
	pl := r.pl
	emoji, what := headline(r.p, pl)
	fmt.Fprintf(b, "### %s %s: %s", emoji, cell(pl.Name, 100), what)
	if d := pl.Outcome.Duration(); d > 0 {
		fmt.Fprintf(b, " %s", duration(d))
	}
	b.WriteString("\n\n")
	if pl.Err != nil {
		msg := brief(console.StripControl(r.text(pl.Err.Error())), errorLines, maxError)
		f := fence(msg)
		fmt.Fprintf(b, "%stext\n%s\n%s\n\n", f, msg, f)
	}
}

// headline is the status line's emoji and words, without the trailing
// "in"/"after" when the run has no known duration.
func headline(p *plan.Plan, pl *plan.Pipeline) (emoji, what string) {
	emoji, what = headlineWords(p, pl)
	if pl.Outcome.Duration() <= 0 {
		what = strings.TrimSuffix(strings.TrimSuffix(what, " in"), " after")
	}
	return emoji, what
}

func headlineWords(p *plan.Plan, pl *plan.Pipeline) (emoji, what string) {
	o := pl.Outcome
	switch {
	case pl.Submission == nil:
		return "⛔", "not submitted"
	case o == nil && !p.Wait:
		return "🚀", "submitted (not waited for)"
	case o == nil:
		return "❔", "state unknown"
	case o.TimedOut && o.State == kfp.StateUnspecified:
		return "⏱️", "timed out after"
	case o.TimedOut:
		return "⏱️", "timed out (last seen " + o.State.String() + ") after"
	case o.Terminated && o.State == kfp.StateUnspecified:
		return "🛑", "interrupted, run terminated after"
	case o.Terminated:
		return "🛑", "interrupted, run terminated (" + o.State.String() + ") after"
	case o.Interrupted:
		return "🛑", "interrupted, run left " + o.State.String() + " (not terminated) after"
	case o.State == kfp.StateUnspecified:
		return "❔", "state unknown after"
	}
	return stateEmoji(o.State), o.State.String() + " in"
}

func (r *renderer) facts(b *strings.Builder) {
	pl, p := r.pl, r.p
	var lines []string
	if s := pl.Submission; s != nil {
		id := s.RunID
		if id == "" {
			id = "run"
		}
		lines = append(lines, "**Run:** "+link(code(r.text(id), 80), r.text(s.RunURL)))
		if s.ExperimentName != "" {
			lines = append(lines, "**Experiment:** "+code(r.text(s.ExperimentName), 100))
		}
		if s.VersionName != "" {
			how := "new"
			if s.VersionReused {
				how = "reused"
			}
			if s.VersionNote != "" {
				how += "; " + cell(r.text(s.VersionNote), 200)
			}
			v := code(r.text(s.VersionName), 100)
			if pl.PipelineName != "" {
				v = code(r.text(pl.PipelineName), 100) + " / " + v
			}
			lines = append(lines, "**Pipeline version:** "+v+" ("+how+")")
		}
	} else if pl.Experiment != "" {
		lines = append(lines, "**Experiment:** "+code(r.text(pl.Experiment), 100))
	}
	if p.Server.Tag != "" {
		lines = append(lines, "**KFP:** "+code(r.text(p.Server.String()), 100))
	}
	if c := commit(p.CI); c != "" {
		lines = append(lines, "**Commit:** "+c)
	}
	if p.CI.JobURL != "" {
		job := p.CI.Job
		if job == "" {
			job = "job"
		}
		lines = append(lines, "**CI job:** "+link(cell(r.text(job), 100), r.text(p.CI.JobURL)))
	}
	for _, l := range lines {
		b.WriteString("- " + l + "\n")
	}
	if len(lines) > 0 {
		b.WriteString("\n")
	}
}

func commit(info ci.Info) string {
	if info.SHA == "" {
		return ""
	}
	short := info.ShortSHA
	if short == "" {
		short = info.SHA[:min(7, len(info.SHA))]
	}
	text := code(short, 40)
	if info.ServerURL == "" || info.Repo == "" {
		return text
	}
	base := strings.TrimRight(info.ServerURL, "/") + "/" + info.Repo
	switch info.Provider {
	case ci.GitHub:
		return link(text, base+"/commit/"+info.SHA)
	case ci.GitLab:
		return link(text, base+"/-/commit/"+info.SHA)
	}
	return text
}

// keep chooses which rows to show when the table is trimmed to n rows:
// tasks that did not succeed first, then the rest, shown in spec order.
func (r *renderer) keep(n int) []bool {
	show := make([]bool, len(r.rows))
	if n < 0 || n >= len(r.rows) {
		for i := range show {
			show[i] = true
		}
		return show
	}
	for pass := 0; pass < 2 && n > 0; pass++ {
		for i, row := range r.rows {
			bad := row.task != nil && !row.task.State.IsSuccess() && row.task.State.IsTerminal()
			if n > 0 && !show[i] && (pass == 1 || bad) {
				show[i] = true
				n--
			}
		}
	}
	return show
}

func (r *renderer) tasks(b *strings.Builder, v view) {
	if len(r.rows) == 0 {
		return
	}
	show := r.keep(v.maxTasks)
	hidden, header := 0, false
	for i, row := range r.rows {
		if !show[i] {
			hidden++
			continue
		}
		if !header {
			b.WriteString("| Task | State | Duration | Message |\n|---|---|---|---|\n")
			header = true
		}
		state, dur, msg := "—", "", ""
		if t := row.task; t != nil {
			state = stateEmoji(t.State) + " " + taskState(t.State)
			if d := t.Duration(); d > 0 {
				dur = duration(d)
			}
			msg = cell(r.text(t.Message), maxMessage)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", code(r.text(row.name), 100), state, dur, msg)
		// A failure of the root task itself is this row.
		r.failureRows(b, func(f plan.Failure) bool { return f.Path[0] == row.name && len(f.Path) > 1 })
	}
	if header {
		names := map[string]bool{}
		for _, row := range r.rows {
			names[row.name] = true
		}
		r.failureRows(b, func(f plan.Failure) bool { return !names[f.Path[0]] })
		if o := r.pl.Outcome; o != nil && o.MoreFailures > 0 {
			fmt.Fprintf(b, "| ↳ %d more failed steps | | | |\n", o.MoreFailures)
		}
	}
	if hidden > 0 {
		url := ""
		if r.pl.Submission != nil {
			url = r.text(r.pl.Submission.RunURL)
		}
		more := " more"
		if header {
			b.WriteString("\n")
		} else {
			more = ""
		}
		fmt.Fprintf(b, "%d%s tasks — %s\n", hidden, more, link("see the run", url))
	}
	b.WriteString("\n")
}

// failureRows writes the failed steps (at any depth) that match as rows
// under their root task: their path, and the message.
func (r *renderer) failureRows(b *strings.Builder, match func(plan.Failure) bool) {
	o := r.pl.Outcome
	if o == nil {
		return
	}
	for _, f := range o.Failures {
		if len(f.Path) == 0 || !match(f) {
			continue
		}
		what := r.text(f.PathString())
		if f.Driver {
			what += " (driver)"
		}
		msg := f.Message
		if len(f.Items) > 0 {
			msg = strings.TrimSpace(strings.Join(f.Items, ", ") + " " + msg)
		}
		fmt.Fprintf(b, "| ↳ %s | %s FAILED | | %s |\n", code(what, 200), stateEmoji(kfp.StateFailed), cell(r.text(msg), maxMessage))
	}
}

func (r *renderer) logs(b *strings.Builder, lines int) {
	o := r.pl.Outcome
	if o == nil || len(o.Failures) == 0 {
		return
	}
	for _, f := range o.Failures {
		name := f.PathString()
		if f.Driver {
			name += " (driver)"
		}
		tail := f.Log
		if len(tail) == 0 {
			if f.NoLog != "" {
				fmt.Fprintf(b, "No log of %s: %s\n\n", code(r.text(name), 200), cell(r.text(f.NoLog), maxMessage*2))
			}
			continue
		}
		note := ""
		if f.LogSource != "" {
			note = ", from " + r.text(f.LogSource)
		}
		if lines > 0 && len(tail) > lines {
			tail = tail[len(tail)-lines:]
			note += fmt.Sprintf(", last %d lines", lines)
		}
		clean := make([]string, len(tail))
		for i, l := range tail {
			clean[i] = cut(console.StripControl(strings.TrimRight(r.text(l), "\r\n")), maxLogLine)
		}
		body := strings.Join(clean, "\n")
		fc := fence(body)
		fmt.Fprintf(b, "<details><summary>Log of %s%s</summary>\n\n%stext\n%s\n%s\n\n</details>\n\n",
			code(r.text(name), 200), cell(note, 300), fc, body, fc)
	}
}

func (r *renderer) params(b *strings.Builder) {
	if len(r.pl.Parameters) == 0 {
		return
	}
	b.WriteString("<details><summary>Parameters</summary>\n\n| Name | Value |\n|---|---|\n")
	for _, k := range slices.Sorted(maps.Keys(r.pl.Parameters)) {
		fmt.Fprintf(b, "| %s | %s |\n", code(r.text(k), 100), code(r.text(paramValue(r.pl.Parameters[k])), 200))
	}
	b.WriteString("\n</details>\n\n")
}

func paramValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}

// images lists the pipeline's ko:// images and the pushed references
// the build stage pinned them to.
func (r *renderer) images(b *strings.Builder) {
	images := r.pl.Images
	if len(images) == 0 {
		return
	}
	b.WriteString("| Image | Pushed as |\n|---|---|\n")
	for _, im := range images {
		note := ""
		if im.Reused {
			note = " (unchanged)"
		}
		fmt.Fprintf(b, "| %s | %s%s |\n", code(im.Ref, 200), code(im.Digest, 300), note)
	}
	b.WriteString("\n")
}

// GitHub renders Mermaid with its defaults: a diagram over maxEdges edges
// or maxTextSize characters shows an error box instead of the graph
// (mermaid's flowchart.maxEdges and maxTextSize). Such a DAG is left out:
// the task table says it all.
const (
	mermaidMaxEdges    = 500
	mermaidMaxTextSize = 50000
)

// mermaidFits reports whether a diagram of text with edges edges renders.
func mermaidFits(text string, edges int) bool {
	return edges <= mermaidMaxEdges && len(text) <= mermaidMaxTextSize
}

// mermaid draws the root DAG from the spec, nodes coloured by task state.
// Node ids are generated (n0, n1...), labels sanitized and quoted.
func (r *renderer) mermaid(b *strings.Builder) {
	spec := r.pl.Spec
	if spec == nil || len(spec.Tasks) == 0 {
		return
	}
	id := map[string]string{}
	class := map[string]string{}
	for _, row := range r.rows {
		class[row.name] = row.class
	}
	var g strings.Builder
	g.WriteString("graph TD\n")
	for _, t := range spec.Tasks {
		if _, ok := id[t.Name]; ok {
			continue
		}
		id[t.Name] = fmt.Sprintf("n%d", len(id))
		fmt.Fprintf(&g, "  %s[\"%s\"]:::%s\n", id[t.Name], mermaidLabel(r.text(t.Name)), class[t.Name])
	}
	edges := 0
	for _, t := range spec.Tasks {
		for _, d := range t.DependsOn {
			if from, ok := id[d]; ok {
				fmt.Fprintf(&g, "  %s --> %s\n", from, id[t.Name])
				edges++
			}
		}
	}
	g.WriteString("  classDef succeeded fill:#dafbe1,stroke:#1a7f37,color:#1f2328\n" +
		"  classDef failed fill:#ffebe9,stroke:#cf222e,color:#1f2328\n" +
		"  classDef running fill:#ddf4ff,stroke:#0969da,color:#1f2328\n" +
		"  classDef pending fill:#eaeef2,stroke:#6e7781,color:#1f2328\n" +
		"  classDef canceled fill:#fff1e5,stroke:#bc4c00,color:#1f2328\n")
	if !mermaidFits(g.String(), edges) {
		return
	}
	b.WriteString("```mermaid\n" + g.String() + "```\n\n")
}

func stateClass(s kfp.RunState) string {
	switch s {
	case kfp.StateSucceeded:
		return "succeeded"
	case kfp.StateFailed:
		return "failed"
	case kfp.StateRunning:
		return "running"
	case kfp.StateCanceled, kfp.StateCanceling:
		return "canceled"
	}
	return "pending"
}

func stateEmoji(s kfp.RunState) string {
	switch s {
	case kfp.StateSucceeded:
		return "✅"
	case kfp.StateFailed:
		return "❌"
	case kfp.StateRunning:
		return "🔵"
	case kfp.StateCanceled, kfp.StateCanceling:
		return "🚫"
	case kfp.StateSkipped:
		return "⏭️"
	case kfp.StatePaused:
		return "⏸️"
	}
	return "⚪"
}

// duration reads like "4m12s": seconds under an hour, minutes above.
func duration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	if d >= time.Hour {
		d = d.Round(time.Minute)
		h, m := d/time.Hour, (d%time.Hour)/time.Minute
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	d = d.Round(time.Second)
	m, sec := d/time.Minute, (d%time.Minute)/time.Second
	switch {
	case m == 0:
		return fmt.Sprintf("%ds", sec)
	case sec == 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dm%ds", m, sec)
}

// truncate cuts s to budget bytes on a rune boundary, with a note if there
// is room for one.
func truncate(s string, budget int) string {
	const note = "\n\n… (truncated)\n"
	if len(s) <= budget {
		return s
	}
	end := budget - len(note)
	tail := note
	if end < 0 {
		end, tail = budget, ""
	}
	for end > 0 && !utf8RuneStart(s[end]) {
		end--
	}
	return s[:end] + tail
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// secretValues lists everything the plan says is secret.
func secretValues(p *plan.Plan) []string {
	vals := append([]string{}, p.Secrets...)
	vals = append(vals, p.Auth.Secrets()...)
	if p.CI.Token != "" {
		vals = append(vals, p.CI.Token)
	}
	return vals
}

// secrets builds the redactor for the plan's secrets.
func secrets(p *plan.Plan) *strings.Replacer {
	return console.Redactor(secretValues(p)...)
}

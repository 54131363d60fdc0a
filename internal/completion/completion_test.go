package completion

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tool is a program with every kind of flag value, a two-word command and a
// command with arguments.
func tool() Program {
	return Program{
		Name:  "tool",
		Flags: []Flag{{Name: "help", Bool: true, Usage: "the commands"}, {Name: "profile"}, {Name: "version", Bool: true}},
		Commands: []Command{
			{Name: "go", Flags: []Flag{
				{Name: "fast", Bool: true, Usage: "don't stop: it's quick"},
				{Name: "format", Words: []string{"text", "json"}, Usage: "a FORMAT: text or json"},
				{Name: "file", Files: true},
				{Name: "config", Files: true},
				{Name: "name", Query: &Query{Args: []string{"names", "list"}, Pass: []string{"config"}}},
				{Name: "wait", Usage: `how long \ to wait`},
			}},
			{Name: "stop", Flags: []Flag{{Name: "force", Bool: true}, {Name: "format", Words: []string{"text", "json"}}}},
			{Name: "sched sync", Flags: []Flag{{Name: "dry-run", Bool: true}}},
			{Name: "shell", Args: []string{"bash", "zsh"}},
		},
	}
}

// A case is a command line whose last word is the one being completed, and
// what each shell offers for it. Where the shells differ, by their own
// conventions, shells says how.
type completeCase struct {
	name   string
	words  []string
	want   []string
	shells map[string][]string
}

func completeCases() []completeCase {
	files := []string{"a.yaml", "b.txt", "sub"}
	return []completeCase{
		{name: "commands", words: []string{"tool", ""}, want: []string{"go", "sched", "shell", "stop"}},
		{name: "commands by prefix", words: []string{"tool", "s"}, want: []string{"sched", "shell", "stop"}},
		{name: "program flags", words: []string{"tool", "-"}, want: []string{"--help", "--profile", "--version"}},
		{name: "second word", words: []string{"tool", "sched", ""}, want: []string{"sync"}},
		{name: "flags of a two-word command", words: []string{"tool", "sched", "sync", "--"}, want: []string{"--dry-run"}},
		{name: "flags of one command only", words: []string{"tool", "stop", "--"}, want: []string{"--force", "--format"}},
		{name: "flags by prefix", words: []string{"tool", "go", "--f"}, want: []string{"--fast", "--file", "--format"}},
		{name: "flags where nothing else goes", words: []string{"tool", "stop", ""}, want: []string{"--force", "--format"},
			shells: map[string][]string{"fish": nil}}, // fish offers flags after a dash only
		{name: "flags after a bool flag", words: []string{"tool", "go", "--fast", "--w"}, want: []string{"--wait"}},
		{name: "words", words: []string{"tool", "go", "--format", ""}, want: []string{"json", "text"}},
		{name: "words by prefix", words: []string{"tool", "stop", "--format", "j"}, want: []string{"json"}},
		{name: "words after =", words: []string{"tool", "go", "--format=j"}, want: []string{"--format=json"},
			shells: map[string][]string{"bash": {"json"}, "zsh": {"json"}}}, // bash splits at =; zsh keeps --format= aside
		{name: "a typed value", words: []string{"tool", "go", "--wait", ""}, want: nil},
		{name: "a value is not a command", words: []string{"tool", "--profile", "sched", ""}, want: []string{"go", "sched", "shell", "stop"}},
		{name: "an argument no one can guess", words: []string{"tool", "stop", "x"}, want: nil},
		{name: "arguments", words: []string{"tool", "shell", ""}, want: []string{"bash", "zsh"}},
		{name: "arguments once", words: []string{"tool", "shell", "bash", "z"}, want: nil},
		{name: "files", words: []string{"tool", "go", "--file", ""}, want: files,
			shells: map[string][]string{"fish": {"a.yaml", "b.txt", "sub/"}, "zsh": {"<files>"}}},
		{name: "files by prefix", words: []string{"tool", "go", "--config", "a"}, want: []string{"a.yaml"},
			shells: map[string][]string{"zsh": {"<files>"}}},
		{name: "query", words: []string{"$STUB", "go", "--name", ""}, want: []string{"alpha", "beta", "my pipe", "args=names+list"},
			shells: map[string][]string{"bash": {"alpha", "beta", `my\ pipe`, "args=names+list"}}}, // zsh and fish quote as they insert
		{name: "query by prefix", words: []string{"$STUB", "go", "--name", "b"}, want: []string{"beta"}},
		{name: "query with the config given", words: []string{"$STUB", "go", "--config", "c.yaml", "--name", ""},
			want:   []string{"alpha", "beta", "my pipe", "args=names+list+--config+c.yaml"},
			shells: map[string][]string{"bash": {"alpha", "beta", `my\ pipe`, "args=names+list+--config+c.yaml"}}},
		{name: "query with the config given by =", words: []string{"$STUB", "go", "--config=c.yaml", "--fast", "--name", "a"},
			want: []string{"alpha", "args=names+list+--config+c.yaml"}},
		{name: "query with a config at home", words: []string{"$STUB", "go", "--config", "~/c.yaml", "--name", "a"},
			want: []string{"alpha", "args=names+list+--config+$HOME/c.yaml"}},
	}
}

// fixture is a directory with files to complete and a program that answers
// queries: it prints alpha, beta, my pipe and the arguments it was given.
func fixture(t *testing.T) (dir, stub string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"a.yaml", "b.txt", "sub/c.yaml"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stub = filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nIFS=+\nprintf '%s\\n' alpha beta 'my pipe' \"args=$*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, stub
}

func script(t *testing.T, shell string, p Program) string {
	t.Helper()
	s, err := Script(shell, p)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "completion."+shell)
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// shellRun runs a shell program in dir with a HOME of its own and returns
// its output lines, sorted.
func shellRun(t *testing.T, dir, home string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CACHE_HOME=" + home}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// bashComplete is what the bash script offers for words, the last being
// the one completed, the way bash calls it (COMP_WORDS split at the = of
// --flag=value, as COMP_WORDBREAKS says by default).
const bashComplete = `source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_tool
if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}"; fi
`

// zshComplete calls the zsh function with zsh's completion builtins
// replaced by ones that print what they are given, filtered by the prefix
// the way zsh would: the logic is zsh's own; the menu is not.
const zshComplete = `compdef() { : }
compadd() {
    [[ $1 == -- ]] && shift
    local w
    for w; do [[ $w == "$PREFIX"* ]] && print -r -- $w; done
}
_describe() { compadd -- ${(P)${@[-1]}%%:*} }
_files() { print -r -- '<files>' }
compset() { [[ $1 == -P ]] && PREFIX=${PREFIX#*=} }
source "$1"
shift
words=("$@")
CURRENT=$#
PREFIX=${words[CURRENT]}
_tool
true # _tool fails when it offers nothing
`

// fishComplete asks fish itself what it would offer for the line.
const fishComplete = `source $argv[1]
complete -C $argv[2] | string replace -r '\t.*' ''
true # string replace fails when it replaced nothing
`

func TestScripts(t *testing.T) {
	t.Parallel()
	for _, shell := range Shells() {
		t.Run(shell, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(shell); err != nil {
				t.Skipf("%s is not installed", shell)
			}
			f := script(t, shell, tool())
			dir, stub := fixture(t)
			home := t.TempDir()
			for _, tt := range completeCases() {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					want := tt.want
					if w, ok := tt.shells[shell]; ok {
						want = w
					}
					want = slices.Clone(want)
					for i, w := range want {
						want[i] = strings.ReplaceAll(w, "$HOME", home)
					}
					words := slices.Clone(tt.words)
					words[0] = strings.ReplaceAll(words[0], "$STUB", stub)
					var got []string
					switch shell {
					case "bash":
						got = shellRun(t, dir, home, append([]string{"bash", "--norc", "--noprofile", "-c", bashComplete, "bash", f}, bashWords(words)...)...)
					case "zsh":
						got = shellRun(t, dir, home, append([]string{"zsh", "-f", "-c", zshComplete, "zsh", f}, words...)...)
					case "fish":
						got = shellRun(t, dir, home, "fish", "--no-config", "-c", fishComplete, f, strings.Join(words, " "))
					}
					want = slices.Sorted(slices.Values(want))
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s offers for %q (-want +got):\n%s", shell, tt.words, diff)
					}
				})
			}
		})
	}
}

// bashWords are words as bash's COMP_WORDS has them: --flag=value is
// --flag, =, value.
func bashWords(words []string) []string {
	var out []string
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok && strings.HasPrefix(w, "-") {
			out = append(out, k, "=", v)
			continue
		}
		out = append(out, w)
	}
	return out
}

// The cursor right after --flag= is a word of its own in bash; with = not
// in COMP_WORDBREAKS, --flag=value is one word: both complete the value.
func TestBashEquals(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	f := script(t, "bash", tool())
	dir, _ := fixture(t)
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"tool", "go", "--format", "="}, []string{"json", "text"}},
		{[]string{"tool", "go", "--format", "=", "t"}, []string{"text"}},
		{[]string{"tool", "go", "--format=t"}, []string{"--format=text"}},
		{[]string{"tool", "go", "--fast", "=", ""}, nil},
		{[]string{"tool", "shell", "--x", "=", "y", ""}, []string{"bash", "zsh"}},
	} {
		got := shellRun(t, dir, t.TempDir(), append([]string{"bash", "--norc", "--noprofile", "-c", bashComplete, "bash", f}, tt.words...)...)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("bash offers for %q (-want +got):\n%s", tt.words, diff)
		}
	}
}

// Each script is valid in its shell, and loads: bash and zsh register a
// function for the program, fish its completions.
func TestScriptsLoad(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		shell string
		check []string
		want  string
	}{
		{"bash", []string{"bash", "--norc", "--noprofile", "-c", `bash -n "$1" && source "$1" && complete -p tool`, "bash"}, "complete -F _tool tool"},
		{"zsh", []string{"zsh", "-f", "-c", `zsh -n "$1" && autoload -U compinit && compinit -u -d "$HOME/zcompdump" && source "$1" && print -r -- $_comps[tool]`, "zsh"}, "_tool"},
		{"fish", []string{"fish", "--no-config", "-c", `fish --no-execute $argv[1]; and source $argv[1]; and complete -c tool | string match -q -- '*-l format*'; and echo loaded`}, "loaded"},
	} {
		t.Run(tt.shell, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(tt.shell); err != nil {
				t.Skipf("%s is not installed", tt.shell)
			}
			f := script(t, tt.shell, tool())
			got := shellRun(t, t.TempDir(), t.TempDir(), append(tt.check, f)...)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s: loading the script gave %q, want %q", tt.shell, got, tt.want)
			}
		})
	}
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		shell string
		edit  func(*Program)
		want  string
	}{
		{"unknown shell", "tcsh", func(*Program) {}, `no completion for shell "tcsh": want bash, zsh, fish`},
		{"unsafe flag", "bash", func(p *Program) { p.Commands[0].Flags[0].Name = "a;b" }, `command "go": flag --a;b: "a;b"`},
		{"unsafe word", "zsh", func(p *Program) { p.Commands[0].Flags[1].Words[0] = "$(x)" }, `"$(x)": want letters`},
		{"unsafe command", "fish", func(p *Program) { p.Commands[1].Name = "st op'" }, `command "st op'": word "op'"`},
		{"two lines of usage", "fish", func(p *Program) { p.Commands[0].Flags[0].Usage = "a\nb" }, "its usage must be one line"},
		{"a command twice", "bash", func(p *Program) { p.Commands[1].Name = "go" }, `command "go" is described twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tool()
			tt.edit(&p)
			_, err := Script(tt.shell, p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Script(%s) = %v, want an error with %q", tt.shell, err, tt.want)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// completionScript writes kf-run's completion script for shell to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	e, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"completion", shell}, e); code != exitOK {
		t.Fatalf("kf-run completion %s: exit %d\n%s", shell, code, stderr)
	}
	f := filepath.Join(t.TempDir(), "kf-run."+shell)
	if err := os.WriteFile(f, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// bashOffers sources the bash script in a real bash, in dir, and returns
// COMPREPLY for words, the last being the word completed, sorted.
func bashOffers(t *testing.T, script, dir string, words ...string) []string {
	t.Helper()
	const complete = `source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_kf_run
if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}"; fi
`
	cmd := exec.Command("bash", append([]string{"--norc", "--noprofile", "-c", complete, "bash", script}, words...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("bash completing %q: %v\n%s", words, err, stderr.String())
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return nil
	}
	slices.Sort(lines)
	return lines
}

func needShell(t *testing.T, shell string) {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		t.Skipf("%s is not installed", shell)
	}
}

func TestCompletionBash(t *testing.T) {
	t.Parallel()
	needShell(t, "bash")
	script := completionScript(t, "bash")
	dir := t.TempDir()
	for _, f := range []string{"kf-run.yaml", "train.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := []string{"kf-run.yaml", "train.yaml"}
	tests := []struct {
		words []string
		want  []string // exactly, when lacks is empty
		has   []string
		lacks []string
	}{
		{words: []string{"kf-run", ""}, want: []string{"cleanup", "completion", "doctor", "run", "schedule", "stop", "validate", "version", "wait"}},
		{words: []string{"kf-run", "sch"}, want: []string{"schedule"}},
		{words: []string{"kf-run", "schedule", ""}, want: []string{"sync"}},
		{words: []string{"kf-run", "-"}, want: []string{"--help", "--version"}},
		{words: []string{"kf-run", "run", "--"}, has: []string{"--no-wait", "--output", "--pipeline", "--kube-context", "--help"}, lacks: []string{"--print", "--dry-run", "--state"}},
		{words: []string{"kf-run", "run", "--no-"}, want: []string{"--no-comment", "--no-compile", "--no-wait"}},
		{words: []string{"kf-run", "doctor", "--"}, has: []string{"--host", "--kube-context"}, lacks: []string{"--no-wait", "--pipeline", "--output", "--dry-run", "--print"}},
		{words: []string{"kf-run", "validate", "--"}, has: []string{"--print", "--pipeline"}, lacks: []string{"--kube-context", "--no-wait", "--output", "--timeout"}},
		{words: []string{"kf-run", "schedule", "sync", "--"}, has: []string{"--dry-run", "--prune"}, lacks: []string{"--pipeline", "--no-wait", "--output"}},
		{words: []string{"kf-run", "--config", "x", "run", "--output", ""}, want: []string{"json", "text"}},
		{words: []string{"kf-run", "wait", "RUN", "--output", "j"}, want: []string{"json"}},
		{words: []string{"kf-run", "run", "--output", "=", "t"}, want: []string{"text"}},
		{words: []string{"kf-run", "run", "--timeout", ""}, want: nil},
		{words: []string{"kf-run", "completion", ""}, want: []string{"bash", "fish", "zsh"}},
		{words: []string{"kf-run", "run", "--config", ""}, want: files},
		{words: []string{"kf-run", "validate", "--spec", "t"}, want: []string{"train.yaml"}},
		{words: []string{"kf-run", "run", "--summary-file", ""}, want: files},
		{words: []string{"kf-run", "stop", "--state", ""}, want: files},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			t.Parallel()
			got := bashOffers(t, script, dir, tt.words...)
			if tt.has == nil && tt.lacks == nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("offers (-want +got):\n%s", diff)
				}
			}
			for _, w := range tt.has {
				if !slices.Contains(got, w) {
					t.Errorf("does not offer %s: %q", w, got)
				}
			}
			for _, w := range tt.lacks {
				if slices.Contains(got, w) {
					t.Errorf("offers %s, another command's flag: %q", w, got)
				}
			}
		})
	}
}

// Completion offers every flag each command parses, and only those: what
// its --help lists (the flag set the command parses), with --help. A flag
// added to a command is offered with no change to the completion code; a
// flag a command parses that its flag set does not declare fails here.
func TestCompletionOffersEveryFlag(t *testing.T) {
	t.Parallel()
	needShell(t, "bash")
	script := completionScript(t, "bash")
	helpFlag := regexp.MustCompile(`(?m)^  (--[a-z0-9-]+)`) // a flag --help lists
	for _, c := range commands() {
		if c.flags == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, stdout, _ := testEnv(nil)
			words := strings.Fields(c.name)
			if code := run(context.Background(), append(slices.Clone(words), "--help"), e); code != exitOK {
				t.Fatalf("kf-run %s --help: exit %d", c.name, code)
			}
			want := []string{"--help"}
			for _, m := range helpFlag.FindAllStringSubmatch(stdout.String(), -1) {
				want = append(want, m[1])
			}
			slices.Sort(want)
			if len(want) < 2 {
				t.Fatalf("kf-run %s --help lists no flags:\n%s", c.name, stdout)
			}
			got := bashOffers(t, script, t.TempDir(), append(append([]string{"kf-run"}, words...), "--")...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("kf-run %s --<TAB> (-its flags +offered):\n%s", c.name, diff)
			}
		})
	}
}

// completionFlag reads how a value completes from the flag itself.
func TestCompletionFlag(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var c commonFlags
	c.registerSelect(fs)
	var o outputFlags
	o.register(fs)
	fs.Var(duration{&c.Timeout}, "timeout", "after `DURATION`")
	got := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		cf := completionFlag(f)
		switch {
		case cf.Bool:
			got[f.Name] = "bool"
		case cf.Words != nil:
			got[f.Name] = strings.Join(cf.Words, "|")
		case cf.Files:
			got[f.Name] = "files"
		case cf.Query != nil:
			got[f.Name] = strings.Join(append(cf.Query.Args, cf.Query.Pass...), " ")
		default:
			got[f.Name] = "text"
		}
	})
	want := map[string]string{
		"config": "files", "spec": "files", "pipeline": "completion pipelines config",
		"experiment": "text", "run-name": "text", "param": "text", "no-compile": "bool",
		"output": "text|json", "quiet": "bool", "timeout": "text",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("value completion by flag (-want +got):\n%s", diff)
	}
}

// Each command of the table is in the top-level help and in the README's
// list of commands.
func TestCommandsListed(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, commandsBlock, _ := strings.Cut(string(readme), "## Commands\n\n```\n")
	commandsBlock, _, _ = strings.Cut(commandsBlock, "```")
	for _, c := range commands() {
		if !strings.Contains(usageText, "kf-run "+c.name) {
			t.Errorf("kf-run --help does not list kf-run %s", c.name)
		}
		if !strings.Contains(commandsBlock, "kf-run "+c.name) {
			t.Errorf("README.md's ## Commands does not list kf-run %s", c.name)
		}
	}
}

// The zsh and fish scripts are valid in their shells and load; fish, which
// can say what it would offer, offers a command's own flags only.
func TestCompletionZshFish(t *testing.T) {
	t.Parallel()
	t.Run("zsh", func(t *testing.T) {
		t.Parallel()
		needShell(t, "zsh")
		script := completionScript(t, "zsh")
		cmd := exec.Command("zsh", "-f", "-c", `zsh -n "$1" && autoload -U compinit && compinit -u -d "$2/zcompdump" && source "$1" && print -r -- $_comps[kf-run]`, "zsh", script, t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "_kf_run" {
			t.Errorf("zsh: loading the script: %v\n%s", err, out)
		}
	})
	t.Run("fish", func(t *testing.T) {
		t.Parallel()
		needShell(t, "fish")
		script := completionScript(t, "fish")
		home := t.TempDir()
		cmd := exec.Command("fish", "--no-config", "-c", `fish --no-execute $argv[1]; and source $argv[1]; and complete -C 'kf-run doctor --'`, script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: loading the script: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--kube-context\t") || strings.Contains(string(out), "--no-wait") {
			t.Errorf("fish offers for kf-run doctor --, want its flags only:\n%s", out)
		}
	})
}

// kf-run completion pipelines reads kf-run.yaml of the working directory
// when no --config is given; without one there is nothing to offer.
func TestCompletionPipelinesDefaultFile(t *testing.T) {
	t.Chdir(t.TempDir()) // not parallel: the working directory is the process's
	e, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"completion", "pipelines"}, e); code != exitOK || stdout.Len()+stderr.Len() > 0 {
		t.Errorf("without kf-run.yaml: exit %d, stdout %q, stderr %q; want 0 and nothing", code, stdout, stderr)
	}
	if err := os.WriteFile("kf-run.yaml", []byte("pipelines:\n  - name: train\n  - name: eval\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, stdout, stderr = testEnv(nil)
	if code := run(context.Background(), []string{"completion", "pipelines"}, e); code != exitOK || stdout.String() != "train\neval\n" {
		t.Errorf("with kf-run.yaml: exit %d, stdout %q, stderr %q; want 0 and its names", code, stdout, stderr)
	}
}

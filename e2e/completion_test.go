package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The completion scripts of the real binary complete --pipeline with the
// names of the config on the line, else of kf-run.yaml in the working
// directory, by running kf-run itself: no compile: command runs, and no
// secret the config names is needed.
func TestCompletionPipelines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kf-run.yaml", `kubeflow:
  host: https://kubeflow.invalid/pipeline
  auth:
    token: ${KFP_TOKEN}
pipelines:
  - name: train
    compile: touch compiled
    spec: train.yaml
  - name: eval
    spec: eval.yaml
  - name: ${TEAM}-score
    spec: score.yaml
`)
	write("other.yaml", "pipelines:\n  - name: nightly\n    spec: nightly.yaml\n")
	if err := os.Mkdir(filepath.Join(dir, "my dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("my dir/k.yaml", "pipelines:\n  - name: weekly\n    spec: weekly.yaml\n")

	tests := []struct {
		words []string // after the binary; the last is the word completed
		want  []string
	}{
		{[]string{"run", "--pipeline", ""}, []string{"eval", "train"}},
		{[]string{"run", "--pipeline", "t"}, []string{"train"}},
		{[]string{"validate", "--config", "other.yaml", "--pipeline", ""}, []string{"nightly"}},
		{[]string{"run", "--config=other.yaml", "--pipeline", ""}, []string{"nightly"}},
	}
	// bash keeps a word's quoting in COMP_WORDS: the path is unquoted
	// before kf-run reads it.
	quoted := []struct {
		words []string
		want  []string
	}{
		{[]string{"run", "--config", `"my dir/k.yaml"`, "--pipeline", ""}, []string{"weekly"}},
		{[]string{"run", "--config", `'my dir/k.yaml'`, "--pipeline", ""}, []string{"weekly"}},
		{[]string{"run", "--config", `my\ dir/k.yaml`, "--pipeline", ""}, []string{"weekly"}},
	}
	t.Run("bash", func(t *testing.T) {
		script := completionScript(t, dir, "bash")
		for _, tt := range append(tests, quoted...) {
			var words []string // as COMP_WORDS has them: split at =
			for _, w := range tt.words {
				if k, v, ok := strings.Cut(w, "="); ok {
					words = append(words, k, "=", v)
					continue
				}
				words = append(words, w)
			}
			got := shellLines(t, dir, append([]string{"bash", "--norc", "--noprofile", "-c", `source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_kf_run
if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}"; fi`, "bash", script, kfRunBin}, words...)...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bash offers for %q (-want +got):\n%s", tt.words, diff)
			}
		}
	})
	t.Run("fish", func(t *testing.T) {
		if _, err := exec.LookPath("fish"); err != nil {
			t.Skip("fish is not installed")
		}
		script := completionScript(t, dir, "fish")
		for _, tt := range tests {
			line := kfRunBin + " " + strings.Join(tt.words, " ")
			got := shellLines(t, dir, "fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2] | string replace -r '\t.*' ''; true`, script, line)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fish offers for %q (-want +got):\n%s", tt.words, diff)
			}
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "compiled")); err == nil {
		t.Error("completing --pipeline ran the config's compile: command")
	}
}

func completionScript(t *testing.T, dir, shell string) string {
	t.Helper()
	r := kfRun(context.Background(), t, dir, nil, "completion", shell)
	if r.code != 0 {
		t.Fatalf("kf-run completion %s:\n%s", shell, r)
	}
	f := filepath.Join(t.TempDir(), "kf-run."+shell)
	if err := os.WriteFile(f, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// shellLines runs a shell in dir with a home of its own and no KFP
// settings, and returns the lines it printed, sorted.
func shellLines(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", args[0], err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return nil
	}
	slices.Sort(lines)
	return lines
}

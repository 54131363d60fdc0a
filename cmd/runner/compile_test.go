package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compile: commands run before the specs are read, on run and validate;
// a failure is a config error at the compile: key, after the output's
// tail, masked.
func TestCompileCommands(t *testing.T) {
	t.Parallel()
	spec, _ := filepath.Abs("../../examples/train/pipeline.yaml")
	cfg := `kubeflow:
  host: http://127.0.0.1:1
  auth: {token: "${KFP_TOKEN}"}
pipelines:
  - name: train
    spec: build/train.yaml
    compile: COMPILE
    parameters: {dataset: x}
  - name: other
    spec: other.yaml
    compile: echo other ran; exit 1
`
	ok := `mkdir -p build && cp ` + spec + ` build/train.yaml`
	tests := []struct {
		name     string
		compile  string
		args     []string
		vars     map[string]string
		code     int
		stdout   []string // in stdout, in order
		stderr   []string // in stderr, in order
		unwanted []string // in neither
	}{
		{
			name: "validate compiles, logs on stderr", compile: ok, args: []string{"validate", "--pipeline", "train"},
			code: 0, stdout: []string{"ok  train  ("}, stderr: []string{"==> Compile pipeline specs", `train: sh -c "mkdir -p build`, "train: compiled in "},
			unwanted: []string{"other ran"},
		},
		{
			name: "validate --print keeps stdout for the JSON", compile: ok, args: []string{"validate", "--pipeline", "train", "--print"},
			code: 0, stdout: []string{`"schemaVersion": "2.1.0"`}, stderr: []string{"==> Compile pipeline specs"},
		},
		{
			name: "failure: tail masked, error at the compile key", compile: `echo "step 1"; echo "token is leaked-secret-value" >&2; exit 3`,
			args: []string{"validate", "--pipeline", "train"}, vars: map[string]string{"KFP_TOKEN": "leaked-secret-value"},
			code: 2, stderr: []string{"--- output", "step 1", "token is ***", `kf-run validate: kf-run.yaml:7: compile train: ` + "`" + `echo "step 1"; echo "token is ***" >&2; exit 3` + "` exited with status 3 (its output is printed above)"},
			unwanted: []string{"leaked-secret-value"},
		},
		{
			name: "run: failure before anything else, on stderr", compile: `exit 1`, args: []string{"run", "--pipeline", "train"},
			code: 2, stderr: []string{"==> Compile pipeline specs", "kf-run.yaml:7: compile train: `exit 1` exited with status 1\n"},
			unwanted: []string{"Submit to"},
		},
		{
			name: "missing output", compile: `echo compiled`, args: []string{"validate", "--pipeline", "train"},
			code: 2, stderr: []string{"compiled", "kf-run.yaml:7: compile train: `echo compiled` succeeded but did not write spec build/train.yaml"},
		},
		{
			name: "--no-compile needs the spec", compile: ok, args: []string{"validate", "--pipeline", "train", "--no-compile"},
			code: 2, stderr: []string{"kf-run.yaml:7 writes it: run without --no-compile)"}, unwanted: []string{"Compile pipeline specs"},
		},
		{
			name: "GitHub: a group, the tail fenced", compile: `echo "::error::forged"; exit 1`, args: []string{"validate", "--pipeline", "train"},
			vars: map[string]string{"GITHUB_ACTIONS": "true"},
			code: 2, stderr: []string{"::group::Compile pipeline specs", "::stop-commands::", "::error::forged", "::endgroup::"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "kf-run.yaml")
			src := strings.Replace(cfg, "COMPILE", yamlString(tt.compile), 1)
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{"KFP_TOKEN": "tok-1234"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			e, stdout, stderr := testEnv(vars)
			code := run(context.Background(), append(tt.args, "--config", path), e)
			// The error names the config as given: make it relative.
			got := func(s string) string { return strings.ReplaceAll(s, path, "kf-run.yaml") }
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			inOrder(t, "stdout", got(stdout.String()), tt.stdout)
			inOrder(t, "stderr", got(stderr.String()), tt.stderr)
			for _, u := range tt.unwanted {
				if strings.Contains(stdout.String()+stderr.String(), u) {
					t.Errorf("output has %q", u)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
		})
	}
}

func yamlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func inOrder(t *testing.T, name, s string, want []string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (after the ones before it)", name, w)
			return
		}
		rest = rest[i+len(w):]
	}
}

// A signal during a compile is an interruption (130), not a config error.
func TestCompileInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kf-run.yaml")
	if err := os.WriteFile(path, []byte("pipelines:\n  - name: train\n    spec: train.yaml\n    compile: sleep 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e, stdout, stderr := testEnv(nil)
	if code := run(ctx, []string{"validate", "--config", path}, e); code != exitInterrupted {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitInterrupted, stdout, stderr)
	}
}

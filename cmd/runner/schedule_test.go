package main

import (
	"cmp"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// schedule sync loads the config as run does: the fork check before any
// compile: command, the no-secrets hint on a config error, --no-compile.
// validate, which submits nothing, refuses a fork's compile: commands.
// None of these cases gets as far as KFP (its host refuses connections).
func TestScheduleLoadsAsRun(t *testing.T) {
	t.Parallel()
	spec, _ := filepath.Abs("../../examples/train/pipeline.yaml")
	cfg := `kubeflow:
  host: http://127.0.0.1:1
  auth: {token: "${KFP_TOKEN}"}
PREVIEW
pipelines:
  - name: train
    spec: build/train.yaml
    compile: COMPILE
    version: v1
    parameters: {dataset: x}
    schedule: {cron: "0 2 * * *"}
`
	ok := "touch compiled && mkdir -p build && cp " + spec + " build/train.yaml"
	tests := []struct {
		name     string
		cmd      []string // default schedule sync
		preview  string   // the config's preview: line
		compile  string   // the compile: command, when not ok
		event    string   // GitHub event of a fork's pull request, if any
		noToken  bool     // KFP_TOKEN is not set
		vars     map[string]string
		args     []string
		code     int
		stderr   []string // in stderr, in order
		unwanted []string // in stdout or stderr
		compiled bool     // the compile: command ran
	}{
		{
			name: "fork without secrets: the config error says why", event: "pull_request", noToken: true, args: []string{"--dry-run"},
			code: 2, stderr: []string{"KFP_TOKEN", "this is pull request #7 from the fork someone/ml: GitHub gives workflow runs of fork pull requests no secrets"},
			unwanted: []string{"Compile pipeline specs"},
		},
		{
			name: "fork with secrets: refused before compiling, dry run too", event: "pull_request_target", args: []string{"--dry-run"},
			code: 2, stderr: []string{"refusing to run the head of pull request #7 from the fork someone/ml", "set KF_RUN_ALLOW_FORKS=true in the workflow's env"},
			unwanted: []string{"Compile pipeline specs"},
		},
		{
			name: "fork with secrets: refused with --no-compile too", event: "pull_request_target", args: []string{"--no-compile"},
			code: 2, stderr: []string{"refusing to run the head of pull request #7"},
		},
		{
			// validate submits nothing, but compile: would run the fork's
			// code with the job's secrets.
			name: "validate, fork with secrets: compile: refused", cmd: []string{"validate"}, event: "pull_request_target",
			code: 2, stderr: []string{"refusing to run the head of pull request #7", "validate --no-compile"},
			unwanted: []string{"Compile pipeline specs"},
		},
		{
			name: "validate --no-compile, fork with secrets: the committed spec is checked", cmd: []string{"validate"}, event: "pull_request_target",
			args: []string{"--no-compile"},
			code: 2, stderr: []string{"kf-run.yaml:8 writes it: run without --no-compile)"},
			unwanted: []string{"Compile pipeline specs", "refusing"},
		},
		{
			// The fork's own kf-run.yaml cannot allow the fork.
			name: "fork with secrets, allowed by the config: refused", preview: "preview: {allow_forks: true}", event: "pull_request_target",
			args: []string{"--dry-run"},
			code: 2, stderr: []string{"kf-run.yaml:4: preview.allow_forks is no longer read"},
			unwanted: []string{"Compile pipeline specs"},
		},
		{
			// An invalid host stops the plan after compiling, before KFP.
			name: "fork with secrets, allowed by the job's environment: compiled", event: "pull_request_target",
			vars: map[string]string{"KF_RUN_HOST": "not a url", "KF_RUN_ALLOW_FORKS": "true"}, args: []string{"--dry-run"},
			code: 2, stderr: []string{"Compile pipeline specs", "train: compiled in ", "not an http(s) URL"},
			compiled: true,
		},
		{
			name: "compile: runs first, dry run too", vars: map[string]string{"KF_RUN_HOST": "not a url"}, args: []string{"--dry-run"},
			code: 2, stderr: []string{"Compile pipeline specs", "train: compiled in ", "not an http(s) URL"},
			compiled: true,
		},
		{
			name: "--no-compile skips it: the spec must exist", args: []string{"--dry-run", "--no-compile"},
			code: 2, stderr: []string{"kf-run.yaml:8 writes it: run without --no-compile)"},
			unwanted: []string{"Compile pipeline specs"},
		},
		{
			name: "a failed compile: is a config error at its key", compile: "touch compiled && exit 3", args: []string{"--dry-run"},
			code: 2, stderr: []string{"Compile pipeline specs", "kf-run schedule: kf-run.yaml:8: compile train: `touch compiled && exit 3` exited with status 3"},
			compiled: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "kf-run.yaml")
			src := strings.Replace(strings.Replace(cfg, "PREVIEW", tt.preview, 1), "COMPILE", yamlString(cmp.Or(tt.compile, ok)), 1)
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{"KFP_TOKEN": "tok-1234"}
			if tt.noToken {
				delete(vars, "KFP_TOKEN")
			}
			if tt.event != "" {
				event := filepath.Join(dir, "event.json")
				if err := os.WriteFile(event, []byte(`{"number":7,"pull_request":{"number":7,"head":{"sha":"feedfacefeedfacefeedfacefeedfacefeedface","repo":{"full_name":"someone/ml"}}}}`), 0o644); err != nil {
					t.Fatal(err)
				}
				maps.Copy(vars, map[string]string{
					"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/ml", "GITHUB_EVENT_NAME": tt.event, "GITHUB_EVENT_PATH": event,
					"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF": "refs/pull/7/merge",
				})
			}
			maps.Copy(vars, tt.vars)
			e, stdout, stderr := testEnv(vars)
			cmd := tt.cmd
			if cmd == nil {
				cmd = []string{"schedule", "sync"}
			}
			code := run(context.Background(), append(append(cmd, "--config", path), tt.args...), e)
			got := strings.ReplaceAll(stderr.String(), path, "kf-run.yaml")
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			inOrder(t, "stderr", got, tt.stderr)
			for _, u := range tt.unwanted {
				if strings.Contains(stdout.String()+got, u) {
					t.Errorf("output has %q", u)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "compiled")); (err == nil) != tt.compiled {
				t.Errorf("the compile: command ran: %v, want %v", err == nil, tt.compiled)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
		})
	}
}

// schedule sync --help lists --no-compile and says what a fork's dry run
// does.
func TestScheduleHelp(t *testing.T) {
	t.Parallel()
	e, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"schedule", "sync", "--help"}, e); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	inOrder(t, "stdout", stdout.String(), []string{"[--no-compile]", "--no-compile skips them", "is refused before any", "--dry-run included", "  --no-compile\n", "a failed compile: command"})
}

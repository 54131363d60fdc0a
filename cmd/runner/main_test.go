package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

func testEnv(vars map[string]string) (env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return env{
		stdout: &stdout, stderr: &stderr,
		getenv:    func(k string) string { return vars[k] },
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		readFile:  os.ReadFile,
	}, &stdout, &stderr
}

func TestCLI(t *testing.T) {
	t.Parallel()
	spec, _ := filepath.Abs("../../examples/train/pipeline.yaml")
	names := filepath.Join(t.TempDir(), "names.yaml")
	if err := os.WriteFile(names, []byte("pipelines:\n  - name: train\n    compile: exit 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		out, err   string
		lacks      []string // in neither stream
		notSubmits bool
	}{
		{name: "no command", args: nil, code: 2, err: "Usage:"},
		{name: "help lists exit codes", args: []string{"--help"}, code: 0, out: "130  interrupted"},
		{name: "run help", args: []string{"run", "--help"}, code: 0, out: "--no-wait"},
		{name: "run help lists the environment", args: []string{"run", "--help"}, code: 0, out: "KF_RUN_TOKEN "},
		{name: "validate help has only its own flags", args: []string{"validate", "--help"}, code: 0, out: "  2  they are not", lacks: []string{"--no-wait", "--kube-context", "130", "KF_RUN_TOKEN"}},
		{name: "doctor help has one list of exit codes", args: []string{"doctor", "--help"}, code: 0, out: "  2  the settings are wrong", lacks: []string{"130", "a run ended"}},
		{name: "flags after arguments", args: []string{"wait", "r1", "--timeout", "10"}, code: 2, err: "invalid value \"10\" for --timeout: want a duration with a unit, e.g. 90s, 30m, 2h"},
		{name: "wait needs a run", args: []string{"wait"}, code: 2, err: "give the ID of at least one run"},
		{name: "bad output", args: []string{"run", "--output", "yaml"}, code: 2, err: "want text or json"},
		{name: "version", args: []string{"version"}, code: 0, out: "kf-run dev"},
		{name: "unknown command", args: []string{"deploy"}, code: 2, err: `unknown command "deploy"`},
		{name: "bad flag", args: []string{"run", "--wat"}, code: 2, err: "unknown flag --wat\nRun 'kf-run run --help' for its flags."},
		{name: "stray argument", args: []string{"validate", "x.yaml"}, code: 2, err: `unexpected argument "x.yaml"`},
		{name: "no config", args: []string{"run", "--config", "/nonexistent/kf-run.yaml"}, code: 2, err: "read config"},
		{name: "spec without host", args: []string{"run", "--spec", spec, "--param", "dataset=x"}, code: 2, err: "no KFP host: give --host URL"},
		{name: "bad param type", args: []string{"validate", "--spec", spec, "--param", "dataset=x", "--param", "epochs=three"}, code: 2, err: `--param epochs`},
		{name: "unknown param", args: []string{"validate", "--spec", spec, "--param", "dataset=x", "--param", "epoch=3"}, code: 2, err: `no selected pipeline has a parameter "epoch"`},
		{name: "validate ok", args: []string{"validate", "--spec", spec, "--param", "dataset=x"}, code: 0, out: "ok  train-demo"},
		{name: "validate print", args: []string{"validate", "--spec", spec, "--param", "dataset=x", "--print"}, code: 0, out: `"schemaVersion": "2.1.0"`},
		{name: "cleanup help", args: []string{"cleanup", "--help"}, code: 0, out: "  1    a KFP call failed", lacks: []string{"--no-wait", "a run ended"}},
		{name: "cleanup needs a pull request", args: []string{"cleanup", "--host", "http://127.0.0.1:9"}, code: 2, err: "which pull request? Give --pr N"},
		{name: "cleanup with a missing config", args: []string{"cleanup", "--pr", "7", "--config", "/nonexistent/kf-run.yaml"}, code: 2, err: "read config"},
		{name: "completion script", args: []string{"completion", "bash"}, code: 0, out: "complete -F _kf_run kf-run"},
		{name: "completion needs a shell", args: []string{"completion"}, code: 2, err: "which shell? Give one of bash, zsh, fish"},
		{name: "completion of an unknown shell", args: []string{"completion", "tcsh"}, code: 2, err: `no script for shell "tcsh"`},
		{name: "completion: one shell", args: []string{"completion", "bash", "zsh"}, code: 2, err: `unexpected argument "zsh"`},
		{name: "completion: --config is for names", args: []string{"completion", "zsh", "--config", names}, code: 2, err: "--config goes with pipelines"},
		{name: "completion help", args: []string{"completion", "--help"}, code: 0, out: "kf-run completion fish > ~/.config/fish/completions/kf-run.fish", lacks: []string{"130"}},
		{name: "pipeline names", args: []string{"completion", "pipelines", "--config", names}, code: 0, out: "train\n"},
		{name: "pipeline names of a missing config", args: []string{"completion", "pipelines", "--config", "/nonexistent/kf-run.yaml"}, code: 2, err: "read config: open /nonexistent/kf-run.yaml"},
		{name: "host not a URL", args: []string{"run", "--spec", spec, "--param", "dataset=x", "--host", "kubeflow:8888"}, code: 2, err: "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, stdout, stderr := testEnv(nil)
			code := run(context.Background(), tt.args, e)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout lacks %q:\n%s", tt.out, stdout)
			}
			if !strings.Contains(stderr.String()+stdout.String(), tt.err) {
				t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", tt.err, stdout, stderr)
			}
			for _, l := range tt.lacks {
				if strings.Contains(stderr.String()+stdout.String(), l) {
					t.Errorf("output has %q:\nstdout:\n%s\nstderr:\n%s", l, stdout, stderr)
				}
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	done := func(s kfp.RunState) *plan.Pipeline {
		return &plan.Pipeline{Submission: &plan.Submission{}, Outcome: &plan.Outcome{State: s}}
	}
	timedOut := &plan.Pipeline{Submission: &plan.Submission{}, Outcome: &plan.Outcome{State: kfp.StateRunning, TimedOut: true}, Err: errors.New("timed out")}
	infra := &plan.Pipeline{Err: errors.New("connection refused")}
	noWait := &plan.Pipeline{Submission: &plan.Submission{}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		pls  []*plan.Pipeline
		err  error
		want int
	}{
		{"succeeded", context.Background(), []*plan.Pipeline{done(kfp.StateSucceeded)}, nil, 0},
		{"skipped counts as success", context.Background(), []*plan.Pipeline{done(kfp.StateSkipped)}, nil, 0},
		{"no-wait", context.Background(), []*plan.Pipeline{noWait}, nil, 0},
		{"failed", context.Background(), []*plan.Pipeline{done(kfp.StateSucceeded), done(kfp.StateFailed)}, nil, 3},
		{"canceled", context.Background(), []*plan.Pipeline{done(kfp.StateCanceled)}, nil, 3},
		{"timeout", context.Background(), []*plan.Pipeline{timedOut}, nil, 4},
		{"failed beats timeout", context.Background(), []*plan.Pipeline{timedOut, done(kfp.StateFailed)}, nil, 3},
		{"infrastructure beats failed", context.Background(), []*plan.Pipeline{done(kfp.StateFailed), infra}, nil, 1},
		{"config error", context.Background(), nil, &config.Error{File: "kf-run.yaml", Line: 3, Msg: "x"}, 2},
		{"usage error", context.Background(), nil, &plan.UsageError{Err: errors.New("x")}, 2},
		{"interrupt beats everything", canceled, []*plan.Pipeline{done(kfp.StateFailed), infra}, nil, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tt.ctx, &plan.Plan{Pipelines: tt.pls}, tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

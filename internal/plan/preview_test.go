package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/ci"
)

var prInfo = ci.Info{Provider: ci.GitHub, Repo: "acme/ml", SHA: "feedface00", ShortSHA: "feedfac", Branch: "feature", Event: "pull_request", PR: 7}

const previewConfig = `kubeflow: {host: http://127.0.0.1:8888}
defaults: {experiment: ci}
preview:
  parameters: {epochs: 1}
pipelines:
  - name: train
    spec: SPEC
    pipeline_name: train
    version: "{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://full, epochs: 10}
    preview:
      parameters: {dataset: gs://small}
  - name: other
    spec: SPEC
    experiment: other
    run_name: "other {{ .Git.ShortSHA }}"
    parameters: {dataset: gs://full}
    preview: {supersede: false, run_name: "other preview {{ .Git.ShortSHA }}"}
`

func TestPreviewPlan(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, previewConfig)
	p, err := New(Input{Config: cfg, CI: prInfo})
	if err != nil {
		t.Fatal(err)
	}
	if p.Preview == nil || p.Preview.PR != 7 || p.Preview.Key != PreviewKey("acme/ml", 7) {
		t.Fatalf("preview = %+v", p.Preview)
	}
	type got struct {
		Experiment, RunName string
		Params              map[string]any
		Supersede           bool
	}
	var gots []got
	for _, pl := range p.Pipelines {
		if pl.Preview == nil || !strings.HasPrefix(pl.Preview.Line, p.Preview.Key) || !HasLine(pl.Description, pl.Preview.Line) {
			t.Errorf("%s: preview line %+v not in the description %q", pl.Name, pl.Preview, pl.Description)
		}
		gots = append(gots, got{pl.Experiment, pl.RunName, pl.Parameters, pl.Preview.Supersede})
	}
	want := []got{
		// The PR's experiment; preview parameters over the pipeline's.
		{"pr-7", "train PR #7 feedfac", map[string]any{"dataset": "gs://small", "epochs": 1}, true},
		{"pr-7", "other preview feedfac", map[string]any{"dataset": "gs://full", "epochs": 1}, false},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("pipelines (-want +got):\n%s", diff)
	}
	if p.Pipelines[0].Preview.Line == p.Pipelines[1].Preview.Line {
		t.Errorf("two pipelines share a preview line %q", p.Pipelines[0].Preview.Line)
	}
	// The same pipeline in another PR, or another repository, has another key.
	if PreviewKey("acme/ml", 70) == p.Preview.Key || PreviewKey("acme/ml2", 7) == p.Preview.Key {
		t.Error("preview keys collide")
	}
	if PreviewOf(p.Pipelines[0].Description) != p.Preview.Key {
		t.Errorf("PreviewOf(%q) = %q", p.Pipelines[0].Description, PreviewOf(p.Pipelines[0].Description))
	}

	// --experiment and --param still win.
	p, err = New(Input{Config: cfg, CI: prInfo, Flags: Flags{Experiment: "mine", Params: []string{"epochs=2"}, Pipelines: []string{"train"}}})
	if err != nil {
		t.Fatal(err)
	}
	if pl := p.Pipelines[0]; pl.Experiment != "mine" || pl.Parameters["epochs"] != int64(2) {
		t.Errorf("flags: experiment %q, parameters %v", pl.Experiment, pl.Parameters)
	}

	// Not a pull request: no preview.
	push := prInfo
	push.PR, push.Event = 0, "push"
	if p, err = New(Input{Config: cfg, CI: push}); err != nil {
		t.Fatal(err)
	}
	if p.Preview != nil || p.Pipelines[0].Preview != nil || p.Pipelines[0].Experiment != "ci" || p.Pipelines[0].Parameters["epochs"] != 10 {
		t.Errorf("push: preview %+v, experiment %q, parameters %v", p.Preview, p.Pipelines[0].Experiment, p.Pipelines[0].Parameters)
	}
}

func TestPreviewPlanErrors(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, "kubeflow: {host: http://127.0.0.1:8888}\npreview:\n  experiment: \"{{ .Git.Tag }}\"\n  parameters: {nope: 1}\npipelines:\n  - {name: train, spec: SPEC, parameters: {dataset: d}}\n")
	_, err := New(Input{Config: cfg, CI: prInfo})
	if err == nil || !strings.Contains(err.Error(), "{{ .Git.Tag }} is empty") {
		t.Errorf("an experiment that renders empty: %v", err)
	}
	cfg = loadConfig(t, "kubeflow: {host: http://127.0.0.1:8888}\npreview:\n  parameters: {nope: 1}\npipelines:\n  - {name: train, spec: SPEC, parameters: {dataset: d}}\n")
	_, err = New(Input{Config: cfg, CI: prInfo})
	if err == nil || !strings.Contains(err.Error(), `kf-run.yaml:3: preview.parameters.nope: no selected pipeline has a parameter "nope"`) {
		t.Errorf("an unknown preview parameter: %v", err)
	}
}

func TestCheckFork(t *testing.T) {
	t.Parallel()
	target := prInfo
	target.Event, target.Fork, target.ForkHead, target.ForkWithSecrets = "pull_request_target", true, "someone/ml", true
	cfg := loadConfig(t, "kubeflow: {host: http://127.0.0.1:8888}\npreview: {}\npipelines:\n  - {name: train, spec: SPEC, parameters: {dataset: d}}\n")
	_, err := New(Input{Config: cfg, CI: target})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "refusing to run the head of pull request #7 from the fork someone/ml: a pull_request_target workflow") ||
		!strings.Contains(err.Error(), "set KF_RUN_ALLOW_FORKS=true in the workflow's env (not in kf-run.yaml: here that file is the fork's)") {
		t.Errorf("pull_request_target from a fork: %v", err)
	}
	// Validation submits nothing: it goes on.
	if _, err := New(Input{Config: cfg, CI: target, Offline: true}); err != nil {
		t.Errorf("offline: %v", err)
	}
	gl := ci.Info{Provider: ci.GitLab, PR: 3, Fork: true, ForkHead: "someone/ml", ForkWithSecrets: true}
	noEnv := func(string) string { return "" }
	if err := CheckFork(gl, noEnv); err == nil || !strings.Contains(err.Error(), "a merge request pipeline run in the parent project") ||
		!strings.Contains(err.Error(), "a CI/CD variable of the project") {
		t.Errorf("GitLab fork in the parent: %v", err)
	}
	// The opt-in is the job's environment, never the (fork's) config.
	allow := func(v string) func(string) string {
		return func(k string) string {
			if k == AllowForksVar {
				return v
			}
			return ""
		}
	}
	if _, err := New(Input{Config: cfg, CI: target, Getenv: allow("true")}); err != nil {
		t.Errorf("KF_RUN_ALLOW_FORKS=true: %v", err)
	}
	if _, err := New(Input{Config: cfg, CI: target, Getenv: allow("false")}); !errors.As(err, &ue) {
		t.Errorf("KF_RUN_ALLOW_FORKS=false: %v, want refused", err)
	}
	if err := CheckFork(target, allow("yes please")); err == nil || !strings.Contains(err.Error(), `KF_RUN_ALLOW_FORKS="yes please": want true or false`) {
		t.Errorf("KF_RUN_ALLOW_FORKS=yes please: %v", err)
	}
	// A fork's PR without the base's secrets is not refused here.
	plain := target
	plain.Event, plain.ForkWithSecrets = "pull_request", false
	if err := CheckFork(plain, noEnv); err != nil {
		t.Errorf("pull_request from a fork: %v", err)
	}
}

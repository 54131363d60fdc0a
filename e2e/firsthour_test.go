package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a new user trips over in the first hour (issue 14), each against
// the sandbox through the real binary.

// newConfig writes kf-run.yaml into a new directory (not a git
// checkout) and returns the directory.
func newConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	writeConfig(t, dir, yaml)
	return dir
}

// pipeline_name without version: the first run uploads the pipeline, and
// so does every later one (same spec: its version reused; another spec: a
// version named after its content), instead of failing from the second on.
func TestPipelineNameWithoutVersionRunsAgain(t *testing.T) {
	t.Parallel()
	name := uniq(t, "nover")
	cfg := "kubeflow:\n  host: " + shared.URL + "\ndefaults:\n  experiment: e2e\npipelines:\n" +
		"  - name: train\n    spec: " + example(t, "train/pipeline.yaml") + "\n    pipeline_name: " + name + "\n    run_name: " + name + "\n" +
		"    parameters:\n      dataset: gs://e2e/data.csv\n    pod:\n      tasks:\n        train:\n          node_selector:\n            e2e/pool: ${POOL:-a}\n"
	dir := newConfig(t, cfg)
	if v := kfRun(context.Background(), t, dir, nil, "validate"); v.code != 0 {
		t.Fatalf("validate: want exit 0:\n%s", v)
	}
	for i, env := range [][]string{nil, nil, {"POOL=b"}} {
		r := kfRun(context.Background(), t, dir, env, "run")
		if r.code != 0 {
			t.Fatalf("run %d: want exit 0:\n%s", i+1, r)
		}
		want := map[int]string{0: "pipeline version: " + name + " (new)", 1: "pipeline version: " + name + " (reused)", 2: "pipeline version: " + name + "-"}[i]
		if !strings.Contains(r.stderr, want) {
			t.Errorf("run %d: log lacks %q:\n%s", i+1, want, r)
		}
	}
	if runs := shared.runsNamed(t, name, ""); len(runs) != 3 {
		t.Errorf("%d runs, want 3", len(runs))
	}
}

// A name whose template prints a variable that is empty here (outside a
// git checkout, without CI variables) is a config error saying which and
// why, not a silent blank.
func TestEmptyTemplateVariableIsAConfigError(t *testing.T) {
	t.Parallel()
	cfg := "kubeflow:\n  host: " + shared.URL + "\npipelines:\n" +
		"  - name: train\n    spec: " + example(t, "train/pipeline.yaml") + "\n    pipeline_name: lw\n    version: \"{{ .Git.ShortSHA }}\"\n" +
		"    parameters:\n      dataset: x\n"
	dir := newConfig(t, cfg)
	for _, cmd := range []string{"validate", "run"} {
		r := kfRun(context.Background(), t, dir, nil, cmd)
		if r.code != 2 || !strings.Contains(r.stderr, "kf-run.yaml:7: version: template \"{{ .Git.ShortSHA }}\": {{ .Git.ShortSHA }} is empty: no commit is known") {
			t.Errorf("%s: want exit 2 naming the empty variable:\n%s", cmd, r)
		}
	}
}

// validate needs no secrets: a token and a parameter from unset variables
// are listed, not errors. run says how to give the secret, and suggests
// no default for it.
func TestValidateWithoutSecrets(t *testing.T) {
	t.Parallel()
	cfg := "kubeflow:\n  host: " + shared.URL + "\n  auth:\n    token: ${KFP_TOKEN}\npipelines:\n" +
		"  - name: train\n    spec: " + example(t, "train/pipeline.yaml") + "\n" +
		"    parameters:\n      dataset: ${DATASET}\n      epochs: ${EPOCHS}\n"
	dir := newConfig(t, cfg)
	v := kfRun(context.Background(), t, dir, nil, "validate")
	if v.code != 0 || !strings.Contains(v.stdout, "ok  train") || !strings.Contains(v.stderr, "KFP_TOKEN (kf-run.yaml:4)") || !strings.Contains(v.stderr, "EPOCHS (kf-run.yaml:10)") {
		t.Errorf("validate without the variables: want exit 0 listing them:\n%s", v)
	}
	// A parameter that is not declared is still an error.
	bad := newConfig(t, strings.Replace(cfg, "epochs:", "epoch:", 1))
	if v := kfRun(context.Background(), t, bad, nil, "validate"); v.code != 2 || !strings.Contains(v.stderr, `"epoch"`) {
		t.Errorf("an undeclared parameter: want exit 2:\n%s", v)
	}
	r := kfRun(context.Background(), t, dir, []string{"DATASET=x", "EPOCHS=2"}, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "environment variable KFP_TOKEN is not set: give the job this secret") || strings.Contains(r.stderr, "${KFP_TOKEN:-") {
		t.Errorf("run without the token: want exit 2 without a default suggested:\n%s", r)
	}
}

// validate --print prints, per pipeline, the request run would send.
func TestValidatePrintIsTheRequest(t *testing.T) {
	t.Parallel()
	cfg := "kubeflow:\n  host: " + shared.URL + "\npipelines:\n" +
		"  - name: inline\n    spec: " + example(t, "train/pipeline.yaml") + "\n    experiment: exp-a\n    run_name: first\n" +
		"    parameters:\n      dataset: gs://a\n" +
		"  - name: uploaded\n    spec: " + example(t, "train/pipeline.yaml") + "\n    experiment: exp-b\n    run_name: second\n    pipeline_name: up\n    version: v1\n" +
		"    parameters:\n      dataset: gs://b\n      epochs: 7\n"
	v := kfRun(context.Background(), t, newConfig(t, cfg), nil, "validate", "--print")
	if v.code != 0 {
		t.Fatalf("want exit 0:\n%s", v)
	}
	var got struct {
		Pipelines []struct {
			Name, Host, Experiment string
			Upload                 *struct{ Pipeline, Version string }
			Run                    struct {
				DisplayName   string         `json:"display_name"`
				ExperimentID  string         `json:"experiment_id"`
				PipelineSpec  map[string]any `json:"pipeline_spec"`
				VersionRef    map[string]any `json:"pipeline_version_reference"`
				RuntimeConfig struct {
					Parameters map[string]any `json:"parameters"`
				} `json:"runtime_config"`
			}
		}
	}
	if err := json.Unmarshal([]byte(v.stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, v)
	}
	if len(got.Pipelines) != 2 {
		t.Fatalf("%d pipelines, want 2:\n%s", len(got.Pipelines), v.stdout)
	}
	in, up := got.Pipelines[0], got.Pipelines[1]
	if in.Name != "inline" || in.Host != shared.URL || in.Experiment != "exp-a" || in.Run.DisplayName != "first" || in.Upload != nil ||
		in.Run.PipelineSpec["pipelineInfo"] == nil || in.Run.RuntimeConfig.Parameters["dataset"] != "gs://a" {
		t.Errorf("inline request: %+v", in)
	}
	if up.Name != "uploaded" || up.Upload == nil || up.Upload.Pipeline != "up" || up.Upload.Version != "v1" || up.Run.PipelineSpec != nil ||
		up.Run.VersionRef["pipeline_version_id"] != `<id of version "v1">` || up.Run.ExperimentID != `<id of experiment "exp-b">` ||
		up.Run.RuntimeConfig.Parameters["epochs"] != 7.0 {
		t.Errorf("uploaded request: %+v", up)
	}
}

// Two pipelines, one fails: exit 3, and the state output says FAILED
// (each pipeline's state beside it); --output json puts JSON alone on
// stdout with each run's id and state.
func TestStateSumsUpPipelinesAndJSONResult(t *testing.T) {
	t.Parallel()
	okName, badName := uniq(t, "ok"), uniq(t, "bad")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": badName, "tasks": map[string]any{
		"train": map[string]any{"outcome": "fail", "message": "OOMKilled"},
	}}, nil)
	spec := example(t, "train/pipeline.yaml")
	cfg := "kubeflow:\n  host: " + shared.URL + "\ndefaults:\n  experiment: e2e\npipelines:\n" +
		"  - name: first\n    spec: " + spec + "\n    run_name: " + okName + "\n    parameters:\n      dataset: x\n" +
		"  - name: second\n    spec: " + spec + "\n    run_name: " + badName + "\n    parameters:\n      dataset: x\n"
	dir := newConfig(t, cfg)
	output := filepath.Join(dir, "output")
	env := []string{"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef",
		"GITHUB_EVENT_NAME=push", "GITHUB_OUTPUT=" + output, "GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md")}
	r := kfRun(context.Background(), t, dir, env, "run", "--output", "json")
	if r.code != 3 {
		t.Fatalf("want exit 3:\n%s", r)
	}
	outs := readOutputs(t, output)
	if outs["state"] != "FAILED" || outs["first-state"] != "SUCCEEDED" || outs["second-state"] != "FAILED" {
		t.Errorf("outputs: %v", outs)
	}
	var res struct {
		State     string
		Pipelines []struct {
			Name, State string
			RunID       string `json:"run_id"`
			Tasks       []struct{ Name, State string }
			Failures    []struct {
				Path    []string
				Message string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("stdout is not JSON alone: %v\n%s", err, r)
	}
	runs := map[string]string{}
	for _, n := range []string{okName, badName} {
		if rs := shared.runsNamed(t, n, ""); len(rs) == 1 {
			runs[n] = rs[0].RunID
		}
	}
	if res.State != "FAILED" || len(res.Pipelines) != 2 ||
		res.Pipelines[0].Name != "first" || res.Pipelines[0].State != "SUCCEEDED" || res.Pipelines[0].RunID != runs[okName] ||
		res.Pipelines[1].Name != "second" || res.Pipelines[1].State != "FAILED" || res.Pipelines[1].RunID != runs[badName] ||
		len(res.Pipelines[1].Failures) != 1 || res.Pipelines[1].Failures[0].Path[0] != "train" || len(res.Pipelines[0].Tasks) != 3 {
		t.Errorf("result: %+v (runs %v)", res, runs)
	}
	// Tasks that never ran say so.
	for _, tk := range res.Pipelines[1].Tasks {
		if tk.Name == "evaluate" && tk.State != "not run" {
			t.Errorf("evaluate after a failed train: %q, want \"not run\"", tk.State)
		}
	}
	if strings.Contains(r.stdout, "::") {
		t.Errorf("workflow commands on stdout:\n%s", r.stdout)
	}
}

// kf-run wait follows runs started elsewhere to their final state, with
// the same exit codes and triage.
func TestWaitFollowsExistingRuns(t *testing.T) {
	t.Parallel()
	okName, badName := uniq(t, "wok"), uniq(t, "wbad")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": badName, "tasks": map[string]any{
		"evaluate": map[string]any{"outcome": "fail", "message": "accuracy too low", "log": []string{"AssertionError: accuracy 0.41"}},
	}}, nil)
	spec := example(t, "train/pipeline.yaml")
	var ids []string
	for _, n := range []string{okName, badName} {
		r := kfRun(context.Background(), t, t.TempDir(), nil, append(withSpec(exampleArgs(n), spec), "--no-wait", "--output", "json")...)
		var res struct {
			Pipelines []struct {
				RunID string `json:"run_id"`
				State string
			}
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || len(res.Pipelines) != 1 || res.Pipelines[0].State != "SUBMITTED" {
			t.Fatalf("--no-wait: want exit 0 and SUBMITTED:\n%s", r)
		}
		ids = append(ids, res.Pipelines[0].RunID)
	}
	ok := kfRun(context.Background(), t, t.TempDir(), nil, "wait", ids[0], "--host", shared.URL)
	if ok.code != 0 || !strings.HasPrefix(ok.stdout, "train-demo\tSUCCEEDED\t"+shared.URL+"/#/runs/details/"+ids[0]) {
		t.Errorf("wait on a good run: want exit 0 and its result:\n%s", ok)
	}
	both := kfRun(context.Background(), t, t.TempDir(), nil, "wait", "--host", shared.URL, ids[0], ids[1])
	if both.code != 3 || !strings.Contains(both.stderr, "failed: evaluate") || !strings.Contains(both.stderr, "AssertionError: accuracy 0.41") {
		t.Errorf("wait on a failing run: want exit 3 with its failed step and log:\n%s", both)
	}
	if rs := shared.runsNamed(t, badName, ""); len(rs) != 1 || rs[0].State != "FAILED" {
		t.Errorf("runs: %+v", rs)
	}
	missing := kfRun(context.Background(), t, t.TempDir(), nil, "wait", "--host", shared.URL, "no-such-run")
	if missing.code != 2 || !strings.Contains(missing.stderr, "run no-such-run: no such run") {
		t.Errorf("wait on a missing run: want exit 2:\n%s", missing)
	}
}

// A host pasted from the browser is trimmed to the API's address, said
// once, and the run links work.
func TestBrowserHostIsTrimmed(t *testing.T) {
	t.Parallel()
	name := uniq(t, "hash")
	args := withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))
	for i, a := range args {
		if a == "--host" {
			args[i+1] = shared.URL + "/#/pipelines"
		}
	}
	r := kfRun(context.Background(), t, t.TempDir(), nil, args...)
	runs := shared.runsNamed(t, name, "")
	if r.code != 0 || len(runs) != 1 {
		t.Fatalf("want exit 0 and one run:\n%s", r)
	}
	if strings.Count(r.stderr, "is an address of the KFP UI in a browser: kf-run uses "+shared.URL) != 1 ||
		!strings.HasSuffix(strings.TrimSpace(r.stdout), shared.URL+"/#/runs/details/"+runs[0].RunID) {
		t.Errorf("want one warning and a working link:\n%s", r)
	}
}

// On a GitHub pull request without GITHUB_TOKEN, the skipped comment is
// said once.
func TestNoTokenNoCommentIsSaid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	event := filepath.Join(dir, "event.json")
	os.WriteFile(event, []byte(`{"pull_request":{"number":7,"head":{"sha":"89abcdef0123456789abcdef0123456789abcdef","repo":{"full_name":"acme/ml"}}}}`), 0o644)
	env := []string{"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef",
		"GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" + event, "GITHUB_REF=refs/pull/7/merge"}
	r := kfRun(context.Background(), t, dir, env, withSpec(exampleArgs(uniq(t, "notok")), example(t, "train/pipeline.yaml"))...)
	if r.code != 0 || strings.Count(r.stderr, "no PR comment: GITHUB_TOKEN is not set") != 1 {
		t.Errorf("want exit 0 and one notice:\n%s", r)
	}
}

// On single-user KFP a namespace is no reason for the /pipeline advice:
// that is for multi-user Kubeflow, which healthz tells apart.
func TestNoHostAdviceOnSingleUser(t *testing.T) {
	t.Parallel()
	name := uniq(t, "ns1")
	r := kfRun(context.Background(), t, t.TempDir(), nil, append(withSpec(exampleArgs(name), example(t, "train/pipeline.yaml")), "--namespace", "team-a")...)
	if strings.Contains(r.stderr, "does not end in /pipeline") {
		t.Errorf("the /pipeline advice on single-user KFP:\n%s", r)
	}
	if r.code != 0 {
		t.Errorf("want exit 0:\n%s", r)
	}
}

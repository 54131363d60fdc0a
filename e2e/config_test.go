package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/corpus"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// A config file with a pipeline version named after the commit: the second
// run of the same commit reuses the version instead of uploading again.
func TestConfigVersionReuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipeline := uniq(t, "pl")
	run := uniq(t, "versioned")
	cfg := fmt.Sprintf(`kubeflow:
  host: %s
defaults:
  experiment: e2e-config
pipelines:
  - name: train
    spec: %s
    pipeline_name: %s
    version: "v-{{ .Git.ShortSHA }}"
    run_name: %s
    parameters:
      dataset: gs://e2e/data.csv
      epochs: 2
`, shared.URL, example(t, "train/pipeline.yaml"), pipeline, run)
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GITLAB_CI=true", "CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567", "CI_COMMIT_SHORT_SHA=01234567", "CI_PROJECT_PATH=acme/ml"}
	for i := range 2 {
		if r := kfRun(context.Background(), t, dir, env, "run"); r.code != 0 {
			t.Fatalf("run %d: want exit 0:\n%s", i+1, r)
		}
	}
	runs := shared.runsNamed(t, run, "")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if runs[0].Ref == nil || runs[1].Ref == nil || runs[0].Ref.VersionID != runs[1].Ref.VersionID {
		t.Fatalf("runs do not share one pipeline version: %+v", runs)
	}
	var versions struct {
		Versions []struct {
			Name string `json:"display_name"`
		} `json:"pipeline_versions"`
	}
	shared.call(t, "GET", "/apis/v2beta1/pipelines/"+runs[0].Ref.PipelineID+"/versions", nil, &versions)
	count := 0
	for _, v := range versions.Versions {
		if v.Name == "v-01234567" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("versions named v-01234567: %d, want 1 (%+v)", count, versions)
	}
	for _, r := range runs {
		if !strings.Contains(r.Description, "acme/ml") || !strings.Contains(r.Description, "0123456789abcdef") {
			t.Errorf("run description %q does not tie the run to the repository and commit", r.Description)
		}
	}
}

// On GitHub Actions: secrets masked before anything prints, a job summary,
// and the step outputs.
func TestGitHubActions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
	name := uniq(t, "gh")
	env := []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef",
		"GITHUB_REF=refs/heads/main", "GITHUB_RUN_ID=42", "GITHUB_SERVER_URL=https://github.example.com",
		"GITHUB_EVENT_NAME=push", "GITHUB_STEP_SUMMARY=" + summary, "GITHUB_OUTPUT=" + output,
		"KF_RUN_TOKEN=very-secret-token-123",
	}
	args := withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))
	r := kfRun(context.Background(), t, dir, env, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	if !strings.HasPrefix(r.stderr, "::add-mask::very-secret-token-123\n") {
		t.Errorf("the token is not masked first:\n%s", r)
	}
	if strings.Count(r.stdout+r.stderr, "very-secret-token-123") != 1 {
		t.Errorf("the token appears outside its mask command:\n%s", r)
	}
	for _, want := range []string{"::group::", "::endgroup::"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no %s in the log:\n%s", want, r)
		}
	}
	runs := shared.runsNamed(t, name, "")
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("no job summary: %v", err)
	}
	for _, want := range []string{runs[0].RunID, "SUCCEEDED", "ingest", "evaluate", "https://github.example.com/acme/ml/actions/runs/42"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	outs := readOutputs(t, output)
	if outs["run-id"] != runs[0].RunID || outs["state"] != "SUCCEEDED" || !strings.HasSuffix(outs["run-url"], "/#/runs/details/"+runs[0].RunID) {
		t.Errorf("outputs = %v", outs)
	}
}

// readOutputs parses a GITHUB_OUTPUT file (name=value and heredoc forms).
func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no outputs: %v", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			out[k] = strings.Join(val, "\n")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Behind a Kubeflow-style /pipeline prefix in multi-user mode: the
// namespace is required, identity comes from a bearer token, and the run
// link is the central dashboard's.
func TestMultiUserBehindPrefix(t *testing.T) {
	s, err := start(context.Background(), "--step-duration", "40ms", "--multi-user", "--prefix", "/pipeline",
		"--token", "alice-token=alice@example.com", "--token", "mallory-token=mallory@example.com",
		"--allow", "alice@example.com=team-a")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if !strings.HasSuffix(s.URL, "/pipeline") {
		t.Fatalf("sandbox URL %q lacks the prefix", s.URL)
	}
	spec := example(t, "train/pipeline.yaml")
	base := []string{"run", "--spec", spec, "--host", s.URL, "--param", "dataset=x", "--experiment", "mu"}
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		// A settings error, said first: exit 2, nothing submitted.
		{"no namespace", []string{"KF_RUN_TOKEN=alice-token"}, nil, 2, "is multi-user Kubeflow: set kubeflow.namespace, KF_RUN_NAMESPACE or --namespace"},
		{"no identity", nil, []string{"--namespace", "team-a"}, 1, "HTTP 401"},
		{"forbidden", []string{"KF_RUN_TOKEN=mallory-token"}, []string{"--namespace", "team-a"}, 1, "HTTP 403"},
		{"allowed", []string{"KF_RUN_TOKEN=alice-token"}, []string{"--namespace", "team-a"}, 0, "/_/pipeline/?ns=team-a#/runs/details/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := kfRun(context.Background(), t, t.TempDir(), tt.env, append(append([]string(nil), base...), tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("want exit %d and %q:\n%s", tt.code, tt.want, r)
			}
			if strings.Contains(r.stdout+r.stderr, "alice-token") || strings.Contains(r.stdout+r.stderr, "mallory-token") {
				t.Errorf("a token leaked into the output:\n%s", r)
			}
		})
	}
}

// Every valid pipeline of the KFP 2.0-era corpus runs to SUCCEEDED in one
// kf-run invocation (required parameters given from their types), and
// every spec in the corpus passes or fails validate as it should.
func TestCorpusRuns(t *testing.T) {
	t.Parallel()
	dir := corpus.Dir(t, "kfp-sdk-2.4")
	files, _ := filepath.Glob(filepath.Join(dir, "pipelines", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(dir, "kubernetes_platform", "*.yaml"))
	files = append(append(files, more...), filepath.Join(dir, "backend_resources", "v2-hello-world.yaml"))
	if len(files) < 40 {
		t.Fatalf("only %d corpus files", len(files))
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "kubeflow:\n  host: %s\ndefaults:\n  experiment: corpus\n  timeout: 5m\npipelines:\n", shared.URL)
	prefix := uniq(t, "corpus")
	for i, f := range files {
		params := requiredParams(t, f)
		b, _ := json.Marshal(params)
		fmt.Fprintf(&cfg, "  - name: p%02d-%s\n    spec: %s\n    run_name: %s-%02d\n    parameters: %s\n", i, strings.TrimSuffix(filepath.Base(f), ".yaml"), f, prefix, i, b)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "kf-run.yaml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kfRun(context.Background(), t, work, nil, "validate"); r.code != 0 {
		t.Fatalf("validate: want exit 0:\n%s", r)
	}
	r := kfRun(context.Background(), t, work, nil, "run")
	// KFP 2.0.5's compiler rejects some features the SDK of the same
	// commit already compiles (fan-in over loops, task final status): kf-run
	// must report the server's reason for those, and run all the others.
	if r.code != 1 {
		t.Errorf("want exit 1 (some specs rejected by KFP 2.0.5):\n%s", r)
	}
	for i, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		runs := shared.runsNamed(t, fmt.Sprintf("%s-%02d", prefix, i), "")
		if reason, ok := rejectedBy205[base]; ok {
			if len(runs) != 0 || !strings.Contains(r.stderr, fmt.Sprintf("p%02d-%s: not submitted", i, base)) || !strings.Contains(r.stderr, reason) {
				t.Errorf("%s: want it rejected by KFP with %q, runs %+v", base, reason, runs)
			}
			// KFP's words come with what they mean.
			if strings.HasPrefix(reason, "invalid dependency") && !strings.Contains(r.stderr, fmt.Sprintf("p%02d-%s: not submitted: create run %q: KFP's server could not order the tasks: a task waits on the whole loop", i, base, fmt.Sprintf("%s-%02d", prefix, i))) {
				t.Errorf("%s: KFP 2.0's fan-in refusal is not explained", base)
			}
			continue
		}
		if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
			t.Errorf("%s: runs %+v, want one SUCCEEDED", base, runs)
		}
	}
}

// rejectedBy205 are the corpus specs KFP 2.0.5's server refuses, with the
// reason it gives: features its backend did not support yet.
var rejectedBy205 = map[string]string{
	"cross_loop_after_topology":                             "invalid dependency for-loop",
	"if_elif_else_complex":                                  "invalid dependency for-loop",
	"parallelfor_fan_in_artifacts_complex":                  "invalid dependency for-loop",
	"parallelfor_fan_in_artifacts_simple":                   "invalid dependency for-loop",
	"parallelfor_fan_in_conditional_producer_and_consumers": "invalid dependency for-loop",
	"parallelfor_fan_in_nested_with_parameters":             "invalid dependency for-loop",
	"parallelfor_fan_in_parameters_complex":                 "invalid dependency for-loop",
	"parallelfor_fan_in_pipeline_producer_consumer":         "invalid dependency for-loop",
	"pythonic_artifacts_with_list_of_artifacts":             "invalid dependency for-loop",
	"pipeline_with_task_final_status":                       "task final status not supported yet",
}

func TestCorpusValidate(t *testing.T) {
	t.Parallel()
	root := corpus.Dir(t, "")
	invalid := map[string]bool{}
	for _, g := range []string{"kfp-sdk-2.17/invalid/*", "kfp-sdk-2.4/backend_resources/arguments-parameters.yaml", "kfp-sdk-2.4/backend_resources/hello-world.yaml", "kfp-sdk-2.4/backend_resources/long-running.yaml", "kfp-sdk-2.4/backend_resources/loops.yaml"} {
		m, _ := filepath.Glob(filepath.Join(root, g))
		for _, f := range m {
			invalid[f] = true
		}
	}
	all, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"))
	if len(all) < 150 {
		t.Fatalf("only %d corpus files", len(all))
	}
	for _, f := range all {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			args := []string{"validate", "--spec", f}
			for k, v := range requiredParams(t, f) {
				b, _ := json.Marshal(v)
				args = append(args, "--param", k+"="+strings.Trim(string(b), `"`))
			}
			r := kfRun(context.Background(), t, t.TempDir(), nil, args...)
			switch {
			case invalid[f] && r.code != 2:
				t.Errorf("want exit 2 for an invalid package:\n%s", r)
			case invalid[f] && !strings.Contains(r.stderr, "hint:"):
				t.Errorf("the error says nothing of what to do:\n%s", r)
			case !invalid[f] && r.code != 0:
				t.Errorf("want exit 0:\n%s", r)
			}
		})
	}
}

// requiredParams makes a value of the declared type for each root input
// of the spec at path that has no default.
func requiredParams(t testing.TB, path string) map[string]any {
	t.Helper()
	params := map[string]any{}
	spec, err := pipelinespec.Load(path)
	if err != nil {
		return params // an invalid package: validate must say so
	}
	for _, in := range spec.Inputs {
		if in.HasDefault || in.Optional {
			continue
		}
		switch in.Type {
		case pipelinespec.Integer:
			params[in.Name] = 1
		case pipelinespec.Double:
			params[in.Name] = 0.5
		case pipelinespec.Boolean:
			params[in.Name] = true
		case pipelinespec.List:
			params[in.Name] = []any{"a", "b"}
		case pipelinespec.Struct:
			params[in.Name] = map[string]any{"a": 1}
		default:
			params[in.Name] = "e2e"
		}
	}
	return params
}

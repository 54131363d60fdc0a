package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// previewConfig writes a kf-run.yaml with previews for one pipeline,
// uploaded as pipeline name, its runs named "<name> <short SHA>".
func previewConfig(t *testing.T, dir, name, extra string) {
	t.Helper()
	src := `preview:
  experiment: "pr-{{ .PR.Number }}-` + name + `"
  parameters: {epochs: 1}
` + extra + `pipelines:
  - name: train
    spec: ` + example(t, "train/pipeline.yaml") + `
    pipeline_name: ` + name + `
    version: "{{ .Git.ShortSHA }}"
    run_name: "` + name + ` {{ .Git.ShortSHA }}"
    parameters: {dataset: gs://e2e/full.csv, epochs: 5}
`
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// githubPR is the environment of a GitHub job on pull request 7 of
// acme/ml at head, on event, from the head repository headRepo.
func githubPR(t *testing.T, dir, api, event, head, headRepo string) []string {
	t.Helper()
	path := filepath.Join(dir, "event-"+head[:7]+".json")
	body := `{"number":7,"pull_request":{"number":7,"head":{"sha":"` + head + `","ref":"feature","repo":{"full_name":"` + headRepo + `"}}}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=0000000000000000000000000000000000000000",
		"GITHUB_REF=refs/pull/7/merge", "GITHUB_HEAD_REF=feature", "GITHUB_EVENT_NAME=" + event, "GITHUB_EVENT_PATH=" + path,
		"GITHUB_RUN_ID=99", "GITHUB_JOB=train", "GITHUB_WORKFLOW=ci", "GITHUB_API_URL=" + api, "GITHUB_TOKEN=ghs_e2etoken",
		"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"), "GITHUB_OUTPUT=" + filepath.Join(dir, "out"),
		"KF_RUN_HOST=" + shared.URL,
	}
}

// A pull request's previews: two pushes go into the PR's experiment, each
// run named after its head commit with the preview parameters; the
// second terminates the first and updates the one comment in place; the
// cleanup when the PR closes terminates what runs, archives the
// experiment and deletes the versions uploaded for the PR; a second
// cleanup does nothing and says so.
func TestPreviewPullRequestSequence(t *testing.T) {
	t.Parallel()
	gh := &fakeGitHub{t: t}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	name := uniq(t, "pv")
	previewConfig(t, dir, name, "")
	heads := []string{"aaaaaaa1aaaaaaa1aaaaaaa1aaaaaaa1aaaaaaa1", "bbbbbbb2bbbbbbb2bbbbbbb2bbbbbbb2bbbbbbb2"}
	runNames := []string{name + " aaaaaaa", name + " bbbbbbb"}
	for _, rn := range runNames {
		// Both runs go on until they are terminated.
		shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": rn, "run": map[string]any{"outcome": "hang"}}, nil)
	}

	// First push.
	r := kfRun(context.Background(), t, dir, githubPR(t, dir, srv.URL, "pull_request", heads[0], "acme/ml"), "run", "--no-wait")
	if r.code != 0 {
		t.Fatalf("first push: want exit 0:\n%s", r)
	}
	shared.awaitRun(t, runNames[0], "", "RUNNING")
	first := shared.runsNamed(t, runNames[0], "")[0]
	exp := shared.experiment(t, "pr-7-"+name)
	if first.ExperimentID != exp.ID {
		t.Errorf("first run is in experiment %s, want pr-7-%s (%s)", first.ExperimentID, name, exp.ID)
	}
	if p := shared.runParams(t, first.RunID); p["epochs"] != float64(1) || p["dataset"] != "gs://e2e/full.csv" {
		t.Errorf("first run's parameters %v, want the preview's epochs=1", p)
	}

	// Second push: the first run is superseded.
	r = kfRun(context.Background(), t, dir, githubPR(t, dir, srv.URL, "pull_request", heads[1], "acme/ml"), "run", "--no-wait")
	if r.code != 0 {
		t.Fatalf("second push: want exit 0:\n%s", r)
	}
	second := shared.runsNamed(t, runNames[1], "")[0]
	if want := "earlier run " + first.RunID + " (" + runNames[0] + ") of pull request #7 terminated: superseded by run " + second.RunID; !strings.Contains(r.stderr, want) {
		t.Errorf("second push does not say %q:\n%s", want, r)
	}
	// KFP 2.0.5 goes CANCELING, then FAILED on Argo's final report.
	shared.awaitRun(t, runNames[0], "", "FAILED", "CANCELED")
	shared.awaitRun(t, runNames[1], "", "RUNNING")

	gh.mu.Lock()
	if len(gh.comments) != 1 {
		t.Errorf("%d comments, want one updated in place: %v", len(gh.comments), gh.calls)
	} else {
		body := gh.comments[0]["body"].(string)
		for _, want := range []string{second.RunID, "Earlier runs of train in <code>pr-7-", first.RunID, "terminated: superseded by this run", "/#/experiments/details/" + exp.ID} {
			if !strings.Contains(body, want) {
				t.Errorf("comment lacks %q:\n%s", want, body)
			}
		}
	}
	var posts, patches int
	for _, c := range gh.calls {
		posts += boolInt(strings.HasPrefix(c, "POST "))
		patches += boolInt(strings.HasPrefix(c, "PATCH "))
	}
	if posts != 1 || patches != 1 {
		t.Errorf("%d creates and %d updates, want 1 and 1: %v", posts, patches, gh.calls)
	}
	gh.mu.Unlock()

	// The PR closes: cleanup.
	closed := githubPR(t, dir, srv.URL, "pull_request", heads[1], "acme/ml")
	r = kfRun(context.Background(), t, dir, closed, "cleanup", "--delete-versions")
	if r.code != 0 {
		t.Fatalf("cleanup: want exit 0:\n%s", r)
	}
	if want := "pull request #7: 1 runs terminated, experiment \"pr-7-" + name + "\" archived, 3 pipeline versions deleted"; !strings.Contains(r.stdout, want) {
		t.Errorf("cleanup result lacks %q:\n%s", want, r)
	}
	shared.awaitRun(t, runNames[1], "", "FAILED", "CANCELED")
	if e := shared.experiment(t, "pr-7-"+name); e.StorageState != "ARCHIVED" {
		t.Errorf("experiment after cleanup: %+v, want ARCHIVED", e)
	}
	if vs := shared.versions(t, second.Ref.PipelineID); len(vs) != 0 {
		t.Errorf("versions left after cleanup: %v", vs)
	}

	// Again: nothing to do.
	r = kfRun(context.Background(), t, dir, closed, "cleanup", "--pr", "7", "--delete-versions")
	if r.code != 0 || !strings.Contains(r.stdout, "pull request #7: nothing to clean up: experiment \"pr-7-"+name+"\" is archived") {
		t.Errorf("second cleanup: want exit 0 and nothing to do:\n%s", r)
	}
}

// On pull_request_target a fork's head would run with the base's secrets:
// refused with exit 2 before anything runs (not even a compile: command),
// nothing submitted, no comment. KF_RUN_ALLOW_FORKS=true in the job's
// environment lets it through; kf-run.yaml, the fork's own, cannot.
func TestPreviewForkRefusedOnPullRequestTarget(t *testing.T) {
	t.Parallel()
	gh := &fakeGitHub{t: t} // any call fails the test
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	name := uniq(t, "fork")
	marker := filepath.Join(dir, "compiled")
	previewConfig(t, dir, name, "")
	cfg, _ := os.ReadFile(filepath.Join(dir, "kf-run.yaml"))
	cfg = []byte(strings.Replace(string(cfg), "    spec: ", "    compile: touch "+marker+" && cp "+example(t, "train/pipeline.yaml")+" build.yaml\n    spec: ", 1))
	cfg = []byte(strings.Replace(string(cfg), "    spec: "+example(t, "train/pipeline.yaml"), "    spec: build.yaml", 1))
	os.WriteFile(filepath.Join(dir, "kf-run.yaml"), cfg, 0o644)
	env := githubPR(t, dir, srv.URL, "pull_request_target", "ccccccc3ccccccc3ccccccc3ccccccc3ccccccc3", "someone/ml")
	r := kfRun(context.Background(), t, dir, env, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "refusing to run the head of pull request #7 from the fork someone/ml: a pull_request_target workflow has this repository's secrets") ||
		!strings.Contains(r.stderr, "set KF_RUN_ALLOW_FORKS=true in the workflow's env") {
		t.Fatalf("want exit 2 saying why:\n%s", r)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the fork's compile: command ran: %v", err)
	}
	if runs := shared.runsNamed(t, name+" ccccccc", ""); len(runs) != 0 {
		t.Errorf("runs submitted: %+v", runs)
	}
	if e := shared.experiment(t, "pr-7-"+name); e.ID != "" {
		t.Errorf("experiment created: %+v", e)
	}

	// A fork on plain pull_request has no secrets: said so, not a 401.
	os.WriteFile(filepath.Join(dir, "kf-run.yaml"), append([]byte("kubeflow: {auth: {token: \"${KFP_TOKEN}\"}}\n"), cfg...), 0o644)
	env = githubPR(t, dir, srv.URL, "pull_request", "ccccccc3ccccccc3ccccccc3ccccccc3ccccccc3", "someone/ml")
	r = kfRun(context.Background(), t, dir, append(env, "KFP_TOKEN="), "run")
	if r.code != 2 || !strings.Contains(r.stderr, "environment variable KFP_TOKEN is not set") ||
		!strings.Contains(r.stderr, "this is pull request #7 from the fork someone/ml: GitHub gives workflow runs of fork pull requests no secrets") {
		t.Errorf("fork on pull_request: want exit 2 naming the missing secrets:\n%s", r)
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if len(gh.calls) != 0 {
		t.Errorf("GitHub API calls: %v", gh.calls)
	}
}

// A GitLab merge request pipeline of a fork's MR, run in the parent
// project, is refused likewise.
func TestPreviewForkRefusedOnGitLab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := uniq(t, "glfork")
	previewConfig(t, dir, name, "")
	env := []string{"GITLAB_CI=true", "CI_PROJECT_PATH=acme/ml", "CI_PROJECT_ID=10", "CI_COMMIT_SHA=ddddddd4ddddddd4",
		"CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID=77",
		"CI_MERGE_REQUEST_SOURCE_PROJECT_PATH=someone/ml", "CI_MERGE_REQUEST_PROJECT_PATH=acme/ml", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature",
		"KF_RUN_HOST=" + shared.URL}
	r := kfRun(context.Background(), t, dir, env, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "refusing to run the head of pull request #7 from the fork someone/ml: a merge request pipeline run in the parent project") {
		t.Fatalf("want exit 2 saying why:\n%s", r)
	}
	if runs := shared.runsNamed(t, name+" ddddddd", ""); len(runs) != 0 {
		t.Errorf("runs submitted: %+v", runs)
	}
	if e := shared.experiment(t, "pr-7-"+name); e.ID != "" {
		t.Errorf("experiment created: %+v", e)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type apiExperiment struct {
	ID           string `json:"experiment_id"`
	Name         string `json:"display_name"`
	StorageState string `json:"storage_state"`
}

// experiment returns the experiment named name (ID "" when there is none).
func (s *sandbox) experiment(t testing.TB, name string) apiExperiment {
	t.Helper()
	f, _ := json.Marshal(map[string]any{"predicates": []any{map[string]any{"key": "name", "operation": "EQUALS", "string_value": name}}})
	var res struct {
		Experiments []apiExperiment `json:"experiments"`
	}
	s.call(t, "GET", "/apis/v2beta1/experiments?filter="+url.QueryEscape(url.QueryEscape(string(f))), nil, &res)
	for _, e := range res.Experiments {
		if e.Name == name {
			return e
		}
	}
	return apiExperiment{}
}

// runParams returns a run's runtime parameters.
func (s *sandbox) runParams(t testing.TB, id string) map[string]any {
	t.Helper()
	var res struct {
		Config struct {
			Parameters map[string]any `json:"parameters"`
		} `json:"runtime_config"`
	}
	s.call(t, "GET", "/apis/v2beta1/runs/"+id, nil, &res)
	return res.Config.Parameters
}

// versions lists the names of a pipeline's versions.
func (s *sandbox) versions(t testing.TB, pipelineID string) []string {
	t.Helper()
	var res struct {
		Versions []struct {
			Name string `json:"display_name"`
		} `json:"pipeline_versions"`
	}
	s.call(t, "GET", "/apis/v2beta1/pipelines/"+pipelineID+"/versions?page_size=100", nil, &res)
	var out []string
	for _, v := range res.Versions {
		out = append(out, v.Name)
	}
	return out
}

package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// planConfig is a kf-run.yaml with one schedule, on the shared sandbox: a
// dry run writes nothing there.
func planConfig(t *testing.T, cron string) string {
	return fmt.Sprintf(`kubeflow:
  host: %s
pipelines:
  - name: train
    spec: %s
    version: "v-{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://e2e/data.csv}
    schedule: {cron: %q}
`, shared.URL, example(t, "train/pipeline.yaml"), cron)
}

// On a pull request, schedule sync --dry-run shows what merging would
// change in a comment of its own: created once, updated in place by the
// next push; the run comment and a person's comment quoting the marker are
// left alone; --no-comment posts nothing; another --comment-key gets its
// own comment.
func TestSchedulePlanPullRequestComment(t *testing.T) {
	t.Parallel()
	const mark = "<!-- kf-run-schedule:kf-run.yaml -->"
	human := "what is " + mark + "?"
	runComment := "run\n<!-- kf-run:ci/plan/train -->"
	gh := &fakeGitHub{t: t, comments: []map[string]any{
		{"id": 1, "body": human, "user": map[string]any{"login": "octocat"}},
		{"id": 2, "body": runComment, "user": map[string]any{"login": "github-actions[bot]"}},
	}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	env := func(head string, extra ...string) []string {
		event := filepath.Join(dir, "event-"+head+".json")
		os.WriteFile(event, []byte(`{"number":7,"pull_request":{"number":7,"head":{"sha":"`+head+`","ref":"feature","repo":{"full_name":"acme/ml"}}}}`), 0o644)
		return append([]string{
			"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=0000000000000000000000000000000000000000",
			"GITHUB_REF=refs/pull/7/merge", "GITHUB_HEAD_REF=feature", "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" + event,
			"GITHUB_RUN_ID=99", "GITHUB_JOB=plan", "GITHUB_WORKFLOW=ci", "GITHUB_API_URL=" + srv.URL, "GITHUB_TOKEN=ghs_e2etoken",
			"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"),
		}, extra...)
	}
	plan := func(head string, args ...string) {
		t.Helper()
		r := kfRun(context.Background(), t, dir, env(head), append([]string{"schedule", "sync", "--dry-run"}, args...)...)
		if r.code != 0 || strings.Contains(r.stderr, "warning") {
			t.Fatalf("dry run at %s: want exit 0, no warning:\n%s", head, r)
		}
	}
	writeConfig(t, dir, planConfig(t, "0 2 * * *"))
	plan("feedfacefeedfacefeedfacefeedfacefeedface")
	writeConfig(t, dir, planConfig(t, "0 3 * * *"))
	plan("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00")
	plan("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", "--no-comment")

	gh.mu.Lock()
	calls := slices.Clone(gh.calls)
	comments := slices.Clone(gh.comments)
	gh.mu.Unlock()
	want := []string{
		"GET /user", "GET /repos/acme/ml/issues/7/comments", "POST /repos/acme/ml/issues/7/comments",
		"GET /user", "GET /repos/acme/ml/issues/7/comments", "PATCH /repos/acme/ml/issues/comments/102",
	}
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if len(comments) != 3 || comments[0]["body"] != human || comments[1]["body"] != runComment {
		t.Fatalf("comments %v: want the person's and the run's untouched, and the plan's", comments)
	}
	body := comments[2]["body"].(string)
	for _, want := range []string{
		"### kf-run schedule sync (dry run: nothing changed)",
		"What merging would change (planned at c0ffee0).",
		"| train | create | cron 0 0 3 * * * |",
		"cronScheduleTimezone",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the plan's comment lacks %q:\n%s", want, body)
		}
	}
	if !strings.HasSuffix(body, "\n"+mark) || strings.Contains(body, "0 0 2 * * *") || strings.Contains(body, "ghs_e2etoken") {
		t.Errorf("the plan's comment is not this push's plan with the marker:\n%s", body)
	}

	// A matrix leg with its own key keeps a comment of its own.
	r := kfRun(context.Background(), t, dir, env("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", "KF_RUN_COMMENT_KEY=prod"), "schedule", "sync", "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run with a comment key:\n%s", r)
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if n := len(gh.comments); n != 4 || !strings.HasSuffix(gh.comments[3]["body"].(string), "\n<!-- kf-run-schedule:kf-run.yaml[prod] -->") {
		t.Errorf("comments %v: want a fourth, the prod leg's", gh.comments)
	}
}

// In a GitLab merge request pipeline the plan is an MR note, updated in
// place by the next pipeline.
func TestSchedulePlanMergeRequestNote(t *testing.T) {
	t.Parallel()
	gl := &fakeGitLab{t: t}
	srv := httptest.NewServer(gl)
	defer srv.Close()
	dir := t.TempDir()
	env := func(pipelineID, sha string) []string {
		return []string{
			"GITLAB_CI=true", "CI_PROJECT_PATH=acme/ml", "CI_COMMIT_SHA=" + sha, "CI_COMMIT_SHORT_SHA=" + sha[:8],
			"CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7",
			"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature", "CI_MERGE_REQUEST_PROJECT_PATH=acme/ml",
			"CI_MERGE_REQUEST_SOURCE_PROJECT_PATH=acme/ml", "CI_JOB_NAME=plan", "CI_PIPELINE_ID=" + pipelineID,
			"CI_JOB_URL=https://gitlab.example.com/acme/ml/-/jobs/1", "CI_SERVER_URL=https://gitlab.example.com",
			"CI_API_V4_URL=" + srv.URL + "/api/v4", "KF_RUN_GITLAB_TOKEN=" + glToken,
		}
	}
	for i, cron := range []string{"0 2 * * *", "0 3 * * *"} {
		writeConfig(t, dir, planConfig(t, cron))
		r := kfRun(context.Background(), t, dir, env(fmt.Sprint(2001+i), fmt.Sprintf("%040d", i+1)), "schedule", "sync", "--dry-run")
		if r.code != 0 || strings.Contains(r.stderr, "warning") || strings.Contains(r.stdout+r.stderr, glToken) {
			t.Fatalf("dry run %d: want exit 0, no warning, no token:\n%s", i+1, r)
		}
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	want := []string{
		"GET /api/v4/user", "GET " + glNotes, "POST " + glNotes,
		"GET /api/v4/user", "GET " + glNotes, "PUT " + glNotes + "/100",
	}
	if !slices.Equal(gl.calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(gl.calls, "\n"), strings.Join(want, "\n"))
	}
	if len(gl.notes) != 1 {
		t.Fatalf("notes %v, want one", gl.notes)
	}
	body := gl.notes[0]["body"].(string)
	if !strings.Contains(body, "| train | create | cron 0 0 3 * * * |") || !strings.HasSuffix(body, "\n<!-- kf-run-schedule:kf-run.yaml -->") {
		t.Errorf("note body:\n%s", body)
	}
}

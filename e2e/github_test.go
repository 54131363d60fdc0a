package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub is a loopback GitHub REST API for one pull request's issue
// comments. It checks each request against GitHub's documented shapes and
// fails the test on anything else.
type fakeGitHub struct {
	t        *testing.T
	mu       sync.Mutex
	comments []map[string]any
	calls    []string
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, r.Method+" "+r.URL.Path)
	if got := r.Header.Get("Authorization"); got != "Bearer ghs_e2etoken" && got != "token ghs_e2etoken" {
		g.t.Errorf("%s %s: Authorization = %q", r.Method, r.URL.Path, got)
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/vnd.github") {
		g.t.Errorf("%s %s: Accept = %q", r.Method, r.URL.Path, r.Header.Get("Accept"))
	}
	body := func() string {
		var b struct {
			Body string `json:"body"`
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &b); err != nil || b.Body == "" || len([]rune(b.Body)) > 65536 {
			g.t.Errorf("%s %s: body %q", r.Method, r.URL.Path, raw)
		}
		return b.Body
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && r.URL.Path == "/user":
		// An installation token (GITHUB_TOKEN) may not read /user.
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
	case r.Method == "GET" && r.URL.Path == "/repos/acme/ml/issues/7/comments":
		json.NewEncoder(w).Encode(g.comments)
	case r.Method == "POST" && r.URL.Path == "/repos/acme/ml/issues/7/comments":
		c := map[string]any{"id": 100 + len(g.comments), "body": body(), "user": map[string]any{"login": "github-actions[bot]"}}
		g.comments = append(g.comments, c)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(c)
	case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, "/repos/acme/ml/issues/comments/"):
		b := body()
		for _, c := range g.comments {
			if "/repos/acme/ml/issues/comments/"+jsonNum(c["id"]) == r.URL.Path {
				c["body"] = b
				json.NewEncoder(w).Encode(c)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	default:
		g.t.Errorf("unexpected GitHub API call %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

func jsonNum(v any) string { b, _ := json.Marshal(v); return string(b) }

// On a pull_request event: the PR head commit (not the merge commit) is
// used, one comment is created, and a re-run updates it in place.
func TestPullRequestComment(t *testing.T) {
	t.Parallel()
	gh := &fakeGitHub{t: t, comments: []map[string]any{
		// A human quoting kf-run's marker must never be edited.
		{"id": 1, "body": "see <!-- kf-run:ci/train/train-demo --> above", "user": map[string]any{"login": "octocat"}},
	}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	event := filepath.Join(dir, "event.json")
	head := "feedfacefeedfacefeedfacefeedfacefeedface"
	os.WriteFile(event, []byte(`{"number":7,"pull_request":{"number":7,"head":{"sha":"`+head+`","ref":"feature","repo":{"full_name":"acme/ml"}}}}`), 0o644)
	name := uniq(t, "pr")
	env := []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=0000000000000000000000000000000000000000",
		"GITHUB_REF=refs/pull/7/merge", "GITHUB_HEAD_REF=feature", "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" + event,
		"GITHUB_RUN_ID=99", "GITHUB_JOB=train", "GITHUB_WORKFLOW=ci", "GITHUB_API_URL=" + srv.URL, "GITHUB_TOKEN=ghs_e2etoken",
		"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"), "GITHUB_OUTPUT=" + filepath.Join(dir, "out"),
	}
	args := withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))
	for i := range 2 {
		if r := kfRun(context.Background(), t, dir, env, args...); r.code != 0 {
			t.Fatalf("run %d: want exit 0:\n%s", i+1, r)
		}
	}
	runs := shared.runsNamed(t, name, "")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if !strings.Contains(runs[0].Description, head) {
		t.Errorf("description %q does not name the PR head commit", runs[0].Description)
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if len(gh.comments) != 2 {
		t.Fatalf("%d comments, want the human's and one of kf-run's: %v (calls %v)", len(gh.comments), gh.comments, gh.calls)
	}
	if gh.comments[0]["body"] != "see <!-- kf-run:ci/train/train-demo --> above" {
		t.Errorf("the human's comment was edited: %v", gh.comments[0]["body"])
	}
	body := gh.comments[1]["body"].(string)
	// Updated in place by the second run: it links the second run.
	if !strings.Contains(body, runs[1].RunID) && !strings.Contains(body, runs[0].RunID) {
		t.Errorf("comment does not link the run:\n%s", body)
	}
	var posts, patches int
	for _, c := range gh.calls {
		switch {
		case strings.HasPrefix(c, "POST "):
			posts++
		case strings.HasPrefix(c, "PATCH "):
			patches++
		}
	}
	if posts != 1 || patches != 1 {
		t.Errorf("%d creates and %d updates, want 1 and 1: %v", posts, patches, gh.calls)
	}
}

// Pod log text printed by a failing pipeline cannot run workflow commands.
func TestGitHubFailureFencesLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := uniq(t, "ghfail")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
		"ingest": map[string]any{"outcome": "fail", "message": "bad input", "log": []string{"reading", "::add-mask::x", "::error::pwned", "ValueError: no rows"}},
	}}, nil)
	env := []string{"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef", "GITHUB_EVENT_NAME=push",
		"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"), "GITHUB_OUTPUT=" + filepath.Join(dir, "out")}
	r := kfRun(context.Background(), t, dir, env, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
	if r.code != 3 {
		t.Fatalf("want exit 3:\n%s", r)
	}
	lines := strings.Split(r.stderr, "\n")
	fenced := ""
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "::stop-commands::"):
			fenced = strings.TrimPrefix(l, "::stop-commands::")
		case fenced != "" && l == "::"+fenced+"::":
			fenced = ""
		case (strings.Contains(l, "::error::pwned") || strings.Contains(l, "::add-mask::x")) && fenced == "":
			t.Errorf("remote text outside a stop-commands fence: %q\n%s", l, r)
		}
	}
	if !strings.Contains(r.stderr, "::error") || !strings.Contains(r.stderr, "ValueError: no rows") {
		t.Errorf("no error annotation or log tail:\n%s", r)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(md), "ValueError: no rows") || !strings.Contains(string(md), "FAILED") {
		t.Errorf("summary lacks the failure:\n%s", md)
	}
	if out := readOutputs(t, filepath.Join(dir, "out")); out["state"] != "FAILED" {
		t.Errorf("outputs = %v", out)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	glToken = "glpat-e2etoken"
	glBot   = 4242
	glNotes = "/api/v4/projects/acme%2Fml/merge_requests/7/notes"
)

// fakeGitLab is a loopback GitLab REST API for one merge request's notes.
// It checks each request against GitLab's documented shapes and fails the
// test on anything else.
type fakeGitLab struct {
	t     *testing.T
	mu    sync.Mutex
	notes []map[string]any
	calls []string
}

func (g *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	path := r.URL.EscapedPath()
	g.calls = append(g.calls, r.Method+" "+path)
	if got := r.Header.Get("PRIVATE-TOKEN"); got != glToken {
		g.t.Errorf("%s %s: PRIVATE-TOKEN = %q", r.Method, path, got)
	}
	body := func() string {
		var b struct {
			Body string `json:"body"`
		}
		raw, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &b) != nil || b.Body == "" || len([]rune(b.Body)) > 1_000_000 {
			g.t.Errorf("%s %s: body %.200q", r.Method, path, raw)
		}
		return b.Body
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && path == "/api/v4/user":
		fmt.Fprintf(w, `{"id":%d,"username":"project_12_bot","bot":true}`, glBot)
	case r.Method == "GET" && path == glNotes:
		if q := r.URL.Query(); q.Get("per_page") != "100" || q.Get("sort") != "asc" || q.Get("order_by") != "updated_at" {
			g.t.Errorf("list notes query %q", r.URL.RawQuery)
		}
		json.NewEncoder(w).Encode(g.notes)
	case r.Method == "POST" && path == glNotes:
		n := map[string]any{"id": 100 + len(g.notes), "body": body(), "system": false, "author": map[string]any{"id": glBot}}
		g.notes = append(g.notes, n)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(n)
	case r.Method == "PUT" && strings.HasPrefix(path, glNotes+"/"):
		b := body()
		for _, n := range g.notes {
			if glNotes+"/"+jsonNum(n["id"]) == path {
				n["body"] = b
				json.NewEncoder(w).Encode(n)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"404 Not found"}`)
	default:
		g.t.Errorf("unexpected GitLab API call %s %s", r.Method, path)
		w.WriteHeader(http.StatusNotFound)
	}
}

// In a merge request pipeline: one note is created, and a later pipeline
// (a new CI_PIPELINE_ID) updates it in place; a human quoting the marker
// and a system note are never edited.
func TestGitLabMergeRequestNote(t *testing.T) {
	t.Parallel()
	human := "see <!-- kf-run:gitlab/train/train-demo --> above"
	gl := &fakeGitLab{t: t, notes: []map[string]any{
		{"id": 1, "body": human, "system": false, "author": map[string]any{"id": 7}},
		{"id": 2, "body": "added 1 commit <!-- kf-run:gitlab/train/train-demo -->", "system": true, "author": map[string]any{"id": glBot}},
	}}
	srv := httptest.NewServer(gl)
	defer srv.Close()
	dir := t.TempDir()
	head := "feedfacefeedfacefeedfacefeedfacefeedface"
	name := uniq(t, "mr")
	env := func(pipelineID string) []string {
		return []string{
			"GITLAB_CI=true", "CI_PROJECT_PATH=acme/ml", "CI_COMMIT_SHA=" + head, "CI_COMMIT_SHORT_SHA=feedface",
			"CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7",
			"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature", "CI_MERGE_REQUEST_PROJECT_PATH=acme/ml",
			"CI_MERGE_REQUEST_SOURCE_PROJECT_PATH=acme/ml", "CI_JOB_NAME=train", "CI_PIPELINE_ID=" + pipelineID,
			"CI_JOB_URL=https://gitlab.example.com/acme/ml/-/jobs/1", "CI_SERVER_URL=https://gitlab.example.com",
			"CI_API_V4_URL=" + srv.URL + "/api/v4", "KF_RUN_GITLAB_TOKEN=" + glToken,
			"KF_RUN_DOTENV=" + filepath.Join(dir, "kf-run.env"),
		}
	}
	args := withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))
	var first string
	for i, id := range []string{"1001", "1002"} {
		r := kfRun(context.Background(), t, dir, env(id), args...)
		if r.code != 0 {
			t.Fatalf("run %d: want exit 0:\n%s", i+1, r)
		}
		if strings.Contains(r.stdout+r.stderr, glToken) {
			t.Errorf("run %d: token in the output:\n%s", i+1, r)
		}
		if strings.Contains(r.stdout+r.stderr, "warning") {
			t.Errorf("run %d: warning:\n%s", i+1, r)
		}
		if i == 0 {
			gl.mu.Lock()
			if n := len(gl.notes); n == 3 {
				first = gl.notes[2]["body"].(string)
			}
			gl.mu.Unlock()
		}
	}
	runs := shared.runsNamed(t, name, "")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	if len(gl.notes) != 3 {
		t.Fatalf("%d notes, want the human's, the system note and one of kf-run's: %v (calls %v)", len(gl.notes), gl.notes, gl.calls)
	}
	if gl.notes[0]["body"] != human {
		t.Errorf("the human's note was edited: %v", gl.notes[0]["body"])
	}
	if !strings.HasPrefix(gl.notes[1]["body"].(string), "added 1 commit") {
		t.Errorf("the system note was edited: %v", gl.notes[1]["body"])
	}
	body := gl.notes[2]["body"].(string)
	// Updated in place by the second run: it now links a run the first
	// body did not.
	var newer bool
	for _, r := range runs {
		newer = newer || (strings.Contains(body, r.RunID) && !strings.Contains(first, r.RunID))
	}
	if first == "" || !newer {
		t.Errorf("note not updated with the second run:\nfirst:\n%s\nnow:\n%s", first, body)
	}
	if !strings.HasSuffix(body, "\n<!-- kf-run:gitlab/train/train-demo -->") || strings.Contains(body, glToken) {
		t.Errorf("note body:\n%s", body)
	}
	want := []string{
		"GET /api/v4/user", "GET " + glNotes, "POST " + glNotes,
		"GET /api/v4/user", "GET " + glNotes, "PUT " + glNotes + "/102",
	}
	if strings.Join(gl.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(gl.calls, "\n"), strings.Join(want, "\n"))
	}
}

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

const (
	apiPrefix = "/api/v3" // as on GitHub Enterprise Server, to check the base URL is honoured
	ghToken   = "ghs_token"
	myComment = 9001
)

// fakeGitHub serves the issue-comment endpoints as GitHub documents them
// (https://docs.github.com/rest/issues/comments) and fails the test on any
// request it does not expect.
type fakeGitHub struct {
	t *testing.T
	// comments on PR 5, served 100 per page; bodies may carry markers.
	comments []fakeComment
	// status, when set, answers every write with this status.
	writeStatus int
	// user answers GET /user; "" makes it unexpected.
	user string

	mu       sync.Mutex
	requests []string
	bodies   []string
}

type fakeComment struct {
	ID     int64
	Author string
	Body   string
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+strings.TrimPrefix(r.URL.Path, apiPrefix)+query(r))
	f.mu.Unlock()
	fail := func(format string, a ...any) {
		t.Errorf("%s %s: %s", r.Method, r.URL, fmt.Sprintf(format, a...))
		http.Error(w, `{"message":"unexpected"}`, http.StatusTeapot)
	}
	if got := r.Header.Get("Accept"); got != "application/vnd.github+json" {
		fail("Accept = %q", got)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+ghToken {
		fail("Authorization = %q", got)
		return
	}
	if got := r.Header.Get("X-GitHub-Api-Version"); got != "2022-11-28" {
		fail("X-GitHub-Api-Version = %q", got)
		return
	}
	if !strings.HasPrefix(r.URL.Path, apiPrefix+"/") {
		fail("path outside the API base")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, apiPrefix)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case r.Method == http.MethodGet && path == "/user" && f.user != "":
		fmt.Fprintf(w, `{"login":%q,"id":1,"type":"User"}`, f.user)
	case r.Method == http.MethodGet && path == "/user":
		// What GitHub answers an installation token (GITHUB_TOKEN).
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/users/users#get-the-authenticated-user","status":"403"}`)
	case r.Method == http.MethodGet && path == "/repos/acme/ml/issues/5/comments":
		if r.URL.Query().Get("per_page") != "100" {
			fail("per_page = %q", r.URL.Query().Get("per_page"))
			return
		}
		page := 1
		if p := r.URL.Query().Get("page"); p != "" {
			fmt.Sscan(p, &page)
		}
		lo, hi := (page-1)*100, min(page*100, len(f.comments))
		if lo > len(f.comments) {
			lo = hi
		}
		if hi < len(f.comments) {
			base := "http://" + r.Host + apiPrefix + path
			w.Header().Set("Link", fmt.Sprintf(`<%s?per_page=100&page=%d>; rel="next", <%s?per_page=100&page=%d>; rel="last"`,
				base, page+1, base, (len(f.comments)+99)/100))
		}
		var out []map[string]any
		for _, c := range f.comments[lo:hi] {
			out = append(out, comment(c))
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPatch && path == fmt.Sprintf("/repos/acme/ml/issues/comments/%d", myComment),
		r.Method == http.MethodPost && path == "/repos/acme/ml/issues/5/comments":
		body, ok := f.body(r, fail)
		if !ok {
			return
		}
		if f.writeStatus != 0 {
			w.WriteHeader(f.writeStatus)
			fmt.Fprint(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/issues/comments#create-an-issue-comment","status":"403"}`)
			return
		}
		status, id := http.StatusOK, int64(myComment)
		if r.Method == http.MethodPost {
			status, id = http.StatusCreated, 12345
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(comment(fakeComment{ID: id, Author: "github-actions[bot]", Body: body}))
	default:
		fail("unexpected request")
	}
}

// body checks a write's JSON body: exactly {"body": "..."} within GitHub's
// 65,536-character limit (counted as UTF-16 units, as GitHub does).
func (f *fakeGitHub) body(r *http.Request, fail func(string, ...any)) (string, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		fail("Content-Type = %q", ct)
		return "", false
	}
	var in struct {
		Body *string `json:"body"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Body == nil {
		fail("body is not {\"body\": ...}: %v", err)
		return "", false
	}
	if n := len(utf16.Encode([]rune(*in.Body))); n > 65536 {
		fail("body is %d characters, over 65536", n)
		return "", false
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, *in.Body)
	f.mu.Unlock()
	return *in.Body, true
}

func comment(c fakeComment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.Author, "id": c.ID % 7},
		"html_url": fmt.Sprintf("https://github.com/acme/ml/pull/5#issuecomment-%d", c.ID),
	}
}

func query(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

// thread is 130 comments: on page 1 a human quoting the marker, on page 2
// (when mine is set) kf-run's own comment.
func thread(marker string, mine bool) []fakeComment {
	var cs []fakeComment
	for i := range 130 {
		cs = append(cs, fakeComment{ID: int64(100 + i), Author: "someone", Body: "lgtm"})
	}
	cs[3] = fakeComment{ID: 103, Author: "octocat", Body: "why does it say\n> " + marker}
	cs[4] = fakeComment{ID: 104, Author: "github-actions[bot]", Body: "another bot comment"}
	if mine {
		cs[120] = fakeComment{ID: myComment, Author: "github-actions[bot]", Body: "old\n" + marker}
	}
	return cs
}

func TestPublishComment(t *testing.T) {
	t.Parallel()
	p0, pl0 := failedRun()
	mark := marker(p0.CI, "", pl0.Name)
	if want := "<!-- kf-run:CI/train/train -->"; mark != want {
		t.Fatalf("marker = %q, want %q", mark, want)
	}
	list := []string{"GET /user", "GET /repos/acme/ml/issues/5/comments?per_page=100", "GET /repos/acme/ml/issues/5/comments?page=2&per_page=100"}
	tests := []struct {
		name     string
		comments []fakeComment
		edit     func(p *plan.Plan)
		login    string
		user     string
		status   int
		want     []string
		warning  string
		notice   string
	}{
		{
			name:     "create when none",
			comments: thread(mark, false),
			want:     append(list, "POST /repos/acme/ml/issues/5/comments"),
		},
		{
			name:     "update in place",
			comments: thread(mark, true),
			want:     append(list, "PATCH /repos/acme/ml/issues/comments/9001"),
		},
		{
			name:     "personal token asks who it is",
			comments: thread(mark, true),
			edit:     func(p *plan.Plan) { p.CI.Provider = ci.Local },
			user:     "kf-run-bot", // a machine user's token: the bot's comment is not its own
			want:     append(list, "POST /repos/acme/ml/issues/5/comments"),
		},
		{
			name:     "personal token on GitHub Actions updates its own comment",
			comments: append(thread(mark, false), fakeComment{ID: myComment, Author: "alice", Body: "old\n" + mark}),
			user:     "alice",
			want:     append(list, "PATCH /repos/acme/ml/issues/comments/9001"),
		},
		{
			name:     "huge report stays under the limit",
			comments: thread(mark, false),
			edit: func(p *plan.Plan) {
				var log []string
				for range 20000 {
					log = append(log, "日本語のログ "+strings.Repeat("😀", 10))
				}
				p.Pipelines[0].Outcome.Failures[0].Log = log
			},
			want: append(list, "POST /repos/acme/ml/issues/5/comments"),
		},
		{
			name:   "fork skips",
			edit:   func(p *plan.Plan) { p.CI.Fork = true },
			notice: "::notice title=kf-run::pull request from a fork",
		},
		{
			name:     "403 warns",
			comments: thread(mark, false),
			status:   http.StatusForbidden,
			want:     append(list, "POST /repos/acme/ml/issues/5/comments"),
			warning:  "::warning title=kf-run::no PR comment: token lacks pull-requests: write",
		},
		{
			name: "no comment asked",
			edit: func(p *plan.Plan) { p.Comment = false },
		},
		{
			name: "not a pull request",
			edit: func(p *plan.Plan) { p.CI.PR = 0 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeGitHub{t: t, comments: tt.comments, writeStatus: tt.status, user: tt.user}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			p, _ := failedRun()
			p.CI.APIURL = srv.URL + apiPrefix
			p.CI.Token = ghToken
			if tt.edit != nil {
				tt.edit(p)
			}
			var log bytes.Buffer
			g := &GitHub{HTTPClient: srv.Client(), Login: tt.login}
			if err := g.Publish(context.Background(), p, console.New(&log, p.CI.Provider, false)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			for _, b := range fake.bodies {
				if len(b) > commentBudget {
					t.Errorf("body is %d bytes, over the %d budget", len(b), commentBudget)
				}
				if !strings.HasSuffix(b, "\n"+mark) {
					t.Errorf("body does not end with the marker: ...%q", b[max(0, len(b)-80):])
				}
				if strings.Contains(b, secret) || strings.Contains(b, ghToken) {
					t.Error("secret in comment body")
				}
			}
			for _, want := range []string{tt.warning, tt.notice} {
				if want != "" && !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
		})
	}
}

func TestPublishCommentError(t *testing.T) {
	t.Parallel()
	fake := &fakeGitHub{t: t, comments: nil, writeStatus: http.StatusUnprocessableEntity}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, _ := succeeded()
	p.CI.APIURL = srv.URL + apiPrefix
	p.CI.Token = ghToken
	var log bytes.Buffer
	err := (&GitHub{HTTPClient: srv.Client()}).Publish(context.Background(), p, console.New(&log, ci.GitHub, false))
	if err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("Publish error = %v, want the 422", err)
	}
}

// TestPublishFiles checks the step summary and the outputs, parsed the way
// the runner parses GITHUB_OUTPUT (actions/runner FileCommandManager.cs).
func TestPublishFiles(t *testing.T) {
	t.Parallel()
	inject := "https://kfp.example.com/#/runs/details/run-42\n_GitHubActionsFileCommandDelimeter_\nstate<<EOF\nSUCCEEDED\nEOF\nghadelimiter_0\nstate=SUCCEEDED"
	tests := []struct {
		name    string
		edit    func(p *plan.Plan)
		want    map[string]string
		warning string
	}{
		{
			name: "one pipeline",
			want: map[string]string{"run-id": "run-42", "run-url": "https://kfp.example.com/#/runs/details/run-42", "state": "FAILED"},
		},
		{
			name: "delimiter injection",
			edit: func(p *plan.Plan) { p.Pipelines[0].Submission.RunURL = inject },
			want: map[string]string{"run-id": "run-42", "run-url": inject, "state": "FAILED"},
		},
		{
			name:    "secret left out",
			edit:    func(p *plan.Plan) { p.Pipelines[0].Submission.RunURL += "?token=" + secret },
			want:    map[string]string{"run-id": "run-42", "state": "FAILED"},
			warning: "::warning title=kf-run::output run-url left out",
		},
		{
			name: "several pipelines",
			edit: func(p *plan.Plan) {
				_, b := succeeded()
				b.Name = "9 eval/β"
				_, c := notSubmitted()
				c.Name = "9 eval!β"
				p.Pipelines = append(p.Pipelines, b, c)
			},
			want: map[string]string{
				// state is the worst of all: one was not submitted.
				"run-id": "run-42", "run-url": "https://kfp.example.com/#/runs/details/run-42", "state": "NOT_SUBMITTED",
				"train-run-id": "run-42", "train-run-url": "https://kfp.example.com/#/runs/details/run-42", "train-state": "FAILED",
				"_9_eval__-run-id": "run-42", "_9_eval__-run-url": "https://kfp.example.com/#/runs/details/run-42", "_9_eval__-state": "SUCCEEDED",
				"_9_eval___2-run-id": "", "_9_eval___2-run-url": "", "_9_eval___2-state": "NOT_SUBMITTED",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p, _ := failedRun()
			p.Comment = false
			p.CI.SummaryPath = filepath.Join(dir, "summary.md")
			p.CI.OutputPath = filepath.Join(dir, "output")
			if err := os.WriteFile(p.CI.SummaryPath, []byte("earlier step\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(p)
			}
			var log bytes.Buffer
			if err := (&GitHub{}).Publish(context.Background(), p, console.New(&log, ci.GitHub, false)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			raw, err := os.ReadFile(p.CI.OutputPath)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseOutputs(string(raw))
			if err != nil {
				t.Fatalf("%v in:\n%s", err, raw)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			if strings.Contains(string(raw), secret) {
				t.Error("secret in outputs file")
			}
			sum, err := os.ReadFile(p.CI.SummaryPath)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(sum), "earlier step\n### ") {
				t.Errorf("summary not appended:\n%.200s", sum)
			}
			if strings.Contains(string(sum), secret) {
				t.Error("secret in summary")
			}
			if tt.warning != "" && !strings.Contains(log.String(), tt.warning) {
				t.Errorf("log lacks %q:\n%s", tt.warning, log.String())
			}
		})
	}
}

func TestPublishNoPaths(t *testing.T) {
	t.Parallel()
	p, _ := succeeded()
	p.CI.SummaryPath, p.CI.OutputPath, p.Comment = "", "", false
	var log bytes.Buffer
	if err := (&GitHub{}).Publish(context.Background(), p, console.New(&log, ci.Local, false)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// parseOutputs reads GITHUB_OUTPUT as the runner does: "name=value" or a
// "name<<DELIM" heredoc closed by a line that is exactly DELIM.
func parseOutputs(s string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("no final newline")
	}
	lines = lines[:len(lines)-1]
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		eq, hd := strings.Index(l, "="), strings.Index(l, "<<")
		if eq >= 0 && (hd < 0 || eq < hd) {
			out[l[:eq]] = l[eq+1:]
			continue
		}
		if hd < 0 {
			return nil, fmt.Errorf("line %q is neither form", l)
		}
		name, delim := l[:hd], l[hd+2:]
		var val []string
		for i++; ; i++ {
			if i >= len(lines) {
				return nil, fmt.Errorf("matching delimiter not found %q", delim)
			}
			if lines[i] == delim {
				break
			}
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out, nil
}

// Two legs of a matrix job (same workflow, job and pipeline) each keep
// their own comment: the leg whose comment exists updates it, the other
// leg makes its own instead of overwriting it.
func TestPublishCommentMatrixLegs(t *testing.T) {
	t.Parallel()
	p0, pl0 := failedRun()
	legA, legB := `{"python":"3.11"}`, `{"python":"3.12"}`
	markA, markB := marker(p0.CI, legA, pl0.Name), marker(p0.CI, legB, pl0.Name)
	if markA == markB || markA == marker(p0.CI, "", pl0.Name) {
		t.Fatalf("legs share a marker: %q, %q", markA, markB)
	}
	if a, b := marker(p0.CI, "a b", "p"), marker(p0.CI, "a_b", "p"); a == b {
		t.Errorf("keys %q and %q share the marker %q", "a b", "a_b", a)
	}
	list := []string{"GET /repos/acme/ml/issues/5/comments?per_page=100", "GET /repos/acme/ml/issues/5/comments?page=2&per_page=100"}
	for _, tt := range []struct {
		leg  string
		want string
	}{
		{legA, "PATCH /repos/acme/ml/issues/comments/9001"},
		{legB, "POST /repos/acme/ml/issues/5/comments"},
	} {
		t.Run(tt.leg, func(t *testing.T) {
			t.Parallel()
			fake := &fakeGitHub{t: t, comments: thread(markA, true)}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			p, _ := failedRun()
			p.CI.APIURL, p.CI.Token, p.CommentKey = srv.URL+apiPrefix, ghToken, tt.leg
			var log bytes.Buffer
			g := &GitHub{HTTPClient: srv.Client()}
			if err := g.Publish(context.Background(), p, console.New(&log, p.CI.Provider, false)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if diff := cmp.Diff(append(append([]string{"GET /user"}, list...), tt.want), fake.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			mark := marker(p.CI, tt.leg, pl0.Name)
			for _, b := range fake.bodies {
				if !strings.HasSuffix(b, "\n"+mark) {
					t.Errorf("body does not end with the leg's marker %q", mark)
				}
			}
		})
	}
}

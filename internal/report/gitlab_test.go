package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

const (
	glPrefix  = "/api/v4"
	glToken   = "glpat-s3cr3tT0ken"
	glBotID   = 4242 // the project access token's bot user
	glHumanID = 7
	myNote    = 9001
	glNotes   = glPrefix + "/projects/acme%2Fml/merge_requests/5/notes"
)

// fakeGitLab serves the merge-request notes endpoints as GitLab documents
// them (https://docs.gitlab.com/api/notes/) and fails the test on any
// request it does not expect.
type fakeGitLab struct {
	t *testing.T
	// notes on MR !5, served 100 per page.
	notes []fakeNote
	// linkOnly pages with the Link header alone, headerOnly with
	// X-Next-Page alone; GitLab sends both.
	linkOnly, headerOnly bool
	// userStatus and writeStatus, when set, answer GET /user or every
	// write with this status.
	userStatus, writeStatus int

	mu       sync.Mutex
	requests []string
	bodies   []string
}

type fakeNote struct {
	ID     int64
	Author int64
	System bool
	Body   string
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	path := r.URL.EscapedPath()
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+path+query(r))
	f.mu.Unlock()
	fail := func(format string, a ...any) {
		t.Errorf("%s %s: %s", r.Method, r.URL, fmt.Sprintf(format, a...))
		http.Error(w, `{"message":"unexpected"}`, http.StatusTeapot)
	}
	if got := r.Header.Get("PRIVATE-TOKEN"); got != glToken {
		fail("PRIVATE-TOKEN = %q", got)
		return
	}
	if got := r.Header.Get("Authorization") + r.Header.Get("JOB-TOKEN"); got != "" {
		fail("other credentials sent: %q", got)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	status := func(code int) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"message":"%d %s"}`, code, http.StatusText(code))
	}
	switch {
	case r.Method == http.MethodGet && path == glPrefix+"/user":
		if f.userStatus != 0 {
			status(f.userStatus)
			return
		}
		fmt.Fprintf(w, `{"id":%d,"username":"project_12_bot_3f2a","name":"kf-run","bot":true,"state":"active"}`, glBotID)
	case r.Method == http.MethodGet && path == glNotes:
		q := r.URL.Query()
		for k, want := range map[string]string{"per_page": "100", "sort": "asc", "order_by": "updated_at"} {
			if got := q.Get(k); got != want {
				fail("%s = %q, want %q", k, got, want)
				return
			}
		}
		page := 1
		if p := q.Get("page"); p != "" {
			fmt.Sscan(p, &page)
		}
		lo, hi := min((page-1)*100, len(f.notes)), min(page*100, len(f.notes))
		if hi < len(f.notes) {
			if !f.linkOnly {
				w.Header().Set("X-Next-Page", fmt.Sprint(page+1))
			}
			if !f.headerOnly {
				next := fmt.Sprintf("http://%s%s?order_by=updated_at&page=%d&per_page=100&sort=asc", r.Host, path, page+1)
				w.Header().Set("Link", `<`+next+`>; rel="next"`)
			}
		} else if !f.linkOnly {
			w.Header().Set("X-Next-Page", "")
		}
		w.Header().Set("X-Page", fmt.Sprint(page))
		w.Header().Set("X-Per-Page", "100")
		out := []map[string]any{}
		for _, n := range f.notes[lo:hi] {
			out = append(out, note(n))
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPut && path == fmt.Sprintf("%s/%d", glNotes, myNote),
		r.Method == http.MethodPost && path == glNotes:
		body, ok := f.body(r, fail)
		if !ok {
			return
		}
		if f.writeStatus != 0 {
			status(f.writeStatus)
			return
		}
		code, id := http.StatusOK, int64(myNote)
		if r.Method == http.MethodPost {
			code, id = http.StatusCreated, 12345
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(note(fakeNote{ID: id, Author: glBotID, Body: body}))
	default:
		fail("unexpected request")
	}
}

// body checks a write's JSON body: exactly {"body": "..."} within GitLab's
// 1,000,000-character limit.
func (f *fakeGitLab) body(r *http.Request, fail func(string, ...any)) (string, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		fail("Content-Type = %q", ct)
		return "", false
	}
	var in struct {
		Body *string `json:"body"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Body == nil || *in.Body == "" {
		fail("body is not {\"body\": ...}: %v", err)
		return "", false
	}
	if n := utf8.RuneCountInString(*in.Body); n > 1_000_000 {
		fail("body is %d characters, over 1,000,000", n)
		return "", false
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, *in.Body)
	f.mu.Unlock()
	return *in.Body, true
}

func note(n fakeNote) map[string]any {
	return map[string]any{
		"id": n.ID, "type": nil, "body": n.Body, "system": n.System,
		"author":        map[string]any{"id": n.Author, "username": fmt.Sprintf("user%d", n.Author), "name": "someone"},
		"noteable_type": "MergeRequest", "noteable_iid": 5, "project_id": 12,
		"created_at": "2026-11-26T12:00:00.000Z", "updated_at": "2026-11-26T12:00:00.000Z",
	}
}

// noteThread is 130 notes: on page 1 a human quoting the marker and a
// system note by the token's user that carries it, on page 2 (when mine is
// set) kf-run's own note.
func noteThread(marker string, mine bool) []fakeNote {
	var ns []fakeNote
	for i := range 130 {
		ns = append(ns, fakeNote{ID: int64(100 + i), Author: 11, Body: "lgtm"})
	}
	ns[3] = fakeNote{ID: 103, Author: glHumanID, Body: "why does it say\n> " + marker}
	ns[4] = fakeNote{ID: 104, Author: glBotID, System: true, Body: "changed the description " + marker}
	ns[5] = fakeNote{ID: 105, Author: glBotID, Body: "another pipeline\n<!-- kf-run:gitlab/train/eval -->"}
	if mine {
		ns[120] = fakeNote{ID: myNote, Author: glBotID, Body: "old\n" + marker}
	}
	return ns
}

func gitlabRun() (*plan.Plan, *plan.Pipeline) {
	p, pl := failedRun()
	p.CI = ci.Info{
		Provider: ci.GitLab, Repo: "acme/ml", SHA: "abc1234def5678", ShortSHA: "abc1234",
		ServerURL: "https://gitlab.example.com", JobURL: "https://gitlab.example.com/acme/ml/-/jobs/77",
		Job: "train", Workflow: "31337", PR: 5, Token: glToken,
	}
	return p, pl
}

func TestPublishGitLabNote(t *testing.T) {
	t.Parallel()
	p0, pl0 := gitlabRun()
	info := p0.CI
	info.Workflow = gitlabWorkflow
	mark := marker(info, "", pl0.Name)
	if want := "<!-- kf-run:gitlab/train/train -->"; mark != want {
		t.Fatalf("marker = %q, want %q", mark, want)
	}
	list := []string{
		"GET " + glPrefix + "/user",
		"GET " + glNotes + "?order_by=updated_at&per_page=100&sort=asc",
		"GET " + glNotes + "?order_by=updated_at&page=2&per_page=100&sort=asc",
	}
	tests := []struct {
		name                 string
		notes                []fakeNote
		linkOnly, headerOnly bool
		edit                 func(p *plan.Plan)
		userStatus, status   int
		want                 []string
		warning, notice      string
	}{
		{
			name:  "create when none",
			notes: noteThread(mark, false),
			want:  append(list, "POST "+glNotes),
		},
		{
			name:  "update in place",
			notes: noteThread(mark, true),
			want:  append(list, fmt.Sprintf("PUT %s/%d", glNotes, myNote)),
		},
		{
			name:     "pages by Link alone",
			notes:    noteThread(mark, true),
			linkOnly: true,
			want:     append(list, fmt.Sprintf("PUT %s/%d", glNotes, myNote)),
		},
		{
			name:       "pages by X-Next-Page alone",
			notes:      noteThread(mark, true),
			headerOnly: true,
			want:       append(list, fmt.Sprintf("PUT %s/%d", glNotes, myNote)),
		},
		{
			name:  "a new pipeline id keeps the note",
			notes: noteThread(mark, true),
			edit:  func(p *plan.Plan) { p.CI.Workflow = "31338" },
			want:  append(list, fmt.Sprintf("PUT %s/%d", glNotes, myNote)),
		},
		{
			name:  "each pipeline its own note",
			notes: noteThread(mark, true),
			edit: func(p *plan.Plan) {
				_, b := succeeded()
				b.Name = "other"
				p.Pipelines = append(p.Pipelines, b)
			},
			want: append(list, fmt.Sprintf("PUT %s/%d", glNotes, myNote), "POST "+glNotes),
		},
		{
			name:  "huge report stays under the limit",
			notes: noteThread(mark, false),
			edit: func(p *plan.Plan) {
				var log []string
				for range 30000 { // about 1.8 MB of log
					log = append(log, "日本語のログ "+strings.Repeat("😀", 10))
				}
				p.Pipelines[0].Outcome.Failures[0].Log = log
			},
			want: append(list, "POST "+glNotes),
		},
		{
			name:    "403 warns",
			notes:   noteThread(mark, false),
			status:  http.StatusForbidden,
			want:    append(list, "POST "+glNotes),
			warning: "warning: kf-run: no MR note: KF_RUN_GITLAB_TOKEN must be a project access token with api scope",
		},
		{
			name:       "401 warns",
			userStatus: http.StatusUnauthorized,
			want:       list[:1],
			warning:    "CI_JOB_TOKEN cannot write notes) (get token user: 401 {message: 401 Unauthorized})",
		},
		{
			name:   "fork skips",
			edit:   func(p *plan.Plan) { p.CI.Fork = true },
			notice: "notice: kf-run: merge request from a fork",
		},
		{
			name:   "no token",
			edit:   func(p *plan.Plan) { p.CI.Token = "" },
			notice: "notice: kf-run: no MR note: set KF_RUN_GITLAB_TOKEN",
		},
		{
			name: "no note asked",
			edit: func(p *plan.Plan) { p.Comment = false },
		},
		{
			name: "not a merge request",
			edit: func(p *plan.Plan) { p.CI.PR, p.CI.Token = 0, "" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeGitLab{t: t, notes: tt.notes, linkOnly: tt.linkOnly, headerOnly: tt.headerOnly,
				userStatus: tt.userStatus, writeStatus: tt.status}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			p, _ := gitlabRun()
			p.CI.APIURL = srv.URL + glPrefix
			if tt.edit != nil {
				tt.edit(p)
			}
			var log bytes.Buffer
			g := &GitLab{HTTPClient: srv.Client()}
			if err := g.Publish(context.Background(), p, console.New(&log, ci.GitLab, false)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			for i, b := range fake.bodies {
				if len(b) > noteBudget {
					t.Errorf("body is %d bytes, over the %d budget", len(b), noteBudget)
				}
				m := marker(info, "", p.Pipelines[i].Name)
				if !strings.HasSuffix(b, "\n"+m) {
					t.Errorf("body does not end with %s: ...%q", m, b[max(0, len(b)-80):])
				}
				if strings.Contains(b, secret) || strings.Contains(b, glToken) {
					t.Error("secret in note body")
				}
			}
			for _, want := range []string{tt.warning, tt.notice} {
				if want != "" && !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
			if tt.warning == "" && tt.notice == "" && log.Len() > 0 {
				t.Errorf("unexpected output:\n%s", log.String())
			}
			if strings.Contains(log.String(), glToken) {
				t.Error("token in the log")
			}
		})
	}
}

// A failed create is reported, and not retried: after a 5xx the note may
// exist, and a second POST would duplicate it.
func TestPublishGitLabNoteError(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusUnprocessableEntity, http.StatusBadGateway} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			fake := &fakeGitLab{t: t, writeStatus: code}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			p, _ := gitlabRun()
			p.CI.APIURL = srv.URL + glPrefix
			var log bytes.Buffer
			err := (&GitLab{HTTPClient: srv.Client()}).Publish(context.Background(), p, console.New(&log, ci.GitLab, false))
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint(code)) {
				t.Errorf("Publish error = %v, want the %d", err, code)
			}
			want := []string{"GET " + glPrefix + "/user", "GET " + glNotes + "?order_by=updated_at&per_page=100&sort=asc", "POST " + glNotes}
			if diff := cmp.Diff(want, fake.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishGitLabBadAPIURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "gitlab.example.com/api/v4", "ftp://gitlab.example.com/api/v4"} {
		p, _ := gitlabRun()
		p.CI.APIURL = u
		var log bytes.Buffer
		err := (&GitLab{}).Publish(context.Background(), p, console.New(&log, ci.GitLab, false))
		if err == nil || !strings.Contains(err.Error(), "CI_API_V4_URL") {
			t.Errorf("APIURL %q: error = %v, want one naming CI_API_V4_URL", u, err)
		}
	}
}

package report

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

// planMD stands for schedule.CommentMarkdown's output; it holds a secret,
// which must never reach the comment.
const planMD = "### kf-run schedule sync (dry run: nothing changed)\n\n| train | create | cron 0 0 2 * * * | | token " + secret + " |\n"

func TestScheduleMarker(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ config, key, want string }{
		{"kf-run.yaml", "", "<!-- kf-run-schedule:kf-run.yaml -->"},
		{"ml/kf-run.yaml", "", "<!-- kf-run-schedule:ml_kf-run.yaml -->"},
		{"kf-run.yaml", "prod", "<!-- kf-run-schedule:kf-run.yaml[prod] -->"},
		{"a--b-->.yaml", "", "<!-- kf-run-schedule:a-_b-__.yaml -->"},
	} {
		if got := scheduleMarker(tt.config, tt.key); got != tt.want {
			t.Errorf("scheduleMarker(%q, %q) = %q, want %q", tt.config, tt.key, got, tt.want)
		}
	}
	// Never the run comments' marker, whatever the names.
	p, pl := failedRun()
	if strings.Contains(scheduleMarker("kf-run.yaml", ""), "<!-- kf-run:") || strings.Contains(marker(p.CI, "", pl.Name), "kf-run-schedule:") {
		t.Error("schedule and run markers overlap")
	}
}

// The plan's comment on GitHub: one per config file and comment key,
// created once and then updated in place; run comments and people's
// comments quoting the marker are left alone.
func TestPublishSchedulePlanGitHub(t *testing.T) {
	t.Parallel()
	mark := scheduleMarker("kf-run.yaml", "")
	p0, pl0 := failedRun()
	runComment := fakeComment{ID: 555, Author: "github-actions[bot]", Body: "run\n" + marker(p0.CI, "", pl0.Name)}
	list := []string{"GET /user", "GET /repos/acme/ml/issues/5/comments?per_page=100", "GET /repos/acme/ml/issues/5/comments?page=2&per_page=100"}
	tests := []struct {
		name     string
		comments []fakeComment
		edit     func(p *plan.Plan)
		want     []string
		mark     string
		notice   string
	}{
		{
			name:     "create when none",
			comments: append(thread(mark, false), runComment),
			want:     append(list, "POST /repos/acme/ml/issues/5/comments"),
		},
		{
			name:     "update in place",
			comments: append(thread(mark, true), runComment),
			want:     append(list, "PATCH /repos/acme/ml/issues/comments/9001"),
		},
		{
			name:     "another comment key, another comment",
			comments: thread(mark, true),
			edit:     func(p *plan.Plan) { p.CommentKey = "prod" },
			want:     append(list, "POST /repos/acme/ml/issues/5/comments"),
			mark:     scheduleMarker("kf-run.yaml", "prod"),
		},
		{
			name:   "fork skips",
			edit:   func(p *plan.Plan) { p.CI.Fork, p.CI.Token = true, "" },
			notice: "::notice title=kf-run::pull request from a fork",
		},
		{
			name:   "no token says how",
			edit:   func(p *plan.Plan) { p.CI.Token = "" },
			notice: "no PR comment: GITHUB_TOKEN is not set",
		},
		{name: "--no-comment", edit: func(p *plan.Plan) { p.Comment = false }},
		{name: "not a pull request", edit: func(p *plan.Plan) { p.CI.PR = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeGitHub{t: t, comments: tt.comments}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			p, _ := failedRun()
			p.CI.APIURL, p.CI.Token = srv.URL+apiPrefix, ghToken
			if tt.edit != nil {
				tt.edit(p)
			}
			var log bytes.Buffer
			g := &GitHub{HTTPClient: srv.Client()}
			if err := g.PublishSchedulePlan(context.Background(), p, "kf-run.yaml", planMD, console.New(&log, p.CI.Provider, false)); err != nil {
				t.Fatalf("PublishSchedulePlan: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			want := mark
			if tt.mark != "" {
				want = tt.mark
			}
			for _, b := range fake.bodies {
				if !strings.HasPrefix(b, "### kf-run schedule sync") || !strings.HasSuffix(b, "\n\n"+want) {
					t.Errorf("body is not the plan ending with %q:\n%s", want, b)
				}
				if strings.Contains(b, secret) || strings.Contains(b, ghToken) {
					t.Errorf("secret in the comment:\n%s", b)
				}
			}
			if tt.notice != "" && !strings.Contains(log.String(), tt.notice) {
				t.Errorf("log lacks %q:\n%s", tt.notice, log.String())
			}
		})
	}
}

// The plan's note on GitLab: the same, with GitLab's notes API.
func TestPublishSchedulePlanGitLab(t *testing.T) {
	t.Parallel()
	mark := scheduleMarker("kf-run.yaml", "")
	list := []string{
		"GET " + glPrefix + "/user",
		"GET " + glNotes + "?order_by=updated_at&per_page=100&sort=asc",
		"GET " + glNotes + "?order_by=updated_at&page=2&per_page=100&sort=asc",
	}
	tests := []struct {
		name   string
		notes  []fakeNote
		edit   func(p *plan.Plan)
		want   []string
		notice string
	}{
		{name: "create when none", notes: noteThread(mark, false), want: append(list, "POST "+glNotes)},
		{name: "update in place", notes: noteThread(mark, true), want: append(list, fmt.Sprintf("PUT %s/%d", glNotes, myNote))},
		{name: "fork skips", edit: func(p *plan.Plan) { p.CI.Fork = true }, notice: "merge request from a fork: no MR note"},
		{name: "no token says how", edit: func(p *plan.Plan) { p.CI.Token = "" }, notice: "set KF_RUN_GITLAB_TOKEN"},
		{name: "not a merge request", edit: func(p *plan.Plan) { p.CI.PR = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeGitLab{t: t, notes: tt.notes}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			p, _ := gitlabRun()
			p.CI.APIURL = srv.URL + glPrefix
			if tt.edit != nil {
				tt.edit(p)
			}
			var log bytes.Buffer
			g := &GitLab{HTTPClient: srv.Client()}
			if err := g.PublishSchedulePlan(context.Background(), p, "kf-run.yaml", planMD, console.New(&log, p.CI.Provider, false)); err != nil {
				t.Fatalf("PublishSchedulePlan: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			for _, b := range fake.bodies {
				if !strings.HasSuffix(b, "\n\n"+mark) || strings.Contains(b, secret) || strings.Contains(b, glToken) {
					t.Errorf("note body:\n%s", b)
				}
			}
			if tt.notice != "" && !strings.Contains(log.String(), tt.notice) {
				t.Errorf("log lacks %q:\n%s", tt.notice, log.String())
			}
		})
	}
}

// A plan too long for one comment is cut at a line, under the budget,
// and keeps its marker.
func TestSchedulePlanCut(t *testing.T) {
	t.Parallel()
	p, _ := failedRun()
	md := "### plan\n\n" + strings.Repeat("| pipeline-ü | create | every 6h |  |  |\n", 5000)
	s := schedulePlan(p, "kf-run.yaml", md, commentBudget)
	if len(s.body) > commentBudget || !strings.HasSuffix(s.body, "(cut: the job summary or log has the whole plan)\n\n"+s.mark) {
		t.Errorf("cut body is %d bytes, ends %q", len(s.body), s.body[max(0, len(s.body)-120):])
	}
	if !strings.Contains(s.body, "|\n\n… (cut") {
		t.Errorf("not cut at a line end: ...%q", s.body[max(0, len(s.body)-160):])
	}
}

package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

const (
	// noteBudget keeps an MR note well under GitLab's 1,000,000-character
	// body limit (bytes never undercount characters).
	noteBudget = 900_000
	// maxNotePages bounds the note listing (100 per page) against a server
	// that never stops paginating.
	maxNotePages = 200
	// gitlabWorkflow stands for the workflow in GitLab markers. GitLab has
	// no stable workflow name (ci.Info.Workflow is CI_PIPELINE_ID, new on
	// every push), and a marker that changed per pipeline would add a note
	// per push instead of updating one.
	gitlabWorkflow = "gitlab"
)

// GitLab publishes results on GitLab CI: a sticky note per pipeline on the
// merge request.
type GitLab struct {
	// HTTPClient sends API requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Publish creates or updates the MR note of each pipeline when p.Comment
// is set in a merge request pipeline. A fork MR, a missing token or one
// that may not write notes gives a notice or warning on c, not an error;
// the caller logs returned errors and keeps its exit code.
func (g *GitLab) Publish(ctx context.Context, p *plan.Plan, c *console.Console) error {
	c.Mask(secretValues(p)...)
	if !p.Comment || !noteable(p.CI, c) {
		return nil
	}
	return g.note(ctx, p, c)
}

// noteable reports whether an MR note can be written: in a merge request
// pipeline, not a fork's, with a token. When not, and it matters, it says
// why on c.
func noteable(info ci.Info, c *console.Console) bool {
	switch {
	case info.PR <= 0:
	case info.Fork:
		c.Noticef("kf-run", "merge request from a fork: no MR note; see the job log")
	case info.Token == "":
		c.Noticef("kf-run", "no MR note: set KF_RUN_GITLAB_TOKEN to a project access token with api scope (CI_JOB_TOKEN cannot write notes)")
	default:
		return true
	}
	return false
}

// note creates or updates the sticky note of each pipeline.
func (g *GitLab) note(ctx context.Context, p *plan.Plan, c *console.Console) error {
	info := p.CI
	info.Workflow = gitlabWorkflow
	redact := secrets(p)
	var notes []sticky
	for _, pl := range p.Pipelines {
		mark := marker(info, p.CommentKey, pl.Name)
		body := redact.Replace(Markdown(p, pl, noteBudget-len(mark)-1)) + "\n" + mark
		notes = append(notes, sticky{name: pl.Name, mark: mark, body: body})
	}
	return g.upsert(ctx, p.CI, notes, c)
}

// upsert creates each note on the merge request, or updates the one of
// ours that carries its marker.
func (g *GitLab) upsert(ctx context.Context, info ci.Info, notes []sticky, c *console.Console) error {
	if info.Repo == "" {
		return errors.New("MR note: no project path (CI_PROJECT_PATH)")
	}
	client, err := g.client(info)
	if err != nil {
		return fmt.Errorf("MR note: %w", err)
	}
	// The project path as :id; the client URL-encodes it (acme%2Fml).
	pid, mr := info.Repo, int64(info.PR)
	u, _, err := client.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		return noteErr(c, "get token user", err)
	}
	existing, err := listNotes(ctx, client, pid, mr)
	if err != nil {
		return noteErr(c, fmt.Sprintf("list notes on !%d", mr), err)
	}
	var errs []error
	for _, n := range notes {
		body := n.body
		if id := findNote(existing, n.mark, u.ID); id != 0 {
			_, _, err = client.Notes.UpdateMergeRequestNote(pid, mr, id, &gitlab.UpdateMergeRequestNoteOptions{Body: &body}, gitlab.WithContext(ctx))
		} else {
			_, _, err = client.Notes.CreateMergeRequestNote(pid, mr, &gitlab.CreateMergeRequestNoteOptions{Body: &body},
				gitlab.WithContext(ctx), gitlab.WithRequestRetry(createRetry))
		}
		if err != nil {
			if err := noteErr(c, fmt.Sprintf("note %q on !%d", n.name, mr), err); err != nil {
				errs = append(errs, err)
				continue
			}
			return nil // 401/403: the same token will not do better for the next note
		}
	}
	return errors.Join(errs...)
}

// noteErr turns a 401 or 403 into a warning naming what the token needs,
// and nil; other errors are returned.
func noteErr(c *console.Console, what string, err error) error {
	var resp *gitlab.ErrorResponse
	if errors.As(err, &resp) && (resp.HasStatusCode(http.StatusUnauthorized) || resp.HasStatusCode(http.StatusForbidden)) {
		c.Warningf("kf-run", "no MR note: KF_RUN_GITLAB_TOKEN must be a project access token with api scope and the Reporter role or higher (CI_JOB_TOKEN cannot write notes) (%s: %d %s)",
			what, resp.Response.StatusCode, resp.Message)
		return nil
	}
	if errors.Is(err, gitlab.ErrNotFound) {
		return fmt.Errorf("MR %s: 404: the project or merge request is not visible to KF_RUN_GITLAB_TOKEN", what)
	}
	return fmt.Errorf("MR %s: %w", what, err)
}

// listNotes returns every note on the merge request, following pagination
// (the Link header, else X-Next-Page).
func listNotes(ctx context.Context, client *gitlab.Client, pid string, mr int64) ([]*gitlab.Note, error) {
	opts := &gitlab.ListMergeRequestNotesOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100},
		OrderBy:     gitlab.Ptr("updated_at"),
		Sort:        gitlab.Ptr("asc"),
	}
	reqOpts := []gitlab.RequestOptionFunc{gitlab.WithContext(ctx)}
	var all []*gitlab.Note
	for range maxNotePages {
		page, resp, err := client.Notes.ListMergeRequestNotes(pid, mr, opts, reqOpts...)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		next, ok := gitlab.WithNext(resp)
		if !ok || len(page) == 0 {
			return all, nil
		}
		reqOpts = []gitlab.RequestOptionFunc{gitlab.WithContext(ctx), next}
	}
	return nil, fmt.Errorf("more than %d pages of notes", maxNotePages)
}

// findNote returns the id of the oldest (lowest id) non-system note by the
// token's user that carries the marker, or 0. Matching the author keeps
// kf-run from editing a person's note that quotes the marker.
func findNote(notes []*gitlab.Note, mark string, user int64) int64 {
	var id int64
	for _, n := range notes {
		if n.System || n.Author.ID != user || !strings.Contains(n.Body, mark) {
			continue
		}
		if id == 0 || n.ID < id {
			id = n.ID
		}
	}
	return id
}

func (g *GitLab) client(info ci.Info) (*gitlab.Client, error) {
	u, err := url.Parse(info.APIURL)
	if info.APIURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("API URL %q (CI_API_V4_URL) is not an http(s) URL", info.APIURL)
	}
	hc := g.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return gitlab.NewClient(info.Token,
		gitlab.WithBaseURL(info.APIURL),
		gitlab.WithHTTPClient(hc),
		gitlab.WithURLWarningLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		gitlab.WithUserAgent("kf-run"),
	)
}

// createRetry retries a note creation only when rate-limited (429, which
// GitLab answers before creating anything): after a 5xx or a broken
// connection the note may exist, and a retry would post a second one.
// Reads and updates keep the client's retries.
func createRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return err == nil && resp != nil && resp.StatusCode == http.StatusTooManyRequests, nil
}

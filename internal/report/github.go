package report

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/go-github/v75/github"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

const (
	// commentBudget keeps a PR comment under GitHub's 65,536-character
	// body limit: bytes never undercount UTF-16 units, and the margin
	// leaves room for the marker.
	commentBudget = 60000
	// anyBot stands for "the token's user is a bot (an installation token):
	// any [bot] author's comment with our marker is ours". People's comments
	// quoting the marker are never edited.
	anyBot = "[bot]"
)

// GitHub publishes results on GitHub Actions: the step summary, the step
// outputs and a sticky comment per pipeline on the pull request.
type GitHub struct {
	// HTTPClient sends API requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Login is the account the token acts as, whose comment is updated.
	// "" asks GitHub (GET /user); an installation token, which may not ask,
	// owns the comments of [bot] authors.
	Login string
}

// Publish appends the summary to p.CI.SummaryPath, writes the outputs to
// p.CI.OutputPath (each skipped when its path is ""), and creates or
// updates the PR comments when p.Comment is set on a pull request. A fork
// PR or a token without pull-requests: write gives a notice or warning on
// c, not an error; the caller logs returned errors and keeps its exit code.
func (g *GitHub) Publish(ctx context.Context, p *plan.Plan, c *console.Console) error {
	c.Mask(secretValues(p)...)
	var errs []error
	if path := p.CI.SummaryPath; path != "" {
		if err := appendFile(path, Summary(p)); err != nil {
			errs = append(errs, fmt.Errorf("write step summary: %w", err))
		}
	}
	if path := p.CI.OutputPath; path != "" {
		out, err := outputs(p, c)
		if err == nil {
			err = appendFile(path, out)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("write step outputs: %w", err))
		}
	}
	if p.Comment && commentable(p.CI, c) {
		if err := g.comment(ctx, p, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// commentable reports whether a PR comment can be written: on a pull
// request not from a fork (its token is read-only), with a token. When
// not, and it matters, it says why on c.
func commentable(info ci.Info, c *console.Console) bool {
	switch {
	case info.PR == 0:
	case info.Fork:
		c.Noticef("kf-run", "pull request from a fork: its token is read-only, so no PR comment; see the job summary")
	case info.Token == "":
		c.Noticef("kf-run", "no PR comment: GITHUB_TOKEN is not set. The Action passes github.token by default; "+
			"running kf-run in a step of your own, add env GITHUB_TOKEN: ${{ github.token }} and permissions pull-requests: write")
	default:
		return true
	}
	return false
}

func appendFile(path, s string) (err error) {
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = f.WriteString(s)
	return err
}

// output is one step output.
type output struct{ name, value string }

// outputList names the outputs: run-id, run-url and state for the first
// pipeline, and <name>-run-id... for each when there are several; and
// kfp-version, the release the KFP server names (healthz tag_name), when
// it answered.
func outputList(p *plan.Plan) []output {
	var out []output
	add := func(prefix string, pl *plan.Pipeline, state string) {
		var id, u string
		if s := pl.Submission; s != nil {
			id, u = s.RunID, s.RunURL
		}
		out = append(out, output{prefix + "run-id", id}, output{prefix + "run-url", u}, output{prefix + "state", state})
	}
	if len(p.Pipelines) == 0 {
		return nil
	}
	// state sums up every pipeline; run-id and run-url are the first's.
	add("", p.Pipelines[0], Overall(p))
	if len(p.Pipelines) > 1 {
		names := names(p)
		for i, pl := range p.Pipelines {
			add(names[i]+"-", pl, State(p, pl))
		}
	}
	if p.Server.Tag != "" {
		out = append(out, output{"kfp-version", p.Server.Tag})
	}
	return out
}

// names gives each pipeline a distinct output-safe name: letters, digits,
// - and _, not starting with a digit or -.
func names(p *plan.Plan) []string {
	seen := map[string]int{}
	out := make([]string, len(p.Pipelines))
	for i, pl := range p.Pipelines {
		var b strings.Builder
		for _, r := range pl.Name {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
		n := b.String()
		if n == "" || (n[0] >= '0' && n[0] <= '9') || n[0] == '-' {
			n = "_" + n
		}
		key := strings.ToLower(n)
		seen[key]++
		if k := seen[key]; k > 1 {
			n = fmt.Sprintf("%s_%d", n, k)
		}
		out[i] = n
	}
	return out
}

// outputs renders the GITHUB_OUTPUT lines. Every value goes in a heredoc
// with a random delimiter that is checked not to occur in it, so a value
// cannot end its heredoc early and add outputs. A value that holds a
// secret is left out (the runner would drop it from job outputs anyway).
// https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands#multiline-strings
func outputs(p *plan.Plan, c *console.Console) (string, error) {
	redact := secrets(p)
	var b strings.Builder
	for _, o := range outputList(p) {
		if redact.Replace(o.value) != o.value {
			c.Warningf("kf-run", "output %s left out: it would contain a secret", o.name)
			continue
		}
		delim, err := delimiter(o.value)
		if err != nil {
			return "", fmt.Errorf("output %s: %w", o.name, err)
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.name, delim, o.value, delim)
	}
	return b.String(), nil
}

func delimiter(value string) (string, error) {
	for range 3 {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", err
		}
		d := "ghadelimiter_" + hex.EncodeToString(r[:])
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
	return "", errors.New("value contains the heredoc delimiter")
}

// comment creates or updates the sticky comment of each pipeline.
func (g *GitHub) comment(ctx context.Context, p *plan.Plan, c *console.Console) error {
	var notes []sticky
	for _, pl := range p.Pipelines {
		mark := marker(p.CI, p.CommentKey, pl.Name)
		body := Markdown(p, pl, commentBudget-len(mark)-1) + "\n" + mark
		notes = append(notes, sticky{name: pl.Name, mark: mark, body: body})
	}
	return g.upsert(ctx, p.CI, notes, c)
}

// upsert creates each note's comment on the pull request, or updates the
// one of ours that carries its marker.
func (g *GitHub) upsert(ctx context.Context, info ci.Info, notes []sticky, c *console.Console) error {
	owner, repo, ok := strings.Cut(info.Repo, "/")
	if !ok || owner == "" || repo == "" {
		return fmt.Errorf("PR comment: repository %q is not owner/name", info.Repo)
	}
	client, err := g.client(info)
	if err != nil {
		return fmt.Errorf("PR comment: %w", err)
	}
	// Whose comments are ours: the token's user. Installation tokens (the
	// workflow's GITHUB_TOKEN, a GitHub App's) may not read /user: their
	// comments are a bot's, e.g. github-actions[bot].
	login := g.Login
	if login == "" {
		u, _, err := client.Users.Get(ctx, "")
		var resp *github.ErrorResponse
		switch {
		case err == nil:
			login = u.GetLogin()
		case errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusForbidden:
			login = anyBot
		default:
			return commentErr(c, "get token user", err)
		}
	}
	existing, err := g.list(ctx, client, owner, repo, info.PR)
	if err != nil {
		return commentErr(c, fmt.Sprintf("list comments on #%d", info.PR), err)
	}
	var errs []error
	for _, n := range notes {
		body := n.body
		id := find(existing, n.mark, login)
		if id != 0 {
			_, _, err = client.Issues.EditComment(ctx, owner, repo, id, &github.IssueComment{Body: &body})
		} else {
			_, _, err = client.Issues.CreateComment(ctx, owner, repo, info.PR, &github.IssueComment{Body: &body})
		}
		if err != nil {
			if err := commentErr(c, fmt.Sprintf("comment %q on #%d", n.name, info.PR), err); err != nil {
				errs = append(errs, err)
				continue
			}
			return nil // 403: the same token will not do better for the next comment
		}
	}
	return errors.Join(errs...)
}

// commentErr turns a 403 into a warning and nil; other errors are returned.
func commentErr(c *console.Console, what string, err error) error {
	var rate *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var resp *github.ErrorResponse
	if !errors.As(err, &rate) && !errors.As(err, &abuse) && errors.As(err, &resp) &&
		resp.Response != nil && resp.Response.StatusCode == http.StatusForbidden {
		c.Warningf("kf-run", "no PR comment: token lacks pull-requests: write (%s: 403 %s)", what, resp.Message)
		return nil
	}
	return fmt.Errorf("PR %s: %w", what, err)
}

// list returns every comment on the issue, following pagination.
func (g *GitHub) list(ctx context.Context, client *github.Client, owner, repo string, pr int) ([]*github.IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var all []*github.IssueComment
	for {
		page, resp, err := client.Issues.ListComments(ctx, owner, repo, pr, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// find returns the id of the oldest comment by login that carries the
// marker, or 0. Matching the author keeps kf-run from editing a person's
// comment that quotes the marker.
func find(comments []*github.IssueComment, mark, login string) int64 {
	for _, cm := range comments {
		author := cm.GetUser().GetLogin()
		mine := strings.EqualFold(author, login) || (login == anyBot && strings.HasSuffix(author, "[bot]"))
		if strings.Contains(cm.GetBody(), mark) && mine {
			return cm.GetID()
		}
	}
	return 0
}

// marker is the hidden HTML comment that identifies a pipeline's comment
// per workflow and job, and per leg: every leg of a matrix job has the same
// job name, so key (--comment-key, e.g. the Action's toJSON(matrix)) tells
// them apart. A key that markerPart would change is hashed instead, so two
// keys never share a marker.
func marker(info ci.Info, key, pipeline string) string {
	job := markerPart(info.Job) + markerLeg(key)
	return "<!-- kf-run:" + markerPart(info.Workflow) + "/" + job + "/" + markerPart(pipeline) + " -->"
}

// markerLeg is the part of a marker that key (--comment-key) adds: "" for
// none, else "[key]", hashed when markerPart would change it.
func markerLeg(key string) string {
	if key == "" {
		return ""
	}
	leg := markerPart(key)
	if leg != key || len(key) > 64 {
		sum := sha256.Sum256([]byte(key))
		leg = hex.EncodeToString(sum[:8])
	}
	return "[" + leg + "]"
}

// markerPart keeps names safe inside an HTML comment: no "-->" or "--".
func markerPart(s string) string {
	out := console.SafeName(s)
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-_")
	}
	return out
}

func (g *GitHub) client(info ci.Info) (*github.Client, error) {
	hc := g.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	hc2 := *hc
	base := hc2.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc2.Transport = acceptTransport{base}
	client := github.NewClient(&hc2).WithAuthToken(info.Token)
	if info.APIURL != "" {
		u, err := url.Parse(info.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("API URL %q is not an http(s) URL", info.APIURL)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		client.BaseURL = u
	}
	return client, nil
}

// acceptTransport sends the media type GitHub documents for the REST API;
// go-github asks for a retired preview type when listing comments.
type acceptTransport struct{ base http.RoundTripper }

func (t acceptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/vnd.github+json")
	return t.base.RoundTrip(req)
}

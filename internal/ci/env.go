package ci

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Env is what FromEnv reads: the process environment and files.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// Git runs git with args in the working directory (the commit and
	// branch of local runs, the repository's top directory); nil means do
	// not ask git.
	Git func(args ...string) (string, error)
}

// GitCommand runs the git binary, for Env.Git.
func GitCommand(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	return strings.TrimSpace(string(out)), err
}

// FromEnv detects the CI provider and reads its facts.
func FromEnv(e Env) (Info, error) {
	get := e.Getenv
	var info Info
	var err error
	switch {
	case get("GITHUB_ACTIONS") == "true":
		info, err = github(e)
	case get("GITLAB_CI") == "true":
		info = gitlab(get)
	default:
		info = local(e)
	}
	if info.ShortSHA == "" && info.SHA != "" {
		info.ShortSHA = info.SHA[:min(7, len(info.SHA))]
	}
	info.Root = or(get("GITHUB_WORKSPACE"), get("CI_PROJECT_DIR"))
	if e.Git != nil {
		if top, err := e.Git("rev-parse", "--show-toplevel"); err == nil && top != "" {
			info.Root = top
		}
	}
	info.DotenvPath = get("KF_RUN_DOTENV")
	info.AnnotationsPath = get("KF_RUN_ANNOTATIONS")
	info.StatePath = get("KF_RUN_STATE_FILE")
	return info, err
}

func github(e Env) (Info, error) {
	get := e.Getenv
	info := Info{
		Provider:    GitHub,
		Repo:        get("GITHUB_REPOSITORY"),
		SHA:         get("GITHUB_SHA"),
		Event:       get("GITHUB_EVENT_NAME"),
		Job:         get("GITHUB_JOB"),
		Workflow:    get("GITHUB_WORKFLOW"),
		ServerURL:   or(get("GITHUB_SERVER_URL"), "https://github.com"),
		APIURL:      or(get("GITHUB_API_URL"), "https://api.github.com"),
		Token:       get("GITHUB_TOKEN"),
		SummaryPath: get("GITHUB_STEP_SUMMARY"),
		OutputPath:  get("GITHUB_OUTPUT"),
	}
	switch ref := get("GITHUB_REF"); {
	case strings.HasPrefix(ref, "refs/heads/"):
		info.Branch = strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		info.Tag = strings.TrimPrefix(ref, "refs/tags/")
	}
	if h := get("GITHUB_HEAD_REF"); h != "" {
		info.Branch = h
	}
	if id := get("GITHUB_RUN_ID"); id != "" && info.Repo != "" {
		info.JobURL = info.ServerURL + "/" + info.Repo + "/actions/runs/" + id
		if a := get("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
			info.JobURL += "/attempts/" + a
		}
	}
	// On pull_request events GITHUB_SHA is the test-merge commit: the head
	// commit, the number and the fork flag are in the event payload.
	if p := get("GITHUB_EVENT_PATH"); p != "" && strings.HasPrefix(info.Event, "pull_request") {
		b, err := e.ReadFile(p)
		if err != nil {
			return info, fmt.Errorf("read the GitHub event payload: %w", err)
		}
		var ev struct {
			Number      int `json:"number"`
			PullRequest struct {
				Number int `json:"number"`
				Head   struct {
					SHA  string `json:"sha"`
					Ref  string `json:"ref"`
					Repo struct {
						FullName string `json:"full_name"`
					} `json:"repo"`
				} `json:"head"`
			} `json:"pull_request"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			return info, fmt.Errorf("parse the GitHub event payload %s: %w", p, err)
		}
		info.PR = or(ev.PullRequest.Number, ev.Number)
		if ev.PullRequest.Head.SHA != "" {
			info.SHA = ev.PullRequest.Head.SHA
		}
		if fn := ev.PullRequest.Head.Repo.FullName; fn != "" && !strings.EqualFold(fn, info.Repo) {
			info.Fork, info.ForkHead = true, fn
			// pull_request_target runs the base repository's workflow
			// with its secrets, whatever the fork's head holds.
			info.ForkWithSecrets = info.Event == "pull_request_target"
		}
	}
	return info, nil
}

func gitlab(get func(string) string) Info {
	info := Info{
		Provider:  GitLab,
		Repo:      get("CI_PROJECT_PATH"),
		SHA:       or(get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"), get("CI_COMMIT_SHA")),
		ShortSHA:  get("CI_COMMIT_SHORT_SHA"),
		Branch:    or(get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"), get("CI_COMMIT_BRANCH")),
		Tag:       get("CI_COMMIT_TAG"),
		Event:     get("CI_PIPELINE_SOURCE"),
		Job:       get("CI_JOB_NAME"),
		Workflow:  get("CI_PIPELINE_ID"),
		JobURL:    get("CI_JOB_URL"),
		ServerURL: get("CI_SERVER_URL"),
		APIURL:    get("CI_API_V4_URL"),
		Token:     get("KF_RUN_GITLAB_TOKEN"),
	}
	if get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") != "" {
		info.ShortSHA = "" // recomputed from the head SHA
	}
	info.PR, _ = strconv.Atoi(get("CI_MERGE_REQUEST_IID"))
	if p, t := get("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH"), get("CI_MERGE_REQUEST_PROJECT_PATH"); p != "" && t != "" && p != t {
		info.Fork, info.ForkHead = true, p
	}
	// A fork's MR pipeline run in the parent project (a maintainer's
	// "Run pipeline") has the parent's CI/CD variables.
	if src, here := get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"), get("CI_PROJECT_ID"); src != "" && here != "" && src != here {
		info.Fork, info.ForkWithSecrets = true, true
		info.ForkHead = or(info.ForkHead, get("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH"))
	}
	return info
}

func local(e Env) Info {
	info := Info{Provider: Local}
	if e.Git == nil {
		return info
	}
	if sha, err := e.Git("rev-parse", "HEAD"); err == nil {
		info.SHA = sha
	}
	if b, err := e.Git("rev-parse", "--abbrev-ref", "HEAD"); err == nil && b != "HEAD" {
		info.Branch = b
	}
	return info
}

func or[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

package ci

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func envOf(vars map[string]string, files map[string]string) Env {
	return Env{
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			if b, ok := files[p]; ok {
				return []byte(b), nil
			}
			return nil, os.ErrNotExist
		},
		Git: func(args ...string) (string, error) {
			switch args[len(args)-1] {
			case "HEAD":
				if len(args) == 2 {
					return "fedcba9876543210fedcba9876543210fedcba98", nil
				}
				return "topic", nil
			}
			return "", errors.New("unexpected git call")
		},
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	pr := `{"number": 12, "pull_request": {"number": 12, "head": {"sha": "1111111111111111111111111111111111111111", "ref": "feat", "repo": {"full_name": "someone/ml"}}}}`
	tests := []struct {
		name  string
		vars  map[string]string
		files map[string]string
		want  Info
	}{
		{
			name: "github push",
			vars: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/ml", "GITHUB_SHA": "abcdef0123456789", "GITHUB_REF": "refs/heads/main",
				"GITHUB_EVENT_NAME": "push", "GITHUB_RUN_ID": "7", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "train", "GITHUB_WORKFLOW": "ci",
				"GITHUB_TOKEN": "ghs_x", "GITHUB_STEP_SUMMARY": "/s", "GITHUB_OUTPUT": "/o"},
			want: Info{Provider: GitHub, Repo: "acme/ml", SHA: "abcdef0123456789", ShortSHA: "abcdef0", Branch: "main", Event: "push",
				JobURL: "https://github.com/acme/ml/actions/runs/7/attempts/2", Job: "train", Workflow: "ci", ServerURL: "https://github.com",
				APIURL: "https://api.github.com", Token: "ghs_x", SummaryPath: "/s", OutputPath: "/o"},
		},
		{
			name: "github pull request from a fork: head commit, number, fork",
			vars: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/ml", "GITHUB_SHA": "merge0000000", "GITHUB_REF": "refs/pull/12/merge",
				"GITHUB_HEAD_REF": "feat", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": "/e.json", "GITHUB_SERVER_URL": "https://ghe.example.com",
				"GITHUB_API_URL": "https://ghe.example.com/api/v3"},
			files: map[string]string{"/e.json": pr},
			want: Info{Provider: GitHub, Repo: "acme/ml", SHA: "1111111111111111111111111111111111111111", ShortSHA: "1111111", Branch: "feat",
				Event: "pull_request", PR: 12, Fork: true, ForkHead: "someone/ml", ServerURL: "https://ghe.example.com", APIURL: "https://ghe.example.com/api/v3"},
		},
		{
			name: "github pull_request_target from a fork: the base's secrets",
			vars: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/ml", "GITHUB_SHA": "base000", "GITHUB_REF": "refs/heads/main",
				"GITHUB_HEAD_REF": "feat", "GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": "/e.json"},
			files: map[string]string{"/e.json": pr},
			want: Info{Provider: GitHub, Repo: "acme/ml", SHA: "1111111111111111111111111111111111111111", ShortSHA: "1111111", Branch: "feat",
				Event: "pull_request_target", PR: 12, Fork: true, ForkHead: "someone/ml", ForkWithSecrets: true,
				ServerURL: "https://github.com", APIURL: "https://api.github.com"},
		},
		{
			name: "github tag",
			vars: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.2.0", "GITHUB_SHA": "abc"},
			want: Info{Provider: GitHub, SHA: "abc", ShortSHA: "abc", Tag: "v1.2.0", ServerURL: "https://github.com", APIURL: "https://api.github.com"},
		},
		{
			name: "gitlab merge request pipeline",
			vars: map[string]string{"GITLAB_CI": "true", "CI_PROJECT_PATH": "acme/ml", "CI_COMMIT_SHA": "merge123", "CI_COMMIT_SHORT_SHA": "merge12",
				"CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": "2222222222222222", "CI_MERGE_REQUEST_IID": "5", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feat",
				"CI_PIPELINE_SOURCE": "merge_request_event", "CI_JOB_URL": "https://gitlab.example.com/acme/ml/-/jobs/9", "KF_RUN_GITLAB_TOKEN": "glpat",
				"KF_RUN_DOTENV": "kf-run.env", "KF_RUN_ANNOTATIONS": "kf-run-annotations.json", "KF_RUN_STATE_FILE": "/builds/state.jsonl"},
			want: Info{Provider: GitLab, Repo: "acme/ml", SHA: "2222222222222222", ShortSHA: "2222222", Branch: "feat", Event: "merge_request_event", PR: 5,
				JobURL: "https://gitlab.example.com/acme/ml/-/jobs/9", Token: "glpat", DotenvPath: "kf-run.env",
				AnnotationsPath: "kf-run-annotations.json", StatePath: "/builds/state.jsonl"},
		},
		{
			name: "gitlab fork merge request run in the parent project",
			vars: map[string]string{"GITLAB_CI": "true", "CI_PROJECT_PATH": "acme/ml", "CI_PROJECT_ID": "10", "CI_COMMIT_SHA": "3333333333",
				"CI_MERGE_REQUEST_IID": "6", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "77", "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": "someone/ml",
				"CI_MERGE_REQUEST_PROJECT_PATH": "acme/ml", "CI_PIPELINE_SOURCE": "merge_request_event"},
			want: Info{Provider: GitLab, Repo: "acme/ml", SHA: "3333333333", ShortSHA: "3333333", Event: "merge_request_event", PR: 6,
				Fork: true, ForkHead: "someone/ml", ForkWithSecrets: true},
		},
		{
			name: "gitlab fork merge request run in the fork",
			vars: map[string]string{"GITLAB_CI": "true", "CI_PROJECT_PATH": "someone/ml", "CI_PROJECT_ID": "77", "CI_COMMIT_SHA": "3333333333",
				"CI_MERGE_REQUEST_IID": "6", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "77", "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": "someone/ml",
				"CI_MERGE_REQUEST_PROJECT_PATH": "acme/ml", "CI_PIPELINE_SOURCE": "merge_request_event"},
			want: Info{Provider: GitLab, Repo: "someone/ml", SHA: "3333333333", ShortSHA: "3333333", Event: "merge_request_event", PR: 6,
				Fork: true, ForkHead: "someone/ml"},
		},
		{
			name: "local asks git",
			want: Info{Provider: Local, SHA: "fedcba9876543210fedcba9876543210fedcba98", ShortSHA: "fedcba9", Branch: "topic"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromEnv(envOf(tt.vars, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Info (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromEnvBadPayload(t *testing.T) {
	t.Parallel()
	_, err := FromEnv(envOf(map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": "/e.json"}, map[string]string{"/e.json": "{"}))
	if err == nil {
		t.Fatal("want an error for a broken event payload")
	}
}

// The repository's top directory: git's when git knows it, else the CI's
// checkout directory.
func TestRoot(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/w/ml"}
	e := envOf(vars, nil)
	if info, _ := FromEnv(e); info.Root != "/w/ml" {
		t.Errorf("without git: Root = %q, want GITHUB_WORKSPACE", info.Root)
	}
	git := e.Git
	e.Git = func(args ...string) (string, error) {
		if args[len(args)-1] == "--show-toplevel" {
			return "/src/ml", nil
		}
		return git(args...)
	}
	if info, _ := FromEnv(e); info.Root != "/src/ml" {
		t.Errorf("with git: Root = %q, want git's", info.Root)
	}
	if info, _ := FromEnv(envOf(map[string]string{"GITLAB_CI": "true", "CI_PROJECT_DIR": "/builds/acme/ml"}, nil)); info.Root != "/builds/acme/ml" {
		t.Errorf("GitLab: Root = %q", info.Root)
	}
}

func TestNoSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		info Info
		want string // a part of the sentence; "" for none
	}{
		{"github fork on pull_request", Info{Provider: GitHub, Event: "pull_request", PR: 3, Fork: true, ForkHead: "someone/ml"}, "from the fork someone/ml: GitHub gives"},
		{"github fork on pull_request_target", Info{Provider: GitHub, Event: "pull_request_target", PR: 3, Fork: true, ForkWithSecrets: true}, ""},
		{"github same-repo pull request", Info{Provider: GitHub, Event: "pull_request", PR: 3}, ""},
		{"gitlab fork pipeline in the fork", Info{Provider: GitLab, Repo: "someone/ml", PR: 3, Fork: true, ForkHead: "someone/ml"}, "runs in the fork someone/ml"},
		{"gitlab fork pipeline in the parent", Info{Provider: GitLab, PR: 3, Fork: true, ForkWithSecrets: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.info.NoSecrets()
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("NoSecrets() = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

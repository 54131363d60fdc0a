// Package ci is the only reader of the CI environment. It tells which CI
// provider kf-run runs under (GitHub Actions, GitLab CI, or none), and the
// facts the other stages need from it: repository, commit, branch, pull
// request, links and the token for comments. It does not talk to any API.
package ci

import "fmt"

// Provider names a CI system.
type Provider string

// The providers kf-run knows.
const (
	Local  Provider = "local"
	GitHub Provider = "github"
	GitLab Provider = "gitlab"
)

// Info is a snapshot of the CI environment, taken once at start-up.
type Info struct {
	Provider Provider
	// Repo is owner/name on GitHub, the project path on GitLab.
	Repo string
	// SHA is the commit under test: the PR head on pull_request events
	// (GITHUB_SHA is the merge commit there).
	SHA      string
	ShortSHA string
	Branch   string
	Tag      string
	// Event is the GitHub event name (push, pull_request, schedule, ...),
	// or the GitLab pipeline source.
	Event string
	// PR is the pull request (merge request IID on GitLab) number, or 0.
	PR int
	// Fork is true for a pull request from a fork (read-only token).
	Fork bool
	// ForkHead names the fork a pull request comes from (owner/name, the
	// GitLab project path), when Fork.
	ForkHead string
	// ForkWithSecrets is true when a fork's pull request runs in the base
	// repository's context, with its secrets: GitHub's pull_request_target,
	// or a GitLab merge request pipeline of a fork's MR run in the parent
	// project (CI_MERGE_REQUEST_SOURCE_PROJECT_ID != CI_PROJECT_ID).
	ForkWithSecrets bool
	// JobURL links to the CI run or job.
	JobURL string
	// Job is the job key (GITHUB_JOB / CI_JOB_NAME); Workflow the workflow name.
	Job      string
	Workflow string
	// ServerURL and APIURL are the CI platform's web and API roots.
	ServerURL string
	APIURL    string
	// Token authenticates PR/MR comments (GITHUB_TOKEN, KF_RUN_GITLAB_TOKEN). Secret.
	Token string
	// SummaryPath and OutputPath are GITHUB_STEP_SUMMARY and GITHUB_OUTPUT
	// ("" when unset: kf-run then writes neither).
	SummaryPath string
	OutputPath  string
	// DotenvPath, when set (KF_RUN_DOTENV), receives KF_RUN_* outputs as a
	// GitLab dotenv report.
	DotenvPath string
	// AnnotationsPath, when set (KF_RUN_ANNOTATIONS), receives a GitLab
	// annotations report: a link to each run on the job page.
	AnnotationsPath string
	// StatePath is KF_RUN_STATE_FILE: where kf-run run records the runs it
	// starts, for kf-run stop ("" for the default, see internal/stop).
	StatePath string
	// Root is the repository's top directory, when known (git, else
	// GITHUB_WORKSPACE or CI_PROJECT_DIR): what names a config file the
	// same wherever kf-run runs from.
	Root string
	// Terminal is true when stderr is a terminal (live progress).
	Terminal bool
}

// NoSecrets says why this job has none of the base repository's secrets,
// or "" when nothing says so: a GitHub pull request from a fork on the
// pull_request event (GitHub passes it no secrets and no OIDC token), or a
// GitLab merge request pipeline run in the fork itself (the fork's CI/CD
// variables, not the parent's). Callers add it to a missing credential's
// error, which otherwise reads as a KFP 401.
func (i Info) NoSecrets() string {
	switch {
	case !i.Fork || i.ForkWithSecrets || i.PR == 0:
		return ""
	case i.Provider == GitHub && i.Event == "pull_request":
		return fmt.Sprintf("this is pull request #%d from the fork %s: GitHub gives workflow runs of fork pull requests no secrets and no OIDC token, "+
			"so kf-run has no credentials for KFP (nothing was submitted)", i.PR, i.ForkHead)
	case i.Provider == GitLab:
		return fmt.Sprintf("this merge request pipeline runs in the fork %s, with the fork's CI/CD variables, not %s's "+
			"(nothing was submitted; a maintainer can run the pipeline in the parent project)", i.ForkHead, i.Repo)
	}
	return ""
}

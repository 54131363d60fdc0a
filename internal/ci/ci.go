// Package ci is the only reader of the CI environment. It tells which CI
// provider kf-run runs under (GitHub Actions, GitLab CI, or none), and the
// facts the other stages need from it: repository, commit, branch, pull
// request, links and the token for comments. It does not talk to any API.
package ci

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

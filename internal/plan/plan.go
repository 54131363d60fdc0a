// Package plan defines the one typed value that carries a kf-run invocation
// from configuration to report: what to submit where, and, as the stages run,
// what happened. It is made once (by New) from the config file, the CI
// environment and the flags; after that no stage reads env vars, flags or
// files again (build reads .ko.yaml and the Go sources it builds). Each
// stage writes only its own fields: build writes Images.Built,
// Pipeline.Images and the pinned Pipeline.Spec, submit writes Server and
// Pipeline.Submission, wait writes Pipeline.Outcome; report only reads.
//
// It does no I/O of its own beyond reading the spec files named by the config.
package plan

import (
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// Plan is everything one kf-run invocation does.
type Plan struct {
	Target kfp.Target
	// Auth is how to reach and authenticate to Target (internal/auth
	// resolves it when kf-run connects).
	Auth      auth.Settings
	CI        ci.Info
	Pipelines []*Pipeline
	// Wait is false with --no-wait: submit, report the links, exit 0.
	Wait bool
	// Follow prints the runs' step logs while waiting.
	Follow bool
	// CancelOnInterrupt terminates the KFP runs when kf-run is interrupted.
	CancelOnInterrupt bool
	// Secrets are values that must never be printed (tokens, passwords,
	// cookie and header values). Reporters mask them.
	Secrets []string
	// Comment asks for a PR/MR comment when the CI event is a pull request.
	Comment bool
	// CommentKey, when set, is part of each comment's marker, so the legs
	// of a matrix job (same workflow, job and pipeline) keep one each.
	CommentKey string
	// SummaryFile, when set, receives the markdown summary (any CI, or none).
	SummaryFile string
	// Images says how ko:// step images are built; build writes Images.Built.
	Images Images
	// Server is the KFP server as its healthz describes it (release,
	// multi-user), written when kf-run connects; zero when it did not answer.
	Server kfp.Server
	// Notes are warnings about the settings met while planning (a host
	// pasted from the browser, trimmed), for the command to say once.
	Notes []Note
	// Unset lists the ${VAR}s kf-run validate found unset, with where:
	// "KFP_TOKEN (kf-run.yaml:5)".
	Unset []string
	// Preview is set for a pull request's preview runs (see preview.go).
	Preview *Preview
}

// Note is a warning about a setting: Key names it (kubeflow.host).
type Note struct{ Key, Msg string }

// Images is how the build stage builds ko:// images: kf-run.yaml's images
// section, with KO_DOCKER_REPO, KO_DEFAULTBASEIMAGE, KO_CONFIG_PATH,
// SOURCE_DATE_EPOCH, KO_DATA_DATE_EPOCH and KF_RUN_REGISTRY_USERNAME/
// PASSWORD resolved. .ko.yaml is read by the build stage, in Dir.
type Images struct {
	// Dir is where go runs and .ko.yaml is looked for: the config file's
	// directory (the working directory with --spec).
	Dir      string
	KoConfig string
	Repo     string
	// Platforms is empty for .ko.yaml's defaultPlatforms, else linux/amd64.
	Platforms []string
	BaseImage string
	// Naming is "" (ko's <name>-<md5>), "base", "preserve" or "bare".
	Naming   string
	SBOM     bool
	Tags     []string
	Insecure bool
	// CreationTime and KoDataCreationTime are zero unless the epochs are set.
	CreationTime, KoDataCreationTime time.Time
	Username, Password               string
	// Extra are ko:// images to build that no spec's executor names.
	Extra []string

	// Written by build: every image built, extra ones included.
	Built []BuiltImage
}

// BuiltImage is one pushed image.
type BuiltImage struct {
	Ref    string // ko://...
	Digest string // registry/repo@sha256:...
	// Reused is true when nothing changed since it was pushed.
	Reused bool
}

// Pipeline is one pipeline to run, and what became of it.
type Pipeline struct {
	// Name is the entry's name in kf-run.yaml (or the spec's pipeline name).
	Name string
	// Source says where the entry was defined, "kf-run.yaml:12", for errors.
	Source string
	// Spec is the compiled pipeline with kf-run.yaml's pod settings and
	// caching applied: what is submitted.
	Spec *pipelinespec.Spec
	// Parameters are typed by the spec's declared input types.
	Parameters map[string]any
	Experiment string
	RunName    string
	// Description is the run's description; submit appends its idempotency token.
	Description string
	// PipelineName and Version, when set, upload the spec as a pipeline
	// version and run that; when empty, the spec runs inline.
	PipelineName string
	Version      string
	// Timeout bounds the client-side wait; 0 waits forever.
	Timeout        time.Duration
	ServiceAccount string
	// PipelineRoot is where the run's artifacts go (runtime_config); ""
	// keeps the pipeline's own or the server's default.
	PipelineRoot string
	// Preview is set for a preview run; the preview stage writes its
	// earlier runs.
	Preview *PipelinePreview

	// Written by build: the pipeline's ko:// images, pinned in Spec.
	Images []BuiltImage
	// Written by submit.
	Submission *Submission
	// Written by wait.
	Outcome *Outcome
	// Err is the error that stopped this pipeline, whatever stage it came from.
	Err error
}

// Submission is what submit created or reused at KFP.
type Submission struct {
	ExperimentID   string
	ExperimentName string
	PipelineID     string
	VersionID      string
	VersionName    string
	// VersionReused is true when the version already existed (same commit,
	// same spec).
	VersionReused bool
	// VersionNote, when set, says why VersionName is not the configured
	// version: KFP holds another spec under that name.
	VersionNote string
	RunID       string
	RunURL      string
	SubmittedAt time.Time
}

// Outcome is the final (or last seen) state of a run.
type Outcome struct {
	State      kfp.RunState
	Started    time.Time
	Finished   time.Time
	Tasks      []kfp.Task
	TimedOut   bool
	Terminated bool // kf-run asked KFP to terminate the run (interrupt)
	// Interrupted is set when kf-run was interrupted before the run ended,
	// whether or not terminating it worked.
	Interrupted bool
	// Failures are the failed steps triage found at any depth (capped),
	// in the pipeline's order; MoreFailures counts the ones left out.
	Failures     []Failure
	MoreFailures int
}

// Failure is a failed step of a run: a task inside loops, conditions,
// exit handlers or sub-pipelines, with the tail of its own log.
type Failure struct {
	// Path leads from the root DAG to the task ("for-loop-2[0]",
	// "for-loop-4[1]", "train"); Path[0] is the root DAG's task.
	Path []string
	// Items are the loop items of the iterations on the path, where the
	// spec or the parameters say them: "for-loop-2[0] = {...}".
	Items   []string
	Message string
	// Driver is set when the task's KFP driver failed, before its
	// container ran: the log is the driver's.
	Driver bool
	Log    []string // the log's last lines
	// LogSource says which path gave the log; NoLog why none did.
	LogSource string
	NoLog     string
}

// PathString joins the path with " › ".
func (f Failure) PathString() string { return strings.Join(f.Path, " › ") }

// Duration is the run's wall time as far as it is known.
func (o *Outcome) Duration() time.Duration {
	if o == nil || o.Started.IsZero() {
		return 0
	}
	end := o.Finished
	if end.IsZero() {
		return 0
	}
	return end.Sub(o.Started)
}

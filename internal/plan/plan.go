// Package plan defines the one typed value that carries a kf-run invocation
// from configuration to report: what to submit where, and, as the stages run,
// what happened. It is made once (by New) from the config file, the CI
// environment and the flags; after that no stage reads env vars, flags or
// files again. Each stage writes only its own fields: submit writes
// Pipeline.Submission, wait writes Pipeline.Outcome; report only reads.
//
// It does no I/O of its own beyond reading the spec files named by the config.
package plan

import (
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// Plan is everything one kf-run invocation does.
type Plan struct {
	Target    kfp.Target
	CI        ci.Info
	Pipelines []*Pipeline
	// Wait is false with --no-wait: submit, report the links, exit 0.
	Wait bool
	// CancelOnInterrupt terminates the KFP runs when kf-run is interrupted.
	CancelOnInterrupt bool
	// Secrets are values that must never be printed (tokens, passwords,
	// cookie and header values). Reporters mask them.
	Secrets []string
	// Comment asks for a PR/MR comment when the CI event is a pull request.
	Comment bool
	// SummaryFile, when set, receives the markdown summary (any CI, or none).
	SummaryFile string
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
	// VersionReused is true when the version already existed (same commit).
	VersionReused bool
	RunID         string
	RunURL        string
	SubmittedAt   time.Time
}

// Outcome is the final (or last seen) state of a run.
type Outcome struct {
	State      kfp.RunState
	Started    time.Time
	Finished   time.Time
	Tasks      []kfp.Task
	TimedOut   bool
	Terminated bool // kf-run asked KFP to terminate the run (interrupt)
	// Logs holds the tail of the pod log for each failed task, by task name.
	Logs map[string][]string
}

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

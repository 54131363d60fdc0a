package report

import (
	"slices"
	"time"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// The states kf-run reports beside KFP's own run states (SUCCEEDED,
// FAILED, CANCELED, SKIPPED, ...), documented in action.yml and the README.
const (
	// StateNotSubmitted: the pipeline was not submitted (a config, build or
	// connection error, or an earlier pipeline's).
	StateNotSubmitted = "NOT_SUBMITTED"
	// StateSubmitted: submitted with --no-wait; nobody waited.
	StateSubmitted = "SUBMITTED"
	// StateTimedOut: the wait timed out (the run was terminated when
	// cancel_on_interrupt is on).
	StateTimedOut = "TIMED_OUT"
	// StateInterrupted: kf-run was interrupted before the run ended (the
	// run was terminated when cancel_on_interrupt is on).
	StateInterrupted = "INTERRUPTED"
	// StateUnknown: kf-run lost track of the run before it ended (an error
	// while waiting, said in the log).
	StateUnknown = "UNKNOWN"
)

// State is the one-word state of one pipeline, used in outputs, the
// dotenv report and --output json: one of the states above, or KFP's final
// run state.
func State(p *plan.Plan, pl *plan.Pipeline) string {
	o := pl.Outcome
	switch {
	case pl.Submission == nil:
		return StateNotSubmitted
	case o == nil && !p.Wait:
		return StateSubmitted
	case o == nil:
		return StateUnknown
	case o.Interrupted:
		return StateInterrupted
	case o.TimedOut:
		return StateTimedOut
	case !o.State.IsTerminal():
		return StateUnknown
	}
	return o.State.String()
}

// Overall is the state of the whole invocation: the worst pipeline's, in
// the order the exit code takes (interrupted, not submitted, unknown,
// failed or canceled, timed out, then the rest), so a step that exits 3
// never says SUCCEEDED.
func Overall(p *plan.Plan) string {
	if len(p.Pipelines) == 0 {
		return StateNotSubmitted
	}
	order := []string{StateInterrupted, StateNotSubmitted, StateUnknown, kfp.StateFailed.String(), kfp.StateCanceled.String(), StateTimedOut}
	rank := func(s string) int {
		if i := slices.Index(order, s); i >= 0 {
			return i
		}
		if s == StateSubmitted {
			return len(order) + 1 // submitted, not yet a success
		}
		if s == kfp.StateSkipped.String() || s == kfp.StateCached.String() {
			return len(order) + 2 // a success that did not run
		}
		if s == kfp.StateSucceeded.String() {
			return len(order) + 3
		}
		return len(order) // another KFP state, e.g. PAUSED
	}
	worst := State(p, p.Pipelines[0])
	for _, pl := range p.Pipelines[1:] {
		if s := State(p, pl); rank(s) < rank(worst) {
			worst = s
		}
	}
	return worst
}

// taskState names a task's state for people: a task KFP has no state for
// at the end never ran (a failed upstream step, a false condition).
func taskState(s kfp.RunState) string {
	if s == kfp.StateUnspecified {
		return "not run"
	}
	return s.String()
}

// Result is what --output json prints: the whole invocation's state and,
// per pipeline, where its run is and how it ended. Secrets are masked.
type Result struct {
	State      string           `json:"state"`
	KFPVersion string           `json:"kfp_version,omitempty"`
	Pipelines  []PipelineResult `json:"pipelines"`
	// Error is the error that stopped kf-run before any pipeline ran.
	Error string `json:"error,omitempty"`
}

// PipelineResult is one pipeline's part of Result.
type PipelineResult struct {
	Name       string `json:"name"`
	State      string `json:"state"`
	RunID      string `json:"run_id,omitempty"`
	RunURL     string `json:"run_url,omitempty"`
	RunName    string `json:"run_name,omitempty"`
	Experiment string `json:"experiment,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	// Pipeline and Version are the pipeline version the run ran, when the
	// spec was uploaded (empty for an inline spec).
	Pipeline string          `json:"pipeline,omitempty"`
	Version  string          `json:"version,omitempty"`
	Started  *time.Time      `json:"started,omitempty"`
	Finished *time.Time      `json:"finished,omitempty"`
	Seconds  float64         `json:"duration_seconds,omitempty"`
	Tasks    []TaskResult    `json:"tasks,omitempty"`
	Failures []FailureResult `json:"failures,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// TaskResult is a task of the run's root DAG.
type TaskResult struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

// FailureResult is a failed step at any depth, as triage found it.
type FailureResult struct {
	Path    []string `json:"path"`
	Message string   `json:"message,omitempty"`
}

// NewResult collects the Result of a finished plan.
func NewResult(p *plan.Plan) Result {
	redact := secrets(p)
	r := Result{State: Overall(p), KFPVersion: p.Server.Tag, Pipelines: []PipelineResult{}}
	for _, pl := range p.Pipelines {
		pr := PipelineResult{Name: pl.Name, State: State(p, pl), RunName: pl.RunName, Experiment: pl.Experiment, Namespace: p.Target.Namespace}
		if s := pl.Submission; s != nil {
			pr.RunID, pr.RunURL, pr.Experiment = s.RunID, s.RunURL, s.ExperimentName
			if s.VersionName != "" {
				pr.Pipeline, pr.Version = pl.PipelineName, s.VersionName
			}
		}
		if o := pl.Outcome; o != nil {
			if !o.Started.IsZero() {
				pr.Started = &o.Started
			}
			if !o.Finished.IsZero() {
				pr.Finished = &o.Finished
			}
			pr.Seconds = o.Duration().Seconds()
			for _, t := range o.Tasks {
				pr.Tasks = append(pr.Tasks, TaskResult{Name: t.Name, State: taskState(t.State), Message: redact.Replace(t.Message)})
			}
			for _, f := range o.Failures {
				path := make([]string, len(f.Path))
				for i, s := range f.Path {
					path[i] = redact.Replace(s)
				}
				pr.Failures = append(pr.Failures, FailureResult{Path: path, Message: redact.Replace(f.Message)})
			}
		}
		if pl.Err != nil {
			pr.Error = redact.Replace(pl.Err.Error())
		}
		pr.Name, pr.RunName, pr.Experiment = redact.Replace(pr.Name), redact.Replace(pr.RunName), redact.Replace(pr.Experiment)
		r.Pipelines = append(r.Pipelines, pr)
	}
	return r
}

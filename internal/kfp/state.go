package kfp

// RunState is the state of a KFP run or task as the v2beta1 API reports it.
// KFP omits zero values in JSON, so an absent state arrives as "" (Unspecified).
type RunState string

// The states of KFP's v2beta1 RuntimeState enum.
const (
	StateUnspecified RunState = ""
	StatePending     RunState = "PENDING"
	StateRunning     RunState = "RUNNING"
	StateSucceeded   RunState = "SUCCEEDED"
	StateSkipped     RunState = "SKIPPED"
	StateFailed      RunState = "FAILED"
	StateCanceling   RunState = "CANCELING"
	StateCanceled    RunState = "CANCELED"
	StatePaused      RunState = "PAUSED"
	// StateCached is a task state of the task API (KFP PR #13986): the
	// task's outputs came from the cache.
	StateCached RunState = "CACHED"
)

// normalize maps KFP's explicit "unspecified" enum value to the empty state.
func normalize(s string) RunState {
	if s == "RUNTIME_STATE_UNSPECIFIED" {
		return StateUnspecified
	}
	return RunState(s)
}

// IsTerminal reports whether no further state change is expected.
// PAUSED is not terminal: a paused run can be resumed.
func (s RunState) IsTerminal() bool {
	switch s {
	case StateSucceeded, StateSkipped, StateFailed, StateCanceled, StateCached:
		return true
	}
	return false
}

// IsSuccess reports whether the state counts as a success for a CI job.
func (s RunState) IsSuccess() bool {
	return s == StateSucceeded || s == StateSkipped || s == StateCached
}

// String returns the state, or "UNSPECIFIED" for the empty state.
func (s RunState) String() string {
	if s == StateUnspecified {
		return "UNSPECIFIED"
	}
	return string(s)
}

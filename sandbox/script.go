package sandbox

import (
	"encoding/json"
	"fmt"
)

// Outcome is how a scripted task (or run) ends.
type Outcome string

const (
	OutcomeSucceed Outcome = "succeed"
	OutcomeFail    Outcome = "fail"
	OutcomeHang    Outcome = "hang" // never finishes until the run is terminated
	OutcomeSkip    Outcome = "skip" // the task's Argo "when" is false: Skipped (for condition branches)
)

// UnmarshalJSON rejects unknown outcomes, so a typo in a test fails loudly.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch Outcome(s) {
	case "", OutcomeSucceed, OutcomeFail, OutcomeHang, OutcomeSkip:
		*o = Outcome(s)
		return nil
	}
	return fmt.Errorf("unknown outcome %q (want succeed, fail, hang or skip)", s)
}

// Script says how runs created after it is posted behave. The most recently
// posted script whose RunName matches a new run's display name (or that has
// an empty RunName) applies to it; tasks it does not name succeed after one
// step.
type Script struct {
	RunName string                `json:"run_name"`
	Run     *RunScript            `json:"run,omitempty"`
	Tasks   map[string]TaskScript `json:"tasks,omitempty"`
}

// RunScript is the run-level outcome: "hang" keeps the run RUNNING with
// nothing in it ever finishing; "fail" fails the whole workflow as soon as
// it starts, before any task (as Argo does for a workflow-level error),
// with Message as the workflow's message.
type RunScript struct {
	Outcome Outcome `json:"outcome"`
	Message string  `json:"message,omitempty"`
}

// TaskScript scripts one IR task (by its name in the pipeline spec; every
// loop iteration of it behaves alike).
type TaskScript struct {
	Outcome Outcome  `json:"outcome,omitempty"`
	Message string   `json:"message,omitempty"`
	Seconds float64  `json:"seconds,omitempty"` // duration; 0 = one step
	Log     []string `json:"log,omitempty"`     // the pod's log lines
	// LogLines adds this many numbered lines after Log ("<task> line
	// i/N"), for long logs. The lines are written evenly over the task's
	// duration, as are Log's.
	LogLines int `json:"log_lines,omitempty"`
}

// maxLogLines bounds LogLines, so a typo cannot eat the machine's memory.
const maxLogLines = 1_000_000

func (ts TaskScript) lines(task string) []string {
	if ts.LogLines <= 0 {
		return ts.Log
	}
	n := min(ts.LogLines, maxLogLines)
	out := append(make([]string, 0, len(ts.Log)+n), ts.Log...)
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s line %d/%d", task, i, ts.LogLines))
	}
	return out
}

// Script adds a script for runs created from now on.
func (s *Sandbox) Script(sc Script) {
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	s.scripts = append(s.scripts, sc)
}

// ClearScripts removes every script; runs already created keep theirs.
func (s *Sandbox) ClearScripts() {
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	s.scripts = nil
}

func (s *Sandbox) scriptFor(runName string) Script {
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	for i := len(s.scripts) - 1; i >= 0; i-- {
		if sc := s.scripts[i]; sc.RunName == "" || sc.RunName == runName {
			return sc
		}
	}
	return Script{}
}

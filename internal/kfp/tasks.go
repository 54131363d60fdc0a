package kfp

import "time"

// Tasks picks the IR tasks named in names out of a run's task details, in
// the order of names. At KFP 2.0.x task details are Argo nodes: drivers,
// "executor" pods, DAGs and loop iterations, in no stable order, and several
// nodes can carry one task's name (a task in a loop, a sub-DAG). Nodes that
// share a name are merged: the worst state wins, the earliest start and the
// latest end are kept. A loop task's node is named "<task>-iterations" at
// 2.0.x. A task with no node yet is reported with no state (not started).
func (r Run) Tasks(names []string) []Task {
	byName := make(map[string][]Task, len(r.Nodes))
	for _, n := range r.Nodes {
		byName[n.Name] = append(byName[n.Name], n)
	}
	out := make([]Task, 0, len(names))
	for _, name := range names {
		nodes := byName[name]
		if len(nodes) == 0 {
			nodes = byName[name+"-iterations"]
		}
		t := Task{Name: name}
		for i, n := range nodes {
			if i == 0 || severity(n.State) > severity(t.State) {
				t.State = n.State
			}
			if !n.Start.IsZero() && (t.Start.IsZero() || n.Start.Before(t.Start)) {
				t.Start = n.Start
			}
			if n.End.After(t.End) {
				t.End = n.End
			}
			if t.PodName == "" {
				t.PodName = n.PodName
			}
			if t.Message == "" {
				t.Message = n.Message
			}
		}
		if !t.State.IsTerminal() {
			t.End = time.Time{}
		}
		out = append(out, t)
	}
	return out
}

// severity orders states for merging nodes of one task: a failure anywhere
// is the task's failure; anything still running keeps it running.
func severity(s RunState) int {
	switch s {
	case StateFailed:
		return 7
	case StateCanceled:
		return 6
	case StateCanceling:
		return 5
	case StateRunning:
		return 4
	case StatePaused:
		return 3
	case StatePending:
		return 2
	case StateSucceeded:
		return 1
	}
	return 0 // unspecified, skipped
}

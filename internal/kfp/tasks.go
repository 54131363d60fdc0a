package kfp

import "time"

// Tasks picks the IR tasks named in names (the root DAG's) out of a run's
// nodes, in the order of names. When the nodes form a tree (see Failed),
// only the root DAG's own tasks count: a task of the same name inside a
// loop or sub-pipeline is not mixed in. A loop's iterations, or a task's
// entries on several attempts, merge: the worst state wins, the earliest
// start and the latest end are kept. A task whose driver failed before the
// task was made is FAILED. A task with no node yet is reported with no
// state (not started). Without a tree, nodes are matched by display name
// anywhere (KFP 2.0.x names a loop's node "<task>-iterations").
func (r Run) Tasks(names []string) []Task {
	byName := map[string][]Task{}
	if root := r.tree(); root != nil {
		for name, ns := range root.top() {
			for _, n := range ns {
				byName[name] = append(byName[name], Task{Name: n.display, State: n.state, Start: n.start, End: n.end, Message: n.message})
			}
		}
	} else {
		for _, n := range r.Nodes {
			byName[n.Name] = append(byName[n.Name], Task{Name: n.Name, State: n.State, Start: n.Start, End: n.End, Message: n.Message})
		}
	}
	out := make([]Task, 0, len(names))
	for _, name := range names {
		nodes := byName[name]
		if len(nodes) == 0 {
			nodes = byName[name+"-iterations"]
		}
		if len(nodes) == 0 {
			for _, d := range byName[name+"\x00driver"] {
				if d.State == StateFailed {
					nodes = append(nodes, d)
				}
			}
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
	case StateSucceeded, StateCached:
		return 1
	}
	return 0 // unspecified, skipped
}

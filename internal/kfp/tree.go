package kfp

import (
	"cmp"
	"strconv"
	"strings"
	"time"
)

// Node is one entry of a run's task list as the server reports it, in one
// of two shapes:
//
//   - run_details.task_details (KFP 2.0 to 2.17): one entry per Argo node
//     (the workflow, DAGs, drivers, loop groups and iterations, pods).
//     Children holds the child nodes' IDs; the entry's own node ID and its
//     parent are not reported.
//   - Run.tasks (the task API of KFP PR #13986, GetRun with view=FULL): one
//     entry per pipeline task with its ID, parent, type and typed pods.
type Node struct {
	ID        string // task ID (task API); "" in task_details
	ParentID  string // task API
	Name      string // display name
	TaskName  string // task API: the IR task name
	Type      string // task API TaskType (ROOT is ""); "" in task_details
	Iteration int    // task API LOOP_ITERATION index; -1 when not one
	State     RunState
	Start     time.Time
	End       time.Time
	Message   string
	Children  []string // task_details: the child nodes' Argo IDs
	Pods      []Pod    // task API
}

// Pod is a pod of a task as the task API reports it.
type Pod struct {
	Name     string
	Executor bool // EXECUTOR; else the task's DRIVER
}

// Step is a pipeline task at any depth of a run: inside loops, conditions,
// exit handlers and sub-pipelines.
type Step struct {
	// Path leads from the root DAG to the task: for-loop-2[0], for-loop-4[1],
	// print-text-2. A loop iteration is the loop's name with its index.
	Path  []string
	State RunState
	Start time.Time
	End   time.Time
	// Message is the server's error for the task, when it gives one.
	Message string
	// Driver is set when the task's driver failed, before its container
	// ran: Pod then is the driver's pod, and its log is the driver's.
	Driver bool
	// Loops are the loop iterations on the path, outermost first.
	Loops []Iteration
	// Pod is where the step's log is.
	Pod PodRef
}

// Iteration is one loop iteration on a step's path.
type Iteration struct {
	Loop  string // the loop task, e.g. for-loop-2
	Index int
}

// Task is the step's own task name (the last element of its path).
func (s Step) Task() string {
	if len(s.Path) == 0 {
		return ""
	}
	return s.Path[len(s.Path)-1]
}

// PathString joins the path with " › ".
func (s Step) PathString() string { return strings.Join(s.Path, " › ") }

// PodRef says where a step's log can be found. Which names a server
// accepts depends on its version: KFP ≤ 2.1 (Argo 3.3) names pods by node
// ID; from 2.2 (Argo 3.4, POD_NAMES=v2) a pod is named
// <workflow>-<template>-<fnv32a(node name)>.
type PodRef struct {
	Workflow string // the Argo workflow's name
	NodeID   string // the pod's Argo node ID (task_details)
	NodeName string // the pod's Argo node name (task_details), for v2 names
	// Templates are the Argo templates the pod may have been made from,
	// most likely first (KFP 2.14 added retry- and metadata variants).
	Templates []string
	Name      string // the pod name, when the server reports it (task API)
}

// PodNames are the names the pod may have, most likely first on a server
// of the given minor version (-1 if unknown).
func (p PodRef) PodNames(minor int) []string {
	if p.Name != "" {
		return []string{p.Name}
	}
	var v2 []string
	if p.Workflow != "" && p.NodeName != "" {
		for _, t := range p.Templates {
			v2 = append(v2, argoPodName(p.Workflow, t, p.NodeName))
		}
	}
	switch {
	case p.NodeID == "":
		return v2
	case minor >= 0 && minor < 2:
		return append([]string{p.NodeID}, v2...)
	default:
		return append(v2, p.NodeID)
	}
}

// argoPodName is Argo's v2 pod name (argo-workflows util.GeneratePodName,
// POD_NAMES=v2, the default since Argo 3.4): the workflow and template
// names, shortened so that the name fits Kubernetes' 253 characters, and
// the FNV-32a hash of the node name.
func argoPodName(workflow, template, nodeName string) string {
	if workflow == nodeName {
		return workflow
	}
	prefix := workflow + "-" + template
	const maxPrefix = 253 - 1 - 10 // name limit, "-", the hash's digits
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + "-" + strconv.FormatUint(uint64(fnv32a(nodeName)), 10)
}

// Argo templates of the KFP v2 compiler (backend/src/v2/compiler/argocompiler).
const (
	tmplExecutor     = "system-container-impl"
	tmplRetryExec    = "retry-system-container-impl" // KFP ≥ 2.14, a task with a retry policy
	tmplDriver       = "system-container-driver"
	tmplDAGDriver    = "system-dag-driver"
	maxTreeNodes     = 200_000
	executorNodeName = "executor"
)

// tnode is a node of the run's tree, in either shape.
type tnode struct {
	kind     nodeKind
	display  string
	index    int // iteration
	state    RunState
	start    time.Time
	end      time.Time
	message  string
	pod      PodRef
	children []*tnode
}

type nodeKind int

const (
	kTransparent nodeKind = iota // the workflow, root, iteration wrappers: not on the path
	kTask                        // a task of a DAG: a container task, sub-pipeline, condition, exit handler, importer
	kLoop                        // a ParallelFor (its iterations are children)
	kIteration                   // one iteration of a loop
	kDriver                      // a driver pod (task_details only)
	kExecutor                    // an executor pod, or Argo's Retry node above the attempts
)

// tree builds the run's tree, or returns nil when the nodes cannot be put
// in one (an unknown naming scheme, an empty list).
func (r Run) tree() *tnode {
	if len(r.Nodes) == 0 || len(r.Nodes) > maxTreeNodes {
		return nil
	}
	for _, n := range r.Nodes {
		if n.ID != "" {
			return taskAPITree(r.Nodes)
		}
	}
	return argoTree(r.Nodes)
}

// taskAPITree builds the tree from the task API's parent links.
func taskAPITree(nodes []Node) *tnode {
	byID := map[string]*tnode{}
	var root *tnode
	for _, n := range nodes {
		t := &tnode{display: cmp.Or(n.TaskName, n.Name), state: n.State, start: n.Start, end: n.End, message: n.Message, index: n.Iteration}
		switch n.Type {
		case "", "ROOT":
			t.kind = kTransparent
		case "LOOP":
			t.kind = kLoop
		case "LOOP_ITERATION":
			t.kind = kIteration
		default:
			t.kind = kTask
		}
		var driver string
		for _, p := range n.Pods {
			if p.Executor {
				t.pod.Name = p.Name // the last attempt
			} else {
				driver = p.Name
			}
		}
		if t.pod.Name == "" && driver != "" && n.Type == "RUNTIME" {
			// The driver failed before it made an executor pod.
			t.children = append(t.children, &tnode{kind: kDriver, display: t.display + "-driver", state: n.State, message: n.Message, pod: PodRef{Name: driver}})
		}
		byID[n.ID] = t
	}
	for _, n := range nodes {
		t := byID[n.ID]
		if p, ok := byID[n.ParentID]; ok && n.ParentID != n.ID {
			p.children = append(p.children, t)
		} else if root == nil && (n.Type == "" || n.Type == "ROOT") {
			root = t
		}
	}
	return root
}

// argoTree rebuilds the Argo node tree from task_details. KFP does not
// report an entry's own node ID, only its children's; but Argo derives a
// node's ID from its name (<workflow>-<fnv32a(name)>), and a child's name
// from its parent's: parent + "." + display name, or, for a loop iteration
// or a retry attempt, the parent's parent + "." + display name. So names
// are found top-down by hashing candidates, and the entry at a name is the
// one that lists the IDs of that name's children. Pods have no children:
// entries of one display name (every "executor") cannot be told apart, so
// a pod's state is taken from an unused entry, preferring its parent's.
func argoTree(nodes []Node) *tnode {
	wf := workflowName(nodes)
	if wf == "" {
		return nil
	}
	owner := map[string]int{} // child ID → the entry listing it
	var displays []string     // distinct display names
	byDisplay := map[string][]int{}
	rootIdx := -1
	for i, n := range nodes {
		for _, c := range n.Children {
			owner[c] = i
		}
		if _, ok := byDisplay[n.Name]; !ok {
			displays = append(displays, n.Name)
		}
		byDisplay[n.Name] = append(byDisplay[n.Name], i)
		if n.Name == wf && rootIdx < 0 {
			rootIdx = i
		}
	}
	if rootIdx < 0 {
		return nil
	}
	used := map[int]bool{rootIdx: true}
	// bases are the names a child of the node (name, display) extends.
	bases := func(name, display string) []uint32 {
		hs := []uint32{fnvAdd(fnvOffset, name+".")}
		if up, ok := strings.CutSuffix(name, "."+display); ok {
			hs = append(hs, fnvAdd(fnvOffset, up+"."))
		}
		return hs
	}
	prefixes := func(name, display string) []string {
		ps := []string{name + "."}
		if up, ok := strings.CutSuffix(name, "."+display); ok {
			ps = append(ps, up+".")
		}
		return ps
	}
	var build func(i int, name string, depth int) *tnode
	build = func(i int, name string, depth int) *tnode {
		n := nodes[i]
		t := &tnode{display: n.Name, state: n.State, start: n.Start, end: n.End, message: n.Message}
		t.pod = PodRef{Workflow: wf, NodeName: name, NodeID: argoNodeID(wf, name)}
		if depth > 100 || len(n.Children) == 0 {
			return t
		}
		want := map[uint32]string{} // hash → child ID
		for _, c := range n.Children {
			if h, ok := nodeHash(wf, c); ok {
				want[h] = c
			}
		}
		hs, ps := bases(name, n.Name), prefixes(name, n.Name)
		type child struct{ name, display string }
		found := map[string]child{}
		for k, hb := range hs {
			for _, d := range displays {
				if c, ok := want[fnvAdd(hb, d)]; ok {
					if _, dup := found[c]; !dup {
						found[c] = child{ps[k] + d, d}
					}
				}
			}
		}
		for _, c := range n.Children {
			ch, ok := found[c]
			if !ok {
				continue
			}
			ci := entryAt(ch.name, ch.display, nodes, owner, used, displays, wf)
			if ci < 0 {
				// A pod: take an unused entry of its display name,
				// preferring one in its parent's state.
				for _, j := range byDisplay[ch.display] {
					if used[j] || len(nodes[j].Children) > 0 {
						continue
					}
					if ci < 0 || nodes[j].State == n.State {
						ci = j
					}
					if nodes[j].State == n.State {
						break
					}
				}
			}
			if ci < 0 {
				continue
			}
			used[ci] = true
			t.children = append(t.children, build(ci, ch.name, depth+1))
		}
		return t
	}
	root := build(rootIdx, wf, 0)
	classify(root, 0)
	return root
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// fnvAdd continues an FNV-32a hash with s.
func fnvAdd(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime
	}
	return h
}

func fnv32a(s string) uint32 { return fnvAdd(fnvOffset, s) }

// argoNodeID is Argo's node ID for a node name (Workflow.NodeID).
func argoNodeID(wf, name string) string {
	if name == wf {
		return wf
	}
	return wf + "-" + strconv.FormatUint(uint64(fnv32a(name)), 10)
}

// nodeHash is the hash part of node ID id of workflow wf.
func nodeHash(wf, id string) (uint32, bool) {
	rest, ok := strings.CutPrefix(id, wf+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	return uint32(n), err == nil
}

// workflowName is the Argo workflow's name: the node IDs are
// <workflow>-<hash>, and the workflow's own node is displayed by its name.
func workflowName(nodes []Node) string {
	names := map[string]bool{}
	for _, n := range nodes {
		names[n.Name] = true
	}
	for _, n := range nodes {
		for _, c := range n.Children {
			i := strings.LastIndex(c, "-")
			if i <= 0 {
				continue
			}
			if _, err := strconv.ParseUint(c[i+1:], 10, 32); err == nil && names[c[:i]] {
				return c[:i]
			}
		}
	}
	return ""
}

// entryAt finds the unused entry at node name (display) by its children:
// the entry that lists the ID of one of name's possible children.
func entryAt(name, display string, nodes []Node, owner map[string]int, used map[int]bool, displays []string, wf string) int {
	// A DAG's children extend its own name; a loop group's iterations or a
	// Retry node's attempts extend its parent's name with its display
	// name and a suffix.
	up, isChild := strings.CutSuffix(name, "."+display)
	for _, base := range []string{name, up} {
		for _, d := range displays {
			if base == up && (!isChild || !strings.HasPrefix(d, display+"(")) {
				continue
			}
			if j, ok := owner[argoNodeID(wf, base+"."+d)]; ok && !used[j] && nodes[j].Name == display {
				return j
			}
		}
	}
	return -1
}

// classify sets each node's kind from KFP's Argo naming: drivers end in
// -driver, a container task's pod is "executor" (under a Retry node
// "executor(N)"), a loop is "<loop>-iterations" with iterations
// "<loop>-iterations(i:i)" each wrapping an "iteration" DAG, and the
// workflow wraps a "root" DAG.
func classify(t *tnode, depth int) {
	d := t.display
	switch {
	case depth == 0, depth == 1 && d == "root":
		t.kind = kTransparent
	case d == executorNodeName || (strings.HasPrefix(d, executorNodeName+"(") && strings.HasSuffix(d, ")")):
		t.kind = kExecutor
	case strings.HasSuffix(d, "-driver"):
		t.kind = kDriver
	case d == "iteration":
		t.kind = kTransparent
	case strings.HasSuffix(d, "-iterations"):
		t.kind = kLoop
		t.display = strings.TrimSuffix(d, "-iterations")
	case strings.HasSuffix(d, ")") && strings.Contains(d, "-iterations("):
		t.kind = kIteration
		i := strings.LastIndex(d, "-iterations(")
		inner := d[i+len("-iterations(") : len(d)-1]
		idx, _, _ := strings.Cut(inner, ":")
		n, err := strconv.Atoi(idx)
		if err != nil {
			n = -1
		}
		t.index = n
		t.display = d[:i]
	default:
		t.kind = kTask
	}
	switch t.kind {
	case kExecutor:
		t.pod.Templates = []string{tmplExecutor, tmplRetryExec}
	case kDriver:
		t.pod.Templates = []string{tmplDriver, tmplDAGDriver}
	}
	for _, c := range t.children {
		classify(c, depth+1)
	}
}

// onPath extends the path to t and the loops around it by t: a loop or a
// task adds its name, an iteration turns its loop's name into "loop[i]"
// and records the iteration. The slices passed in are never changed.
func (t *tnode) onPath(path []string, loops []Iteration) ([]string, []Iteration) {
	switch t.kind {
	case kLoop, kTask:
		path = append(path[:len(path):len(path)], t.display)
	case kIteration:
		name := t.display + "[" + strconv.Itoa(t.index) + "]"
		if len(path) > 0 {
			path = append(path[:len(path)-1:len(path)-1], name)
		} else {
			path = []string{name}
		}
		loops = append(loops[:len(loops):len(loops)], Iteration{Loop: t.display, Index: t.index})
	}
	return path, loops
}

// Failed returns the run's failed steps at the deepest level the server
// shows: it follows failed DAG tasks down through loops, conditions, exit
// handlers and sub-pipelines to the tasks whose own container (or driver)
// failed, in the pipeline's order. Of a task retried by Argo, the last
// failed attempt is the step's pod. It returns nil when the run's nodes
// cannot be put in a tree.
func (r Run) Failed() []Step {
	root := r.tree()
	if root == nil {
		return nil
	}
	var out []Step
	var walk func(t *tnode, path []string, loops []Iteration)
	walk = func(t *tnode, path []string, loops []Iteration) {
		path, loops = t.onPath(path, loops)
		step := func(pod *tnode, driver bool, p []string) Step {
			return Step{
				Path: p, State: t.state, Start: t.start, End: t.end,
				Message: cmp.Or(pod.message, t.message), Driver: driver,
				Loops: loops, Pod: pod.pod,
			}
		}
		var failed []*tnode
		var exec *tnode
		for _, c := range t.children {
			if c.kind == kExecutor {
				exec = c
				continue
			}
			if c.state == StateFailed {
				failed = append(failed, c)
			}
		}
		if t.kind == kTask && exec != nil && len(failed) == 0 {
			out = append(out, step(lastAttempt(exec), false, path))
			return
		}
		if t.kind == kTask && len(failed) == 0 && len(t.children) == 0 && t.state == StateFailed {
			// An importer (a pod by itself) or a task the task API
			// reports with its executor pod.
			s := step(t, false, path)
			if t.pod.Name == "" {
				s.Pod.Templates = []string{"system-importer"}
			}
			out = append(out, s)
			return
		}
		for _, c := range failed {
			if c.kind == kDriver {
				p := path
				if task := strings.TrimSuffix(c.display, "-driver"); t.kind != kTask || task != t.display {
					p = append(path[:len(path):len(path)], task) // a driver beside its task's node
				}
				s := step(c, true, p)
				s.State, s.Start, s.End, s.Message = c.state, c.start, c.end, c.message
				out = append(out, s)
				continue
			}
			walk(c, path, loops)
		}
	}
	walk(root, nil, nil)
	return out
}

// lastAttempt is the pod of an executor: the node itself, or under Argo's
// Retry node the last failed attempt (else the last attempt).
func lastAttempt(exec *tnode) *tnode {
	if len(exec.children) == 0 {
		return exec
	}
	for i := len(exec.children) - 1; i >= 0; i-- {
		if exec.children[i].state == StateFailed {
			return lastAttempt(exec.children[i])
		}
	}
	return lastAttempt(exec.children[len(exec.children)-1])
}

// top returns the root DAG's tasks by name: container tasks, loops,
// conditions, sub-pipelines; a task whose driver failed before the task
// was made is reported under its name by the driver.
func (t *tnode) top() map[string][]*tnode {
	out := map[string][]*tnode{}
	var walk func(n *tnode)
	walk = func(n *tnode) {
		for _, c := range n.children {
			switch c.kind {
			case kTransparent:
				walk(c)
			case kTask, kLoop:
				out[c.display] = append(out[c.display], c)
			case kDriver:
				name := strings.TrimSuffix(c.display, "-driver")
				out[name+"\x00driver"] = append(out[name+"\x00driver"], c)
			}
		}
	}
	walk(t)
	return out
}

// Steps returns the run's container steps at any depth that have started
// (their executor exists), with where their log is, in the pipeline's
// order: what a log follower streams. Of a retried task the last attempt
// is the step's pod. It returns nil when the nodes cannot be put in a
// tree.
func (r Run) Steps() []Step {
	root := r.tree()
	if root == nil {
		return nil
	}
	var out []Step
	var walk func(t *tnode, path []string, loops []Iteration)
	walk = func(t *tnode, path []string, loops []Iteration) {
		path, loops = t.onPath(path, loops)
		if t.kind == kTask && t.pod.Name != "" && len(t.children) == 0 {
			// The task API: the executor pod is on the task.
			out = append(out, Step{Path: path, State: t.state, Start: t.start, End: t.end, Message: t.message, Loops: loops, Pod: t.pod})
			return
		}
		for _, c := range t.children {
			switch c.kind {
			case kExecutor:
				if t.kind == kTask {
					pod := lastAttempt(c)
					out = append(out, Step{Path: path, State: t.state, Start: t.start, End: t.end, Message: cmp.Or(pod.message, t.message), Loops: loops, Pod: pod.pod})
				}
			case kDriver:
			default:
				walk(c, path, loops)
			}
		}
	}
	walk(root, nil, nil)
	return out
}

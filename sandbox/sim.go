package sandbox

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// This file is the sandbox's stand-in for Argo's workflow controller: it
// expands the workflow KFP compiled into the nodes Argo would create (one per
// DAG task, drivers and executor pods, loop iterations), gives each a start
// and an end from the scripted outcomes, and renders Argo's status for any
// instant. Nothing here talks to KFP; advance.go reports what this computes.

// Argo templates the KFP 2.0.5 v2 compiler emits (backend/src/v2/compiler/argocompiler).
const (
	tmplContainerDriver   = "system-container-driver"
	tmplDAGDriver         = "system-dag-driver"
	tmplContainerExecutor = "system-container-executor"
	tmplContainerImpl     = "system-container-impl"
	tmplImporter          = "system-importer"

	// defaultIterations is used when a loop's item count is only known at
	// run time (it comes from an upstream output or a run parameter).
	defaultIterations = 2
)

type nodeKind int

const (
	kindDAG      nodeKind = iota // a DAG template (the workflow, root, sub-DAGs, the container-executor wrapper)
	kindGroup                    // a task expanded by withSequence (a ParallelFor)
	kindDriver                   // a KFP driver pod: takes no simulated time
	kindExecutor                 // the pod running an IR task's container
	kindImporter                 // an importer pod (an IR task by itself)
	kindPod                      // any other pod template
)

// simNode is one Argo node plus its simulated schedule.
type simNode struct {
	id, name, display, template string
	typ                         wfv1.NodeType
	kind                        nodeKind
	boundaryID                  string
	taskName                    string // the DAG task name inside the parent template
	depends                     string
	irTask                      string // executor/importer: the IR task it runs
	image                       string // executor: the container image
	retry                       bool   // executor: rendered as a Retry node with one pod child (podnames.go)
	children                    []*simNode

	// schedule: reached means Argo has created the node; zero end means
	// it never finishes (hang or waiting on a hung dependency).
	reached bool
	start   time.Time
	end     time.Time
	phase   wfv1.NodePhase // the phase at end
	live    wfv1.NodePhase // the phase before end (Running unless set manually)
	message string
	log     []string
}

// buildTree expands wf's entrypoint into simNodes.
func buildTree(wf *wfv1.Workflow) (*simNode, error) {
	params := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Value != nil {
			params[p.Name] = p.Value.String()
		}
	}
	b := &treeBuilder{wf: wf, params: params, annotations: wf.Annotations}
	entry := wf.GetTemplateByName(wf.Spec.Entrypoint)
	if entry == nil {
		return nil, fmt.Errorf("workflow %s: entrypoint template %q not found", wf.Name, wf.Spec.Entrypoint)
	}
	root := &simNode{id: wf.NodeID(wf.Name), name: wf.Name, display: wf.Name, template: entry.Name, typ: wfv1.NodeTypeDAG, kind: kindDAG}
	if err := b.expand(root, entry, 0); err != nil {
		return nil, err
	}
	return root, nil
}

type treeBuilder struct {
	wf          *wfv1.Workflow
	params      map[string]string
	annotations map[string]string
}

// expand fills a DAG node's children from its template's tasks.
func (b *treeBuilder) expand(n *simNode, tmpl *wfv1.Template, depth int) error {
	if depth > 50 {
		return fmt.Errorf("workflow %s: templates nest deeper than 50 levels", b.wf.Name)
	}
	if tmpl.DAG == nil {
		return nil
	}
	images := map[string]string{} // task -> image, read from its driver's arguments
	loops := map[string]int{}     // X-iterations -> count, read from X-driver's task JSON
	for _, t := range tmpl.DAG.Tasks {
		if t.Template == tmplContainerDriver {
			images[strings.TrimSuffix(t.Name, "-driver")] = b.image(t)
		}
		if t.Template == tmplDAGDriver {
			loops[strings.TrimSuffix(t.Name, "-driver")+"-iterations"] = b.iterations(t)
		}
	}
	for _, t := range tmpl.DAG.Tasks {
		sub := b.wf.GetTemplateByName(t.Template)
		if sub == nil {
			return fmt.Errorf("workflow %s: template %q of task %q not found", b.wf.Name, t.Template, t.Name)
		}
		name := n.name + "." + t.Name
		var c *simNode
		if t.WithSequence != nil || len(t.WithItems) > 0 || t.WithParam != "" {
			count := len(t.WithItems)
			if t.WithSequence != nil {
				count = loops[t.Name]
				if count == 0 {
					count = defaultIterations
				}
			}
			c = &simNode{id: b.wf.NodeID(name), name: name, display: t.Name, template: t.Template, typ: wfv1.NodeTypeTaskGroup, kind: kindGroup, boundaryID: n.id}
			for i := 0; i < count; i++ {
				in := fmt.Sprintf("%s(%d:%d)", name, i, i)
				it, err := b.node(in, fmt.Sprintf("%s(%d:%d)", t.Name, i, i), sub, n.id, depth)
				if err != nil {
					return err
				}
				c.children = append(c.children, it)
			}
		} else {
			var err error
			c, err = b.node(name, t.Name, sub, n.id, depth)
			if err != nil {
				return err
			}
		}
		c.taskName = t.Name
		c.depends = t.Depends
		if c.depends == "" && len(t.Dependencies) > 0 {
			c.depends = strings.Join(appendEach(t.Dependencies, ".Succeeded"), " && ")
		}
		if c.template == tmplContainerExecutor {
			for _, e := range c.children {
				if e.kind == kindExecutor {
					e.irTask = t.Name
					e.image = images[t.Name]
				}
			}
		}
		n.children = append(n.children, c)
	}
	return nil
}

func appendEach(s []string, suffix string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x + suffix
	}
	return out
}

func (b *treeBuilder) node(name, display string, tmpl *wfv1.Template, boundary string, depth int) (*simNode, error) {
	n := &simNode{id: b.wf.NodeID(name), name: name, display: display, template: tmpl.Name, boundaryID: boundary}
	switch {
	case tmpl.DAG != nil:
		n.typ, n.kind = wfv1.NodeTypeDAG, kindDAG
		return n, b.expand(n, tmpl, depth+1)
	case tmpl.Name == tmplContainerDriver || tmpl.Name == tmplDAGDriver:
		n.typ, n.kind = wfv1.NodeTypePod, kindDriver
	case tmpl.Name == tmplContainerImpl:
		n.typ, n.kind = wfv1.NodeTypePod, kindExecutor
	case tmpl.Name == tmplImporter:
		n.typ, n.kind = wfv1.NodeTypePod, kindImporter
		n.irTask = display
	default:
		n.typ, n.kind = wfv1.NodeTypePod, kindPod
	}
	return n, nil
}

var placeholderRE = regexp.MustCompile(`^\{\{workflow\.(parameters|annotations)\.([^}]+)\}\}$`)

// arg returns a DAG task argument, resolving a workflow parameter or
// annotation placeholder (KFP 2.0.5 keeps component and container specs in
// workflow annotations).
func (b *treeBuilder) arg(t wfv1.DAGTask, name string) string {
	for _, p := range t.Arguments.Parameters {
		if p.Name != name || p.Value == nil {
			continue
		}
		v := p.Value.String()
		if m := placeholderRE.FindStringSubmatch(v); m != nil {
			if m[1] == "annotations" {
				return b.annotations[m[2]]
			}
			return b.params[m[2]]
		}
		return v
	}
	return ""
}

// image reads the container image from a container driver's "container"
// argument (the IR PipelineContainerSpec as JSON).
func (b *treeBuilder) image(t wfv1.DAGTask) string {
	var c struct {
		Image string `json:"image"`
	}
	if err := json.Unmarshal([]byte(b.arg(t, "container")), &c); err != nil {
		return ""
	}
	return c.Image
}

// iterations reads a ParallelFor's item count from its DAG driver's "task"
// argument (the IR PipelineTaskSpec as JSON) when the items are literal.
func (b *treeBuilder) iterations(t wfv1.DAGTask) int {
	var task struct {
		ParameterIterator struct {
			Items struct {
				Raw string `json:"raw"`
			} `json:"items"`
		} `json:"parameterIterator"`
	}
	if err := json.Unmarshal([]byte(b.arg(t, "task")), &task); err != nil || task.ParameterIterator.Items.Raw == "" {
		return 0
	}
	var items []any
	if err := json.Unmarshal([]byte(task.ParameterIterator.Items.Raw), &items); err != nil {
		return 0
	}
	return len(items)
}

// outcomeFunc gives the scripted behaviour of an IR task's pod.
type outcomeFunc func(n *simNode) (phase wfv1.NodePhase, d time.Duration, hang bool, message string, log []string)

// outcomes is what the schedule asks the script: how each pod ends, and
// which DAG tasks are skipped (the sandbox cannot evaluate KFP conditions,
// so a script decides which branch's "when" is false).
type outcomes struct {
	pod  outcomeFunc
	skip func(task string) bool // nil = nothing skipped
}

// schedule gives every node reachable from n its start, end and phase, as
// Argo would run them: DAG tasks start when their dependencies are done,
// "depends" decides whether they run or are Omitted, a DAG fails if a child
// failed. Drivers take no time; executors and importers take what the
// outcome says.
func schedule(n *simNode, start time.Time, out outcomes) {
	n.reached, n.start, n.live = true, start, wfv1.NodeRunning
	switch n.kind {
	case kindDriver, kindPod:
		n.end, n.phase = start, wfv1.NodeSucceeded
	case kindExecutor, kindImporter:
		phase, d, hang, msg, log := out.pod(n)
		n.phase, n.message, n.log = phase, msg, log
		if hang {
			n.end = time.Time{}
		} else {
			n.end = start.Add(d)
		}
	case kindGroup:
		for _, c := range n.children {
			schedule(c, start, out)
		}
		aggregate(n)
	case kindDAG:
		scheduleDAG(n, start, out)
		aggregate(n)
	}
}

// scheduleDAG runs a DAG's tasks in dependency order.
func scheduleDAG(n *simNode, start time.Time, out outcomes) {
	byTask := map[string]*simNode{}
	for _, c := range n.children {
		byTask[c.taskName] = c
	}
	done := map[*simNode]bool{}
	for progress := true; progress; {
		progress = false
		for _, c := range n.children {
			if done[c] {
				continue
			}
			deps := dependencyNames(c.depends)
			at, ready := start, true
			phases := map[string]wfv1.NodePhase{}
			for _, d := range deps {
				dn, ok := byTask[d]
				if !ok {
					continue // not a sibling: Argo would have rejected it; treat as met
				}
				if !done[dn] || !dn.reached || dn.end.IsZero() {
					ready = false
					break
				}
				if dn.end.After(at) {
					at = dn.end
				}
				phases[d] = dn.phase
			}
			if !ready {
				continue
			}
			done[c], progress = true, true
			switch {
			case !evalDepends(c.depends, phases):
				c.reached, c.start, c.end, c.phase = true, at, at, wfv1.NodeOmitted
				c.message = "omitted: depends condition not met"
			case out.skip != nil && c.kind != kindDriver && out.skip(c.taskName):
				c.reached, c.start, c.end, c.phase = true, at, at, wfv1.NodeSkipped
				c.message = "when 'false != false' evaluated false"
			default:
				schedule(c, at, out)
			}
		}
	}
}

// aggregate sets a DAG or group node's end and phase from its children.
func aggregate(n *simNode) {
	n.end, n.phase, n.message = n.start, wfv1.NodeSucceeded, ""
	for _, c := range n.children {
		if !c.reached || c.end.IsZero() {
			n.end = time.Time{}
			return
		}
		if c.end.After(n.end) {
			n.end = c.end
		}
	}
	for _, c := range n.children {
		if c.phase == wfv1.NodeFailed || c.phase == wfv1.NodeError {
			n.phase = wfv1.NodeFailed
			n.message = fmt.Sprintf("child '%s' failed", c.id)
			return
		}
	}
}

var dependsAtomRE = regexp.MustCompile(`([A-Za-z0-9_.()\-]+?)\.(Succeeded|Failed|Errored|Skipped|Omitted|Daemoned|AnySucceeded|AllFailed)\b`)

func dependencyNames(expr string) []string {
	var names []string
	seen := map[string]bool{}
	for _, m := range dependsAtomRE.FindAllStringSubmatch(expr, -1) {
		name := strings.TrimLeft(m[1], "(")
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// evalDepends evaluates Argo's enhanced depends logic as KFP emits it: "||"
// of "&&" clauses of task.Result atoms (no negation). Parentheses are
// ignored, which is exact for KFP's output.
func evalDepends(expr string, phases map[string]wfv1.NodePhase) bool {
	expr = strings.NewReplacer("(", " ", ")", " ").Replace(strings.TrimSpace(expr))
	if expr == "" {
		return true
	}
	for _, clause := range strings.Split(expr, "||") {
		ok := true
		for _, atom := range strings.Split(clause, "&&") {
			atom = strings.TrimSpace(atom)
			i := strings.LastIndex(atom, ".")
			if i < 0 {
				continue
			}
			name, result := atom[:i], atom[i+1:]
			phase, known := phases[name]
			if !known {
				continue
			}
			if !resultMatches(result, phase) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func resultMatches(result string, p wfv1.NodePhase) bool {
	switch result {
	case "Succeeded", "AnySucceeded":
		return p == wfv1.NodeSucceeded
	case "Failed", "AllFailed":
		return p == wfv1.NodeFailed
	case "Errored":
		return p == wfv1.NodeError
	case "Skipped":
		return p == wfv1.NodeSkipped
	case "Omitted":
		return p == wfv1.NodeOmitted
	case "Daemoned":
		return false
	}
	return false
}

// terminate freezes the schedule at t as Argo's Terminate strategy does:
// nodes running at t fail with the stop message, nodes not yet created are
// never created.
func terminate(n *simNode, t time.Time) {
	if !n.reached || n.start.After(t) {
		n.reached = false
		return
	}
	if n.end.IsZero() || n.end.After(t) {
		for _, c := range n.children {
			terminate(c, t)
		}
		n.end, n.phase, n.message = t, wfv1.NodeFailed, stopMessage
		if n.kind == kindExecutor || n.kind == kindImporter {
			n.log = append(n.log, "Terminated: "+stopMessage)
		}
	}
}

const stopMessage = "Stopped with strategy 'Terminate'"

// nodesAt renders the Argo status nodes as they are at t.
func nodesAt(root *simNode, wf *wfv1.Workflow, t time.Time) wfv1.Nodes {
	nodes := wfv1.Nodes{}
	var walk func(n *simNode) bool
	walk = func(n *simNode) bool {
		if !n.reached || n.start.After(t) {
			return false
		}
		s := wfv1.NodeStatus{
			ID: n.id, Name: n.name, DisplayName: n.display, Type: n.typ,
			TemplateName: n.template, TemplateScope: "local/" + wf.Name,
			BoundaryID: n.boundaryID, StartedAt: metaTime(n.start),
		}
		if !n.end.IsZero() && !n.end.After(t) {
			s.Phase, s.Message, s.FinishedAt = n.phase, n.message, metaTime(n.end)
		} else {
			s.Phase = n.live
			if s.Phase == "" {
				s.Phase = wfv1.NodeRunning
			}
		}
		for _, c := range n.children {
			if walk(c) {
				s.Children = append(s.Children, c.id)
			}
		}
		if n.retry {
			child := splitRetry(&s, wf)
			nodes[child.ID] = child
		}
		nodes[n.id] = s
		return true
	}
	walk(root)
	return nodes
}

// leaves calls f for every executor and importer node.
func (n *simNode) leaves(f func(*simNode)) {
	if n.kind == kindExecutor || n.kind == kindImporter {
		f(n)
	}
	for _, c := range n.children {
		c.leaves(f)
	}
}

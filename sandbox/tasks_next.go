package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/uuid"
)

// This file is profile next: the task API rework of KFP PR #13986 (not in
// 2.17.0). The run's tasks move from run_details.task_details (one per Argo
// node) to a top-level Run.tasks (one per KFP task: the root DAG, each
// container or importer task, loops and their iterations, conditions, exit
// handlers and sub-pipelines), returned by GetRun only with view=FULL, each
// with its driver and executor pods. The shape follows the PR's run.proto
// (PipelineTaskDetail with TaskType, TaskState, TypeAttributes and
// TaskPod), in protojson: enum names, zero enums omitted, int64 as strings.
//
// The sandbox rewrites KFP 2.0.5's answer: task_details are removed (and
// so is run_details when nothing else is left in it), and GetRun with
// view=FULL gets tasks built from the run's simulated node tree, with the
// phases and times of the status last reported to KFP, so they agree with
// the run's own state. The rest of the answer is 2.0.5's, byte for byte.

type nextTaskPod struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
	Type string `json:"type,omitempty"` // TaskPodType: DRIVER (0) is omitted
}

type nextTypeAttributes struct {
	IterationIndex *string `json:"iteration_index,omitempty"` // optional int64: present when set, even 0
	IterationCount *string `json:"iteration_count,omitempty"`
}

type nextTaskError struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// nextTask is a PipelineTaskDetail, fields in proto order.
type nextTask struct {
	Name           string              `json:"name,omitempty"`
	DisplayName    string              `json:"display_name,omitempty"`
	TaskID         string              `json:"task_id"`
	RunID          string              `json:"run_id"`
	Pods           []nextTaskPod       `json:"pods,omitempty"`
	CreateTime     string              `json:"create_time,omitempty"`
	StartTime      string              `json:"start_time,omitempty"`
	EndTime        string              `json:"end_time,omitempty"`
	Status         string              `json:"status,omitempty"`
	Type           string              `json:"type,omitempty"` // TaskType: ROOT (0) is omitted
	TypeAttributes *nextTypeAttributes `json:"type_attributes,omitempty"`
	Error          *nextTaskError      `json:"error,omitempty"`
	ParentTaskID   *string             `json:"parent_task_id,omitempty"` // optional: absent at the root
}

// The TaskType names of the PR's run.proto.
const (
	taskRoot            = "" // ROOT = 0
	taskRuntime         = "RUNTIME"
	taskConditionBranch = "CONDITION_BRANCH"
	taskCondition       = "CONDITION"
	taskLoop            = "LOOP"
	taskLoopIteration   = "LOOP_ITERATION"
	taskExitHandler     = "EXIT_HANDLER"
	taskDAG             = "DAG"
)

// taskErrorCode is the google.rpc code of a failed task's error. The PR
// does not say which; UNKNOWN is the sandbox's choice.
const taskErrorCode = 2

var (
	conditionBranchTask = regexp.MustCompile(`^condition-branches-\d+$`)
	conditionTask       = regexp.MustCompile(`^condition-\d+$`)
	exitHandlerTask     = regexp.MustCompile(`^exit-handler-\d+$`)
)

// dagTaskType is the TaskType of a DAG task, from the group names the KFP
// SDK compiles (condition-branches-N for dsl.If/Elif/Else, condition-N for
// each branch, exit-handler-N); any other DAG is a sub-pipeline.
func dagTaskType(name string) string {
	switch {
	case conditionBranchTask.MatchString(name):
		return taskConditionBranch
	case conditionTask.MatchString(name):
		return taskCondition
	case exitHandlerTask.MatchString(name):
		return taskExitHandler
	}
	return taskDAG
}

// taskBuilder turns a run's node tree into tasks.
type taskBuilder struct {
	r     *runSim
	nodes wfv1.Nodes // as last reported
	ns    string
	tasks []*nextTask
}

// nextTasksLocked builds the tasks of a run, in tree order (parents first):
// ROOT for the root DAG, RUNTIME for each container or importer task, LOOP
// and LOOP_ITERATION for a ParallelFor, CONDITION_BRANCH, CONDITION,
// EXIT_HANDLER, and DAG for a sub-pipeline. Drivers are pods of the task
// they drive; Argo's workflow node and loop "iteration" wrappers are not
// tasks. A task exists once its node does (its driver has run), and not
// for an Omitted node.
func (s *Sandbox) nextTasksLocked(r *runSim) []*nextTask {
	if r.root == nil {
		return nil
	}
	b := &taskBuilder{r: r, nodes: r.wf.Status.Nodes, ns: s.podNamespace(r)}
	byTask := childrenByTask(r.root)
	if root := byTask["root"]; root != nil {
		if t := b.task(root, "root", taskRoot, nil, byTask["root-driver"]); t != nil {
			b.dag(root, t)
		}
	}
	return b.tasks
}

func childrenByTask(n *simNode) map[string]*simNode {
	m := map[string]*simNode{}
	for _, c := range n.children {
		m[c.taskName] = c
	}
	return m
}

// dag adds the tasks of DAG node d's children, under parent.
func (b *taskBuilder) dag(d *simNode, parent *nextTask) {
	byTask := childrenByTask(d)
	for _, c := range d.children {
		driver := byTask[c.taskName+"-driver"]
		switch {
		case c.kind == kindDriver || c.kind == kindPod:
			// a driver is a pod of the task it drives
		case c.template == tmplContainerExecutor:
			t := b.task(c, c.taskName, taskRuntime, parent, driver)
			if t == nil {
				break
			}
			for _, e := range c.children {
				if e.kind == kindExecutor {
					b.addPod(t, e, true)
				}
			}
		case c.kind == kindImporter:
			if t := b.task(c, c.taskName, taskRuntime, parent, nil); t != nil {
				b.addPod(t, c, true)
			}
		case c.kind == kindGroup:
			b.loop(c, parent, byTask[strings.TrimSuffix(c.taskName, "-iterations")+"-driver"])
		case c.kind == kindDAG && c.taskName == "iteration":
			// Argo's wrapper inside a loop iteration: its driver and tasks
			// belong to the iteration.
			if driver != nil {
				b.addPod(parent, driver, false)
			}
			b.dag(c, parent)
		case c.kind == kindDAG:
			if t := b.task(c, c.taskName, dagTaskType(c.taskName), parent, driver); t != nil {
				b.dag(c, t)
			}
		}
	}
}

// loop adds a ParallelFor: the LOOP task (its name is the IR's for-loop-N)
// with iteration_count, and a LOOP_ITERATION per item with its
// iteration_index.
func (b *taskBuilder) loop(g *simNode, parent *nextTask, driver *simNode) {
	name := strings.TrimSuffix(g.taskName, "-iterations")
	t := b.task(g, name, taskLoop, parent, driver)
	if t == nil {
		return
	}
	count := strconv.Itoa(len(g.children))
	t.TypeAttributes = &nextTypeAttributes{IterationCount: &count}
	for i, it := range g.children {
		iter := b.task(it, name, taskLoopIteration, t, nil)
		if iter == nil {
			continue
		}
		index := strconv.Itoa(i)
		iter.TypeAttributes = &nextTypeAttributes{IterationIndex: &index}
		b.dag(it, iter)
	}
}

// task adds the task of node n, if Argo has created n by the last report.
func (b *taskBuilder) task(n *simNode, name, typ string, parent *nextTask, driver *simNode) *nextTask {
	st, ok := b.nodes[n.id]
	if !ok || st.Phase == wfv1.NodeOmitted {
		return nil
	}
	t := &nextTask{
		Name: name, DisplayName: name, TaskID: b.taskID(n.id), RunID: b.r.runID, Type: typ,
		CreateTime: rfc3339(st.StartedAt.Time), StartTime: rfc3339(st.StartedAt.Time), EndTime: rfc3339(st.FinishedAt.Time),
		Status: taskState(st.Phase),
	}
	if t.Status == "FAILED" {
		t.Error = &nextTaskError{Code: taskErrorCode, Message: st.Message}
	}
	if parent != nil {
		id := parent.TaskID
		t.ParentTaskID = &id
	}
	if driver != nil {
		b.addPod(t, driver, false)
	}
	b.tasks = append(b.tasks, t)
	return t
}

// addPod adds the pod of node n (the Retry node's child from 2.17 on) to t.
// A failed executor's message is the task's error.
func (b *taskBuilder) addPod(t *nextTask, n *simNode, executor bool) {
	id, name := n.id, n.name
	if n.retry {
		name = retryChildName(n.name)
		id = b.r.wf.NodeID(name)
	}
	st, ok := b.nodes[id]
	if !ok || st.Phase == wfv1.NodeOmitted || st.Phase == wfv1.NodeSkipped {
		return
	}
	pod := argoPodName(b.r.wf.Name, name, n.template, id, true)
	p := nextTaskPod{Name: pod, UID: podUID(b.r.runID, b.ns, pod)}
	if executor {
		p.Type = "EXECUTOR"
		if t.Error != nil && st.Message != "" {
			t.Error.Message = st.Message
		}
	}
	t.Pods = append(t.Pods, p)
}

// taskID is a task's ID: stable for a node of a run.
func (b *taskBuilder) taskID(nodeID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(b.r.runID+"/task/"+nodeID)).String()
}

// taskState maps an Argo phase to the PR's TaskState.
func taskState(p wfv1.NodePhase) string {
	switch p {
	case wfv1.NodeSucceeded:
		return "SUCCEEDED"
	case wfv1.NodeSkipped:
		return "SKIPPED"
	case wfv1.NodeFailed, wfv1.NodeError:
		return "FAILED"
	}
	return "RUNNING"
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// innerRequest marks a request the sandbox re-serves to rewrite its answer.
type innerRequest struct{}

var v2RunsPath = regexp.MustCompile(`^/apis/v2beta1/runs(?:/([^/:]+))?$`)

// serveRunsNext serves GetRun and ListRuns of profile next: KFP 2.0.5's
// answer (through the whole of serveKFP), rewritten. runID is "" for
// ListRuns, which only loses task_details.
func (s *Sandbox) serveRunsNext(w http.ResponseWriter, r *http.Request, runID string) {
	q := r.URL.Query()
	full := runID != "" && (q.Get("view") == "FULL" || q.Get("view") == "1")
	q.Del("view") // a field of the PR's GetRunRequest, unknown to 2.0.5
	inner := r.Clone(context.WithValue(r.Context(), innerRequest{}, true))
	inner.URL.RawQuery = q.Encode()
	bw := &bufferedWriter{header: http.Header{}}
	s.serveKFP(bw, inner)
	if bw.status == 0 || bw.status == http.StatusOK {
		var tasks []*nextTask
		if full && s.acquire(r.Context(), "next tasks") {
			s.discoverLocked()
			if rs, ok := s.byRunID[runID]; ok {
				tasks = s.nextTasksLocked(rs)
			}
			s.release()
		}
		if body, err := rewriteRuns(bw.body.Bytes(), runID != "", tasks); err != nil {
			s.log.Error("sandbox: rewrite runs answer for profile next", "err", err)
		} else {
			bw.body.Reset()
			bw.body.Write(body)
		}
	}
	bw.header.Del("Content-Length")
	bw.flushTo(w)
}

// jsonField is one member of a JSON object, its value untouched.
type jsonField struct {
	key string
	val json.RawMessage
}

// parseObject splits a JSON object into its members, in order, and returns
// what follows it (a trailing newline).
func parseObject(b []byte) ([]jsonField, []byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object: %.40q", b)
	}
	var fields []jsonField
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		fields = append(fields, jsonField{key: k.(string), val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	return fields, b[dec.InputOffset():], nil
}

func marshalObject(fields []jsonField) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(f.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// rewriteRuns rewrites a GetRun (single) or ListRuns answer.
func rewriteRuns(body []byte, single bool, tasks []*nextTask) ([]byte, error) {
	fields, tail, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	if single {
		if fields, err = rewriteRun(fields, tasks); err != nil {
			return nil, err
		}
		return append(marshalObject(fields), tail...), nil
	}
	for i, f := range fields {
		if f.key != "runs" {
			continue
		}
		var runs []json.RawMessage
		if err := json.Unmarshal(f.val, &runs); err != nil {
			return nil, err
		}
		out := make([][]byte, len(runs))
		for j, run := range runs {
			rf, _, err := parseObject(run)
			if err != nil {
				return nil, err
			}
			if rf, err = rewriteRun(rf, nil); err != nil {
				return nil, err
			}
			out[j] = marshalObject(rf)
		}
		fields[i].val = append(append([]byte{'['}, bytes.Join(out, []byte{','})...), ']')
	}
	return append(marshalObject(fields), tail...), nil
}

// rewriteRun drops run_details.task_details (and run_details if nothing
// else is in it) and appends tasks (Run field 20, the last).
func rewriteRun(fields []jsonField, tasks []*nextTask) ([]jsonField, error) {
	out := fields[:0:0]
	for _, f := range fields {
		if f.key == "run_details" {
			rd, _, err := parseObject(f.val)
			if err != nil {
				return nil, err
			}
			kept := rd[:0:0]
			for _, d := range rd {
				if d.key != "task_details" {
					kept = append(kept, d)
				}
			}
			if len(kept) == 0 {
				continue
			}
			f.val = marshalObject(kept)
		}
		out = append(out, f)
	}
	if len(tasks) > 0 {
		b, err := json.Marshal(tasks)
		if err != nil {
			return nil, err
		}
		out = append(out, jsonField{key: "tasks", val: b})
	}
	return out, nil
}

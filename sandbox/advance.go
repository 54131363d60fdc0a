package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/uuid"
	apiv1beta1 "github.com/kubeflow/pipelines/backend/api/v1beta1/go_client"
	"github.com/kubeflow/pipelines/backend/src/common/util"
	"google.golang.org/grpc/metadata"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// runSim is the sandbox's view of one run's Argo workflow: the persistence
// agent and the workflow controller in one.
type runSim struct {
	runID   string
	name    string // the workflow name
	wf      *wfv1.Workflow
	created time.Time
	script  Script

	root      *simNode // nil until the workflow starts
	wfStart   time.Time
	wfPhase   wfv1.WorkflowPhase // set for run-level outcomes and manual advances
	wfMessage string

	manual       bool
	terminatedAt time.Time
	lastReport   string // signature of the last status reported
	done         bool   // a final phase was reported

	deletedAt time.Time // when the workflow and its pods were deleted (GCRun); zero = they exist
	gone      bool      // KFP refused a report for good (the run was deleted, and with it the workflow)
	rv        int64     // the workflow's Kubernetes resourceVersion (workflows.go)
	createdRV int64     // and the one it was created with
}

func metaTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// discoverLocked starts tracking workflows KFP created since the last call.
// It runs right after every KFP request, so a run's creation time and the
// script chosen for it are those of the request that created it.
func (s *Sandbox) discoverLocked() {
	if s.kfp == nil {
		return
	}
	fake := s.kfp.cm.ExecClientFake
	if fake.GetWorkflowCount() == len(s.runs) {
		return
	}
	names := make([]string, 0, fake.GetWorkflowCount())
	for name := range fake.GetWorkflowKeys() {
		if _, ok := s.runs[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	now := s.clock.Now()
	for _, name := range names {
		spec, err := fake.Execution(s.opts.Namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			s.log.Error("sandbox: read workflow", "workflow", name, "err", err)
			continue
		}
		wf := spec.(*util.Workflow).Workflow
		r := &runSim{name: name, wf: wf, created: now, runID: wf.Labels[util.LabelKeyWorkflowRunId]}
		scheduled := wf.Labels[util.LabelKeyWorkflowIsOwnedByScheduledWorkflow] == "true"
		if run, err := s.kfp.rm.GetRun(r.runID); err == nil {
			r.script = s.scriptFor(run.DisplayName)
		} else if scheduled {
			// KFP names a scheduled run after its workflow.
			r.script = s.scriptFor(wf.Name)
		}
		// The Kubernetes API server sets these on creation (the schedule
		// controller's creates already have them); KFP's report path
		// requires the UID.
		if wf.UID == "" {
			wf.UID = types.UID(uuid.NewString())
			wf.CreationTimestamp = metaTime(now)
		}
		s.runs[name] = r
		s.byRunID[r.runID] = r
		s.bumpLocked(r)
		r.createdRV = r.rv
		if scheduled {
			// A scheduled run exists in KFP only once the persistence
			// agent reports its workflow, which it does as soon as the
			// workflow appears.
			if err := s.reportPendingLocked(r); err != nil {
				s.log.Error("sandbox: report scheduled workflow", "workflow", name, "err", err)
				r.gone, r.done = true, true
			}
		}
	}
}

// reportPendingLocked reports a workflow Argo has not started yet.
func (s *Sandbox) reportPendingLocked(r *runSim) error {
	st := wfv1.WorkflowStatus{Phase: wfv1.WorkflowPending}
	r.wf.Status = st
	if err := s.sendReportLocked(r); err != nil {
		return err
	}
	r.lastReport = signature(st)
	return nil
}

var retryPath = regexp.MustCompile(`^/apis/(?:v2beta1/runs/([^/]+):retry|v1beta1/runs/([^/]+)/retry)$`)

// afterLocked follows up a KFP request that succeeded. A retry makes KFP
// set the run RUNNING and hand Argo a retried workflow (which the fake
// client drops), so the sandbox starts the run's simulation over: a new
// attempt, with the script chosen again by the run's name.
func (s *Sandbox) afterLocked(req *http.Request) {
	if req.Method != http.MethodPost {
		return
	}
	m := retryPath.FindStringSubmatch(req.URL.Path)
	if m == nil {
		return
	}
	r, ok := s.byRunID[m[1]+m[2]]
	if !ok {
		return
	}
	now := s.clock.Now()
	if run, err := s.kfp.rm.GetRun(r.runID); err == nil {
		r.script = s.scriptFor(run.DisplayName)
	}
	r.wf.Spec.ActiveDeadlineSeconds = nil
	r.wf.Status = wfv1.WorkflowStatus{}
	delete(r.wf.Labels, labelCompleted)
	r.root, r.wfPhase, r.wfMessage, r.manual = nil, "", "", false
	r.terminatedAt, r.lastReport, r.done = time.Time{}, "", false
	// KFP's retry creates the workflow again.
	r.deletedAt = time.Time{}
	r.created = now.Add(-s.opts.StepDuration) // KFP already says RUNNING: start now
	s.bumpLocked(r)
}

// Tick advances every run to the sandbox clock's now and reports changes
// through KFP's report server. The background loop calls it every
// Options.Tick; tests with their own clock call it directly.
func (s *Sandbox) Tick() {
	if !s.acquire(context.Background(), "sandbox call") {
		return
	}
	defer s.release()
	s.tickLocked()
}

func (s *Sandbox) tickLocked() {
	defer s.notifyLocked()
	s.discoverLocked()
	// The schedule controller runs last, so a run that ends now makes room
	// under max_concurrency now.
	defer s.syncSchedulesLocked()
	now := s.clock.Now()
	names := make([]string, 0, len(s.runs))
	for name, r := range s.runs {
		if !r.done {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		r := s.runs[name]
		if ads := r.wf.Spec.ActiveDeadlineSeconds; ads != nil && *ads == 0 && r.terminatedAt.IsZero() {
			// KFP's terminate patched the workflow and set CANCELING; Argo
			// stops it and the agent reports the final phase.
			r.terminatedAt = now
			if r.root != nil {
				terminate(r.root, now)
			}
			r.wfPhase, r.wfMessage = wfv1.WorkflowFailed, stopMessage
		}
		if !r.manual && r.root == nil && r.terminatedAt.IsZero() && !now.Before(r.created.Add(s.opts.StepDuration)) {
			s.startLocked(r, r.created.Add(s.opts.StepDuration))
		}
		if (r.lastReport == "" || r.lastReport == string(wfv1.WorkflowPending)) && !r.manual && !r.wfStart.IsZero() && r.wfStart.Before(now) {
			// A late tick must not skip RUNNING: report the start first,
			// as the persistence agent would have seen it.
			if err := s.reportLocked(r, r.wfStart); err != nil {
				s.log.Error("sandbox: report workflow", "run", r.runID, "err", err)
			}
		}
		if err := s.reportLocked(r, now); err != nil {
			// In-process reports only fail for good (e.g. the run was
			// deleted): stop advancing this run rather than retry forever.
			s.log.Error("sandbox: report workflow; no longer advancing this run", "run", r.runID, "err", err)
			r.done, r.gone = true, true
		}
	}
}

// startLocked builds the run's node tree and schedules it from t.
func (s *Sandbox) startLocked(r *runSim, t time.Time) {
	root, err := s.buildTreeLocked(r)
	if err != nil {
		s.log.Error("sandbox: expand workflow", "run", r.runID, "err", err)
		r.wfStart, r.wfPhase, r.wfMessage = t, wfv1.WorkflowError, err.Error()
		return
	}
	r.root, r.wfStart = root, t
	if rs := r.script.Run; rs != nil {
		switch rs.Outcome {
		case OutcomeHang:
			// The run goes RUNNING and nothing in it ever finishes.
			root.reached, root.start, root.live = true, t, wfv1.NodeRunning
			return
		case OutcomeFail:
			msg := rs.Message
			if msg == "" {
				msg = "workflow failed (scripted)"
			}
			root.reached, root.start, root.end, root.phase, root.message = true, t, t, wfv1.NodeFailed, msg
			return
		}
	}
	schedule(root, t, outcomes{pod: s.outcome(r), skip: func(task string) bool {
		return r.script.Tasks[task].Outcome == OutcomeSkip
	}})
}

// outcome answers for each executor and importer: the script's outcome, or
// an image pull failure when the image should be in the sandbox registry
// and is not.
func (s *Sandbox) outcome(r *runSim) outcomeFunc {
	return func(n *simNode) (wfv1.NodePhase, time.Duration, bool, string, []string) {
		ts := r.script.Tasks[n.irTask]
		d := s.opts.StepDuration
		if ts.Seconds > 0 {
			d = time.Duration(ts.Seconds * float64(time.Second))
		}
		if msg := s.registry.check(n.image); msg != "" {
			return wfv1.NodeFailed, d, false, msg, []string{
				fmt.Sprintf("Pulling image %q", n.image),
				"Error: " + msg,
			}
		}
		log := ts.lines(n.irTask)
		if len(log) == 0 {
			log = []string{
				fmt.Sprintf("I sandbox: running task %s", n.irTask),
				fmt.Sprintf("I sandbox: image %s", n.image),
			}
		}
		if ts.LogLines == 0 {
			log = append([]string(nil), log...)
		}
		switch ts.Outcome {
		case OutcomeFail:
			msg := ts.Message
			if msg == "" {
				msg = "Error (exit code 1)"
			}
			return wfv1.NodeFailed, d, false, msg, append(log, msg)
		case OutcomeHang:
			return wfv1.NodeRunning, d, true, "", log
		}
		if len(ts.Log) == 0 && ts.LogLines == 0 {
			log = append(log, fmt.Sprintf("I sandbox: task %s succeeded", n.irTask))
		}
		return wfv1.NodeSucceeded, d, false, ts.Message, log
	}
}

// statusAt computes the workflow's Argo status at t.
func (r *runSim) statusAt(t time.Time) (wfv1.WorkflowStatus, bool) {
	var st wfv1.WorkflowStatus
	if r.wfStart.IsZero() && r.wfPhase == "" {
		return st, false // still pending: nothing for the agent to report
	}
	st.StartedAt = metaTime(r.wfStart)
	if r.wfStart.IsZero() {
		st.StartedAt = metaTime(t)
	}
	if r.root != nil {
		st.Nodes = nodesAt(r.root, r.wf, t)
	}
	switch {
	case r.wfPhase != "":
		st.Phase, st.Message = r.wfPhase, r.wfMessage
	case r.root != nil && !r.root.end.IsZero() && !r.root.end.After(t):
		st.Phase, st.Message = wfv1.WorkflowPhase(r.root.phase), r.root.message
	default:
		st.Phase = wfv1.WorkflowRunning
	}
	if st.Phase.Completed() {
		end := t
		if !r.terminatedAt.IsZero() {
			end = r.terminatedAt
		} else if r.root != nil && !r.root.end.IsZero() && r.wfPhase == "" {
			end = r.root.end
		}
		st.FinishedAt = metaTime(end)
	}
	return st, true
}

// reportLocked sends the status at t through ReportWorkflowV1 if it changed
// since the last report: the same call, with the same effects on runs and
// task_details, as KFP's persistence agent makes.
func (s *Sandbox) reportLocked(r *runSim, t time.Time) error {
	st, ok := r.statusAt(t)
	if !ok {
		return nil
	}
	sig := signature(st)
	if sig == r.lastReport {
		return nil
	}
	r.wf.Status = st
	if st.Phase.Completed() {
		// Argo labels a workflow when it completes; the schedule
		// controller counts the unlabelled ones as active.
		if r.wf.Labels == nil {
			r.wf.Labels = map[string]string{}
		}
		r.wf.Labels[labelCompleted] = "true"
	}
	if err := s.sendReportLocked(r); err != nil {
		return err
	}
	r.lastReport = sig
	if st.Phase.Completed() {
		r.done = true
	}
	return nil
}

// sendReportLocked sends the workflow as it is through ReportWorkflowV1,
// authenticated as the persistence agent.
func (s *Sandbox) sendReportLocked(r *runSim) error {
	body, err := json.Marshal(r.wf)
	if err != nil {
		return err
	}
	ctx := metadata.NewIncomingContext(context.Background(),
		metadata.Pairs("authorization", "Bearer "+s.agentToken))
	if _, err = s.kfp.report.ReportWorkflowV1(ctx, &apiv1beta1.ReportWorkflowRequest{Workflow: string(body)}); err != nil {
		return err
	}
	s.bumpLocked(r)
	return nil
}

func signature(st wfv1.WorkflowStatus) string {
	var b strings.Builder
	b.WriteString(string(st.Phase))
	ids := make([]string, 0, len(st.Nodes))
	for id := range st.Nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "|%s=%s", id, st.Nodes[id].Phase)
	}
	return b.String()
}

// Advance is a manual status change for one run, as the control API's
// POST /_sandbox/runs/{id}/advance takes it. Phases are Argo's.
type Advance struct {
	Phase   string                 `json:"phase"`
	Tasks   map[string]TaskAdvance `json:"tasks,omitempty"`
	Message string                 `json:"message,omitempty"`
}

// TaskAdvance sets one IR task's Argo node phase.
type TaskAdvance struct {
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
}

var argoPhases = map[string]wfv1.NodePhase{
	"Pending": wfv1.NodePending, "Running": wfv1.NodeRunning, "Succeeded": wfv1.NodeSucceeded,
	"Failed": wfv1.NodeFailed, "Error": wfv1.NodeError, "Skipped": wfv1.NodeSkipped, "Omitted": wfv1.NodeOmitted,
}

// runLocked takes the sandbox lock for a control call on runID and finds
// its simulation; the caller defers release. op names the call in errors.
func (s *Sandbox) runLocked(op, runID string) (r *runSim, release func(), err error) {
	if !s.acquire(context.Background(), "sandbox call") {
		return nil, nil, fmt.Errorf("sandbox closed")
	}
	s.discoverLocked()
	r, ok := s.byRunID[runID]
	if !ok {
		s.release()
		return nil, nil, fmt.Errorf("%s %q: %w", op, runID, ErrUnknownRun)
	}
	return r, s.release, nil
}

func isFinal(p wfv1.NodePhase) bool {
	return p != wfv1.NodePending && p != wfv1.NodeRunning && p != ""
}

// AdvanceRun takes a run out of auto-advance and sets its workflow to the
// given phases, then reports it. Tasks not named are left Pending while the
// run is Running, Succeeded when it Succeeded and Omitted when it failed,
// like the persistence agent would see them.
func (s *Sandbox) AdvanceRun(runID string, a Advance) error {
	r, release, err := s.runLocked("advance run", runID)
	if err != nil {
		return err
	}
	defer release()
	phase, ok := argoPhases[a.Phase]
	if !ok || phase == wfv1.NodeSkipped || phase == wfv1.NodeOmitted {
		return fmt.Errorf("advance run %q: phase %q is not one of Pending, Running, Succeeded, Failed, Error", runID, a.Phase)
	}
	for task, ta := range a.Tasks {
		if _, ok := argoPhases[ta.Phase]; !ok {
			return fmt.Errorf("advance run %q: task %q: unknown phase %q", runID, task, ta.Phase)
		}
	}
	now := s.clock.Now()
	if r.root == nil || !r.manual {
		root, err := s.buildTreeLocked(r)
		if err != nil {
			return fmt.Errorf("advance run %q: %w", runID, err)
		}
		r.root = root
	}
	r.manual, r.done = true, false
	if r.wfStart.IsZero() && phase != wfv1.NodePending {
		r.wfStart = now
	}
	r.wfPhase, r.wfMessage = wfv1.WorkflowPhase(phase), a.Message
	if phase == wfv1.NodePending {
		r.wfPhase = wfv1.WorkflowPending
	}
	manual(r.root, phase, a.Tasks, now, true)
	if phase != wfv1.NodePending {
		r.root.reached = true
	}
	defer s.notifyLocked()
	return s.reportLocked(r, now)
}

// manual applies a manual advance bottom-up: leaves from the request (or the
// default for the run phase), drivers when what they drive has started,
// DAGs from their children.
func manual(n *simNode, run wfv1.NodePhase, tasks map[string]TaskAdvance, now time.Time, isRoot bool) {
	switch n.kind {
	case kindExecutor, kindImporter:
		ta, named := tasks[n.irTask]
		p := argoPhases[ta.Phase]
		if !named {
			switch {
			case n.reached && isFinal(n.phase) && !n.end.IsZero():
				return // keep what an earlier advance set
			case run == wfv1.NodeSucceeded:
				p = wfv1.NodeSucceeded
			case run == wfv1.NodeFailed || run == wfv1.NodeError:
				if n.reached {
					p = wfv1.NodeFailed
				} else {
					p = wfv1.NodeOmitted
				}
			default:
				return
			}
		}
		if !n.reached {
			n.reached, n.start = true, now
		}
		n.message = ta.Message
		if isFinal(p) {
			if n.end.IsZero() || n.phase != p {
				n.end = now
			}
			n.phase = p
			if p == wfv1.NodeFailed && ta.Message != "" {
				n.log = []string{fmt.Sprintf("I sandbox: running task %s", n.irTask), ta.Message}
			}
		} else {
			n.end, n.live = time.Time{}, p
		}
		if len(n.log) == 0 {
			n.log = []string{fmt.Sprintf("I sandbox: running task %s", n.irTask)}
		}
		return
	case kindDriver, kindPod:
		return // set by the parent below
	}
	for _, c := range n.children {
		manual(c, run, tasks, now, false)
	}
	byTask := map[string]*simNode{}
	for _, c := range n.children {
		byTask[c.taskName] = c
	}
	for _, c := range n.children {
		if c.kind != kindDriver && c.kind != kindPod {
			continue
		}
		base := strings.TrimSuffix(c.taskName, "-driver")
		target := byTask[base]
		if target == nil {
			target = byTask[base+"-iterations"]
		}
		if target != nil && target.reached {
			c.reached, c.start, c.end, c.phase = true, target.start, target.start, wfv1.NodeSucceeded
		}
	}
	n.reached, n.start = false, time.Time{}
	allFinal, failed, allOmitted := true, false, true
	var end time.Time
	for _, c := range n.children {
		if !c.reached {
			allFinal = false
			continue
		}
		if !n.reached || c.start.Before(n.start) {
			n.reached, n.start = true, c.start
		}
		if c.end.IsZero() {
			allFinal = false
			continue
		}
		if c.end.After(end) {
			end = c.end
		}
		if c.phase == wfv1.NodeFailed || c.phase == wfv1.NodeError {
			failed = true
		}
		if c.phase != wfv1.NodeOmitted {
			allOmitted = false
		}
	}
	if isRoot && !n.reached && run != wfv1.NodePending {
		n.reached, n.start = true, now
	}
	switch {
	case !n.reached:
	case failed && (allFinal || isFinal(run)):
		n.end, n.phase, n.message = end, wfv1.NodeFailed, "child failed"
	case allFinal && allOmitted && !isRoot:
		n.end, n.phase = end, wfv1.NodeOmitted
	case allFinal:
		n.end, n.phase = end, wfv1.NodeSucceeded
	default:
		n.end, n.live = time.Time{}, wfv1.NodeRunning
	}
}

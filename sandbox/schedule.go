package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/uuid"
	"github.com/kubeflow/pipelines/backend/src/common/util"
	swfclient "github.com/kubeflow/pipelines/backend/src/crd/controller/scheduledworkflow/client"
	swfutil "github.com/kubeflow/pipelines/backend/src/crd/controller/scheduledworkflow/util"
	swfapi "github.com/kubeflow/pipelines/backend/src/crd/pkg/apis/scheduledworkflow/v1beta1"
	k8errors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8schema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// This file is the sandbox's scheduled-workflow controller: KFP's
// backend/src/crd/controller/scheduledworkflow, which turns recurring runs
// (ScheduledWorkflow objects) into Argo workflows. Its controller.go is
// package main, so the sandbox cannot import it; syncScheduleLocked follows
// its syncHandler step by step and leaves every decision to KFP's packages:
// the controller's util (when the next run is due, catchup, max_concurrency,
// enabled, the workflow's name, labels, parameters and owner, the status
// update) and its client.WorkflowClient (listing active and completed
// workflows by label, creating them). The workflows it creates are
// discovered like those of API-created runs and reported through KFP's
// report server, where ReportWorkflowResource creates their runs, as the
// persistence agent makes it do in a cluster.
//
// Not simulated: the controller's workqueue delays (it requeues a schedule
// 10 s after each submission and resyncs every 30 s); here every schedule is
// synced on every tick, and a sync repeats at once while it submits. The
// persistence agent's ReportScheduledWorkflow (which rewrites the recurring
// run's row, updated_at included, whenever the object changes) is not made.

// cronLocation is the controller's time zone: CRON_SCHEDULE_TIMEZONE from
// the pipeline-install-config key cronScheduleTimezone, "UTC" in KFP's
// manifests.
var cronLocation = time.UTC

// maxSubmitsPerSync bounds the submissions of one schedule in one sync. KFP's
// max_concurrency (at most 10) already does; this only guards a loop.
const maxSubmitsPerSync = 100

// scheduleWorkflows is the controller's view of Argo workflows: KFP's
// client.WorkflowClient over the fake Argo client, through the two
// adapters below.
func (s *Sandbox) scheduleWorkflows() *swfclient.WorkflowClient {
	return swfclient.NewWorkflowClient(execClient{s}, execInformer{s})
}

// syncSchedulesLocked syncs every scheduled workflow, in name order.
func (s *Sandbox) syncSchedulesLocked() {
	if s.kfp == nil {
		return
	}
	for _, key := range s.kfp.cm.swf.keys() {
		for i := 0; i < maxSubmitsPerSync; i++ {
			submitted, err := s.syncScheduleLocked(context.Background(), key)
			s.discoverLocked()
			s.logSyncError(key, err)
			if !submitted || err != nil {
				break
			}
		}
	}
}

// logSyncError logs a schedule's sync error when it differs from the last
// one, since a failing schedule fails again on every tick.
func (s *Sandbox) logSyncError(key string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if s.syncErrs[key] == msg {
		return
	}
	if msg == "" {
		delete(s.syncErrs, key)
		return
	}
	s.syncErrs[key] = msg
	s.log.Error("sandbox: sync scheduled workflow", "swf", key, "err", err)
}

// syncScheduleLocked is the controller's syncHandler for one schedule: list
// its active and completed workflows, submit the next one if it is due,
// then store the updated status. It reports whether it submitted.
func (s *Sandbox) syncScheduleLocked(ctx context.Context, key string) (bool, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return false, err
	}
	obj, err := s.kfp.cm.swf.ScheduledWorkflow(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, nil // deleted since the keys were read
	}
	swf := swfutil.NewScheduledWorkflow(obj.DeepCopy())
	nowEpoch := s.clock.Now().Unix()
	wfc := s.scheduleWorkflows()
	active, err := wfc.List(swf.Name, false, 0)
	if err != nil {
		return false, err
	}
	completed, err := wfc.List(swf.Name, true, swf.MinIndex())
	if err != nil {
		return false, err
	}
	next, runNow := swf.GetNextScheduledEpoch(int64(len(active)), nowEpoch, *cronLocation)
	submitted := false
	if runNow {
		wfName := swf.NextResourceName()
		_, notFound, err := wfc.Get(swf.Namespace, wfName)
		switch {
		case err == nil:
			submitted = true // created by an earlier sync whose status update was lost
		case !notFound:
			return false, err
		default:
			wf, err := swf.NewWorkflow(next, nowEpoch)
			if err != nil {
				return false, err
			}
			if _, err := wfc.Create(ctx, swf.Namespace, wf); err != nil {
				return false, err
			}
			submitted = true
		}
	}
	updated := swfutil.NewScheduledWorkflow(swf.Get().DeepCopy())
	updated.UpdateStatus(nowEpoch, submitted, next, active, completed, cronLocation)
	if _, err := s.kfp.cm.swf.ScheduledWorkflow(namespace).Update(ctx, updated.Get()); err != nil {
		return submitted, err
	}
	return submitted, nil
}

// nextTriggerLocked is the earliest next trigger time of an enabled
// schedule after the last sync, or the zero time if there is none.
func (s *Sandbox) nextTriggerLocked() time.Time {
	var next time.Time
	for _, swf := range s.kfp.cm.swf.snapshot() {
		t := swf.Status.Trigger.NextTriggeredTime
		if !swf.Spec.Enabled || t == nil {
			continue
		}
		if next.IsZero() || t.Time.Before(next) {
			next = t.Time
		}
	}
	return next
}

// execClient is the Argo clientset the controller creates workflows with:
// the fake Argo client, plus what the Kubernetes API server does on a
// namespaced create (namespace, UID, creation time).
type execClient struct{ s *Sandbox }

func (c execClient) Execution(namespace string) util.ExecutionInterface {
	return execNamespace{ExecutionInterface: c.s.kfp.cm.ExecClientFake.Execution(namespace), ns: namespace, clock: c.s.clock}
}

type execNamespace struct {
	util.ExecutionInterface
	ns    string
	clock Clock
}

func (e execNamespace) Create(ctx context.Context, spec util.ExecutionSpec, opts metav1.CreateOptions) (util.ExecutionSpec, error) {
	wf, ok := spec.(*util.Workflow)
	if !ok {
		return nil, fmt.Errorf("sandbox: not an Argo workflow: %T", spec)
	}
	wf.Namespace = e.ns
	wf.UID = types.UID(uuid.NewString())
	wf.CreationTimestamp = metaTime(e.clock.Now())
	return e.ExecutionInterface.Create(ctx, wf, opts)
}

// execInformer is the controller's workflow informer, read straight from
// the fake Argo client (so always in sync). Workflows the sandbox deleted
// (GCRun, or KFP deleting the run) are gone from it.
type execInformer struct{ s *Sandbox }

var _ util.ExecutionInformer = execInformer{}

// AddEventHandler does nothing: the sandbox syncs every schedule on every
// tick instead of on workflow events.
func (execInformer) AddEventHandler(cache.ResourceEventHandler) {}
func (execInformer) HasSynced() func() bool                     { return func() bool { return true } }
func (execInformer) InformerFactoryStart(<-chan struct{})       {}

func (i execInformer) Get(namespace, name string) (util.ExecutionSpec, bool, error) {
	wf, ok := i.workflow(name)
	if !ok || wf.Namespace != namespace {
		return nil, true, k8errors.NewNotFound(k8schema.ParseGroupResource("workflows.argoproj.io"), name)
	}
	return util.NewWorkflow(wf), false, nil
}

func (i execInformer) List(sel *labels.Selector) (util.ExecutionSpecList, error) {
	fake := i.s.kfp.cm.ExecClientFake
	names := make([]string, 0, fake.GetWorkflowCount())
	for name := range fake.GetWorkflowKeys() {
		names = append(names, name)
	}
	sort.Strings(names)
	var out util.ExecutionSpecList
	for _, name := range names {
		if wf, ok := i.workflow(name); ok && (sel == nil || (*sel).Matches(labels.Set(wf.Labels))) {
			out = append(out, util.NewWorkflow(wf))
		}
	}
	return out, nil
}

func (i execInformer) workflow(name string) (*wfv1.Workflow, bool) {
	if r, ok := i.s.runs[name]; ok && (r.gone || !r.deletedAt.IsZero()) {
		return nil, false
	}
	spec, err := i.s.kfp.cm.ExecClientFake.Execution(i.s.opts.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, false
	}
	return spec.(*util.Workflow).Workflow, true
}

// ManualClock is a Clock that moves only when told to: the sandbox's
// --clock manual mode, advanced by AdvanceClock.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock standing at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *ManualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// ErrNoManualClock is returned by AdvanceClock when the sandbox's clock is
// not a ManualClock.
var ErrNoManualClock = errors.New("the sandbox clock is not manual (start it with --clock manual)")

// maxAdvance bounds one AdvanceClock, and maxAdvanceSteps the instants it
// stops at, so a control call cannot hold the lock for long.
const (
	maxAdvance      = 366 * 24 * time.Hour
	maxAdvanceSteps = 100000
)

// AdvanceClock moves a ManualClock forward by d, stopping at every instant
// where something happens on the way: a schedule comes due, or a run's
// workflow changes. At each stop (and at the start, so d = 0 processes what
// is due now) it does what the background tick does with a real clock:
// syncs every schedule, which creates the due runs, and advances and
// reports every run. It returns the clock's new time.
func (s *Sandbox) AdvanceClock(d time.Duration) (time.Time, error) {
	mc, ok := s.clock.(*ManualClock)
	if !ok {
		return time.Time{}, ErrNoManualClock
	}
	if d < 0 || d > maxAdvance {
		return time.Time{}, fmt.Errorf("advance clock: %s is not between 0 and %s", d, maxAdvance)
	}
	if !s.acquire(context.Background(), "advance clock") {
		return time.Time{}, fmt.Errorf("sandbox closed")
	}
	defer s.release()
	target := mc.Now().Add(d)
	for step := 0; ; step++ {
		s.tickLocked()
		now := mc.Now()
		if !now.Before(target) {
			return now, nil
		}
		if step == maxAdvanceSteps {
			return now, fmt.Errorf("advance clock: stopped at %s after %d steps; advance by less at a time", now.Format(time.RFC3339), step)
		}
		mc.set(s.nextEventLocked(now, target))
	}
}

// nextEventLocked is the first instant after now, and at most until, at
// which a schedule comes due or a run's workflow changes.
func (s *Sandbox) nextEventLocked(now, until time.Time) time.Time {
	next := until
	consider := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	if t := s.nextTriggerLocked(); !t.IsZero() {
		if !t.After(now) {
			// Due but held back (max_concurrency): it runs once a run
			// ends, which the runs' own events below bring.
			t = time.Time{}
		}
		consider(t)
	}
	for _, r := range s.runs {
		if r.done || r.manual {
			continue
		}
		if r.root == nil {
			consider(r.created.Add(s.opts.StepDuration))
			continue
		}
		r.root.events(consider)
	}
	return next
}

// events calls f with every start and end time in the node's schedule.
func (n *simNode) events(f func(time.Time)) {
	if !n.reached {
		return
	}
	f(n.start)
	if !n.end.IsZero() {
		f(n.end)
	}
	for _, c := range n.children {
		c.events(f)
	}
}

// keys lists the scheduled workflows as namespace/name, sorted.
func (f *swfFake) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.items))
	for k := range f.items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// snapshot returns the scheduled workflows as stored.
func (f *swfFake) snapshot() []*swfapi.ScheduledWorkflow {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*swfapi.ScheduledWorkflow, 0, len(f.items))
	for _, s := range f.items {
		out = append(out, s)
	}
	return out
}

// clockControl serves GET /_sandbox/clock: the sandbox's time, and whether
// it is manual.
func (s *Sandbox) clockControl(w http.ResponseWriter, r *http.Request) {
	_, manual := s.clock.(*ManualClock)
	writeJSON(w, http.StatusOK, clockState{Now: s.clock.Now().UTC().Format(time.RFC3339Nano), Manual: manual})
}

type clockState struct {
	Now    string `json:"now"`
	Manual bool   `json:"manual"`
}

// advanceClockControl serves POST /_sandbox/clock/advance?by=DURATION (see
// AdvanceClock).
func (s *Sandbox) advanceClockControl(w http.ResponseWriter, r *http.Request) {
	by, err := time.ParseDuration(r.URL.Query().Get("by"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "by: want a Go duration such as 10s: " + err.Error()})
		return
	}
	now, err := s.AdvanceClock(by)
	switch {
	case errors.Is(err, ErrNoManualClock):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, clockState{Now: now.UTC().Format(time.RFC3339Nano), Manual: true})
	}
}

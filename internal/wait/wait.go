// Package wait follows a submitted run until it reaches a final state, the
// client-side timeout passes or the context is cancelled. It polls with
// backoff, reports each change of the run's or a task's state once (never a
// line per poll), and on failure fetches the tail of each failed task's pod
// log for triage. It writes the pipeline's Outcome; it does not terminate
// runs (the caller decides that on interrupt or timeout).
package wait

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// API is the part of the KFP client wait uses.
type API interface {
	GetRun(ctx context.Context, id string) (kfp.Run, error)
	StepLog(ctx context.Context, run kfp.Run, s kfp.Step, minor int, limit int64) (kfp.StepLog, error)
}

// Event is a change worth a line in the log.
type Event struct {
	Pipeline string
	Task     string // empty for the run itself
	State    kfp.RunState
	Duration time.Duration // of the task, when it ended
	// Heartbeat is set on the periodic "still running" event.
	Heartbeat bool
	Elapsed   time.Duration
	Done      int // tasks in a final state
	Total     int
}

func (e Event) String() string {
	switch {
	case e.Heartbeat:
		return fmt.Sprintf("%s: still %s after %s (%d/%d tasks done)", e.Pipeline, e.State, e.Elapsed.Round(time.Second), e.Done, e.Total)
	case e.Task == "":
		return fmt.Sprintf("%s: run %s", e.Pipeline, e.State)
	case e.Duration > 0:
		return fmt.Sprintf("%s: task %s %s (%s)", e.Pipeline, e.Task, e.State, e.Duration.Round(time.Second))
	default:
		return fmt.Sprintf("%s: task %s %s", e.Pipeline, e.Task, e.State)
	}
}

// Options tune the poll loop. Zero values take the defaults.
type Options struct {
	// Interval is ForRun's first poll interval (default 1s); it grows by
	// half each poll up to MaxInterval (default 15s), with ±20% jitter.
	// All reads no more often than that schedule did for two runs
	// (pollBudget), and shapes its tick in units of Interval.
	Interval, MaxInterval time.Duration
	// Heartbeat is how often a "still running" event is sent without any
	// change (default 3m).
	Heartbeat time.Duration
	// LogLines is how many trailing log lines of a failed task are kept
	// (default 40).
	LogLines int
	// MaxFailures caps how many failed steps get their log fetched
	// (default 10); the rest are counted.
	MaxFailures int
	// KFPMinor is the server's KFP 2.x minor version, -1 if unknown: it
	// orders the pod names tried for logs. Zero means 2.0.
	KFPMinor int
	// Slow is the longest tick of All (default 30s), History how many
	// past successful runs it reads to learn how long a pipeline takes
	// (default 20; negative: none), DetailEvery how often it reads a run's
	// tasks when ListRuns has none (task API; default: only on a change of
	// state), and Watch the news of a watch on the runs' workflows (nil:
	// none).
	Slow        time.Duration
	History     int
	DetailEvery time.Duration
	Watch       <-chan WatchEvent
	// Now and After are the clock (default time.Now and time.After).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// OnEvent receives changes and heartbeats; OnPoll receives every
	// poll's view (for a live status line). Both may be nil.
	OnEvent func(Event)
	OnPoll  func(name string, run kfp.Run, tasks []kfp.Task)
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = 15 * time.Second
	}
	if o.MaxInterval < o.Interval {
		o.MaxInterval = o.Interval
	}
	if o.Slow <= 0 {
		o.Slow = 30 * time.Second
	}
	if o.History == 0 {
		o.History = 20
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 3 * time.Minute
	}
	if o.LogLines <= 0 {
		o.LogLines = 40
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.OnEvent == nil {
		o.OnEvent = func(Event) {}
	}
}

// ErrTimeout is returned when the pipeline's timeout passed first.
var ErrTimeout = errors.New("timed out waiting for the run")

// ForRun polls p's run until it is final. It always returns an Outcome with
// the last state seen; the error is ErrTimeout, the context's error, or
// the last API error when polling failed for good.
func ForRun(ctx context.Context, api API, p *plan.Pipeline, o Options) (*plan.Outcome, error) {
	o.defaults()
	start := o.Now()
	t := newTracker(p, &o, start)
	var deadline <-chan time.Time
	if p.Timeout > 0 {
		deadline = o.After(p.Timeout)
	}
	interval := o.Interval
	for {
		// A poll never outlives the timeout: a hung server must not hold
		// exit code 4 back by minutes of retries.
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if p.Timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, max(p.Timeout-o.Now().Sub(start), time.Millisecond))
		}
		run, err := api.GetRun(pctx, p.Submission.RunID)
		timedOut := err != nil && pctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case timedOut:
			t.out.TimedOut = true
			return t.out, ErrTimeout
		case err == nil:
			t.failures = 0
			if t.observe(ctx, api, run) {
				return t.out, nil
			}
			t.heartbeat(o.Now())
		case ctx.Err() != nil:
			return t.out, ctx.Err()
		case kfp.IsNotFound(err):
			return t.out, fmt.Errorf("run %s: %w (was it deleted?)", p.Submission.RunID, err)
		default:
			// The client already retried transient failures; keep polling
			// through a few more outages before giving up.
			t.failures++
			if t.failures >= 5 {
				return t.out, fmt.Errorf("poll run %s: %w", p.Submission.RunID, err)
			}
		}
		select {
		case <-ctx.Done():
			return t.out, ctx.Err()
		case <-deadline:
			t.out.TimedOut = true
			return t.out, ErrTimeout
		case <-o.After(jittered(interval)):
		}
		interval = min(interval*3/2, o.MaxInterval)
	}
}

// tracker follows one run: it turns each view of the run into the
// Outcome and the events, once per change.
type tracker struct {
	p     *plan.Pipeline
	o     *Options
	index int // in All's pipelines
	out   *plan.Outcome
	names []string
	seen  map[string]kfp.RunState

	runState  kfp.RunState
	lastEvent time.Time
	run       kfp.Run
	tasks     []kfp.Task
	readAt    time.Time // the last GetRun
	finalSeen bool      // a watch said the workflow ended
	failures  int

	expect, spread time.Duration // from past runs (All)

	done bool
	err  error
}

func newTracker(p *plan.Pipeline, o *Options, start time.Time) *tracker {
	out := &plan.Outcome{Started: p.Submission.SubmittedAt}
	if out.Started.IsZero() {
		out.Started = start
	}
	return &tracker{p: p, o: o, out: out, names: taskNames(p), seen: map[string]kfp.RunState{}, runState: "?", lastEvent: start}
}

// observe takes a view of the run: events for what changed, and at a final
// state the triage of failed steps. It reports whether the run is final.
func (t *tracker) observe(ctx context.Context, api API, run kfp.Run) bool {
	o, out := t.o, t.out
	t.failures = 0
	t.run = run
	tasks := run.Tasks(t.names)
	t.tasks = tasks
	out.State, out.Tasks = run.State, tasks
	if !run.Finished.IsZero() {
		out.Finished = run.Finished
	}
	if !run.Created.IsZero() && run.Created.Before(out.Started) {
		out.Started = run.Created
	}
	now := o.Now()
	for _, task := range tasks {
		if prev, ok := t.seen[task.Name]; (ok || task.State != kfp.StateUnspecified) && prev != task.State {
			t.seen[task.Name] = task.State
			o.OnEvent(Event{Pipeline: t.p.Name, Task: task.Name, State: task.State, Duration: task.Duration()})
			t.lastEvent = now
		}
	}
	if run.State != t.runState {
		t.runState = run.State
		o.OnEvent(Event{Pipeline: t.p.Name, State: run.State})
		t.lastEvent = now
	}
	if o.OnPoll != nil {
		o.OnPoll(t.p.Name, run, tasks)
	}
	if !run.State.IsTerminal() {
		return false
	}
	if out.Finished.IsZero() {
		out.Finished = now
	}
	if !run.State.IsSuccess() {
		out.Failures, out.MoreFailures = triage(ctx, api, t.p, run, tasks, *o)
	}
	t.finish(nil)
	return true
}

// heartbeat sends the "still running" event after Heartbeat without one.
func (t *tracker) heartbeat(now time.Time) {
	if t.done || now.Sub(t.lastEvent) < t.o.Heartbeat {
		return
	}
	done := 0
	for _, task := range t.tasks {
		if task.State.IsTerminal() {
			done++
		}
	}
	t.o.OnEvent(Event{Pipeline: t.p.Name, State: t.run.State, Heartbeat: true, Elapsed: now.Sub(t.out.Started), Done: done, Total: len(t.tasks)})
	t.lastEvent = now
}

func (t *tracker) finish(err error) {
	if !t.done {
		t.done, t.err = true, err
	}
}

// mustDetail says whether a listed run without tasks must be read with
// its tasks: its state changed, or it ended. A run that has not started
// has no tasks to read.
func (t *tracker) mustDetail(listed kfp.Run) bool {
	if listed.State == kfp.StatePending || listed.State == kfp.StateUnspecified {
		return false
	}
	return listed.State != t.runState || listed.State.IsTerminal()
}

// mayDetail says whether a listed run without tasks is due a read of its
// tasks anyway: DetailEvery passed since the last.
func (t *tracker) mayDetail(listed kfp.Run, now time.Time) bool {
	if listed.State == kfp.StatePending || listed.State == kfp.StateUnspecified {
		return false
	}
	return t.o.DetailEvery > 0 && now.Sub(t.readAt) >= t.o.DetailEvery
}

func jittered(d time.Duration) time.Duration {
	return d*4/5 + time.Duration(rand.Int64N(int64(d*2/5)+1))
}

// taskNames are the IR tasks to follow: the root DAG's tasks in spec order.
func taskNames(p *plan.Pipeline) []string {
	if p.Spec == nil {
		return nil
	}
	names := make([]string, 0, len(p.Spec.Tasks))
	for _, t := range p.Spec.Tasks {
		names = append(names, t.Name)
	}
	return names
}

// triage finds the failed steps at any depth and fetches the tail of each
// one's log, a few at a time. A log that cannot be had is reported with
// the reason; triage never fails the wait. When the server's nodes cannot
// be put in a tree, the failed root tasks are reported without logs.
func triage(ctx context.Context, api API, p *plan.Pipeline, run kfp.Run, tasks []kfp.Task, o Options) ([]plan.Failure, int) {
	steps := run.Failed()
	if steps == nil {
		var out []plan.Failure
		for _, t := range tasks {
			if t.State == kfp.StateFailed {
				out = append(out, plan.Failure{Path: []string{t.Name}, Message: t.Message,
					NoLog: "the server's task list does not show which step failed"})
			}
		}
		return out, 0
	}
	more := 0
	if len(steps) > o.MaxFailures {
		more = len(steps) - o.MaxFailures
		steps = steps[:o.MaxFailures]
	}
	out := make([]plan.Failure, len(steps))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, s := range steps {
		out[i] = plan.Failure{Path: s.Path, Message: s.Message, Driver: s.Driver, Items: loopItems(p, s)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			l, err := api.StepLog(ctx, run, s, o.KFPMinor, 64<<10)
			if err != nil {
				out[i].NoLog = err.Error()
				return
			}
			out[i].Log, out[i].LogSource = lastLines(l.Text, o.LogLines), l.Source
		}()
	}
	wg.Wait()
	return out, more
}

// loopItems says the item of each loop iteration on the step's path, where
// the spec knows it.
func loopItems(p *plan.Pipeline, s kfp.Step) []string {
	var out []string
	for _, it := range s.Loops {
		items, ok := p.Spec.LoopItems(it.Loop, p.Parameters)
		if !ok || it.Index < 0 || it.Index >= len(items) {
			continue
		}
		b, err := json.Marshal(items[it.Index])
		if err != nil {
			continue
		}
		v := string(b)
		if len(v) > 80 {
			v = v[:79] + "…"
		}
		out = append(out, fmt.Sprintf("%s[%d] = %s", it.Loop, it.Index, v))
	}
	return out
}

func lastLines(s string, n int) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return []string{"(the log is empty)"}
	}
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return ls
}

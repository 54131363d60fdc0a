package wait

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// ListAPI is what All needs of the KFP client: ForRun's calls, every
// followed run in one request, and how long past runs took.
type ListAPI interface {
	API
	RunsByID(ctx context.Context, ids []string) (map[string]kfp.Run, error)
	PastRuns(ctx context.Context, experimentID string, n int) ([]kfp.PastRun, error)
}

// WatchEvent is news from a watch on the runs' Argo workflows: RunID's
// workflow changed (Final: it reached a final phase), or, with an empty
// RunID, the watch now holds (Holding) or was lost.
type WatchEvent struct {
	RunID   string
	Final   bool
	Holding bool
}

// Result is one pipeline's wait: its Outcome and the error, as ForRun
// returns them.
type Result struct {
	Outcome *plan.Outcome
	Err     error
}

// All follows the runs of pipelines together until each is final, timed
// out, or ctx is done. Without a watch it reads every unfinished run with
// one ListRuns a tick, and shapes the tick (see next) so that an end is
// seen within a few seconds when one is likely and the server is left
// alone when not; however many runs, it reads no more often than polling
// two runs one by one did (pollBudget). With o.Watch holding, it does not poll at all: it reads
// a run (GetRun) only when its workflow changed, at most once a second
// unless the change is final, and falls back to polling while the watch is
// lost. A listed run without tasks (the task API) is read with GetRun on a
// change of state, at its end and, when o.DetailEvery is set, that often.
func All(ctx context.Context, api ListAPI, pipelines []*plan.Pipeline, o Options) []Result {
	o.defaults()
	start := o.Now()
	res := make([]Result, len(pipelines))
	var ts []*tracker
	for i, p := range pipelines {
		if p.Submission == nil {
			continue
		}
		t := newTracker(p, &o, start)
		t.index = i
		ts = append(ts, t)
	}
	learn(ctx, api, ts, o)
	watching := false
	pending := map[string]bool{} // runs whose workflow changed, to read
	poll := true                 // read every run at the next turn
	polls := 0                   // reads so far that the budget counts (pollBudget)
	failures := 0
	for {
		active := ts[:0:0]
		for _, t := range ts {
			if !t.done {
				active = append(active, t)
			}
		}
		if len(active) == 0 {
			break
		}
		now := o.Now()
		for _, t := range active {
			if t.p.Timeout > 0 && now.Sub(start) >= t.p.Timeout {
				t.finish(ErrTimeout)
				t.out.TimedOut = true
			}
		}
		if ctx.Err() != nil {
			for _, t := range active {
				t.finish(ctx.Err())
			}
			break
		}
		if poll {
			poll = false
			polls++
			spare := pollsBy(o.Now().Sub(start), o) - polls
			extra, err := readAll(ctx, api, active, o, start, spare)
			polls += extra
			if err != nil {
				if ctx.Err() != nil {
					continue
				}
				failures++
				if failures >= 5 {
					for _, t := range active {
						t.finish(fmt.Errorf("poll runs: %w", err))
					}
					continue
				}
			} else {
				failures = 0
			}
		}
		now = o.Now()
		var later []string
		for id := range pending {
			t := byRun(active, id)
			if t == nil {
				delete(pending, id)
				continue
			}
			if !t.finalSeen && now.Sub(t.readAt) < time.Second {
				later = append(later, id)
				continue
			}
			delete(pending, id)
			readOne(ctx, api, t, o)
		}
		if !slices.ContainsFunc(active, func(t *tracker) bool { return !t.done }) {
			continue // all ended: the loop's top sees it
		}
		wait := o.Heartbeat
		nextPoll := now.Add(wait)
		if !watching {
			tick := o.Slow
			for _, t := range active {
				if !t.done {
					tick = min(tick, t.next(now))
				}
			}
			wait = jittered(tick)
			if b := pollBudget(polls, o) - now.Sub(start); b > wait {
				// Later, never earlier, than the budget allows; jittered
				// still, so jobs started together do not read in step.
				wait = b + time.Duration(rand.Int64N(int64(b/5)+1))
			}
			nextPoll = now.Add(wait)
		}
		for _, t := range active {
			if t.done {
				continue
			}
			t.heartbeat(now)
			wait = min(wait, max(t.lastEvent.Add(o.Heartbeat).Sub(now), time.Millisecond))
			if t.p.Timeout > 0 {
				wait = min(wait, max(t.p.Timeout-now.Sub(start), time.Millisecond))
			}
		}
		if len(later) > 0 {
			wait = min(wait, time.Second)
		}
		select {
		case <-ctx.Done():
		case <-o.After(wait):
			// A wake for a heartbeat or a timeout is not a tick.
			poll = !watching && !o.Now().Before(nextPoll)
		case ev := <-o.Watch:
			switch {
			case ev.RunID == "":
				if ev.Holding && !watching {
					poll = true // what changed before the watch held
				}
				watching = ev.Holding
				if !watching {
					poll = true
				}
			default:
				pending[ev.RunID] = true
				if t := byRun(ts, ev.RunID); t != nil && ev.Final {
					t.finalSeen = true
				}
			}
		}
	}
	for _, t := range ts {
		res[t.index] = Result{Outcome: t.out, Err: t.err}
	}
	return res
}

func byRun(ts []*tracker, id string) *tracker {
	for _, t := range ts {
		if t.p.Submission.RunID == id {
			return t
		}
	}
	return nil
}

// readAll reads the active runs with one ListRuns (per 200), and with
// GetRun those listed without tasks that need them: on a change of state
// and at the end always; every DetailEvery only as far as spare (what the
// budget has left) goes, the runs read longest ago first. It returns how
// many of those optional reads it made.
func readAll(ctx context.Context, api ListAPI, active []*tracker, o Options, start time.Time, spare int) (int, error) {
	active = slices.DeleteFunc(slices.Clone(active), func(t *tracker) bool { return t.done })
	if len(active) == 0 {
		return 0, nil
	}
	ids := make([]string, 0, len(active))
	for _, t := range active {
		ids = append(ids, t.p.Submission.RunID)
	}
	pctx, cancel := ctx, context.CancelFunc(func() {})
	if d := minTimeout(active); d > 0 {
		pctx, cancel = context.WithTimeout(ctx, max(d-o.Now().Sub(start), time.Millisecond))
	}
	runs, err := api.RunsByID(pctx, ids)
	cancel()
	if err != nil {
		return 0, err
	}
	now := o.Now()
	var due []*tracker // listed without tasks, DetailEvery passed
	for _, t := range active {
		r, ok := runs[t.p.Submission.RunID]
		if ok && len(r.Nodes) == 0 {
			// Listed without tasks (the task API): they are as the last
			// GetRun saw them, not gone.
			if t.mustDetail(r) {
				readOne(ctx, api, t, o)
				continue
			}
			r.Nodes = t.run.Nodes
			if t.mayDetail(r, now) {
				due = append(due, t)
			}
		}
		if !ok {
			readOne(ctx, api, t, o)
			continue
		}
		t.observe(ctx, api, r)
	}
	slices.SortStableFunc(due, func(a, b *tracker) int { return a.readAt.Compare(b.readAt) })
	extra := 0
	for _, t := range due[:max(0, min(spare, len(due)))] {
		if !t.done {
			readOne(ctx, api, t, o)
			extra++
		}
	}
	return extra, nil
}

func minTimeout(ts []*tracker) time.Duration {
	var d time.Duration
	for _, t := range ts {
		if t.p.Timeout > 0 && (d == 0 || t.p.Timeout < d) {
			d = t.p.Timeout
		}
	}
	return d
}

// readOne reads one run with its tasks.
func readOne(ctx context.Context, api ListAPI, t *tracker, o Options) {
	r, err := api.GetRun(ctx, t.p.Submission.RunID)
	switch {
	case err == nil:
		t.readAt = o.Now()
		t.observe(ctx, api, r)
	case ctx.Err() != nil:
	case kfp.IsNotFound(err):
		t.finish(fmt.Errorf("run %s: %w (was it deleted?)", t.p.Submission.RunID, err))
	default:
		t.failures++
		if t.failures >= 5 {
			t.finish(fmt.Errorf("poll run %s: %w", t.p.Submission.RunID, err))
		}
	}
}

// learn reads how long the last successful runs of each pipeline took: in
// the experiments followed, and where that says nothing of a pipeline (a
// new experiment, a pull request's preview), in the whole namespace. The
// tick is shaped around when a run is expected to end. Errors only lose
// the estimate.
func learn(ctx context.Context, api ListAPI, ts []*tracker, o Options) {
	if o.History < 0 {
		return
	}
	// One deadline for all: a hanging server must not hold the first
	// read back for long.
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	past := map[string][]kfp.PastRun{}
	read := func(exp string) []kfp.PastRun {
		if runs, ok := past[exp]; ok {
			return runs
		}
		runs, err := api.PastRuns(lctx, exp, o.History)
		if err != nil {
			runs = nil
		}
		past[exp] = runs
		return runs
	}
	for _, t := range ts {
		ds := durations(t, read(t.p.Submission.ExperimentID))
		if len(ds) < 2 && t.p.Submission.ExperimentID != "" {
			ds = durations(t, read(""))
		}
		t.expect, t.spread = expectation(ds)
	}
}

// durations are how long the past runs of t's pipeline took.
func durations(t *tracker, past []kfp.PastRun) []time.Duration {
	var ds []time.Duration
	name := ""
	if t.p.Spec != nil {
		name = t.p.Spec.Name
	}
	for _, r := range past {
		same := (t.p.Submission.PipelineID != "" && r.PipelineID == t.p.Submission.PipelineID) ||
			(r.PipelineID == "" && t.p.Submission.PipelineID == "" && name != "" && r.Pipeline == name)
		if same && r.ID != t.p.Submission.RunID {
			ds = append(ds, r.Finished.Sub(r.Created))
		}
	}
	return ds
}

// expectation is the median of past durations and how far around it a
// run may end: twice the median absolute deviation, at least 1/30 of the
// median and 3 s, at most half the median. Nothing is expected from
// fewer than two runs.
func expectation(ds []time.Duration) (expect, spread time.Duration) {
	if len(ds) < 2 {
		return 0, 0
	}
	median := func(xs []time.Duration) time.Duration {
		xs = slices.Clone(xs)
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
		n := len(xs)
		if n%2 == 1 {
			return xs[n/2]
		}
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	m := median(ds)
	dev := make([]time.Duration, len(ds))
	for i, d := range ds {
		dev[i] = max(d-m, m-d)
	}
	spread = max(2*median(dev), m/30, 3*time.Second)
	return m, min(spread, m/2)
}

// next is how long to wait before reading the run again: the tick's shape.
// Its unit is Interval (1 s): the end is due "near" (every 2.5 s, a
// median lag of about 1.25 s) or may come at any read (every 4 s). One ListRuns
// serves every run, and pollBudget caps the reads, whatever the shape.
//
//   - Past runs say when it should end (expect ± spread): wait half the
//     time left until the window opens (at most Slow, at least near), and
//     read every near inside it.
//   - Else (no past runs, or the run outlived the window): with only the
//     last tasks running, the end can come at any read (every 4 s);
//     with a task still to start, it is at least that task away (a tenth
//     of the time the newest running task has run, up to twice that). A
//     task that has run for long is likely to run for long yet: past 80 s,
//     every twentieth of its time so far, up to MaxInterval (15 s).
func (t *tracker) next(now time.Time) time.Duration {
	o := t.o
	near, anytime := 5*o.Interval/2, 4*o.Interval
	created := t.out.Started
	if !t.run.Created.IsZero() {
		created = t.run.Created
	}
	if t.expect > 0 {
		lo, hi := created.Add(t.expect-t.spread), created.Add(t.expect+t.spread)
		switch {
		case now.Before(lo):
			return clamp(lo.Sub(now)/2, near, o.Slow)
		case !now.After(hi):
			return near
		}
	}
	from, toCome := created, false
	for _, task := range t.tasks {
		if task.State == kfp.StateRunning && task.Start.After(from) {
			from = task.Start
		}
		toCome = toCome || (task.State != kfp.StateRunning && !task.State.IsTerminal())
	}
	ran := max(now.Sub(from), 0)
	d := anytime
	if toCome {
		d = clamp(ran/10, anytime, 2*anytime)
	}
	return max(d, min(ran/20, o.MaxInterval))
}

// pollBudget is how long after the wait began All may read for the
// (polls+1)th time: not before polling two runs one by one, as kf-run did
// before All (GetRun at once, then after Interval, each pause half again
// as long up to MaxInterval, per run), had made that many reads. Whatever
// the number of runs and the tick's shape, following them never reads
// more often than following two did.
func pollBudget(polls int, o Options) time.Duration {
	k := polls / 2 // the old schedule's poll that allows this one
	var at time.Duration
	for d := o.Interval; k > 0; k-- {
		if d >= o.MaxInterval {
			return at + time.Duration(k)*o.MaxInterval
		}
		at += d
		d = min(d*3/2, o.MaxInterval)
	}
	return at
}

// pollsBy is how many reads pollBudget allows by elapsed: two at each
// point of the old schedule passed.
func pollsBy(elapsed time.Duration, o Options) int {
	n := 0
	at, d := time.Duration(0), o.Interval
	for at <= elapsed {
		if d >= o.MaxInterval {
			return n + 2*(1+int((elapsed-at)/o.MaxInterval))
		}
		n += 2
		at += d
		d = min(d*3/2, o.MaxInterval)
	}
	return n
}

func clamp(d, lo, hi time.Duration) time.Duration { return max(lo, min(d, hi)) }

package wait

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

// listAPI answers from a per-run timeline: run i is RUNNING until its end,
// then SUCCEEDED. It counts the calls; tasks says whether ListRuns carries
// task details (KFP ≤ 2.17) or not (the task API).
type listAPI struct {
	t     *testing.T
	clock *clock
	ends  map[string]time.Duration // after t0
	tasks bool
	past  []kfp.PastRun
	// pending is how long each run is PENDING first, without tasks (KFP
	// lists a run's tasks once its workflow runs).
	pending time.Duration

	sawEnd map[string]time.Time // when a read first showed the run's end

	mu           sync.Mutex
	lists, gets  int
	listSizes    []int
	getsByRun    map[string]int
	pastRequests int
}

func (f *listAPI) at(id string) kfp.Run {
	r := kfp.Run{ID: id, State: kfp.StateRunning, Created: t0}
	if f.clock.Now().Before(t0.Add(f.pending)) {
		r.State = kfp.StatePending
	}
	if end, ok := f.ends[id]; ok && !f.clock.Now().Before(t0.Add(end)) {
		r.State, r.Finished = kfp.StateSucceeded, t0.Add(end)
		if _, seen := f.sawEnd[id]; !seen && f.sawEnd != nil {
			f.sawEnd[id] = f.clock.Now()
		}
	}
	return r
}

func (f *listAPI) RunsByID(_ context.Context, ids []string) (map[string]kfp.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	f.listSizes = append(f.listSizes, len(ids))
	out := map[string]kfp.Run{}
	for _, id := range ids {
		r := f.at(id)
		if f.tasks && r.State != kfp.StatePending {
			r.Nodes = []kfp.Node{{Name: "train", State: r.State}}
		}
		out[id] = r
	}
	return out, nil
}

func (f *listAPI) GetRun(_ context.Context, id string) (kfp.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.getsByRun == nil {
		f.getsByRun = map[string]int{}
	}
	f.getsByRun[id]++
	r := f.at(id)
	r.Nodes = []kfp.Node{{Name: "train", State: r.State}}
	return r, nil
}

func (f *listAPI) PastRuns(context.Context, string, int) ([]kfp.PastRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pastRequests++
	return f.past, nil
}

func (f *listAPI) StepLog(context.Context, kfp.Run, kfp.Step, int, int64) (kfp.StepLog, error) {
	f.t.Error("unexpected StepLog")
	return kfp.StepLog{}, fmt.Errorf("unexpected")
}

func pipelines(n int) []*plan.Pipeline {
	var out []*plan.Pipeline
	for i := range n {
		out = append(out, &plan.Pipeline{Name: fmt.Sprintf("p%d", i), Submission: &plan.Submission{RunID: fmt.Sprintf("run-%d", i), SubmittedAt: t0, ExperimentID: "e"}})
	}
	return out
}

// Twenty runs cost one ListRuns a tick, not twenty GetRuns; runs that end
// drop out of the list; with task details in the list no GetRun is made.
func TestAllOneListPerTick(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	f := &listAPI{t: t, clock: c, tasks: true, ends: map[string]time.Duration{}}
	for i := range 20 {
		f.ends[fmt.Sprintf("run-%d", i)] = time.Duration(40+i) * time.Second
	}
	res := All(t.Context(), f, pipelines(20), Options{Now: c.Now, After: c.After})
	for i, r := range res {
		if r.Err != nil || r.Outcome.State != kfp.StateSucceeded {
			t.Fatalf("pipeline %d: %+v %v", i, r.Outcome, r.Err)
		}
	}
	if f.gets != 0 {
		t.Errorf("%d GetRun calls, want none", f.gets)
	}
	if f.listSizes[0] != 20 || f.listSizes[len(f.listSizes)-1] >= 20 {
		t.Errorf("list sizes %v: want 20 first, fewer as runs end", f.listSizes)
	}
	if f.lists > 40 {
		t.Errorf("%d ListRuns for runs of 40-59 s", f.lists)
	}
}

// A run listed PENDING has no tasks yet: reading it with GetRun would show
// none either, so it is not read.
func TestAllPendingIsNotRead(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	f := &listAPI{t: t, clock: c, tasks: true, pending: 5 * time.Second, ends: map[string]time.Duration{"run-0": 30 * time.Second, "run-1": 50 * time.Second}}
	res := All(t.Context(), f, pipelines(2), Options{Now: c.Now, After: c.After})
	for i, r := range res {
		if r.Err != nil || r.Outcome.State != kfp.StateSucceeded {
			t.Fatalf("pipeline %d: %+v %v", i, r.Outcome, r.Err)
		}
	}
	if f.gets != 0 {
		t.Errorf("%d GetRun calls for runs first listed PENDING, want none", f.gets)
	}
}

// Without tasks in the list (the task API), a run is read with GetRun on a
// change of state and at its end only.
func TestAllDetailOnChange(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	f := &listAPI{t: t, clock: c, ends: map[string]time.Duration{"run-0": 30 * time.Second, "run-1": 50 * time.Second}}
	All(t.Context(), f, pipelines(2), Options{Now: c.Now, After: c.After})
	if diff := cmp.Diff(map[string]int{"run-0": 2, "run-1": 2}, f.getsByRun); diff != "" {
		t.Errorf("GetRun per run (-want +got):\n%s", diff)
	}
}

// With a watch holding, nothing is polled: a run is read when its
// workflow changes.
func TestAllWatch(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	f := &listAPI{t: t, clock: c, tasks: true, ends: map[string]time.Duration{"run-0": 10 * time.Second}}
	w := make(chan WatchEvent)
	go func() {
		w <- WatchEvent{Holding: true}
		c.mu.Lock()
		c.now = t0.Add(10 * time.Second)
		c.mu.Unlock()
		w <- WatchEvent{RunID: "run-0", Final: true}
	}()
	res := All(t.Context(), f, pipelines(1), Options{Now: c.Now, After: func(d time.Duration) <-chan time.Time {
		return make(chan time.Time) // never: only the watch moves things
	}, Watch: w})
	if res[0].Outcome.State != kfp.StateSucceeded {
		t.Errorf("state %s, want SUCCEEDED", res[0].Outcome.State)
	}
	if f.lists > 2 {
		t.Errorf("%d ListRuns: want the first and one as the watch began", f.lists)
	}
}

// The tick is shaped around when past runs say the run ends: rare far from
// it, every 2 s inside the window, backing off when overdue; without
// history, fast once the last tasks run.
func TestNextInterval(t *testing.T) {
	t.Parallel()
	o := Options{}
	o.defaults()
	tr := &tracker{o: &o, out: &plan.Outcome{Started: t0}, run: kfp.Run{Created: t0}}
	tr.expect, tr.spread = 30*time.Minute, time.Minute
	for _, tt := range []struct {
		at, want time.Duration
	}{
		{0, time.Minute},
		{28*time.Minute + 30*time.Second, 15 * time.Second},
		{29*time.Minute + 59*time.Second, 2 * time.Second},
		{31*time.Minute + 30*time.Second, 10 * time.Second},
	} {
		if got := tr.next(t0.Add(tt.at)); got != tt.want {
			t.Errorf("at %s: %s, want %s", tt.at, got, tt.want)
		}
	}
	tr.expect = 0
	tr.tasks = []kfp.Task{{Name: "a", State: kfp.StateSucceeded}, {Name: "b", State: kfp.StateRunning, Start: t0.Add(10 * time.Second)}}
	if got := tr.next(t0.Add(30 * time.Second)); got != 2*time.Second {
		t.Errorf("last task running 20 s: %s, want 2s", got)
	}
	tr.tasks = append(tr.tasks, kfp.Task{Name: "c"})
	if got := tr.next(t0.Add(300 * time.Second)); got != 4*time.Second {
		t.Errorf("a task to come: %s, want 4s", got)
	}
	tr.tasks = tr.tasks[:2]
	if got := tr.next(t0.Add(300 * time.Second)); got != 2*time.Second {
		t.Errorf("the last task running 290 s: %s, want 2s", got)
	}
}

func TestExpectation(t *testing.T) {
	t.Parallel()
	s := time.Second
	if e, sp := expectation([]time.Duration{40 * s, 50 * s, 70 * s}); e != 50*s || sp != 20*s {
		t.Errorf("got %s ± %s, want 50s ± 20s", e, sp)
	}
	if e, _ := expectation([]time.Duration{40 * s}); e != 0 {
		t.Errorf("one run: %s, want nothing", e)
	}
}

// BenchmarkShape30m follows runs of 28.5-31.5 minutes of a pipeline whose
// past runs took 29-31 minutes, on a simulated clock, and prints the
// completion lag and the requests beside fixed 5 s polling of the same
// runs.
//
//	go test -run XXX -bench Shape30m -benchtime 1x ./internal/wait/
func BenchmarkShape30m(b *testing.B) {
	for b.Loop() {
		var past []kfp.PastRun
		for i, m := range []int{29, 30, 31, 30, 29, 31} {
			past = append(past, kfp.PastRun{ID: fmt.Sprintf("old-%d", i), Pipeline: "p", Created: t0, Finished: t0.Add(time.Duration(m) * time.Minute)})
		}
		var lags, fixedLags []time.Duration
		reqs, fixedReqs := 0, 0
		for _, d := range []time.Duration{28*time.Minute + 30*time.Second, 29*time.Minute + 10*time.Second, 29*time.Minute + 47*time.Second, 30*time.Minute + 3*time.Second, 30*time.Minute + 31*time.Second, 31*time.Minute + 2*time.Second, 31*time.Minute + 29*time.Second} {
			c := &clock{now: t0}
			f := &listAPI{clock: c, tasks: true, ends: map[string]time.Duration{"run-0": d}, past: past, sawEnd: map[string]time.Time{}}
			pl := pipelines(1)
			pl[0].Spec = &pipelinespec.Spec{Name: "p"}
			All(context.Background(), f, pl, Options{Now: c.Now, After: c.After})
			lags = append(lags, f.sawEnd["run-0"].Sub(t0.Add(d)))
			reqs += f.lists + f.gets + f.pastRequests
			polls := int((d + 5*time.Second - 1) / (5 * time.Second))
			fixedReqs += polls + 1
			fixedLags = append(fixedLags, time.Duration(polls)*5*time.Second-d)
		}
		med := func(xs []time.Duration) (time.Duration, time.Duration) {
			xs = slices.Clone(xs)
			slices.Sort(xs)
			return xs[len(xs)/2], xs[len(xs)-1]
		}
		m, mx := med(lags)
		fm, fmx := med(fixedLags)
		fmt.Printf("\n7 runs of 28.5-31.5 min (simulated clock), history of 6 runs of 29-31 min:\n")
		fmt.Printf("%-22s %10s %10s %10s\n", "client", "lag median", "lag max", "requests")
		fmt.Printf("%-22s %10s %10s %10d\n", "kf-run (no cluster)", m, mx, reqs)
		fmt.Printf("%-22s %10s %10s %10d\n", "GetRun every 5 s", fm, fmx, fixedReqs)
		fmt.Printf("ratio kf-run/fixed: requests %.2f, lag median %.2f\n", float64(reqs)/float64(fixedReqs), m.Seconds()/fm.Seconds())
		b.ReportMetric(m.Seconds(), "s-lag-median")
		b.ReportMetric(float64(reqs)/float64(fixedReqs), "x-requests-vs-5s")
	}
}

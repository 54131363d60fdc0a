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
	// pastIn, when set, are the past runs per experiment ("": the
	// namespace's) instead of past.
	pastIn    map[string][]kfp.PastRun
	pastAsked []string
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

func (f *listAPI) PastRuns(_ context.Context, exp string, _ int) ([]kfp.PastRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pastRequests++
	f.pastAsked = append(f.pastAsked, exp)
	if f.pastIn != nil {
		return f.pastIn[exp], nil
	}
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
// it, every 2.5 s inside the window, then as without history: every 4 s
// once the last tasks run, slower with a task to come, and a task that has
// run for long is read every twentieth of its time.
func TestNextInterval(t *testing.T) {
	t.Parallel()
	o := Options{}
	o.defaults()
	tr := &tracker{o: &o, out: &plan.Outcome{Started: t0}, run: kfp.Run{Created: t0}}
	tr.expect, tr.spread = 30*time.Minute, time.Minute
	for _, tt := range []struct {
		at, want time.Duration
	}{
		{0, 30 * time.Second},
		{28*time.Minute + 30*time.Second, 15 * time.Second},
		{29*time.Minute + 59*time.Second, 2500 * time.Millisecond},
		// Overdue: as without history, a run of 31.5 min.
		{31*time.Minute + 30*time.Second, 15 * time.Second},
	} {
		if got := tr.next(t0.Add(tt.at)); got != tt.want {
			t.Errorf("at %s: %s, want %s", tt.at, got, tt.want)
		}
	}
	tr.expect = 0
	running := []kfp.Task{{Name: "a", State: kfp.StateSucceeded}, {Name: "b", State: kfp.StateRunning, Start: t0.Add(10 * time.Second)}}
	toCome := append(slices.Clone(running), kfp.Task{Name: "c"})
	for _, tt := range []struct {
		name  string
		tasks []kfp.Task
		at    time.Duration
		want  time.Duration
	}{
		{"last task running 20 s", running, 30 * time.Second, 4 * time.Second},
		{"last task running 110 s", running, 120 * time.Second, 5500 * time.Millisecond},
		{"last task running 30 min", running, 30*time.Minute + 10*time.Second, 15 * time.Second},
		{"a task to come, 20 s in", toCome, 30 * time.Second, 4 * time.Second},
		{"a task to come, 50 s in", toCome, 60 * time.Second, 5 * time.Second},
		{"a task to come, 110 s in", toCome, 120 * time.Second, 8 * time.Second},
		{"a task to come, 290 s in", toCome, 300 * time.Second, 14500 * time.Millisecond},
	} {
		tr.tasks = tt.tasks
		if got := tr.next(t0.Add(tt.at)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// A new experiment (a pull request's preview) has no past runs: those of
// the same pipeline in the namespace say how long it takes. An experiment
// with its own history is not looked past.
func TestLearnFallsBackToNamespace(t *testing.T) {
	t.Parallel()
	s := time.Second
	ran := func(id, pipeline string, d time.Duration) kfp.PastRun {
		return kfp.PastRun{ID: id, PipelineID: pipeline, Created: t0, Finished: t0.Add(d)}
	}
	f := &listAPI{t: t, pastIn: map[string][]kfp.PastRun{
		"pr-7": {ran("a", "pl", 40*s)},
		"":     {ran("b", "pl", 60*s), ran("c", "pl", 80*s), ran("d", "other", 5*s), ran("e", "other", 6*s)},
		"main": {ran("f", "pl", 20*s), ran("g", "pl", 20*s)},
	}}
	pl := pipelines(2)
	pl[0].Submission.ExperimentID, pl[0].Submission.PipelineID = "pr-7", "pl"
	pl[1].Submission.ExperimentID, pl[1].Submission.PipelineID = "main", "pl"
	o := Options{}
	o.defaults()
	ts := []*tracker{newTracker(pl[0], &o, t0), newTracker(pl[1], &o, t0)}
	learn(t.Context(), f, ts, o)
	if ts[0].expect != 70*s {
		t.Errorf("preview: expect %s, want 70s (the namespace's runs of the pipeline)", ts[0].expect)
	}
	if ts[1].expect != 20*s {
		t.Errorf("main: expect %s, want 20s (its own experiment's)", ts[1].expect)
	}
	if diff := cmp.Diff([]string{"pr-7", "", "main"}, f.pastAsked); diff != "" {
		t.Errorf("past runs asked (-want +got):\n%s", diff)
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

// BenchmarkShape30m follows 41 runs of 28.5-31.5 minutes on a simulated
// clock, of a pipeline whose past runs took 29-31 minutes and of one with
// no past runs, and prints the completion lag and the requests beside
// fixed 5 s polling of the same runs.
//
//	go test -run XXX -bench Shape30m -benchtime 1x ./internal/wait/
func BenchmarkShape30m(b *testing.B) {
	for b.Loop() {
		var past []kfp.PastRun
		for i, m := range []int{29, 30, 31, 30, 29, 31} {
			past = append(past, kfp.PastRun{ID: fmt.Sprintf("old-%d", i), Pipeline: "p", Created: t0, Finished: t0.Add(time.Duration(m) * time.Minute)})
		}
		med := func(xs []time.Duration) (time.Duration, time.Duration) {
			xs = slices.Clone(xs)
			slices.Sort(xs)
			return xs[len(xs)/2], xs[len(xs)-1]
		}
		var runs []time.Duration // 28.5-31.5 min, 41 of them
		for i := range 41 {
			runs = append(runs, 28*time.Minute+30*time.Second+time.Duration(i)*3*time.Minute/40+time.Duration(i*7919%1000)*time.Millisecond)
		}
		var fixedLags []time.Duration
		fixedReqs := 0
		for _, d := range runs {
			polls := int((d + 5*time.Second - 1) / (5 * time.Second))
			fixedReqs += polls + 1
			fixedLags = append(fixedLags, time.Duration(polls)*5*time.Second-d)
		}
		fm, fmx := med(fixedLags)
		fmt.Printf("\n%d runs of 28.5-31.5 min (simulated clock), one at a time:\n", len(runs))
		fmt.Printf("%-34s %10s %10s %10s %10s\n", "client", "lag median", "lag max", "requests", "÷ 5 s")
		fmt.Printf("%-34s %10s %10s %10d\n", "GetRun every 5 s", fm, fmx, fixedReqs)
		for _, h := range []struct {
			name, metric string
			past         []kfp.PastRun
		}{{"kf-run, 6 past runs of 29-31 min", "", past}, {"kf-run, no past runs", "-nohistory", nil}} {
			var lags []time.Duration
			reqs := 0
			for _, d := range runs {
				c := &clock{now: t0}
				f := &listAPI{clock: c, tasks: true, ends: map[string]time.Duration{"run-0": d}, past: h.past, sawEnd: map[string]time.Time{}}
				pl := pipelines(1)
				pl[0].Spec = &pipelinespec.Spec{Name: "p"}
				All(context.Background(), f, pl, Options{Now: c.Now, After: c.After})
				lags = append(lags, f.sawEnd["run-0"].Sub(t0.Add(d)))
				reqs += f.lists + f.gets + f.pastRequests
			}
			m, mx := med(lags)
			fmt.Printf("%-34s %10s %10s %10d %10.2f\n", h.name, m.Round(time.Millisecond), mx.Round(time.Millisecond), reqs, float64(reqs)/float64(fixedReqs))
			b.ReportMetric(m.Seconds(), "s-lag-median"+h.metric)
			b.ReportMetric(float64(reqs)/float64(fixedReqs), "x-requests-vs-5s"+h.metric)
		}
	}
}

// BenchmarkShape20Runs follows 20 runs of 40-70 s at once on a simulated
// clock, first with no past runs, then with the past runs of 40-70 s, and
// prints the reads a minute beside today's per-run polling (ForRun: one
// GetRun per run, 1 s growing by half to 15 s) of 2 such runs.
//
//	go test -run XXX -bench Shape20Runs -benchtime 1x ./internal/wait/
func BenchmarkShape20Runs(b *testing.B) {
	const n = 20
	dur := func(i int) time.Duration { return 40*time.Second + time.Duration(i)*30*time.Second/(n-1) }
	for b.Loop() {
		// Today: each run polled on its own; 2 runs cost twice one run.
		var todayReads int
		var todaySpan time.Duration
		for i := range n {
			c := &clock{now: t0}
			f := &listAPI{clock: c, tasks: true, ends: map[string]time.Duration{"run-0": dur(i)}}
			if _, err := ForRun(context.Background(), f, pipelines(1)[0], Options{Now: c.Now, After: c.After}); err != nil {
				b.Fatal(err)
			}
			todayReads += f.gets
			todaySpan += c.Now().Sub(t0) // until it saw the end
		}
		today := 2 * float64(todayReads) / todaySpan.Minutes()
		var past []kfp.PastRun
		for i := range 6 {
			past = append(past, kfp.PastRun{ID: fmt.Sprintf("old-%d", i), Pipeline: "p", Created: t0, Finished: t0.Add(dur(i * 3))})
		}
		fmt.Printf("\n%d runs of 40-70 s at once (simulated clock); today's kf-run on 2 such runs: %.1f reads a minute\n", n, today)
		fmt.Printf("%-22s %10s %10s %10s %12s %8s\n", "kf-run", "lag median", "lag max", "reads", "reads/min", "÷ today")
		for _, h := range []struct {
			name string
			past []kfp.PastRun
		}{{"no past runs", nil}, {"past runs", past}} {
			c := &clock{now: t0}
			f := &listAPI{clock: c, tasks: true, ends: map[string]time.Duration{}, past: h.past, sawEnd: map[string]time.Time{}}
			for i := range n {
				f.ends[fmt.Sprintf("run-%d", i)] = dur(i)
			}
			pl := pipelines(n)
			for _, p := range pl {
				p.Spec = &pipelinespec.Spec{Name: "p"}
			}
			All(context.Background(), f, pl, Options{Now: c.Now, After: c.After})
			var lags []time.Duration
			for i := range n {
				lags = append(lags, f.sawEnd[fmt.Sprintf("run-%d", i)].Sub(t0.Add(dur(i))))
			}
			slices.Sort(lags)
			reads := f.lists + f.gets
			perMin := float64(reads) / c.Now().Sub(t0).Minutes()
			fmt.Printf("%-22s %10s %10s %10d %12.1f %8.2f\n", h.name, ((lags[n/2-1] + lags[n/2]) / 2).Round(time.Millisecond), lags[n-1].Round(time.Millisecond), reads, perMin, perMin/today)
			b.ReportMetric(perMin/today, "x-reads-vs-today-"+map[bool]string{true: "nohistory", false: "history"}[h.past == nil])
		}
	}
}

// The old schedule, per run: GetRun at once, after 1 s, then each pause
// half again as long, up to 15 s. Two runs read twice at each time.
func TestPollBudget(t *testing.T) {
	t.Parallel()
	o := Options{}
	o.defaults()
	ms := time.Millisecond
	for _, tt := range []struct {
		polls int
		want  time.Duration
	}{
		{0, 0}, {1, 0}, {2, time.Second}, {3, time.Second}, {4, 2500 * ms}, {6, 4750 * ms},
		{8, 8125 * ms}, {14, 32171875 * time.Microsecond}, {16, 47171875 * time.Microsecond},
		{18, 62171875 * time.Microsecond}, {20, 77171875 * time.Microsecond},
	} {
		if got := pollBudget(tt.polls, o); got != tt.want {
			t.Errorf("poll %d: not before %s, want %s", tt.polls+1, got, tt.want)
		}
	}
}

// However many runs, however long, with or without history: All reads no
// more often than polling two runs one by one did (the old schedule,
// computed here on its own).
func TestAllReadsNoMoreThanTwoRunsDid(t *testing.T) {
	t.Parallel()
	oldPolls := func(by time.Duration) int { // one run's reads by then
		n := 0
		for at, d := time.Duration(0), time.Second; at <= by; at, d = at+d, min(d*3/2, 15*time.Second) {
			n++
		}
		return n
	}
	for _, d := range []time.Duration{3 * time.Second, 20 * time.Second, 45 * time.Second, 70 * time.Second, 2 * time.Minute, 5 * time.Minute, 40 * time.Minute} {
		for _, n := range []int{1, 20} {
			for _, history := range []bool{false, true} {
				c := &clock{now: t0}
				f := &listAPI{t: t, clock: c, tasks: true, ends: map[string]time.Duration{}}
				if history { // past runs a third as long: the tick is fast when it need not be
					for i := range 4 {
						f.past = append(f.past, kfp.PastRun{ID: fmt.Sprint("old-", i), Pipeline: "p", Created: t0, Finished: t0.Add(d / 3)})
					}
				}
				pl := pipelines(n)
				for i, p := range pl {
					p.Spec = &pipelinespec.Spec{Name: "p"}
					f.ends[p.Submission.RunID] = d + time.Duration(i)*d/50
				}
				All(t.Context(), f, pl, Options{Now: c.Now, After: c.After})
				elapsed := c.Now().Sub(t0)
				if max := 2 * oldPolls(elapsed); f.lists+f.gets > max {
					t.Errorf("%d runs of %s, history %t: %d reads in %s, two runs polled one by one read %d", n, d, history, f.lists+f.gets, elapsed, max)
				}
			}
		}
	}
}

// Listed without tasks (the task API), a run keeps the tasks its last
// GetRun saw: no task flips to an unknown state between reads.
func TestAllTaskAPIKeepsTasks(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	f := &listAPI{t: t, clock: c, ends: map[string]time.Duration{"run-0": 30 * time.Second}}
	pl := pipelines(1)
	pl[0].Spec = &pipelinespec.Spec{Name: "p", Tasks: []pipelinespec.Task{{Name: "train"}}}
	var events []string
	All(t.Context(), f, pl, Options{Now: c.Now, After: c.After, OnEvent: func(e Event) { events = append(events, e.String()) }})
	want := []string{"p0: task train RUNNING", "p0: run RUNNING", "p0: task train SUCCEEDED", "p0: run SUCCEEDED"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Reading each run's tasks every DetailEvery (--follow on the task API)
// is rationed by the budget too, the runs read longest ago first: beyond
// the budget only the reads a change of state needs are made, two a run.
func TestAllDetailEveryWithinBudget(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	const n = 20
	f := &listAPI{t: t, clock: c, ends: map[string]time.Duration{}, sawEnd: map[string]time.Time{}}
	for i := range n {
		f.ends[fmt.Sprintf("run-%d", i)] = 10*time.Minute + time.Duration(i)*time.Second
	}
	All(t.Context(), f, pipelines(n), Options{Now: c.Now, After: c.After, DetailEvery: 5 * time.Second})
	for id, end := range f.ends {
		// The ListRuns tick is not starved by the detail reads: at most
		// MaxInterval with its jitter.
		if lag := f.sawEnd[id].Sub(t0.Add(end)); lag > 18*time.Second {
			t.Errorf("%s: its end seen %s late", id, lag)
		}
	}
	elapsed := c.Now().Sub(t0)
	o := Options{}
	o.defaults()
	if max := pollsBy(elapsed, o) + 2*n; f.lists+f.gets > max {
		t.Errorf("%d reads (%d lists, %d GetRuns) in %s: the budget allows %d, and 2 a run for its changes", f.lists+f.gets, f.lists, f.gets, elapsed, max)
	}
	for id, gets := range f.getsByRun {
		if gets < 4 {
			t.Errorf("%s read %d times with its tasks in 10 minutes: the spare reads skip it", id, gets)
		}
	}
}

func TestPollsBy(t *testing.T) {
	t.Parallel()
	o := Options{}
	o.defaults()
	for _, polls := range []int{0, 2, 4, 10, 16, 18, 30, 100} {
		at := pollBudget(polls, o)
		if got := pollsBy(at, o); got != polls+2 {
			t.Errorf("pollsBy(%s) = %d, want %d (pollBudget(%d) = %s)", at, got, polls+2, polls, at)
		}
		if got := pollsBy(at-time.Millisecond, o); polls > 0 && got != polls {
			t.Errorf("pollsBy(%s) = %d, want %d", at-time.Millisecond, got, polls)
		}
	}
}

// A heartbeat is sent on time however slow the tick, and waking for it is
// not a read.
func TestAllHeartbeatOnTime(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	f := &listAPI{t: t, clock: c, tasks: true, ends: map[string]time.Duration{"run-0": 10 * time.Minute}}
	for i := range 4 { // past runs of 10 min: far from the window the tick is 30 s
		f.past = append(f.past, kfp.PastRun{ID: fmt.Sprint("old-", i), Pipeline: "p", Created: t0, Finished: t0.Add(10 * time.Minute)})
	}
	pl := pipelines(1)
	pl[0].Spec = &pipelinespec.Spec{Name: "p"}
	var beats []time.Duration
	All(t.Context(), f, pl, Options{Now: c.Now, After: c.After, Heartbeat: 10 * time.Second, OnEvent: func(e Event) {
		if e.Heartbeat {
			beats = append(beats, c.Now().Sub(t0))
		}
	}})
	if len(beats) < 50 {
		t.Fatalf("%d heartbeats in 10 minutes, want one every 10 s", len(beats))
	}
	for i := 1; i < len(beats); i++ {
		if gap := beats[i] - beats[i-1]; gap > 10*time.Second {
			t.Errorf("heartbeats %s apart (at %s)", gap, beats[i])
		}
	}
	if f.lists > 20 {
		t.Errorf("%d ListRuns: the heartbeats' wakes were read too", f.lists)
	}
}

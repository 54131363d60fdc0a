package wait

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// clock is a fake clock: every poll wait advances it at once. The first
// After call is the pipeline's timeout when timeout is set; a poll wait that
// reaches it fires the timeout instead.
type clock struct {
	mu         sync.Mutex
	now        time.Time
	timeout    bool
	deadline   time.Time
	deadlineCh chan time.Time
	waits      []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.timeout && c.deadlineCh == nil {
		c.deadline, c.deadlineCh = c.now.Add(d), ch
		return ch
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	if c.deadlineCh != nil && !c.now.Before(c.deadline) {
		c.deadlineCh <- c.now
		return make(chan time.Time) // never: the deadline wins
	}
	ch <- c.now
	return ch
}

// fakeAPI plays a script of GetRun answers (the last one repeats) and
// serves pod logs by name. Calls it was not scripted for fail the test.
type fakeAPI struct {
	t      *testing.T
	mu     sync.Mutex
	script []func() (kfp.Run, error)
	logs   map[string]string
	polls  int
	logReq []string
}

func (f *fakeAPI) GetRun(_ context.Context, id string) (kfp.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "run-1" {
		f.t.Errorf("GetRun(%q), want run-1", id)
	}
	i := min(f.polls, len(f.script)-1)
	f.polls++
	return f.script[i]()
}

func (f *fakeAPI) StepLog(_ context.Context, r kfp.Run, s kfp.Step, _ int, _ int64) (kfp.StepLog, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logReq = append(f.logReq, s.PathString())
	if l, ok := f.logs[s.Pod.NodeName]; ok {
		return kfp.StepLog{Text: l, Source: "fake"}, nil
	}
	return kfp.StepLog{}, &kfp.LogError{Tried: []string{"UI pod log: HTTP 500 Could not get main container logs"}}
}

func run(state kfp.RunState, nodes ...kfp.Node) func() (kfp.Run, error) {
	return func() (kfp.Run, error) {
		r := kfp.Run{ID: "run-1", State: state, Created: t0, Nodes: nodes}
		if state.IsTerminal() {
			r.Finished = t0.Add(10 * time.Minute)
		}
		return r, nil
	}
}

func fail(err error) func() (kfp.Run, error) {
	return func() (kfp.Run, error) { return kfp.Run{}, err }
}

// argoID is Argo's node ID: the workflow's name and the FNV-32a hash of
// the node's name.
func argoID(name string) string {
	if name == "wf" {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("wf-%d", h.Sum32())
}

// argoRun is workflow wf's task_details as KFP reports them: the workflow,
// its root DAG, and per task a driver, the task's DAG and its executor pod.
func argoRun(state kfp.RunState, tasks ...kfp.Node) func() (kfp.Run, error) {
	nodes := []kfp.Node{{Name: "wf", State: state, Children: []string{argoID("wf.root")}}}
	root := kfp.Node{Name: "root", State: state}
	for _, t := range tasks {
		dag := "wf.root." + t.Name
		root.Children = append(root.Children, argoID(dag+"-driver"), argoID(dag))
		t.Children = []string{argoID(dag + ".executor")}
		nodes = append(nodes, kfp.Node{Name: t.Name + "-driver", State: kfp.StateSucceeded}, t,
			kfp.Node{Name: "executor", State: t.State, Start: t.Start, End: t.End})
	}
	return run(state, append(nodes, root)...)
}

func node(name string, s kfp.RunState, start, end int) kfp.Node {
	t := kfp.Node{Name: name, State: s, Iteration: -1}
	if start >= 0 {
		t.Start = t0.Add(time.Duration(start) * time.Second)
	}
	if end >= 0 {
		t.End = t0.Add(time.Duration(end) * time.Second)
	}
	return t
}

func pipeline(timeout time.Duration) *plan.Pipeline {
	return &plan.Pipeline{
		Name:       "train",
		Spec:       &pipelinespec.Spec{Tasks: []pipelinespec.Task{{Name: "prep"}, {Name: "fit", DependsOn: []string{"prep"}}}},
		Submission: &plan.Submission{RunID: "run-1", SubmittedAt: t0},
		Timeout:    timeout,
	}
}

func TestForRun(t *testing.T) {
	t.Parallel()
	transient := &kfp.APIError{Op: "GetRun", HTTPStatus: 503, Message: "unavailable"}
	tests := []struct {
		name      string
		script    []func() (kfp.Run, error)
		logs      map[string]string
		timeout   time.Duration
		wantErr   error
		wantState kfp.RunState
		wantLines []string
		wantFails []plan.Failure
		timedOut  bool
	}{
		{
			name: "success reports each change once",
			script: []func() (kfp.Run, error){
				run(kfp.StatePending),
				run(kfp.StatePending),
				run(kfp.StateRunning, node("prep", kfp.StateRunning, 0, -1)),
				run(kfp.StateRunning, node("prep", kfp.StateRunning, 0, -1)),
				run(kfp.StateRunning, node("prep", kfp.StateRunning, 0, -1)),
				run(kfp.StateRunning, node("prep", kfp.StateSucceeded, 0, 30), node("fit", kfp.StateRunning, 31, -1)),
				run(kfp.StateSucceeded, node("prep", kfp.StateSucceeded, 0, 30), node("fit", kfp.StateSucceeded, 31, 90)),
			},
			wantState: kfp.StateSucceeded,
			wantLines: []string{
				"train: run PENDING",
				"train: task prep RUNNING",
				"train: run RUNNING",
				"train: task prep SUCCEEDED (30s)",
				"train: task fit RUNNING",
				"train: task fit SUCCEEDED (59s)",
				"train: run SUCCEEDED",
			},
		},
		{
			name: "failure fetches the failed task's log tail",
			script: []func() (kfp.Run, error){
				argoRun(kfp.StateRunning, node("prep", kfp.StateRunning, 0, -1)),
				argoRun(kfp.StateFailed, node("prep", kfp.StateFailed, 0, 5)),
			},
			logs:      map[string]string{"wf.root.prep.executor": strings.Repeat("noise\n", 50) + "Traceback\nValueError: bad data\n"},
			wantState: kfp.StateFailed,
			wantLines: []string{"train: task prep RUNNING", "train: run RUNNING", "train: task prep FAILED (5s)", "train: run FAILED"},
			wantFails: []plan.Failure{{Path: []string{"prep"}, LogSource: "fake",
				Log: append(strings.Split(strings.Repeat("noise\n", 38), "\n")[:38], "Traceback", "ValueError: bad data")}},
		},
		{
			name:      "a log that cannot be had is said so",
			script:    []func() (kfp.Run, error){argoRun(kfp.StateFailed, node("fit", kfp.StateFailed, 0, 5))},
			wantState: kfp.StateFailed,
			wantLines: []string{"train: task fit FAILED (5s)", "train: run FAILED"},
			wantFails: []plan.Failure{{Path: []string{"fit"}, NoLog: "UI pod log: HTTP 500 Could not get main container logs"}},
		},
		{
			name:      "without a tree, the failed root tasks are named",
			script:    []func() (kfp.Run, error){run(kfp.StateFailed, node("fit", kfp.StateFailed, 0, 5))},
			wantState: kfp.StateFailed,
			wantLines: []string{"train: task fit FAILED (5s)", "train: run FAILED"},
			wantFails: []plan.Failure{{Path: []string{"fit"}, NoLog: "the server's task list does not show which step failed"}},
		},
		{
			name:      "canceled is final",
			script:    []func() (kfp.Run, error){run(kfp.StateCanceled)},
			wantState: kfp.StateCanceled,
			wantLines: []string{"train: run CANCELED"},
			wantFails: []plan.Failure{},
		},
		{
			name:      "timeout",
			script:    []func() (kfp.Run, error){run(kfp.StateRunning)},
			timeout:   20 * time.Minute,
			wantErr:   ErrTimeout,
			wantState: kfp.StateRunning,
			wantLines: []string{"train: run RUNNING", "train: still RUNNING", "train: still RUNNING", "train: still RUNNING", "train: still RUNNING", "train: still RUNNING", "train: still RUNNING"},
			timedOut:  true,
		},
		{
			name:      "transient errors are ridden out",
			script:    []func() (kfp.Run, error){fail(transient), fail(transient), run(kfp.StateSucceeded)},
			wantState: kfp.StateSucceeded,
			wantLines: []string{"train: run SUCCEEDED"},
		},
		{
			name:    "persistent errors end the wait",
			script:  []func() (kfp.Run, error){fail(transient)},
			wantErr: transient,
		},
		{
			name:    "a deleted run ends the wait at once",
			script:  []func() (kfp.Run, error){fail(&kfp.APIError{Op: "GetRun", HTTPStatus: 404, GRPCCode: 5, Message: "not found"})},
			wantErr: &kfp.APIError{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{t: t, script: tt.script, logs: tt.logs}
			c := &clock{now: t0, timeout: tt.timeout > 0}
			var lines []string
			out, err := ForRun(context.Background(), api, pipeline(tt.timeout), Options{
				Now: c.Now, After: c.After,
				OnEvent: func(e Event) {
					s := e.String()
					if e.Heartbeat {
						s = s[:strings.Index(s, " after")] // the times carry jitter
					}
					lines = append(lines, s)
				},
			})
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("ForRun: %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr) && !errors.As(err, new(*kfp.APIError)):
				t.Fatalf("ForRun error = %v, want %v", err, tt.wantErr)
			}
			if out == nil {
				t.Fatal("no outcome")
			}
			if out.State != tt.wantState || out.TimedOut != tt.timedOut {
				t.Errorf("outcome state %q timedOut %v, want %q %v", out.State, out.TimedOut, tt.wantState, tt.timedOut)
			}
			if diff := cmp.Diff(tt.wantLines, lines); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tt.wantFails != nil {
				if diff := cmp.Diff(tt.wantFails, out.Failures, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("failures (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// The poll interval starts at Interval, grows by half each poll with ±20%
// jitter, and stays under MaxInterval.
func TestBackoff(t *testing.T) {
	t.Parallel()
	script := []func() (kfp.Run, error){}
	for range 30 {
		script = append(script, run(kfp.StateRunning))
	}
	script = append(script, run(kfp.StateSucceeded))
	api := &fakeAPI{t: t, script: script}
	c := &clock{now: t0}
	if _, err := ForRun(context.Background(), api, pipeline(0), Options{Now: c.Now, After: c.After}); err != nil {
		t.Fatal(err)
	}
	if len(c.waits) != 30 {
		t.Fatalf("%d waits, want 30", len(c.waits))
	}
	want := time.Second
	for i, got := range c.waits {
		lo, hi := want*4/5, want*6/5
		if got < lo || got > hi {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, got, lo, hi)
		}
		want = min(want*3/2, 15*time.Second)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	api := &fakeAPI{t: t, script: []func() (kfp.Run, error){func() (kfp.Run, error) {
		cancel()
		return kfp.Run{ID: "run-1", State: kfp.StateRunning}, nil
	}}}
	out, err := ForRun(ctx, api, pipeline(0), Options{Interval: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if out.State != kfp.StateRunning {
		t.Errorf("state = %q, want the last state seen", out.State)
	}
}

func ExampleEvent_String() {
	fmt.Println(Event{Pipeline: "train", Task: "fit", State: kfp.StateSucceeded, Duration: 90 * time.Second})
	// Output: train: task fit SUCCEEDED (1m30s)
}

// A poll that hangs past the timeout ends the wait as timed out.
func TestTimeoutDuringHungPoll(t *testing.T) {
	t.Parallel()
	api := &hungAPI{}
	pl := pipeline(50 * time.Millisecond)
	out, err := ForRun(context.Background(), api, pl, Options{})
	if !errors.Is(err, ErrTimeout) || !out.TimedOut {
		t.Fatalf("ForRun = %+v, %v; want a timeout", out, err)
	}
}

// hungAPI answers GetRun only when the caller gives up.
type hungAPI struct{}

func (hungAPI) GetRun(ctx context.Context, _ string) (kfp.Run, error) {
	<-ctx.Done()
	return kfp.Run{}, &kfp.APIError{Op: "GetRun", Err: ctx.Err()}
}

func (hungAPI) StepLog(context.Context, kfp.Run, kfp.Step, int, int64) (kfp.StepLog, error) {
	return kfp.StepLog{}, nil
}

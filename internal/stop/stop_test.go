package stop

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kf-run/kf-run/internal/kfp"
)

func TestPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, env, want string }{
		{"", "", DefaultFile},
		{"", "/ci/state.jsonl", "/ci/state.jsonl"},
		{"mine.jsonl", "/ci/state.jsonl", "mine.jsonl"},
	} {
		if got := Path(tc.flag, tc.env); got != tc.want {
			t.Errorf("Path(%q, %q) = %q, want %q", tc.flag, tc.env, got, tc.want)
		}
	}
}

func run(id string) Run {
	return Run{RunID: id, Pipeline: "p-" + id, Host: "http://kfp:8888", Namespace: "team", URL: "http://kfp:8888/#/runs/details/" + id,
		Submitted: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
}

func TestRecordLoadForget(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".kf-run", "runs.jsonl")
	if runs, err := Load(path); err != nil || runs != nil {
		t.Fatalf("Load of a missing file = %v, %v; want no runs, no error", runs, err)
	}
	for _, id := range []string{"a", "b", "a", "c"} {
		if err := Record(path, run(id)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Run{run("a"), run("b"), run("c")}, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if err := Forget(path, func(r Run) bool { return r.RunID == "b" }); err != nil {
		t.Fatal(err)
	}
	got, _ = Load(path)
	if diff := cmp.Diff([]Run{run("a"), run("c")}, got); diff != "" {
		t.Errorf("after Forget(b) (-want +got):\n%s", diff)
	}
	if err := Forget(path, func(Run) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state file is still there after every run was forgotten: %v", err)
	}
	if err := Record(path, Run{Pipeline: "x"}); err == nil {
		t.Error("Record of a run without id: no error")
	}
}

func TestLoadDamagedFile(t *testing.T) {
	t.Parallel()
	line := `{"run_id":"a","pipeline":"p","host":"h","submitted_at":"2026-11-30T12:00:00Z"}`
	for _, tc := range []struct {
		name, body, wantErr string
		want                int
	}{
		{name: "cut short last line", body: line + "\n" + `{"run_id":"b","pip`, want: 1},
		{name: "blank lines", body: "\n" + line + "\n\n", want: 1},
		{name: "garbage in the middle", body: line + "\nnot json\n" + line + "\n", wantErr: "runs.jsonl:2: not a kf-run state line"},
		{name: "line without id", body: `{"pipeline":"p"}` + "\n", wantErr: "runs.jsonl:1: not a kf-run state line (no run_id)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "runs.jsonl")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			runs, err := Load(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(runs) != tc.want {
				t.Fatalf("Load = %d runs, %v; want %d runs", len(runs), err, tc.want)
			}
		})
	}
}

// fakeKFP answers GetRun from states and TerminateRun from terminate; a
// call for a run it has no answer for fails the test.
type fakeKFP struct {
	t         *testing.T
	states    map[string]kfp.RunState
	getErr    map[string]error
	terminate map[string]error
	// gate, when set, is called at the start of every GetRun.
	gate func()

	mu         sync.Mutex
	terminated []string
}

func (f *fakeKFP) GetRun(ctx context.Context, id string) (kfp.Run, error) {
	if f.gate != nil {
		f.gate()
	}
	if err, ok := f.getErr[id]; ok {
		return kfp.Run{}, err
	}
	s, ok := f.states[id]
	if !ok {
		f.t.Errorf("unexpected GetRun(%q)", id)
	}
	return kfp.Run{ID: id, State: s}, nil
}

func (f *fakeKFP) TerminateRun(ctx context.Context, id string) error {
	err, ok := f.terminate[id]
	if !ok {
		f.t.Errorf("unexpected TerminateRun(%q)", id)
	}
	f.mu.Lock()
	f.terminated = append(f.terminated, id)
	f.mu.Unlock()
	return err
}

func TestRuns(t *testing.T) {
	t.Parallel()
	notFound := &kfp.APIError{Op: "GetRun", HTTPStatus: http.StatusNotFound, Message: "not found"}
	down := &kfp.APIError{Op: "GetRun", Err: errors.New("connection refused")}
	refused := &kfp.APIError{Op: "TerminateRun", HTTPStatus: http.StatusForbidden, Message: "denied"}
	elsewhere := run("other")
	elsewhere.Host = "https://kubeflow.example.com/pipeline"
	f := &fakeKFP{t: t,
		states: map[string]kfp.RunState{
			"running": kfp.StateRunning, "pending": kfp.StatePending, "done": kfp.StateSucceeded,
			"failed": kfp.StateFailed, "canceling": kfp.StateCanceling, "denied": kfp.StateRunning, "vanishing": kfp.StateRunning,
		},
		getErr:    map[string]error{"deleted": notFound, "down": down},
		terminate: map[string]error{"running": nil, "pending": nil, "denied": refused, "vanishing": &kfp.APIError{Op: "TerminateRun", HTTPStatus: http.StatusNotFound}},
	}
	in := []Run{run("running"), run("pending"), run("done"), run("failed"), run("canceling"), run("deleted"), run("down"), run("denied"), run("vanishing"), elsewhere}
	got := Runs(context.Background(), f, in, Options{Host: "http://kfp:8888/"})
	type row struct {
		ID     string
		Action Action
		State  kfp.RunState
		Err    string
	}
	var rows []row
	for _, r := range got {
		e := ""
		if r.Err != nil {
			e = r.Err.Error()
		}
		rows = append(rows, row{r.Run.RunID, r.Action, r.State, e})
	}
	want := []row{
		{"running", Terminated, kfp.StateRunning, ""},
		{"pending", Terminated, kfp.StatePending, ""},
		{"done", Ended, kfp.StateSucceeded, ""},
		{"failed", Ended, kfp.StateFailed, ""},
		{"canceling", Stopping, kfp.StateCanceling, ""},
		{"deleted", Gone, "", ""},
		{"down", Failed, "", "get run down: GetRun: connection refused"},
		{"denied", Failed, kfp.StateRunning, "terminate run denied: TerminateRun: HTTP 403: denied"},
		{"vanishing", Gone, kfp.StateRunning, ""},
		{"other", Failed, "", "run other was started through https://kubeflow.example.com/pipeline, but the connection settings reach http://kfp:8888/: run kf-run stop with the settings kf-run run used"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"denied", "pending", "running", "vanishing"}, f.terminated, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("terminated (-want +got):\n%s", diff)
	}
	for _, r := range got {
		if r.Action.Done() != (r.Action != Failed) {
			t.Errorf("%s: Done() = %t", r.Action, r.Action.Done())
		}
	}
}

// Runs asks about the runs at once, not one after the other, and never
// more than Parallel at a time: each GetRun waits until Parallel calls
// are in flight, which a sequential loop would never reach.
func TestRunsConcurrentAndBounded(t *testing.T) {
	t.Parallel()
	const parallel, n = 3, 9
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	inFlight, maxInFlight, round, arrived := 0, 0, 0, 0
	f := &fakeKFP{t: t, states: map[string]kfp.RunState{}, terminate: map[string]error{}}
	var in []Run
	for i := range n {
		id := string(rune('a' + i))
		in = append(in, run(id))
		f.states[id] = kfp.StateSucceeded
	}
	f.gate = func() {
		mu.Lock()
		defer mu.Unlock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		my := round
		if arrived++; arrived == parallel {
			round, arrived = round+1, 0
			cond.Broadcast()
		}
		for round == my {
			cond.Wait()
		}
		inFlight--
	}
	got := Runs(context.Background(), f, in, Options{Parallel: parallel})
	for _, r := range got {
		if r.Action != Ended {
			t.Errorf("%s: %s %v, want ended", r.Run.RunID, r.Action, r.Err)
		}
	}
	if maxInFlight != parallel {
		t.Errorf("at most %d calls were in flight together, want %d", maxInFlight, parallel)
	}
}

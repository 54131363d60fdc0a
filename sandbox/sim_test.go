package sandbox

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEvalDepends(t *testing.T) {
	t.Parallel()
	ok, fail, omit := wfv1.NodeSucceeded, wfv1.NodeFailed, wfv1.NodeOmitted
	tests := []struct {
		expr   string
		phases map[string]wfv1.NodePhase
		want   bool
	}{
		{"", nil, true},
		{"a.Succeeded", map[string]wfv1.NodePhase{"a": ok}, true},
		{"a.Succeeded", map[string]wfv1.NodePhase{"a": fail}, false},
		{"a.Succeeded && b.Succeeded", map[string]wfv1.NodePhase{"a": ok, "b": fail}, false},
		{"a.Succeeded && b.Succeeded", map[string]wfv1.NodePhase{"a": ok, "b": ok}, true},
		// KFP's exit-handler form: runs whatever happened upstream.
		{"a.Succeeded || a.Skipped || a.Failed || a.Errored", map[string]wfv1.NodePhase{"a": fail}, true},
		{"a.Succeeded || a.Skipped || a.Failed || a.Errored", map[string]wfv1.NodePhase{"a": omit}, false},
		{"(a.Succeeded)", map[string]wfv1.NodePhase{"a": ok}, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			if got := evalDepends(tt.expr, tt.phases); got != tt.want {
				t.Errorf("evalDepends(%q, %v) = %v, want %v", tt.expr, tt.phases, got, tt.want)
			}
		})
	}
}

func TestDependencyNames(t *testing.T) {
	t.Parallel()
	got := strings.Join(dependencyNames("b-driver.Succeeded && a.Succeeded || a.Failed"), ",")
	if got != "a,b-driver" {
		t.Errorf("got %s", got)
	}
}

// wf is a tiny compiled-like workflow: a -> b, c independent, in one DAG,
// with each task the container-executor wrapper around an impl pod.
func testWorkflow() *wfv1.Workflow {
	exec := func(name, deps string) wfv1.DAGTask {
		return wfv1.DAGTask{Name: name, Template: tmplContainerExecutor, Depends: deps}
	}
	return &wfv1.Workflow{
		ObjectMeta: metav1ObjectMeta("wf-0"),
		Spec: wfv1.WorkflowSpec{Entrypoint: "entrypoint", Templates: []wfv1.Template{
			{Name: "entrypoint", DAG: &wfv1.DAGTemplate{Tasks: []wfv1.DAGTask{
				exec("a", ""), exec("b", "a.Succeeded"), exec("c", ""),
			}}},
			{Name: tmplContainerExecutor, DAG: &wfv1.DAGTemplate{Tasks: []wfv1.DAGTask{{Name: "executor", Template: tmplContainerImpl}}}},
			{Name: tmplContainerImpl, Container: nil},
		}},
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := time.Second
	tests := []struct {
		name      string
		outcome   map[string]wfv1.NodePhase
		hang      string
		skip      string
		want      map[string]wfv1.NodePhase // display name -> phase at the end
		wantPhase wfv1.NodePhase
		wantEnd   time.Duration // 0 = never
	}{
		{"all succeed", nil, "", "", map[string]wfv1.NodePhase{"a": "Succeeded", "b": "Succeeded", "c": "Succeeded"}, "Succeeded", 2 * step},
		{"failure omits downstream", map[string]wfv1.NodePhase{"a": "Failed"}, "", "", map[string]wfv1.NodePhase{"a": "Failed", "b": "Omitted", "c": "Succeeded"}, "Failed", step},
		{"hang never ends", nil, "a", "", map[string]wfv1.NodePhase{"a": "Running", "c": "Succeeded"}, "Running", 0},
		{"skipped task omits its dependants", nil, "", "a", map[string]wfv1.NodePhase{"a": "Skipped", "b": "Omitted", "c": "Succeeded"}, "Succeeded", step},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wf := testWorkflow()
			root, err := buildTree(wf)
			if err != nil {
				t.Fatal(err)
			}
			schedule(root, t0, outcomes{pod: func(n *simNode) (wfv1.NodePhase, time.Duration, bool, string, []string) {
				if n.irTask == tt.hang {
					return wfv1.NodeRunning, step, true, "", nil
				}
				if p, ok := tt.outcome[n.irTask]; ok {
					return p, step, false, "boom", nil
				}
				return wfv1.NodeSucceeded, step, false, "", nil
			}, skip: func(task string) bool { return task == tt.skip }})
			if tt.wantEnd == 0 {
				if !root.end.IsZero() {
					t.Errorf("root ends at %v, want never", root.end)
				}
			} else if got := root.end.Sub(t0); got != tt.wantEnd || root.phase != tt.wantPhase {
				t.Errorf("root ends after %v %s, want %v %s", got, root.phase, tt.wantEnd, tt.wantPhase)
			}
			nodes := nodesAt(root, wf, t0.Add(time.Hour))
			got := map[string]wfv1.NodePhase{}
			for _, n := range nodes {
				if n.TemplateName == tmplContainerExecutor {
					got[n.DisplayName] = n.Phase
				}
			}
			for task, want := range tt.want {
				if got[task] != want {
					t.Errorf("task %s = %s, want %s (all: %v)", task, got[task], want, got)
				}
			}
			if _, ok := nodes[wf.NodeID("wf-0")]; !ok {
				t.Error("no workflow node: Argo's root node ID is the workflow name")
			}
		})
	}
}

func TestTerminateFreezes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	wf := testWorkflow()
	root, err := buildTree(wf)
	if err != nil {
		t.Fatal(err)
	}
	schedule(root, t0, outcomes{pod: func(n *simNode) (wfv1.NodePhase, time.Duration, bool, string, []string) {
		return wfv1.NodeSucceeded, time.Second, false, "", nil
	}})
	terminate(root, t0.Add(1500*time.Millisecond)) // b is running
	nodes := nodesAt(root, wf, t0.Add(time.Hour))
	for _, n := range nodes {
		if n.DisplayName == "b" && (n.Phase != wfv1.NodeFailed || n.Message != stopMessage) {
			t.Errorf("b = %s %q, want Failed with the stop message", n.Phase, n.Message)
		}
	}
	if root.phase != wfv1.NodeFailed {
		t.Errorf("root = %s", root.phase)
	}
}

// TestWatchdog: a KFP handler that never returns must not hang the client
// or every later request.
func TestWatchdog(t *testing.T) {
	t.Parallel()
	s := &Sandbox{opts: Options{Watchdog: 20 * time.Millisecond}, lock: newBigLock(), closing: make(chan struct{}), log: discardLogger()}
	release := make(chan struct{})
	defer close(release)
	stuck := s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	fine := s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))

	for i, h := range []http.Handler{stuck, fine} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/apis/v2beta1/pipelines/upload", nil))
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "watchdog") ||
			!strings.Contains(rec.Body.String(), "POST /apis/v2beta1/pipelines/upload") {
			t.Errorf("request %d: %d %s, want the watchdog's 500 naming the stuck request", i, rec.Code, rec.Body)
		}
	}
}

func metav1ObjectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestFaultPick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault Fault
		rolls []float64 // what the random source returns, in order
		reqs  []string  // "METHOD path"
		want  []string  // kind picked per request, "" for none
	}{
		{"method and path must match", Fault{Method: "POST", Path: "^/apis/v2beta1/runs$", Kind: Fault503},
			nil, []string{"GET /apis/v2beta1/runs", "POST /apis/v2beta1/runs/x", "POST /apis/v2beta1/runs"}, []string{"", "", "503"}},
		{"times then gone", Fault{Path: "runs", Times: 2, Kind: Fault429},
			nil, []string{"GET /runs", "GET /runs", "GET /runs"}, []string{"429", "429", ""}},
		{"forever", Fault{Kind: FaultReset},
			nil, []string{"GET /a", "PUT /b", "GET /c"}, []string{"reset", "reset", "reset"}},
		{"fraction", Fault{Fraction: 0.5, Kind: FaultLatency},
			[]float64{0.1, 0.7, 0.49, 0.5}, []string{"GET /a", "GET /a", "GET /a", "GET /a"}, []string{"latency", "", "latency", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rolls := tt.rolls
			f := &Faults{rand: func() float64 { r := rolls[0]; rolls = rolls[1:]; return r }}
			if err := f.Add(tt.fault); err != nil {
				t.Fatal(err)
			}
			for i, req := range tt.reqs {
				method, path, _ := strings.Cut(req, " ")
				got := ""
				if ft := f.pick(httptest.NewRequest(method, path, nil)); ft != nil {
					got = string(ft.Kind)
				}
				if got != tt.want[i] {
					t.Errorf("request %d (%s): picked %q, want %q", i, req, got, tt.want[i])
				}
			}
		})
	}
}

package kfp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadRun decodes a GetRun answer recorded from the sandbox (KFP 2.0.5's
// own task_details for a workflow Argo-named as a cluster names it).
func loadRun(t *testing.T, name string) Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r runJSON
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.run()
}

func paths(steps []Step) []string {
	var out []string
	for _, s := range steps {
		p := s.PathString()
		if s.Driver {
			p += " (driver)"
		}
		out = append(out, p)
	}
	return out
}

func TestFailedFindsNestedSteps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		want    []string
	}{
		{"loops-failed", []string{
			"for-loop-2[0] › for-loop-4[0] › print-text-2",
			"for-loop-2[0] › for-loop-4[1] › print-text-2",
			"for-loop-2[1] › for-loop-4[0] › print-text-2",
			"for-loop-2[1] › for-loop-4[1] › print-text-2",
			"for-loop-2[2] › for-loop-4[0] › print-text-2",
			"for-loop-2[2] › for-loop-4[1] › print-text-2",
		}},
		{"sub-pipeline-failed", []string{"prepare › normalize"}},
		{"exit-handler-failed", []string{"exit-handler-1 › train"}},
		{"if-else-failed", []string{"condition-branches-1 › condition-3 › say-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			run := loadRun(t, tt.fixture)
			got := paths(run.Failed())
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("failed steps (-want +got):\n%s", diff)
			}
		})
	}
}

// The pod of a failed step is its executor: the child its task's node
// lists, never a driver or another task's pod.
func TestFailedStepPodIsItsExecutor(t *testing.T) {
	t.Parallel()
	run := loadRun(t, "sub-pipeline-failed")
	steps := run.Failed()
	if len(steps) != 1 {
		t.Fatalf("want 1 failed step, got %v", paths(steps))
	}
	s := steps[0]
	if !strings.HasSuffix(s.Pod.NodeName, ".prepare.normalize.executor") {
		t.Errorf("pod node name = %q, want the normalize task's executor", s.Pod.NodeName)
	}
	// The normalize DAG's entry lists exactly that ID as its child.
	var owners []string
	for _, n := range run.Nodes {
		if slices.Contains(n.Children, s.Pod.NodeID) {
			owners = append(owners, n.Name)
		}
	}
	if !slices.Equal(owners, []string{"normalize"}) {
		t.Errorf("node %s is listed by %v, want [normalize]", s.Pod.NodeID, owners)
	}
	names := s.Pod.PodNames(0)
	if names[0] != s.Pod.NodeID {
		t.Errorf("KFP 2.0 pod names: first = %q, want the node ID %q", names[0], s.Pod.NodeID)
	}
	wf := s.Pod.Workflow
	want := wf + "-system-container-impl-" + strings.TrimPrefix(s.Pod.NodeID, wf+"-")
	if got := s.Pod.PodNames(17)[0]; got != want {
		t.Errorf("KFP 2.17 pod name = %q, want %q", got, want)
	}
}

func TestFailedLoopIterations(t *testing.T) {
	t.Parallel()
	steps := loadRun(t, "loops-failed").Failed()
	for _, s := range steps {
		if len(s.Loops) != 2 || s.Loops[0].Loop != "for-loop-2" || s.Loops[1].Loop != "for-loop-4" {
			t.Errorf("%s: loops = %+v", s.PathString(), s.Loops)
		}
	}
}

func TestTasksIgnoresNestedNamesakes(t *testing.T) {
	t.Parallel()
	// sub_pipeline has print-text at the root and inside prepare; only
	// normalize (inside prepare) fails.
	run := loadRun(t, "sub-pipeline-failed")
	got := run.Tasks([]string{"prepare", "print-text"})
	if got[0].State != StateFailed {
		t.Errorf("prepare = %s, want FAILED", got[0].State)
	}
	if got[1].State == StateSucceeded || got[1].State == StateFailed {
		// The root print-text never ran: prepare failed first.
		t.Errorf("root print-text = %s, want not run (the nested one must not count)", got[1].State)
	}
}

// The task API (KFP PR #13986) reports tasks with parents, types and pods;
// protojson omits ROOT and DRIVER (enum zero values) and writes int64 as
// strings.
func TestFailedTaskAPIShape(t *testing.T) {
	t.Parallel()
	const body = `{"run_id":"r1","state":"FAILED","tasks":[
	 {"task_id":"t0","name":"root","display_name":"root","status":"FAILED"},
	 {"task_id":"t1","parent_task_id":"t0","name":"for-loop-2","type":"LOOP","status":"FAILED","type_attributes":{"iteration_count":"2"}},
	 {"task_id":"t2","parent_task_id":"t1","name":"for-loop-2","type":"LOOP_ITERATION","status":"SUCCEEDED","type_attributes":{"iteration_index":"0"}},
	 {"task_id":"t3","parent_task_id":"t1","name":"for-loop-2","type":"LOOP_ITERATION","status":"FAILED","type_attributes":{"iteration_index":"1"}},
	 {"task_id":"t4","parent_task_id":"t3","name":"train","display_name":"Train model","type":"RUNTIME","status":"FAILED",
	  "error":{"code":2,"message":"exit code 1"},
	  "pods":[{"name":"wf-system-container-driver-1"},{"name":"wf-system-container-impl-2","type":"EXECUTOR"},{"name":"wf-system-container-impl-3","type":"EXECUTOR"}]},
	 {"task_id":"t5","parent_task_id":"t0","name":"report","type":"RUNTIME","status":"FAILED","pods":[{"name":"wf-system-container-driver-9"}]},
	 {"task_id":"t6","parent_task_id":"t0","name":"prep","type":"RUNTIME","status":"CACHED"}
	]}`
	var r runJSON
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	run := r.run()
	steps := run.Failed()
	if diff := cmp.Diff([]string{"for-loop-2[1] › train", "report (driver)"}, paths(steps)); diff != "" {
		t.Fatalf("failed steps (-want +got):\n%s", diff)
	}
	if steps[0].Pod.Name != "wf-system-container-impl-3" || steps[0].Message != "exit code 1" {
		t.Errorf("train: pod %q message %q, want the last executor pod and the task's error", steps[0].Pod.Name, steps[0].Message)
	}
	if steps[1].Pod.Name != "wf-system-container-driver-9" {
		t.Errorf("report: pod %q, want its driver", steps[1].Pod.Name)
	}
	got := run.Tasks([]string{"prep", "for-loop-2", "report"})
	if got[0].State != StateCached || !got[0].State.IsSuccess() || got[1].State != StateFailed || got[2].State != StateFailed {
		t.Errorf("root tasks = %+v", got)
	}
}

// Argo's retry strategy (KFP 2.17 manifests) puts a Retry node named
// executor above the attempts executor(0), executor(1): the step's pod is
// the last failed attempt.
func TestFailedRetriedExecutor(t *testing.T) {
	t.Parallel()
	wf := "p-x7"
	id := func(name string) string { return argoNodeID(wf, name) }
	task := wf + ".root.train"
	nodes := []Node{
		{Name: wf, State: StateFailed, Children: []string{id(wf + ".root")}},
		{Name: "root", State: StateFailed, Children: []string{id(task + "-driver"), id(task)}},
		{Name: "train-driver", State: StateSucceeded},
		{Name: "train", State: StateFailed, Children: []string{id(task + ".executor")}},
		{Name: "executor", State: StateFailed, Children: []string{id(task + ".executor(0)"), id(task + ".executor(1)")}},
		{Name: "executor(0)", State: StateFailed},
		{Name: "executor(1)", State: StateFailed},
	}
	steps := Run{Nodes: nodes}.Failed()
	if len(steps) != 1 || steps[0].PathString() != "train" {
		t.Fatalf("steps = %v", paths(steps))
	}
	if got := steps[0].Pod.NodeName; got != task+".executor(1)" {
		t.Errorf("pod node = %q, want the last attempt", got)
	}
}

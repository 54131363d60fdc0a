package sandbox_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// wantTask is a task of profile next's Run.tasks, by "TYPE name".
type wantTask struct {
	status, parent string // parent: the parent task's name, "" at the root
	err            string // error.message of a failed task; "" = not checked
}

// TestTasksNext runs the testdata pipelines (nested loops, a sub-pipeline,
// an exit handler, if/else) with a nested task failing or a branch skipped,
// and checks profile next's Run.tasks: one per KFP task, typed, with
// parents, states, errors, loop attributes and the driver and executor
// pods; only with view=FULL, and never task_details.
func TestTasksNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		script map[string]sandbox.TaskScript
		state  string
		count  map[string]int      // type/status -> tasks
		want   map[string]wantTask // by "TYPE name"
	}{
		{
			file:   "loops.yaml",
			script: map[string]sandbox.TaskScript{"print-text-2": {Outcome: sandbox.OutcomeFail, Message: "exit 7"}},
			state:  "FAILED",
			count: map[string]int{
				"ROOT/FAILED": 1, "LOOP/FAILED": 4, "LOOP/SUCCEEDED": 1, "LOOP_ITERATION/FAILED": 9, "LOOP_ITERATION/SUCCEEDED": 2,
				"RUNTIME/FAILED": 6, "RUNTIME/SUCCEEDED": 5,
			},
			want: map[string]wantTask{
				"LOOP for-loop-2":      {"FAILED", "root", ""},
				"LOOP for-loop-5":      {"SUCCEEDED", "root", ""},
				"RUNTIME print-text-2": {"FAILED", "for-loop-4", "exit 7"},
			},
		},
		{
			file:   "sub_pipeline.yaml",
			script: map[string]sandbox.TaskScript{"normalize": {Outcome: sandbox.OutcomeFail, Message: "ValueError: empty"}},
			state:  "FAILED",
			count:  map[string]int{"ROOT/FAILED": 1, "DAG/FAILED": 1, "RUNTIME/FAILED": 1},
			want: map[string]wantTask{
				"ROOT root":         {"FAILED", "", ""},
				"DAG prepare":       {"FAILED", "root", ""},
				"RUNTIME normalize": {"FAILED", "prepare", "ValueError: empty"},
			},
		},
		{
			file:   "exit_handler.yaml",
			script: map[string]sandbox.TaskScript{"train": {Outcome: sandbox.OutcomeFail, Message: "exit 1"}},
			state:  "FAILED",
			count:  map[string]int{"ROOT/FAILED": 1, "EXIT_HANDLER/FAILED": 1, "RUNTIME/FAILED": 1, "RUNTIME/SUCCEEDED": 2},
			want: map[string]wantTask{
				"EXIT_HANDLER exit-handler-1": {"FAILED", "root", ""},
				"RUNTIME announce":            {"SUCCEEDED", "exit-handler-1", ""},
				"RUNTIME train":               {"FAILED", "exit-handler-1", "exit 1"},
				"RUNTIME cleanup":             {"SUCCEEDED", "root", ""},
			},
		},
		{
			file:   "if_else.yaml",
			script: map[string]sandbox.TaskScript{"condition-2": {Outcome: sandbox.OutcomeSkip}},
			state:  "SUCCEEDED",
			count: map[string]int{
				"ROOT/SUCCEEDED": 1, "CONDITION_BRANCH/SUCCEEDED": 1, "CONDITION/SKIPPED": 1, "CONDITION/SUCCEEDED": 1,
				"RUNTIME/SUCCEEDED": 3,
			},
			want: map[string]wantTask{
				"CONDITION_BRANCH condition-branches-1": {"SUCCEEDED", "root", ""},
				"CONDITION condition-2":                 {"SKIPPED", "condition-branches-1", ""},
				"CONDITION condition-3":                 {"SUCCEEDED", "condition-branches-1", ""},
				"RUNTIME say-2":                         {"SUCCEEDED", "condition-3", ""},
				"RUNTIME flip-coin":                     {"SUCCEEDED", "root", ""},
				"RUNTIME print-text":                    {"SUCCEEDED", "root", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			t.Parallel()
			sb, c, clock := clocked(t, sandbox.ProfileNext, sandbox.Options{})
			spec := kfptest.Pipeline(t, tt.file)
			pid, vid := c.Upload(t, tt.file, tt.file, spec)
			sb.Script(sandbox.Script{Tasks: tt.script})
			id := c.CreateRun(t, "tasks", pid, vid, kfptest.RequiredParams(t, spec))
			if run := runToEnd(t, c, clock, id); run["state"] != tt.state {
				t.Fatalf("run %v, want %s", run["state"], tt.state)
			}
			plain := c.Run(t, id)
			if _, ok := plain["tasks"]; ok {
				t.Error("tasks without view=FULL")
			}
			full := c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/runs/"+id+"?view=FULL", nil).JSON(t)
			for _, run := range []map[string]any{plain, full} {
				if details, ok := run["run_details"].(map[string]any); ok && details["task_details"] != nil {
					t.Error("run_details.task_details in profile next")
				}
				if run["state"] != tt.state || run["run_id"] != id {
					t.Errorf("the rest of the run changed: %v %v", run["state"], run["run_id"])
				}
			}
			tasks := asTasks(t, full["tasks"])
			byID := map[string]map[string]any{}
			for _, task := range tasks {
				byID[task["task_id"].(string)] = task
			}
			wf := getWorkflow(t, sb, id)
			count := map[string]int{}
			seen := map[string]bool{}
			for _, task := range tasks {
				typ, _ := task["type"].(string)
				if typ == "" {
					typ = "ROOT"
				}
				count[typ+"/"+fmt.Sprint(task["status"])]++
				name := task["name"].(string)
				if task["run_id"] != id || task["create_time"] == nil || task["start_time"] == nil || task["end_time"] == nil {
					t.Errorf("task %s: %v", name, task)
				}
				parent := ""
				if pid, ok := task["parent_task_id"].(string); ok {
					p, ok := byID[pid]
					if !ok {
						t.Fatalf("task %s: parent %s is not a task", name, pid)
					}
					parent = p["name"].(string)
				} else if typ != "ROOT" {
					t.Errorf("task %s (%s) has no parent", name, typ)
				}
				msg, hasErr := "", false
				if e, ok := task["error"].(map[string]any); ok {
					msg, hasErr = e["message"].(string)
				}
				if hasErr != (task["status"] == "FAILED") {
					t.Errorf("task %s %s: status %v, error %v", typ, name, task["status"], task["error"])
				}
				if w, ok := tt.want[typ+" "+name]; ok {
					seen[typ+" "+name] = true
					if task["status"] != w.status || parent != w.parent || (w.err != "" && msg != w.err) {
						t.Errorf("task %s %s = %v parent %q error %q, want %+v", typ, name, task["status"], parent, msg, w)
					}
				}
				checkPods(t, wf, typ, task)
			}
			for key := range tt.want {
				if !seen[key] {
					t.Errorf("no task %s", key)
				}
			}
			if fmt.Sprint(count) != fmt.Sprint(tt.count) {
				t.Errorf("tasks by type/status %v, want %v", count, tt.count)
			}
			if tt.file == "loops.yaml" {
				checkLoops(t, tasks, byID)
			}
		})
	}
}

func asTasks(t *testing.T, v any) []map[string]any {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("tasks = %v, want a list", v)
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i] = x.(map[string]any)
	}
	return out
}

// checkPods: a RUNTIME task has its driver pod (type DRIVER, omitted) and
// its executor pod, the Retry node's child, by its v2 name.
func checkPods(t *testing.T, wf fullWorkflow, typ string, task map[string]any) {
	t.Helper()
	name := task["name"].(string)
	pods, _ := task["pods"].([]any)
	if typ != "RUNTIME" {
		for _, p := range pods {
			if pod := p.(map[string]any); pod["type"] != nil || !strings.Contains(pod["name"].(string), "-system-dag-driver-") {
				t.Errorf("task %s (%s): pod %v, want only DAG drivers", name, typ, pod)
			}
		}
		return
	}
	if len(pods) != 2 {
		t.Fatalf("task %s: pods %v, want the driver and the executor", name, pods)
	}
	driver, executor := pods[0].(map[string]any), pods[1].(map[string]any)
	if driver["type"] != nil || !strings.HasPrefix(driver["name"].(string), wf.Metadata.Name+"-system-container-driver-") || driver["uid"] == "" {
		t.Errorf("task %s: driver pod %v", name, driver)
	}
	if executor["type"] != "EXECUTOR" || executor["uid"] == "" {
		t.Errorf("task %s: executor pod %v", name, executor)
	}
	found := false
	for _, n := range wf.Status.Nodes {
		if n.DisplayName == "executor(0)" && v2PodName(wf.Metadata.Name, n) == executor["name"] {
			found = true
		}
	}
	if !found {
		t.Errorf("task %s: executor pod %s is no executor(0) node's v2 name", name, executor["name"])
	}
}

// checkLoops: for-loop-2 has three items, each iteration has its index and
// a for-loop-4 of two; LOOP_ITERATIONs have the iteration driver as pod.
func checkLoops(t *testing.T, tasks []map[string]any, byID map[string]map[string]any) {
	t.Helper()
	attr := func(task map[string]any, key string) string {
		a, _ := task["type_attributes"].(map[string]any)
		s, _ := a[key].(string)
		return s
	}
	counts := map[string][]string{}
	var indexes []string
	for _, task := range tasks {
		switch task["type"] {
		case "LOOP":
			counts[task["name"].(string)] = append(counts[task["name"].(string)], attr(task, "iteration_count"))
		case "LOOP_ITERATION":
			parent := byID[task["parent_task_id"].(string)]
			if parent["type"] != "LOOP" || parent["name"] != task["name"] {
				t.Errorf("iteration %s: parent %v, want its LOOP", task["name"], parent["name"])
			}
			if task["name"] == "for-loop-2" {
				indexes = append(indexes, attr(task, "iteration_index"))
			}
			if pods, _ := task["pods"].([]any); len(pods) != 1 {
				t.Errorf("iteration %s: pods %v, want its iteration driver", task["name"], pods)
			}
		}
	}
	sort.Strings(indexes)
	want := map[string][]string{"for-loop-2": {"3"}, "for-loop-4": {"2", "2", "2"}, "for-loop-5": {"2"}}
	if fmt.Sprint(counts) != fmt.Sprint(want) || strings.Join(indexes, ",") != "0,1,2" {
		t.Errorf("loop counts %v, want %v; for-loop-2 indexes %v, want 0,1,2", counts, want, indexes)
	}
}

// TestTasksOnlyInNext: before next, view=FULL changes nothing: tasks stay in
// task_details; in next, ListRuns has no task_details either.
func TestTasksOnlyInNext(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			_, c, clock := clocked(t, p, sandbox.Options{Prefix: "/pipeline"})
			pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
			id := c.CreateRun(t, "view", pid, vid, map[string]any{"text": "hi"})
			runToEnd(t, c, clock, id)
			full := c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/runs/"+id+"?view=FULL", nil).JSON(t)
			list := c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/runs", nil).JSON(t)
			listed := asTasks(t, list["runs"])[0]
			next := p == sandbox.ProfileNext
			for what, run := range map[string]map[string]any{"get": full, "list": listed} {
				if hasDetails := kfptest.Task(run, "write-text") != nil; hasDetails == next {
					t.Errorf("%s: task_details present = %v in profile %s", what, hasDetails, p)
				}
			}
			if _, hasTasks := full["tasks"]; hasTasks != next {
				t.Errorf("tasks present = %v in profile %s", hasTasks, p)
			}
			if next {
				if n := len(asTasks(t, full["tasks"])); n != 3 { // root, write-text, read-text
					t.Errorf("%d tasks, want 3", n)
				}
			}
		})
	}
}

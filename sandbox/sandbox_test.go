package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
	"gopkg.in/yaml.v3"
)

// TestMain points KFP's glog at a temporary directory (it would otherwise
// write files into the system temp dir) and removes it afterwards.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "kfp-sandbox-glog-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := errors.Join(flag.Set("log_dir", dir), flag.Set("stderrthreshold", "FATAL")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// start starts a single-user sandbox with fast steps.
func start(t *testing.T, o sandbox.Options) (*sandbox.Sandbox, *kfptest.Client) {
	t.Helper()
	if o.StepDuration == 0 {
		o.StepDuration = 5 * time.Millisecond
	}
	if o.Tick == 0 {
		o.Tick = 2 * time.Millisecond
	}
	sb, err := sandbox.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb, &kfptest.Client{Base: sb.URL()}
}

// unsupported lists corpus pipelines KFP 2.0.5's backend itself refuses to
// run (the SDK at the same commit already compiles features the 2.0.5
// backend compiler lacks), with the error KFP gives. A real 2.0.5 cluster
// refuses them the same way.
var unsupported = map[string]string{
	// Fan-in from a ParallelFor (dsl.Collected) and depending on a loop
	// came with KFP 2.1; 2.0.5's compiled workflow fails Argo validation.
	"cross_loop_after_topology.yaml":                             "invalid dependency for-loop-",
	"if_elif_else_complex.yaml":                                  "invalid dependency for-loop-",
	"parallelfor_fan_in_artifacts_complex.yaml":                  "invalid dependency for-loop-",
	"parallelfor_fan_in_artifacts_simple.yaml":                   "invalid dependency for-loop-",
	"parallelfor_fan_in_conditional_producer_and_consumers.yaml": "invalid dependency for-loop-",
	"parallelfor_fan_in_nested_with_parameters.yaml":             "invalid dependency for-loop-",
	"parallelfor_fan_in_parameters_complex.yaml":                 "invalid dependency for-loop-",
	"parallelfor_fan_in_pipeline_producer_consumer.yaml":         "invalid dependency for-loop-",
	"pythonic_artifacts_with_list_of_artifacts.yaml":             "invalid dependency for-loop-",
	// dsl.PipelineTaskFinalStatus is not implemented by the 2.0.5 compiler.
	"pipeline_with_task_final_status.yaml": "task final status not supported yet",
}

// TestPipelinesRunSucceed runs every pipeline of testdata/pipelines (this
// project's own, compiled by the KFP SDK) to SUCCEEDED, and checks that
// every container task, in nested DAGs too, succeeded.
func TestPipelinesRunSucceed(t *testing.T) {
	runAllSucceed(t, filepath.Dir(kfptest.Testdata(t, "pipelines", "two_step.yaml")), nil, true)
}

// TestCorpusRunsSucceed does the same over the KFP SDK 2.4 corpus when
// KF_RUN_CORPUS is set. Files the 2.0.5 backend refuses must be refused
// with KFP's own error; the root DAG's container tasks must succeed.
func TestCorpusRunsSucceed(t *testing.T) {
	runAllSucceed(t, kfptest.Corpus(t, filepath.Join("kfp-sdk-2.4", "pipelines")), unsupported, false)
}

// runAllSucceed uploads and runs every *.yaml of dir in one sandbox.
// nested also checks the container tasks of nested DAGs, not only root's.
func runAllSucceed(t *testing.T, dir string, refused map[string]string, nested bool) {
	_, c := start(t, sandbox.Options{})
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pipelines in %s: %v", dir, err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(strings.TrimSuffix(base, ".yaml"), func(t *testing.T) {
			t.Parallel()
			spec, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pid, vid := c.Upload(t, base, base, spec)
			body := map[string]any{
				"display_name":               "all " + base,
				"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
				"runtime_config":             map[string]any{"parameters": kfptest.RequiredParams(t, spec)},
			}
			r, err := c.Do(t.Context(), http.MethodPost, "/apis/v2beta1/runs", body, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := refused[base]; ok {
				if r.Status == http.StatusOK || !strings.Contains(string(r.Body), want) {
					t.Fatalf("create run: status %d %s, want KFP 2.0.5's refusal containing %q", r.Status, r.Body, want)
				}
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("create run: status %d: %s", r.Status, r.Body)
			}
			id := r.JSON(t)["run_id"].(string)
			run := c.WaitState(t, id, "SUCCEEDED")
			history := states(run["state_history"])
			if got := strings.Join(history, ","); got != "PENDING,RUNNING,SUCCEEDED" {
				t.Errorf("state_history = %s, want PENDING,RUNNING,SUCCEEDED", got)
			}
			if fin, _ := run["finished_at"].(string); strings.HasPrefix(fin, "1970") {
				t.Errorf("finished_at = %s on a finished run", fin)
			}
			tasks := irTasks(t, spec, nested)
			if nested && len(tasks) == 0 {
				t.Fatal("no container tasks in the pipeline")
			}
			for _, task := range tasks {
				if td := kfptest.Task(run, task); td == nil || td["state"] != "SUCCEEDED" {
					t.Errorf("task %s: %v, want SUCCEEDED", task, td)
				}
			}
		})
	}
}

// irTasks lists the container tasks of a compiled pipeline's root DAG, and
// with nested those of every DAG component too.
func irTasks(t *testing.T, spec []byte, nested bool) []string {
	type dag struct {
		Tasks map[string]struct {
			ComponentRef struct {
				Name string `yaml:"name"`
			} `yaml:"componentRef"`
		} `yaml:"tasks"`
	}
	var doc struct {
		Components map[string]struct {
			ExecutorLabel string `yaml:"executorLabel"`
			DAG           dag    `yaml:"dag"`
		} `yaml:"components"`
		Root struct {
			DAG dag `yaml:"dag"`
		} `yaml:"root"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(spec)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	dags := []dag{doc.Root.DAG}
	if nested {
		for _, c := range doc.Components {
			dags = append(dags, c.DAG)
		}
	}
	var names []string
	for _, d := range dags {
		for n, task := range d.Tasks {
			if doc.Components[task.ComponentRef.Name].ExecutorLabel != "" {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

func states(h any) []string {
	list, _ := h.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(map[string]any)["state"].(string)
		out = append(out, s)
	}
	return out
}

func TestTaskFailure(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)
	tests := []struct {
		name        string
		failTask    string
		wantStates  map[string]any // task -> state (nil = no state key: Argo Omitted)
		wantLogTail string
	}{
		{"first task fails", "write-text", map[string]any{"write-text": "FAILED", "read-text": nil}, "Traceback: disk full"},
		{"last task fails", "read-text", map[string]any{"write-text": "SUCCEEDED", "read-text": "FAILED"}, "Traceback: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runName := "fail " + tt.name
			sb.Script(sandbox.Script{RunName: runName, Tasks: map[string]sandbox.TaskScript{
				tt.failTask: {Outcome: sandbox.OutcomeFail, Message: "Traceback: disk full", Log: []string{"loading data"}},
			}})
			id := c.CreateRun(t, runName, pid, vid, map[string]any{"text": "hi"})
			run := c.WaitState(t, id, "FAILED")
			for task, want := range tt.wantStates {
				td := kfptest.Task(run, task)
				if want == nil {
					if td != nil && td["state"] != nil {
						t.Errorf("task %s state = %v, want none (Omitted)", task, td["state"])
					}
					continue
				}
				if td == nil || td["state"] != want {
					t.Errorf("task %s = %v, want state %v", task, td, want)
				}
			}
			pod := kfptest.PodName(run, tt.failTask)
			logs := podLogs(t, sb.ControlURL(), pod, http.StatusOK)
			if want := "loading data\n" + tt.wantLogTail + "\n"; logs != want {
				t.Errorf("pod %s log = %q, want %q", pod, logs, want)
			}
		})
	}
}

func podLogs(t *testing.T, base, pod string, want int) string {
	t.Helper()
	c := &kfptest.Client{Base: base}
	r := c.Must(t, want, http.MethodGet, "/k8s/pod/logs?podname="+pod+"&podnamespace=kubeflow", nil)
	return string(r.Body)
}

func TestPodLogs(t *testing.T) {
	sb, c := start(t, sandbox.Options{Prefix: "/pipeline"})
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)
	sb.Script(sandbox.Script{RunName: "logs", Tasks: map[string]sandbox.TaskScript{
		"write-text": {Log: []string{"line one", "line two"}},
	}})
	run := c.WaitState(t, c.CreateRun(t, "logs", pid, vid, map[string]any{"text": "hi"}), "SUCCEEDED")
	pod := kfptest.PodName(run, "write-text")
	if pod == "" {
		t.Fatal("no pod name in write-text's child_tasks")
	}
	root := &kfptest.Client{Base: sb.ControlURL()}
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"UI route", "/k8s/pod/logs?podname=" + pod + "&podnamespace=kubeflow", 200, "line one\nline two\n"},
		{"behind the prefix", "/pipeline/k8s/pod/logs?podname=" + pod, 200, "line one\nline two\n"},
		{"no podname", "/k8s/pod/logs", 400, "podname argument is required"},
		{"unknown pod", "/k8s/pod/logs?podname=nope", 500, "Could not get main container logs: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := root.Must(t, tt.status, http.MethodGet, tt.path, nil)
			if !strings.HasPrefix(string(r.Body), tt.body) {
				t.Errorf("body %q, want prefix %q", r.Body, tt.body)
			}
		})
	}
}

func TestPrefix(t *testing.T) {
	sb, _ := start(t, sandbox.Options{Prefix: "/pipeline"})
	t.Parallel()
	if !strings.HasSuffix(sb.URL(), "/pipeline") {
		t.Fatalf("URL() = %s, want the /pipeline prefix", sb.URL())
	}
	root := &kfptest.Client{Base: sb.ControlURL()}
	root.Must(t, http.StatusOK, http.MethodGet, "/pipeline/apis/v2beta1/healthz", nil)
	root.Must(t, http.StatusNotFound, http.MethodGet, "/apis/v2beta1/healthz", nil)
	root.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/requests", nil)
}

// TestTerminate drives the sandbox by hand with its own clock, so the
// CANCELING step is observed deterministically.
func TestTerminate(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	sb, c := start(t, sandbox.Options{Clock: clock, Tick: -1, StepDuration: time.Second})
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)
	sb.Script(sandbox.Script{RunName: "stuck", Tasks: map[string]sandbox.TaskScript{"write-text": {Outcome: sandbox.OutcomeHang}}})
	id := c.CreateRun(t, "stuck", pid, vid, map[string]any{"text": "hi"})

	step := func(want string) map[string]any {
		t.Helper()
		clock.add(time.Second)
		sb.Tick()
		run := c.Run(t, id)
		if run["state"] != want {
			t.Fatalf("state = %v, want %s", run["state"], want)
		}
		return run
	}
	step("RUNNING")
	step("RUNNING")
	c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/runs/"+id+":terminate", nil)
	if run := c.Run(t, id); run["state"] != "CANCELING" {
		t.Fatalf("after terminate: state = %v, want CANCELING", run["state"])
	}
	run := step("FAILED")
	if got := strings.Join(states(run["state_history"]), ","); got != "PENDING,RUNNING,FAILED" {
		t.Errorf("state_history = %s", got)
	}
	if td := kfptest.Task(run, "write-text"); td == nil || td["state"] != "FAILED" {
		t.Errorf("write-text = %v, want FAILED", td)
	}
	wf := workflow(t, sb.ControlURL(), id)
	if wf.Status.Phase != "Failed" || wf.Status.Message != "Stopped with strategy 'Terminate'" {
		t.Errorf("workflow status = %s %q", wf.Status.Phase, wf.Status.Message)
	}
	// A second terminate is refused as KFP refuses it.
	c.Must(t, http.StatusBadRequest, http.MethodPost, "/apis/v2beta1/runs/"+id+":terminate", nil)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

type argoWorkflow struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Phase   string `json:"phase"`
		Message string `json:"message"`
		Nodes   map[string]struct {
			DisplayName string `json:"displayName"`
			Phase       string `json:"phase"`
			Type        string `json:"type"`
		} `json:"nodes"`
	} `json:"status"`
}

func workflow(t *testing.T, base, runID string) argoWorkflow {
	t.Helper()
	c := &kfptest.Client{Base: base}
	var wf argoWorkflow
	if err := json.Unmarshal(c.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/runs/"+runID+"/workflow", nil).Body, &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

func TestControlAPI(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	ctl := &kfptest.Client{Base: sb.ControlURL()}
	spec := kfptest.Pipeline(t, "two_step.yaml")
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)

	t.Run("manual advance", func(t *testing.T) {
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/scripts", map[string]any{"run_name": "manual", "run": map[string]any{"outcome": "hang"}})
		id := c.CreateRun(t, "manual", pid, vid, map[string]any{"text": "hi"})
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/runs/"+id+"/advance",
			map[string]any{"phase": "Running", "tasks": map[string]any{"write-text": map[string]any{"phase": "Running"}}})
		run := c.Run(t, id)
		if run["state"] != "RUNNING" || kfptest.Task(run, "write-text")["state"] != "RUNNING" {
			t.Fatalf("after advance Running: %v", run["state"])
		}
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/runs/"+id+"/advance",
			map[string]any{"phase": "Failed", "message": "boom", "tasks": map[string]any{"write-text": map[string]any{"phase": "Failed", "message": "boom"}}})
		run = c.Run(t, id)
		if run["state"] != "FAILED" {
			t.Fatalf("after advance Failed: %v", run["state"])
		}
		if td := kfptest.Task(run, "read-text"); td == nil || td["state"] != nil {
			t.Errorf("read-text = %v, want a task with no state (Omitted)", td)
		}
	})
	t.Run("run-level failure", func(t *testing.T) {
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/scripts", map[string]any{"run_name": "broken", "run": map[string]any{"outcome": "fail", "message": "invalid spec"}})
		id := c.CreateRun(t, "broken", pid, vid, map[string]any{"text": "hi"})
		run := c.WaitState(t, id, "FAILED")
		if kfptest.Task(run, "write-text") != nil {
			t.Errorf("a task ran in a run that failed before starting any")
		}
		if wf := workflow(t, sb.ControlURL(), id); wf.Status.Message != "invalid spec" {
			t.Errorf("workflow message %q", wf.Status.Message)
		}
	})
	t.Run("retry is a new attempt with the current script", func(t *testing.T) {
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/scripts", map[string]any{"run_name": "flaky", "tasks": map[string]any{"write-text": map[string]any{"outcome": "fail"}}})
		id := c.CreateRun(t, "flaky", pid, vid, map[string]any{"text": "hi"})
		c.WaitState(t, id, "FAILED")
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/scripts", map[string]any{"run_name": "flaky"})
		c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/runs/"+id+":retry", nil)
		run := c.WaitState(t, id, "SUCCEEDED")
		if got := strings.Join(states(run["state_history"]), ","); !strings.HasSuffix(got, "RUNNING,SUCCEEDED") {
			t.Errorf("state_history after retry = %s", got)
		}
	})
	t.Run("scripts by name and clearing", func(t *testing.T) {
		ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/scripts", map[string]any{"run_name": "doomed", "tasks": map[string]any{"read-text": map[string]any{"outcome": "fail"}}})
		doomed := c.CreateRun(t, "doomed", pid, vid, map[string]any{"text": "hi"})
		other := c.CreateRun(t, "other", pid, vid, map[string]any{"text": "hi"})
		c.WaitState(t, doomed, "FAILED")
		c.WaitState(t, other, "SUCCEEDED")
		ctl.Must(t, http.StatusOK, http.MethodDelete, "/_sandbox/scripts", nil)
		c.WaitState(t, c.CreateRun(t, "doomed", pid, vid, map[string]any{"text": "hi"}), "SUCCEEDED")
	})
	t.Run("bad requests", func(t *testing.T) {
		ctl.Must(t, http.StatusBadRequest, http.MethodPost, "/_sandbox/scripts", map[string]any{"tasks": map[string]any{"x": map[string]any{"outcome": "explode"}}})
		ctl.Must(t, http.StatusNotFound, http.MethodPost, "/_sandbox/runs/nope/advance", map[string]any{"phase": "Running"})
		ctl.Must(t, http.StatusNotFound, http.MethodGet, "/_sandbox/runs/nope/workflow", nil)
		ctl.Must(t, http.StatusBadRequest, http.MethodPost, "/_sandbox/faults", map[string]any{"kind": "gremlins"})
	})
	t.Run("recurring runs get their own IDs", func(t *testing.T) {
		ids := map[string]bool{}
		for i := range 3 {
			r := c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/recurringruns", map[string]any{
				"display_name":               fmt.Sprintf("nightly-%d", i),
				"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
				"runtime_config":             map[string]any{"parameters": map[string]any{"text": "hi"}},
				"trigger":                    map[string]any{"cron_schedule": map[string]any{"cron": "0 0 3 * * *"}},
				"mode":                       "ENABLE",
				"max_concurrency":            "1",
			}).JSON(t)
			ids[r["recurring_run_id"].(string)] = true
		}
		if len(ids) != 3 {
			t.Fatalf("recurring run IDs %v, want 3 distinct", ids)
		}
		for id := range ids {
			c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/recurringruns/"+id+":disable", nil)
		}
	})
	t.Run("KFP 2.0.5 behaviours kept", func(t *testing.T) {
		// GetPipelineByName always fails at 2.0.5.
		c.Must(t, http.StatusInternalServerError, http.MethodGet, "/apis/v2beta1/pipelines/names/two-step", nil)
		// An unknown version on create is a 500, not a 404.
		c.Must(t, http.StatusInternalServerError, http.MethodPost, "/apis/v2beta1/runs", map[string]any{
			"display_name": "x", "pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": "00000000-0000-0000-0000-000000000000"}})
		// Errors are mapped by the interceptor, not all 500.
		c.Must(t, http.StatusNotFound, http.MethodGet, "/apis/v2beta1/runs/00000000-0000-0000-0000-000000000000", nil)
		c.Must(t, http.StatusOK, http.MethodGet, "/apis/v1beta1/healthz", nil)
		c.Must(t, http.StatusOK, http.MethodGet, "/apis/v1beta1/experiments", nil)
	})
}

func TestUploadGuard(t *testing.T) {
	_, c := start(t, sandbox.Options{})
	t.Parallel()
	tests := []struct {
		name, file string
		data       string
		status     int
		want       string
	}{
		{"malformed YAML is refused before KFP", "bad.yaml", "pipelineInfo:\n  name: x\n bad: [\n", 400, "not valid YAML"},
		{"valid YAML that is no pipeline is KFP's own error", "empty.yaml", "a: 1\n", 500, "error_message"},
		{"unknown extension is KFP's own 400", "p.txt", "a: 1\n", 400, "Unexpected pipeline file format"},
	}
	t.Run("malformed v1beta1 manifest is refused before KFP", func(t *testing.T) {
		t.Parallel()
		r := c.Must(t, http.StatusBadRequest, http.MethodPost, "/apis/v1beta1/runs", map[string]any{
			"name": "x", "pipeline_spec": map[string]any{"pipeline_manifest": "a: [\n"}})
		if !strings.Contains(string(r.Body), "not valid YAML") || !strings.Contains(string(r.Body), `"code":3`) {
			t.Errorf("body %s", r.Body)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := upload(t, c, tt.name, tt.file, []byte(tt.data))
			if r.Status != tt.status || !strings.Contains(string(r.Body), tt.want) {
				t.Fatalf("status %d %s, want %d containing %q", r.Status, r.Body, tt.status, tt.want)
			}
		})
	}
}

func upload(t *testing.T, c *kfptest.Client, name, file string, data []byte) kfptest.Response {
	t.Helper()
	var body bytes.Buffer
	fmt.Fprintf(&body, "--b\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n", file, data)
	r, err := c.Do(t.Context(), http.MethodPost, "/apis/v2beta1/pipelines/upload?name="+strings.ReplaceAll(name, " ", "-"), &body,
		http.Header{"Content-Type": {"multipart/form-data; boundary=b"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFaults(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	// Fresh connections: Go's transport silently retries an idempotent
	// request whose reused connection was reset, which would hide the fault.
	c.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctl := &kfptest.Client{Base: sb.ControlURL()}
	// Each case uses its own path so the cases can run in parallel.
	tests := []struct {
		kind   string
		extra  map[string]any
		check  func(t *testing.T, r kfptest.Response, err error)
		status int // logged status
	}{
		{"503", nil, func(t *testing.T, r kfptest.Response, err error) {
			if err != nil || r.Status != 503 || !strings.Contains(string(r.Body), `"code":14`) {
				t.Errorf("got %d %s %v, want a gateway-shaped 503", r.Status, r.Body, err)
			}
		}, 503},
		{"503-html", nil, func(t *testing.T, r kfptest.Response, err error) {
			if err != nil || r.Status != 503 || !strings.Contains(string(r.Body), "<html>") {
				t.Errorf("got %d %s %v, want an HTML 503", r.Status, r.Body, err)
			}
		}, 503},
		{"429", map[string]any{"retry_after": 7}, func(t *testing.T, r kfptest.Response, err error) {
			if err != nil || r.Status != 429 {
				t.Errorf("got %d %v, want 429", r.Status, err)
			}
		}, 429},
		{"latency", map[string]any{"delay": "20ms"}, func(t *testing.T, r kfptest.Response, err error) {
			if err != nil || r.Status != 404 {
				t.Errorf("got %d %v, want KFP's own 404 after the delay", r.Status, err)
			}
		}, 404},
		{"reset", nil, func(t *testing.T, r kfptest.Response, err error) {
			if err == nil {
				t.Errorf("got %d, want a connection error", r.Status)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			runPath := "/apis/v2beta1/runs/fault-" + tt.kind
			f := map[string]any{"method": "GET", "path": "^" + runPath + "$", "times": 2, "kind": tt.kind}
			for k, v := range tt.extra {
				f[k] = v
			}
			ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/faults", f)
			for range 2 {
				r, err := c.Do(t.Context(), http.MethodGet, runPath, nil, nil)
				tt.check(t, r, err)
			}
			// Third time through: the fault is used up, KFP answers.
			c.Must(t, http.StatusNotFound, http.MethodGet, runPath, nil)
			var got []string
			for _, req := range sb.Requests() {
				if req.Path == runPath {
					got = append(got, fmt.Sprintf("%s/%d", req.Fault, req.Status))
				}
			}
			want := fmt.Sprintf("%s/%d,%s/%d,/404", tt.kind, tt.status, tt.kind, tt.status)
			if strings.Join(got, ",") != want {
				t.Errorf("request log %v, want %s", got, want)
			}
		})
	}
	t.Run("429 sends Retry-After", func(t *testing.T) {
		t.Parallel()
		if err := sb.Faults().Add(sandbox.Fault{Path: "^/apis/v2beta1/experiments/retry-after$", Times: 1, Kind: sandbox.Fault429, RetryAfter: 3}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(sb.URL() + "/apis/v2beta1/experiments/retry-after")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
			t.Errorf("got %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("fraction and forever", func(t *testing.T) {
		t.Parallel()
		if err := sb.Faults().Add(sandbox.Fault{Path: "^/apis/v2beta1/runs/fault-always$", Fraction: 1, Kind: sandbox.Fault503}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			c.Must(t, 503, http.MethodGet, "/apis/v2beta1/runs/fault-always", nil)
		}
	})
	t.Run("504-after creates, then loses the answer", func(t *testing.T) {
		t.Parallel()
		if err := sb.Faults().Add(sandbox.Fault{Method: "POST", Path: "^/apis/v2beta1/experiments$", Times: 1, Kind: sandbox.FaultLostAnswer}); err != nil {
			t.Fatal(err)
		}
		r, err := c.Do(t.Context(), http.MethodPost, "/apis/v2beta1/experiments", map[string]any{"display_name": "lost-answer"}, nil)
		if err != nil || r.Status != http.StatusGatewayTimeout || strings.Contains(string(r.Body), "lost-answer") {
			t.Fatalf("got %d %s %v, want a bare 504", r.Status, r.Body, err)
		}
		// KFP created it all the same: a second create is a duplicate.
		c.Must(t, http.StatusConflict, http.MethodPost, "/apis/v2beta1/experiments", map[string]any{"display_name": "lost-answer"})
	})
	t.Run("control API is never faulted", func(t *testing.T) {
		t.Parallel()
		if err := sb.Faults().Add(sandbox.Fault{Path: "^/_sandbox/", Kind: sandbox.Fault503}); err != nil {
			t.Fatal(err)
		}
		ctl.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/requests", nil)
	})
}

// TestFaultHang has its own sandbox: it waits for the fault table to empty.
func TestFaultHang(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	if err := sb.Faults().Add(sandbox.Fault{Path: "^/apis/v2beta1/runs/fault-hang$", Times: 1, Kind: sandbox.FaultHang}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, http.MethodGet, "/apis/v2beta1/runs/fault-hang", nil, nil)
		done <- err
	}()
	// The request is answered only when the client gives up.
	waitFor(t, func() bool { return sb.Faults().Len() == 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("hung request ended with %v, want the client's cancel", err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// TestImageCheck pushes an image to the sandbox registry and runs the
// two-step pipeline inline with its executors pointed at the registry.
func TestImageCheck(t *testing.T) {
	for _, auth := range []bool{false, true} {
		o := sandbox.Options{}
		if auth {
			o.RegistryUser, o.RegistryPassword = "ci", "s3cret"
		}
		sb, c := start(t, o)
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			t.Parallel()
			img, err := random.Image(256, 1)
			if err != nil {
				t.Fatal(err)
			}
			repo := sb.RegistryAddr() + "/kf-run/step"
			tag, err := name.ParseReference(repo + ":v1")
			if err != nil {
				t.Fatal(err)
			}
			if auth {
				if err := remote.Write(tag, img); err == nil {
					t.Fatal("anonymous push to an authenticated registry succeeded")
				}
			}
			if err := remote.Write(tag, img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})); err != nil {
				t.Fatal(err)
			}
			digest, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name, image, want string
			}{
				{"by tag", repo + ":v1", "SUCCEEDED"},
				{"by digest", repo + "@" + digest.String(), "SUCCEEDED"},
				{"by tag and digest", repo + ":v1@" + digest.String(), "SUCCEEDED"},
				{"missing digest", repo + "@sha256:" + strings.Repeat("0", 64), "FAILED"},
				{"missing tag", repo + ":nope", "FAILED"},
				{"other registry is not checked", "python:3.7", "SUCCEEDED"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					spec := withImage(t, kfptest.Pipeline(t, "two_step.yaml"), tt.image)
					r := c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/runs", map[string]any{
						"display_name": "image " + tt.name, "pipeline_spec": spec,
						"runtime_config": map[string]any{"parameters": map[string]any{"text": "hi"}},
					}).JSON(t)
					run := c.WaitState(t, r["run_id"].(string), tt.want)
					if tt.want != "FAILED" {
						return
					}
					logs := podLogs(t, sb.ControlURL(), kfptest.PodName(run, "write-text"), http.StatusOK)
					if !strings.Contains(logs, "ErrImagePull") || !strings.Contains(logs, tt.image) {
						t.Errorf("pod log %q does not explain the pull failure", logs)
					}
				})
			}
		})
	}
}

// withImage returns the first document of a compiled pipeline as JSON with
// every executor's image replaced.
func withImage(t *testing.T, spec []byte, image string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.NewDecoder(bytes.NewReader(spec)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	executors := doc["deploymentSpec"].(map[string]any)["executors"].(map[string]any)
	for _, e := range executors {
		e.(map[string]any)["container"].(map[string]any)["image"] = image
	}
	return doc
}

func TestRequestLogAndClose(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/healthz", nil)
	got := sb.Requests()
	if len(got) != 1 || got[0].Path != "/apis/v2beta1/healthz" || got[0].Status != 200 {
		t.Fatalf("requests = %+v", got)
	}
	ctl := &kfptest.Client{Base: sb.ControlURL()}
	ctl.Must(t, http.StatusOK, http.MethodDelete, "/_sandbox/requests", nil)
	if r := ctl.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/requests", nil); strings.TrimSpace(string(r.Body)) != "[]" {
		t.Fatalf("after clear: %s", r.Body)
	}
	sb.Close()
	if _, err := http.Get(sb.URL() + "/apis/v2beta1/healthz"); err == nil {
		t.Fatal("sandbox still serving after Close")
	}
}

// TestUploadShapes checks the multipart handlers of both API versions and
// the 2.0.5 shapes the runner has to live with.
func TestUploadShapes(t *testing.T) {
	_, c := start(t, sandbox.Options{})
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	multipart := func(t *testing.T, path, file string) kfptest.Response {
		t.Helper()
		var body bytes.Buffer
		fmt.Fprintf(&body, "--b\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=%q\r\n\r\n%s\r\n--b--\r\n", file, spec)
		r, err := c.Do(t.Context(), http.MethodPost, path, &body, http.Header{"Content-Type": {"multipart/form-data; boundary=b"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := multipart(t, "/apis/v2beta1/pipelines/upload?name=shapes&description=demo", "p.yaml")
	p := r.JSON(t)
	if r.Status != 200 || p["pipeline_id"] == nil || p["pipeline_version_id"] != nil {
		t.Fatalf("v2beta1 upload: %d %s (want a pipeline and no version ID)", r.Status, r.Body)
	}
	pid := p["pipeline_id"].(string)
	v := multipart(t, "/apis/v2beta1/pipelines/upload_version?pipelineid="+pid+"&name=v2", "p.yaml")
	if vv := v.JSON(t); v.Status != 200 || vv["pipeline_version_id"] == nil || vv["pipeline_spec"] == nil {
		t.Fatalf("v2beta1 upload_version: %d %s", v.Status, v.Body)
	}
	dup := multipart(t, "/apis/v2beta1/pipelines/upload?name=shapes", "p.yaml")
	if dup.Status != 500 || !strings.Contains(string(dup.Body), `"error_message"`) {
		t.Errorf("duplicate upload: %d %s, want 500 in the upload error shape", dup.Status, dup.Body)
	}
	v1 := multipart(t, "/apis/v1beta1/pipelines/upload?name=shapes-v1", "p.yaml")
	if v1.Status != 200 || v1.JSON(t)["id"] == nil {
		t.Errorf("v1beta1 upload: %d %s", v1.Status, v1.Body)
	}
	list := c.Must(t, 200, http.MethodGet, "/apis/v2beta1/pipelines/"+pid+"/versions", nil).JSON(t)
	if n := len(list["pipeline_versions"].([]any)); n != 2 {
		t.Errorf("%d versions, want 2", n)
	}
}

// TestScriptedDurationAndRunningLogs uses its own clock: a task scripted
// to take 3 s is still running after 2 s, and its pod already has logs.
func TestScriptedDurationAndRunningLogs(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	sb, c := start(t, sandbox.Options{Clock: clock, Tick: -1, StepDuration: time.Second})
	t.Parallel()
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{"write-text": {Seconds: 3, Log: []string{"epoch 1"}}}})
	id := c.CreateRun(t, "slow", pid, vid, map[string]any{"text": "hi"})
	want := []struct{ run, write, read string }{
		{"RUNNING", "RUNNING", ""},          // t=1s: started
		{"RUNNING", "RUNNING", ""},          // t=2s
		{"RUNNING", "RUNNING", ""},          // t=3s
		{"RUNNING", "SUCCEEDED", "RUNNING"}, // t=4s: write done after 3 s
		{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED"},
	}
	for i, w := range want {
		clock.add(time.Second)
		sb.Tick()
		run := c.Run(t, id)
		got := []string{fmt.Sprint(run["state"]), taskState(run, "write-text"), taskState(run, "read-text")}
		if strings.Join(got, ",") != strings.Join([]string{w.run, w.write, w.read}, ",") {
			t.Fatalf("step %d: run,write,read = %v, want %v", i+1, got, w)
		}
		if i == 1 {
			if logs := podLogs(t, sb.ControlURL(), kfptest.PodName(run, "write-text"), 200); logs != "epoch 1\n" {
				t.Errorf("running pod log %q", logs)
			}
		}
	}
}

func taskState(run map[string]any, task string) string {
	td := kfptest.Task(run, task)
	if td == nil {
		return ""
	}
	s, _ := td["state"].(string)
	return s
}

// TestDeleteRunningRun: deleting a run mid-flight must not break the
// sandbox for the runs around it.
func TestDeleteRunningRun(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	sb.Script(sandbox.Script{RunName: "doomed", Tasks: map[string]sandbox.TaskScript{"write-text": {Outcome: sandbox.OutcomeHang}}})
	doomed := c.CreateRun(t, "doomed", pid, vid, map[string]any{"text": "hi"})
	c.WaitState(t, doomed, "RUNNING")
	c.Must(t, http.StatusOK, http.MethodDelete, "/apis/v2beta1/runs/"+doomed, nil)
	c.Must(t, http.StatusNotFound, http.MethodGet, "/apis/v2beta1/runs/"+doomed, nil)
	c.WaitState(t, c.CreateRun(t, "after", pid, vid, map[string]any{"text": "hi"}), "SUCCEEDED")
}

// TestLoopIterations: literal ParallelFor items expand into one Argo node
// per item, named as Argo names withSequence items, in nested loops too; a
// loop over a parameter gets the sandbox's default of two iterations.
func TestLoopIterations(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	spec := kfptest.Pipeline(t, "loops.yaml")
	pid, vid := c.Upload(t, "loops", "loops.yaml", spec)
	id := c.CreateRun(t, "loops", pid, vid, kfptest.RequiredParams(t, spec))
	c.WaitState(t, id, "SUCCEEDED")
	// for-loop-2: three shards; for-loop-4: two seeds inside each shard;
	// for-loop-5: over the regions parameter.
	got := map[string]int{}
	for _, n := range workflow(t, sb.ControlURL(), id).Status.Nodes {
		if strings.Contains(n.DisplayName, "-iterations(") {
			if n.Phase != "Succeeded" {
				t.Errorf("node %s is %s, want Succeeded", n.DisplayName, n.Phase)
			}
			got[n.DisplayName]++
		}
	}
	want := map[string]int{
		"for-loop-2-iterations(0:0)": 1, "for-loop-2-iterations(1:1)": 1, "for-loop-2-iterations(2:2)": 1,
		"for-loop-4-iterations(0:0)": 3, "for-loop-4-iterations(1:1)": 3,
		"for-loop-5-iterations(0:0)": 1, "for-loop-5-iterations(1:1)": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("iteration nodes %v, want %v", got, want)
	}
}

// TestExitHandler: the exit task runs after a failure inside the exit
// handler's group, and the run still ends FAILED, as in Argo.
func TestExitHandler(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	pid, vid := c.Upload(t, "exit", "exit_handler.yaml", kfptest.Pipeline(t, "exit_handler.yaml"))
	sb.Script(sandbox.Script{RunName: "exit", Tasks: map[string]sandbox.TaskScript{"train": {Outcome: sandbox.OutcomeFail, Message: "exit 1"}}})
	run := c.WaitState(t, c.CreateRun(t, "exit", pid, vid, nil), "FAILED")
	for task, want := range map[string]string{"train": "FAILED", "announce": "SUCCEEDED", "cleanup": "SUCCEEDED"} {
		if got := taskState(run, task); got != want {
			t.Errorf("%s = %q, want %s", task, got, want)
		}
	}
}

// TestSkippedBranch: the sandbox cannot evaluate KFP conditions, so a
// script picks the branch; the other one is Skipped as Argo skips a task
// whose "when" is false.
func TestSkippedBranch(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	spec := kfptest.Pipeline(t, "if_else.yaml")
	pid, vid := c.Upload(t, "if-else", "if_else.yaml", spec)
	sb.Script(sandbox.Script{RunName: "tails", Tasks: map[string]sandbox.TaskScript{"condition-2": {Outcome: sandbox.OutcomeSkip}}})
	run := c.WaitState(t, c.CreateRun(t, "tails", pid, vid, kfptest.RequiredParams(t, spec)), "SUCCEEDED")
	for task, want := range map[string]string{"condition-2": "SKIPPED", "condition-3": "SUCCEEDED", "say-2": "SUCCEEDED", "print-text": "SUCCEEDED"} {
		if got := taskState(run, task); got != want {
			t.Errorf("%s = %q, want %s", task, got, want)
		}
	}
	if got := taskState(run, "say"); got == "SUCCEEDED" {
		t.Errorf("say (the heads branch) = %s, want it not run", got)
	}
}

package sandbox_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// These tests drive each KFP profile with the sandbox's own clock and
// Tick, so nothing depends on wall-clock time.

var profiles = []sandbox.Profile{sandbox.Profile20, sandbox.Profile25, sandbox.Profile217, sandbox.ProfileNext}

// clocked starts a sandbox of profile p whose runs advance only on tick.
// Its clock starts 30 s before midnight UTC, so a run created at once
// finishes on the next day: the archive key must use the creation date.
func clocked(t *testing.T, p sandbox.Profile, o sandbox.Options) (*sandbox.Sandbox, *kfptest.Client, *profileClock) {
	t.Helper()
	clock := &profileClock{fakeClock: &fakeClock{now: time.Date(2026, 3, 4, 23, 59, 30, 0, time.UTC)}}
	o.Profile, o.Clock, o.Tick, o.StepDuration = p, clock.fakeClock, -1, 10*time.Second
	sb, c := start(t, o)
	clock.sb = sb
	return sb, c, clock
}

type profileClock struct {
	*fakeClock
	sb *sandbox.Sandbox
}

// step advances the clock by one step and ticks.
func (c *profileClock) step() {
	c.add(10 * time.Second)
	c.sb.Tick()
}

// runToEnd steps until the run is in a final state.
func runToEnd(t *testing.T, c *kfptest.Client, clock *profileClock, id string) map[string]any {
	t.Helper()
	for range 200 {
		clock.step()
		run := c.Run(t, id)
		switch run["state"] {
		case "SUCCEEDED", "FAILED", "CANCELED":
			return run
		}
	}
	t.Fatalf("run %s did not finish in 200 steps", id)
	return nil
}

// wfNode and fullWorkflow read the workflow the control API returns.
type wfNode struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	DisplayName  string   `json:"displayName"`
	Type         string   `json:"type"`
	TemplateName string   `json:"templateName"`
	Phase        string   `json:"phase"`
	Message      string   `json:"message"`
	Children     []string `json:"children"`
}

type fullWorkflow struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		CreationTimestamp time.Time         `json:"creationTimestamp"`
		Annotations       map[string]string `json:"annotations"`
	} `json:"metadata"`
	Status struct {
		Phase string            `json:"phase"`
		Nodes map[string]wfNode `json:"nodes"`
	} `json:"status"`
}

func getWorkflow(t *testing.T, sb *sandbox.Sandbox, runID string) fullWorkflow {
	t.Helper()
	b, err := sb.Workflow(runID)
	if err != nil {
		t.Fatal(err)
	}
	var wf fullWorkflow
	if err := json.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

// executorNode is the node an IR task's executor runs in: the "executor"
// child of the task's node, or its Retry node's pod child.
func (wf fullWorkflow) executorNode(t *testing.T, task string) (executor, pod wfNode) {
	t.Helper()
	for _, n := range wf.Status.Nodes {
		if n.DisplayName != task || n.TemplateName != "system-container-executor" {
			continue
		}
		for _, id := range n.Children {
			e := wf.Status.Nodes[id]
			if e.DisplayName != "executor" {
				continue
			}
			if e.Type == "Retry" {
				return e, wf.Status.Nodes[e.Children[0]]
			}
			return e, e
		}
	}
	t.Fatalf("no executor node for task %s", task)
	return wfNode{}, wfNode{}
}

// v2PodName is Argo 3.4's pod name, computed independently of the sandbox.
func v2PodName(wf string, n wfNode) string {
	h := fnv.New32a()
	h.Write([]byte(n.Name))
	return fmt.Sprintf("%s-%s-%d", wf, n.TemplateName, h.Sum32())
}

type podList struct {
	Kind  string `json:"kind"`
	Items []struct {
		Metadata struct {
			Name        string            `json:"name"`
			Namespace   string            `json:"namespace"`
			UID         string            `json:"uid"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	} `json:"items"`
}

func listPods(t *testing.T, sb *sandbox.Sandbox, ns, wf string) podList {
	t.Helper()
	root := &kfptest.Client{Base: sb.ControlURL()}
	r := root.Must(t, http.StatusOK, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods?labelSelector="+
		url.QueryEscape("workflows.argoproj.io/workflow="+wf), nil)
	var l podList
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPodNamesPerProfile: a pod is named by its node ID in 2.0 and by Argo
// 3.4's v2 format from 2.5 on; from 2.17 the executor pod is the child of
// a Retry node and hashes its own node name.
func TestPodNamesPerProfile(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sb, c, clock := clocked(t, p, sandbox.Options{})
			spec := kfptest.Pipeline(t, "two_step.yaml")
			pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)
			sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{"read-text": {Outcome: sandbox.OutcomeFail, Message: "no input"}}})
			id := c.CreateRun(t, "names", pid, vid, map[string]any{"text": "hi"})
			if run := runToEnd(t, c, clock, id); run["state"] != "FAILED" {
				t.Fatalf("run %v, want FAILED", run["state"])
			}
			wf := getWorkflow(t, sb, id)
			if got, want := wf.Metadata.Annotations["workflows.argoproj.io/pod-name-format"], map[bool]string{true: "v2"}[p != sandbox.Profile20]; got != want {
				t.Errorf("pod-name-format annotation %q, want %q", got, want)
			}
			pods := listPods(t, sb, "kubeflow", wf.Metadata.Name)
			if len(pods.Items) != 5 { // root, write-text and read-text drivers, two executors
				t.Fatalf("%d pods, want 5: %+v", len(pods.Items), pods.Items)
			}
			executors := 0
			for _, pod := range pods.Items {
				n, ok := wf.Status.Nodes[pod.Metadata.Annotations["workflows.argoproj.io/node-id"]]
				if !ok || n.Type != "Pod" || pod.Metadata.Annotations["workflows.argoproj.io/node-name"] != n.Name {
					t.Fatalf("pod %s: annotations %v do not name a pod node", pod.Metadata.Name, pod.Metadata.Annotations)
				}
				want := n.ID
				if p != sandbox.Profile20 {
					want = v2PodName(wf.Metadata.Name, n)
				}
				if pod.Metadata.Name != want {
					t.Errorf("pod of node %s = %s, want %s", n.Name, pod.Metadata.Name, want)
				}
				if n.TemplateName == "system-container-impl" {
					executors++
					retried := strings.HasSuffix(n.Name, ".executor(0)")
					if retried != (p == sandbox.Profile217 || p == sandbox.ProfileNext) {
						t.Errorf("executor pod node %s: retried = %v in profile %s", n.Name, retried, p)
					}
				}
			}
			if executors != 2 {
				t.Errorf("%d executor pods, want 2", executors)
			}
		})
	}
}

// TestRetryNodes fails a task inside a sub-pipeline. From 2.17 on each
// executor is a Retry node (display executor) with one pod child
// (executor(0)) that has its phase and message, and both are in
// task_details; before 2.17 there is no Retry node.
func TestRetryNodes(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sb, c, clock := clocked(t, p, sandbox.Options{})
			spec := kfptest.Pipeline(t, "sub_pipeline.yaml")
			pid, vid := c.Upload(t, "sub", "sub_pipeline.yaml", spec)
			sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{"normalize": {Outcome: sandbox.OutcomeFail, Message: "ValueError: empty"}}})
			id := c.CreateRun(t, "retry", pid, vid, nil)
			if p == sandbox.ProfileNext {
				// next hides task_details; read them as 2.17 reports them, through the workflow.
				runToEnd(t, c, clock, id)
			} else {
				run := runToEnd(t, c, clock, id)
				want := 0
				if p == sandbox.Profile217 {
					want = 1 // normalize ran; print-text inside and after prepare were Omitted
				}
				got := 0
				details, _ := run["run_details"].(map[string]any)
				tasks, _ := details["task_details"].([]any)
				for _, x := range tasks {
					if x.(map[string]any)["display_name"] == "executor(0)" {
						got++
					}
				}
				if got != want {
					t.Errorf("%d executor(0) task details, want %d", got, want)
				}
			}
			wf := getWorkflow(t, sb, id)
			exec, pod := wf.executorNode(t, "normalize")
			retried := p == sandbox.Profile217 || p == sandbox.ProfileNext
			if retried {
				if exec.Type != "Retry" || pod.Type != "Pod" || pod.DisplayName != "executor(0)" || pod.Name != exec.Name+"(0)" {
					t.Fatalf("executor %+v, pod %+v: want a Retry node with pod executor(0)", exec, pod)
				}
			} else if exec.Type != "Pod" {
				t.Fatalf("executor type %s, want Pod", exec.Type)
			}
			for _, n := range []wfNode{exec, pod} {
				if n.Phase != "Failed" || n.Message != "ValueError: empty" {
					t.Errorf("%s %s: %s %q, want Failed with the task's message", n.Type, n.DisplayName, n.Phase, n.Message)
				}
			}
		})
	}
}

// uiLog asks the KFP UI server's log route.
func uiLog(t *testing.T, sb *sandbox.Sandbox, query string) (int, string) {
	t.Helper()
	root := &kfptest.Client{Base: sb.ControlURL()}
	r, err := root.Do(t.Context(), http.MethodGet, "/k8s/pod/logs?"+query, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status, string(r.Body)
}

// TestUILogsPerProfile: the UI's pod-log route finds the node ID in 2.0 and
// only the v2 pod name from 2.5 on. Once the workflow is deleted (gc),
// 2.0 finds nothing and 2.5+ find the archived log, given the workflow's
// creation date as createdat.
func TestUILogsPerProfile(t *testing.T) {
	t.Parallel()
	const log = "epoch 1\nepoch 2\n"
	for _, p := range profiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sb, c, clock := clocked(t, p, sandbox.Options{})
			pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
			sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{"write-text": {Log: []string{"epoch 1", "epoch 2"}}}})
			id := c.CreateRun(t, "ui logs", pid, vid, map[string]any{"text": "hi"})
			run := runToEnd(t, c, clock, id)
			wf := getWorkflow(t, sb, id)
			exec, pod := wf.executorNode(t, "write-text")
			if got := kfptest.PodName(run, "write-text"); p != sandbox.ProfileNext && got != exec.ID {
				t.Fatalf("child_tasks pod_name %q, want the executor's node ID %s", got, exec.ID)
			}
			v2 := v2PodName(wf.Metadata.Name, pod)
			created := wf.Metadata.CreationTimestamp.UTC().Format("2006-01-02")
			if created != "2026-03-04" {
				t.Fatalf("workflow created %s, want the clock's start date", created)
			}
			v1OK, v2OK := http.StatusOK, http.StatusInternalServerError
			if p != sandbox.Profile20 {
				v1OK, v2OK = v2OK, v1OK
			}
			archived := http.StatusInternalServerError
			if p != sandbox.Profile20 {
				archived = http.StatusOK
			}
			tests := []struct {
				name, query string
				gc          bool
				status      int
			}{
				{"node ID", "podname=" + exec.ID + "&podnamespace=kubeflow", false, v1OK},
				{"v2 pod name", "podname=" + v2 + "&podnamespace=kubeflow", false, v2OK},
				{"no podname", "podnamespace=kubeflow", false, http.StatusBadRequest},
				{"after gc: v2 name with createdat", "podname=" + v2 + "&podnamespace=kubeflow&createdat=" + created, true, archived},
				{"after gc: without createdat", "podname=" + v2 + "&podnamespace=kubeflow", true, http.StatusInternalServerError},
				{"after gc: wrong createdat", "podname=" + v2 + "&podnamespace=kubeflow&createdat=2026-03-05", true, http.StatusInternalServerError},
				{"after gc: node ID", "podname=" + exec.ID + "&podnamespace=kubeflow&createdat=" + created, true, http.StatusInternalServerError},
			}
			gced := false
			for _, tt := range tests {
				if tt.gc && !gced {
					ctl := &kfptest.Client{Base: sb.ControlURL()}
					ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/runs/"+id+"/gc", nil)
					gced = true
					if l := listPods(t, sb, "kubeflow", wf.Metadata.Name); len(l.Items) != 0 {
						t.Errorf("%d pods after gc, want none", len(l.Items))
					}
				}
				status, body := uiLog(t, sb, tt.query)
				if status != tt.status {
					t.Errorf("%s: status %d %q, want %d", tt.name, status, body, tt.status)
					continue
				}
				switch {
				case status == http.StatusOK && body != log:
					t.Errorf("%s: log %q, want %q", tt.name, body, log)
				case status == http.StatusInternalServerError && !strings.HasPrefix(body, "Could not get main container logs: "):
					t.Errorf("%s: body %q, want the UI server's message", tt.name, body)
				}
			}
		})
	}
}

// logError is the body of KFP's v1alpha1 log route when ReadLog failed.
type logError struct {
	ErrorMessage string `json:"error_message"`
	ErrorDetails string `json:"error_details"`
}

// TestNodeLogRoute: the API server's v1alpha1 node-log route, at the server
// root only. It looks the node ID up as a pod name (so it finds a live pod
// only in 2.0) and from 2.5 on falls back to the archive through the
// workflow KFP stored, which has the pods that finished. Errors come with
// status 200, as KFP writes its header first.
func TestNodeLogRoute(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sb, c, clock := clocked(t, p, sandbox.Options{Prefix: "/pipeline"})
			pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
			sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{
				"write-text": {Log: []string{"wrote"}},
				"read-text":  {Outcome: sandbox.OutcomeHang, Log: []string{"reading"}},
			}})
			id := c.CreateRun(t, "node logs", pid, vid, map[string]any{"text": "hi"})
			for range 4 { // write-text has finished; read-text runs for ever
				clock.step()
			}
			wf := getWorkflow(t, sb, id)
			write, writePod := wf.executorNode(t, "write-text")
			read, _ := wf.executorNode(t, "read-text")
			if write.Phase != "Succeeded" || read.Phase != "Running" {
				t.Fatalf("write-text %s, read-text %s; want Succeeded and Running", write.Phase, read.Phase)
			}
			archive := p != sandbox.Profile20
			type want struct {
				log string // "" = an error containing errText
				err string
			}
			pick := func(ok bool, a, b want) want {
				if ok {
					return a
				}
				return b
			}
			notFound := want{err: "Failed to read logs for run " + id}
			tests := []struct {
				name, runID, nodeID string
				gc                  bool
				want                want
			}{
				{"finished pod", id, write.ID, false, want{log: "wrote\n"}},
				{"retry child's node ID", id, writePod.ID, false, want{log: "wrote\n"}},
				{"running pod", id, read.ID, false, pick(archive, notFound, want{log: "reading\n"})},
				{"unknown run", "00000000-0000-0000-0000-000000000000", write.ID, false, want{err: "due to run fetching error"}},
				{"after gc: finished pod", id, write.ID, true, pick(archive, want{log: "wrote\n"}, notFound)},
				{"after gc: running pod", id, read.ID, true, notFound},
			}
			root := &kfptest.Client{Base: sb.ControlURL()}
			gced := false
			for _, tt := range tests {
				if tt.gc && !gced {
					if err := sb.GCRun(id); err != nil {
						t.Fatal(err)
					}
					gced = true
				}
				r := root.Must(t, http.StatusOK, http.MethodGet, "/apis/v1alpha1/runs/"+tt.runID+"/nodes/"+tt.nodeID+"/log", nil)
				if tt.want.log != "" {
					if string(r.Body) != tt.want.log {
						t.Errorf("%s: %s, want log %q", tt.name, r.Body, tt.want.log)
					}
					continue
				}
				var e logError
				if err := json.Unmarshal(r.Body, &e); err != nil || !strings.Contains(e.ErrorMessage, tt.want.err) || e.ErrorDetails == "" {
					t.Errorf("%s: %s, want an error body containing %q", tt.name, r.Body, tt.want.err)
				}
			}
			// The KFP UI server behind the /pipeline gateway does not proxy v1alpha1.
			root.Must(t, http.StatusNotFound, http.MethodGet, "/pipeline/apis/v1alpha1/runs/"+id+"/nodes/"+write.ID+"/log", nil)
		})
	}
}

// TestKubePodsAPI: the minimal pods API lists a run's pods by label, serves
// one pod and its main log, answers Status objects for errors, and forgets
// the pods once the workflow is deleted.
func TestKubePodsAPI(t *testing.T) {
	t.Parallel()
	sb, c, clock := clocked(t, sandbox.Profile217, sandbox.Options{Prefix: "/pipeline"})
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{"read-text": {Outcome: sandbox.OutcomeFail, Message: "exit 3", Log: []string{"cat: no such file"}}}})
	id := c.CreateRun(t, "kube", pid, vid, map[string]any{"text": "hi"})
	runToEnd(t, c, clock, id)
	wf := getWorkflow(t, sb, id)
	_, readPod := wf.executorNode(t, "read-text")
	name := v2PodName(wf.Metadata.Name, readPod)
	root := &kfptest.Client{Base: sb.ControlURL()}
	base := "/api/v1/namespaces/kubeflow/pods"

	l := listPods(t, sb, "kubeflow", wf.Metadata.Name)
	var phase string
	for _, pod := range l.Items {
		if pod.Metadata.Name == name {
			phase = pod.Status.Phase
		}
		if pod.Metadata.Namespace != "kubeflow" || pod.Metadata.Labels["workflows.argoproj.io/workflow"] != wf.Metadata.Name || pod.Metadata.UID == "" {
			t.Errorf("pod metadata %+v", pod.Metadata)
		}
	}
	if l.Kind != "PodList" || phase != "Failed" {
		t.Fatalf("list kind %s, pod %s phase %q; want PodList and Failed", l.Kind, name, phase)
	}
	if n := len(listPods(t, sb, "team-a", wf.Metadata.Name).Items); n != 0 {
		t.Errorf("%d pods in another namespace", n)
	}
	if n := len(listPods(t, sb, "kubeflow", "other-wf").Items); n != 0 {
		t.Errorf("%d pods of another workflow", n)
	}
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"main log", base + "/" + name + "/log?container=main", 200, "cat: no such file\nexit 3\n"},
		{"one pod", base + "/" + name, 200, `"kind":"Pod"`},
		{"no container", base + "/" + name + "/log", 400, "a container name must be specified"},
		{"unknown pod", base + "/nope/log?container=main", 404, `"reason":"NotFound"`},
		{"bad selector", base + "?labelSelector=" + url.QueryEscape("a in (b"), 400, `"kind":"Status"`},
		{"not under the prefix", "/pipeline" + base, 404, ""},
	}
	for _, tt := range tests {
		r := root.Must(t, tt.status, http.MethodGet, tt.path, nil)
		if !strings.Contains(string(r.Body), tt.want) {
			t.Errorf("%s: %s, want %q", tt.name, r.Body, tt.want)
		}
	}
	root.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/runs/"+id+"/gc", nil)
	root.Must(t, http.StatusNotFound, http.MethodGet, base+"/"+name+"/log?container=main", nil)
	if n := len(listPods(t, sb, "kubeflow", wf.Metadata.Name).Items); n != 0 {
		t.Errorf("%d pods after gc", n)
	}
	root.Must(t, http.StatusNotFound, http.MethodPost, "/_sandbox/runs/nope/gc", nil)
}

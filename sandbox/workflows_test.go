package sandbox_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

var workflowsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}

// A client-go watch on a run's workflow (by KFP's pipeline/runid label)
// sees it go Running and Succeeded, and a pod log followed with
// timestamps gets the 10,000 lines a task writes over its run as it writes
// them, each once and in order; a second stream from sinceTime starts
// where the first left off. The clock is the test's: no wall-clock bound.
func TestWorkflowWatchAndLogFollow(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	sb, c := start(t, sandbox.Options{Clock: clock, Tick: -1, StepDuration: time.Second})
	t.Parallel()
	ctx := t.Context()
	cfg := &rest.Config{Host: sb.ControlURL()}
	dyn := dynamic.NewForConfigOrDie(cfg)
	core := kubernetes.NewForConfigOrDie(cfg).CoreV1()

	pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	const n = 10000
	sb.Script(sandbox.Script{RunName: "follow", Tasks: map[string]sandbox.TaskScript{"write-text": {Seconds: 10, LogLines: n}}})
	id := c.CreateRun(t, "follow", pid, vid, map[string]any{"text": "hi"})

	list, err := dyn.Resource(workflowsGVR).Namespace("kubeflow").List(ctx, metav1.ListOptions{LabelSelector: "pipeline/runid=" + id})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list workflows: %v, %d items", err, len(list.Items))
	}
	w, err := dyn.Resource(workflowsGVR).Namespace("kubeflow").Watch(ctx, metav1.ListOptions{LabelSelector: "pipeline/runid=" + id, ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	phases := make(chan string, 100)
	go func() {
		defer close(phases)
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
			phases <- string(ev.Type) + " " + p
			if p == "Succeeded" {
				return
			}
		}
	}()

	clock.add(time.Second)
	sb.Tick() // the run starts; write-text starts and writes its first line
	if got := <-phases; got != "MODIFIED Running" {
		t.Fatalf("first event %q, want MODIFIED Running", got)
	}
	pod := kfptest.PodName(c.Run(t, id), "write-text")
	if pod == "" {
		t.Fatal("no pod for write-text")
	}
	stream, err := core.Pods("kubeflow").GetLogs(pod, &corev1.PodLogOptions{Container: "main", Follow: true, Timestamps: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []string)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stream)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		stream.Close()
		got <- lines
	}()
	for range 12 {
		clock.add(time.Second)
		sb.Tick()
	}
	lines := <-got
	if len(lines) != n {
		t.Fatalf("followed %d lines, want %d", len(lines), n)
	}
	var mid time.Time
	for i, l := range lines {
		ts, text, _ := strings.Cut(l, " ")
		if want := fmt.Sprintf("write-text line %d/%d", i+1, n); text != want {
			t.Fatalf("line %d: %q, want %q", i, text, want)
		}
		if i == n/2 {
			mid, err = time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for p := range phases {
		if p == "MODIFIED Succeeded" {
			break
		}
	}

	// A reconnect from a time (whole seconds, as the API takes it).
	since := metav1.NewTime(mid.Truncate(time.Second))
	b, err := core.Pods("kubeflow").GetLogs(pod, &corev1.PodLogOptions{Container: "main", Timestamps: true, SinceTime: &since}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	first, _, _ := strings.Cut(again[0], " ")
	if ft, _ := time.Parse(time.RFC3339Nano, first); ft.Before(since.Time) || len(again) >= n || !strings.HasSuffix(again[len(again)-1], fmt.Sprintf("line %d/%d", n, n)) {
		t.Errorf("since %s: %d lines from %s to %q", since.Time, len(again), first, again[len(again)-1])
	}

	// A finished pod's log without follow ends at once; tailLines works.
	tail := int64(2)
	b, err = core.Pods("kubeflow").GetLogs(pod, &corev1.PodLogOptions{Container: "main", TailLines: &tail}).DoRaw(context.Background())
	if err != nil || string(b) != fmt.Sprintf("write-text line %d/%d\nwrite-text line %d/%d\n", n-1, n, n, n) {
		t.Errorf("tail: %q, %v", b, err)
	}
}

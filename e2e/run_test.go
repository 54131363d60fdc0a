package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func exampleArgs(name string) []string {
	return []string{"run", "--spec", "", "--host", shared.URL, "--run-name", name, "--param", "dataset=gs://e2e/data.csv", "--experiment", "e2e"}
}

func withSpec(args []string, spec string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "--spec" {
			out[i+1] = spec
		}
	}
	return out
}

func TestRunSucceeds(t *testing.T) {
	t.Parallel()
	name := uniq(t, "ok")
	r := kfRun(context.Background(), t, t.TempDir(), nil, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	runs := shared.runsNamed(t, name, "")
	if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
		t.Fatalf("runs named %q at KFP: %+v, want one SUCCEEDED", name, runs)
	}
	for _, want := range []string{
		"train-demo: run " + runs[0].RunID + " submitted",
		shared.URL + "/#/runs/details/" + runs[0].RunID,
		"train-demo: task ingest SUCCEEDED",
		"train-demo: task evaluate SUCCEEDED",
		"train-demo: run SUCCEEDED",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	// Never a line per poll: each task's state change is printed once.
	if n := strings.Count(r.stderr, "task train SUCCEEDED"); n != 1 {
		t.Errorf("%q printed %d times, want once:\n%s", "task train SUCCEEDED", n, r)
	}
}

func TestTaskFailure(t *testing.T) {
	t.Parallel()
	name := uniq(t, "fail")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
		"train": map[string]any{"outcome": "fail", "message": "OOMKilled", "log": []string{"epoch 1/5", "Traceback (most recent call last):", "::error::injected by the pipeline", "MemoryError: out of memory"}},
	}}, nil)
	r := kfRun(context.Background(), t, t.TempDir(), nil, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
	if r.code != 3 {
		t.Fatalf("want exit 3 (run failed):\n%s", r)
	}
	for _, want := range []string{"task train FAILED", "run FAILED", "MemoryError: out of memory"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stderr, "task evaluate SUCCEEDED") {
		t.Errorf("a task after the failed one succeeded:\n%s", r)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	name := uniq(t, "slow")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "run": map[string]any{"outcome": "hang"}}, nil)
	args := append(withSpec(exampleArgs(name), example(t, "train/pipeline.yaml")), "--timeout", "2s")
	r := kfRun(context.Background(), t, t.TempDir(), nil, args...)
	if r.code != 4 {
		t.Fatalf("want exit 4 (timed out):\n%s", r)
	}
	// The run nobody waits for any more is terminated at KFP.
	shared.awaitRun(t, name, "", "CANCELING", "FAILED", "CANCELED")
}

func TestInterruptTerminatesRun(t *testing.T) {
	t.Parallel()
	name := uniq(t, "cancel")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "run": map[string]any{"outcome": "hang"}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	done := make(chan result, 1)
	go func() {
		done <- kfRun(ctx, t, dir, nil, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
	}()
	// Interrupt once the run is running, as GitHub does on cancel. The
	// test goroutine waits; kf-run runs beside it.
	shared.awaitRun(t, name, "", "RUNNING")
	cancel()
	r := <-done
	if r.code != 130 {
		t.Fatalf("want exit 130 (interrupted):\n%s", r)
	}
	if !strings.Contains(r.stderr, "terminated at KFP") {
		t.Errorf("output does not say the run was terminated:\n%s", r)
	}
	// KFP 2.0.5 goes CANCELING, then FAILED on Argo's final report.
	shared.awaitRun(t, name, "", "FAILED", "CANCELED")
}

func TestBadConfigSubmitsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := uniq(t, "bad")
	cfg := "kubeflow:\n  host: " + shared.URL + "\npipelines:\n  - name: train\n    spec: " + example(t, "train/pipeline.yaml") +
		"\n    run_name: " + name + "\n    parameters:\n      dataset: x\n      epochs: many\n"
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kfRun(context.Background(), t, dir, nil, "run")
	if r.code != 2 {
		t.Fatalf("want exit 2:\n%s", r)
	}
	if !regexp.MustCompile(`kf-run.yaml:4: pipeline "train": .*epochs`).MatchString(r.stderr) {
		t.Errorf("error does not point at the pipeline entry and parameter:\n%s", r)
	}
	if runs := shared.runsNamed(t, name, ""); len(runs) != 0 {
		t.Errorf("a run was submitted: %+v", runs)
	}
}

// API faults on the way: the run still ends right, and is created once.
func TestFaultsNoDuplicateRun(t *testing.T) {
	s, err := start(context.Background(), "--step-duration", "40ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	for _, f := range []map[string]any{
		{"method": "POST", "path": "^/apis/v2beta1/experiments$", "times": 1, "kind": "503"},
		{"method": "POST", "path": "^/apis/v2beta1/runs$", "times": 1, "kind": "503-html"},
		// Reads of runs: ListRuns (the wait's poll, the lookup after a
		// lost create) and GetRun alike.
		{"method": "GET", "path": "^/apis/v2beta1/runs", "times": 2, "kind": "reset"},
		{"method": "GET", "path": "^/apis/v2beta1/runs", "times": 1, "kind": "429", "retry_after": 1},
	} {
		s.call(t, "POST", "/_sandbox/faults", f, nil)
	}
	name := uniq(t, "faults")
	args := withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))
	args[4] = s.URL
	r := kfRun(context.Background(), t, t.TempDir(), nil, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0 despite faults:\n%s", r)
	}
	var reqs []struct {
		Method, Path, Fault string
		Status              int
	}
	s.call(t, "GET", "/_sandbox/requests", nil, &reqs)
	creates, faults := 0, 0
	for _, q := range reqs {
		if q.Method == "POST" && q.Path == "/apis/v2beta1/runs" && q.Fault == "" {
			creates++
		}
		if q.Fault != "" {
			faults++
		}
	}
	if creates != 1 || faults != 5 {
		t.Errorf("%d runs created and %d faults served, want 1 and 5: %+v", creates, faults, reqs)
	}
	runs := s.runsNamed(t, name, "")
	if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
		t.Errorf("runs at KFP: %+v, want one SUCCEEDED", runs)
	}
}

// A lost answer to create-run (a gateway timeout after KFP created it) is
// reconciled by the token in the run's description, not retried blindly.
func TestLostCreateAnswer(t *testing.T) {
	s, err := start(context.Background(), "--step-duration", "40ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	s.call(t, "POST", "/_sandbox/faults", map[string]any{"method": "POST", "path": "^/apis/v2beta1/runs$", "times": 1, "kind": "504-after"}, nil)
	name := uniq(t, "lost")
	args := withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))
	args[4] = s.URL
	r := kfRun(context.Background(), t, t.TempDir(), nil, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	if runs := s.runsNamed(t, name, ""); len(runs) != 1 {
		t.Errorf("%d runs named %q, want exactly 1", len(runs), name)
	}
}

// --no-wait submits, reports the link and exits 0 at once.
func TestNoWait(t *testing.T) {
	t.Parallel()
	name := uniq(t, "nowait")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "run": map[string]any{"outcome": "hang"}}, nil)
	r := kfRun(context.Background(), t, t.TempDir(), nil, append(withSpec(exampleArgs(name), example(t, "train/pipeline.yaml")), "--no-wait")...)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	runs := shared.runsNamed(t, name, "")
	if len(runs) != 1 || !strings.Contains(r.stderr, "/#/runs/details/"+runs[0].RunID) {
		t.Fatalf("runs %+v; the output must link the one run:\n%s", runs, r)
	}
	if strings.Contains(r.stderr, "terminated") || runs[0].State == "FAILED" {
		t.Errorf("a run nobody waits for by choice must be left running:\n%s", r)
	}
	shared.call(t, "POST", "/apis/v2beta1/runs/"+runs[0].RunID+":terminate", nil, nil)
}

// With KFP unreachable the job says which host and why in words, without
// the request URL, and does not open a wait with nothing to wait for.
func TestUnreachableKFPIsSaidPlainly(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "http://" + l.Addr().String()
	l.Close()
	args := withSpec(exampleArgs(uniq(t, "down")), example(t, "train/pipeline.yaml"))
	args[4] = host
	r := kfRun(context.Background(), t, t.TempDir(), nil, args...)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "cannot reach "+host+": connection refused") || !strings.Contains(out, "kf-run doctor") {
		t.Errorf("want the host, the cause and kf-run doctor:\n%s", r)
	}
	if strings.Contains(out, "filter=") || strings.Contains(out, "Wait for runs") {
		t.Errorf("want no request URL and no wait:\n%s", r)
	}
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// lateDelay is how long after its 504 the sandbox commits a create
// (fault 504-late): longer than kf-run's first look, far shorter than its
// reconcile window.
const lateDelay = 3 * time.Second

// Every create of one kf-run run (experiment, pipeline, version, run) is
// answered 504 while KFP commits it 3s later. kf-run must find each one
// instead of creating it again: one of each at KFP, one POST each.
func TestLateCommitNoDuplicate(t *testing.T) {
	t.Parallel()
	s, err := start(context.Background(), "--step-duration", "40ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	paths := []string{"/apis/v2beta1/experiments", "/apis/v2beta1/pipelines/upload", "/apis/v2beta1/pipelines/upload_version", "/apis/v2beta1/runs"}
	for _, p := range paths {
		s.call(t, "POST", "/_sandbox/faults", map[string]any{"method": "POST", "path": "^" + p + "$", "times": 1, "kind": "504-late", "delay": lateDelay.String()}, nil)
	}
	dir := t.TempDir()
	run := uniq(t, "late")
	cfg := fmt.Sprintf(`kubeflow:
  host: %s
defaults:
  experiment: e2e-late
pipelines:
  - name: train
    spec: %s
    pipeline_name: late
    version: v1
    run_name: %s
    parameters: {dataset: gs://e2e/data.csv}
`, s.URL, example(t, "train/pipeline.yaml"), run)
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kfRun(context.Background(), t, dir, nil, "run")
	if r.code != 0 {
		t.Fatalf("want exit 0 despite the late commits:\n%s", r)
	}
	var reqs []struct {
		Method, Path, Fault string
		Status              int
	}
	s.call(t, "GET", "/_sandbox/requests", nil, &reqs)
	posts := map[string]int{}
	for _, q := range reqs {
		if q.Method == "POST" {
			posts[q.Path]++
			if q.Fault != "504-late" {
				t.Errorf("POST %s answered %d without the fault: created again", q.Path, q.Status)
			}
		}
	}
	for _, p := range paths {
		if posts[p] != 1 {
			t.Errorf("%d POSTs to %s, want 1 (the one answered 504 and committed late)", posts[p], p)
		}
	}
	runs := s.runsNamed(t, run, "")
	if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
		t.Fatalf("runs at KFP: %+v, want one SUCCEEDED", runs)
	}
	var versions struct {
		Versions []struct {
			Name string `json:"display_name"`
		} `json:"pipeline_versions"`
	}
	s.call(t, "GET", "/apis/v2beta1/pipelines/"+runs[0].Ref.PipelineID+"/versions", nil, &versions)
	if len(versions.Versions) != 2 {
		t.Errorf("versions %+v, want the pipeline's first and v1", versions.Versions)
	}
}

// BenchmarkLateCommit measures duplicates under the late-commit fault:
// every create-run is answered 504 and committed 3s later. It reports
// runs created at KFP per run intended (1 means no duplicates). Not part of
// make test; at least 100 runs:
//
//	go test -run XXX -bench LateCommit -benchtime 100x ./e2e/
func BenchmarkLateCommit(b *testing.B) {
	s, err := start(context.Background(), "--step-duration", "1h")
	if err != nil {
		b.Fatal(err)
	}
	defer s.stop()
	s.call(b, "POST", "/_sandbox/faults", map[string]any{"method": "POST", "path": "^/apis/v2beta1/runs$", "kind": "504-late", "delay": lateDelay.String()}, nil)
	spec := example(b, "train/pipeline.yaml")
	prefix := fmt.Sprintf("bench-late-%d", time.Now().UnixNano())
	var next, failed atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("%s-%d", prefix, next.Add(1))
			args := withSpec(exampleArgs(name), spec)
			args[4] = s.URL
			if r := kfRun(context.Background(), b, b.TempDir(), nil, append(args, "--no-wait")...); r.code != 0 {
				failed.Add(1)
				b.Errorf("run %s: want exit 0:\n%s", name, r)
			}
		}
	})
	b.StopTimer()
	// A create kf-run gave up on could still commit: wait that out.
	time.Sleep(lateDelay + time.Second)
	intended := int(next.Load())
	created, dups := 0, 0
	for i := 1; i <= intended; i++ {
		n := len(s.runsNamed(b, fmt.Sprintf("%s-%d", prefix, i), ""))
		created += n
		dups += max(n-1, 0)
	}
	b.ReportMetric(float64(created)/float64(intended), "runs/intended")
	b.ReportMetric(float64(dups), "duplicates")
	b.Logf("%d runs intended, %d created at KFP (%d duplicates, %d kf-run failures) under 504-late:%s on every create-run", intended, created, dups, failed.Load(), lateDelay)
}

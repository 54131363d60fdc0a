package multiusertest

import (
	"net/http"
	"testing"
	"time"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// TestScheduleInNamespace: a recurring run in a profile namespace starts
// its runs in that namespace, under a policy that lets only alice in.
func TestScheduleInNamespace(t *testing.T) {
	sb := start(t, sandbox.Options{
		Allow: map[string][]string{alice: {"team-a"}},
		Clock: sandbox.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
	})
	t.Parallel()
	c := &kfptest.Client{Base: sb.URL(), Header: http.Header{"Kubeflow-Userid": {alice}}}
	exp := c.Must(t, 200, "POST", "/apis/v2beta1/experiments", map[string]any{"display_name": "nightly", "namespace": "team-a"}).JSON(t)
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	rr := c.Must(t, 200, "POST", "/apis/v2beta1/recurringruns", map[string]any{
		"display_name": "nightly", "experiment_id": exp["experiment_id"], "mode": "ENABLE", "max_concurrency": "1",
		"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
		"runtime_config":             map[string]any{"parameters": map[string]any{"text": "hi"}},
		"trigger":                    map[string]any{"periodic_schedule": map[string]any{"interval_second": 5}},
	}).JSON(t)
	if rr["namespace"] != "team-a" {
		t.Errorf("recurring run namespace = %v", rr["namespace"])
	}
	ctl := &kfptest.Client{Base: sb.ControlURL()}
	ctl.Must(t, 200, "POST", "/_sandbox/clock/advance?by=10s", nil)

	runs, _ := c.Must(t, 200, "GET", "/apis/v2beta1/runs?namespace=team-a", nil).JSON(t)["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("team-a has %d runs, want 2", len(runs))
	}
	for _, x := range runs {
		run := x.(map[string]any)
		if run["recurring_run_id"] != rr["recurring_run_id"] || run["experiment_id"] != exp["experiment_id"] {
			t.Errorf("run %v: recurring_run_id %v, experiment_id %v", run["run_id"], run["recurring_run_id"], run["experiment_id"])
		}
		wf := ctl.Must(t, 200, "GET", "/_sandbox/runs/"+run["run_id"].(string)+"/workflow", nil).JSON(t)
		if ns := wf["metadata"].(map[string]any)["namespace"]; ns != "team-a" {
			t.Errorf("run %v: workflow namespace %v, want team-a", run["run_id"], ns)
		}
	}
}

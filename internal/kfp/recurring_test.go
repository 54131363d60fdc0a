package kfp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// KFP 2.0.5's answers (the sandbox, which is its server code): a created
// recurring run, read back with the service account KFP filled in, and a
// list page in the proto's own field name, recurringRuns.
const (
	recurringCreated205  = `{"recurring_run_id":"57f05ea7-cc2f-494b-8f05-14ea1db16ad9","display_name":"train","description":"kf-run schedule: acme/ml kf-run.yaml train\nkf-run-key: abc","pipeline_version_reference":{"pipeline_id":"33bcf9e4-f43d-4edf-8b90-dd155a1def78","pipeline_version_id":"fd73c58d-4b83-4361-8711-980c1a30e023"},"runtime_config":{"parameters":{"dataset":"gs://x","epochs":2}},"service_account":"pipeline-runner","max_concurrency":"1","trigger":{"cron_schedule":{"start_time":"2025-01-01T00:00:00Z","cron":"0 0 2 * * *"}},"mode":"ENABLE","created_at":"2026-12-01T02:52:49Z","updated_at":"2026-12-01T02:52:49Z","status":"ENABLED","no_catchup":true,"namespace":"kubeflow","experiment_id":"4ffec8c2-6b8d-47ca-b52a-9c2deff70010"}`
	recurringPage1       = `{"recurringRuns":[` + recurringCreated205 + `],"total_size":2,"next_page_token":"eyJTb3J0QnlGaWVsZE5hbWUiOiJDcmVhdGVkQXRJblNlYyJ9"}`
	recurringPage2       = `{"recurringRuns":[{"recurring_run_id":"97e7ba1c-1880-4284-9522-4f4e16b74d9a","display_name":"t2","description":"other","pipeline_version_reference":{"pipeline_id":"33bcf9e4-f43d-4edf-8b90-dd155a1def78","pipeline_version_id":"fd73c58d-4b83-4361-8711-980c1a30e023"},"runtime_config":{"parameters":{"dataset":"gs://x"}},"service_account":"pipeline-runner","max_concurrency":"1","trigger":{"periodic_schedule":{"interval_second":"21600"}},"mode":"DISABLE","created_at":"2026-12-01T02:52:54Z","updated_at":"2026-12-01T02:52:54Z","status":"DISABLED","namespace":"kubeflow","experiment_id":"4ffec8c2-6b8d-47ca-b52a-9c2deff70010"}],"total_size":2}`
	recurringNotFound205 = `{"error":"Failed to disable a recurring run: Failed to change recurring run's mode to enable:false. Check if recurring run xx exists: ResourceNotFoundError: Job xx not found","code":5,"message":"Failed to disable a recurring run: Failed to change recurring run's mode to enable:false. Check if recurring run xx exists: ResourceNotFoundError: Job xx not found","details":[{"@type":"type.googleapis.com/google.rpc.Status","code":5,"message":"Job xx not found"}]}`
)

func TestCreateRecurringRun(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"POST /apis/v2beta1/recurringruns": {jsonAnswer(200, recurringCreated205)},
	}}
	c := newTestClient(t, f, Target{})
	got, err := c.CreateRecurringRun(context.Background(), RecurringRunRequest{
		Name: "train", Description: "kf-run schedule: acme/ml kf-run.yaml train\nkf-run-key: abc",
		ExperimentID: "e1", PipelineID: "p1", VersionID: "v1",
		Parameters: map[string]any{"dataset": "gs://x", "epochs": 2},
		Trigger:    Trigger{Cron: "0 0 2 * * *", Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), MaxConcurrency: 1, NoCatchup: true},
		Enabled:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Mode ENABLE always sent (unset is disabled), max_concurrency as the
	// proto's int64 string, no end_time (a zero one would never fire).
	want := `{"description":"kf-run schedule: acme/ml kf-run.yaml train\nkf-run-key: abc","display_name":"train","experiment_id":"e1","max_concurrency":"1","mode":"ENABLE","no_catchup":true,"pipeline_version_reference":{"pipeline_id":"p1","pipeline_version_id":"v1"},"runtime_config":{"parameters":{"dataset":"gs://x","epochs":2}},"trigger":{"cron_schedule":{"cron":"0 0 2 * * *","start_time":"2025-01-01T00:00:00Z"}}}`
	if b := strings.TrimSpace(f.body[0]); b != want {
		t.Errorf("request body:\n got %s\nwant %s", b, want)
	}
	wantRun := RecurringRun{
		ID: "57f05ea7-cc2f-494b-8f05-14ea1db16ad9", Namespace: "kubeflow", Created: time.Date(2026, 12, 1, 2, 52, 49, 0, time.UTC),
		RecurringRunRequest: RecurringRunRequest{
			Name: "train", Description: "kf-run schedule: acme/ml kf-run.yaml train\nkf-run-key: abc",
			ExperimentID: "4ffec8c2-6b8d-47ca-b52a-9c2deff70010",
			PipelineID:   "33bcf9e4-f43d-4edf-8b90-dd155a1def78", VersionID: "fd73c58d-4b83-4361-8711-980c1a30e023",
			Parameters: map[string]any{"dataset": "gs://x", "epochs": 2.0}, ServiceAccount: "pipeline-runner",
			Trigger: Trigger{Cron: "0 0 2 * * *", Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), MaxConcurrency: 1, NoCatchup: true},
			Enabled: true,
		},
	}
	if diff := cmp.Diff(wantRun, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
}

func TestCreatePeriodicDisabled(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"POST /apis/v2beta1/recurringruns": {jsonAnswer(200, `{"recurring_run_id":"r2","status":"DISABLED","trigger":{"periodic_schedule":{"interval_second":"21600"}}}`)},
	}}
	c := newTestClient(t, f, Target{Namespace: "team-a"})
	got, err := c.CreateRecurringRun(context.Background(), RecurringRunRequest{Name: "t", Description: "d", PipelineID: "p", VersionID: "v", Trigger: Trigger{Interval: 6 * time.Hour, MaxConcurrency: 2}})
	if err != nil || got.Interval != 6*time.Hour || got.Enabled {
		t.Fatalf("CreateRecurringRun = %+v, %v", got, err)
	}
	want := `{"description":"d","display_name":"t","max_concurrency":"2","mode":"DISABLE","pipeline_version_reference":{"pipeline_id":"p","pipeline_version_id":"v"},"trigger":{"periodic_schedule":{"interval_second":"21600"}}}`
	if b := strings.TrimSpace(f.body[0]); b != want {
		t.Errorf("request body:\n got %s\nwant %s", b, want)
	}
}

// A lost answer (504) is reconciled by the exact description before any
// second create.
func TestCreateRecurringRunLostAnswer(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"POST /apis/v2beta1/recurringruns": {jsonAnswer(504, `{}`)},
		"GET /apis/v2beta1/recurringruns":  {jsonAnswer(200, recurringPage2), jsonAnswer(200, `{"recurringRuns":[`+recurringCreated205+`]}`)},
	}}
	c := newTestClient(t, f, Target{})
	got, err := c.CreateRecurringRun(context.Background(), RecurringRunRequest{Name: "train", Description: "kf-run schedule: acme/ml kf-run.yaml train\nkf-run-key: abc", Trigger: Trigger{Cron: "@daily", MaxConcurrency: 1}, Enabled: true})
	if err != nil || got.ID != "57f05ea7-cc2f-494b-8f05-14ea1db16ad9" {
		t.Fatalf("CreateRecurringRun = %+v, %v; want the one found", got, err)
	}
	// The first create is lost and the look finds only another
	// description; the second is lost too, and the look finds it.
	if n := f.count("POST /apis/v2beta1/recurringruns"); n != 2 {
		t.Errorf("%d creates, want 2", n)
	}
}

func TestListRecurringRunsPages(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"GET /apis/v2beta1/recurringruns": {jsonAnswer(200, recurringPage1), jsonAnswer(200, recurringPage2)},
	}}
	c := newTestClient(t, f, Target{Namespace: "team-a"})
	got, err := c.ListRecurringRuns(context.Background(), "kf-run-scope: 0a1b")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Cron != "0 0 2 * * *" || got[1].Interval != 6*time.Hour || got[1].Enabled {
		t.Fatalf("listed %+v", got)
	}
	q1, q2 := f.seen[0].URL.Query(), f.seen[1].URL.Query()
	if q1.Get("namespace") != "team-a" || q1.Get("page_size") != "100" || q1.Get("page_token") != "" {
		t.Errorf("first page query %v", q1)
	}
	if q2.Get("page_token") != "eyJTb3J0QnlGaWVsZE5hbWUiOiJDcmVhdGVkQXRJblNlYyJ9" {
		t.Errorf("second page query %v", q2)
	}
	// KFP decodes the filter once more than HTTP does.
	raw, _ := url.QueryUnescape(q1.Get("filter"))
	var filter map[string]any
	if err := json.Unmarshal([]byte(raw), &filter); err != nil {
		t.Fatalf("filter %q: %v", raw, err)
	}
	want := map[string]any{"predicates": []any{map[string]any{"key": "description", "operation": "IS_SUBSTRING", "string_value": "kf-run-scope: 0a1b"}}}
	if diff := cmp.Diff(want, filter); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}
}

func TestRecurringRunControls(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"POST /apis/v2beta1/recurringruns/r1:enable":  {jsonAnswer(200, `{}`)},
		"POST /apis/v2beta1/recurringruns/r1:disable": {jsonAnswer(200, `{}`)},
		"POST /apis/v2beta1/recurringruns/xx:disable": {jsonAnswer(404, recurringNotFound205)},
		"DELETE /apis/v2beta1/recurringruns/r1":       {jsonAnswer(200, `{}`)},
		"DELETE /apis/v2beta1/recurringruns/gone":     {jsonAnswer(404, `{"code":5,"message":"Job gone not found"}`)},
		"GET /apis/v2beta1/recurringruns/r1":          {jsonAnswer(200, recurringCreated205)},
	}}
	c := newTestClient(t, f, Target{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"enable":      c.EnableRecurringRun(ctx, "r1"),
		"disable":     c.DisableRecurringRun(ctx, "r1"),
		"delete":      c.DeleteRecurringRun(ctx, "r1"),
		"delete gone": c.DeleteRecurringRun(ctx, "gone"),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	err := c.DisableRecurringRun(ctx, "xx")
	if !IsNotFound(err) || !strings.Contains(err.Error(), "DisableRecurringRun: HTTP 404 (grpc 5)") {
		t.Errorf("disable of a missing one: %v", err)
	}
	if r, err := c.GetRecurringRun(ctx, "r1"); err != nil || r.Name != "train" {
		t.Errorf("GetRecurringRun = %+v, %v", r, err)
	}
}

// Runs of a recurring run are found in its experiment, newest first,
// matched by recurring_run_id; listing stops at runs older than it.
func TestActiveRuns(t *testing.T) {
	t.Parallel()
	run := func(id, rr, state, created string) string {
		return `{"run_id":"` + id + `","recurring_run_id":"` + rr + `","state":"` + state + `","created_at":"` + created + `"}`
	}
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"GET /apis/v2beta1/runs": {
			jsonAnswer(200, `{"runs":[`+run("a", "r1", "RUNNING", "2026-12-02T03:00:00Z")+`,`+run("b", "r2", "RUNNING", "2026-12-02T02:00:00Z")+`],"next_page_token":"t2"}`),
			jsonAnswer(200, `{"runs":[`+run("c", "r1", "SUCCEEDED", "2026-12-02T01:00:00Z")+`,`+run("d", "r1", "PENDING", "2026-12-01T04:00:00Z")+`,`+run("e", "r9", "RUNNING", "2026-11-01T00:00:00Z")+`],"next_page_token":"t3"}`),
		},
	}}
	c := newTestClient(t, f, Target{})
	got, err := c.ActiveRuns(context.Background(), RecurringRun{ID: "r1", Created: time.Date(2026, 12, 1, 2, 52, 49, 0, time.UTC), RecurringRunRequest: RecurringRunRequest{ExperimentID: "e1"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"a", "d"}, ids); diff != "" {
		t.Errorf("active runs (-want +got):\n%s", diff)
	}
	if n := f.count("GET /apis/v2beta1/runs"); n != 2 {
		t.Errorf("%d pages read, want 2 (the second reaches runs older than the recurring run)", n)
	}
	q := f.seen[0].URL.Query()
	if q.Get("experiment_id") != "e1" || q.Get("sort_by") != "created_at desc" || q.Get("filter") != "" {
		t.Errorf("query %v: want experiment_id, newest first, no filter (recurring_run_id fails at 2.0.5)", q)
	}
}

package sandbox_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// The schedule tests drive KFP's scheduled-workflow logic with a manual
// clock: nothing happens between two advances, so counts are exact.

var clockStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// scheduled starts a sandbox on a manual clock standing at clockStart, with
// the two-step pipeline uploaded.
func scheduled(t *testing.T, o sandbox.Options) (sb *sandbox.Sandbox, c, ctl *kfptest.Client, pid, vid string) {
	t.Helper()
	o.Clock, o.StepDuration = sandbox.NewManualClock(clockStart), time.Second
	sb, c = start(t, o)
	pid, vid = c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	return sb, c, &kfptest.Client{Base: sb.ControlURL()}, pid, vid
}

// recurringRun creates a recurring run of the pipeline version with these
// fields added (trigger, mode, no_catchup, ...) and returns its ID.
func recurringRun(t *testing.T, c *kfptest.Client, pid, vid string, fields map[string]any) string {
	t.Helper()
	body := map[string]any{
		"display_name":               "nightly",
		"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
		"runtime_config":             map[string]any{"parameters": map[string]any{"text": "from-the-schedule"}},
		"max_concurrency":            "1",
		"mode":                       "ENABLE",
	}
	for k, v := range fields {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	r := c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/recurringruns", body).JSON(t)
	return r["recurring_run_id"].(string)
}

func periodic(interval int, start time.Time) map[string]any {
	p := map[string]any{"interval_second": interval}
	if !start.IsZero() {
		p["start_time"] = start.Format(time.RFC3339)
	}
	return map[string]any{"periodic_schedule": p}
}

// advance moves the sandbox clock through the control API.
func advance(t *testing.T, ctl *kfptest.Client, by time.Duration) time.Time {
	t.Helper()
	r := ctl.Must(t, http.StatusOK, http.MethodPost, "/_sandbox/clock/advance?by="+by.String(), nil).JSON(t)
	now, err := time.Parse(time.RFC3339Nano, r["now"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return now
}

// runsOf lists the runs a recurring run started, by scheduled time.
func runsOf(t *testing.T, c *kfptest.Client, query, recurringRunID string) []map[string]any {
	t.Helper()
	r := c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/runs?page_size=200"+query, nil).JSON(t)
	var out []map[string]any
	for _, x := range asList(r["runs"]) {
		if run := x.(map[string]any); run["recurring_run_id"] == recurringRunID {
			out = append(out, run)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["scheduled_at"].(string) < out[j]["scheduled_at"].(string) })
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func scheduledAt(runs []map[string]any) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r["scheduled_at"].(string)
	}
	return out
}

func at(d time.Duration) string { return clockStart.Add(d).Format(time.RFC3339) }

// TestScheduleTriggersRuns: an enabled periodic schedule starts a run per
// slot, of the pinned version with the schedule's parameters, through the
// same report path as any run, and the runs then run.
func TestScheduleTriggersRuns(t *testing.T) {
	sb, c, ctl, pid, vid := scheduled(t, sandbox.Options{})
	t.Parallel()
	id := recurringRun(t, c, pid, vid, map[string]any{"trigger": periodic(5, time.Time{})})
	// A newer version uploaded later does not change the pinned one.
	if r := apiUpload(t, c, "/apis/v2beta1/pipelines/upload_version", "name=v2&pipelineid="+pid, "two_step.yaml",
		kfptest.Pipeline(t, "two_step.yaml")); r.status != http.StatusOK {
		t.Fatalf("upload v2: %s", r)
	}
	sb.ClearRequests()

	if runs := runsOf(t, c, "", id); len(runs) != 0 {
		t.Fatalf("before any advance: %d runs", len(runs))
	}
	if got := advance(t, ctl, 10*time.Second); !got.Equal(clockStart.Add(10 * time.Second)) {
		t.Errorf("clock after advance = %s", got)
	}
	runs := runsOf(t, c, "", id)
	if got, want := strings.Join(scheduledAt(runs), ","), at(5*time.Second)+","+at(10*time.Second); got != want {
		t.Fatalf("scheduled_at = %s, want %s", got, want)
	}
	for _, run := range runs {
		ref, _ := run["pipeline_version_reference"].(map[string]any)
		if ref["pipeline_id"] != pid || ref["pipeline_version_id"] != vid {
			t.Errorf("run %s: pipeline_version_reference = %v, want %s/%s", run["run_id"], ref, pid, vid)
		}
		params, _ := run["runtime_config"].(map[string]any)["parameters"].(map[string]any)
		if params["text"] != "from-the-schedule" {
			t.Errorf("run %s: parameters = %v", run["run_id"], params)
		}
		wf := ctl.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/runs/"+run["run_id"].(string)+"/workflow", nil)
		if !strings.Contains(string(wf.Body), "from-the-schedule") {
			t.Errorf("run %s: the workflow does not carry the parameter", run["run_id"])
		}
	}
	// The first run (created at +5s, two one-second tasks) has finished;
	// the second, created at +10s, has not started.
	if s := runs[0]["state"]; s != "SUCCEEDED" {
		t.Errorf("first run: state %v, want SUCCEEDED", s)
	}
	if s := runs[1]["state"]; s != "PENDING" {
		t.Errorf("second run: state %v, want PENDING", s)
	}
	run := c.Run(t, runs[0]["run_id"].(string))
	if strings.Join(states(run["state_history"]), ",") != "PENDING,RUNNING,SUCCEEDED" {
		t.Errorf("state_history = %v", run["state_history"])
	}
	if run["created_at"] != at(5*time.Second) {
		t.Errorf("created_at = %v, want %s", run["created_at"], at(5*time.Second))
	}
	// Only the test's own listing is in the request log: the controller
	// and the reports are in-process.
	for _, r := range sb.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("request log has %s %s", r.Method, r.Path)
		}
	}
}

// TestScheduleRequestsAreLogged: recurring-run calls are in the request
// log like any other KFP call.
func TestScheduleRequestsAreLogged(t *testing.T) {
	sb, c, _, pid, vid := scheduled(t, sandbox.Options{})
	t.Parallel()
	sb.ClearRequests()
	id := recurringRun(t, c, pid, vid, map[string]any{"trigger": periodic(60, time.Time{})})
	c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/recurringruns?page_size=10", nil)
	c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/recurringruns/"+id+":disable", nil)
	c.Must(t, http.StatusOK, http.MethodDelete, "/apis/v2beta1/recurringruns/"+id, nil)
	var got []string
	for _, r := range sb.Requests() {
		got = append(got, r.Method+" "+r.Path)
	}
	want := "POST /apis/v2beta1/recurringruns,GET /apis/v2beta1/recurringruns,POST /apis/v2beta1/recurringruns/" + id +
		":disable,DELETE /apis/v2beta1/recurringruns/" + id
	if strings.Join(got, ",") != want {
		t.Errorf("request log:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

// TestScheduleCatchup: a past start_time backfills every missed slot with
// catch-up on (max_concurrency at a time, as KFP's controller does), and
// only the current slot with no_catchup.
func TestScheduleCatchup(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		noCatchup bool
		first     []string // scheduled_at right away
		total     int      // after 60 more seconds
	}{
		// Slots every 10 s from start-60s: six are due at once, three may
		// run at a time; then one per slot up to +60s.
		{"catchup", false, []string{at(-50 * time.Second), at(-40 * time.Second), at(-30 * time.Second)}, 12},
		// Only now, then one per slot up to +60s.
		{"no_catchup", true, []string{at(0)}, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, c, ctl, pid, vid := scheduled(t, sandbox.Options{})
			t.Parallel()
			id := recurringRun(t, c, pid, vid, map[string]any{
				"trigger":         periodic(10, clockStart.Add(-60*time.Second)),
				"max_concurrency": "3",
				"no_catchup":      tt.noCatchup,
			})
			advance(t, ctl, 0)
			if got := scheduledAt(runsOf(t, c, "", id)); strings.Join(got, ",") != strings.Join(tt.first, ",") {
				t.Errorf("right away: scheduled_at = %v, want %v", got, tt.first)
			}
			advance(t, ctl, 60*time.Second)
			runs := runsOf(t, c, "", id)
			if len(runs) != tt.total {
				t.Errorf("after 60s: %d runs, want %d: %v", len(runs), tt.total, scheduledAt(runs))
			}
			if last := runs[len(runs)-1]["scheduled_at"]; last != at(60*time.Second) {
				t.Errorf("last run scheduled at %v, want %s", last, at(60*time.Second))
			}
		})
	}
}

// TestScheduleConcurrency: runs that do not finish hold the schedule at
// max_concurrency.
func TestScheduleConcurrency(t *testing.T) {
	sb, c, ctl, pid, vid := scheduled(t, sandbox.Options{})
	t.Parallel()
	sb.Script(sandbox.Script{Run: &sandbox.RunScript{Outcome: sandbox.OutcomeHang}})
	id := recurringRun(t, c, pid, vid, map[string]any{"trigger": periodic(5, time.Time{}), "max_concurrency": "2"})
	advance(t, ctl, time.Minute)
	if got := scheduledAt(runsOf(t, c, "", id)); strings.Join(got, ",") != at(5*time.Second)+","+at(10*time.Second) {
		t.Errorf("scheduled_at = %v, want the first two slots only", got)
	}
}

// TestScheduleDisabled: a disabled schedule (mode unset, as KFP creates
// it) triggers nothing; enabling it catches up from its creation, and
// disabling it stops it again.
func TestScheduleDisabled(t *testing.T) {
	_, c, ctl, pid, vid := scheduled(t, sandbox.Options{})
	t.Parallel()
	id := recurringRun(t, c, pid, vid, map[string]any{"trigger": periodic(5, time.Time{}), "mode": nil})
	if s := c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/recurringruns/"+id, nil).JSON(t)["status"]; s != "DISABLED" {
		t.Fatalf("status = %v, want DISABLED", s)
	}
	advance(t, ctl, time.Minute)
	if runs := runsOf(t, c, "", id); len(runs) != 0 {
		t.Fatalf("disabled: %d runs", len(runs))
	}
	c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/recurringruns/"+id+":enable", nil)
	advance(t, ctl, 0)
	// KFP #8344: enabling catches up from the schedule's creation, one run
	// at a time here (max_concurrency 1).
	if got := scheduledAt(runsOf(t, c, "", id)); strings.Join(got, ",") != at(5*time.Second) {
		t.Errorf("enabled: scheduled_at = %v, want %s", got, at(5*time.Second))
	}
	c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/recurringruns/"+id+":disable", nil)
	advance(t, ctl, time.Minute)
	if runs := runsOf(t, c, "", id); len(runs) != 1 {
		t.Errorf("disabled again: %d runs, want 1", len(runs))
	}
}

// TestScheduleCron: cron is KFP's six fields, seconds first; a five-field
// expression is read the same way (minute 2 of every hour, not 02:00).
func TestScheduleCron(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cron string
		by   time.Duration
		want []string
	}{
		{"10,40 * * * * *", time.Minute, []string{"2026-01-02T03:04:10Z", "2026-01-02T03:04:40Z"}},
		{"0 */2 * * * *", 5 * time.Minute, []string{"2026-01-02T03:06:00Z", "2026-01-02T03:08:00Z"}},
		{"0 2 * * *", 2 * time.Hour, []string{"2026-01-02T04:02:00Z", "2026-01-02T05:02:00Z"}},
	} {
		t.Run(tt.cron, func(t *testing.T) {
			_, c, ctl, pid, vid := scheduled(t, sandbox.Options{})
			t.Parallel()
			id := recurringRun(t, c, pid, vid, map[string]any{"trigger": map[string]any{"cron_schedule": map[string]any{"cron": tt.cron}}})
			advance(t, ctl, tt.by)
			if got := scheduledAt(runsOf(t, c, "", id)); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("scheduled_at = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestClockControl: the clock routes, and their errors.
func TestClockControl(t *testing.T) {
	t.Parallel()
	_, _, ctl, _, _ := scheduled(t, sandbox.Options{})
	if r := ctl.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/clock", nil).JSON(t); r["now"] != clockStart.Format(time.RFC3339Nano) || r["manual"] != true {
		t.Errorf("GET /_sandbox/clock = %v", r)
	}
	for _, by := range []string{"", "ten", "-1s", url.QueryEscape("9000h")} {
		ctl.Must(t, http.StatusBadRequest, http.MethodPost, "/_sandbox/clock/advance?by="+by, nil)
	}
	advance(t, ctl, 1500*time.Millisecond)
	if r := ctl.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/clock", nil).JSON(t); r["now"] != "2026-01-02T03:04:06.5Z" {
		t.Errorf("after 1.5s: %v", r)
	}

	real, _ := start(t, sandbox.Options{})
	realCtl := &kfptest.Client{Base: real.ControlURL()}
	realCtl.Must(t, http.StatusConflict, http.MethodPost, "/_sandbox/clock/advance?by=1s", nil)
	if r := realCtl.Must(t, http.StatusOK, http.MethodGet, "/_sandbox/clock", nil).JSON(t); r["manual"] != false {
		t.Errorf("real clock: %v", r)
	}
}

// TestScheduleOnTick: with a clock of the test's own, the tick that
// advances runs also syncs schedules (the real-clock path).
func TestScheduleOnTick(t *testing.T) {
	clock := &fakeClock{now: clockStart}
	sb, c := start(t, sandbox.Options{Clock: clock, Tick: -1, StepDuration: time.Second})
	t.Parallel()
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
	id := recurringRun(t, c, pid, vid, map[string]any{"trigger": periodic(5, time.Time{})})
	for i, want := range []int{0, 0, 1, 1, 2} {
		if i > 0 {
			clock.add(3 * time.Second)
		}
		sb.Tick()
		if runs := runsOf(t, c, "", id); len(runs) != want {
			t.Errorf("at +%ds: %d runs, want %d", 3*i, len(runs), want)
		}
	}
}

// TestScheduleV1beta1Job: a v1beta1 job of a v2 pipeline version triggers
// too, with its runtime parameters.
func TestScheduleV1beta1Job(t *testing.T) {
	_, c, ctl, pid, vid := scheduled(t, sandbox.Options{})
	t.Parallel()
	job := c.Must(t, http.StatusOK, http.MethodPost, "/apis/v1beta1/jobs", map[string]any{
		"name": "v1-nightly", "enabled": true, "max_concurrency": "1",
		"pipeline_spec":       map[string]any{"runtime_config": map[string]any{"parameters": map[string]any{"text": "from-v1"}}},
		"resource_references": []any{map[string]any{"key": map[string]any{"type": "PIPELINE_VERSION", "id": vid}, "relationship": "CREATOR"}},
		"trigger":             map[string]any{"periodic_schedule": map[string]any{"interval_second": "5"}},
	}).JSON(t)
	advance(t, ctl, 5*time.Second)
	runs := runsOf(t, c, "", job["id"].(string))
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	ref, _ := runs[0]["pipeline_version_reference"].(map[string]any)
	params, _ := runs[0]["runtime_config"].(map[string]any)["parameters"].(map[string]any)
	if ref["pipeline_id"] != pid || ref["pipeline_version_id"] != vid || params["text"] != "from-v1" {
		t.Errorf("run: pipeline_version_reference %v, parameters %v", ref, params)
	}
}

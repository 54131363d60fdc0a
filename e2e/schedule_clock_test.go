package e2e

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests run synced schedules against a sandbox with a manual clock:
// KFP's own scheduled-workflow controller starts runs only when the test
// moves the clock, so every slot is known in advance and nothing waits on
// the wall clock.

// clockStart is where each manual clock starts: on a 5-second boundary,
// so "*/5 * * * * *" slots fall at T0+5s, T0+10s, ...
var clockStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// startClocked starts a sandbox of the test's own whose clock stands still
// at clockStart until advance moves it.
func startClocked(t *testing.T) *sandbox {
	t.Helper()
	s, err := start(context.Background(), "--step-duration", "40ms", "--clock", "manual", "--clock-start", clockStart.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// advance moves the sandbox's clock by d and returns once every schedule
// due on the way has started its runs and every run has moved.
func (s *sandbox) advance(t *testing.T, d time.Duration) time.Time {
	t.Helper()
	var res struct {
		Now time.Time `json:"now"`
	}
	s.call(t, "POST", "/_sandbox/clock/advance?by="+url.QueryEscape(d.String()), nil, &res)
	return res.Now
}

// triggeredRun is a run as KFP lists it, with what a schedule gives it.
type triggeredRun struct {
	RunID          string    `json:"run_id"`
	RecurringRunID string    `json:"recurring_run_id"`
	ScheduledAt    time.Time `json:"scheduled_at"`
	State          string    `json:"state"`
	ExperimentID   string    `json:"experiment_id"`
	runSource
}

// runSource is what a run or a recurring run runs: a pipeline version,
// with parameters.
type runSource struct {
	Ref *struct {
		PipelineID string `json:"pipeline_id"`
		VersionID  string `json:"pipeline_version_id"`
	} `json:"pipeline_version_reference"`
	Runtime struct {
		Parameters map[string]any `json:"parameters"`
	} `json:"runtime_config"`
}

// triggered lists the runs of recurring run id, oldest slot first. It
// reads every run and filters here: KFP 2.0.5's recurring_run_id filter
// key names a column that does not exist (#10430).
func (s *sandbox) triggered(t *testing.T, id string) []triggeredRun {
	t.Helper()
	var out []triggeredRun
	token := ""
	for {
		var res struct {
			Runs []triggeredRun `json:"runs"`
			Next string         `json:"next_page_token"`
		}
		s.call(t, "GET", "/apis/v2beta1/runs?page_size=100&page_token="+url.QueryEscape(token), nil, &res)
		for _, r := range res.Runs {
			if r.RecurringRunID == id {
				out = append(out, r)
			}
		}
		if res.Next == "" || res.Next == token {
			break
		}
		token = res.Next
	}
	slices.SortFunc(out, func(a, b triggeredRun) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
	return out
}

// slots are the scheduled times of runs, as offsets from clockStart.
func slots(runs []triggeredRun) []time.Duration {
	var out []time.Duration
	for _, r := range runs {
		out = append(out, r.ScheduledAt.Sub(clockStart))
	}
	return out
}

func secs(ss ...int) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		out = append(out, time.Duration(s)*time.Second)
	}
	return out
}

// byPipeline finds the recurring runs by display name (the pipeline entry).
func byPipeline(rr []apiRecurring) map[string][]apiRecurring {
	m := map[string][]apiRecurring{}
	for _, r := range rr {
		m[r.Name] = append(m[r.Name], r)
	}
	return m
}

// clockConfig is a kf-run.yaml with one entry per schedule block given,
// each running the example pipeline at this commit's version.
func clockConfig(t *testing.T, s *sandbox, entries ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "kubeflow:\n  host: %s\ndefaults: {experiment: nightly}\npipelines:\n", s.URL)
	for _, e := range entries {
		name, sched, _ := strings.Cut(e, "\n")
		fmt.Fprintf(&b, "  - name: %s\n    spec: %s\n    version: \"v-{{ .Git.ShortSHA }}\"\n    parameters: {dataset: gs://e2e/data.csv}\n", name, example(t, "train/pipeline.yaml"))
		if sched != "" {
			fmt.Fprintf(&b, "    schedule:\n%s", sched)
		}
	}
	return b.String()
}

// An every: 5s schedule and a cron with seconds start runs as the clock
// moves, one per slot, each with the pipeline version the sync uploaded
// (both ids) and the schedule's parameters over the pipeline's.
func TestScheduleTriggersRuns(t *testing.T) {
	t.Parallel()
	s := startClocked(t)
	dir := t.TempDir()
	writeConfig(t, dir, clockConfig(t, s,
		"train\n      every: 5s\n      parameters: {epochs: 7}\n",
		"eval\n      cron: \"*/10 * * * * *\"\n      parameters: {learning_rate: 0.5}\n"))
	if r := kfRun(context.Background(), t, dir, scheduleEnv("acme/clock"), "schedule", "sync"); r.code != 0 {
		t.Fatalf("sync: want exit 0:\n%s", r)
	}
	// Nothing runs while the clock stands still.
	sched := byPipeline(s.recurring(t, ""))
	train, eval := sched["train"], sched["eval"]
	if len(train) != 1 || len(eval) != 1 {
		t.Fatalf("recurring runs %+v, want one train and one eval", sched)
	}
	if n := len(s.triggered(t, train[0].ID)) + len(s.triggered(t, eval[0].ID)); n != 0 {
		t.Fatalf("%d runs before the clock moved", n)
	}

	now := s.advance(t, 21*time.Second)
	tests := []struct {
		rr     apiRecurring
		slots  []time.Duration
		params map[string]any
	}{
		// Every 5 s from its creation at T0.
		{train[0], secs(5, 10, 15, 20), map[string]any{"dataset": "gs://e2e/data.csv", "epochs": float64(7)}},
		// At seconds 10, 20, 30... of the minute: T0 is 03:04:05.
		{eval[0], secs(5, 15), map[string]any{"dataset": "gs://e2e/data.csv", "learning_rate": 0.5}},
	}
	for _, tt := range tests {
		runs := s.triggered(t, tt.rr.ID)
		if got := slots(runs); !slices.Equal(got, tt.slots) {
			t.Errorf("%s: runs at T0+%v, want T0+%v", tt.rr.Name, got, tt.slots)
		}
		if tt.rr.Ref == nil {
			t.Fatalf("%s: no pipeline version reference: %+v", tt.rr.Name, tt.rr)
		}
		var version struct {
			Name string `json:"display_name"`
		}
		s.call(t, "GET", "/apis/v2beta1/pipelines/"+tt.rr.Ref.PipelineID+"/versions/"+tt.rr.Ref.VersionID, nil, &version)
		if version.Name != "v-0123456" {
			t.Errorf("%s: the schedule runs version %q, want the synced v-0123456", tt.rr.Name, version.Name)
		}
		for _, r := range runs {
			if r.Ref == nil || r.Ref.PipelineID != tt.rr.Ref.PipelineID || r.Ref.VersionID != tt.rr.Ref.VersionID {
				t.Errorf("%s: run %s uses %+v, want pipeline %s version %s", tt.rr.Name, r.RunID, r.Ref, tt.rr.Ref.PipelineID, tt.rr.Ref.VersionID)
			}
			if fmt.Sprint(r.Runtime.Parameters) != fmt.Sprint(tt.params) {
				t.Errorf("%s: run %s has parameters %v, want %v", tt.rr.Name, r.RunID, r.Runtime.Parameters, tt.params)
			}
			// They really run: all but a run started this very second
			// have finished.
			if r.ScheduledAt.Before(now.Add(-time.Second)) && r.State != "SUCCEEDED" {
				t.Errorf("%s: run %s (slot %s) is %s, want SUCCEEDED", tt.rr.Name, r.RunID, r.ScheduledAt, r.State)
			}
		}
	}
}

// With catch-up off (kf-run's default) a schedule whose start lies an hour
// back runs no missed slot: one run at the sync (the latest slot due), then
// each slot after it. The same schedule with catchup: true backfills, so
// the sandbox would show a backfill if kf-run asked for one.
func TestScheduleNoBackfill(t *testing.T) {
	t.Parallel()
	s := startClocked(t)
	dir := t.TempDir()
	hourAgo := clockStart.Add(-time.Hour).Format(time.RFC3339)
	minuteAgo := clockStart.Add(-time.Minute).Format(time.RFC3339)
	writeConfig(t, dir, clockConfig(t, s,
		"periodic\n      every: 5s\n      start: "+hourAgo+"\n",
		"cron\n      cron: \"*/5 * * * * *\"\n      start: "+hourAgo+"\n",
		"backfill\n      every: 5s\n      start: "+minuteAgo+"\n      catchup: true\n"))
	if r := kfRun(context.Background(), t, dir, scheduleEnv("acme/catchup"), "schedule", "sync"); r.code != 0 {
		t.Fatalf("sync: want exit 0:\n%s", r)
	}
	s.advance(t, 10*time.Second)
	sched := byPipeline(s.recurring(t, ""))
	for _, name := range []string{"periodic", "cron"} {
		if len(sched[name]) != 1 {
			t.Fatalf("%s at KFP: %+v, want one", name, sched[name])
		}
		if !sched[name][0].NoCatchup {
			t.Errorf("%s at KFP: no_catchup false, want true", name)
		}
		if got := slots(s.triggered(t, sched[name][0].ID)); !slices.Equal(got, secs(0, 5, 10)) {
			t.Errorf("%s: runs at T0+%v, want T0+[0s 5s 10s]: no slot of the hour before the sync", name, got)
		}
	}
	if len(sched["backfill"]) != 1 || sched["backfill"][0].NoCatchup {
		t.Fatalf("backfill at KFP: %+v, want one with catch-up", sched["backfill"])
	}
	got := slots(s.triggered(t, sched["backfill"][0].ID))
	if len(got) < 12 || got[0] != -55*time.Second {
		t.Errorf("catchup: true: runs at T0+%v, want the missed slots from T0-55s on", got)
	}
}

// A changed parameter replaces the schedule (KFP has no update): the new
// one is created before the old one is disabled, so as the clock moves
// every slot runs exactly once, the old one's up to the sync and the new
// one's after it. A schedule removed from the config is disabled (it
// starts nothing more), and --prune deletes it.
func TestScheduleReplaceWithoutGap(t *testing.T) {
	t.Parallel()
	s := startClocked(t)
	dir := t.TempDir()
	env := scheduleEnv("acme/replace")
	sync := func(args ...string) result {
		t.Helper()
		s.call(t, "DELETE", "/_sandbox/requests", nil, nil)
		return kfRun(context.Background(), t, dir, env, append([]string{"schedule", "sync"}, args...)...)
	}
	every5 := "train\n      cron: \"*/5 * * * * *\"\n      parameters: {epochs: %d}\n"
	writeConfig(t, dir, clockConfig(t, s, fmt.Sprintf(every5, 7)))
	if r := sync(); r.code != 0 {
		t.Fatalf("sync: want exit 0:\n%s", r)
	}
	old := s.recurring(t, "")
	if len(old) != 1 {
		t.Fatalf("recurring runs %+v, want one", old)
	}
	// Replace between two slots, at T0+12s.
	s.advance(t, 12*time.Second)
	writeConfig(t, dir, clockConfig(t, s, fmt.Sprintf(every5, 8)))
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "replace    train") {
		t.Fatalf("sync after a change: want a replace:\n%s", r)
	}
	rr := s.recurring(t, "")
	i := slices.IndexFunc(rr, func(x apiRecurring) bool { return x.ID != old[0].ID })
	if i < 0 {
		t.Fatalf("recurring runs after the replace %+v: no new one", rr)
	}
	made := rr[i]
	if len(rr) != 1 || made.Status != "ENABLED" {
		t.Errorf("recurring runs after the replace %+v: want only the new one, enabled (the old one had no active run)", rr)
	}
	s.advance(t, 13*time.Second)

	// Every slot from the first to T0+25s ran once: none lost in the
	// replace, none run by both.
	before, after := s.triggered(t, old[0].ID), s.triggered(t, made.ID)
	all := slots(append(slices.Clone(before), after...))
	slices.Sort(all)
	if !slices.Equal(all, secs(5, 10, 15, 20, 25)) {
		t.Errorf("runs at T0+%v, want one at each of T0+[5s 10s 15s 20s 25s]", all)
	}
	if got := slots(before); !slices.Equal(got, secs(5, 10)) {
		t.Errorf("the old schedule ran at T0+%v, want T0+[5s 10s]", got)
	}
	if got := slots(after); !slices.Equal(got, secs(15, 20, 25)) {
		t.Errorf("the new schedule ran at T0+%v, want T0+[15s 20s 25s]", got)
	}
	for _, r := range before {
		if r.Runtime.Parameters["epochs"] != float64(7) {
			t.Errorf("old run %s: epochs %v, want 7", r.RunID, r.Runtime.Parameters["epochs"])
		}
	}
	for _, r := range after {
		if r.Runtime.Parameters["epochs"] != float64(8) {
			t.Errorf("new run %s: epochs %v, want 8", r.RunID, r.Runtime.Parameters["epochs"])
		}
	}

	// Removed from the config: disabled, and it starts nothing more.
	writeConfig(t, dir, clockConfig(t, s, "train\n"))
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "disable    train") {
		t.Fatalf("sync without the schedule: want a disable:\n%s", r)
	}
	s.advance(t, 10*time.Second)
	if n := len(s.triggered(t, made.ID)); n != len(after) {
		t.Errorf("the removed schedule started %d more runs", n-len(after))
	}
	// --prune deletes it, and writes nothing else.
	if r := sync("--prune"); r.code != 0 || !strings.Contains(r.stderr, "delete     train") {
		t.Fatalf("sync --prune:\n%s", r)
	}
	if left := s.recurring(t, ""); len(left) != 0 {
		t.Errorf("recurring runs after --prune: %+v, want none", left)
	}
	if w := s.writes(t); !slices.Equal(w, []string{"DELETE /apis/v2beta1/recurringruns/" + made.ID}) {
		t.Errorf("--prune wrote %v, want only the delete", w)
	}
}

// A replace while a run of the old schedule is still going keeps that run:
// the old recurring run is disabled, not deleted (deleting it would kill
// the run up to KFP 2.15), and it starts no more runs; a sync after the run
// has ended deletes it.
func TestScheduleReplaceKeepsActiveRun(t *testing.T) {
	t.Parallel()
	s := startClocked(t)
	dir := t.TempDir()
	env := scheduleEnv("acme/active")
	sync := func() result {
		t.Helper()
		s.call(t, "DELETE", "/_sandbox/requests", nil, nil)
		return kfRun(context.Background(), t, dir, env, "schedule", "sync")
	}
	every5 := "train\n      every: 5s\n      parameters: {epochs: %d}\n"
	writeConfig(t, dir, clockConfig(t, s, fmt.Sprintf(every5, 7)))
	if r := sync(); r.code != 0 {
		t.Fatalf("sync: want exit 0:\n%s", r)
	}
	old := s.recurring(t, "")
	if len(old) != 1 {
		t.Fatalf("recurring runs %+v, want one", old)
	}
	// Triggered runs are named after the schedule's workflow, so the
	// script matches every run: the first run hangs; later ones succeed.
	s.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": "", "run": map[string]any{"outcome": "hang"}}, nil)
	s.advance(t, 6*time.Second)
	s.call(t, "DELETE", "/_sandbox/scripts", nil, nil)
	hung := s.triggered(t, old[0].ID)
	if len(hung) != 1 || hung[0].State != "RUNNING" {
		t.Fatalf("runs of the old schedule %+v, want one RUNNING", hung)
	}

	writeConfig(t, dir, clockConfig(t, s, fmt.Sprintf(every5, 8)))
	r := sync()
	if r.code != 0 || !strings.Contains(r.stderr, "replace    train") || !strings.Contains(r.stderr, "kept until their active runs end") {
		t.Fatalf("sync after a change: want a replace that keeps the old one:\n%s", r)
	}
	w := s.writes(t)
	if slices.Contains(w, "DELETE /apis/v2beta1/recurringruns/"+old[0].ID) || !slices.Contains(w, "POST /apis/v2beta1/recurringruns/"+old[0].ID+":disable") {
		t.Errorf("writes %v: want the old one disabled, not deleted", w)
	}
	sched := byPipeline(s.recurring(t, ""))["train"]
	var kept, made apiRecurring
	for _, x := range sched {
		if x.ID == old[0].ID {
			kept = x
		} else {
			made = x
		}
	}
	if len(sched) != 2 || kept.Status != "DISABLED" || made.Status != "ENABLED" {
		t.Fatalf("train at KFP %+v: want the old one DISABLED beside the new one ENABLED", sched)
	}

	// The clock moves: the new one runs, the old one starts nothing and
	// its run goes on.
	s.advance(t, 10*time.Second)
	if got := slots(s.triggered(t, made.ID)); !slices.Equal(got, secs(11, 16)) {
		t.Errorf("the new schedule ran at T0+%v, want T0+[11s 16s] (every 5 s from the sync at T0+6s)", got)
	}
	if runs := s.triggered(t, old[0].ID); len(runs) != 1 || runs[0].State != "RUNNING" {
		t.Errorf("runs of the old schedule %+v, want its one run still RUNNING", runs)
	}

	// A sync while the run is still going changes nothing and says why.
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "deleted by a later sync once they end") {
		t.Errorf("sync while the old run is active:\n%s", r)
	}
	if w := s.writes(t); len(w) != 0 {
		t.Errorf("sync while the old run is active wrote %v, want nothing", w)
	}

	// Once the run has ended, the next sync deletes the old one.
	s.call(t, "POST", "/apis/v2beta1/runs/"+hung[0].RunID+":terminate", nil, nil)
	s.advance(t, time.Second)
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "delete     train") {
		t.Fatalf("sync after the run ended: want the old one deleted:\n%s", r)
	}
	if w := s.writes(t); !slices.Equal(w, []string{"DELETE /apis/v2beta1/recurringruns/" + old[0].ID}) {
		t.Errorf("writes %v, want only the old one's delete", w)
	}
	if left := s.recurring(t, ""); len(left) != 1 || left[0].ID != made.ID {
		t.Errorf("recurring runs %+v, want only the new one", left)
	}
}

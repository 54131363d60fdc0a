package preview

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// fake is KFP as these functions see it. It fails the test on a call it
// has no answer for, and records the writes.
type fake struct {
	t        *testing.T
	exps     map[string]kfp.Experiment // by name
	runs     []kfp.ListedRun
	versions map[string]kfp.Version // by id
	writes   []string
	failOn   string
}

func (f *fake) Target() kfp.Target { return kfp.Target{Host: "http://kfp"} }

func (f *fake) byID(id string) (kfp.Experiment, bool) {
	for _, e := range f.exps {
		if e.ID == id {
			return e, true
		}
	}
	return kfp.Experiment{}, false
}

func (f *fake) GetExperiment(_ context.Context, id string) (kfp.Experiment, error) {
	if e, ok := f.byID(id); ok {
		return e, nil
	}
	f.t.Errorf("GetExperiment(%q): no such experiment", id)
	return kfp.Experiment{}, errors.New("no such experiment")
}

func (f *fake) LookupExperiment(_ context.Context, name string) (kfp.Experiment, error) {
	return f.exps[name], nil
}

func (f *fake) write(s string) error {
	f.writes = append(f.writes, s)
	if s == f.failOn {
		return errors.New("HTTP 503")
	}
	return nil
}

func (f *fake) UnarchiveExperiment(_ context.Context, id string) error {
	return f.write("unarchive " + id)
}

func (f *fake) ArchiveExperiment(_ context.Context, id string) error {
	for n, e := range f.exps {
		if e.ID == id {
			e.Archived = true
			f.exps[n] = e
		}
	}
	return f.write("archive " + id)
}

// RunsWith answers as LIKE would: a substring match, '_' and '%' aside.
func (f *fake) RunsWith(_ context.Context, expID, sub string) ([]kfp.ListedRun, error) {
	if _, ok := f.byID(expID); !ok {
		f.t.Errorf("RunsWith(%q): no such experiment", expID)
	}
	var out []kfp.ListedRun
	for _, r := range f.runs {
		if containsLike(r.Description, sub) {
			out = append(out, r)
		}
	}
	return out, nil
}

func containsLike(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func (f *fake) TerminateRun(_ context.Context, id string) error {
	for i := range f.runs {
		if f.runs[i].ID == id {
			f.runs[i].State = kfp.StateCanceling
		}
	}
	return f.write("terminate " + id)
}

func (f *fake) VersionsWith(_ context.Context, pid, sub string) ([]kfp.Version, error) {
	if pid != "pl-1" {
		f.t.Errorf("VersionsWith(%q): no such pipeline", pid)
	}
	var out []kfp.Version
	for _, id := range slices.Sorted(maps.Keys(f.versions)) {
		if v := f.versions[id]; containsLike(v.Description, sub) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fake) DeleteVersion(_ context.Context, pid, vid string) error {
	delete(f.versions, vid)
	return f.write("delete version " + pid + "/" + vid)
}

var (
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key   = plan.PreviewKey("acme/ml", 7)
	train = key + "aaaaaaaaaaaa"
	eval  = key + "bbbbbbbbbbbb"
)

func run(id string, created time.Duration, state kfp.RunState, line, version string) kfp.ListedRun {
	r := kfp.ListedRun{Run: kfp.Run{ID: id, Name: "train " + id, State: state, Created: t0.Add(created),
		Description: fmt.Sprintf("Submitted by kf-run.\n%s\nkf-run:token%s", line, id)}}
	if version != "" {
		r.PipelineID, r.VersionID = "pl-1", version
	}
	return r
}

func TestSupersede(t *testing.T) {
	t.Parallel()
	f := &fake{t: t, exps: map[string]kfp.Experiment{"pr-7": {ID: "exp-7", Name: "pr-7", Archived: true}}, runs: []kfp.ListedRun{
		run("later", 3*time.Minute, kfp.StateRunning, train, ""),     // a later push's run, created first
		run("new", 2*time.Minute, kfp.StateRunning, train, ""),       // this run
		run("old", time.Minute, kfp.StateRunning, train, ""),         // superseded
		run("eval", time.Minute, kfp.StateRunning, eval, ""),         // another pipeline
		run("done", 0, kfp.StateSucceeded, train, ""),                // ended
		run("canceling", 0, kfp.StateCanceling, train, ""),           // being stopped
		run("lookalike", 0, kfp.StateRunning, train+"x", ""),         // LIKE matched, not the line
		run("stopfail", 30*time.Second, kfp.StatePending, train, ""), // terminate fails
	}, failOn: "terminate stopfail"}
	pl := &plan.Pipeline{Name: "train", Preview: &plan.PipelinePreview{Line: train, Supersede: true},
		Submission: &plan.Submission{RunID: "new", ExperimentID: "exp-7", ExperimentName: "pr-7"}}
	err := Supersede(context.Background(), f, pl)
	if err == nil || err.Error() != "terminate earlier run stopfail of train: HTTP 503" {
		t.Errorf("error %v, want the failed terminate", err)
	}
	if diff := cmp.Diff([]string{"unarchive exp-7", "terminate old", "terminate stopfail"}, f.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	var got []string
	for _, e := range pl.Preview.Earlier {
		got = append(got, fmt.Sprintf("%s %s %v %s", e.ID, e.State, e.Superseded, e.URL))
	}
	want := []string{
		"later RUNNING false http://kfp/#/runs/details/later",
		"old RUNNING true http://kfp/#/runs/details/old",
		"done SUCCEEDED false http://kfp/#/runs/details/done",
		"canceling CANCELING false http://kfp/#/runs/details/canceling",
		"stopfail PENDING false http://kfp/#/runs/details/stopfail",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("earlier runs (-want +got):\n%s", diff)
	}
	if !pl.Preview.Reopened || pl.Preview.ExperimentURL != "http://kfp/#/experiments/details/exp-7" {
		t.Errorf("reopened %v, experiment URL %q", pl.Preview.Reopened, pl.Preview.ExperimentURL)
	}

	// supersede: false lists the earlier runs and stops none.
	f = &fake{t: t, exps: map[string]kfp.Experiment{"pr-7": {ID: "exp-7"}}, runs: []kfp.ListedRun{
		run("new", time.Minute, kfp.StateRunning, train, ""), run("old", 0, kfp.StateRunning, train, "")}}
	pl.Preview = &plan.PipelinePreview{Line: train}
	if err := Supersede(context.Background(), f, pl); err != nil || len(f.writes) > 0 || len(pl.Preview.Earlier) != 1 {
		t.Errorf("supersede off: err %v, writes %v, earlier %+v", err, f.writes, pl.Preview.Earlier)
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	other := plan.PreviewKey("acme/ml", 8) + "aaaaaaaaaaaa"
	f := &fake{t: t, exps: map[string]kfp.Experiment{"pr-7": {ID: "exp-7", Name: "pr-7"}}, runs: []kfp.ListedRun{
		run("new", 2*time.Minute, kfp.StateRunning, train, "v-2"),
		run("old", time.Minute, kfp.StateFailed, train, "v-1"),
		run("eval", time.Minute, kfp.StatePending, eval, "v-main"),
		run("inline", 0, kfp.StateSucceeded, train, ""),
		run("stranger", 0, kfp.StateRunning, other, ""), // another PR's run: not this cleanup's
	}, versions: map[string]kfp.Version{
		"v-1":    {ID: "v-1", Name: "abc1234", Description: "x\n" + train + "\nkf-run-content: sha256:1"},
		"v-2":    {ID: "v-2", Name: "def5678", Description: "x\n" + train + "\nkf-run-content: sha256:2"},
		"v-main": {ID: "v-main", Name: "0000000", Description: "from main\nkf-run-content: sha256:3"},
		"v-0":    {ID: "v-0", Name: "train", Description: "x\n" + train}, // the pipeline's first version, no run
		"v-8":    {ID: "v-8", Name: "9999999", Description: "x\n" + other},
	}}
	closed := Closed{Experiment: "pr-7", Key: key, DeleteVersions: true}
	got, err := Cleanup(context.Background(), f, closed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"terminate new", "terminate eval", "archive exp-7", "delete version pl-1/v-0", "delete version pl-1/v-1", "delete version pl-1/v-2"}, f.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if !got.Changed() || got.Runs != 4 || !got.Archived || len(got.Terminated) != 2 || len(got.Deleted) != 3 || f.versions["v-main"].ID == "" || f.versions["v-8"].ID == "" {
		t.Errorf("cleaned = %+v", got)
	}

	// Again: nothing left to do, and nothing written.
	f.writes = nil
	f.runs[0].State, f.runs[2].State = kfp.StateFailed, kfp.StateFailed
	got, err = Cleanup(context.Background(), f, closed)
	if err != nil || got.Changed() || len(f.writes) > 0 || got.Experiment.ID != "exp-7" {
		t.Errorf("second cleanup: %+v, %v, writes %v", got, err, f.writes)
	}

	// No experiment: nothing to do.
	got, err = Cleanup(context.Background(), f, Closed{Experiment: "pr-9", Key: plan.PreviewKey("acme/ml", 9)})
	if err != nil || got.Changed() || got.Experiment.ID != "" {
		t.Errorf("no experiment: %+v, %v", got, err)
	}

	// An error stops it and says what was done until then.
	f = &fake{t: t, exps: map[string]kfp.Experiment{"pr-7": {ID: "exp-7", Name: "pr-7"}}, runs: []kfp.ListedRun{
		run("new", 0, kfp.StateRunning, train, "")}, failOn: "archive exp-7"}
	got, err = Cleanup(context.Background(), f, closed)
	if err == nil || err.Error() != `archive experiment "pr-7": HTTP 503` || len(got.Terminated) != 1 {
		t.Errorf("failed archive: %+v, %v", got, err)
	}
}

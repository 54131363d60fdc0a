package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

var scope = Scope{Repo: "acme/ml", Config: "kf-run.yaml"}

func newSchedule(t *testing.T, name string, params map[string]any, mod func(*plan.Schedule)) *plan.Schedule {
	t.Helper()
	spec, err := pipelinespec.Load("../../examples/train/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &plan.Schedule{
		Pipeline: &plan.Pipeline{Name: name, Spec: spec, Parameters: params, Experiment: "nightly", PipelineName: name, Version: "abc1234"},
		Trigger:  kfp.Trigger{Cron: "0 0 2 * * *", MaxConcurrency: 1, NoCatchup: true}, Enabled: true,
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func desire(t *testing.T, ss ...*plan.Schedule) []Desired {
	t.Helper()
	d, err := Desire(scope, ss)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStateHash(t *testing.T) {
	t.Parallel()
	base := func(mod func(*plan.Schedule)) string {
		s, err := State(newSchedule(t, "train", map[string]any{"dataset": "gs://d", "epochs": 3}, mod))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := base(nil)
	if len(want) != 32 {
		t.Fatalf("state %q: want 32 hex digits", want)
	}
	// Stable: the same schedule (parameters in another order, another
	// commit's version name) hashes the same.
	same := map[string]func(*plan.Schedule){
		"parameter order": func(s *plan.Schedule) { s.Pipeline.Parameters = map[string]any{"epochs": 3, "dataset": "gs://d"} },
		"version name":    func(s *plan.Schedule) { s.Pipeline.Version = "def5678" },
		"enabled":         func(s *plan.Schedule) { s.Enabled = false },
	}
	for name, mod := range same {
		if got := base(mod); got != want {
			t.Errorf("%s: state %s, want %s", name, got, want)
		}
	}
	differ := map[string]func(*plan.Schedule){
		"parameter":       func(s *plan.Schedule) { s.Pipeline.Parameters["epochs"] = 4 },
		"cron":            func(s *plan.Schedule) { s.Cron = "0 0 3 * * *" },
		"every":           func(s *plan.Schedule) { s.Cron, s.Interval = "", 6*time.Hour },
		"catchup":         func(s *plan.Schedule) { s.NoCatchup = false },
		"max_concurrency": func(s *plan.Schedule) { s.MaxConcurrency = 2 },
		"start":           func(s *plan.Schedule) { s.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) },
		"experiment":      func(s *plan.Schedule) { s.Pipeline.Experiment = "other" },
		"service account": func(s *plan.Schedule) { s.Pipeline.ServiceAccount = "trainer" },
		"spec": func(s *plan.Schedule) {
			spec, err := pipelinespec.Load("../pipelinespec/testdata/two_step.yaml")
			if err != nil {
				t.Fatal(err)
			}
			s.Pipeline.Spec = spec
		},
	}
	for name, mod := range differ {
		if got := base(mod); got == want {
			t.Errorf("%s: state unchanged", name)
		}
	}
}

func TestDescription(t *testing.T) {
	t.Parallel()
	long := Scope{Repo: strings.Repeat("é", 100), Config: "ci/" + strings.Repeat("k", 100) + ".yaml"}
	for _, sc := range []Scope{scope, long} {
		d, err := Desire(sc, []*plan.Schedule{newSchedule(t, "train", nil, nil)})
		if err != nil {
			t.Fatal(err)
		}
		desc := d[0].Description
		if len(desc) > maxDescription {
			t.Errorf("description of %d bytes, KFP's column holds %d", len(desc), maxDescription)
		}
		if strings.ContainsAny(desc[strings.Index(desc, "\n"):], "_%") {
			t.Errorf("searched lines hold a LIKE wildcard: %q", desc)
		}
		e, ok := parse(sc, recurring("", desc, false))
		if !ok || e.KeyID != d[0].KeyID || e.State != d[0].State {
			t.Errorf("parse(%q) = %+v, %t", desc, e, ok)
		}
		// Another config's, or a look-alike, is not ours.
		if _, ok := parse(Scope{Repo: sc.Repo, Config: "other.yaml"}, recurring("", desc, false)); ok {
			t.Errorf("another scope claims %q", desc)
		}
	}
	d := desire(t, newSchedule(t, "train", nil, nil))
	if want := "kf-run schedule: acme/ml kf-run.yaml train\nkf-run-scope: "; !strings.HasPrefix(d[0].Description, want) {
		t.Errorf("description %q", d[0].Description)
	}
	if e, _ := parse(scope, recurring("", d[0].Description, false)); e.Name != "train" {
		t.Errorf("name read back %q, want train", e.Name)
	}
}

// existing makes the recurring run of d at KFP; state "" keeps d's.
func existing(d Desired, id, state string, enabled bool, created int) Existing {
	return Existing{Name: d.Name, KeyID: d.KeyID, State: cmpOr(state, d.State),
		Run: kfp.RecurringRun{ID: id, Created: time.Date(2025, 1, created, 0, 0, 0, 0, time.UTC), RecurringRunRequest: kfp.RecurringRunRequest{Enabled: enabled}}}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type row struct {
	Action   Action
	Pipeline string
	Run      string
	Retire   string
}

func TestCompute(t *testing.T) {
	t.Parallel()
	params := map[string]any{"dataset": "gs://d"}
	train := desire(t, newSchedule(t, "train", params, nil))[0]
	trainOff := desire(t, newSchedule(t, "train", params, func(s *plan.Schedule) { s.Enabled = false }))[0]
	eval := desire(t, newSchedule(t, "eval", params, nil))[0]
	tests := []struct {
		name   string
		want   []Desired
		have   []Existing
		active map[string]int
		prune  bool
		rows   []row
	}{
		{name: "create", want: []Desired{train}, rows: []row{{Create, "train", "", ""}}},
		{name: "unchanged", want: []Desired{train}, have: []Existing{existing(train, "r1", "", true, 1)},
			rows: []row{{Unchanged, "train", "r1", ""}}},
		{name: "replace", want: []Desired{train}, have: []Existing{existing(train, "r1", "old", true, 1)},
			rows: []row{{Replace, "train", "", "r1 delete"}}},
		{name: "replace, old one busy", want: []Desired{train}, have: []Existing{existing(train, "r1", "old", true, 1)}, active: map[string]int{"r1": 2},
			rows: []row{{Replace, "train", "", "r1 keep"}}},
		{name: "enable", want: []Desired{train}, have: []Existing{existing(train, "r1", "", false, 1)},
			rows: []row{{Enable, "train", "r1", ""}}},
		{name: "disable by config", want: []Desired{trainOff}, have: []Existing{existing(train, "r1", "", true, 1)},
			rows: []row{{Disable, "train", "r1", ""}}},
		{name: "removed: disabled", want: nil, have: []Existing{existing(eval, "r2", "", true, 1)},
			rows: []row{{Disable, "eval", "r2", ""}}},
		{name: "removed and disabled: unchanged", have: []Existing{existing(eval, "r2", "", false, 1)},
			rows: []row{{Unchanged, "eval", "r2", ""}}},
		{name: "removed, prune", prune: true, have: []Existing{existing(eval, "r2", "", true, 1)},
			rows: []row{{Delete, "eval", "r2", ""}}},
		{name: "removed, prune, busy", prune: true, have: []Existing{existing(eval, "r2", "", true, 1)}, active: map[string]int{"r2": 1},
			rows: []row{{Disable, "eval", "r2", ""}}},
		{name: "leftover of an earlier replace deleted once idle", want: []Desired{train},
			have: []Existing{existing(train, "r1", "old", false, 1), existing(train, "r2", "", true, 2)},
			rows: []row{{Unchanged, "train", "r2", ""}, {Delete, "train", "r1", ""}}},
		{name: "leftover still busy", want: []Desired{train}, active: map[string]int{"r1": 1},
			have: []Existing{existing(train, "r1", "old", false, 1), existing(train, "r2", "", true, 2)},
			rows: []row{{Unchanged, "train", "r2", ""}, {Unchanged, "train", "r1", ""}}},
		{name: "duplicates: the enabled newest kept", want: []Desired{train},
			have: []Existing{existing(train, "r1", "", true, 1), existing(train, "r3", "", false, 3), existing(train, "r2", "", true, 2)},
			rows: []row{{Unchanged, "train", "r2", ""}, {Delete, "train", "r1", ""}, {Delete, "train", "r3", ""}}},
		{name: "mixed", want: []Desired{train}, prune: false,
			have: []Existing{existing(eval, "r9", "", true, 1), existing(train, "r1", "", true, 1)},
			rows: []row{{Unchanged, "train", "r1", ""}, {Disable, "eval", "r9", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []row
			for _, c := range Compute(tt.want, tt.have, tt.active, tt.prune) {
				r := row{Action: c.Action, Pipeline: c.Pipeline, Run: c.Run.ID}
				for _, x := range c.Retire {
					r.Retire = x.Run.ID + map[bool]string{true: " delete", false: " keep"}[x.Delete]
				}
				got = append(got, r)
			}
			if diff := cmp.Diff(tt.rows, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeAPI records calls; any call it has no answer for fails the test.
type fakeAPI struct {
	t      *testing.T
	mu     sync.Mutex
	calls  []string
	list   []kfp.RecurringRun
	active map[string]int
	next   int
}

func (f *fakeAPI) call(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeAPI) FindPipeline(_ context.Context, name string) (string, error) {
	f.call("FindPipeline " + name)
	return "p1", nil
}
func (f *fakeAPI) UploadPipeline(context.Context, string, string, []byte) (string, string, error) {
	f.t.Error("unexpected UploadPipeline")
	return "", "", errors.New("unexpected")
}
func (f *fakeAPI) FindVersion(_ context.Context, _, name string) (kfp.Version, error) {
	f.call("FindVersion " + name)
	return kfp.Version{}, nil
}
func (f *fakeAPI) UploadVersion(_ context.Context, _, name, _ string, _ []byte) (string, error) {
	f.call("UploadVersion " + name)
	return "v-" + name, nil
}
func (f *fakeAPI) EnsureExperiment(_ context.Context, name string) (string, error) {
	f.call("EnsureExperiment " + name)
	return "e1", nil
}
func (f *fakeAPI) ListRecurringRuns(_ context.Context, sub string) ([]kfp.RecurringRun, error) {
	f.call("ListRecurringRuns")
	if sub != scopeLine+scope.ScopeID() {
		f.t.Errorf("listed by %q", sub)
	}
	return f.list, nil
}
func (f *fakeAPI) ActiveRuns(_ context.Context, r kfp.RecurringRun) ([]kfp.Run, error) {
	f.call("ActiveRuns " + r.ID)
	return make([]kfp.Run, f.active[r.ID]), nil
}
func (f *fakeAPI) CreateRecurringRun(_ context.Context, r kfp.RecurringRunRequest) (kfp.RecurringRun, error) {
	f.next++
	id := fmt.Sprintf("new%d", f.next)
	f.call(fmt.Sprintf("CreateRecurringRun %s %s/%s enabled=%t", r.Name, r.PipelineID, r.VersionID, r.Enabled))
	return recurring(id, r.Description, r.Enabled), nil
}
func (f *fakeAPI) EnableRecurringRun(_ context.Context, id string) error {
	f.call("EnableRecurringRun " + id)
	return nil
}
func (f *fakeAPI) DisableRecurringRun(_ context.Context, id string) error {
	f.call("DisableRecurringRun " + id)
	return nil
}
func (f *fakeAPI) DeleteRecurringRun(_ context.Context, id string) error {
	f.call("DeleteRecurringRun " + id)
	return nil
}

func at(d Desired, id string, enabled bool) kfp.RecurringRun {
	return recurring(id, d.Description, enabled)
}

func recurring(id, description string, enabled bool) kfp.RecurringRun {
	return kfp.RecurringRun{ID: id, RecurringRunRequest: kfp.RecurringRunRequest{Description: description, Enabled: enabled}}
}

// A replace creates the new recurring run (pointing at this commit's
// version) before it disables the old one, and deletes the old one only
// once its runs have ended; unchanged schedules cost only reads.
func TestPlanAndApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	train := desire(t, newSchedule(t, "train", map[string]any{"dataset": "gs://d"}, nil))[0]
	changed := desire(t, newSchedule(t, "train", map[string]any{"dataset": "gs://other"}, nil))[0]
	eval := desire(t, newSchedule(t, "eval", map[string]any{"dataset": "gs://d"}, nil))[0]
	foreign := recurring("x", strings.Replace(train.Description, scope.ScopeID(), "000000000000000000000000", 1), true)

	t.Run("nothing changed: only reads", func(t *testing.T) {
		t.Parallel()
		f := &fakeAPI{t: t, list: []kfp.RecurringRun{at(train, "r1", true), foreign}}
		changes, err := Plan(ctx, f, scope, []Desired{train}, false)
		if err != nil {
			t.Fatal(err)
		}
		if Writes(changes) {
			t.Errorf("plan writes: %+v", changes)
		}
		if err := Apply(ctx, f, changes); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"ListRecurringRuns"}, f.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("replace, then a later sync deletes", func(t *testing.T) {
		t.Parallel()
		f := &fakeAPI{t: t, list: []kfp.RecurringRun{at(train, "r1", true)}, active: map[string]int{"r1": 1}}
		changes, err := Plan(ctx, f, scope, []Desired{changed}, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(ctx, f, changes); err != nil {
			t.Fatal(err)
		}
		want := []string{"ListRecurringRuns", "ActiveRuns r1", "FindPipeline train", "FindVersion abc1234", "UploadVersion abc1234",
			"EnsureExperiment nightly", "CreateRecurringRun train p1/v-abc1234 enabled=true", "DisableRecurringRun r1"}
		if diff := cmp.Diff(want, f.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if !strings.Contains(changes[0].Note, "a later sync deletes") {
			t.Errorf("note %q does not say a later sync finishes", changes[0].Note)
		}
		// Later: r1's run has ended.
		g := &fakeAPI{t: t, list: []kfp.RecurringRun{recurring("r1", train.Description, false), recurring("new1", changed.Description, true)}}
		changes, err = Plan(ctx, g, scope, []Desired{changed}, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(ctx, g, changes); err != nil {
			t.Fatal(err)
		}
		want = []string{"ListRecurringRuns", "ActiveRuns r1", "DeleteRecurringRun r1"}
		if diff := cmp.Diff(want, g.calls); diff != "" {
			t.Errorf("later sync calls (-want +got):\n%s", diff)
		}
	})
	t.Run("removed: disabled, or deleted with prune", func(t *testing.T) {
		t.Parallel()
		for _, prune := range []bool{false, true} {
			f := &fakeAPI{t: t, list: []kfp.RecurringRun{at(train, "r1", true), at(eval, "r2", true)}}
			changes, err := Plan(ctx, f, scope, []Desired{train}, prune)
			if err != nil {
				t.Fatal(err)
			}
			if err := Apply(ctx, f, changes); err != nil {
				t.Fatal(err)
			}
			want := []string{"ListRecurringRuns", "DisableRecurringRun r2"}
			if prune {
				want = []string{"ListRecurringRuns", "ActiveRuns r2", "DisableRecurringRun r2", "DeleteRecurringRun r2"}
			}
			if diff := cmp.Diff(want, f.calls); diff != "" {
				t.Errorf("prune=%t calls (-want +got):\n%s", prune, diff)
			}
		}
	})
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	train := desire(t, newSchedule(t, "train", nil, nil))[0]
	md := Markdown([]Change{{Action: Create, Pipeline: "train", Want: &train}, {Action: Disable, Pipeline: "old|one", Run: kfp.RecurringRun{ID: "r2", RecurringRunRequest: kfp.RecurringRunRequest{Trigger: kfp.Trigger{Interval: 6 * time.Hour}}}, Note: "removed from the config; --prune deletes it"}}, scope, "https://kfp.example.com", true)
	for _, want := range []string{
		"### kf-run schedule sync (dry run: nothing changed)",
		"| train | create | cron 0 0 2 * * * |  |  |",
		"| old\\|one | disable | every 6h | r2 | removed from the config; --prune deletes it |",
		"cronScheduleTimezone",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestCommentMarkdown(t *testing.T) {
	t.Parallel()
	train := desire(t, newSchedule(t, "train", nil, nil))[0]
	md := CommentMarkdown([]Change{{Action: Create, Pipeline: "train", Want: &train}}, scope, "https://kfp.example.com", "abc1234")
	want := "### kf-run schedule sync (dry run: nothing changed)\n\nWhat merging would change (planned at abc1234).\n\nSchedules of "
	if !strings.HasPrefix(md, want) || !strings.Contains(md, "| train | create | cron 0 0 2 * * * |") {
		t.Errorf("comment markdown:\n%s\nwant it to start:\n%s", md, want)
	}
}

// Package schedule makes KFP's recurring runs match the schedules written in
// kf-run.yaml (kf-run schedule sync).
//
// A recurring run belongs to a schedule by a key in its description
// (repository, config path, pipeline entry), never by its display name,
// which KFP does not keep unique. The description also holds a hash of
// everything the schedule was created from (spec, parameters, trigger,
// settings): when the hash matches, nothing is written. KFP has no update,
// so a changed schedule is replaced: the new recurring run is created
// first, then the old one is disabled, and deleted only once none of its
// runs is active (deleting one kills its runs up to KFP 2.15); a later sync
// finishes what waits on active runs.
//
// It does not build images or read the config: plan.Schedules gives it
// the schedules; and it does not trigger runs (KFP's controller does).
package schedule

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/submit"
)

// Scope is what the schedules of one config file share: the repository and
// the config file's path (as given, slash-separated).
type Scope struct {
	Repo   string
	Config string
}

// Lines of a recurring run's description that kf-run writes and reads.
// None holds a LIKE wildcard ('_', '%'), so listing by substring needs no
// escaping (KFP adds no ESCAPE clause, and SQLite has no default one).
const (
	labelLine = "kf-run schedule: "
	scopeLine = "kf-run-scope: "
	keyLine   = "kf-run-key: "
	stateLine = "kf-run-state: "
	// maxDescription is KFP's jobs.Description column: a gorm default
	// string, varchar(255) on MySQL.
	maxDescription = 255
)

// ScopeID is the searchable id of the scope's schedules.
func (s Scope) ScopeID() string { return plan.Digest(12, s.Repo, s.Config) }

// KeyID is the id of the schedule of pipeline entry name.
func (s Scope) KeyID(name string) string { return plan.Digest(12, s.Repo, s.Config, name) }

// Desired is a schedule as the config wants it.
type Desired struct {
	Name     string // the pipeline entry
	KeyID    string
	State    string // hash of everything it is created from
	Schedule *plan.Schedule
	// Description is what the recurring run is created with.
	Description string
}

// Desire computes each schedule's identity and state hash. No I/O.
func Desire(scope Scope, ss []*plan.Schedule) ([]Desired, error) {
	var out []Desired
	for _, s := range ss {
		st, err := State(s)
		if err != nil {
			return nil, err
		}
		d := Desired{Name: s.Pipeline.Name, KeyID: scope.KeyID(s.Pipeline.Name), State: st, Schedule: s}
		d.Description = description(scope, d)
		out = append(out, d)
	}
	return out, nil
}

// State hashes what a recurring run is created from: the exact spec bytes
// uploaded, the parameters, the trigger and the settings. The version's
// name is left out (it changes with every commit; its content is in the
// spec's hash), and so is enabled (changed in place).
func State(s *plan.Schedule) (string, error) {
	pl := s.Pipeline
	yml, err := pl.Spec.YAML()
	if err != nil {
		return "", fmt.Errorf("pipeline %q: encode spec: %w", pl.Name, err)
	}
	spec := sha256.Sum256(yml)
	b, err := json.Marshal(map[string]any{
		"format":          1,
		"spec":            hex.EncodeToString(spec[:]),
		"name":            pl.Name,
		"pipeline":        pl.PipelineName,
		"experiment":      pl.Experiment,
		"parameters":      pl.Parameters,
		"service_account": pl.ServiceAccount,
		"pipeline_root":   pl.PipelineRoot,
		"cron":            s.Cron,
		"interval":        int64(s.Interval / time.Second),
		"start":           stamp(s.Start),
		"end":             stamp(s.End),
		"max_concurrency": s.MaxConcurrency,
		"no_catchup":      s.NoCatchup,
	})
	if err != nil {
		return "", fmt.Errorf("pipeline %q: parameters: %w", pl.Name, err)
	}
	return plan.Digest(16, string(b)), nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// description writes the identity and state lines, and a readable line
// first, cut so the whole fits KFP's column.
func description(scope Scope, d Desired) string {
	tail := "\n" + scopeLine + scope.ScopeID() + "\n" + keyLine + d.KeyID + "\n" + stateLine + d.State
	label := labelLine + strings.TrimSpace(scope.Repo+" "+scope.Config+" "+d.Name)
	if room := maxDescription - len(tail); len(label) > room {
		label = label[:room]
		for !utf8.ValidString(label) {
			label = label[:len(label)-1]
		}
	}
	return label + tail
}

// Existing is a recurring run of the scope at KFP.
type Existing struct {
	Run   kfp.RecurringRun
	Name  string // the pipeline entry, from the readable line (maybe cut)
	KeyID string
	State string
}

// parse reads kf-run's lines from a description; ok is false unless it is
// exactly one of scope's.
func parse(scope Scope, r kfp.RecurringRun) (Existing, bool) {
	e := Existing{Run: r}
	var sc string
	for line := range strings.Lines(r.Description) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, labelLine):
			e.Name = strings.TrimPrefix(line, labelLine)
		case strings.HasPrefix(line, scopeLine):
			sc = strings.TrimPrefix(line, scopeLine)
		case strings.HasPrefix(line, keyLine):
			e.KeyID = strings.TrimPrefix(line, keyLine)
		case strings.HasPrefix(line, stateLine):
			e.State = strings.TrimPrefix(line, stateLine)
		}
	}
	prefix := strings.TrimSpace(scope.Repo+" "+scope.Config) + " "
	e.Name = strings.TrimPrefix(e.Name, prefix)
	return e, sc == scope.ScopeID() && e.KeyID != "" && e.State != ""
}

// Action is what sync does about one recurring run.
type Action string

// The actions, in the order a plan lists them.
const (
	Create    Action = "create"
	Replace   Action = "replace"
	Enable    Action = "enable"
	Disable   Action = "disable"
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
)

// Change is one line of the plan.
type Change struct {
	Action   Action
	Pipeline string
	// Want is the schedule the config wants (nil when the pipeline's
	// schedule left the config).
	Want *Desired
	// Run is the recurring run acted on: the one kept (enable, disable,
	// unchanged) or deleted; for create and replace, the one created.
	Run kfp.RecurringRun
	// Retire are the ones a replace supersedes: each is disabled, and
	// deleted when Delete is set.
	Retire []Retired
	// Active counts the runs of Run still going (delete that waits).
	Active int
	Note   string
	// Written by Apply.
	Err error
}

// Retired is a recurring run a replace supersedes.
type Retired struct {
	Run    kfp.RecurringRun
	Active int
	Delete bool
}

// Compute plans the changes that make have match want. active counts the
// active runs of the recurring runs to delete (by id; missing means none
// known yet: Plan asks before it decides). No I/O.
func Compute(want []Desired, have []Existing, active map[string]int, prune bool) []Change {
	byKey := map[string][]Existing{}
	for _, e := range have {
		byKey[e.KeyID] = append(byKey[e.KeyID], e)
	}
	for k := range byKey {
		// Enabled first, then newest: the one to keep when several match.
		slices.SortStableFunc(byKey[k], func(a, b Existing) int {
			if a.Run.Enabled != b.Run.Enabled {
				if a.Run.Enabled {
					return -1
				}
				return 1
			}
			return b.Run.Created.Compare(a.Run.Created)
		})
	}
	var out []Change
	wanted := map[string]bool{}
	for i := range want {
		w := &want[i]
		wanted[w.KeyID] = true
		group := byKey[w.KeyID]
		keep := slices.IndexFunc(group, func(e Existing) bool { return e.State == w.State })
		var others []Existing
		for j, e := range group {
			if j != keep {
				others = append(others, e)
			}
		}
		if keep < 0 {
			c := Change{Action: Create, Pipeline: w.Name, Want: w}
			for _, o := range others {
				n := active[o.Run.ID]
				c.Retire = append(c.Retire, Retired{Run: o.Run, Active: n, Delete: n == 0})
			}
			if len(others) > 0 {
				c.Action = Replace
				c.Note = retireNote(c.Retire)
			}
			if !w.Schedule.Enabled {
				c.Note = strings.TrimPrefix(c.Note+"; created disabled (enabled: false)", "; ")
			}
			out = append(out, c)
			continue
		}
		k := group[keep].Run
		c := Change{Action: Unchanged, Pipeline: w.Name, Want: w, Run: k}
		switch {
		case w.Schedule.Enabled && !k.Enabled:
			c.Action = Enable
			if !w.Schedule.NoCatchup {
				c.Note = "catchup: true: KFP starts the runs of the slots missed while it was disabled"
			}
		case !w.Schedule.Enabled && k.Enabled:
			c.Action, c.Note = Disable, "enabled: false"
		}
		out = append(out, c)
		for _, o := range others {
			out = append(out, retire(o, active, true, "superseded"))
		}
	}
	for _, k := range sortedKeys(byKey) {
		if wanted[k] {
			continue
		}
		for _, o := range byKey[k] {
			out = append(out, retire(o, active, prune, "removed from the config"))
		}
	}
	return out
}

func sortedKeys(m map[string][]Existing) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[a][0].Name, m[b][0].Name), cmp.Compare(a, b))
	})
	return ks
}

// retire plans what becomes of a recurring run nobody wants any more:
// deleted when allowed and none of its runs is active, else disabled (or
// left disabled) with why.
func retire(o Existing, active map[string]int, del bool, why string) Change {
	c := Change{Pipeline: o.Name, Run: o.Run, Active: active[o.Run.ID]}
	switch {
	case del && c.Active == 0:
		c.Action, c.Note = Delete, why
	case del:
		c.Note = fmt.Sprintf("%s; %s, so it is deleted by a later sync once they end", why, runs(c.Active))
	default:
		c.Note = why + "; --prune deletes it"
	}
	if c.Action == "" {
		c.Action = Unchanged
		if o.Run.Enabled {
			c.Action = Disable
		}
	}
	return c
}

func retireNote(rs []Retired) string {
	var waiting int
	for _, r := range rs {
		if !r.Delete {
			waiting++
		}
	}
	switch {
	case waiting == 0:
		return "new one created, then the old one disabled and deleted"
	default:
		return fmt.Sprintf("new one created, then the old one disabled; %d kept until their active runs end (a later sync deletes them)", waiting)
	}
}

func runs(n int) string {
	if n == 1 {
		return "1 run of it is active"
	}
	return fmt.Sprintf("%d runs of it are active", n)
}

// API is the part of the KFP client sync uses.
type API interface {
	submit.Uploader
	EnsureExperiment(ctx context.Context, name string) (string, error)
	ListRecurringRuns(ctx context.Context, substring string) ([]kfp.RecurringRun, error)
	ActiveRuns(ctx context.Context, r kfp.RecurringRun) ([]kfp.Run, error)
	CreateRecurringRun(ctx context.Context, r kfp.RecurringRunRequest) (kfp.RecurringRun, error)
	EnableRecurringRun(ctx context.Context, id string) error
	DisableRecurringRun(ctx context.Context, id string) error
	DeleteRecurringRun(ctx context.Context, id string) error
}

// Plan reads the scope's recurring runs (every page, each checked by its
// exact lines), asks for the active runs of those it would delete, and
// computes the changes. It only reads.
func Plan(ctx context.Context, api API, scope Scope, want []Desired, prune bool) ([]Change, error) {
	list, err := api.ListRecurringRuns(ctx, scopeLine+scope.ScopeID())
	if err != nil {
		return nil, fmt.Errorf("list recurring runs: %w", err)
	}
	var have []Existing
	for _, r := range list {
		if e, ok := parse(scope, r); ok {
			have = append(have, e)
		}
	}
	first := Compute(want, have, nil, prune)
	active := map[string]int{}
	ask := func(r kfp.RecurringRun) error {
		if _, done := active[r.ID]; done {
			return nil
		}
		got, err := api.ActiveRuns(ctx, r)
		if err != nil {
			return fmt.Errorf("active runs of recurring run %s: %w", r.ID, err)
		}
		active[r.ID] = len(got)
		return nil
	}
	for _, c := range first {
		if c.Action == Delete {
			if err := ask(c.Run); err != nil {
				return nil, err
			}
		}
		for _, r := range c.Retire {
			if err := ask(r.Run); err != nil {
				return nil, err
			}
		}
	}
	if len(active) == 0 {
		return first, nil
	}
	return Compute(want, have, active, prune), nil
}

// Writes reports whether applying changes writes anything.
func Writes(changes []Change) bool {
	return slices.ContainsFunc(changes, func(c Change) bool { return c.Action != Unchanged })
}

// Apply makes the changes, in order, each independent of the others'
// failures (recorded in Change.Err). A create uploads the pipeline version
// of this commit first (submit.Version: reused when it holds the same
// spec), and a replace disables the old recurring run only once the new
// one exists, so no slot is lost.
func Apply(ctx context.Context, api API, changes []Change) error {
	var errs []error
	for i := range changes {
		c := &changes[i]
		if ctx.Err() != nil {
			c.Err = ctx.Err()
		} else {
			c.Err = apply(ctx, api, c)
		}
		if c.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Action, c.Pipeline, c.Err))
		}
	}
	return errors.Join(errs...)
}

func apply(ctx context.Context, api API, c *Change) error {
	switch c.Action {
	case Unchanged:
		return nil
	case Enable:
		return api.EnableRecurringRun(ctx, c.Run.ID)
	case Disable:
		return api.DisableRecurringRun(ctx, c.Run.ID)
	case Delete:
		if c.Run.Enabled {
			// Disabled first: were the delete to fail, it fires no more.
			if err := api.DisableRecurringRun(ctx, c.Run.ID); err != nil {
				return err
			}
		}
		return api.DeleteRecurringRun(ctx, c.Run.ID)
	}
	// Create or replace.
	w := c.Want
	pl := w.Schedule.Pipeline
	var sub plan.Submission
	if err := submit.Version(ctx, api, pl, &sub); err != nil {
		return err
	}
	exp, err := api.EnsureExperiment(ctx, pl.Experiment)
	if err != nil {
		return fmt.Errorf("experiment %q: %w", pl.Experiment, err)
	}
	s := w.Schedule
	made, err := api.CreateRecurringRun(ctx, kfp.RecurringRunRequest{
		Name: pl.Name, Description: w.Description, ExperimentID: exp,
		PipelineID: sub.PipelineID, VersionID: sub.VersionID,
		Parameters: pl.Parameters, PipelineRoot: pl.PipelineRoot, ServiceAccount: pl.ServiceAccount,
		Trigger: s.Trigger, Enabled: s.Enabled,
	})
	if err != nil {
		return fmt.Errorf("create recurring run: %w", err)
	}
	c.Run = made
	if c.Run.VersionID == "" {
		c.Run.PipelineID, c.Run.VersionID = sub.PipelineID, sub.VersionID
	}
	for _, r := range c.Retire {
		if r.Run.Enabled {
			if err := api.DisableRecurringRun(ctx, r.Run.ID); err != nil {
				return fmt.Errorf("disable the replaced recurring run %s: %w", r.Run.ID, err)
			}
		}
		if r.Delete {
			if err := api.DeleteRecurringRun(ctx, r.Run.ID); err != nil {
				return fmt.Errorf("delete the replaced recurring run %s: %w", r.Run.ID, err)
			}
		}
	}
	return nil
}

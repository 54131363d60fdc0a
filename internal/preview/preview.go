// Package preview keeps a pull request's preview runs at KFP. Every preview
// run carries a line in its description naming the pull request and the
// pipeline (plan.PipelinePreview.Line); runs have no labels up to KFP 2.17.
// After a preview run is created, Supersede finds the pipeline's earlier
// runs in the pull request's experiment by that line, terminates those
// that started before it and have not ended, and lists them for the
// report. When the pull request closes, Cleanup terminates its runs that
// are still going, archives its experiment and, when asked, deletes the
// pipeline versions uploaded for it.
//
// It does not plan, submit, wait or report: plan makes the lines, the
// report shows what Supersede found.
package preview

import (
	"context"
	"errors"
	"fmt"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// API is the part of the KFP client Supersede uses.
type API interface {
	Target() kfp.Target
	GetExperiment(ctx context.Context, id string) (kfp.Experiment, error)
	UnarchiveExperiment(ctx context.Context, id string) error
	RunsWith(ctx context.Context, experimentID, substring string) ([]kfp.ListedRun, error)
	TerminateRun(ctx context.Context, id string) error
}

// active reports whether a run can still be terminated: KFP's terminate
// acts on PENDING, RUNNING, PAUSED and unspecified runs only (a CANCELING
// one is being stopped already).
func active(s kfp.RunState) bool {
	return !s.IsTerminal() && s != kfp.StateCanceling
}

// Supersede runs after pl's preview run was created: it unarchives the
// experiment when a cleaned-up pull request was reopened, finds the
// pipeline's other runs in the pull request, and, with supersede on,
// terminates those created up to this run that have not ended (a terminate
// that finds the run ended is done). It writes pl.Preview's Earlier,
// MoreEarlier, ExperimentURL and Reopened, and returns the errors of the
// terminates it could not make: the new run goes on either way.
func Supersede(ctx context.Context, api API, pl *plan.Pipeline) error {
	pv, s := pl.Preview, pl.Submission
	if pv == nil || s == nil || s.RunID == "" {
		return nil
	}
	t := api.Target()
	pv.ExperimentURL = t.ExperimentURL(s.ExperimentID)
	exp, err := api.GetExperiment(ctx, s.ExperimentID)
	if err != nil {
		return fmt.Errorf("experiment %q: %w", s.ExperimentName, err)
	}
	if exp.Archived {
		if err := api.UnarchiveExperiment(ctx, exp.ID); err != nil {
			return fmt.Errorf("unarchive experiment %q: %w", s.ExperimentName, err)
		}
		pv.Reopened = true
	}
	runs, err := api.RunsWith(ctx, s.ExperimentID, pv.Line)
	if err != nil {
		return fmt.Errorf("list the earlier runs of %s in experiment %q: %w", pl.Name, s.ExperimentName, err)
	}
	var own *kfp.ListedRun
	var earlier []kfp.ListedRun
	for i, r := range runs {
		switch {
		case r.ID == s.RunID:
			own = &runs[i]
		case plan.HasLine(r.Description, pv.Line): // LIKE matched: check exactly
			earlier = append(earlier, r)
		}
	}
	var errs []error
	for _, r := range earlier {
		e := plan.EarlierRun{ID: r.ID, Name: r.Name, URL: t.RunURL(r.ID), State: r.State, Created: r.Created}
		// Only runs that started before this one: a later push's run,
		// whose job started first, is not this run's to stop.
		before := own == nil || r.Created.IsZero() || !r.Created.After(own.Created)
		if pv.Supersede && active(r.State) && before {
			if err := api.TerminateRun(ctx, r.ID); err != nil {
				errs = append(errs, fmt.Errorf("terminate earlier run %s of %s: %w", r.ID, pl.Name, err))
			} else {
				e.Superseded = true
			}
		}
		if len(pv.Earlier) < plan.MaxEarlier {
			pv.Earlier = append(pv.Earlier, e)
		} else {
			pv.MoreEarlier++
		}
	}
	return errors.Join(errs...)
}

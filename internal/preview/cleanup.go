package preview

import (
	"context"
	"fmt"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// CleanupAPI is the part of the KFP client Cleanup uses.
type CleanupAPI interface {
	LookupExperiment(ctx context.Context, name string) (kfp.Experiment, error)
	RunsWith(ctx context.Context, experimentID, substring string) ([]kfp.ListedRun, error)
	TerminateRun(ctx context.Context, id string) error
	ArchiveExperiment(ctx context.Context, id string) error
	VersionsWith(ctx context.Context, pipelineID, substring string) ([]kfp.Version, error)
	DeleteVersion(ctx context.Context, pipelineID, versionID string) error
}

// Closed is what Cleanup is asked to tidy up.
type Closed struct {
	// Experiment is the pull request's experiment; Key its runs' preview
	// key (plan.PreviewKey).
	Experiment string
	Key        string
	// DeleteVersions deletes the versions uploaded for the pull request
	// (their description has Key) of the pipelines its runs ran.
	DeleteVersions bool
}

// Cleaned is what Cleanup found and did.
type Cleaned struct {
	// Experiment is the pull request's experiment (ID "" when there is
	// none), as found before Cleanup archived it.
	Experiment kfp.Experiment
	// Runs counts the pull request's preview runs in it.
	Runs int
	// Terminated are the runs it terminated (a run that ended meanwhile
	// counts: terminating it again is harmless).
	Terminated []kfp.ListedRun
	Archived   bool // archived now
	// Deleted are the versions it deleted.
	Deleted []kfp.Version
}

// Changed reports whether Cleanup changed anything at KFP.
func (c Cleaned) Changed() bool {
	return len(c.Terminated) > 0 || c.Archived || len(c.Deleted) > 0
}

// Cleanup terminates the pull request's preview runs that have not ended,
// archives its experiment (KFP archives the runs with it, and does not
// stop running runs: hence terminate first) and, with DeleteVersions,
// deletes the versions uploaded for it. Each step skips what is done
// already, so a second call changes nothing. It stops at the first error,
// returning what it did until then: running it again goes on from there.
func Cleanup(ctx context.Context, api CleanupAPI, c Closed) (Cleaned, error) {
	var out Cleaned
	exp, err := api.LookupExperiment(ctx, c.Experiment)
	if err != nil || exp.ID == "" {
		if err != nil {
			err = fmt.Errorf("find experiment %q: %w", c.Experiment, err)
		}
		return out, err
	}
	out.Experiment = exp
	runs, err := api.RunsWith(ctx, exp.ID, c.Key)
	if err != nil {
		return out, fmt.Errorf("list the runs of experiment %q: %w", c.Experiment, err)
	}
	var mine []kfp.ListedRun
	for _, r := range runs {
		if plan.PreviewOf(r.Description) == c.Key { // LIKE matched: check exactly
			mine = append(mine, r)
		}
	}
	out.Runs = len(mine)
	for _, r := range mine {
		if !active(r.State) {
			continue
		}
		if err := api.TerminateRun(ctx, r.ID); err != nil {
			return out, fmt.Errorf("terminate run %s (%s): %w", r.ID, r.Name, err)
		}
		out.Terminated = append(out.Terminated, r)
	}
	if !exp.Archived {
		if err := api.ArchiveExperiment(ctx, exp.ID); err != nil {
			return out, fmt.Errorf("archive experiment %q: %w", c.Experiment, err)
		}
		out.Archived = true
	}
	if !c.DeleteVersions {
		return out, nil
	}
	// Every version of those pipelines that carries the key: those the
	// runs ran, and any other uploaded for the pull request (the pipeline's
	// first version, one whose run was never created). A version that
	// existed before, or that another pull request uploaded, has no key.
	seen := map[string]bool{}
	for _, r := range mine {
		if r.PipelineID == "" || seen[r.PipelineID] {
			continue // inline, or asked already
		}
		seen[r.PipelineID] = true
		vs, err := api.VersionsWith(ctx, r.PipelineID, c.Key)
		if err != nil {
			return out, fmt.Errorf("list the versions of pipeline %s: %w", r.PipelineID, err)
		}
		for _, v := range vs {
			if plan.PreviewOf(v.Description) != c.Key { // LIKE matched: check exactly
				continue
			}
			if err := api.DeleteVersion(ctx, r.PipelineID, v.ID); err != nil {
				return out, fmt.Errorf("delete pipeline version %q: %w", v.Name, err)
			}
			out.Deleted = append(out.Deleted, v)
		}
	}
	return out, nil
}

package main

import (
	"context"
	"fmt"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/preview"
)

// supersedeAll runs after submit on a pull request's previews: each new
// run's pipeline gets its earlier runs in the pull request listed for the
// report, and those still going terminated (unless supersede: false). A
// failure is a warning: the new run goes on.
func supersedeAll(ctx context.Context, client *kfp.Client, p *plan.Plan, out *console.Console) {
	if p.Preview == nil || ctx.Err() != nil {
		return
	}
	for _, pl := range p.Pipelines {
		if pl.Preview == nil || pl.Submission == nil {
			continue
		}
		err := preview.Supersede(ctx, client, pl)
		if pl.Preview.Reopened {
			out.Printf("%s: experiment %q was archived (pull request #%d cleaned up, then reopened): unarchived", pl.Name, pl.Submission.ExperimentName, p.Preview.PR)
		}
		for _, e := range pl.Preview.Earlier {
			if e.Superseded {
				out.Printf("%s: earlier run %s (%s) of pull request #%d terminated: superseded by run %s", pl.Name, e.ID, e.Name, p.Preview.PR, pl.Submission.RunID)
			}
		}
		if err != nil {
			out.Warningf("supersede "+pl.Name, "%v", err)
		}
	}
}

// noSecretsHint puts why a fork's job has no credentials in front of KFP's
// answer to a request without them (401, a login page), which alone would
// read as a wrong token.
func noSecretsHint(info ci.Info, hint func(*kfp.APIError) string) func(*kfp.APIError) string {
	why := info.NoSecrets()
	if why == "" {
		return hint
	}
	return func(e *kfp.APIError) string {
		h := hint(e)
		if e.Err == nil && (e.HTTPStatus == 401 || e.HTTPStatus == 403 || (e.HTTPStatus >= 300 && e.HTTPStatus < 400) ||
			e.GRPCCode == kfp.CodeUnauthenticated || e.GRPCCode == kfp.CodePermissionDenied) {
			return fmt.Sprintf("Most likely %s. %s", why, h)
		}
		return h
	}
}

// noSecretsNote adds why a fork's job has no secrets to a config error
// about an unset variable (kf-run.yaml's ${KFP_TOKEN}).
func noSecretsNote(err error, info ci.Info) error {
	if why := info.NoSecrets(); why != "" {
		return fmt.Errorf("%w\n%s", err, why)
	}
	return err
}

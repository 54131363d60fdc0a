package main

import (
	"context"
	"errors"

	"github.com/kf-run/kf-run/internal/build"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

// Exit codes, documented in --help, README.md and action.yml.
const (
	exitOK          = 0   // every run succeeded, or was submitted with --no-wait
	exitError       = 1   // tool or infrastructure error (KFP unreachable, API error)
	exitUsage       = 2   // usage or config error: nothing was submitted
	exitRunFailed   = 3   // a run ended FAILED or CANCELED
	exitTimeout     = 4   // the wait timed out
	exitInterrupted = 130 // SIGINT/SIGTERM
)

const exitCodesHelp = `Exit codes:
  0    every run succeeded (or was submitted, with --no-wait)
  1    tool or infrastructure error (KFP unreachable, API error)
  2    usage or config error (or a failed compile: command): nothing was submitted
  3    a run ended FAILED or CANCELED
  4    the wait timed out (the run is terminated when cancel_on_interrupt is on)
  130  interrupted (SIGINT/SIGTERM); the runs are terminated when cancel_on_interrupt is on
When several pipelines run, the first of 130, 2, 1, 3, 4 that applies wins.`

// exitCode maps a finished plan (or the error that stopped it early) to the
// process's exit code. This is the only place that does.
func exitCode(ctx context.Context, p *plan.Plan, err error) int {
	if ctx.Err() != nil {
		return exitInterrupted
	}
	if err != nil {
		return errCode(err)
	}
	code := exitOK
	worse := func(c int) {
		rank := map[int]int{exitOK: 0, exitTimeout: 1, exitRunFailed: 2, exitError: 3, exitUsage: 4}
		if rank[c] > rank[code] {
			code = c
		}
	}
	for _, pl := range p.Pipelines {
		switch o := pl.Outcome; {
		case pl.Err != nil && (o == nil || !o.TimedOut):
			worse(errCode(pl.Err))
		case o == nil:
			// submitted with --no-wait
		case o.TimedOut:
			worse(exitTimeout)
		case !o.State.IsSuccess():
			worse(exitRunFailed)
		}
	}
	return code
}

func errCode(err error) int {
	if errors.Is(err, context.Canceled) {
		return exitInterrupted // a signal stopped a step before the plan (a compile: command)
	}
	var ue *plan.UsageError
	var ce *config.Error
	var se *pipelinespec.Error
	var be *build.ConfigError
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &se) || errors.As(err, &be) {
		return exitUsage
	}
	return exitError
}

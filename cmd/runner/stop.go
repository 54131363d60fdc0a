package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/stop"
)

// stopBudget bounds kf-run stop: every run is asked at once, and a cancelled
// job's after_script has minutes at most (GitLab: 5 by default).
const stopBudget = 30 * time.Second

func stopCommand() command {
	return command{
		name:  "stop",
		usage: "kf-run stop [--config FILE] [--state FILE] [--host URL] [--namespace NS] [--kube-context CTX]",
		about: `Terminates the runs that kf-run run started and that have not ended, as
listed in the state file kf-run run writes the moment each run is created
(--state, else KF_RUN_STATE_FILE, else .kf-run/runs.jsonl in the working
directory). All runs are asked at once, within 30 s. A run that has ended,
or that KFP is already stopping, counts as done; done runs leave the file,
so running kf-run stop again is harmless. It connects with the same settings
as kf-run run (flags, KF_RUN_* env, the config file). Made for a cancelled
CI job: GitLab runs after_script on cancel with CI_JOB_STATUS=canceled.
Runs of a config with cancel_on_interrupt: false are not recorded.`,
		env: append(connectEnv(), "KF_RUN_STATE_FILE"),
		exits: `Exit codes:
  0    nothing recorded is left running (or nothing was recorded)
  1    a run could not be stopped (it stays in the file)
  2    the settings are wrong
  130  interrupted`,
		flags: func() *flag.FlagSet { return new(stopOptions).flagSet() },
		run:   stopCmd,
	}
}

// stopOptions are kf-run stop's flags.
type stopOptions struct {
	c     commonFlags
	state string
}

func (s *stopOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("stop", flag.ContinueOnError)
	fs.StringVar(&s.c.config, "config", "", "config `FILE` (default kf-run.yaml when present)")
	s.c.registerTarget(fs, true)
	fs.StringVar(&s.state, "state", "", "state `FILE` written by kf-run run (env KF_RUN_STATE_FILE, default "+stop.DefaultFile+")")
	return fs
}

// stopCmd wires kf-run stop: state file → connection → stop.Runs → report.
func stopCmd(ctx context.Context, args []string, e env) int {
	var opt stopOptions
	if _, code, ok := stopCommand().parse(opt.flagSet(), args, e, 0); !ok {
		return code
	}
	c := opt.c
	info, _ := ci.FromEnv(ci.Env{Getenv: e.getenv, ReadFile: e.readFile})
	out := console.New(e.stdout, info.Provider, false)
	path := stop.Path(opt.state, info.StatePath)
	runs, err := stop.Load(path)
	if err != nil {
		out.Errorf("kf-run stop", "%v", err)
		return exitError
	}
	if len(runs) == 0 {
		out.Printf("No runs to stop: %s lists none.", path)
		return exitOK
	}

	cfg, err := doctorConfig(c.config, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run stop: %v\n", err)
		return exitUsage
	}
	out.Mask(cfg.Secrets...)
	target, settings, err := plan.Connection(cfg, c.Flags, e.getenv, false)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run stop: %v\n", err)
		return exitUsage
	}
	out.Mask(settings.Secrets()...)
	p := &plan.Plan{Target: target, Auth: settings}
	client, _, err := connect(p, out, e)
	if err != nil {
		out.Errorf("kf-run stop", "%v", err)
		return exitUsage
	}

	sctx, cancel := context.WithTimeout(ctx, stopBudget)
	defer cancel()
	results := stop.Runs(sctx, client, runs, stop.Options{Host: p.Target.Host})
	failed := 0
	for _, r := range results {
		run := r.Run
		switch r.Action {
		case stop.Terminated:
			out.Printf("%s: run %s terminated at KFP (was %s): %s", run.Pipeline, run.RunID, r.State, run.URL)
		case stop.Ended:
			out.Printf("%s: run %s had already ended %s", run.Pipeline, run.RunID, r.State)
		case stop.Stopping:
			out.Printf("%s: run %s is already being stopped (%s)", run.Pipeline, run.RunID, r.State)
		case stop.Gone:
			out.Printf("%s: run %s is not at KFP any more: nothing to stop", run.Pipeline, run.RunID)
		default:
			failed++
			out.Errorf("kf-run stop", "%s: %v", run.Pipeline, r.Err)
		}
	}
	if err := stop.Forget(path, func(r stop.Run) bool {
		for _, res := range results {
			if res.Run.RunID == r.RunID {
				return res.Action.Done()
			}
		}
		return false
	}); err != nil {
		out.Warningf("kf-run stop", "%v", err)
	}
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case failed > 0:
		out.Printf("%d of %d runs could not be stopped; they stay in %s for the next kf-run stop.", failed, len(results), path)
		return exitError
	}
	return exitOK
}

// recordRun writes a submitted run to the state file at once, so that a
// kf-run stop right after (a job cancelled while kf-run submits) finds it.
// Runs that should outlive an interrupt are not recorded.
func recordRun(p *plan.Plan, pl *plan.Pipeline, out *console.Console) {
	if !p.CancelOnInterrupt {
		return
	}
	s := pl.Submission
	err := stop.Record(stop.Path("", p.CI.StatePath), stop.Run{
		RunID: s.RunID, Pipeline: pl.Name, Host: p.Target.Host, Namespace: p.Target.Namespace,
		URL: s.RunURL, Submitted: s.SubmittedAt,
	})
	if err != nil {
		out.Warningf("state file", "%v: kf-run stop will not know this run", err)
	}
}

// forgetEnded drops the runs this invocation saw end, or had terminated,
// from the state file: nothing is left for kf-run stop to do about them.
func forgetEnded(p *plan.Plan, out *console.Console) {
	ended := map[string]bool{}
	for _, pl := range p.Pipelines {
		if pl.Submission != nil && pl.Outcome != nil && (pl.Outcome.State.IsTerminal() || pl.Outcome.Terminated) {
			ended[pl.Submission.RunID] = true
		}
	}
	if !p.CancelOnInterrupt || len(ended) == 0 {
		return
	}
	if err := stop.Forget(stop.Path("", p.CI.StatePath), func(r stop.Run) bool { return ended[r.RunID] }); err != nil {
		out.Warningf("state file", "%v", err)
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/preview"
)

func cleanupCommand() command {
	return command{
		name:  "cleanup",
		usage: "kf-run cleanup [--pr N] [--delete-versions] [--config FILE] [--experiment NAME] [--host URL] [--namespace NS] [--kube-context CTX]",
		about: `Tidies up after a closed pull request (merge request) whose previews
kf-run ran: terminates its preview runs that have not ended, archives its
experiment (preview.experiment, default pr-<N>; KFP archives its runs with
it), and with --delete-versions deletes the pipeline versions uploaded for
its commits: the versions, of the pipelines its runs ran, whose
description carries the pull request's preview line (a version that
existed before, or that another pull request uploaded, is kept). Runs and
versions of the pull request are found by that line in their
description, never by name.

Each step skips what is done already: a second cleanup changes nothing and
says so. It connects with the same settings as kf-run run (flags, KF_RUN_*
env, the config file). The pull request is --pr, else the one of the CI
event (GitHub pull_request or pull_request_target closed; a GitLab merge
request pipeline). Progress goes to stderr, one line of result to stdout.`,
		env: connectEnv(),
		exits: `Exit codes:
  0    the pull request's previews are tidied up (or there was nothing to do)
  1    a KFP call failed (what was done stays done; run it again to go on)
  2    usage or config error: nothing was changed
  130  interrupted`,
		flags: func() *flag.FlagSet { return new(cleanupOptions).flagSet() },
		run:   cleanupCmd,
	}
}

// cleanupOptions are kf-run cleanup's flags.
type cleanupOptions struct {
	c              commonFlags
	pr             int
	deleteVersions bool
}

func (o *cleanupOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	fs.StringVar(&o.c.config, "config", "", "config `FILE` (default kf-run.yaml when present)")
	o.c.registerTarget(fs, true)
	fs.IntVar(&o.pr, "pr", 0, "pull request (merge request IID) `N` (default: the CI event's)")
	fs.StringVar(&o.c.Experiment, "experiment", "", "the pull request's experiment `NAME` (default: preview.experiment, else pr-N)")
	fs.BoolVar(&o.deleteVersions, "delete-versions", false, "also delete the pipeline versions uploaded for the pull request's commits")
	return fs
}

// cleanupCmd wires kf-run cleanup: flags and config → the experiment and
// key of the pull request → preview.Cleanup → what it did.
func cleanupCmd(ctx context.Context, args []string, e env) int {
	var opt cleanupOptions
	if _, code, ok := cleanupCommand().parse(opt.flagSet(), args, e, 0); !ok {
		return code
	}
	c := opt.c
	info, err := ci.FromEnv(ci.Env{Getenv: e.getenv, ReadFile: e.readFile})
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run cleanup: %v\n", err)
		return exitUsage
	}
	out := console.New(e.stderr, info.Provider, false)
	n := opt.pr
	if n == 0 {
		n = info.PR
	}
	if n <= 0 {
		fmt.Fprintf(e.stderr, "kf-run cleanup: which pull request? Give --pr N (this CI event names none)\nRun 'kf-run cleanup --help' for its usage.\n")
		return exitUsage
	}
	cfg, err := doctorConfig(c.config, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run cleanup: %v\n", err)
		return exitUsage
	}
	out.Mask(cfg.Secrets...)
	exp := c.Experiment
	if exp == "" {
		if exp, err = plan.PreviewExperiment(cfg, info, n); err != nil {
			fmt.Fprintf(e.stderr, "kf-run cleanup: %v\n", err)
			return exitUsage
		}
	}
	// The connection as kf-run wait makes it: its secrets (config, auth,
	// the CI token) masked in the log and the result.
	p, err := plan.Follow(plan.Input{Config: cfg, Flags: c.Flags, CI: info, Getenv: e.getenv})
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run cleanup: %v\n", err)
		return exitUsage
	}
	out.Mask(p.Secrets...)
	for _, n := range p.Notes {
		out.Warningf(n.Key, "%s", n.Msg)
	}
	client, _, err := connect(p, out, e)
	if err != nil {
		out.Errorf("kf-run cleanup", "%v", err)
		return exitUsage
	}

	end := out.Group(fmt.Sprintf("Clean up pull request #%d at %s", n, p.Target.Host))
	done, err := preview.Cleanup(ctx, client, preview.Closed{Experiment: exp, Key: plan.PreviewKey(info.Repo, n), DeleteVersions: opt.deleteVersions})
	for _, r := range done.Terminated {
		out.Printf("run %s (%s) terminated (was %s)", r.ID, r.Name, r.State)
	}
	if done.Archived {
		out.Printf("experiment %q archived, with its %d runs", exp, done.Runs)
	}
	for _, v := range done.Deleted {
		out.Printf("pipeline version %q deleted", v.Name)
	}
	end()
	res := console.New(e.stdout, info.Provider, false)
	res.Redact(p.Secrets...)
	if err != nil {
		out.Errorf("kf-run cleanup", "%v", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		res.Printf("pull request #%d: cleanup stopped: %s", n, summary(done, exp))
		return exitError
	}
	switch {
	case done.Experiment.ID == "":
		res.Printf("pull request #%d: nothing to clean up: no experiment %q at %s", n, exp, p.Target.Host)
	case !done.Changed():
		res.Printf("pull request #%d: nothing to clean up: experiment %q is archived, no run of it is running%s", n, exp, versionsNote(opt.deleteVersions))
	default:
		res.Printf("pull request #%d: %s", n, summary(done, exp))
	}
	return exitOK
}

func summary(d preview.Cleaned, exp string) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%d runs terminated", len(d.Terminated)))
	if d.Archived {
		parts = append(parts, fmt.Sprintf("experiment %q archived", exp))
	}
	parts = append(parts, fmt.Sprintf("%d pipeline versions deleted", len(d.Deleted)))
	return strings.Join(parts, ", ")
}

func versionsNote(deleted bool) string {
	if deleted {
		return ", no version of it is left"
	}
	return ""
}

package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

func waitCommand() command {
	return command{
		name:  "wait",
		usage: "kf-run wait RUN_ID... [--timeout D] [--output json] [--config FILE] [--host URL] [--namespace NS]",
		about: `Follows runs that were started elsewhere (kf-run run --no-wait, a
schedule, the KFP UI) to their final state, and reports them as kf-run
run does: progress, failed steps at any depth with their logs, the job
summary, step outputs and the pull request comment, with the same exit
codes. It connects with the same settings as kf-run run (flags, KF_RUN_*
env, the config file when there is one; its pipelines are not read). It
never stops the runs it follows: on a timeout or an interrupt they go on.`,
		env:   append(connectEnv(), reportEnv()...),
		exits: exitCodesHelp,
		flags: func() *flag.FlagSet { return new(waitOptions).flagSet() },
		run:   waitCmd,
	}
}

// waitOptions are kf-run wait's flags.
type waitOptions struct {
	c commonFlags
	o outputFlags
}

func (w *waitOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	c := &w.c
	fs.StringVar(&c.config, "config", "", "config `FILE` for the connection (default kf-run.yaml when present)")
	c.registerTarget(fs, true)
	fs.Var(duration{&c.Timeout}, "timeout", "give up waiting after `DURATION`, e.g. 30m (exit 4)")
	fs.BoolVar(&c.Follow, "follow", false, "print each task's log lines while waiting, prefixed [pipeline/task]")
	fs.BoolVar(&c.NoComment, "no-comment", false, "do not post or update the pull request comment (merge request note on GitLab)")
	fs.StringVar(&c.CommentKey, "comment-key", "", "`KEY` that tells this job's PR comment apart from other legs of a matrix job (or KF_RUN_COMMENT_KEY)")
	fs.StringVar(&c.SummaryFile, "summary-file", "", "also write the markdown report (the GitHub job summary) to `FILE`")
	w.o.register(fs)
	return fs
}

// waitCmd wires kf-run wait: connection → each run's source → wait → report.
func waitCmd(ctx context.Context, args []string, e env) int {
	var opt waitOptions
	ids, code, ok := waitCommand().parse(opt.flagSet(), args, e, -1)
	if !ok {
		return code
	}
	c, o := opt.c, opt.o
	if len(ids) == 0 {
		fmt.Fprintf(e.stderr, "kf-run wait: give the ID of at least one run\nRun 'kf-run wait --help' for its usage.\n")
		return exitUsage
	}
	p, err := followPlan(c, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run wait: %v\n", err)
		o.printError(e.stdout, err, nil)
		return errCode(err)
	}
	client, kube, out, code, ok := open(ctx, p, o, e)
	if !ok {
		return code
	}
	end := out.Group("Find runs at " + p.Target.Host)
	for _, id := range ids {
		pl, err := follow(ctx, client, id, c.Timeout)
		if err != nil {
			end()
			out.Errorf("kf-run wait", "%v", err)
			o.printError(e.stdout, err, p.Secrets)
			return errCode(err)
		}
		out.Printf("%s: run %s (%q) in experiment %q, %s", pl.Name, id, pl.RunName, pl.Submission.ExperimentName, cmp.Or(pl.Submission.RunURL, "no UI link"))
		p.Pipelines = append(p.Pipelines, pl)
	}
	end()
	waitAll(ctx, client, p, out, e.poll, kube)
	return finish(ctx, client, p, out, e, o)
}

// followPlan is makePlan for kf-run wait: the config file is optional.
func followPlan(c commonFlags, e env) (*plan.Plan, error) {
	info, err := ci.FromEnv(ci.Env{Getenv: e.getenv, ReadFile: e.readFile, Git: ci.GitCommand})
	if err != nil {
		return nil, err
	}
	var cfg *config.Config
	path := cmp.Or(c.config, config.DefaultFile)
	if _, err := os.Stat(path); err == nil || c.config != "" {
		if cfg, err = config.Load(path, e.lookupEnv); err != nil {
			return nil, err
		}
	}
	return plan.Follow(plan.Input{Config: cfg, Flags: c.Flags, CI: info, Getenv: e.getenv})
}

// follow makes the plan's pipeline for run id, as if kf-run had submitted
// it: named after its pipeline, with its spec and parameters (for the
// task table and loop items), experiment and version.
func follow(ctx context.Context, client *kfp.Client, id string, timeout time.Duration) (*plan.Pipeline, error) {
	src, err := client.GetRunSource(ctx, id)
	if kfp.IsNotFound(err) {
		return nil, &plan.UsageError{Err: fmt.Errorf("run %s: no such run at %s (is it in another namespace? give --namespace)", id, client.Target().Host)}
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	pl := &plan.Pipeline{Name: src.Name, RunName: src.Name, Parameters: src.Parameters, Timeout: timeout,
		Experiment: src.ExperimentName, PipelineName: src.PipelineName, Version: src.VersionName}
	if src.Spec != nil {
		if spec, err := pipelinespec.Parse("run "+id, src.Spec); err == nil {
			pl.Spec = spec
			pl.Name = cmp.Or(spec.Name, pl.Name)
		}
	}
	pl.Name = cmp.Or(pl.Name, id)
	pl.Submission = &plan.Submission{
		ExperimentID: src.ExperimentID, ExperimentName: src.ExperimentName,
		PipelineID: src.PipelineID, VersionID: src.VersionID, VersionName: src.VersionName, VersionReused: true,
		RunID: id, RunURL: client.Target().RunURL(id), SubmittedAt: src.Created,
	}
	return pl, nil
}

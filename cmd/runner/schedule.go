package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/report"
	"github.com/kf-run/kf-run/internal/schedule"
)

func scheduleCommand() command {
	return command{
		name:  "schedule sync",
		usage: "kf-run schedule sync [--config FILE] [--dry-run] [--prune] [--no-compile] [--summary-file FILE] [--no-comment] [--comment-key KEY]",
		about: `Makes KFP's recurring runs match the schedule: blocks of kf-run.yaml. It
prints a plan (create, replace, enable, disable, delete, unchanged), then
applies it. A recurring run is kf-run's by a key in its description
(repository, config path, pipeline), never by its name; a schedule whose
spec, parameters, trigger and settings are unchanged is not touched, so a
re-run writes nothing. KFP cannot update a recurring run: a changed one is
replaced, the new one created before the old one is disabled, and the old
one deleted once none of its runs is active (a later sync deletes what
waits). Each schedule runs the pipeline version of this commit (uploaded
when created; never KFP's "latest"). A schedule removed from the config is
disabled, or deleted with --prune.

The config is loaded as kf-run run loads it. The pipelines' compile:
commands run first, all of them and on --dry-run too (the plan reads
every spec), so each schedule is planned from the spec this commit
compiles to; --no-compile skips them. A pull request from a fork that
runs with this repository's secrets (pull_request_target; a GitLab merge
request pipeline run in the parent project) is refused before any
compile: command runs, --dry-run included, unless the job's environment
sets KF_RUN_ALLOW_FORKS=true: the fork's config and commands are its
code. On a fork's pull_request, which gets no secrets, an unset ${VAR}
error says so.

Cron times are read in the time zone of the cluster's scheduled-workflow
controller (pipeline-install-config's cronScheduleTimezone, UTC by
default), not per schedule.

The plan also goes to the GitHub job summary (and --summary-file). With
--dry-run on a pull request (GitHub) or merge request (GitLab) it shows what
merging would change, in a comment (MR note) of its own per config file,
updated in place by each push.`,
		env: append(connectEnv(), "GITHUB_TOKEN", "KF_RUN_GITLAB_TOKEN", "KF_RUN_COMMENT_KEY", "KF_RUN_ALLOW_FORKS"),
		exits: `Exit codes:
  0    KFP matches the config (or, with --dry-run, the plan was printed)
  1    a change failed or KFP could not be reached (the others were made; run it again)
  2    usage or config error (or a failed compile: command, a fork's pull
       request refused): nothing was changed
  130  interrupted`,
		flags: func() *flag.FlagSet { return new(scheduleOptions).flagSet() },
		run:   scheduleCmd,
	}
}

// scheduleOptions are kf-run schedule sync's flags.
type scheduleOptions struct {
	c             commonFlags
	dryRun, prune bool
}

func (s *scheduleOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("schedule sync", flag.ContinueOnError)
	c := &s.c
	fs.StringVar(&c.config, "config", "", "config `FILE` (default kf-run.yaml)")
	c.registerTarget(fs, true)
	fs.StringVar(&c.SummaryFile, "summary-file", "", "also write the plan as markdown to `FILE`")
	fs.BoolVar(&s.dryRun, "dry-run", false, "print the plan; upload and change nothing")
	fs.BoolVar(&s.prune, "prune", false, "delete the recurring runs of schedules removed from the config (default: disable them)")
	fs.BoolVar(&c.NoComment, "no-comment", false, "with --dry-run on a pull request: do not post or update the plan's comment (merge request note on GitLab)")
	fs.StringVar(&c.CommentKey, "comment-key", "", "`KEY` that tells this job's plan comment apart from other legs of a matrix job (or KF_RUN_COMMENT_KEY)")
	registerNoCompile(fs, &c.noCompile)
	return fs
}

// scheduleCmd wires kf-run schedule sync: config (loaded and compiled as
// for run) → plan.Schedules → schedule.Plan → print → schedule.Apply →
// report.
func scheduleCmd(ctx context.Context, args []string, e env) int {
	cmd := scheduleCommand()
	if len(args) == 0 || args[0] != "sync" {
		fs := flag.NewFlagSet("schedule", flag.ContinueOnError)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(e.stdout, cmd.help(fs))
			return exitOK
		}
		fmt.Fprintf(e.stderr, "kf-run schedule: want a subcommand: sync\nRun 'kf-run schedule sync --help' for its usage.\n")
		return exitUsage
	}
	var opt scheduleOptions
	if _, code, ok := cmd.parse(opt.flagSet(), args[1:], e, 0); !ok {
		return code
	}
	c := opt.c

	info, cfg, err := loadConfig(ctx, c, e, false)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run schedule: %v\n", err)
		return errCode(err)
	}
	p, scheds, err := plan.Schedules(plan.Input{Config: cfg, Flags: c.Flags, CI: info, Getenv: e.getenv})
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run schedule: %v\n", err)
		return errCode(err)
	}
	out := console.New(e.stderr, p.CI.Provider, e.terminal(e.stderr))
	out.Mask(p.Secrets...)
	scope := schedule.Scope{Repo: p.CI.Repo, Config: configKey(p.CI.Root, cfg.Path)}
	if scope.Repo == "" {
		scope.Repo = "local"
	}
	want, err := schedule.Desire(scope, scheds)
	if err != nil {
		out.Errorf("kf-run schedule", "%v", err)
		return exitError
	}
	client, _, err := connect(p, out, e)
	if err != nil {
		out.Errorf("kf-run schedule", "%v", err)
		return exitUsage
	}

	end := out.Group("Schedules at " + p.Target.Host)
	changes, err := schedule.Plan(ctx, client, scope, want, opt.prune)
	if err != nil {
		end()
		out.Errorf("kf-run schedule", "%v", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitError
	}
	title := "Plan"
	if opt.dryRun {
		title = "Plan (dry run: nothing is uploaded or changed)"
	}
	out.Printf("%s for %s %s:", title, scope.Repo, scope.Config)
	for _, ch := range changes {
		out.Printf("  %s", schedule.Line(ch))
	}
	if len(changes) == 0 {
		out.Printf("  no schedules in the config, and none of its at KFP")
	}
	out.Printf("%s", schedule.TimeZone)
	var applyErr error
	switch {
	case opt.dryRun:
	case !schedule.Writes(changes):
		out.Printf("Nothing to change: KFP matches the config.")
	default:
		applyErr = schedule.Apply(ctx, client, changes)
		out.Printf("Applied:")
		for _, ch := range changes {
			if ch.Action != schedule.Unchanged {
				out.Printf("  %s", schedule.Line(ch))
			}
		}
	}
	end()

	if err := report.ScheduleSummary(p, schedule.Markdown(changes, scope, p.Target.Host, opt.dryRun)); err != nil {
		out.Warningf("report", "%v", err)
	}
	if opt.dryRun {
		publishPlan(ctx, p, scope, schedule.CommentMarkdown(changes, scope, p.Target.Host, p.CI.ShortSHA), out)
	}
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case applyErr != nil:
		out.Errorf("kf-run schedule", "%v", applyErr)
		return exitError
	}
	return exitOK
}

// publishPlan shows a dry run's plan on the pull request (merge request):
// what merging would change.
func publishPlan(ctx context.Context, p *plan.Plan, scope schedule.Scope, md string, out *console.Console) {
	var err error
	switch p.CI.Provider {
	case ci.GitHub:
		err = (&report.GitHub{}).PublishSchedulePlan(ctx, p, scope.Config, md, out)
	case ci.GitLab:
		err = (&report.GitLab{}).PublishSchedulePlan(ctx, p, scope.Config, md, out)
	}
	if err != nil {
		out.Warningf("report", "%v", err)
	}
}

// configKey names the config file in a schedule's key: its path from the
// repository's top directory when it is inside it, so that syncing from
// another directory (--config ../kf-run.yaml) finds the same schedules;
// else the path as given, cleaned.
func configKey(root, path string) string {
	clean := filepath.ToSlash(filepath.Clean(path))
	if root == "" {
		return clean
	}
	real := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}
	rel, err := filepath.Rel(real(root), real(path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return clean
	}
	return filepath.ToSlash(rel)
}

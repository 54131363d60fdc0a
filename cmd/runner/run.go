package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/livelog"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/podlog"
	"github.com/kf-run/kf-run/internal/report"
	"github.com/kf-run/kf-run/internal/submit"
	"github.com/kf-run/kf-run/internal/wait"
	argowatch "github.com/kf-run/kf-run/internal/workflow"
	"k8s.io/client-go/rest"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// env is the process's outside world, injected so tests run in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	lookupEnv      func(string) (string, bool)
	readFile       func(string) ([]byte, error)
	// isTerminal says whether a stream is a terminal (tests: nil, none is).
	isTerminal func(io.Writer) bool
	// poll overrides the wait loop's clock and intervals (tests).
	poll wait.Options
	// kfpOptions overrides the client's retry settings (tests).
	kfpOptions kfp.Options
}

const usageText = `kf-run submits compiled Kubeflow Pipelines from CI, waits for them and reports.

Usage:
  kf-run run [--config FILE] [--pipeline NAME]... [flags]     submit, wait, report
  kf-run run --spec FILE --host URL [--param k=v]... [flags]  the same without a config file
  kf-run wait RUN_ID... [flags]                               follow runs started elsewhere
  kf-run validate [--config FILE | --spec FILE] [--print]     check offline; print the requests
  kf-run doctor [--config FILE] [--host URL]                  check the connection to KFP
  kf-run stop [--config FILE] [--state FILE]                  terminate the runs kf-run run started
  kf-run schedule sync [--config FILE] [--dry-run] [--prune]   make KFP's recurring runs match the config
  kf-run cleanup [--pr N] [--delete-versions]                 tidy up a closed pull request's previews
  kf-run completion bash|zsh|fish                             print a shell completion script
  kf-run version

Run 'kf-run COMMAND --help' for a command's flags, environment and exit codes.
`

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usageText)
		return exitUsage
	}
	switch args[0] {
	case "--version":
		return versionCmd(ctx, args[1:], e)
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usageText+"\nkf-run run and kf-run wait:\n"+exitCodesHelp+"\n")
		return exitOK
	}
	for _, c := range commands() {
		if strings.Fields(c.name)[0] == args[0] {
			return c.run(ctx, args[1:], e)
		}
	}
	fmt.Fprintf(e.stderr, "kf-run: unknown command %q\n\n%s", args[0], usageText)
	return exitUsage
}

// terminal reports whether w is a terminal.
func (e env) terminal(w io.Writer) bool { return e.isTerminal != nil && e.isTerminal(w) }

type commonFlags struct {
	config string
	plan.Flags
	pipelines, params list
	noCompile         bool
}

// registerSelect adds the flags that choose what runs: the config or a
// spec, pipelines, parameters and names.
func (c *commonFlags) registerSelect(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "config `FILE` (default kf-run.yaml when present)")
	fs.Var(&c.pipelines, "pipeline", "run only the pipeline `NAME` of the config (repeatable)")
	fs.StringVar(&c.Spec, "spec", "", "compiled pipeline `FILE` (KFP IR YAML or JSON) to run without a config file")
	fs.StringVar(&c.Experiment, "experiment", "", "experiment `NAME` (created if missing; default Default)")
	fs.StringVar(&c.RunName, "run-name", "", "run `NAME` (default: pipeline, branch or PR, short SHA)")
	fs.Var(&c.params, "param", "pipeline parameter `NAME=VALUE`, read by its declared type (repeatable)")
	registerNoCompile(fs, &c.noCompile)
}

// registerTarget adds the flags that say where KFP is.
func (c *commonFlags) registerTarget(fs *flag.FlagSet, kube bool) {
	fs.StringVar(&c.Host, "host", "", "KFP API `URL`, e.g. https://kubeflow.example.com/pipeline (env KF_RUN_HOST)")
	fs.StringVar(&c.Namespace, "namespace", "", "Kubeflow profile `NAMESPACE` on multi-user Kubeflow (env KF_RUN_NAMESPACE)")
	if kube {
		fs.StringVar(&c.KubeContext, "kube-context", "", "reach KFP through the API server of kubeconfig `CONTEXT` (env KF_RUN_KUBE_CONTEXT)")
	}
}

// makePlan reads the CI facts and the config, and builds the plan.
func makePlan(ctx context.Context, c commonFlags, e env, offline bool) (*plan.Plan, error) {
	info, cfg, err := loadConfig(ctx, c, e, offline)
	if err != nil {
		return nil, err
	}
	c.Flags.Pipelines, c.Flags.Params = c.pipelines, c.params
	return plan.New(plan.Input{Config: cfg, Flags: c.Flags, CI: info, Getenv: e.getenv, Offline: offline})
}

// loadConfig reads the CI facts and the config (--config, else kf-run.yaml;
// none with --spec), then gets the specs ready for plan to read: a fork's
// pull request that has this repository's secrets is refused
// (plan.CheckFork), then the compile: commands run. run, validate and
// schedule sync all load this way, so none reads a stale spec, and a
// secret missing on a fork's pull request says why. offline (validate)
// reads an unset ${VAR} as empty and skips the fork check: it uses no
// secret.
func loadConfig(ctx context.Context, c commonFlags, e env, offline bool) (ci.Info, *config.Config, error) {
	info, err := ci.FromEnv(ci.Env{Getenv: e.getenv, ReadFile: e.readFile, Git: ci.GitCommand})
	if err != nil {
		return info, nil, err
	}
	path := c.config
	if path == "" && c.Spec == "" {
		path = config.DefaultFile
	}
	if path == "" {
		return info, nil, nil
	}
	load := config.Load
	if offline {
		load = config.LoadOffline
	}
	cfg, err := load(path, e.lookupEnv)
	if err != nil {
		return info, nil, noSecretsNote(err, info)
	}
	// Before compile: commands, which are the fork's code too: validate
	// submits nothing, but would run them with the job's secrets all the
	// same.
	if err := plan.CheckFork(info, e.getenv); err != nil {
		switch {
		case !offline:
			return info, nil, err
		case compiles(cfg, c):
			return info, nil, fmt.Errorf("%w (to check the fork's committed specs without running its compile: commands, validate --no-compile)", err)
		}
	}
	if err := compileSpecs(ctx, cfg, c, info, e, offline); err != nil {
		return info, nil, err
	}
	return info, cfg, nil
}

func runCommand() command {
	return command{
		name: "run",
		usage: `kf-run run [--config FILE] [--pipeline NAME]... [flags]
kf-run run --spec FILE --host URL [--param k=v]... [flags]`,
		about: `Builds the ko:// images, submits the pipelines, waits for their runs and
reports: the job summary, the step outputs and one comment on the pull
request (GitHub); sections, a merge request note and a dotenv report
(GitLab). Progress and the report go to stderr; stdout gets the result:
one line per pipeline (name, state, run link), or with --output json one
JSON object.`,
		env:   append(append(connectEnv(), "KO_DOCKER_REPO", "KF_RUN_REGISTRY_USERNAME", "KF_RUN_STATE_FILE", "KF_RUN_ALLOW_FORKS"), reportEnv()...),
		exits: exitCodesHelp,
		flags: func() *flag.FlagSet { return new(runOptions).flagSet() },
		run:   runCmd,
	}
}

// runOptions are kf-run run's flags.
type runOptions struct {
	c commonFlags
	o outputFlags
}

func (r *runOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c := &r.c
	c.registerSelect(fs)
	c.registerTarget(fs, true)
	fs.BoolVar(&c.NoWait, "no-wait", false, "submit, print the run links and exit 0 without waiting")
	fs.Var(duration{&c.Timeout}, "timeout", "give up waiting after `DURATION`, e.g. 30m (exit 4)")
	fs.BoolVar(&c.Follow, "follow", false, "print each task's log lines while waiting, prefixed [pipeline/task] (or follow: true in the config)")
	fs.BoolVar(&c.NoComment, "no-comment", false, "do not post or update the pull request comment (merge request note on GitLab)")
	fs.StringVar(&c.CommentKey, "comment-key", "", "`KEY` that tells this job's PR comment apart from other legs of a matrix job, e.g. the matrix values (or KF_RUN_COMMENT_KEY)")
	fs.StringVar(&c.SummaryFile, "summary-file", "", "also write the markdown report (the GitHub job summary) to `FILE`")
	r.o.register(fs)
	return fs
}

func runCmd(ctx context.Context, args []string, e env) int {
	var opt runOptions
	if _, code, ok := runCommand().parse(opt.flagSet(), args, e, 0); !ok {
		return code
	}
	c, o := opt.c, opt.o
	p, err := makePlan(ctx, c, e, false)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run: %v\n", err)
		o.printError(e.stdout, err, nil)
		return errCode(err)
	}
	client, kube, out, code, ok := open(ctx, p, o, e)
	if !ok {
		return code
	}
	// Build (after connect, whose config errors cost nothing to find): on
	// any error nothing is submitted; the report says why.
	if err := buildAll(ctx, p, out); err != nil {
		for _, pl := range p.Pipelines {
			pl.Err = err
		}
	} else {
		submitAll(ctx, client, p, out)
		supersedeAll(ctx, client, p, out)
		if p.Wait && ctx.Err() == nil && slices.ContainsFunc(p.Pipelines, func(pl *plan.Pipeline) bool { return pl.Submission != nil }) {
			waitAll(ctx, client, p, out, e.poll, kube)
		}
	}
	return finish(ctx, client, p, out, e, o)
}

// open is what run and wait do before their first call to KFP: the log
// (secrets masked first), the plan's notes, the connection and the
// server's healthz. On an error it has said why, on stderr and in the
// result, and returns the exit code.
func open(ctx context.Context, p *plan.Plan, o outputFlags, e env) (*kfp.Client, *rest.Config, *console.Console, int, bool) {
	out := o.console(e, p)
	for _, n := range p.Notes {
		out.Warningf(n.Key, "%s", n.Msg)
	}
	client, conn, err := connect(p, out, e)
	if err != nil {
		out.Errorf("kf-run", "%v", err)
		o.printError(e.stdout, err, p.Secrets)
		return nil, nil, out, exitUsage, false
	}
	if err := checkServer(ctx, client, p, out); err != nil {
		out.Errorf("kf-run", "%v", err)
		o.printError(e.stdout, err, p.Secrets)
		return nil, nil, out, errCode(err), false
	}
	return client, conn.Kube, out, exitOK, true
}

// finish stops what nobody will wait for, publishes the reports, prints
// the result on stdout and returns the exit code. Stopping the runs and
// the report always happen, with a fresh deadline: after a signal all of
// it fits in GitHub's ~10 s before SIGKILL.
func finish(ctx context.Context, client *kfp.Client, p *plan.Plan, out *console.Console, e env, o outputFlags) int {
	budget := time.Minute
	if ctx.Err() != nil {
		budget = 8 * time.Second
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	stopRuns(cctx, client, p, out, ctx.Err() != nil)
	forgetEnded(p, out)
	publish(cctx, p, out, e)
	o.print(e.stdout, p)
	return exitCode(ctx, p, nil)
}

// checkServer reads the server's healthz once, before anything is built or
// sent: its release goes into the report, and multi-user KFP without a
// namespace is a settings error (exit 2, nothing submitted) rather than
// KFP's refusal of the first call. kf-run's calls work on every KFP from
// 2.0 on, so a healthz that fails stops nothing (an unreachable server is
// said by the first submit).
func checkServer(ctx context.Context, client *kfp.Client, p *plan.Plan, out *console.Console) error {
	srv, err := client.Server(ctx)
	switch {
	case err == nil:
		p.Server = srv
		line := "KFP " + srv.String()
		if c := srv.Caveat(); c != "" {
			line += ": " + c
		}
		out.Printf("%s", line)
	case !kfp.IsUnreachable(err):
		out.Printf("KFP release unknown: %v", err)
	}
	if err == nil && srv.MultiUser && p.Target.Namespace == "" {
		return &plan.UsageError{Err: fmt.Errorf("%s is multi-user Kubeflow: set kubeflow.namespace, KF_RUN_NAMESPACE or --namespace to your Kubeflow profile namespace (nothing was submitted)", p.Target.Host)}
	}
	if err != nil || srv.MultiUser {
		if a := auth.HostAdvice(p.Target.Host, p.Target.Namespace, p.Auth.Mode()); a != "" {
			out.Warningf("kubeflow.host", "%s", a)
		}
	}
	return nil
}

func submitAll(ctx context.Context, client *kfp.Client, p *plan.Plan, out *console.Console) {
	end := out.Group("Submit to " + p.Target.Host)
	defer end()
	var unreachable error
	for _, pl := range p.Pipelines {
		if ctx.Err() != nil {
			pl.Err = ctx.Err()
			continue
		}
		if unreachable != nil {
			// The server did not answer the last pipeline: the next
			// would only say so again.
			pl.Err = fmt.Errorf("not tried: KFP could not be reached (see %s)", p.Pipelines[0].Name)
			continue
		}
		s, err := submit.Run(ctx, client, pl, time.Now)
		if err != nil {
			pl.Err = err
			if kfp.IsUnreachable(err) {
				// Said by the report, once per medium, with what to try.
				unreachable = err
				pl.Err = fmt.Errorf("%w (kf-run doctor checks the connection)", err)
				out.Printf("%s: not submitted: KFP could not be reached", pl.Name)
				continue
			}
			// Printed, not annotated: the report annotates each failure once.
			out.Printf("%s: not submitted: %v", pl.Name, err)
			continue
		}
		pl.Submission = s
		recordRun(p, pl, out)
		if s.VersionNote != "" {
			out.Printf("%s: pipeline version %q used instead: %s", pl.Name, s.VersionName, s.VersionNote)
		}
		if s.RunURL != "" {
			out.Printf("%s: run %s submitted in experiment %q: %s", pl.Name, s.RunID, s.ExperimentName, s.RunURL)
		} else {
			out.Printf("%s: run %s submitted in experiment %q", pl.Name, s.RunID, s.ExperimentName)
		}
	}
}

// waitAll waits for every submitted run at once (wait.All): one ListRuns
// a tick, or a watch on the runs' workflows when kf-run can reach the
// cluster (kube), and with --follow the steps' logs.
func waitAll(ctx context.Context, client *kfp.Client, p *plan.Plan, out *console.Console, o wait.Options, kube *rest.Config) {
	end := out.Group("Wait for runs")
	defer end()
	// The release orders the pod names tried for failure logs.
	o.KFPMinor = -1
	if p.Server.Known() && p.Server.Release.Major == 2 {
		o.KFPMinor = p.Server.Release.Minor
	}
	o.OnEvent = func(ev wait.Event) { out.Printf("%s", ev) }
	if o.OnPoll == nil {
		o.OnPoll = func(name string, run kfp.Run, tasks []kfp.Task) {
			done := 0
			for _, t := range tasks {
				if t.State.IsTerminal() {
					done++
				}
			}
			out.Status(fmt.Sprintf("%s: %s, %d/%d tasks done", name, run.State, done, len(tasks)))
		}
	}
	var pls []*plan.Pipeline
	var ids []string
	for _, pl := range p.Pipelines {
		if pl.Submission != nil {
			pls = append(pls, pl)
			ids = append(ids, pl.Submission.RunID)
		}
	}
	ns := p.Target.PodNamespace() // where the runs' pods and workflows are
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if kube != nil {
		o.Watch = watchWorkflows(wctx, kube, ns, ids, out)
	}
	var logs *livelog.Logs
	if p.Follow {
		fo := livelog.Options{Namespace: ns, Poll: client, Minor: o.KFPMinor, Print: out.Tagged,
			Notice: func(m string) { out.Noticef("follow", "%s", m) }}
		if kube != nil {
			if r, err := podlog.New(kube); err == nil {
				fo.Kube = r
			}
		}
		logs = livelog.New(wctx, fo)
		o.DetailEvery = 5 * time.Second // new tasks' logs, when ListRuns has no tasks
		onPoll := o.OnPoll
		o.OnPoll = func(name string, run kfp.Run, tasks []kfp.Task) {
			onPoll(name, run, tasks)
			logs.Update(name, run)
		}
	}
	for i, r := range wait.All(ctx, client, pls, o) {
		pl := pls[i]
		pl.Outcome = r.Outcome
		switch {
		case errors.Is(r.Err, wait.ErrTimeout):
			pl.Err = fmt.Errorf("%s: timed out after %s waiting for run %s", pl.Name, pl.Timeout, pl.Submission.RunID)
		case r.Err != nil && ctx.Err() == nil:
			pl.Err = r.Err
		}
	}
	if logs != nil {
		// The last lines of the steps that just ended, not more.
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		logs.Close(cctx)
		cancel()
	}
}

// watchWorkflows watches the runs' Argo workflows; a watch that cannot be
// had is a notice, and the wait polls KFP instead.
func watchWorkflows(ctx context.Context, kube *rest.Config, ns string, ids []string, out *console.Console) <-chan wait.WatchEvent {
	w, err := argowatch.New(kube, ns)
	if err != nil {
		out.Noticef("workflow watch", "%v: polling KFP instead", err)
		return nil
	}
	ch := make(chan wait.WatchEvent)
	go func() {
		err := w.Watch(ctx, ids, func(ev argowatch.Event) {
			select {
			case ch <- wait.WatchEvent{RunID: ev.RunID, Final: ev.Final, Holding: ev.Holding}:
			case <-ctx.Done():
			}
		})
		if err != nil && ctx.Err() == nil {
			out.Noticef("workflow watch", "%v: polling KFP instead", err)
		}
	}()
	return ch
}

// stopRuns terminates the runs nobody will wait for: after an interrupt or a
// timeout, when cancel_on_interrupt is on. GitHub sends SIGKILL about 10 s
// after the first signal, so this has a short deadline of its own.
func stopRuns(ctx context.Context, client *kfp.Client, p *plan.Plan, out *console.Console, interrupted bool) {
	for _, pl := range p.Pipelines {
		if interrupted && pl.Submission != nil && (pl.Outcome == nil || !pl.Outcome.State.IsTerminal()) {
			if pl.Outcome == nil {
				pl.Outcome = &plan.Outcome{Started: pl.Submission.SubmittedAt}
			}
			pl.Outcome.Interrupted = true
		}
	}
	if !p.CancelOnInterrupt {
		return
	}
	// At most half the budget, all runs at once: one slow terminate must not
	// leave the others running.
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, pl := range p.Pipelines {
		if pl.Submission == nil || (pl.Outcome != nil && pl.Outcome.State.IsTerminal()) {
			continue
		}
		if !interrupted && (pl.Outcome == nil || !pl.Outcome.TimedOut) {
			continue
		}
		if pl.Outcome == nil {
			pl.Outcome = &plan.Outcome{Started: pl.Submission.SubmittedAt}
		}
		wg.Go(func() {
			if err := client.TerminateRun(ctx, pl.Submission.RunID); err != nil {
				out.Warningf("terminate "+pl.Name, "could not terminate run %s: %v", pl.Submission.RunID, err)
				return
			}
			pl.Outcome.Terminated = true
			out.Printf("%s: run %s terminated at KFP", pl.Name, pl.Submission.RunID)
		})
	}
	wg.Wait()
}

func publish(ctx context.Context, p *plan.Plan, out *console.Console, e env) {
	report.Console(out, p)
	switch p.CI.Provider {
	case ci.GitHub:
		gh := &report.GitHub{}
		if err := gh.Publish(ctx, p, out); err != nil {
			out.Warningf("report", "%v", err)
		}
	case ci.GitLab:
		gl := &report.GitLab{}
		if err := gl.Publish(ctx, p, out); err != nil {
			out.Warningf("report", "%v", err)
		}
	}
	if p.SummaryFile != "" {
		if err := os.WriteFile(p.SummaryFile, []byte(report.Summary(p)), 0o644); err != nil {
			out.Warningf("report", "write %s: %v", p.SummaryFile, err)
		}
	}
	if p.CI.DotenvPath != "" {
		if err := os.WriteFile(p.CI.DotenvPath, []byte(report.Dotenv(p)), 0o644); err != nil {
			out.Warningf("report", "write %s: %v", p.CI.DotenvPath, err)
		}
	}
	if p.CI.AnnotationsPath != "" {
		if err := os.WriteFile(p.CI.AnnotationsPath, report.Annotations(p), 0o644); err != nil {
			out.Warningf("report", "write %s: %v", p.CI.AnnotationsPath, err)
		}
	}
}

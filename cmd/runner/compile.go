package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/compile"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/console"
)

// registerNoCompile adds --no-compile to run, validate and schedule sync.
func registerNoCompile(fs *flag.FlagSet, skip *bool) {
	fs.BoolVar(skip, "no-compile", false, "do not run the pipelines' compile: commands; their specs must exist already")
}

// compiles says whether compileSpecs would run a command.
func compiles(cfg *config.Config, c commonFlags) bool {
	jobs, _ := compileJobs(cfg, c)
	return len(jobs) > 0
}

// compileJobs are the compile: commands of the selected pipelines, and the
// line of the first compile: key that gives each command.
func compileJobs(cfg *config.Config, c commonFlags) ([]compile.Job, map[string]int) {
	if cfg == nil || c.noCompile {
		return nil, nil
	}
	var jobs []compile.Job
	line := map[string]int{}
	for _, pl := range cfg.Pipelines {
		if pl.Compile.Value == "" || (len(c.pipelines) > 0 && !slices.Contains(c.pipelines, pl.Name.Value)) {
			continue
		}
		jobs = append(jobs, compile.Job{Pipeline: pl.Name.Value, Command: pl.Compile.Value, Spec: pl.Spec.Value})
		if _, ok := line[pl.Compile.Value]; !ok {
			line[pl.Compile.Value] = pl.Compile.Line
		}
	}
	return jobs, line
}

// compileSpecs runs the compile: commands of the selected pipelines, each
// distinct command once, before plan reads their specs: in the config
// file's directory, with this process's whole environment (the job's), in
// a log group of its own, on stderr with the rest of the progress.
// validate runs them too (compiling is local), and schedule sync.
// A failed command, or a spec it did not write as a pipeline, is a
// *config.Error at the compile: key (exit 2, nothing submitted), after the
// output's tail is shown masked and fenced.
func compileSpecs(ctx context.Context, cfg *config.Config, c commonFlags, info ci.Info, e env, validate bool) error {
	jobs, line := compileJobs(cfg, c)
	if len(jobs) == 0 {
		return nil
	}
	out := console.New(e.stderr, info.Provider, false)
	// The command can print anything of its environment: besides kf-run's
	// own secrets, mask every variable whose name says it is secret.
	environ := os.Environ()
	secrets := append(slices.Clone(cfg.Secrets), info.Token)
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); console.SecretName(k) {
			secrets = append(secrets, v)
		}
	}
	out.Mask(secrets...)
	end := out.Group("Compile pipeline specs")
	defer end()
	o := compile.Options{Dir: filepath.Dir(cfg.Path), Env: environ}
	for _, s := range compile.Steps(jobs) {
		names := strings.Join(s.Pipelines(), ", ")
		out.Printf("%s: sh -c %q", names, s.Command)
		res, err := compile.Run(ctx, s, o)
		if len(res.Tail) > 0 {
			title := "output"
			if res.Truncated {
				title = fmt.Sprintf("output, last %d lines", len(res.Tail))
			}
			out.Untrusted(title, res.Tail)
		}
		var ce *compile.Error
		switch {
		case errors.As(err, &ce):
			msg := err.Error()
			if len(res.Tail) > 0 {
				msg += " (its output is printed above)"
			}
			return &config.Error{File: cfg.Path, Line: line[s.Command], Msg: config.Redact(console.StripControl(msg), secrets)}
		case err != nil:
			return err
		}
		out.Printf("%s: compiled in %s", names, res.Duration.Round(time.Millisecond))
	}
	return nil
}

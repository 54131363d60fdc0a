package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/kf-run/kf-run/internal/build"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/submit"
)

func validateCommand() command {
	return command{
		name:  "validate",
		usage: "kf-run validate [--config FILE | --spec FILE] [--pipeline NAME]... [--param k=v]... [--print]",
		about: `Checks the config, the specs and the parameters without contacting KFP and
without secrets: a ${VAR} that is not set here is reported, not an error
(kf-run run reads it), so lint jobs and pull requests from forks can run it.
With --print it prints, per pipeline, the request kf-run run would send
(as JSON): where, in which experiment, under which run and version names,
with which parameters and which spec. ko:// images are shown unbuilt.

The pipelines' compile: commands run first (--no-compile skips them),
except on a fork's pull request in a job with this repository's secrets
(pull_request_target; a GitLab fork merge request pipeline run in the
parent project): there they are the fork's code, and validate refuses
them unless the job's environment sets KF_RUN_ALLOW_FORKS=true.`,
		env: []string{"KF_RUN_HOST", "KF_RUN_NAMESPACE", "KF_RUN_ALLOW_FORKS"},
		exits: `Exit codes:
  0  the config, the specs and the parameters are fine
  2  they are not: the error says what and where (file:line); or a
     fork's compile: commands were refused`,
		flags: func() *flag.FlagSet { return new(validateOptions).flagSet() },
		run:   validateCmd,
	}
}

// validateOptions are kf-run validate's flags.
type validateOptions struct {
	c     commonFlags
	print bool
}

func (v *validateOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	v.c.registerSelect(fs)
	v.c.registerTarget(fs, false)
	fs.BoolVar(&v.print, "print", false, "print per pipeline the request kf-run run would send, as JSON")
	return fs
}

func validateCmd(ctx context.Context, args []string, e env) int {
	var opt validateOptions
	if _, code, ok := validateCommand().parse(opt.flagSet(), args, e, 0); !ok {
		return code
	}
	c := opt.c
	p, err := makePlan(ctx, c, e, true)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run validate: %v\n", err)
		return errCode(err)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(e.stderr, "warning: %s: %s\n", n.Key, n.Msg)
	}
	if len(p.Unset) > 0 {
		fmt.Fprintf(e.stderr, "not set here, read by kf-run run: %s\n", strings.Join(p.Unset, ", "))
	}
	if opt.print {
		writeJSON(e.stdout, requests(p))
		return exitOK
	}
	for _, pl := range p.Pipelines {
		fmt.Fprintf(e.stdout, "ok  %s  (%s: %d tasks, %d parameters set)\n", pl.Name, pl.Spec.Path, len(pl.Spec.Tasks), len(pl.Parameters))
		for _, ref := range build.Refs(pl.Spec) {
			fmt.Fprintf(e.stdout, "    %s: built and pushed by kf-run run\n", ref)
		}
	}
	return exitOK
}

// request is what kf-run run would send for one pipeline, as validate
// --print shows it.
type request struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	// Host and Namespace say where it would go; empty when not set here.
	Host      string `json:"host,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Experiment is found or created by name; its ID goes into the run.
	Experiment string `json:"experiment"`
	// Upload is the pipeline version the spec goes up as, when one is
	// configured; without it the spec runs inline (in run.pipeline_spec).
	Upload *upload `json:"upload,omitempty"`
	// Run is the body of POST /apis/v2beta1/runs, IDs not yet known shown
	// as <...>. kf-run appends an idempotency token to its description.
	Run any `json:"run"`
}

type upload struct {
	Pipeline string `json:"pipeline"`
	// Version is the version's name; when KFP holds another spec under it,
	// the spec goes up as Version-<content hash>.
	Version string `json:"version"`
	Spec    any    `json:"spec"`
}

// requests lists the requests of a plan, secrets masked.
func requests(p *plan.Plan) any {
	out := []request{}
	for _, pl := range p.Pipelines {
		req := submit.Request(pl)
		req.ExperimentID = fmt.Sprintf("<id of experiment %q>", pl.Experiment)
		r := request{Name: pl.Name, Source: pl.Source, Host: p.Target.Host, Namespace: p.Target.Namespace, Experiment: pl.Experiment}
		if pl.PipelineName != "" {
			version := submit.VersionName(pl)
			req.PipelineID = fmt.Sprintf("<id of pipeline %q>", pl.PipelineName)
			req.VersionID = fmt.Sprintf("<id of version %q>", version)
			r.Upload = &upload{Pipeline: pl.PipelineName, Version: version, Spec: pl.Spec.RunBody()}
		}
		r.Run = req.Body()
		out = append(out, r)
	}
	// Through JSON and back, so every string can be masked.
	b, err := json.Marshal(map[string]any{"pipelines": out})
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // integers stay exact
	dec.Decode(&v)
	return redactJSON(v, p.Secrets)
}

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/report"
)

// outputFlags say what kf-run run and kf-run wait write where, in the
// conventions of gh and kubectl: progress, logs, warnings, errors and the
// human report on stderr; the result on stdout, so a script can capture it.
type outputFlags struct {
	json  bool
	quiet bool
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.Var(outputFormat{&o.json}, "output", "`FORMAT` of the result on stdout: text (a line per pipeline: name, state, run link) or json")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr: only warnings, errors and the result")
}

// outputFormat is the --output flag: text or json.
type outputFormat struct{ json *bool }

func (f outputFormat) String() string {
	if f.json != nil && *f.json {
		return "json"
	}
	return "text"
}

// values are the formats, for shell completion.
func (outputFormat) values() []string { return []string{"text", "json"} }

func (f outputFormat) Set(s string) error {
	switch s {
	case "text":
		*f.json = false
	case "json":
		*f.json = true
	default:
		return fmt.Errorf("want text or json")
	}
	return nil
}

// console is the log of a plan: on stderr, with the plan's secrets masked
// before anything else is written.
func (o outputFlags) console(e env, p *plan.Plan) *console.Console {
	out := console.New(e.stderr, p.CI.Provider, e.terminal(e.stderr))
	if o.quiet {
		out.Quiet()
	}
	out.Mask(p.Secrets...)
	return out
}

// print writes the result of a finished plan on w (stdout).
func (o outputFlags) print(w io.Writer, p *plan.Plan) {
	r := report.NewResult(p)
	if o.json {
		writeJSON(w, r)
		return
	}
	// Through a console of its own: a name from the spec that looks like a
	// workflow command is fenced, not run, and secrets are masked (without
	// announcing them again: stderr did).
	res := console.New(w, p.CI.Provider, false)
	res.Redact(p.Secrets...)
	for _, pl := range r.Pipelines {
		where := pl.RunURL
		if where == "" {
			where = pl.RunID
		}
		res.Printf("%s", strings.TrimRight(strings.Join([]string{pl.Name, pl.State, where}, "\t"), "\t"))
	}
}

// printError writes the result of an invocation that stopped before any
// pipeline ran: nothing in text mode (stderr says why), an object with the
// error in JSON mode, so a script always gets JSON to read.
func (o outputFlags) printError(w io.Writer, err error, secrets []string) {
	if !o.json {
		return
	}
	writeJSON(w, report.Result{State: report.StateNotSubmitted, Pipelines: []report.PipelineResult{}, Error: config.Redact(err.Error(), secrets)})
}

// writeJSON writes v as indented JSON. No line of it can be a GitHub
// workflow command: each starts with a space, a brace or a bracket, and
// the runner's legacy "##[" (found anywhere in a line) is written with an
// escaped #, which is the same JSON.
func writeJSON(w io.Writer, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	b = bytes.ReplaceAll(b, []byte("##["), []byte(`#\u0023[`))
	w.Write(append(b, '\n')) // a write error on stdout has nowhere to be said
}

// redactJSON returns v, made of JSON values (maps, slices, strings,
// numbers), with every string that holds a secret masked.
func redactJSON(v any, secrets []string) any {
	r := config.Redact
	switch v := v.(type) {
	case string:
		return r(v, secrets)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[r(k, secrets)] = redactJSON(x, secrets)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactJSON(x, secrets)
		}
		return out
	}
	return v
}

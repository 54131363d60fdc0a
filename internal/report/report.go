// Package report renders a Plan's results for people and machines: the
// console summary at the end of the log, the GitHub job summary, step
// outputs and sticky PR comment, GitLab's MR note, dotenv report and
// annotations report (run links on the job page). It reads the
// plan and never changes it; it does not submit, wait or decide the exit
// code. All text from KFP and the spec is treated as untrusted: escaped in
// markdown, fenced in the log, and the plan's secrets are never written.
package report

import (
	"fmt"
	"strings"

	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// maxErrors bounds the error annotations Console writes: GitHub shows ten
// per step and the first ones matter.
const maxErrors = 5

// Console writes the final human summary to the log: one block per
// pipeline with state, run link, duration and task lines, failed tasks'
// log tails fenced as untrusted text, and an error annotation for each
// pipeline that did not succeed (at most a few).
func Console(c *console.Console, p *plan.Plan) {
	c.Mask(secretValues(p)...)
	c.Status("") // the summary replaces the live status line
	errs := 0
	for _, pl := range p.Pipelines {
		c.Printf("%s: %s", pl.Name, status(p, pl))
		if s := pl.Submission; s != nil {
			if s.RunURL != "" {
				c.Printf("  run: %s", s.RunURL)
			} else if s.RunID != "" {
				c.Printf("  run: %s", s.RunID) // no UI address: connect said so once
			}
			if s.VersionName != "" {
				how := "new"
				if s.VersionReused {
					how = "reused"
				}
				if s.VersionNote != "" {
					how += "; " + s.VersionNote
				}
				c.Printf("  experiment: %s, pipeline version: %s (%s)", s.ExperimentName, s.VersionName, how)
			} else if s.ExperimentName != "" {
				c.Printf("  experiment: %s", s.ExperimentName)
			}
		}
		if pl.Err != nil {
			c.Printf("  error: %s", brief(pl.Err.Error(), errorLines, maxError))
		}
		r := newRenderer(p, pl)
		if pl.Outcome == nil {
			r.rows = nil // nothing known about the tasks
		}
		width := 0
		for _, row := range r.rows {
			width = max(width, len(row.name))
		}
		for _, row := range r.rows {
			state, dur, msg := "-", "", ""
			if t := row.task; t != nil {
				state = taskState(t.State)
				if d := t.Duration(); d > 0 {
					dur = duration(d)
				}
				msg = strings.Join(strings.Fields(t.Message), " ")
			}
			c.Printf("%s", strings.TrimRight(fmt.Sprintf("  %-*s  %-11s %-7s %s", width, row.name, state, dur, cut(msg, maxMessage)), " "))
		}
		if o := pl.Outcome; o != nil {
			for _, f := range o.Failures {
				name := f.PathString()
				if f.Driver {
					name += " (driver)"
				}
				msg := strings.Join(strings.Fields(strings.Join(append(append([]string(nil), f.Items...), f.Message), " ")), " ")
				c.Printf("%s", strings.TrimRight(fmt.Sprintf("  failed: %s  %s", name, cut(msg, maxMessage)), " "))
				switch {
				case len(f.Log) > 0:
					c.Untrusted(fmt.Sprintf("%s: log of %s (from %s)", pl.Name, name, f.LogSource), f.Log)
				case f.NoLog != "":
					c.Printf("  no log of %s: %s", name, f.NoLog)
				}
			}
			if o.MoreFailures > 0 {
				c.Printf("  %d more failed steps: see the run", o.MoreFailures)
			}
		}
		if failed(p, pl) {
			if errs < maxErrors {
				c.Errorf("kf-run: "+pl.Name, "%s", annotation(p, pl, r))
			}
			errs++
		}
	}
	if errs > maxErrors {
		c.Printf("%d more pipelines did not succeed", errs-maxErrors)
	}
}

// failed reports whether pl ended in a way the job should flag.
func failed(p *plan.Plan, pl *plan.Pipeline) bool {
	switch {
	case pl.Err != nil:
		return true
	case pl.Submission == nil:
		return false
	case pl.Outcome == nil:
		return p.Wait
	}
	return pl.Outcome.TimedOut || !pl.Outcome.State.IsSuccess()
}

// status is the headline in words with the duration, "FAILED in 3m".
func status(p *plan.Plan, pl *plan.Pipeline) string {
	_, what := headline(p, pl)
	if d := pl.Outcome.Duration(); d > 0 {
		what += " " + duration(d)
	}
	return what
}

// annotation names the pipeline, its state and the first failed tasks.
func annotation(p *plan.Plan, pl *plan.Pipeline, r *renderer) string {
	const maxTasks = 3
	var b strings.Builder
	b.WriteString("pipeline " + pl.Name + ": " + status(p, pl))
	// The failed steps at any depth name what failed; the root tasks only
	// when triage found none.
	type failedStep struct{ name, msg string }
	var steps []failedStep
	if o := pl.Outcome; o != nil {
		for _, f := range o.Failures {
			steps = append(steps, failedStep{f.PathString(), f.Message})
		}
	}
	if len(steps) == 0 {
		for _, row := range r.rows {
			if t := row.task; t != nil && t.State == kfp.StateFailed {
				steps = append(steps, failedStep{row.name, t.Message})
			}
		}
	}
	for n, s := range steps {
		if n == maxTasks {
			b.WriteString("; more failed tasks")
			break
		}
		b.WriteString("; task " + s.name + " FAILED")
		if m := strings.Join(strings.Fields(s.msg), " "); m != "" {
			b.WriteString(": " + cut(m, maxMessage))
		}
	}
	if pl.Err != nil {
		b.WriteString("\n" + brief(pl.Err.Error(), 4, 1000))
	}
	if pl.Submission != nil && pl.Submission.RunURL != "" {
		b.WriteString("\n" + pl.Submission.RunURL)
	}
	return b.String()
}

package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/config"
)

// Trigger says when a schedule fires, as KFP is given it.
func Trigger(c Change) string {
	if c.Want == nil {
		if c.Run.Cron != "" {
			return "cron " + c.Run.Cron
		}
		return "every " + interval(c.Run.Interval)
	}
	s := c.Want.Schedule
	t := "cron " + s.Cron
	if s.Cron == "" {
		t = "every " + interval(s.Interval)
	}
	if !s.Start.IsZero() {
		t += ", from " + s.Start.UTC().Format(time.RFC3339)
	}
	if !s.End.IsZero() {
		t += ", until " + s.End.UTC().Format(time.RFC3339)
	}
	if s.MaxConcurrency > 1 {
		t += fmt.Sprintf(", up to %d runs at once", s.MaxConcurrency)
	}
	if !s.NoCatchup {
		t += ", catch-up on"
	}
	if !s.Enabled {
		t += ", disabled"
	}
	return t
}

// interval writes 6h rather than 6h0m0s.
func interval(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Line is a change as one log line.
func Line(c Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s  %s: %s", c.Action, c.Pipeline, Trigger(c))
	if c.Run.ID != "" {
		fmt.Fprintf(&b, " (recurring run %s)", c.Run.ID)
	}
	for _, r := range c.Retire {
		fmt.Fprintf(&b, " replacing %s", r.Run.ID)
	}
	if c.Note != "" {
		b.WriteString(": " + c.Note)
	}
	if c.Err != nil {
		fmt.Fprintf(&b, ": FAILED: %v", c.Err)
	}
	return b.String()
}

// TimeZone is said with every plan: KFP has no time zone per schedule.
const TimeZone = "Cron times are read in the cluster's time zone, not yours: " + config.TimeZoneNote + "."

// Markdown is the plan as the job summary shows it. dryRun says nothing
// was written (on a pull request: what merging would change).
func Markdown(changes []Change, scope Scope, host string, dryRun bool) string {
	var b strings.Builder
	title := "kf-run schedule sync"
	if dryRun {
		title += " (dry run: nothing changed)"
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	fmt.Fprintf(&b, "Schedules of `%s` in %s at %s.\n\n", md(scope.Config), md(scope.Repo), md(host))
	if len(changes) == 0 {
		b.WriteString("No schedules in the config, and none at KFP.\n")
	} else {
		b.WriteString("| pipeline | action | schedule | recurring run | note |\n|---|---|---|---|---|\n")
		for _, c := range changes {
			note := c.Note
			if c.Err != nil {
				note = strings.TrimPrefix(note+"; FAILED: "+c.Err.Error(), "; ")
			}
			id := c.Run.ID
			for _, r := range c.Retire {
				id = strings.TrimPrefix(id+", replaces "+r.Run.ID, ", ")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(c.Pipeline), c.Action, cell(Trigger(c)), cell(id), cell(note))
		}
	}
	b.WriteString("\n" + TimeZone + "\n")
	return b.String()
}

// CommentMarkdown is the plan of a dry run on a pull request, as its
// sticky comment shows it: what merging would change, and at which commit
// it was planned (the comment is updated in place by each push).
func CommentMarkdown(changes []Change, scope Scope, host, commit string) string {
	s := Markdown(changes, scope, host, true)
	what := "What merging would change"
	if commit != "" {
		what += " (planned at " + md(commit) + ")"
	}
	title, rest, _ := strings.Cut(s, "\n\n")
	return title + "\n\n" + what + ".\n\n" + rest
}

// cell keeps a value inside its table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return md(s)
}

// md keeps remote or configured text from being read as markup.
func md(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "`", "'")
	return r.Replace(s)
}

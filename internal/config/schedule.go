package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Schedule is a pipeline's schedule: block, the recurring run that
// `kf-run schedule sync` keeps at KFP. Exactly one of cron and every is set.
type Schedule struct {
	Line  int            `yaml:"-"`
	Lines map[string]int `yaml:"-"`

	// Cron is a standard 5-field cron (minute first), or KFP's own 6-field
	// form (seconds first), or a descriptor (@daily, @every 1h).
	Cron Text `yaml:"cron"`
	// Every is a Go duration (6h, 90m): a periodic schedule.
	Every Text `yaml:"every"`
	// MaxConcurrency is how many of its runs may run at once (1 to 10,
	// default 1).
	MaxConcurrency *int `yaml:"max_concurrency"`
	// Catchup runs the slots missed while the schedule was disabled or
	// before it was created (KFP's default; kf-run's default is false).
	Catchup *bool `yaml:"catchup"`
	// Start and End bound the schedule: RFC 3339 times or dates (UTC).
	Start Text `yaml:"start"`
	End   Text `yaml:"end"`
	// Enabled is false to keep the schedule at KFP, disabled (default true).
	Enabled *bool `yaml:"enabled"`
	// Parameters and Pod apply to the scheduled runs, over the pipeline's.
	Parameters map[string]Value `yaml:"parameters"`
	Pod        *Pod             `yaml:"pod"`

	// Set by the check: what KFP is sent.
	KFPCron   string        `yaml:"-"` // 6 fields, seconds first, or a descriptor
	Interval  time.Duration `yaml:"-"` // every
	StartTime time.Time     `yaml:"-"`
	EndTime   time.Time     `yaml:"-"`
}

// UnmarshalYAML decodes the block and records its lines.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	type plain Schedule
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.Line, s.Lines = n.Line, map[string]int{}
	lines(n, "", s.Lines)
	return nil
}

// MaxRuns is max_concurrency with its default.
func (s *Schedule) MaxRuns() int {
	if s.MaxConcurrency == nil {
		return 1
	}
	return *s.MaxConcurrency
}

// IsEnabled is enabled with its default.
func (s *Schedule) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// NoCatchup is KFP's no_catchup: true unless catchup: true.
func (s *Schedule) NoCatchup() bool { return s.Catchup == nil || !*s.Catchup }

// TimeZoneNote says whose time zone a KFP cron is read in.
const TimeZoneNote = "KFP reads every schedule in the time zone of the cluster's scheduled-workflow controller " +
	"(pipeline-install-config's cronScheduleTimezone, UTC by default), one for the whole cluster"

// kfpParser reads cron as KFP does: KFP (2.0 to 2.17) validates with
// robfig/cron v1.2.0's cron.Parse, which is this parser (v1.2.0
// parser.go: Second | Minute | Hour | Dom | Month | DowOptional |
// Descriptor). v3 adds only the CRON_TZ=/TZ= prefix, refused before.
var kfpParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.DowOptional | cron.Descriptor)

// KFPCron converts a cron expression as written in kf-run.yaml to the
// form KFP's controller reads: a standard 5-field cron (minute first)
// gets a seconds field of 0 in front ("0 2 * * *" → "0 0 2 * * *"; KFP
// would read the 5 fields as seconds first and fire at minute 2 of every
// hour); 6 fields (seconds first) and descriptors (@daily, @every 1h) are
// kept. The result is checked with KFP's parser.
func KFPCron(expr string) (string, error) {
	expr = strings.TrimSpace(expr)
	upper := strings.ToUpper(expr)
	if strings.HasPrefix(upper, "CRON_TZ=") || strings.HasPrefix(upper, "TZ=") {
		return "", fmt.Errorf("%q: KFP has no per-schedule time zone (CRON_TZ=, TZ=): %s; write the cron in that time zone", expr, TimeZoneNote)
	}
	var out string
	if strings.HasPrefix(expr, "@") {
		out = strings.Join(strings.Fields(expr), " ")
	} else {
		fields := strings.Fields(expr)
		switch len(fields) {
		case 5:
			out = "0 " + strings.Join(fields, " ")
		case 6:
			out = strings.Join(fields, " ")
		default:
			return "", fmt.Errorf("%q has %d fields: write 5 (minute hour day-of-month month day-of-week) or 6 (seconds first, as KFP reads it)", expr, len(fields))
		}
	}
	if _, err := kfpParser.Parse(out); err != nil {
		return "", fmt.Errorf("%q: %v", expr, err)
	}
	return out, nil
}

// check validates the block and fills in what KFP is sent. bad reports
// an error at a line; where names the block ("pipelines[0].schedule").
func (s *Schedule) check(where string, bad func(line int, format string, a ...any)) {
	line := func(key string) int {
		if l := s.Lines[key]; l > 0 {
			return l
		}
		return s.Line
	}
	switch {
	case s.Cron.Value != "" && s.Every.Value != "":
		bad(s.Every.Line, "%s: cron and every exclude each other: keep one", where)
	case s.Cron.Value == "" && s.Every.Value == "":
		bad(s.Line, "%s: set cron (e.g. \"0 3 * * *\") or every (e.g. 6h)", where)
	case s.Cron.Value != "":
		c, err := KFPCron(s.Cron.Value)
		if err != nil {
			bad(s.Cron.Line, "%s.cron: %v", where, err)
		}
		s.KFPCron = c
	default:
		d, err := time.ParseDuration(s.Every.Value)
		switch {
		case err != nil:
			bad(s.Every.Line, "%s.every: %q is not a duration (use e.g. 30m, 6h, 24h)", where, s.Every.Value)
		case d < time.Second || d%time.Second != 0:
			bad(s.Every.Line, "%s.every: %s: KFP counts whole seconds, at least 1s", where, s.Every.Value)
		}
		s.Interval = d
	}
	if n := s.MaxRuns(); n < 1 || n > 10 {
		bad(line("max_concurrency"), "%s.max_concurrency: %d: KFP takes 1 to 10", where, n)
	}
	var err error
	if s.StartTime, err = scheduleTime(s.Start.Value); err != nil {
		bad(s.Start.Line, "%s.start: %v", where, err)
	}
	if s.EndTime, err = scheduleTime(s.End.Value); err != nil {
		bad(s.End.Line, "%s.end: %v", where, err)
	}
	if !s.StartTime.IsZero() && !s.EndTime.IsZero() && !s.EndTime.After(s.StartTime) {
		bad(s.End.Line, "%s.end: %s is not after start %s", where, s.End.Value, s.Start.Value)
	}
	if s.Pod != nil {
		for name, t := range s.Pod.Tasks {
			if t != nil && len(t.Tasks) > 0 {
				bad(t.Lines["tasks"], "tasks: inside tasks.%s: task overrides do not nest", name)
			}
		}
	}
}

// scheduleTime reads an RFC 3339 time, or a date (midnight UTC).
func scheduleTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2025-01-31T02:00:00Z) or a date (2025-01-31)", v)
}

package plan

import (
	"errors"
	"fmt"
	"maps"

	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/podspec"
)

// Schedule is one pipeline's schedule: the recurring run that kf-run
// schedule sync keeps at KFP.
type Schedule struct {
	// Pipeline is the entry as its scheduled runs run it: the schedule's
	// parameters over the pipeline's, its pod settings over the
	// pipeline's (in Spec), and the version to upload for this commit.
	Pipeline *Pipeline
	// Trigger's Cron is KFP's 6 fields, seconds first, or a descriptor.
	kfp.Trigger
	Enabled bool
}

// Schedules plans the schedules of the config: the pipelines with a
// schedule: block, each as its scheduled runs will run it. p is the plan
// of the whole config (connection, CI facts, secrets). No network I/O.
func Schedules(in Input) (p *Plan, out []*Schedule, err error) {
	if in.Config == nil {
		return nil, nil, &UsageError{Err: errors.New("kf-run schedule needs a config file (--config, default kf-run.yaml): schedules are kept as code")}
	}
	if p, err = New(in); err != nil {
		return p, nil, err
	}
	defer func() {
		if err != nil {
			err = &UsageError{Err: err, Secrets: p.Secrets}
		}
	}()
	cfg := in.Config
	var errs []error
	for i, e := range cfg.Pipelines {
		s := e.Schedule
		if s == nil {
			continue
		}
		where := fmt.Sprintf("pipelines[%d].schedule", i)
		if e.Version.Value == "" {
			errs = append(errs, &config.Error{File: cfg.Path, Line: s.Line, Msg: fmt.Sprintf(
				"%s: a schedule runs a pipeline version uploaded by kf-run, never KFP's \"latest\": set version (e.g. \"{{ .Git.ShortSHA }}\") on pipeline %q", where, e.Name.Value)})
			continue
		}
		e.Parameters = maps.Clone(e.Parameters)
		if e.Parameters == nil {
			e.Parameters = map[string]config.Value{}
		}
		maps.Copy(e.Parameters, s.Parameters)
		pl, err := pipeline(cfg, e, Flags{}, in.CI, nil, map[string]bool{}, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.Pod != nil {
			if pl.Spec, err = podspec.Apply(pl.Spec, podLevel(s.Pod, where+".pod")); err != nil {
				errs = append(errs, configErrors(cfg.Path, err))
				continue
			}
		}
		out = append(out, &Schedule{Pipeline: pl, Enabled: s.IsEnabled(), Trigger: kfp.Trigger{
			Cron: s.KFPCron, Interval: s.Interval, Start: s.StartTime, End: s.EndTime,
			MaxConcurrency: s.MaxRuns(), NoCatchup: s.NoCatchup(),
		}})
	}
	return p, out, errors.Join(errs...)
}

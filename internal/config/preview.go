package config

import (
	"text/template"
)

// Preview is the top-level preview: block. With it, kf-run run on a pull
// request (GitHub's pull_request events, a GitLab merge request pipeline)
// runs previews: every run goes into one experiment per pull request,
// named after its head commit, with the preview parameters; a newer run
// of a pipeline terminates the older runs of that pipeline in the pull
// request that are still going (supersede); kf-run cleanup tidies up when
// it closes. `preview: {}` turns this on with the defaults.
type Preview struct {
	// Experiment is the pull request's experiment, a template (default
	// "pr-{{ .PR.Number }}"). One per pull request, not per pipeline:
	// kf-run cleanup archives it as a whole.
	Experiment Text `yaml:"experiment"`
	// RunName names preview runs, over the pipelines' run_name.
	RunName Text `yaml:"run_name"`
	// Parameters apply to the preview runs of every pipeline that declares
	// them, over the pipeline's parameters.
	Parameters map[string]Value `yaml:"parameters"`
	// Supersede terminates, when a preview run starts, the runs of the
	// same pipeline in the same pull request that started before it and
	// have not ended (default true).
	Supersede *bool `yaml:"supersede"`
}

// PipelinePreview is a pipeline's preview: block, over the top-level one.
type PipelinePreview struct {
	RunName    Text             `yaml:"run_name"`
	Parameters map[string]Value `yaml:"parameters"`
	Supersede  *bool            `yaml:"supersede"`
}

// DefaultPreviewExperiment is the experiment of a pull request's previews.
const DefaultPreviewExperiment = "pr-{{ .PR.Number }}"

// Previews reports whether the config asks for preview runs on pull
// requests: a preview: block at the top or on any pipeline.
func (c *Config) Previews() bool {
	if c.Preview != nil {
		return true
	}
	for _, p := range c.Pipelines {
		if p.Preview != nil {
			return true
		}
	}
	return false
}

// checkPreview checks the templates of the preview blocks.
func (c *Config) checkPreview(bad func(line int, format string, a ...any)) {
	var ts []Text
	if pv := c.Preview; pv != nil {
		ts = append(ts, pv.Experiment, pv.RunName)
	}
	for _, p := range c.Pipelines {
		if p.Preview != nil {
			ts = append(ts, p.Preview.RunName)
		}
	}
	for _, t := range ts {
		if _, err := template.New("").Option("missingkey=error").Parse(t.Value); err != nil {
			bad(t.Line, "bad template %q: %v", t.Value, err)
		}
	}
}

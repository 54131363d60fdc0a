package plan

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/podspec"
)

// applyPod applies defaults.pod and the entry's pod: (and caching) to spec.
// Errors are *config.Error at the setting's line.
func applyPod(cfg *config.Config, e config.Pipeline, spec *pipelinespec.Spec) (*pipelinespec.Spec, error) {
	d := cfg.Defaults
	if d.Pod == nil && e.Pod == nil && d.Caching == nil && e.Caching == nil {
		return spec, nil
	}
	where := "pipelines"
	for i, p := range cfg.Pipelines {
		if p.Line == e.Line && p.Name == e.Name {
			where = fmt.Sprintf("pipelines[%d]", i)
		}
	}
	defaults := podLevel(d.Pod, "defaults.pod")
	defaults.OptionalTasks = true
	defaults.Caching = d.Caching
	own := podLevel(e.Pod, where+".pod")
	own.Caching = e.Caching
	out, err := podspec.Apply(spec, defaults, own)
	if err != nil {
		return nil, configErrors(cfg.Path, err)
	}
	return out, nil
}

// checkDefaultTasks reports defaults.pod.tasks names that none of the
// planned pipelines has (a typo would otherwise do nothing).
func checkDefaultTasks(cfg *config.Config, pls []*Pipeline) error {
	if cfg.Defaults.Pod == nil || len(pls) == 0 {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Defaults.Pod.Tasks)) {
		if !slices.ContainsFunc(pls, func(p *Pipeline) bool { return podspec.Has(p.Spec, name) }) {
			line := cfg.Defaults.Pod.Lines["tasks."+name]
			errs = append(errs, &config.Error{File: cfg.Path, Line: line, Msg: fmt.Sprintf("defaults.pod.tasks.%s: no pipeline has a task or executor %q", name, name)})
		}
	}
	return errors.Join(errs...)
}

// configErrors turns podspec's errors into config errors with the file.
func configErrors(path string, err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var pe *podspec.Error
		if errors.As(e, &pe) {
			out = append(out, &config.Error{File: path, Line: pe.Line, Msg: pe.Error()})
		} else {
			out = append(out, fmt.Errorf("%s: %w", path, e))
		}
	}
	return errors.Join(out...)
}

func podLevel(p *config.Pod, where string) podspec.Pod {
	if p == nil {
		return podspec.Pod{}
	}
	out := podspec.Pod{Settings: settings(p, where)}
	for name, t := range p.Tasks {
		w := where + ".tasks." + name
		if t == nil {
			out.Tasks = setTask(out.Tasks, name, podspec.Settings{Where: w, Line: p.Lines["tasks."+name]})
			continue
		}
		s := settings(t, w)
		s.Line = p.Lines["tasks."+name] // the task's name, not its first field
		out.Tasks = setTask(out.Tasks, name, s)
	}
	return out
}

func setTask(m map[string]podspec.Settings, name string, s podspec.Settings) map[string]podspec.Settings {
	if m == nil {
		m = map[string]podspec.Settings{}
	}
	m[name] = s
	return m
}

func settings(p *config.Pod, where string) podspec.Settings {
	s := podspec.Settings{
		Where: where, Line: p.Line, Lines: p.Lines,
		NodeSelector: p.NodeSelector, Labels: p.Labels, Annotations: p.Annotations,
		ImagePullSecrets: p.ImagePullSecrets,
		Requests:         p.Resources.Requests, Limits: p.Resources.Limits,
		Accelerator: podspec.Accelerator{Type: p.Resources.Accelerator.Type, Count: p.Resources.Accelerator.Count},
	}
	for _, t := range p.Tolerations {
		s.Tolerations = append(s.Tolerations, podspec.Toleration{Key: t.Key, Operator: t.Operator, Value: t.Value, Effect: t.Effect, Seconds: t.TolerationSeconds})
	}
	term := func(t config.NodeSelectorTerm) podspec.NodeSelectorTerm {
		reqs := func(rs []config.Requirement) []podspec.Requirement {
			var out []podspec.Requirement
			for _, r := range rs {
				out = append(out, podspec.Requirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
			}
			return out
		}
		return podspec.NodeSelectorTerm{MatchExpressions: reqs(t.MatchExpressions), MatchFields: reqs(t.MatchFields)}
	}
	na := p.Affinity.NodeAffinity
	for _, t := range na.Required.Terms {
		s.Affinity.Required = append(s.Affinity.Required, term(t))
	}
	for _, t := range na.Preferred {
		s.Affinity.Preferred = append(s.Affinity.Preferred, podspec.PreferredTerm{Weight: t.Weight, Preference: term(t.Preference)})
	}
	src := func(cs []config.Source) []podspec.Source {
		var out []podspec.Source
		for _, c := range cs {
			out = append(out, podspec.Source{Name: c.Name, Env: c.Env, MountPath: c.MountPath, Optional: c.Optional})
		}
		return out
	}
	s.Secrets, s.ConfigMaps = src(p.Secrets), src(p.ConfigMaps)
	for _, v := range p.PVCs {
		s.PVCs = append(s.PVCs, podspec.PVC{Name: v.Name, MountPath: v.MountPath, SubPath: v.SubPath})
	}
	return s
}

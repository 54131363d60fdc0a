package podspec

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var (
	tolerationOperators = []string{"Equal", "Exists"}
	taintEffects        = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
	selectorOperators   = []string{"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
	// resourceNameRE is a Kubernetes qualified name, optionally with a
	// DNS prefix: cpu, memory, nvidia.com/gpu, amd.com/gpu, google.com/tpu.
	resourceNameRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
)

// check reports every problem of one level's settings, each naming its
// field.
func (s *Settings) check() []*Error {
	var errs []*Error
	bad := func(field, format string, args ...any) { errs = append(errs, s.errAt(field, format, args...)) }
	if _, ok := s.NodeSelector[""]; ok {
		bad("node_selector", "empty label key")
	}
	for i, t := range s.Tolerations {
		f := fmt.Sprintf("tolerations[%d]", i)
		switch {
		case t.Operator != "" && !slices.Contains(tolerationOperators, t.Operator):
			bad(f+".operator", "invalid toleration operator %q (want %s)", t.Operator, strings.Join(tolerationOperators, " or "))
		case t.Operator == "Exists" && t.Value != "":
			bad(f+".value", "a toleration with operator Exists has no value")
		case t.Key == "" && t.Operator != "Exists":
			bad(f+".key", "a toleration without a key must have operator Exists (it then tolerates every taint)")
		}
		if t.Effect != "" && !slices.Contains(taintEffects, t.Effect) {
			bad(f+".effect", "invalid toleration effect %q (want %s, or none for all)", t.Effect, strings.Join(taintEffects, ", "))
		}
		if t.Seconds != nil && t.Effect != "NoExecute" {
			bad(f+".toleration_seconds", "toleration_seconds needs effect NoExecute")
		}
	}
	term := func(f string, t NodeSelectorTerm) {
		if len(t.MatchExpressions)+len(t.MatchFields) == 0 {
			bad(f, "empty node selector term: give match_expressions or match_fields")
		}
		for _, kr := range []struct {
			kind string
			reqs []Requirement
		}{{"match_expressions", t.MatchExpressions}, {"match_fields", t.MatchFields}} {
			for i, r := range kr.reqs {
				rf := fmt.Sprintf("%s.%s[%d]", f, kr.kind, i)
				if r.Key == "" {
					bad(rf+".key", "missing key")
				}
				switch {
				case !slices.Contains(selectorOperators, r.Operator):
					bad(rf+".operator", "invalid node selector operator %q (want %s)", r.Operator, strings.Join(selectorOperators, ", "))
				case (r.Operator == "In" || r.Operator == "NotIn") && len(r.Values) == 0:
					bad(rf+".values", "operator %s needs values", r.Operator)
				case (r.Operator == "Exists" || r.Operator == "DoesNotExist") && len(r.Values) > 0:
					bad(rf+".values", "operator %s takes no values", r.Operator)
				case (r.Operator == "Gt" || r.Operator == "Lt") && len(r.Values) != 1:
					bad(rf+".values", "operator %s needs exactly one value", r.Operator)
				}
			}
		}
	}
	const na = "affinity.node_affinity"
	for i, t := range s.Affinity.Required {
		term(fmt.Sprintf("%s.required_during_scheduling_ignored_during_execution.node_selector_terms[%d]", na, i), t)
	}
	for i, p := range s.Affinity.Preferred {
		f := fmt.Sprintf("%s.preferred_during_scheduling_ignored_during_execution[%d]", na, i)
		if p.Weight < 1 || p.Weight > 100 {
			bad(f+".weight", "weight %d is out of range 1-100", p.Weight)
		}
		term(f+".preference", p.Preference)
	}
	for i, name := range s.ImagePullSecrets {
		if name == "" {
			bad(fmt.Sprintf("image_pull_secrets[%d]", i), "empty secret name")
		}
	}
	for _, kl := range []struct {
		kind string
		list []Source
	}{{"secrets", s.Secrets}, {"config_maps", s.ConfigMaps}} {
		for i, src := range kl.list {
			f := fmt.Sprintf("%s[%d]", kl.kind, i)
			if src.Name == "" {
				bad(f+".name", "missing name")
			}
			if len(src.Env) == 0 && src.MountPath == "" {
				bad(f, "%q is used neither as env nor as a volume: give env: {ENV_VAR: key} or mount_path", src.Name)
			}
			if src.MountPath != "" && !strings.HasPrefix(src.MountPath, "/") {
				bad(f+".mount_path", "mount path %q is not absolute", src.MountPath)
			}
			for env, key := range src.Env {
				if env == "" || key == "" {
					bad(f+".env", "an entry maps %q to %q: want ENV_VAR: key", env, key)
				}
			}
		}
	}
	for i, p := range s.PVCs {
		f := fmt.Sprintf("pvcs[%d]", i)
		if p.Name == "" {
			bad(f+".name", "missing claim name")
		}
		if !strings.HasPrefix(p.MountPath, "/") {
			bad(f+".mount_path", "mount path %q is not absolute", p.MountPath)
		}
	}
	s.checkResources(bad)
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	return errs
}

func (s *Settings) checkResources(bad func(field, format string, args ...any)) {
	for _, kind := range []string{"requests", "limits"} {
		m := s.Requests
		if kind == "limits" {
			m = s.Limits
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			f := "resources." + kind + "." + name
			if !resourceNameRE.MatchString(name) {
				bad(f, "invalid resource name %q", name)
				continue
			}
			v, err := parseQuantity(m[name])
			if errors.Is(err, errNegative) {
				bad(f, "negative quantity %q", m[name])
				continue
			}
			if err != nil {
				bad(f, "%v", err)
				continue
			}
			if isCPUOrMemory(name) {
				continue
			}
			if kind == "requests" {
				bad(f, "accelerators go under resources.limits (KFP sets them as limits; Kubernetes requests equal limits for them)")
				continue
			}
			if !v.IsInt() || v.Sign() <= 0 {
				bad(f, "accelerator count %q must be a whole number above 0", m[name])
			}
		}
	}
	if acc := accelerators(s.Limits); len(acc) > 1 {
		bad("resources.limits", "more than one accelerator (%s): KFP runs a container with one accelerator type", strings.Join(acc, ", "))
	}
	a := s.Accelerator
	switch {
	case a.Count != "" && a.Type == "":
		bad("resources.accelerator.count", "accelerator count without type: set resources.accelerator.type (or use limits: {nvidia.com/gpu: N})")
	case a.Type != "" && len(accelerators(s.Limits)) > 0:
		bad("resources.accelerator", "an accelerator both in resources.limits and in resources.accelerator: give one")
	case a.Type != "":
		if a.Count == "" {
			a.Count = "1"
		}
		if v, err := parseQuantity(a.Count); err != nil || !v.IsInt() || v.Sign() <= 0 {
			bad("resources.accelerator.count", "accelerator count %q must be a whole number above 0", a.Count)
		}
	}
}

// checkAll checks every level and its task overrides.
func checkAll(levels []Pod) error {
	var errs []error
	for _, p := range levels {
		for _, e := range p.Settings.check() {
			errs = append(errs, e)
		}
		for _, name := range slices.Sorted(maps.Keys(p.Tasks)) {
			t := p.Tasks[name]
			for _, e := range t.check() {
				errs = append(errs, e)
			}
		}
	}
	return errors.Join(errs...)
}

package podspec

import (
	"errors"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// Apply returns a copy of spec with the levels' settings applied, earliest
// level first (defaults, then the pipeline's own). spec is left as it was.
// Every error is an *Error, several joined with errors.Join.
func Apply(spec *pipelinespec.Spec, levels ...Pod) (*pipelinespec.Spec, error) {
	if err := checkAll(levels); err != nil {
		return nil, err
	}
	out := spec.Clone()
	ix := newIndex(out.Pipeline)

	var all Settings
	var caching *bool
	for _, l := range levels {
		all = Merge(all, l.Settings)
		if l.Caching != nil {
			caching = l.Caching
		}
	}
	per := map[string]Settings{}
	for _, e := range ix.containers {
		per[e] = all
	}
	var errs []error
	for _, l := range levels {
		for _, name := range slices.Sorted(maps.Keys(l.Tasks)) {
			t := l.Tasks[name]
			execs, err := ix.resolve(name)
			if errors.Is(err, errNoTask) && l.OptionalTasks {
				continue
			}
			if err != nil {
				errs = append(errs, t.errAt("", "%v", err))
				continue
			}
			for _, e := range execs {
				per[e] = Merge(per[e], t)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	era := EraOf(out)
	executors, _ := dig(out.Pipeline, "deploymentSpec", "executors").(map[string]any)
	for _, e := range slices.Sorted(maps.Keys(per)) {
		s := per[e]
		if s.empty() {
			continue
		}
		if c, ok := dig(executors, e, "container").(map[string]any); ok {
			writeResources(c, &s, era)
		}
		if s.hasPlatform() {
			writePlatform(platformExecutor(out, e), &s, era)
		}
	}
	if caching != nil {
		ix.setCaching(*caching)
	}
	if err := out.Refresh(); err != nil {
		return nil, fmt.Errorf("pod settings made an invalid pipeline spec: %w", err)
	}
	return out, nil
}

// Has says whether name is a task (in any DAG) or an executor label of spec:
// whether a task override by that name applies to it.
func Has(spec *pipelinespec.Spec, name string) bool {
	_, err := newIndex(spec.Pipeline).resolve(name)
	return !errors.Is(err, errNoTask)
}

// Era is the generation of KFP SDK that compiled a file, which decides the
// shape of the fields written.
type Era int

const (
	// Era2 is SDK 2.0–2.9: ResourceSpec has numbers (cpuLimit: 2.0,
	// memoryLimit in GB) and accelerator {type, count}; kfp-kubernetes
	// names secrets and PVCs by plain strings. KFP 2.0.x servers know only
	// these fields, and refuse others.
	Era2 Era = iota
	// Era210 is SDK 2.10 and later (dynamic machine settings, kfp#11097,
	// and kfp-kubernetes' *NameParameter fields): the SDK writes the
	// numbers and also resourceCpuLimit-style strings and accelerator
	// {resourceType, resourceCount}; secrets, config maps, pull secrets and
	// PVCs also get a runtime-value name parameter and optional: false.
	Era210
)

var sdkVersionRE = regexp.MustCompile(`^kfp-(\d+)\.(\d+)`)

// EraOf reads the era from sdkVersion, or from the fields the file already
// uses: any newer-era field makes it Era210. Unknown versions are Era2,
// which every KFP 2.x server reads.
func EraOf(s *pipelinespec.Spec) Era {
	if m := sdkVersionRE.FindStringSubmatch(s.SDKVersion); m != nil {
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major > 2 || major == 2 && minor >= 10 {
			return Era210
		}
	}
	executors, _ := dig(s.Pipeline, "deploymentSpec", "executors").(map[string]any)
	for _, e := range executors {
		res, _ := dig(e, "container", "resources").(map[string]any)
		for k := range res {
			if strings.HasPrefix(k, "resource") {
				return Era210
			}
		}
		if _, ok := dig(res, "accelerator", "resourceType").(string); ok {
			return Era210
		}
	}
	pe, _ := dig(s.Platform, "platforms", "kubernetes", "deploymentSpec", "executors").(map[string]any)
	for _, cfg := range pe {
		c, _ := cfg.(map[string]any)
		for _, list := range c {
			l, _ := list.([]any)
			for _, item := range l {
				m, _ := item.(map[string]any)
				for _, k := range []string{"secretNameParameter", "configMapNameParameter", "pvcNameParameter"} {
					if _, ok := m[k]; ok {
						return Era210
					}
				}
			}
		}
	}
	return Era2
}

// writeResources sets the container's resources from s.Requests, s.Limits
// and s.Accelerator (already checked).
func writeResources(c map[string]any, s *Settings, era Era) {
	if len(s.Requests) == 0 && len(s.Limits) == 0 && s.Accelerator == (Accelerator{}) {
		return
	}
	res := child(c, "resources")
	set := func(q, field string, scale int64) {
		v, err := parseQuantity(q)
		if err != nil {
			return // checked before
		}
		res[field] = float(new(big.Rat).Quo(v, big.NewRat(scale, 1)))
		if era == Era210 {
			res["resource"+strings.ToUpper(field[:1])+field[1:]] = q
		}
	}
	for _, kind := range []string{"Request", "Limit"} {
		m := s.Requests
		if kind == "Limit" {
			m = s.Limits
		}
		if q, ok := m["cpu"]; ok {
			set(q, "cpu"+kind, 1)
		}
		if q, ok := m["memory"]; ok {
			set(q, "memory"+kind, 1e9) // KFP's memory fields are in GB
		}
	}
	acc := s.Accelerator
	if names := accelerators(s.Limits); len(names) == 1 {
		acc = Accelerator{Type: names[0], Count: s.Limits[names[0]]}
	}
	if acc.Type == "" {
		return
	}
	if acc.Count == "" {
		acc.Count = "1"
	}
	n, _ := parseQuantity(acc.Count)
	count := n.Num().String()
	a := child(res, "accelerator")
	a["type"], a["count"] = acc.Type, count // count is an int64: a string in proto JSON
	if era == Era210 {
		a["resourceType"], a["resourceCount"] = acc.Type, count
	}
}

// platformExecutor returns the kubernetes executor config for label,
// creating the platform document and its path as needed.
func platformExecutor(s *pipelinespec.Spec, label string) map[string]any {
	if s.Platform == nil {
		s.Platform = map[string]any{}
	}
	m := s.Platform
	for _, k := range []string{"platforms", "kubernetes", "deploymentSpec", "executors", label} {
		m = child(m, k)
	}
	return m
}

func writePlatform(cfg map[string]any, s *Settings, era Era) {
	if len(s.NodeSelector) > 0 {
		copyInto(child(child(cfg, "nodeSelector"), "labels"), s.NodeSelector)
	}
	if len(s.Labels) > 0 {
		copyInto(child(child(cfg, "podMetadata"), "labels"), s.Labels)
	}
	if len(s.Annotations) > 0 {
		copyInto(child(child(cfg, "podMetadata"), "annotations"), s.Annotations)
	}
	for _, t := range s.Tolerations {
		m := map[string]any{}
		for k, v := range map[string]string{"key": t.Key, "operator": t.Operator, "value": t.Value, "effect": t.Effect} {
			if v != "" {
				m[k] = v
			}
		}
		if t.Seconds != nil {
			m["tolerationSeconds"] = strconv.FormatInt(*t.Seconds, 10) // int64 in proto JSON
		}
		upsert(cfg, "tolerations", m, func(e map[string]any) bool {
			for _, k := range []string{"key", "operator", "value", "effect"} {
				if str(e[k]) != str(m[k]) {
					return false
				}
			}
			return true
		})
	}
	for _, t := range s.Affinity.Required {
		upsertEqual(cfg, "nodeAffinity", affinityTerm(t, 0))
	}
	for _, p := range s.Affinity.Preferred {
		upsertEqual(cfg, "nodeAffinity", affinityTerm(p.Preference, p.Weight))
	}
	for _, name := range s.ImagePullSecrets {
		m := map[string]any{"secretName": name}
		if era == Era210 {
			m["secretNameParameter"] = constant(name)
		}
		upsert(cfg, "imagePullSecret", m, func(e map[string]any) bool { return str(e["secretName"]) == name })
	}
	sources(cfg, s.Secrets, era, "secret", "secretName", "secretKey")
	sources(cfg, s.ConfigMaps, era, "configMap", "configMapName", "configMapKey")
	for _, p := range s.PVCs {
		m := map[string]any{"constant": p.Name, "mountPath": p.MountPath}
		if era == Era210 {
			m["pvcNameParameter"] = constant(p.Name)
		}
		if p.SubPath != "" {
			m["subPath"] = p.SubPath
		}
		upsert(cfg, "pvcMount", m, func(e map[string]any) bool {
			if str(e["mountPath"]) != p.MountPath {
				return false
			}
			// The claim is one of a oneof: drop the other ways to name it.
			delete(e, "taskOutputParameter")
			delete(e, "componentInputParameter")
			return true
		})
	}
}

// sources writes Secrets or ConfigMaps as env (<prefix>AsEnv, merged by
// name, keys by env var) and as volumes (<prefix>AsVolume, by mount path).
func sources(cfg map[string]any, list []Source, era Era, prefix, nameKey, keyKey string) {
	for _, src := range list {
		named := func() map[string]any {
			m := map[string]any{nameKey: src.Name}
			if era == Era210 {
				m[nameKey+"Parameter"] = constant(src.Name)
				m["optional"] = false
			}
			if src.Optional != nil {
				m["optional"] = *src.Optional
			}
			return m
		}
		if len(src.Env) > 0 {
			m := named()
			e := upsert(cfg, prefix+"AsEnv", m, func(e map[string]any) bool { return str(e[nameKey]) == src.Name })
			for _, env := range slices.Sorted(maps.Keys(src.Env)) {
				upsert(e, "keyToEnv", map[string]any{"envVar": env, keyKey: src.Env[env]}, func(k map[string]any) bool { return str(k["envVar"]) == env })
			}
		}
		if src.MountPath != "" {
			m := named()
			m["mountPath"] = src.MountPath
			upsert(cfg, prefix+"AsVolume", m, func(e map[string]any) bool { return str(e["mountPath"]) == src.MountPath })
		}
	}
}

func affinityTerm(t NodeSelectorTerm, weight int32) map[string]any {
	m := map[string]any{}
	reqs := func(rs []Requirement) []any {
		out := make([]any, 0, len(rs))
		for _, r := range rs {
			e := map[string]any{"key": r.Key, "operator": r.Operator}
			if len(r.Values) > 0 {
				vs := make([]any, len(r.Values))
				for i, v := range r.Values {
					vs[i] = v
				}
				e["values"] = vs
			}
			out = append(out, e)
		}
		return out
	}
	if len(t.MatchExpressions) > 0 {
		m["matchExpressions"] = reqs(t.MatchExpressions)
	}
	if len(t.MatchFields) > 0 {
		m["matchFields"] = reqs(t.MatchFields)
	}
	if weight > 0 {
		m["weight"] = int64(weight) // weight makes it a preferred term
	}
	return m
}

// constant is an InputParameterSpec holding a constant string.
func constant(v string) map[string]any {
	return map[string]any{"runtimeValue": map[string]any{"constant": v}}
}

// upsert merges m into the first entry of parent[key] that same accepts, or
// appends it, and returns the entry. Fields of the entry that m does not set
// stay.
func upsert(parent map[string]any, key string, m map[string]any, same func(map[string]any) bool) map[string]any {
	list, _ := parent[key].([]any)
	for _, item := range list {
		if e, ok := item.(map[string]any); ok && same(e) {
			for k, v := range m {
				e[k] = v
			}
			return e
		}
	}
	parent[key] = append(list, m)
	return m
}

func upsertEqual(parent map[string]any, key string, m map[string]any) {
	upsert(parent, key, m, func(e map[string]any) bool { return reflect.DeepEqual(e, m) })
}

// child returns parent[key] as a map, creating it when missing or not a map.
func child(parent map[string]any, key string) map[string]any {
	if m, ok := parent[key].(map[string]any); ok {
		return m
	}
	m := map[string]any{}
	parent[key] = m
	return m
}

func copyInto(dst map[string]any, src map[string]string) {
	for k, v := range src {
		dst[k] = v
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

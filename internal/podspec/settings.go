package podspec

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Pod is one level of settings: the whole pipeline, plus overrides for
// some tasks.
type Pod struct {
	Settings
	// Tasks are overrides by IR task name (any DAG) or executor label
	// ("exec-train"). They apply over Settings, and over the same task's
	// settings of earlier levels.
	Tasks map[string]Settings
	// OptionalTasks skips task names the pipeline lacks instead of failing:
	// for defaults shared by pipelines with different tasks.
	OptionalTasks bool
	// Caching, when set, turns caching on or off for every task.
	Caching *bool
}

// Settings are pod settings for the tasks they apply to, in Kubernetes'
// own terms.
type Settings struct {
	// Where names the block in messages ("pipelines[0].pod"); Line is its
	// line and Lines the lines of its fields, by path relative to it
	// ("tolerations[1].operator", "resources.limits.cpu").
	Where string
	Line  int
	Lines map[string]int

	NodeSelector     map[string]string
	Tolerations      []Toleration
	Affinity         NodeAffinity
	Labels           map[string]string // pod labels
	Annotations      map[string]string // pod annotations
	ImagePullSecrets []string
	Secrets          []Source
	ConfigMaps       []Source
	PVCs             []PVC
	// Requests and Limits map a resource name (cpu, memory,
	// nvidia.com/gpu, ...) to a Kubernetes quantity. One resource besides
	// cpu and memory may be given, in Limits: it becomes the accelerator.
	Requests map[string]string
	Limits   map[string]string
	// Accelerator sets the accelerator type and count explicitly, for types
	// that are not resource names; exclusive with an accelerator in Limits.
	Accelerator Accelerator
}

// Toleration is a Kubernetes toleration.
type Toleration struct {
	Key, Operator, Value, Effect string
	Seconds                      *int64
}

// NodeAffinity is a Kubernetes node affinity.
type NodeAffinity struct {
	Required  []NodeSelectorTerm
	Preferred []PreferredTerm
}

// NodeSelectorTerm is one term of a node affinity; terms are ORed.
type NodeSelectorTerm struct {
	MatchExpressions []Requirement
	MatchFields      []Requirement
}

// PreferredTerm is a weighted preference (1-100).
type PreferredTerm struct {
	Weight     int32
	Preference NodeSelectorTerm
}

// Requirement is a node selector requirement.
type Requirement struct {
	Key, Operator string
	Values        []string
}

// Source is a Secret or ConfigMap exposed to the container, as environment
// variables, as a volume, or both.
type Source struct {
	Name string
	// Env maps an environment variable to the key whose value it gets.
	Env       map[string]string
	MountPath string
	Optional  *bool
}

// PVC mounts an existing PersistentVolumeClaim.
type PVC struct {
	Name, MountPath, SubPath string
}

// Accelerator is an accelerator type and count.
type Accelerator struct {
	Type  string
	Count string
}

func (s *Settings) empty() bool {
	return reflect.DeepEqual(*s, Settings{Where: s.Where, Line: s.Line, Lines: s.Lines})
}

// hasPlatform says whether s writes anything to the platform spec.
func (s *Settings) hasPlatform() bool {
	return len(s.NodeSelector) > 0 || len(s.Tolerations) > 0 || len(s.Affinity.Required) > 0 ||
		len(s.Affinity.Preferred) > 0 || len(s.Labels) > 0 || len(s.Annotations) > 0 ||
		len(s.ImagePullSecrets) > 0 || len(s.Secrets) > 0 || len(s.ConfigMaps) > 0 || len(s.PVCs) > 0
}

// Merge returns base with over merged in by the package's merge rule.
// Where and Line come from over when it has them.
func Merge(base, over Settings) Settings {
	m := base
	if over.Where != "" {
		m.Where, m.Line, m.Lines = over.Where, over.Line, over.Lines
	}
	m.NodeSelector = mergeMap(base.NodeSelector, over.NodeSelector)
	m.Labels = mergeMap(base.Labels, over.Labels)
	m.Annotations = mergeMap(base.Annotations, over.Annotations)
	m.Requests = mergeMap(base.Requests, over.Requests)
	m.Limits = mergeMap(base.Limits, over.Limits)
	// An accelerator, given either way, replaces the earlier one.
	if over.Accelerator != (Accelerator{}) || len(accelerators(over.Limits)) > 0 {
		m.Accelerator = over.Accelerator
		for _, k := range accelerators(base.Limits) {
			if _, ok := over.Limits[k]; !ok {
				delete(m.Limits, k)
			}
		}
	}
	m.Tolerations = mergeList(base.Tolerations, over.Tolerations, func(a, b Toleration) bool {
		return a.Key == b.Key && a.Operator == b.Operator && a.Value == b.Value && a.Effect == b.Effect
	})
	m.Affinity.Required = mergeList(base.Affinity.Required, over.Affinity.Required, func(a, b NodeSelectorTerm) bool { return reflect.DeepEqual(a, b) })
	m.Affinity.Preferred = mergeList(base.Affinity.Preferred, over.Affinity.Preferred, func(a, b PreferredTerm) bool { return reflect.DeepEqual(a, b) })
	m.ImagePullSecrets = mergeList(base.ImagePullSecrets, over.ImagePullSecrets, func(a, b string) bool { return a == b })
	m.Secrets = mergeList(base.Secrets, over.Secrets, func(a, b Source) bool { return a.Name == b.Name })
	m.ConfigMaps = mergeList(base.ConfigMaps, over.ConfigMaps, func(a, b Source) bool { return a.Name == b.Name })
	m.PVCs = mergeList(base.PVCs, over.PVCs, func(a, b PVC) bool { return a.MountPath == b.MountPath })
	return m
}

func mergeMap(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, over)
	return m
}

// mergeList appends over to base; an entry of over that is the same as one
// of base replaces it in place.
func mergeList[T any](base, over []T, same func(a, b T) bool) []T {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := slices.Clone(base)
	for _, o := range over {
		if i := slices.IndexFunc(out, func(b T) bool { return same(b, o) }); i >= 0 && i < len(base) {
			out[i] = o
			continue
		}
		out = append(out, o)
	}
	return out
}

func isCPUOrMemory(name string) bool { return name == "cpu" || name == "memory" }

// accelerators are the resource names besides cpu and memory, sorted.
func accelerators(m map[string]string) []string {
	var out []string
	for k := range m {
		if !isCPUOrMemory(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Error is a problem with a setting, at its line of the config file.
type Error struct {
	Line  int
	Field string // "pipelines[0].pod.tolerations[1].operator"
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// errAt builds an Error for field (relative to s), at the field's line, or
// at the closest enclosing field that has one.
func (s *Settings) errAt(field, format string, args ...any) *Error {
	line := s.Line
	for f := field; f != ""; f = parent(f) {
		if l, ok := s.Lines[f]; ok {
			line = l
			break
		}
	}
	full := s.Where
	if field != "" {
		full = strings.TrimPrefix(full+"."+field, ".")
	}
	return &Error{Line: line, Field: full, Msg: fmt.Sprintf(format, args...)}
}

// parent strips the last element of a field path: "a.b[1]" → "a.b" → "a".
func parent(f string) string {
	if strings.HasSuffix(f, "]") {
		if i := strings.LastIndexByte(f, '['); i >= 0 {
			return f[:i]
		}
	}
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		return f[:i]
	}
	return ""
}

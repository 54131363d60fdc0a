package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Pod is a pod: block, under defaults: or a pipeline: settings for the pods
// of every task, and overrides per task (by IR task name or executor
// label). Field names are Kubernetes' pod spec names in snake_case.
type Pod struct {
	// Line is the block's line; Lines are its fields' lines by path
	// ("tolerations[0].operator", "resources.limits.cpu").
	Line  int            `yaml:"-"`
	Lines map[string]int `yaml:"-"`

	NodeSelector     map[string]string `yaml:"node_selector"`
	Tolerations      []Toleration      `yaml:"tolerations"`
	Affinity         Affinity          `yaml:"affinity"`
	Labels           map[string]string `yaml:"labels"`
	Annotations      map[string]string `yaml:"annotations"`
	ImagePullSecrets []string          `yaml:"image_pull_secrets"`
	Secrets          []Source          `yaml:"secrets"`
	ConfigMaps       []Source          `yaml:"config_maps"`
	PVCs             []PVC             `yaml:"pvcs"`
	Resources        Resources         `yaml:"resources"`
	// Tasks override the settings above for some tasks (not inside tasks).
	Tasks map[string]*Pod `yaml:"tasks"`
}

// Toleration is a Kubernetes toleration.
type Toleration struct {
	Key               string `yaml:"key"`
	Operator          string `yaml:"operator"`
	Value             string `yaml:"value"`
	Effect            string `yaml:"effect"`
	TolerationSeconds *int64 `yaml:"toleration_seconds"`
}

// Affinity holds a node affinity (pod affinity is not a setting kf-run writes).
type Affinity struct {
	NodeAffinity NodeAffinity `yaml:"node_affinity"`
}

// NodeAffinity is Kubernetes' NodeAffinity.
type NodeAffinity struct {
	Required struct {
		Terms []NodeSelectorTerm `yaml:"node_selector_terms"`
	} `yaml:"required_during_scheduling_ignored_during_execution"`
	Preferred []PreferredTerm `yaml:"preferred_during_scheduling_ignored_during_execution"`
}

// NodeSelectorTerm is one ORed term of a node affinity.
type NodeSelectorTerm struct {
	MatchExpressions []Requirement `yaml:"match_expressions"`
	MatchFields      []Requirement `yaml:"match_fields"`
}

// PreferredTerm is a weighted scheduling preference.
type PreferredTerm struct {
	Weight     int32            `yaml:"weight"`
	Preference NodeSelectorTerm `yaml:"preference"`
}

// Requirement is a node selector requirement.
type Requirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

// Source is a Secret or ConfigMap given to the container as environment
// variables (env: {ENV_VAR: key}), as a volume (mount_path), or both.
type Source struct {
	Name      string            `yaml:"name"`
	Env       map[string]string `yaml:"env"`
	MountPath string            `yaml:"mount_path"`
	Optional  *bool             `yaml:"optional"`
}

// PVC mounts an existing PersistentVolumeClaim.
type PVC struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mount_path"`
	SubPath   string `yaml:"sub_path"`
}

// Resources are the container's requests and limits (cpu, memory, and one
// accelerator such as nvidia.com/gpu under limits), or an accelerator by
// type and count.
type Resources struct {
	Requests    map[string]string `yaml:"requests"`
	Limits      map[string]string `yaml:"limits"`
	Accelerator struct {
		Type  string `yaml:"type"`
		Count string `yaml:"count"`
	} `yaml:"accelerator"`
}

// UnmarshalYAML decodes the block and records its lines.
func (p *Pod) UnmarshalYAML(n *yaml.Node) error {
	type plain Pod
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	p.Line, p.Lines = n.Line, map[string]int{}
	lines(n, "", p.Lines)
	return nil
}

// pods are the pod: blocks that are set.
func (c *Config) pods() []*Pod {
	var out []*Pod
	if c.Defaults.Pod != nil {
		out = append(out, c.Defaults.Pod)
	}
	for _, p := range c.Pipelines {
		if p.Pod != nil {
			out = append(out, p.Pod)
		}
	}
	return out
}

func lines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if path != "" {
				k = path + "." + k
			}
			out[k] = n.Content[i].Line
			lines(n.Content[i+1], k, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", path, i)
			out[k] = c.Line
			lines(c, k, out)
		}
	}
}

package podspec

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// fixture has a task of its own (train), two tasks sharing an executor
// (a, b), a sub-pipeline (inner, with task leaf), an importer, and a
// platform spec kfp-kubernetes wrote, with a field kf-run does not know.
const fixture = `components:
  comp-train: {executorLabel: exec-train}
  comp-shared: {executorLabel: exec-shared}
  comp-leaf: {executorLabel: exec-leaf}
  comp-importer: {executorLabel: exec-importer}
  comp-inner:
    dag:
      tasks:
        leaf: {componentRef: {name: comp-leaf}, taskInfo: {name: leaf}}
deploymentSpec:
  executors:
    exec-train:
      container:
        image: python:3.11
        resources: {cpuLimit: 1.0, futureResourceField: keep}
    exec-shared: {container: {image: python:3.11}}
    exec-leaf: {container: {image: python:3.11}}
    exec-importer: {importer: {artifactUri: {constant: gs://x}}}
pipelineInfo: {name: fixture}
root:
  dag:
    tasks:
      train: {componentRef: {name: comp-train}, taskInfo: {name: train}, cachingOptions: {enableCache: true}}
      a: {componentRef: {name: comp-shared}, taskInfo: {name: a}}
      b: {componentRef: {name: comp-shared}, taskInfo: {name: b}}
      inner: {componentRef: {name: comp-inner}, taskInfo: {name: inner}}
      imp: {componentRef: {name: comp-importer}, taskInfo: {name: imp}}
schemaVersion: 2.1.0
sdkVersion: kfp-2.4.0
---
platforms:
  kubernetes:
    deploymentSpec:
      executors:
        exec-train:
          futureField: {kept: true}
          secretAsEnv:
            - secretName: db
              keyToEnv: [{secretKey: user, envVar: DB_USER}]
          pvcMount:
            - mountPath: /data
              taskOutputParameter: {producerTask: createpvc, outputParameterKey: name}
          tolerations:
            - {key: dedicated, operator: Equal, value: ml, effect: NoSchedule}
`

func parseFixture(t *testing.T) *pipelinespec.Spec {
	t.Helper()
	s, err := pipelinespec.Parse("fixture.yaml", []byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func executorConfig(s *pipelinespec.Spec, label string) map[string]any {
	m, _ := platformExecutors(s)[label].(map[string]any)
	return m
}

// Settings merge into what the file has: entries with the same identity
// are updated in place, fields kf-run does not know stay.
func TestApplyMergesWithTheFile(t *testing.T) {
	t.Parallel()
	orig := parseFixture(t)
	before, err := orig.YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(orig, Pod{Tasks: map[string]Settings{"train": {
		Secrets:     []Source{{Name: "db", Env: map[string]string{"DB_PASSWORD": "password", "DB_USER": "username"}}},
		PVCs:        []PVC{{Name: "shared-data", MountPath: "/data"}},
		Tolerations: []Toleration{{Key: "dedicated", Operator: "Equal", Value: "ml", Effect: "NoSchedule"}},
		Limits:      map[string]string{"memory": "2Gi"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"futureField": map[string]any{"kept": true},
		"secretAsEnv": []any{map[string]any{"secretName": "db", "keyToEnv": []any{
			map[string]any{"secretKey": "username", "envVar": "DB_USER"},
			map[string]any{"secretKey": "password", "envVar": "DB_PASSWORD"},
		}}},
		"pvcMount":    []any{map[string]any{"mountPath": "/data", "constant": "shared-data"}},
		"tolerations": []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}},
	}
	if diff := cmp.Diff(want, executorConfig(got, "exec-train")); diff != "" {
		t.Errorf("exec-train platform config (-want +got):\n%s", diff)
	}
	res := dig(got.Pipeline, "deploymentSpec", "executors", "exec-train", "container", "resources")
	if diff := cmp.Diff(map[string]any{"cpuLimit": 1.0, "memoryLimit": 2.147483648, "futureResourceField": "keep"}, res); diff != "" {
		t.Errorf("exec-train resources (-want +got):\n%s", diff)
	}
	after, err := orig.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("Apply changed the spec it was given")
	}
	if _, err := got.YAML(); err != nil {
		t.Errorf("the result does not encode: %v", err)
	}
}

func TestApplyTargets(t *testing.T) {
	t.Parallel()
	label := Settings{Labels: map[string]string{"x": "y"}}
	tests := []struct {
		name string
		pod  Pod
		want []string // executors that got the label
		err  string
	}{
		{"pipeline-wide: every container", Pod{Settings: label}, []string{"exec-leaf", "exec-shared", "exec-train"}, ""},
		{"task in a sub-pipeline", Pod{Tasks: map[string]Settings{"leaf": label}}, []string{"exec-leaf"}, ""},
		{"executor label", Pod{Tasks: map[string]Settings{"exec-shared": label}}, []string{"exec-shared"}, ""},
		{"unknown task", Pod{Tasks: map[string]Settings{"trian": {Where: "pod.tasks.trian", Line: 7}}}, nil,
			`pod.tasks.trian: no such task "trian" in the pipeline (tasks: a, b, imp, inner, leaf, train; executors: exec-leaf, exec-shared, exec-train)`},
		{"unknown task, optional", Pod{OptionalTasks: true, Tasks: map[string]Settings{"trian": label}}, nil, ""},
		{"shared executor", Pod{Tasks: map[string]Settings{"a": label}}, nil, `task "a" shares executor "exec-shared" with task "b"`},
		{"sub-pipeline", Pod{Tasks: map[string]Settings{"inner": label}}, nil, `task "inner" is a sub-pipeline`},
		{"importer", Pod{Tasks: map[string]Settings{"imp": label}}, nil, `task "imp" does not run a container`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Apply(parseFixture(t), tt.pod)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var labelled []string
			for _, e := range slices.Sorted(maps.Keys(platformExecutors(got))) {
				if dig(executorConfig(got, e), "podMetadata", "labels", "x") == "y" {
					labelled = append(labelled, e)
				}
			}
			if diff := cmp.Diff(tt.want, labelled); diff != "" {
				t.Errorf("labelled executors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	t.Parallel()
	lines := map[string]int{"tolerations[0].operator": 11, "resources.limits.cpu": 12, "resources": 13}
	tests := []struct {
		name string
		s    Settings
		want string
		line int
	}{
		{"toleration operator", Settings{Tolerations: []Toleration{{Key: "a", Operator: "equal"}}},
			`p.tolerations[0].operator: invalid toleration operator "equal" (want Equal or Exists)`, 11},
		{"toleration effect", Settings{Tolerations: []Toleration{{Key: "a", Operator: "Exists", Effect: "NoRun"}}},
			`p.tolerations[0].effect: invalid toleration effect "NoRun"`, 10},
		{"exists with value", Settings{Tolerations: []Toleration{{Key: "a", Operator: "Exists", Value: "b"}}},
			`p.tolerations[0].value: a toleration with operator Exists has no value`, 10},
		{"seconds without NoExecute", Settings{Tolerations: []Toleration{{Key: "a", Operator: "Exists", Seconds: int64Ptr(5)}}},
			`p.tolerations[0].toleration_seconds: toleration_seconds needs effect NoExecute`, 10},
		{"negative quantity", Settings{Limits: map[string]string{"cpu": "-1"}}, `p.resources.limits.cpu: negative quantity "-1"`, 12},
		{"malformed quantity", Settings{Limits: map[string]string{"cpu": "two"}}, `p.resources.limits.cpu: "two" is not a Kubernetes quantity`, 12},
		{"fractional gpu", Settings{Limits: map[string]string{"nvidia.com/gpu": "0.5"}}, `p.resources.limits.nvidia.com/gpu: accelerator count "0.5" must be a whole number above 0`, 13},
		{"gpu request", Settings{Requests: map[string]string{"nvidia.com/gpu": "1"}}, `p.resources.requests.nvidia.com/gpu: accelerators go under resources.limits`, 13},
		{"two accelerators", Settings{Limits: map[string]string{"nvidia.com/gpu": "1", "amd.com/gpu": "1"}}, `p.resources.limits: more than one accelerator (amd.com/gpu, nvidia.com/gpu)`, 13},
		{"count without type", Settings{Accelerator: Accelerator{Count: "1"}}, `p.resources.accelerator.count: accelerator count without type`, 13},
		{"accelerator twice", Settings{Accelerator: Accelerator{Type: "tpu-v3"}, Limits: map[string]string{"nvidia.com/gpu": "1"}}, `p.resources.accelerator: an accelerator both in resources.limits and in resources.accelerator`, 13},
		{"bad resource name", Settings{Limits: map[string]string{"nvidia.com/gpu!": "1"}}, `invalid resource name "nvidia.com/gpu!"`, 13},
		{"affinity operator", Settings{Affinity: NodeAffinity{Required: []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "k", Operator: "Equals", Values: []string{"v"}}}}}}},
			`p.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms[0].match_expressions[0].operator: invalid node selector operator "Equals"`, 10},
		{"preferred weight", Settings{Affinity: NodeAffinity{Preferred: []PreferredTerm{{Weight: 0, Preference: NodeSelectorTerm{MatchExpressions: []Requirement{{Key: "k", Operator: "Exists"}}}}}}},
			`weight 0 is out of range 1-100`, 10},
		{"unused secret", Settings{Secrets: []Source{{Name: "s"}}}, `p.secrets[0]: "s" is used neither as env nor as a volume`, 10},
		{"relative mount", Settings{PVCs: []PVC{{Name: "d", MountPath: "data"}}}, `p.pvcs[0].mount_path: mount path "data" is not absolute`, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.s.Where, tt.s.Line, tt.s.Lines = "p", 10, lines
			_, err := Apply(parseFixture(t), Pod{Settings: tt.s})
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want a *podspec.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\nlacks\n%s", err, tt.want)
			}
			if pe.Line != tt.line {
				t.Errorf("line %d, want %d", pe.Line, tt.line)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	base := Settings{
		NodeSelector: map[string]string{"pool": "cpu", "zone": "a"},
		Tolerations:  []Toleration{{Key: "a", Operator: "Exists"}, {Key: "b", Operator: "Exists"}},
		Secrets:      []Source{{Name: "db", Env: map[string]string{"U": "user"}}},
		PVCs:         []PVC{{Name: "old", MountPath: "/data"}},
		Limits:       map[string]string{"cpu": "1", "nvidia.com/gpu": "1"},
	}
	over := Settings{
		NodeSelector: map[string]string{"pool": "gpu"},
		Tolerations:  []Toleration{{Key: "b", Operator: "Exists"}, {Key: "c", Operator: "Exists"}},
		Secrets:      []Source{{Name: "db", MountPath: "/db"}},
		PVCs:         []PVC{{Name: "new", MountPath: "/data"}},
		Accelerator:  Accelerator{Type: "tpu-v3", Count: "8"},
	}
	want := Settings{
		NodeSelector: map[string]string{"pool": "gpu", "zone": "a"},
		Tolerations:  []Toleration{{Key: "a", Operator: "Exists"}, {Key: "b", Operator: "Exists"}, {Key: "c", Operator: "Exists"}},
		Secrets:      []Source{{Name: "db", MountPath: "/db"}},
		PVCs:         []PVC{{Name: "new", MountPath: "/data"}},
		Limits:       map[string]string{"cpu": "1"}, // the tpu replaces the gpu
		Accelerator:  Accelerator{Type: "tpu-v3", Count: "8"},
	}
	if diff := cmp.Diff(want, Merge(base, over)); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	if base.NodeSelector["pool"] != "cpu" || len(base.Limits) != 2 {
		t.Error("Merge changed its base")
	}
}

func TestCaching(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		got, err := Apply(parseFixture(t), Pod{Caching: &on})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range []string{"train", "a", "b", "imp"} {
			co := dig(got.Pipeline, "root", "dag", "tasks", task, "cachingOptions")
			want := map[string]any{}
			if on {
				want["enableCache"] = true
			}
			if diff := cmp.Diff(want, co); diff != "" {
				t.Errorf("caching %v, task %s (-want +got):\n%s", on, task, diff)
			}
		}
		if co := dig(got.Pipeline, "root", "dag", "tasks", "inner", "cachingOptions"); co != nil {
			t.Errorf("the sub-pipeline's task got cachingOptions %v", co)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]float64{"500m": 0.5, "2": 2, "1.5": 1.5, "4Gi": 4294967296, "256Mi": 268435456, "1e3": 1000, "1k": 1000, "1E": 1e18, ".5": 0.5} {
		v, err := parseQuantity(q)
		if err != nil || float(v) != want {
			t.Errorf("parseQuantity(%q) = %v, %v; want %v", q, v, err, want)
		}
	}
	for _, q := range []string{"", "1.2.3", "Gi", "1 Gi", "1gi", "-1", "1Mb"} {
		if _, err := parseQuantity(q); err == nil {
			t.Errorf("parseQuantity(%q) succeeded", q)
		}
	}
}

func TestEraOf(t *testing.T) {
	t.Parallel()
	s := parseFixture(t)
	if EraOf(s) != Era2 {
		t.Error("kfp-2.4.0 is not Era2")
	}
	for _, v := range []string{"kfp-2.10.0", "kfp-2.14.6", "kfp-3.0.0"} {
		c := s.Clone()
		c.SDKVersion = v
		if EraOf(c) != Era210 {
			t.Errorf("%s is not Era210", v)
		}
	}
	c := s.Clone()
	dig(c.Pipeline, "deploymentSpec", "executors", "exec-train", "container", "resources").(map[string]any)["resourceCpuLimit"] = "{{$.inputs.parameters['cpu']}}"
	if EraOf(c) != Era210 {
		t.Error("a file with resourceCpuLimit is not Era210")
	}
}

package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewAppliesPodSettings(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, `kubeflow: {host: "http://kfp"}
defaults:
  caching: false
  pipeline_root: gs://acme/default-root
  pod:
    node_selector: {pool: cpu}
    tasks:
      evaluate: {labels: {team: ml}}
pipelines:
  - name: train
    spec: SPEC
    pipeline_root: gs://acme/train-root
    parameters: {dataset: x}
    pod:
      tasks:
        train:
          node_selector: {pool: gpu}
          resources: {limits: {cpu: "2", memory: 4Gi, nvidia.com/gpu: 1}}
`)
	p, err := New(Input{Config: cfg, CI: gh})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pl := p.Pipelines[0]
	if pl.PipelineRoot != "gs://acme/train-root" {
		t.Errorf("PipelineRoot = %q", pl.PipelineRoot)
	}
	execs := pl.Spec.Platform["platforms"].(map[string]any)["kubernetes"].(map[string]any)["deploymentSpec"].(map[string]any)["executors"].(map[string]any)
	pool := func(e string) any {
		return execs[e].(map[string]any)["nodeSelector"].(map[string]any)["labels"].(map[string]any)["pool"]
	}
	if pool("exec-ingest") != "cpu" || pool("exec-train") != "gpu" || pool("exec-evaluate") != "cpu" {
		t.Errorf("node selectors: ingest %v, train %v, evaluate %v", pool("exec-ingest"), pool("exec-train"), pool("exec-evaluate"))
	}
	if _, ok := execs["exec-evaluate"].(map[string]any)["podMetadata"]; !ok {
		t.Errorf("the defaults' task override did not apply: %v", execs["exec-evaluate"])
	}
	res := pl.Spec.Pipeline["deploymentSpec"].(map[string]any)["executors"].(map[string]any)["exec-train"].(map[string]any)["container"].(map[string]any)["resources"]
	want := map[string]any{"cpuLimit": 2.0, "memoryLimit": 4.294967296, "accelerator": map[string]any{"type": "nvidia.com/gpu", "count": "1"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("train resources (-want +got):\n%s", diff)
	}
	task := pl.Spec.Pipeline["root"].(map[string]any)["dag"].(map[string]any)["tasks"].(map[string]any)["train"].(map[string]any)
	if diff := cmp.Diff(map[string]any{}, task["cachingOptions"]); diff != "" {
		t.Errorf("caching: false left (-want +got):\n%s", diff)
	}
}

func TestNewPodErrors(t *testing.T) {
	t.Parallel()
	head := "kubeflow: {host: \"http://kfp\"}\npipelines:\n  - name: train\n    spec: SPEC\n    parameters: {dataset: x}\n    pod:\n"
	tests := []struct{ name, pod, want string }{
		{"unknown task", "      tasks:\n        trian: {labels: {a: b}}\n",
			`kf-run.yaml:8: pipelines[0].pod.tasks.trian: no such task "trian" in the pipeline (tasks: evaluate, ingest, train; executors: exec-evaluate, exec-ingest, exec-train)`},
		{"toleration operator", "      tolerations:\n        - {key: a, operator: Equals, value: b}\n",
			`kf-run.yaml:8: pipelines[0].pod.tolerations[0].operator: invalid toleration operator "Equals" (want Equal or Exists)`},
		{"negative quantity", "      resources:\n        requests: {memory: -1Gi}\n",
			`kf-run.yaml:8: pipelines[0].pod.resources.requests.memory: negative quantity "-1Gi"`},
		{"malformed quantity", "      resources:\n        limits:\n          cpu: 2 cores\n",
			`kf-run.yaml:9: pipelines[0].pod.resources.limits.cpu: "2 cores" is not a Kubernetes quantity`},
		{"accelerator count without type", "      tasks:\n        train:\n          resources:\n            accelerator: {count: 2}\n",
			`kf-run.yaml:10: pipelines[0].pod.tasks.train.resources.accelerator.count: accelerator count without type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Input{Config: loadConfig(t, head+tt.pod), CI: gh})
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("New error = %v, want a *UsageError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\nlacks\n%s", err, tt.want)
			}
		})
	}
	t.Run("defaults task no pipeline has", func(t *testing.T) {
		t.Parallel()
		cfg := strings.Replace(head, "pipelines:", "defaults:\n  pod:\n    tasks:\n      trainer: {labels: {a: b}}\npipelines:", 1) + "      labels: {x: y}\n"
		_, err := New(Input{Config: loadConfig(t, cfg), CI: gh})
		if err == nil || !strings.Contains(err.Error(), `kf-run.yaml:5: defaults.pod.tasks.trainer: no pipeline has a task or executor "trainer"`) {
			t.Errorf("error = %v", err)
		}
	})
}

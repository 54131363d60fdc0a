package podspec

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/corpus"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

func boolPtr(b bool) *bool    { return &b }
func int64Ptr(n int64) *int64 { return &n }

// Settings that reproduce a kfp-kubernetes snapshot must produce the same
// platform spec as kfp-kubernetes did: strip the file's platform document,
// apply the settings to its executor, compare.
func TestReproducesKubernetesPlatformCorpus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		task string
		s    Settings
	}{
		{"kfp-sdk-2.4/kubernetes_platform/secret_as_env.yaml", "comp", Settings{Secrets: []Source{{Name: "my-secret", Env: map[string]string{"SECRET_VAR": "password"}}}}},
		{"kfp-sdk-2.4/kubernetes_platform/secret_as_vol.yaml", "comp", Settings{Secrets: []Source{{Name: "my-secret", MountPath: "/mnt/my_vol"}}}},
		{"kfp-sdk-2.17/kubernetes_platform/secret_as_env.yaml", "comp", Settings{Secrets: []Source{{Name: "my-secret", Env: map[string]string{"SECRET_VAR": "password"}}}}},
		{"kfp-sdk-2.17/kubernetes_platform/secret_as_vol.yaml", "comp", Settings{Secrets: []Source{{Name: "my-secret", MountPath: "/mnt/my_vol"}}}},
		{"kfp-sdk-2.17/kubernetes_platform/config_map_as_env.yaml", "comp", Settings{ConfigMaps: []Source{{Name: "my-cm", Env: map[string]string{"CONFIG_MAP_VAR": "foo"}}}}},
		{"kfp-sdk-2.17/kubernetes_platform/config_map_as_vol.yaml", "comp", Settings{ConfigMaps: []Source{{Name: "my-cm", MountPath: "/mnt/my_vol", Optional: boolPtr(false)}}}},
		{"kfp-sdk-2.17/kubernetes_platform/image_pull_secrets.yaml", "comp", Settings{ImagePullSecrets: []string{"my-secret"}}},
		{"kfp-sdk-2.17/kubernetes_platform/node_selector.yaml", "comp", Settings{NodeSelector: map[string]string{"cloud.google.com/gke-accelerator": "nvidia-tesla-p4"}}},
		{"kfp-sdk-2.17/kubernetes_platform/toleration.yaml", "comp", Settings{Tolerations: []Toleration{{Key: "key1", Operator: "Equal", Value: "value1", Effect: "NoExecute", Seconds: int64Ptr(10)}}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			orig, err := pipelinespec.Load(filepath.Join(corpus.Dir(t, ""), c.file))
			if err != nil {
				t.Fatal(err)
			}
			bare := orig.Clone()
			bare.Platform = nil
			got, err := Apply(bare, Pod{Tasks: map[string]Settings{c.task: c.s}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(orig.Platform, got.Platform); diff != "" {
				t.Errorf("platform spec (-kfp-kubernetes +kf-run):\n%s", diff)
			}
			if diff := cmp.Diff(orig.Pipeline, got.Pipeline); diff != "" {
				t.Errorf("pipeline spec changed (-want +got):\n%s", diff)
			}
		})
	}
}

// The pod metadata part of a newer SDK's compiled file (its fieldPathAsEnv
// is not a pod setting kf-run writes, so it stays as the file had it).
func TestReproducesPodMetadata(t *testing.T) {
	t.Parallel()
	orig, err := pipelinespec.Load(filepath.Join(corpus.Dir(t, "kfp-sdk-2.17/valid"), "create_pod_metadata_complex.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bare := orig.Clone()
	for _, cfg := range dig(bare.Platform, "platforms", "kubernetes", "deploymentSpec", "executors").(map[string]any) {
		delete(cfg.(map[string]any), "podMetadata")
	}
	got, err := Apply(bare, Pod{Tasks: map[string]Settings{
		"exec-validate-pod-metadata": {
			Labels:      map[string]string{"task-label-1": "label-1", "task-label-2": "label-2"},
			Annotations: map[string]string{"task-annotation": "annotation"},
		},
		"exec-validate-pod-metadata-2": {
			Annotations: map[string]string{"task-annotation-1": "annotation-1", "task-annotation-2": "annotation-2"},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig.Platform, got.Platform); diff != "" {
		t.Errorf("platform spec (-SDK +kf-run):\n%s", diff)
	}
}

// Resources written for each era are the SDK's own: the SDK 2.4 file's
// executor, and the SDK 2.15 file's GPU/CPU/memory executor.
func TestReproducesResourceSpecs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, executor string
		s              Settings
	}{
		{"kfp-sdk-2.4/pipelines/pipeline_with_resource_spec.yaml", "exec-trainer", Settings{
			Requests:    map[string]string{"cpu": "2", "memory": "4Gi"},
			Limits:      map[string]string{"cpu": "4", "memory": "14Gi"},
			Accelerator: Accelerator{Type: "tpu-v3", Count: "1"},
		}},
		{"kfp-sdk-2.17/valid/local_execution_local_execution_pipeline_with_k8s_only_methods.yaml", "exec-echo", Settings{
			Limits: map[string]string{"cpu": "1000m", "memory": "256Mi", "nvidia.com/gpu": "1"},
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			orig, err := pipelinespec.Load(filepath.Join(corpus.Dir(t, ""), c.file))
			if err != nil {
				t.Fatal(err)
			}
			bare := orig.Clone()
			delete(dig(bare.Pipeline, "deploymentSpec", "executors", c.executor, "container").(map[string]any), "resources")
			got, err := Apply(bare, Pod{Tasks: map[string]Settings{c.executor: c.s}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(orig.Pipeline, got.Pipeline); diff != "" {
				t.Errorf("pipeline spec (-SDK +kf-run):\n%s", diff)
			}
		})
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A run submitted with pod settings from kf-run.yaml passes KFP's own
// validation, runs, and the Argo workflow KFP compiled carries the settings
// where KFP 2.x puts them: the kubernetes-config argument of the task's
// driver, and the container spec (with its resources) the driver turns into
// the pod.
func TestPodSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := uniq(t, "pod")
	cfg := fmt.Sprintf(`kubeflow:
  host: %s
defaults:
  experiment: e2e-pod
  pod:
    node_selector: {cloud.google.com/gke-nodepool: cpu}
pipelines:
  - name: train
    spec: %s
    run_name: %s
    parameters: {dataset: gs://e2e/data.csv}
    pipeline_root: gs://e2e/root
    caching: false
    pod:
      secrets:
        - {name: db-creds, env: {DB_PASSWORD: password}}
      tasks:
        train:
          node_selector: {cloud.google.com/gke-nodepool: gpu}
          tolerations:
            - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
          affinity:
            node_affinity:
              required_during_scheduling_ignored_during_execution:
                node_selector_terms:
                  - match_expressions:
                      - {key: topology.kubernetes.io/zone, operator: In, values: [europe-west4-a]}
          resources:
            requests: {cpu: 500m, memory: 1Gi}
            limits: {cpu: "2", memory: 4Gi, nvidia.com/gpu: 1}
`, shared.URL, example(t, "train/pipeline.yaml"), name)
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// validate --print shows what will be submitted.
	v := kfRun(context.Background(), t, dir, nil, "validate", "--print")
	if v.code != 0 {
		t.Fatalf("validate --print: want exit 0:\n%s", v)
	}
	for _, want := range []string{`"platform_spec"`, `"nodeSelector"`, `"tolerations"`, `"nodeAffinity"`, `"secretAsEnv"`, `"accelerator"`} {
		if !strings.Contains(v.stdout, want) {
			t.Errorf("validate --print lacks %s:\n%s", want, v.stdout)
		}
	}

	r := kfRun(context.Background(), t, dir, nil, "run")
	if r.code != 0 {
		t.Fatalf("run: want exit 0:\n%s", r)
	}
	runs := shared.runsNamed(t, name, "")
	if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
		t.Fatalf("runs = %+v, want one SUCCEEDED", runs)
	}
	var wf workflow
	shared.call(t, "GET", "/_sandbox/runs/"+runs[0].RunID+"/workflow", nil, &wf)

	trainK8s := wf.driverArg(t, "train-driver", "kubernetes-config")
	wantTrain := map[string]any{
		"nodeSelector": map[string]any{"labels": map[string]any{"cloud.google.com/gke-nodepool": "gpu"}},
		"tolerations":  []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}},
		"nodeAffinity": []any{map[string]any{"matchExpressions": []any{map[string]any{
			"key": "topology.kubernetes.io/zone", "operator": "In", "values": []any{"europe-west4-a"}}}}},
		"secretAsEnv": []any{map[string]any{"secretName": "db-creds", "keyToEnv": []any{map[string]any{"envVar": "DB_PASSWORD", "secretKey": "password"}}}},
	}
	if diff := cmp.Diff(wantTrain, trainK8s); diff != "" {
		t.Errorf("train's kubernetes-config (-want +got):\n%s", diff)
	}
	ingestK8s := wf.driverArg(t, "ingest-driver", "kubernetes-config")
	if got := ingestK8s["nodeSelector"]; !cmp.Equal(got, map[string]any{"labels": map[string]any{"cloud.google.com/gke-nodepool": "cpu"}}) {
		t.Errorf("ingest's node selector = %v, want the defaults' pool cpu", got)
	}
	if _, ok := ingestK8s["tolerations"]; ok {
		t.Errorf("ingest got train's tolerations: %v", ingestK8s)
	}

	container := wf.driverArg(t, "train-driver", "container")
	wantRes := map[string]any{
		"cpuRequest": 0.5, "memoryRequest": 1.073741824, "cpuLimit": 2.0, "memoryLimit": 4.294967296,
		"accelerator": map[string]any{"type": "nvidia.com/gpu", "count": "1"},
	}
	if diff := cmp.Diff(wantRes, container["resources"]); diff != "" {
		t.Errorf("train's container resources (-want +got):\n%s", diff)
	}
	if res, ok := wf.driverArg(t, "ingest-driver", "container")["resources"]; ok {
		t.Errorf("ingest got resources %v, want none", res)
	}
	if co := wf.driverArg(t, "train-driver", "task")["cachingOptions"]; co != nil && !cmp.Equal(co, map[string]any{}) {
		t.Errorf("train's cachingOptions = %v with caching: false", co)
	}
	var run struct {
		RuntimeConfig struct {
			PipelineRoot string `json:"pipeline_root"`
		} `json:"runtime_config"`
	}
	shared.call(t, "GET", "/apis/v2beta1/runs/"+runs[0].RunID, nil, &run)
	if run.RuntimeConfig.PipelineRoot != "gs://e2e/root" {
		t.Errorf("runtime_config.pipeline_root = %q, want gs://e2e/root", run.RuntimeConfig.PipelineRoot)
	}
}

// workflow is the part of an Argo Workflow the test reads.
type workflow struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Templates []struct {
			Name string `json:"name"`
			DAG  *struct {
				Tasks []struct {
					Name      string `json:"name"`
					Arguments struct {
						Parameters []struct {
							Name  string `json:"name"`
							Value string `json:"value"`
						} `json:"parameters"`
					} `json:"arguments"`
				} `json:"tasks"`
			} `json:"dag"`
		} `json:"templates"`
	} `json:"spec"`
}

var annotationRef = regexp.MustCompile(`^\{\{workflow\.annotations\.(.+)\}\}$`)

// driverArg returns the JSON value of a parameter of the DAG task named
// task, resolving KFP's {{workflow.annotations.X}} placeholders.
func (wf *workflow) driverArg(t *testing.T, task, param string) map[string]any {
	t.Helper()
	for _, tpl := range wf.Spec.Templates {
		if tpl.DAG == nil {
			continue
		}
		for _, dt := range tpl.DAG.Tasks {
			if dt.Name != task {
				continue
			}
			for _, p := range dt.Arguments.Parameters {
				if p.Name != param {
					continue
				}
				v := p.Value
				if m := annotationRef.FindStringSubmatch(v); m != nil {
					a, ok := wf.Metadata.Annotations[m[1]]
					if !ok {
						t.Fatalf("%s.%s refers to annotation %q, which the workflow lacks", task, param, m[1])
					}
					v = a
				}
				var out map[string]any
				if err := json.Unmarshal([]byte(v), &out); err != nil {
					t.Fatalf("%s.%s = %q: %v", task, param, v, err)
				}
				return out
			}
			t.Fatalf("DAG task %s has no %s argument: %+v", task, param, dt.Arguments.Parameters)
		}
	}
	t.Fatalf("no DAG task %s in the workflow", task)
	return nil
}

// Bad pod settings stop kf-run before anything reaches KFP: exit 2, with
// the config line.
func TestPodSettingsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := uniq(t, "pod-bad")
	cfg := fmt.Sprintf(`kubeflow:
  host: %s
pipelines:
  - name: train
    spec: %s
    run_name: %s
    parameters: {dataset: gs://e2e/data.csv}
    pod:
      tasks:
        trian:
          resources: {limits: {nvidia.com/gpu: 1}}
`, shared.URL, example(t, "train/pipeline.yaml"), name)
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kfRun(context.Background(), t, dir, nil, "run")
	if r.code != 2 {
		t.Fatalf("want exit 2:\n%s", r)
	}
	if want := `kf-run.yaml:10: pipelines[0].pod.tasks.trian: no such task "trian"`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r)
	}
	if runs := shared.runsNamed(t, name, ""); len(runs) != 0 {
		t.Errorf("runs were created: %+v", runs)
	}
}

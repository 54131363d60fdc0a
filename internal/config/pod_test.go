package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePod(t *testing.T) {
	t.Parallel()
	src := `defaults:
  caching: false
  pipeline_root: gs://acme/root
  pod:
    node_selector: {cloud.google.com/gke-nodepool: cpu}
    image_pull_secrets: [regcred]
pipelines:
  - name: train
    spec: train.yaml
    caching: true
    pod:
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      affinity:
        node_affinity:
          required_during_scheduling_ignored_during_execution:
            node_selector_terms:
              - match_expressions: [{key: zone, operator: In, values: [a, b]}]
      secrets: [{name: db, env: {DB_PASSWORD: password}}]
      tasks:
        trainer:
          resources:
            limits: {cpu: "2", memory: 4Gi, nvidia.com/gpu: 1}
`
	c, err := Parse("kf-run.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Defaults
	if d.Caching == nil || *d.Caching || d.PipelineRoot.Value != "gs://acme/root" || d.Pod == nil || d.Pod.Line != 5 {
		t.Errorf("defaults = %+v", d)
	}
	p := c.Pipelines[0]
	if p.Caching == nil || !*p.Caching || p.Pod == nil {
		t.Fatalf("pipeline = %+v", p)
	}
	if got := p.Pod.Lines["tolerations[0]"]; got != 13 {
		t.Errorf("tolerations[0] at line %d, want 13", got)
	}
	if got := p.Pod.Lines["affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms[0].match_expressions[0]"]; got != 18 {
		t.Errorf("match_expressions[0] at line %d, want 18", got)
	}
	tr := p.Pod.Tasks["trainer"]
	if tr == nil {
		t.Fatal("no trainer override")
	}
	if diff := cmp.Diff(map[string]string{"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}, tr.Resources.Limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if got := tr.Lines["resources.limits.memory"]; got != 23 {
		t.Errorf("memory at line %d, want 23", got)
	}
}

func TestParsePodErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"unknown pod key", "pipelines:\n  - name: a\n    spec: a.yaml\n    pod:\n      nodeSelector: {a: b}\n",
			`kf-run.yaml:5: unknown key "nodeSelector" in pipelines[0].pod (known: node_selector,`},
		{"unknown toleration key", "defaults:\n  pod:\n    tolerations:\n      - {key: a, opertor: Exists}\npipelines: [{name: a, spec: a.yaml}]\n",
			`kf-run.yaml:4: unknown key "opertor" in defaults.pod.tolerations[0]`},
		{"unknown key in a task", "pipelines:\n  - name: a\n    spec: a.yaml\n    pod:\n      tasks:\n        train:\n          resource: {}\n",
			`kf-run.yaml:7: unknown key "resource" in pipelines[0].pod.tasks.train`},
		{"nested tasks", "pipelines:\n  - name: a\n    spec: a.yaml\n    pod:\n      tasks:\n        train:\n          tasks: {x: {}}\n",
			`kf-run.yaml:7: tasks: inside tasks.train`},
		{"caching not a bool", "pipelines:\n  - name: a\n    spec: a.yaml\n    caching: sometimes\n",
			`kf-run.yaml:4:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("kf-run.yaml", []byte(tt.src), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tt.want)
			}
		})
	}
}

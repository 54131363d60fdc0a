package podlog

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func pod(name, wf, node string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "team-a",
		Labels:      map[string]string{workflowLabel: wf},
		Annotations: map[string]string{nodeIDAnnotKey: node},
	}}
}

func TestWorkflowPodLogFindsThePod(t *testing.T) {
	t.Parallel()
	cs := fake.NewSimpleClientset(
		pod("wf-system-container-impl-111", "wf", "wf-111"),
		pod("wf-system-container-impl-222", "wf", "wf-222"),
		pod("other-system-container-impl-222", "other", "other-222"),
	)
	r := &Reader{core: cs.CoreV1()}
	tests := []struct {
		name, wf, node string
		names          []string
		want, wantErr  string
	}{
		{name: "by node-id annotation", wf: "wf", node: "wf-222", want: "wf-system-container-impl-222"},
		{name: "by name", wf: "wf", names: []string{"wf-system-container-impl-111"}, want: "wf-system-container-impl-111"},
		{name: "only the workflow's pods", wf: "wf", node: "other-222", wantErr: "no pod of workflow wf in namespace team-a is node other-222 (2 pods"},
		{name: "no workflow: the name", names: []string{"x-impl-9"}, want: "x-impl-9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, text, err := r.WorkflowPodLog(context.Background(), "team-a", tt.wf, tt.node, tt.names, 4)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pod = %q, %v; want %q", got, err, tt.want)
			}
			// client-go's fake answers "fake logs"; the limit keeps the tail.
			if text != "logs" {
				t.Errorf("text = %q, want the last 4 bytes", text)
			}
		})
	}
}

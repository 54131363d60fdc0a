package sandbox

import (
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// TestArgoPodName checks the pod names against Argo's own test vectors
// (ui/src/shared/pod-name.test.ts: fnv32a("hello") = 1335831723) and
// its rules: v1 is the node ID, the workflow's own node is the workflow
// name, and a long prefix is cut so the name fits 253 characters.
func TestArgoPodName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("w", 200)
	tests := []struct {
		name                           string
		wf, nodeName, template, nodeID string
		v2                             bool
		want                           string
	}{
		{"v1 is the node ID", "wf", "wf.root.a", "system-container-impl", "wf-123", false, "wf-123"},
		{"v2 hashes the node name", "wf", "hello", "", "wf-123", true, "wf-1335831723"},
		{"v2 with a template", "wfname", "hello", "templatename", "1", true, "wfname-templatename-1335831723"},
		{"the workflow node is the workflow", "wf", "wf", "entrypoint", "wf", true, "wf"},
		{"a long prefix is cut", long, "hello", long, "1", true, (long + "-" + long)[:242] + "-1335831723"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := argoPodName(tt.wf, tt.nodeName, tt.template, tt.nodeID, tt.v2)
			if got != tt.want {
				t.Errorf("argoPodName = %q, want %q", got, tt.want)
			}
			if len(got) > maxK8sResourceNameLength {
				t.Errorf("%d characters, more than Kubernetes allows", len(got))
			}
		})
	}
}

// TestRetryRendering: from 2.17 on an executor pod is rendered as a Retry
// node with one pod child that has its phase, message and times.
func TestRetryRendering(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	wf := testWorkflow()
	root, err := buildTree(wf)
	if err != nil {
		t.Fatal(err)
	}
	markRetries(root)
	schedule(root, t0, outcomes{pod: func(n *simNode) (wfv1.NodePhase, time.Duration, bool, string, []string) {
		if n.irTask == "a" {
			return wfv1.NodeFailed, time.Second, false, "boom", nil
		}
		return wfv1.NodeSucceeded, time.Second, false, "", nil
	}})
	nodes := nodesAt(root, wf, t0.Add(time.Hour))
	retries := 0
	for _, n := range nodes {
		if n.Type != wfv1.NodeTypeRetry {
			continue
		}
		retries++
		if n.DisplayName != "executor" || len(n.Children) != 1 {
			t.Fatalf("retry node %+v, want display executor with one child", n)
		}
		c, ok := nodes[n.Children[0]]
		if !ok {
			t.Fatalf("retry node %s: child %s not in the status", n.Name, n.Children[0])
		}
		if c.Type != wfv1.NodeTypePod || c.DisplayName != "executor(0)" || c.Name != n.Name+"(0)" || c.ID != wf.NodeID(c.Name) {
			t.Errorf("retry child %+v", c)
		}
		if c.Phase != n.Phase || c.Message != n.Message || !c.StartedAt.Equal(&n.StartedAt) || !c.FinishedAt.Equal(&n.FinishedAt) {
			t.Errorf("retry node %s %q and child %s %q differ", n.Phase, n.Message, c.Phase, c.Message)
		}
		if strings.HasSuffix(n.Name, ".a.executor") && (n.Phase != wfv1.NodeFailed || n.Message != "boom") {
			t.Errorf("a's retry node = %s %q, want Failed boom", n.Phase, n.Message)
		}
	}
	if retries != 2 { // a and c ran; b was Omitted and never created
		t.Errorf("%d retry nodes, want 2", retries)
	}
}

package multiusertest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// TestPodLogsAuthzPerProfile: from 2.17 on, in multi-user mode, the UI's
// log route requires podnamespace (422) and viewer access to it (403), for
// the identity header or bearer token; 2.5 checks neither. Pods live in the
// run's namespace, where the API server's v1alpha1 route finds them by node
// ID in 2.0.
func TestPodLogsAuthzPerProfile(t *testing.T) {
	t.Parallel()
	for _, p := range []sandbox.Profile{sandbox.Profile20, sandbox.Profile25, sandbox.Profile217, sandbox.ProfileNext} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sb := start(t, sandbox.Options{
				Profile: p,
				Allow:   map[string][]string{alice: {"team-a"}},
				Tokens:  map[string]string{"alice-token": alice, "mallory-token": mallory},
			})
			c := &kfptest.Client{Base: sb.URL(), Header: http.Header{"Kubeflow-Userid": {alice}}}
			exp := c.Must(t, 200, "POST", "/apis/v2beta1/experiments", map[string]any{"display_name": "logs", "namespace": "team-a"}).JSON(t)
			pid, vid := c.Upload(t, "two-step", "two_step.yaml", kfptest.Pipeline(t, "two_step.yaml"))
			sb.Script(sandbox.Script{Tasks: map[string]sandbox.TaskScript{"write-text": {Log: []string{"hello team-a"}}}})
			r := c.Must(t, 200, "POST", "/apis/v2beta1/runs", map[string]any{
				"display_name": "logs", "experiment_id": exp["experiment_id"],
				"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
				"runtime_config":             map[string]any{"parameters": map[string]any{"text": "hi"}},
			}).JSON(t)
			id := r["run_id"].(string)
			c.WaitState(t, id, "SUCCEEDED")

			var wf struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			b, err := sb.Workflow(id)
			if err != nil || json.Unmarshal(b, &wf) != nil {
				t.Fatalf("workflow: %v", err)
			}
			root := &kfptest.Client{Base: sb.ControlURL()}
			var pods struct {
				Items []struct {
					Metadata struct {
						Name        string            `json:"name"`
						Annotations map[string]string `json:"annotations"`
					} `json:"metadata"`
				} `json:"items"`
			}
			lr := root.Must(t, 200, "GET", "/api/v1/namespaces/team-a/pods?labelSelector="+url.QueryEscape("workflows.argoproj.io/workflow="+wf.Metadata.Name), nil)
			if err := json.Unmarshal(lr.Body, &pods); err != nil {
				t.Fatal(err)
			}
			pod, nodeID := "", ""
			for _, item := range pods.Items {
				name := item.Metadata.Annotations["workflows.argoproj.io/node-name"]
				if strings.HasSuffix(name, ".write-text.executor") || strings.HasSuffix(name, ".write-text.executor(0)") {
					pod, nodeID = item.Metadata.Name, item.Metadata.Annotations["workflows.argoproj.io/node-id"]
				}
			}
			if pod == "" {
				t.Fatalf("no write-text executor pod in team-a: %s", lr.Body)
			}
			authz := p == sandbox.Profile217 || p == sandbox.ProfileNext
			pick := func(withAuthz, without int) int {
				if authz {
					return withAuthz
				}
				return without
			}
			tests := []struct {
				name, query string
				hdr         http.Header
				status      int
				body        string
			}{
				{"no podnamespace", "podname=" + pod, http.Header{"Kubeflow-Userid": {alice}}, pick(422, 200), pickBody(authz, "podnamespace argument is required")},
				{"a namespace the caller may not view", "podname=" + pod + "&podnamespace=team-b", http.Header{"Kubeflow-Userid": {alice}}, pick(403, 200), pickBody(authz, "Access denied to namespace")},
				{"no identity", "podname=" + pod + "&podnamespace=team-a", nil, pick(403, 200), pickBody(authz, "Access denied to namespace")},
				{"other user's token", "podname=" + pod + "&podnamespace=team-a", http.Header{"Authorization": {"Bearer mallory-token"}}, pick(403, 200), pickBody(authz, "Access denied to namespace")},
				{"header allowed", "podname=" + pod + "&podnamespace=team-a", http.Header{"Kubeflow-Userid": {alice}}, 200, "hello team-a\n"},
				{"token allowed", "podname=" + pod + "&podnamespace=team-a", http.Header{"Authorization": {"Bearer alice-token"}}, 200, "hello team-a\n"},
				{"no podname", "podnamespace=team-a", http.Header{"Kubeflow-Userid": {alice}}, 400, "podname argument is required"},
			}
			for _, tt := range tests {
				r, err := root.Do(t.Context(), "GET", "/k8s/pod/logs?"+tt.query, nil, tt.hdr)
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != tt.status || string(r.Body) != tt.body {
					t.Errorf("%s: %d %q, want %d %q", tt.name, r.Status, r.Body, tt.status, tt.body)
				}
			}
			// The API server's route reads the pod by node ID in the run's
			// namespace: a pod name only with 2.0's v1 names; from 2.5 the
			// finished pod is read from the archive.
			lg := root.Must(t, 200, "GET", "/apis/v1alpha1/runs/"+id+"/nodes/"+nodeID+"/log", nil)
			if string(lg.Body) != "hello team-a\n" {
				t.Errorf("v1alpha1 log of node %s: %s", nodeID, lg.Body)
			}
		})
	}
}

// pickBody is the expected body of a check that only 2.17+ make.
func pickBody(authz bool, body string) string {
	if authz {
		return body
	}
	return "hello team-a\n"
}

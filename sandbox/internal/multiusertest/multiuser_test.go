package multiusertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "kfp-sandbox-glog-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := errors.Join(flag.Set("log_dir", dir), flag.Set("stderrthreshold", "FATAL")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func start(t *testing.T, o sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	o.MultiUser = true
	o.StepDuration, o.Tick = 5*time.Millisecond, 2*time.Millisecond
	sb, err := sandbox.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

const (
	alice   = "alice@example.com"
	mallory = "mallory@example.com"
)

func TestAuthErrors(t *testing.T) {
	sb := start(t, sandbox.Options{
		Allow:  map[string][]string{alice: {"team-a"}, "admin@example.com": {"*"}},
		Tokens: map[string]string{"alice-token": alice, "mallory-token": mallory},
	})
	t.Parallel()
	c := &kfptest.Client{Base: sb.URL()}
	asAlice := http.Header{"Kubeflow-Userid": {alice}}
	tests := []struct {
		name, method, path string
		hdr                http.Header
		body               any
		status, code       int
		msg                string
	}{
		{"no namespace", "GET", "/apis/v2beta1/experiments", asAlice, nil, 400, 3, "namespace"},
		{"no namespace v1beta1", "GET", "/apis/v1beta1/experiments", asAlice, nil, 400, 3, "namespace"},
		{"no identity", "GET", "/apis/v2beta1/experiments?namespace=team-a", nil, nil, 401, 16, "User identity is empty"},
		{"header allowed", "GET", "/apis/v2beta1/experiments?namespace=team-a", asAlice, nil, 200, 0, ""},
		{"header forbidden namespace", "GET", "/apis/v2beta1/experiments?namespace=team-b", asAlice, nil, 403, 7, "not authorized"},
		{"admin anywhere", "GET", "/apis/v2beta1/experiments?namespace=team-b", http.Header{"Kubeflow-Userid": {"admin@example.com"}}, nil, 200, 0, ""},
		{"other header is not identity", "GET", "/apis/v2beta1/experiments?namespace=team-a", http.Header{"X-Goog-Authenticated-User-Email": {"accounts.google.com:" + alice}}, nil, 401, 16, ""},
		{"bearer token", "GET", "/apis/v2beta1/runs?namespace=team-a", http.Header{"Authorization": {"Bearer alice-token"}}, nil, 200, 0, ""},
		{"unknown token", "GET", "/apis/v2beta1/runs?namespace=team-a", http.Header{"Authorization": {"Bearer nope"}}, nil, 401, 16, ""},
		{"token of a user without access", "GET", "/apis/v2beta1/runs?namespace=team-a", http.Header{"Authorization": {"Bearer mallory-token"}}, nil, 403, 7, mallory},
		{"runs without namespace", "GET", "/apis/v2beta1/runs", asAlice, nil, 400, 3, "namespace"},
		{"run without experiment", "POST", "/apis/v2beta1/runs", asAlice, map[string]any{"display_name": "x", "pipeline_spec": map[string]any{}}, 400, 3, "Experiment id can not be empty"},
		{"experiment without namespace", "POST", "/apis/v2beta1/experiments", asAlice, map[string]any{"display_name": "x"}, 400, 3, "namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := c.Do(t.Context(), tt.method, tt.path, tt.body, tt.hdr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.code == 0 {
				return
			}
			body := r.JSON(t)
			if code, _ := body["code"].(float64); int(code) != tt.code || !strings.Contains(body["message"].(string), tt.msg) {
				t.Errorf("code %v message %q, want code %d containing %q", body["code"], body["message"], tt.code, tt.msg)
			}
		})
	}
	t.Run("healthz says multi-user", func(t *testing.T) {
		t.Parallel()
		r := c.Must(t, 200, "GET", "/apis/v2beta1/healthz", nil).JSON(t)
		if r["multi_user"] != true {
			t.Errorf("healthz %v", r)
		}
	})
}

// TestRunUnderRestrictivePolicy checks that runs still advance (the report
// path is authorized too) when the policy only lets alice into team-a.
func TestRunUnderRestrictivePolicy(t *testing.T) {
	sb := start(t, sandbox.Options{Allow: map[string][]string{alice: {"team-a"}}})
	t.Parallel()
	c := &kfptest.Client{Base: sb.URL(), Header: http.Header{"Kubeflow-Userid": {alice}}}
	exp := c.Must(t, 200, "POST", "/apis/v2beta1/experiments", map[string]any{"display_name": "ci", "namespace": "team-a"}).JSON(t)
	spec := kfptest.Pipeline(t, "two_step.yaml")
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)
	r := c.Must(t, 200, "POST", "/apis/v2beta1/runs", map[string]any{
		"display_name": "r", "experiment_id": exp["experiment_id"],
		"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
		"runtime_config":             map[string]any{"parameters": map[string]any{"text": "hi"}},
	}).JSON(t)
	id := r["run_id"].(string)
	run := c.WaitState(t, id, "SUCCEEDED")
	if td := kfptest.Task(run, "read-text"); td == nil || td["state"] != "SUCCEEDED" {
		t.Errorf("read-text = %v", td)
	}
	mal := &kfptest.Client{Base: sb.URL(), Header: http.Header{"Kubeflow-Userid": {mallory}}}
	mal.Must(t, 403, "GET", "/apis/v2beta1/runs/"+id, nil)
}

// TestDefaultPolicy: with no tokens and no policy any identity is allowed
// everywhere, as KFP's stock fakes do.
func TestDefaultPolicy(t *testing.T) {
	sb := start(t, sandbox.Options{})
	t.Parallel()
	c := &kfptest.Client{Base: sb.URL()}
	for _, h := range []http.Header{{"Authorization": {"Bearer anything"}}, {"Kubeflow-Userid": {"whoever@example.com"}}} {
		r, err := c.Do(t.Context(), "GET", "/apis/v2beta1/experiments?namespace=anywhere", nil, h)
		if err != nil || r.Status != 200 {
			t.Errorf("%v: %d %s %v", h, r.Status, r.Body, err)
		}
	}
}

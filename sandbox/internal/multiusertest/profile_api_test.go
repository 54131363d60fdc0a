package multiusertest

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// TestProfile217Errors: grpc-gateway v2's auth errors (KFP 2.14+) have no
// "error" key, and a 401 also says why in WWW-Authenticate.
func TestProfile217Errors(t *testing.T) {
	sb := start(t, sandbox.Options{Profile: sandbox.Profile217, Allow: map[string][]string{alice: {"team-a"}}})
	t.Parallel()
	c := &kfptest.Client{Base: sb.URL()}
	tests := []struct {
		name   string
		hdr    http.Header
		status int
		code   float64
	}{
		{"no identity", nil, 401, 16},
		{"forbidden namespace", http.Header{"Kubeflow-Userid": {alice}}, 403, 7},
	}
	for _, tt := range tests {
		r, err := c.Do(t.Context(), "GET", "/apis/v2beta1/experiments?namespace=team-b", nil, tt.hdr)
		if err != nil {
			t.Fatal(err)
		}
		body := r.JSON(t)
		if _, ok := body["error"]; r.Status != tt.status || body["code"] != tt.code || ok {
			t.Errorf("%s: %d %s, want %d code %v without \"error\"", tt.name, r.Status, r.Body, tt.status, tt.code)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", sb.URL()+"/apis/v2beta1/experiments?namespace=team-a", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestProfile217DisplayNames: the layer's own requests to KFP (the new
// pipeline's versions, the pages of a display_name list) carry the
// caller's identity, so they work in a namespace.
func TestProfile217DisplayNames(t *testing.T) {
	sb := start(t, sandbox.Options{Profile: sandbox.Profile217, Allow: map[string][]string{alice: {"team-a"}}})
	t.Parallel()
	c := &kfptest.Client{Base: sb.URL(), Header: http.Header{"Kubeflow-Userid": {alice}}}
	spec := kfptest.Pipeline(t, "two_step.yaml")
	for _, name := range []string{"one", "two"} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("uploadfile", "p.yaml")
		fw.Write(spec)
		mw.Close()
		r, err := c.Do(t.Context(), "POST", "/apis/v2beta1/pipelines/upload?namespace=team-a&name="+name+"&display_name=Team+Pipeline", &body,
			http.Header{"Content-Type": {mw.FormDataContentType()}})
		if err != nil || r.Status != 200 {
			t.Fatalf("upload %s: %d %s %v", name, r.Status, r.Body, err)
		}
		p := r.JSON(t)
		versions := c.Must(t, 200, "GET", fmt.Sprintf("/apis/v2beta1/pipelines/%s/versions", p["pipeline_id"]), nil).JSON(t)
		v := versions["pipeline_versions"].([]any)[0].(map[string]any)
		if v["name"] != name || v["display_name"] != "Team Pipeline" {
			t.Errorf("version of %s: %v", name, v)
		}
	}
	filter := url.QueryEscape(`{"predicates":[{"key":"display_name","operation":"EQUALS","string_value":"Team Pipeline"}]}`)
	list := c.Must(t, 200, "GET", "/apis/v2beta1/pipelines?namespace=team-a&filter="+filter, nil).JSON(t)
	if list["total_size"] != float64(2) {
		t.Errorf("display_name list in team-a: %v", list)
	}
	mal := &kfptest.Client{Base: sb.URL(), Header: http.Header{"Kubeflow-Userid": {mallory}}}
	if r := mal.Must(t, 403, "GET", "/apis/v2beta1/pipelines?namespace=team-a&filter="+filter, nil).JSON(t); r["error"] != nil {
		t.Errorf("forbidden list: %v", r)
	}
}

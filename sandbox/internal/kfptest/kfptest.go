// Package kfptest is a small KFP REST client for the sandbox's own tests:
// plain net/http and JSON, so the tests see exactly what goes over the wire.
// It is not kf-run's client and does not try to be one.
package kfptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Client talks to one KFP base URL (prefix included).
type Client struct {
	Base    string
	Header  http.Header // added to every request (identity)
	HTTP    *http.Client
	PollGap time.Duration // between GETs while waiting; default 5ms
}

// Response is a raw answer.
type Response struct {
	Status int
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return m
}

// Do sends one request; body is JSON-encoded unless it is an io.Reader.
func (c *Client) Do(ctx context.Context, method, path string, body any, hdr http.Header) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return Response{}, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: b}, err
}

// Must sends a request and fails the test unless the status is want.
func (c *Client) Must(t testing.TB, want int, method, path string, body any) Response {
	t.Helper()
	r, err := c.Do(t.Context(), method, path, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// Upload uploads a pipeline file and returns the pipeline and version IDs.
func (c *Client) Upload(t testing.TB, name, file string, data []byte) (pipelineID, versionID string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("uploadfile", file)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	r, err := c.Do(t.Context(), http.MethodPost, "/apis/v2beta1/pipelines/upload?name="+url.QueryEscape(name), &body,
		http.Header{"Content-Type": {mw.FormDataContentType()}})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("upload %s: status %d: %s", name, r.Status, r.Body)
	}
	pipelineID = r.JSON(t)["pipeline_id"].(string)
	v := c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/pipelines/"+pipelineID+"/versions", nil).JSON(t)
	versions, _ := v["pipeline_versions"].([]any)
	if len(versions) != 1 {
		t.Fatalf("pipeline %s has %d versions, want 1", pipelineID, len(versions))
	}
	return pipelineID, versions[0].(map[string]any)["pipeline_version_id"].(string)
}

// CreateRun creates a run of a pipeline version and returns its ID.
func (c *Client) CreateRun(t testing.TB, name, pipelineID, versionID string, params map[string]any) string {
	t.Helper()
	body := map[string]any{
		"display_name":               name,
		"pipeline_version_reference": map[string]string{"pipeline_id": pipelineID, "pipeline_version_id": versionID},
	}
	if len(params) > 0 {
		body["runtime_config"] = map[string]any{"parameters": params}
	}
	r := c.Must(t, http.StatusOK, http.MethodPost, "/apis/v2beta1/runs", body).JSON(t)
	return r["run_id"].(string)
}

// Run fetches a run.
func (c *Client) Run(t testing.TB, id string) map[string]any {
	t.Helper()
	return c.Must(t, http.StatusOK, http.MethodGet, "/apis/v2beta1/runs/"+id, nil).JSON(t)
}

// WaitState polls a run until its state is one of want, and fails the test
// if it reaches another final state first or the test's deadline comes
// close. There is no other time bound.
func (c *Client) WaitState(t testing.TB, id string, want ...string) map[string]any {
	t.Helper()
	gap := c.PollGap
	if gap == 0 {
		gap = 5 * time.Millisecond
	}
	var deadline time.Time
	hasDeadline := false
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		deadline, hasDeadline = d.Deadline()
	}
	for {
		run := c.Run(t, id)
		state, _ := run["state"].(string)
		for _, w := range want {
			if state == w {
				return run
			}
		}
		switch state {
		case "SUCCEEDED", "FAILED", "CANCELED", "SKIPPED":
			t.Fatalf("run %s ended %s, want %v: %s", id, state, want, summary(run))
		}
		if hasDeadline && time.Until(deadline) < 5*time.Second {
			t.Fatalf("run %s still %q near the test deadline, want %v", id, state, want)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("run %s: %v", id, t.Context().Err())
		case <-time.After(gap):
		}
	}
}

func summary(run map[string]any) string {
	var b strings.Builder
	details, _ := run["run_details"].(map[string]any)
	tasks, _ := details["task_details"].([]any)
	for _, x := range tasks {
		task := x.(map[string]any)
		fmt.Fprintf(&b, "%s=%v ", task["display_name"], task["state"])
	}
	return b.String()
}

// Task returns the task detail whose display_name is an IR task name.
func Task(run map[string]any, name string) map[string]any {
	details, _ := run["run_details"].(map[string]any)
	tasks, _ := details["task_details"].([]any)
	for _, x := range tasks {
		if task := x.(map[string]any); task["display_name"] == name {
			return task
		}
	}
	return nil
}

// PodName is the executor pod of an IR task, as KFP 2.0.x exposes it: the
// first child_tasks[].pod_name of the task detail.
func PodName(run map[string]any, task string) string {
	td := Task(run, task)
	if td == nil {
		return ""
	}
	children, _ := td["child_tasks"].([]any)
	if len(children) == 0 {
		return ""
	}
	p, _ := children[0].(map[string]any)["pod_name"].(string)
	return p
}

// Testdata is the path of a file under the sandbox module's own testdata/
// directory, e.g. Testdata(t, "pipelines", "two_step.yaml"). It fails the
// test when the file is not there: these files are part of the repository.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/kf-run/kf-run/sandbox\n") {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("sandbox module root (go.mod of github.com/kf-run/kf-run/sandbox) not found above the working directory")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "testdata"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("sandbox test data: %v (recompile with `make testdata` if a pipeline is missing)", err)
	}
	return p
}

// Pipeline reads a compiled pipeline of testdata/pipelines/.
func Pipeline(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(Testdata(t, "pipelines", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CorpusEnv names the variable that switches the corpus tests on: the
// absolute path of the shared KFP corpus (the folder holding kfp-sdk-2.4/).
const CorpusEnv = "KF_RUN_CORPUS"

// Corpus is the directory $KF_RUN_CORPUS/sub. The corpus is an extra: the
// test is skipped when KF_RUN_CORPUS is unset, and fails when it is set but
// is not an absolute path or sub is missing or has no files.
func Corpus(t testing.TB, sub string) string {
	t.Helper()
	root, ok := os.LookupEnv(CorpusEnv)
	if !ok || root == "" {
		t.Skipf("%s is not set: the KFP corpus tests are off (set it to the corpus's absolute path to run them)", CorpusEnv)
	}
	if !filepath.IsAbs(root) {
		t.Fatalf("%s=%q is not an absolute path: go test runs each package in its own directory, so give the absolute path", CorpusEnv, root)
	}
	dir := filepath.Join(root, sub)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s is set but the corpus is not usable: %v (fix the path or unset %s)", CorpusEnv, err, CorpusEnv)
	}
	if len(entries) == 0 {
		t.Fatalf("%s is set but %s is empty (fix the path or unset %s)", CorpusEnv, dir, CorpusEnv)
	}
	return dir
}

// RequiredParams returns a value for every root input parameter of a
// compiled pipeline that has no default and is not optional.
func RequiredParams(t testing.TB, spec []byte) map[string]any {
	t.Helper()
	var doc struct {
		Root struct {
			InputDefinitions struct {
				Parameters map[string]struct {
					ParameterType string `yaml:"parameterType"`
					IsOptional    bool   `yaml:"isOptional"`
					DefaultValue  any    `yaml:"defaultValue"`
				} `yaml:"parameters"`
			} `yaml:"inputDefinitions"`
		} `yaml:"root"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(spec)).Decode(&doc); err != nil {
		t.Fatalf("parse pipeline spec: %v", err)
	}
	params := map[string]any{}
	for name, p := range doc.Root.InputDefinitions.Parameters {
		if p.IsOptional || p.DefaultValue != nil {
			continue
		}
		switch p.ParameterType {
		case "NUMBER_INTEGER":
			params[name] = 1
		case "NUMBER_DOUBLE":
			params[name] = 1.5
		case "BOOLEAN":
			params[name] = true
		case "LIST":
			params[name] = []any{"a", "b"}
		case "STRUCT":
			params[name] = map[string]any{"k": "v"}
		default:
			params[name] = "sandbox"
		}
	}
	return params
}

package kfp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The bodies below are what KFP's servers send, byte for byte where it
// matters: 2.0.5's from the sandbox (KFP 2.0.5's own code), the later
// ones from KFP's pipeline_upload_server.go, validation/length.go and
// grpc-gateway v2's error handler at the tags named.

// textAnswer answers as Go's http.Error does, or as a handler that writes
// without a Content-Type (net/http sniffs text/plain for JSON bytes).
func textAnswer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const (
	// KFP 2.0.5, a duplicate pipeline upload: 500, sniffed text/plain.
	dupPipeline205 = `{"error_message":"Failed to create a pipeline and a pipeline version: Failed to create a pipeline and a pipeline version: Already exist error: Failed to create a new pipeline. The name train already exists. Please specify a new name","error_details":"Failed to create a pipeline and a pipeline version: Failed to create a pipeline and a pipeline version: Already exist error: Failed to create a new pipeline. The name train already exists. Please specify a new name"}`
	// KFP 2.0.5, a duplicate version upload.
	dupVersion205 = `{"error_message":"Failed to create a pipeline version: Failed to create pipeline version in PipelineStore: Already exist error: Failed to create a new pipeline version. The name v1 already exist. Specify a new name","error_details":"Failed to create a pipeline version: Failed to create pipeline version in PipelineStore: Already exist error: Failed to create a new pipeline version. The name v1 already exist. Specify a new name"}`
	// KFP 2.1 to 2.14 (kubeflow/pipelines#10546): 409 JSON.
	dupPipeline25 = `{"error_message":"Failed to create a pipeline and a pipeline version. The pipeline already exists.: Failed to create a pipeline and a pipeline version: Already exist error: Failed to create a new pipeline. The name train already exists. Please specify a new name","error_details":"Failed to create a pipeline and a pipeline version. The pipeline already exists.: Failed to create a pipeline and a pipeline version: Already exist error: Failed to create a new pipeline. The name train already exists. Please specify a new name"}`
	// KFP ≥ 2.15: 409 JSON, the message sanitized.
	dupPipeline215 = `{"error_message":"Failed to create a pipeline and a pipeline version","error_details":"Failed to create a pipeline and a pipeline version"}`
	dupVersion215  = `{"error_message":"Failed to create a pipeline version","error_details":"Failed to create a pipeline version"}`
	// KFP ≥ 2.15, a name over the limit: http.Error's plain text.
	longName215 = "Invalid input error: PipelineVersion.Name length cannot exceed 127\n"
	// KFP 2.0.5 (grpc-gateway v1), a duplicate experiment.
	dupExperiment205 = `{"error":"Failed to create a experiment: Already exist error: Failed to create a new experiment. The name ci already exists. Please specify a new name","code":6,"message":"Failed to create a experiment: Already exist error: Failed to create a new experiment. The name ci already exists. Please specify a new name","details":[{"@type":"type.googleapis.com/google.rpc.Status","code":6,"message":"Failed to create a new experiment. The name ci already exists. Please specify a new name"}]}`
	// KFP ≥ 2.14 (grpc-gateway v2): no "error" key.
	dupExperiment217 = `{"code":6,"message":"Failed to create a experiment: Already exist error: Failed to create a new experiment. The name ci already exists. Please specify a new name","details":[]}`
	// KFP's NewBadRequestError is Aborted, also HTTP 409: not a duplicate.
	badRequest217 = `{"code":10,"message":"Failed to create an experiment: BadRequestError: the experiment's namespace is not allowed","details":[]}`
)

func TestAPIErrorShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		status int
		code   int
		msg    string
		hint   string
		dup    bool
	}{
		{
			name:   "2.0.5 duplicate: 500 text/plain JSON, repeats squeezed",
			answer: textAnswer(500, dupPipeline205),
			status: 500,
			msg:    "Failed to create a pipeline and a pipeline version: Already exist error: Failed to create a new pipeline. The name train already exists. Please specify a new name",
			dup:    true,
		},
		{
			name:   "2.5 duplicate: 409 JSON",
			answer: jsonAnswer(409, dupPipeline25),
			status: 409,
			msg:    "Failed to create a pipeline and a pipeline version. The pipeline already exists.: Failed to create a pipeline and a pipeline version: Already exist error: Failed to create a new pipeline. The name train already exists. Please specify a new name",
			dup:    true,
		},
		{
			name:   "2.15 duplicate: 409 JSON, sanitized",
			answer: jsonAnswer(409, dupPipeline215),
			status: 409,
			msg:    "Failed to create a pipeline and a pipeline version",
			dup:    true,
		},
		{
			name:   "2.15 name too long: 400 plain text",
			answer: textAnswer(400, longName215),
			status: 400,
			msg:    "Invalid input error: PipelineVersion.Name length cannot exceed 127",
			hint:   "KFP 2.15 and later limit lengths (experiment and pipeline names 128 bytes, version names 127, namespaces 63): shorten the one the message names",
		},
		{
			name:   "grpc-gateway v1 duplicate",
			answer: jsonAnswer(409, dupExperiment205),
			status: 409, code: 6,
			msg: "Failed to create a experiment: Already exist error: Failed to create a new experiment. The name ci already exists. Please specify a new name",
			dup: true,
		},
		{
			name:   "grpc-gateway v2 duplicate, no error key",
			answer: jsonAnswer(409, dupExperiment217),
			status: 409, code: 6,
			msg: "Failed to create a experiment: Already exist error: Failed to create a new experiment. The name ci already exists. Please specify a new name",
			dup: true,
		},
		{
			name:   "grpc-gateway v2 Aborted is 409 but no duplicate",
			answer: jsonAnswer(409, badRequest217),
			status: 409, code: 10,
			msg: "Failed to create an experiment: BadRequestError: the experiment's namespace is not allowed",
		},
		{
			name:   "grpc-gateway v2 not found",
			answer: jsonAnswer(404, `{"code":5,"message":"Failed to get pipeline: ResourceNotFoundError: Pipeline p1 not found","details":[]}`),
			status: 404, code: 5,
			msg: "Failed to get pipeline: ResourceNotFoundError: Pipeline p1 not found",
		},
		{
			name:   "other 500 text is no duplicate",
			answer: textAnswer(500, "upstream connect error or disconnect/reset before headers\n"),
			status: 500,
			msg:    "upstream connect error or disconnect/reset before headers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){"GET /apis/v2beta1/pipelines": {tt.answer}}}
			c := newTestClient(t, f, Target{})
			_, err := c.FindPipeline(context.Background(), "train")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if ae.Op != "ListPipelines" || ae.HTTPStatus != tt.status || ae.GRPCCode != tt.code || ae.Message != tt.msg || ae.Hint != tt.hint {
				t.Errorf("APIError = %+v\nwant status %d, code %d, message %q, hint %q", *ae, tt.status, tt.code, tt.msg, tt.hint)
			}
			if got := IsAlreadyExists(err); got != tt.dup {
				t.Errorf("IsAlreadyExists = %t, want %t", got, tt.dup)
			}
		})
	}
}

// A duplicate upload means a parallel job uploaded the same name first:
// kf-run takes what it finds, whichever way the KFP version says so.
func TestDuplicateUploadReconciled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		pipeline, vers func(http.ResponseWriter, *http.Request)
		split          bool // answers carry name and display_name (KFP ≥ 2.14)
	}{
		{"2.0.5", textAnswer(500, dupPipeline205), textAnswer(500, dupVersion205), false},
		{"2.5", jsonAnswer(409, dupPipeline25), jsonAnswer(409, dupPipeline25), false},
		{"2.17", jsonAnswer(409, dupPipeline215), jsonAnswer(409, dupVersion215), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The list answers: nothing before the upload, the parallel
			// job's afterwards. On 2.17 the display name differs.
			pipes := func(w http.ResponseWriter, r *http.Request) {
				jsonAnswer(200, `{"pipelines":[{"pipeline_id":"p1","name":"train","display_name":"Train"}]}`)(w, r)
			}
			vers := func(w http.ResponseWriter, r *http.Request) {
				jsonAnswer(200, `{"pipeline_versions":[{"pipeline_version_id":"pv1","name":"v1","display_name":"v1 (CI)"},{"pipeline_version_id":"pv0","name":"train","display_name":"train"}]}`)(w, r)
			}
			if !tc.split {
				pipes = func(w http.ResponseWriter, r *http.Request) {
					jsonAnswer(200, `{"pipelines":[{"pipeline_id":"p1","display_name":"train"}]}`)(w, r)
				}
				vers = func(w http.ResponseWriter, r *http.Request) {
					jsonAnswer(200, `{"pipeline_versions":[{"pipeline_version_id":"pv1","display_name":"v1"},{"pipeline_version_id":"pv0","display_name":"train"}]}`)(w, r)
				}
			}
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
				"POST /apis/v2beta1/pipelines/upload":         {tc.pipeline},
				"GET /apis/v2beta1/pipelines":                 {pipes},
				"POST /apis/v2beta1/pipelines/upload_version": {tc.vers},
				"GET /apis/v2beta1/pipelines/p1/versions":     {vers},
			}}
			c := newTestClient(t, f, Target{})
			ctx := context.Background()
			pid, vid, err := c.UploadPipeline(ctx, "train", "d", []byte("spec"))
			if err != nil || pid != "p1" || vid != "pv0" {
				t.Errorf("UploadPipeline = %q, %q, %v; want the parallel job's p1, pv0", pid, vid, err)
			}
			id, err := c.UploadVersion(ctx, "p1", "v1", "d", []byte("spec"))
			if err != nil || id != "pv1" {
				t.Errorf("UploadVersion = %q, %v; want the parallel job's pv1", id, err)
			}
		})
	}
}

// A duplicate kf-run cannot find is reported as such, with what to do.
func TestHiddenDuplicate(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"POST /apis/v2beta1/pipelines/upload":         {jsonAnswer(409, dupPipeline215)},
		"GET /apis/v2beta1/pipelines":                 {jsonAnswer(200, `{}`)},
		"POST /apis/v2beta1/pipelines/upload_version": {textAnswer(500, dupVersion205)},
		"GET /apis/v2beta1/pipelines/p1/versions":     {jsonAnswer(200, `{}`)},
		"POST /apis/v2beta1/experiments":              {jsonAnswer(409, dupExperiment217)},
		"GET /apis/v2beta1/experiments":               {jsonAnswer(200, `{}`)},
	}}
	c := newTestClient(t, f, Target{Namespace: "team-a"})
	ctx := context.Background()
	_, _, err := c.UploadPipeline(ctx, "train", "d", []byte("spec"))
	want := `UploadPipeline: HTTP 409: Failed to create a pipeline and a pipeline version. KFP says pipeline "train" already exists, yet kf-run finds none of that name in namespace team-a (another namespace may hold it, or these credentials may not see it): choose another name, or have that one deleted at KFP`
	if err == nil || err.Error() != want {
		t.Errorf("UploadPipeline error:\n got %v\nwant %s", err, want)
	}
	_, err = c.UploadVersion(ctx, "p1", "v1", "d", []byte("spec"))
	want = `UploadPipelineVersion: HTTP 500: Failed to create a pipeline version: Failed to create pipeline version in PipelineStore: Already exist error: Failed to create a new pipeline version. The name v1 already exist. Specify a new name. KFP says version "v1" of the pipeline already exists, yet kf-run finds none of that name: choose another name, or have that one deleted at KFP`
	if err == nil || err.Error() != want {
		t.Errorf("UploadVersion error:\n got %v\nwant %s", err, want)
	}
	_, err = c.EnsureExperiment(ctx, "ci")
	if !IsAlreadyExists(err) || !strings.Contains(err.Error(), `KFP says experiment "ci" already exists, yet kf-run finds none of that name in namespace team-a`) {
		t.Errorf("EnsureExperiment error: %v", err)
	}
}

// A parallel job's experiment is taken on a 409 with code 6, with or
// without grpc-gateway v1's "error" key; a 409 with code 10 is KFP's bad
// request and is returned at once, without looking again.
func TestExperimentConflict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		body  string
		found bool
		lists int
	}{
		{"2.0.5 AlreadyExists", dupExperiment205, true, 2},
		{"2.17 AlreadyExists", dupExperiment217, true, 2},
		{"2.17 Aborted", badRequest217, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
				"GET /apis/v2beta1/experiments":  {jsonAnswer(200, `{}`), jsonAnswer(200, `{"experiments":[{"experiment_id":"e1","display_name":"ci"}]}`)},
				"POST /apis/v2beta1/experiments": {jsonAnswer(409, tc.body)},
			}}
			c := newTestClient(t, f, Target{})
			id, err := c.EnsureExperiment(context.Background(), "ci")
			if tc.found && (err != nil || id != "e1") {
				t.Errorf("EnsureExperiment = %q, %v; want e1", id, err)
			}
			if !tc.found && (err == nil || !strings.Contains(err.Error(), "BadRequestError")) {
				t.Errorf("EnsureExperiment = %q, %v; want the bad request", id, err)
			}
			if n := f.count("GET /apis/v2beta1/experiments"); n != tc.lists {
				t.Errorf("%d lists, want %d", n, tc.lists)
			}
		})
	}
}

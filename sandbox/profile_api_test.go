package sandbox_test

// Tests of the API layer per KFP profile (profile_api.go), over HTTP. Each
// table has a row per profile; the 2.0 rows are KFP 2.0.5's own answers,
// which the layer must leave alone.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

var apiProfiles = []sandbox.Profile{sandbox.Profile20, sandbox.Profile25, sandbox.Profile217, sandbox.ProfileNext}

// apiAnswer is a raw answer with its headers.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a apiAnswer) String() string {
	return fmt.Sprintf("%d %s %s", a.status, a.header.Get("Content-Type"), a.body)
}

// object decodes a JSON object answer.
func (a apiAnswer) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not a JSON object: %s", a)
	}
	return m
}

func apiDo(t *testing.T, c *kfptest.Client, method, path string, body any) apiAnswer {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	return apiSend(t, c, method, path, rd, ct)
}

func apiSend(t *testing.T, c *kfptest.Client, method, path string, body io.Reader, ct string) apiAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.Base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiAnswer{resp.StatusCode, resp.Header, b}
}

// apiUpload posts a pipeline file to an upload route; query is the raw
// query string.
func apiUpload(t *testing.T, c *kfptest.Client, route, query, file string, data []byte) apiAnswer {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("uploadfile", file)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return apiSend(t, c, http.MethodPost, route+"?"+query, &body, mw.FormDataContentType())
}

func apiStart(t *testing.T, p sandbox.Profile) *kfptest.Client {
	t.Helper()
	_, c := start(t, sandbox.Options{Profile: p})
	return c
}

func TestAPIHealthz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile sandbox.Profile
		v1, v2  string
	}{
		// KFP 2.0.5 and 2.5 build the bytes by hand (note the spaces).
		{sandbox.Profile20,
			`{"commit_sha":"kfp-sandbox", "tag_name":"2.0.5", "multi_user":false}`,
			`{"commit_sha":"kfp-sandbox", "tag_name":"2.0.5", "multi_user":false}`},
		{sandbox.Profile25,
			`{"commit_sha":"kfp-sandbox", "tag_name":"2.5.0", "multi_user":false}`,
			`{"commit_sha":"kfp-sandbox", "tag_name":"2.5.0", "multi_user":false}`},
		// KFP 2.17 marshals a struct; pipeline_store is v2beta1's only.
		{sandbox.Profile217,
			`{"commit_sha":"kfp-sandbox","tag_name":"2.17.0","multi_user":false}`,
			`{"commit_sha":"kfp-sandbox","tag_name":"2.17.0","multi_user":false,"pipeline_store":"database"}`},
		{sandbox.ProfileNext,
			`{"commit_sha":"kfp-sandbox","tag_name":"2.17.0-next","multi_user":false}`,
			`{"commit_sha":"kfp-sandbox","tag_name":"2.17.0-next","multi_user":false,"pipeline_store":"database"}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.profile), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, tt.profile)
			for path, want := range map[string]string{"/apis/v1beta1/healthz": tt.v1, "/apis/v2beta1/healthz": tt.v2} {
				a := apiDo(t, c, http.MethodGet, path, nil)
				if a.status != 200 || a.header.Get("Content-Type") != "application/json" || string(a.body) != want {
					t.Errorf("%s: %s, want 200 application/json %s", path, a, want)
				}
			}
		})
	}
}

// TestAPIUploadErrors: duplicates are 500 text/plain in KFP 2.0.5, 409 JSON
// from 2.1; 2.15 sanitizes the messages and 2.17 answers invalid pipeline
// specs with 400.
func TestAPIUploadErrors(t *testing.T) {
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	const (
		textPlain = "text/plain; charset=utf-8"
		appJSON   = "application/json"
	)
	type want struct {
		status int
		ct     string
		msg    string // error_message prefix
		exact  bool   // error_message is msg exactly
	}
	dupPipeline := map[sandbox.Profile]want{
		sandbox.Profile20:   {500, textPlain, "Failed to create a pipeline and a pipeline version: Failed to create a pipeline and a pipeline version: Already exist error:", false},
		sandbox.Profile25:   {409, appJSON, "Failed to create a pipeline and a pipeline version. The pipeline already exists.: Failed to create a pipeline and a pipeline version: Already exist error:", false},
		sandbox.Profile217:  {409, appJSON, "Failed to create a pipeline and a pipeline version", true},
		sandbox.ProfileNext: {409, appJSON, "Failed to create a pipeline and a pipeline version", true},
	}
	dupVersion := map[sandbox.Profile]want{
		sandbox.Profile20:   {500, textPlain, "Failed to create a pipeline version: Failed to create pipeline version in PipelineStore: Already exist error:", false},
		sandbox.Profile25:   {409, appJSON, "Failed to create a pipeline version. The pipeline already exists.: Failed to create pipeline version in PipelineStore: Already exist error:", false},
		sandbox.Profile217:  {409, appJSON, "Failed to create a pipeline version", true},
		sandbox.ProfileNext: {409, appJSON, "Failed to create a pipeline version", true},
	}
	notAPipeline := map[sandbox.Profile]want{
		sandbox.Profile20:   {500, textPlain, "Failed to create a pipeline and a pipeline version: Failed to create a pipeline and a pipeline version due to template creation error", false},
		sandbox.Profile25:   {500, appJSON, "Failed to create a pipeline and a pipeline version: Failed to create a pipeline and a pipeline version due to template creation error", false},
		sandbox.Profile217:  {400, appJSON, "unknown template format", false},
		sandbox.ProfileNext: {400, appJSON, "unknown template format", false},
	}
	badExtension := map[sandbox.Profile]want{
		sandbox.Profile20:   {400, textPlain, "Failed to read a pipeline spec file: Invalid input error: Unexpected pipeline file format", false},
		sandbox.Profile25:   {400, textPlain, "Failed to read a pipeline spec file: Invalid input error: Unexpected pipeline file format", false},
		sandbox.Profile217:  {400, textPlain, "Failed to read a pipeline spec file", true},
		sandbox.ProfileNext: {400, textPlain, "Failed to read a pipeline spec file", true},
	}
	noPipelineID := map[sandbox.Profile]want{
		sandbox.Profile20:   {400, textPlain, "Failed to create a pipeline version due to error reading pipeline id", false},
		sandbox.Profile25:   {400, textPlain, "Failed to create a pipeline version due to error reading pipeline id", false},
		sandbox.Profile217:  {400, textPlain, "Failed to create a pipeline version", true},
		sandbox.ProfileNext: {400, textPlain, "Failed to create a pipeline version", true},
	}
	for _, p := range apiProfiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, p)
			first := apiUpload(t, c, "/apis/v2beta1/pipelines/upload", "name=dup", "p.yaml", spec)
			if first.status != 200 {
				t.Fatalf("first upload: %s", first)
			}
			pid := first.object(t)["pipeline_id"].(string)
			tests := []struct {
				name, route, query, file string
				data                     []byte
				want                     want
			}{
				{"duplicate pipeline v2beta1", "/apis/v2beta1/pipelines/upload", "name=dup", "p.yaml", spec, dupPipeline[p]},
				{"duplicate pipeline v1beta1", "/apis/v1beta1/pipelines/upload", "name=dup", "p.yaml", spec, dupPipeline[p]},
				{"duplicate version v2beta1", "/apis/v2beta1/pipelines/upload_version", "name=dup&pipelineid=" + pid, "p.yaml", spec, dupVersion[p]},
				{"duplicate version v1beta1", "/apis/v1beta1/pipelines/upload_version", "name=dup&pipelineid=" + pid, "p.yaml", spec, dupVersion[p]},
				{"valid YAML that is no pipeline", "/apis/v2beta1/pipelines/upload", "name=nope", "a.yaml", []byte("a: 1\n"), notAPipeline[p]},
				{"unknown extension", "/apis/v2beta1/pipelines/upload", "name=nope", "a.txt", spec, badExtension[p]},
				{"version without pipelineid", "/apis/v2beta1/pipelines/upload_version", "name=v", "p.yaml", spec, noPipelineID[p]},
			}
			for _, tt := range tests {
				a := apiUpload(t, c, tt.route, tt.query, tt.file, tt.data)
				var e struct {
					Message string `json:"error_message"`
					Details string `json:"error_details"`
				}
				if err := json.Unmarshal(a.body, &e); err != nil {
					t.Errorf("%s: %s: not in the upload error shape", tt.name, a)
					continue
				}
				okMsg := strings.HasPrefix(e.Message, tt.want.msg)
				if tt.want.exact {
					okMsg = e.Message == tt.want.msg
				}
				if a.status != tt.want.status || a.header.Get("Content-Type") != tt.want.ct || !okMsg || e.Details == "" {
					t.Errorf("%s: %s\nwant %d %s, error_message %q (exact %t)", tt.name, a, tt.want.status, tt.want.ct, tt.want.msg, tt.want.exact)
				}
			}
		})
	}
}

// TestAPIGatewayErrors: grpc-gateway v1's error bodies up to 2.5, v2's
// (no "error", JSON routing errors) from 2.17, the sandbox's own errors
// included.
func TestAPIGatewayErrors(t *testing.T) {
	t.Parallel()
	for _, p := range apiProfiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, p)
			v2 := p == sandbox.Profile217 || p == sandbox.ProfileNext
			apiDo(t, c, http.MethodPost, "/apis/v2beta1/experiments", map[string]any{"display_name": "taken"})
			tests := []struct {
				name, method, path string
				body               any
				status, code       int
			}{
				{"not found", "GET", "/apis/v2beta1/runs/00000000-0000-0000-0000-000000000000", nil, 404, 5},
				{"already exists", "POST", "/apis/v2beta1/experiments", map[string]any{"display_name": "taken"}, 409, 6},
				{"invalid argument", "POST", "/apis/v2beta1/pipelines", map[string]any{}, 400, 3},
				{"sandbox's own error", "POST", "/apis/v1beta1/runs", map[string]any{"name": "x", "pipeline_spec": map[string]any{"pipeline_manifest": "a: [\n"}}, 400, 3},
			}
			for _, tt := range tests {
				a := apiDo(t, c, tt.method, tt.path, tt.body)
				m := a.object(t)
				_, hasError := m["error"]
				if a.status != tt.status || a.header.Get("Content-Type") != "application/json" || m["code"] != float64(tt.code) || m["message"] == "" || hasError == v2 {
					t.Errorf("%s: %s, want %d code %d with \"error\" = %t", tt.name, a, tt.status, tt.code, !v2)
				}
			}
			// Routing errors: http.Error text in grpc-gateway v1, statuses in v2.
			routing := []struct {
				method, path string
				v1Status     int
				v1Body       string
				v2Status     int
				v2Body       string
			}{
				{"GET", "/apis/v2beta1/nope", 404, "Not Found\n", 404, `{"code":5,"message":"Not Found"}`},
				{"PUT", "/apis/v2beta1/experiments", 405, "Method Not Allowed\n", 501, `{"code":12,"message":"Method Not Allowed"}`},
			}
			for _, tt := range routing {
				a := apiDo(t, c, tt.method, tt.path, nil)
				status, body, ct := tt.v1Status, tt.v1Body, "text/plain; charset=utf-8"
				if v2 {
					status, body, ct = tt.v2Status, tt.v2Body, "application/json"
				}
				if a.status != status || string(a.body) != body || a.header.Get("Content-Type") != ct {
					t.Errorf("%s %s: %s, want %d %s %q", tt.method, tt.path, a, status, ct, body)
				}
			}
		})
	}
}

// TestAPIStrictParsing: KFP 2.17 refuses unknown JSON fields (protojson,
// DiscardUnknown false); KFP 2.0.5 ignores them. Fields 2.17 added are
// accepted, and so is what the 2.0.5 Go client sends.
func TestAPIStrictParsing(t *testing.T) {
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	for _, p := range apiProfiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, p)
			strict := p == sandbox.Profile217 || p == sandbox.ProfileNext
			pid, vid := c.Upload(t, "strict", "p.yaml", spec)
			tests := []struct {
				name, method, path string
				body               any
				refused            string // the protojson complaint in 2.17; "" = accepted everywhere
			}{
				{"unknown field", "POST", "/apis/v2beta1/experiments", `{"display_name":"e1","bogus":1}`, `unknown field "bogus"`},
				{"unknown nested field", "POST", "/apis/v2beta1/runs",
					map[string]any{"display_name": "r1", "pipeline_version_reference": map[string]any{"pipeline_id": pid, "pipeline_version_id": vid, "typo": true}, "runtime_config": map[string]any{"parameters": map[string]any{"text": "hi"}}},
					`unknown field "typo"`},
				{"unknown v1beta1 field", "POST", "/apis/v1beta1/experiments", `{"name":"e2","colour":"red"}`, `unknown field "colour"`},
				{"json names", "POST", "/apis/v2beta1/experiments", `{"displayName":"e3"}`, ""},
				{"fields 2.17 added", "POST", "/apis/v2beta1/pipelines", `{"display_name":"p1","name":"p1","tags":{"team":"ml"}}`, ""},
				{"what the 2.0.5 client sends", "POST", "/apis/v2beta1/runs",
					`{"display_name":"r2","created_at":"0001-01-01T00:00:00.000Z","state_history":null,` +
						`"pipeline_version_reference":{"pipeline_id":"` + pid + `","pipeline_version_id":"` + vid + `"},"runtime_config":{"parameters":{"text":"hi"}}}`, ""},
			}
			for _, tt := range tests {
				a := apiDo(t, c, tt.method, tt.path, tt.body)
				if tt.refused == "" || !strict {
					if a.status != 200 {
						t.Errorf("%s: %s, want 200", tt.name, a)
					}
					continue
				}
				m := a.object(t)
				msg, _ := m["message"].(string)
				if a.status != 400 || m["code"] != float64(3) || !strings.Contains(msg, tt.refused) || m["error"] != nil {
					t.Errorf("%s: %s, want 400 code 3 saying %s", tt.name, a, tt.refused)
				}
			}
		})
	}
}

// TestAPINameLengths: KFP 2.15's limits (2af42c323f) on the stored,
// unique name: 128 for experiments and pipelines, 127 for versions. The
// uploads answer with http.Error; the JSON creates fail in KFP's
// converters, which makes them Internal (500, code 13).
func TestAPINameLengths(t *testing.T) {
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	for _, p := range apiProfiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, p)
			limits := p == sandbox.Profile217 || p == sandbox.ProfileNext
			pid, _ := c.Upload(t, "lengths", "p.yaml", spec)
			uploads := []struct {
				name, route, query string
				refused            string
			}{
				{"pipeline name of 128", "/apis/v2beta1/pipelines/upload", "name=" + long('a', 128), ""},
				{"pipeline name of 129", "/apis/v2beta1/pipelines/upload", "name=" + long('b', 129), "Invalid input error: Pipeline.Name length cannot exceed 128\n"},
				{"display name of 129 is the name", "/apis/v1beta1/pipelines/upload", "display_name=" + long('c', 129), "Invalid input error: Pipeline.Name length cannot exceed 128\n"},
				{"version name of 127", "/apis/v2beta1/pipelines/upload_version", "pipelineid=" + pid + "&name=" + long('d', 127), ""},
				{"version name of 128", "/apis/v2beta1/pipelines/upload_version", "pipelineid=" + pid + "&name=" + long('e', 128), "Invalid input error: PipelineVersion.Name length cannot exceed 127\n"},
			}
			for _, tt := range uploads {
				a := apiUpload(t, c, tt.route, tt.query, "p.yaml", spec)
				if tt.refused == "" || !limits {
					if a.status != 200 {
						t.Errorf("%s: %s, want 200", tt.name, a)
					}
					continue
				}
				if a.status != 400 || a.header.Get("Content-Type") != "text/plain; charset=utf-8" || string(a.body) != tt.refused {
					t.Errorf("%s: %s, want 400 text/plain %q", tt.name, a, tt.refused)
				}
			}
			creates := []struct {
				name, path string
				body       map[string]any
				refused    string
			}{
				{"experiment of 128", "/apis/v2beta1/experiments", map[string]any{"display_name": long('f', 128)}, ""},
				{"experiment of 129", "/apis/v2beta1/experiments", map[string]any{"display_name": long('g', 129)},
					"[ExperimentServer]: Failed to create a experiment due to conversion error: InternalServerError: Failed to convert API experiment to model experiment: Invalid input error: Experiment.Name length cannot exceed 128"},
				{"v1beta1 experiment of 129", "/apis/v1beta1/experiments", map[string]any{"name": long('h', 129)},
					"[ExperimentServer]: Failed to create a v1beta1 experiment due to conversion error: InternalServerError: Failed to convert API experiment to model experiment: Invalid input error: Experiment.Name length cannot exceed 128"},
				{"pipeline name of 129", "/apis/v2beta1/pipelines", map[string]any{"name": long('i', 129), "display_name": "short"},
					"Failed to create a pipeline as pipeline conversion failed: InternalServerError: Failed to convert API pipeline to model pipeline: Invalid input error: Pipeline.Name length cannot exceed 128"},
				{"display name of 129 beside a name", "/apis/v2beta1/pipelines", map[string]any{"name": "short-name", "display_name": long('j', 129)}, ""},
			}
			for _, tt := range creates {
				a := apiDo(t, c, http.MethodPost, tt.path, tt.body)
				if tt.refused == "" || !limits {
					if a.status != 200 {
						t.Errorf("%s: %s, want 200", tt.name, a)
					}
					continue
				}
				m := a.object(t)
				if a.status != 500 || m["code"] != float64(13) || m["message"] != tt.refused || m["error"] != nil {
					t.Errorf("%s: %s, want 500 code 13 %q", tt.name, a, tt.refused)
				}
			}
		})
	}
}

// TestAPIDisplayNames: from KFP 2.14 (ea20731060) pipelines and versions
// have a unique name and a free display_name; uploads honour
// ?display_name, and a display_name filter matches display names.
func TestAPIDisplayNames(t *testing.T) {
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	for _, p := range apiProfiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, p)
			names := p == sandbox.Profile217 || p == sandbox.ProfileNext
			// want is the name and display name an answer carries: KFP 2.0.5
			// has no name field, and its display_name is the unique name.
			check := func(what string, o map[string]any, name, display string) {
				t.Helper()
				wantName, wantDisplay := name, display
				if !names {
					wantName, wantDisplay = "<nil>", name
				}
				if got := fmt.Sprint(o["name"]); got != wantName || o["display_name"] != wantDisplay {
					t.Errorf("%s: name %s display_name %v, want %s and %s", what, got, o["display_name"], wantName, wantDisplay)
				}
			}
			// Two pipelines with the same display name, one with only a
			// display name (it becomes the name), one with a file name only.
			a1 := apiUpload(t, c, "/apis/v2beta1/pipelines/upload", "name=alpha&display_name="+url.QueryEscape("Shared Name"), "p.yaml", spec)
			a2 := apiUpload(t, c, "/apis/v2beta1/pipelines/upload", "name=beta&display_name="+url.QueryEscape("Shared Name"), "p.yaml", spec)
			a3 := apiUpload(t, c, "/apis/v2beta1/pipelines/upload", "display_name=gamma", "gamma.yaml", spec)
			for _, a := range []apiAnswer{a1, a2, a3} {
				if a.status != 200 {
					t.Fatalf("upload: %s", a)
				}
			}
			check("upload answer", a1.object(t), "alpha", "Shared Name")
			alpha := a1.object(t)["pipeline_id"].(string)
			check("pipeline get", apiDo(t, c, "GET", "/apis/v2beta1/pipelines/"+alpha, nil).object(t), "alpha", "Shared Name")
			if names {
				check("display name only", a3.object(t), "gamma", "gamma")
			} else {
				check("display name ignored", a3.object(t), "gamma.yaml", "")
			}
			// The pipeline's first version has its display name too; a
			// second version gets its own.
			v2 := apiUpload(t, c, "/apis/v2beta1/pipelines/upload_version", "pipelineid="+alpha+"&name=alpha-2&display_name="+url.QueryEscape("Shared Name"), "p.yaml", spec)
			if v2.status != 200 {
				t.Fatalf("upload_version: %s", v2)
			}
			check("upload_version answer", v2.object(t), "alpha-2", "Shared Name")
			versions := kfptest.Response{Body: apiDo(t, c, "GET", "/apis/v2beta1/pipelines/"+alpha+"/versions?sort_by=created_at", nil).body}.JSON(t)
			for _, v := range versions["pipeline_versions"].([]any) {
				vo := v.(map[string]any)
				if vo["pipeline_version_id"] == v2.object(t)["pipeline_version_id"] {
					check("version list", vo, "alpha-2", "Shared Name")
				} else {
					check("first version", vo, "alpha", "Shared Name")
				}
			}
			// A JSON create with both fields.
			j := apiDo(t, c, "POST", "/apis/v2beta1/pipelines", map[string]any{"name": "delta", "display_name": "Delta Shown"})
			if j.status != 200 {
				t.Fatalf("create: %s", j)
			}
			if names {
				check("create answer", j.object(t), "delta", "Delta Shown")
			} else {
				check("create answer", j.object(t), "Delta Shown", "")
			}

			filter := func(key, value string) string {
				return "filter=" + url.QueryEscape(fmt.Sprintf(`{"predicates":[{"key":%q,"operation":"EQUALS","string_value":%q}]}`, key, value))
			}
			lists := []struct {
				name, path string
				want       []string // names, in order
				total      float64
				more       bool
			}{
				{"by name", "/apis/v2beta1/pipelines?" + filter("name", "alpha"), []string{"alpha"}, 1, false},
				{"by display name", "/apis/v2beta1/pipelines?sort_by=name&" + filter("display_name", "Shared Name"), []string{"alpha", "beta"}, 2, false},
				{"by display name, one a page", "/apis/v2beta1/pipelines?sort_by=name&page_size=1&" + filter("display_name", "Shared Name"), []string{"alpha"}, 2, true},
				{"versions by display name", "/apis/v2beta1/pipelines/" + alpha + "/versions?sort_by=name&" + filter("display_name", "Shared Name"), []string{"alpha", "alpha-2"}, 2, false},
				// Byte order: "gamma" > "Shared Name" > "Delta Shown".
				{"sorted by display name", "/apis/v2beta1/pipelines?sort_by=display_name%20desc&page_size=1", []string{"gamma"}, 4, true},
				{"sorted by display name, ascending", "/apis/v2beta1/pipelines?sort_by=display_name&page_size=1", []string{"delta"}, 4, true},
			}
			if !names {
				lists = lists[:1]
				lists = append(lists, struct {
					name, path string
					want       []string
					total      float64
					more       bool
				}{"display name is the name", "/apis/v2beta1/pipelines?" + filter("display_name", "beta"), []string{"beta"}, 1, false})
			}
			for _, tt := range lists {
				a := apiDo(t, c, "GET", tt.path, nil)
				m := a.object(t)
				key := "pipelines"
				if strings.Contains(tt.path, "/versions") {
					key = "pipeline_versions"
				}
				var got []string
				items, _ := m[key].([]any)
				for _, x := range items {
					o := x.(map[string]any)
					n := o["name"]
					if !names {
						n = o["display_name"]
					}
					got = append(got, fmt.Sprint(n))
				}
				_, more := m["next_page_token"]
				if a.status != 200 || strings.Join(got, ",") != strings.Join(tt.want, ",") || m["total_size"] != tt.total || more != tt.more {
					t.Errorf("%s: %s\nwant %v total %v more %t", tt.name, a, tt.want, tt.total, tt.more)
				}
				if tok, _ := m["next_page_token"].(string); tok != "" && tt.name == "by display name, one a page" {
					next := apiDo(t, c, "GET", tt.path+"&page_token="+url.QueryEscape(tok), nil).object(t)
					items, _ := next["pipelines"].([]any)
					if len(items) != 1 || items[0].(map[string]any)["name"] != "beta" || next["next_page_token"] != nil {
						t.Errorf("second page: %v, want beta and no more", next)
					}
				}
			}
		})
	}
}

// TestAPILastRunCreatedAt: from KFP 2.4 (db8669c33e) experiments say when
// their last run was created; 1970 when there is none.
func TestAPILastRunCreatedAt(t *testing.T) {
	t.Parallel()
	spec := kfptest.Pipeline(t, "two_step.yaml")
	for _, p := range apiProfiles {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := apiStart(t, p)
			has := p != sandbox.Profile20
			pid, vid := c.Upload(t, "last-run", "p.yaml", spec)
			exp := apiDo(t, c, "POST", "/apis/v2beta1/experiments", map[string]any{"display_name": "runs here"}).object(t)
			expID := exp["experiment_id"].(string)
			lastRun := func(what string, o map[string]any, want string) {
				t.Helper()
				got, ok := o["last_run_created_at"]
				if !has {
					if ok {
						t.Errorf("%s: last_run_created_at %v in KFP 2.0.5", what, got)
					}
					return
				}
				if got != want {
					t.Errorf("%s: last_run_created_at %v, want %s", what, got, want)
				}
			}
			lastRun("create answer", exp, "1970-01-01T00:00:00Z")
			run := c.Must(t, 200, "POST", "/apis/v2beta1/runs", map[string]any{
				"display_name": "r", "experiment_id": expID,
				"pipeline_version_reference": map[string]string{"pipeline_id": pid, "pipeline_version_id": vid},
				"runtime_config":             map[string]any{"parameters": map[string]any{"text": "hi"}},
			}).JSON(t)
			lastRun("get after a v2beta1 run", apiDo(t, c, "GET", "/apis/v2beta1/experiments/"+expID, nil).object(t), run["created_at"].(string))
			v1 := c.Must(t, 200, "POST", "/apis/v1beta1/runs", map[string]any{
				"name":                "r1",
				"pipeline_spec":       map[string]any{"pipeline_id": pid},
				"resource_references": []any{map[string]any{"key": map[string]any{"type": "EXPERIMENT", "id": expID}, "relationship": "OWNER"}, map[string]any{"key": map[string]any{"type": "PIPELINE_VERSION", "id": vid}, "relationship": "CREATOR"}},
			}).JSON(t)
			created := v1["run"].(map[string]any)["created_at"].(string)
			list := apiDo(t, c, "GET", "/apis/v2beta1/experiments", nil).object(t)
			found := false
			for _, x := range list["experiments"].([]any) {
				if o := x.(map[string]any); o["experiment_id"] == expID {
					found = true
					lastRun("list after a v1beta1 run", o, created)
				}
			}
			if !found {
				t.Fatalf("experiment %s not listed: %v", expID, list)
			}
		})
	}
}

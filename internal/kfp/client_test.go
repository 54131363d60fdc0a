package kfp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeKFP answers with scripted responses per "METHOD path" and records
// every request. Requests nobody scripted fail the test.
type fakeKFP struct {
	t    *testing.T
	mu   sync.Mutex
	seen []*http.Request
	body []string
	// answers are consumed in order per key; the last one repeats.
	answers map[string][]func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeKFP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r)
	f.body = append(f.body, string(b))
	key := r.Method + " " + r.URL.Path
	as := f.answers[key]
	var a func(http.ResponseWriter, *http.Request)
	if len(as) > 0 {
		a = as[0]
		if len(as) > 1 {
			f.answers[key] = as[1:]
		}
	}
	f.mu.Unlock()
	if a == nil {
		f.t.Errorf("unexpected request %s", key)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	a(w, r)
}

func (f *fakeKFP) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.seen {
		if r.Method+" "+r.URL.Path == key {
			n++
		}
	}
	return n
}

func jsonAnswer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func newTestClient(t *testing.T, f *fakeKFP, target Target) *Client {
	return newTestClientVia(t, f, target, nil)
}

func newTestClientVia(t *testing.T, f *fakeKFP, target Target, rt http.RoundTripper) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.t = t
	target.Host = srv.URL + target.Host
	// One look after a lost create: TestLateCommit covers looking longer.
	c, err := New(target, Options{Transport: rt, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond, AttemptTimeout: 5 * time.Second, ReconcileFor: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		want   APIError
		text   string
	}{
		{
			name:   "gateway error",
			answer: jsonAnswer(404, `{"error":"Run not found","code":5,"message":"Run not found","details":[]}`),
			want:   APIError{Op: "GetRun", HTTPStatus: 404, GRPCCode: 5, Message: "Run not found"},
			text:   "GetRun: HTTP 404 (grpc 5): Run not found",
		},
		{
			name: "upload error shape without content type",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(500)
				io.WriteString(w, `{"error_message":"Already exist error: The name p already exists","error_details":"x"}`)
			},
			want: APIError{Op: "GetRun", HTTPStatus: 500, Message: "Already exist error: The name p already exists"},
		},
		{
			name:   "2xx other than 200 does not panic",
			answer: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) },
			want:   APIError{Op: "GetRun", HTTPStatus: 204, Message: "No Content"},
		},
		{
			name: "redirect to a login page",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/dex/auth?client_id=kubeflow", http.StatusFound)
			},
			want: APIError{Op: "GetRun", HTTPStatus: 302, Location: "/dex/auth?client_id=kubeflow", Message: `<a href="/dex/auth?client_id=kubeflow">Found</a>.`},
			text: "GetRun: HTTP 302 redirect to /dex/auth?client_id=kubeflow: login required",
		},
		{
			name: "html with 200",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html>sign in</html>")
			},
			want: APIError{Op: "GetRun", HTTPStatus: 200, Message: `unexpected Content-Type "text/html" (a login page or proxy answered instead of KFP)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){"GET /apis/v2beta1/runs/r1": {tt.answer}}}
			c := newTestClient(t, f, Target{})
			_, err := c.GetRun(context.Background(), "r1")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("GetRun error = %v (%T), want *APIError", err, err)
			}
			if diff := cmp.Diff(tt.want, *ae); diff != "" {
				t.Errorf("APIError (-want +got):\n%s", diff)
			}
			if tt.text != "" && !strings.HasPrefix(ae.Error(), tt.text) {
				t.Errorf("Error() = %q, want prefix %q", ae.Error(), tt.text)
			}
			if n := f.count("GET /apis/v2beta1/runs/r1"); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ok := jsonAnswer(200, `{"run_id":"r1","state":"RUNNING"}`)
	tests := []struct {
		name     string
		answers  []func(http.ResponseWriter, *http.Request)
		wantErr  int // HTTP status of the final error, 0 for success
		requests int
	}{
		{"503 twice then ok", []func(http.ResponseWriter, *http.Request){jsonAnswer(503, `{"code":14,"message":"unavailable"}`), jsonAnswer(503, `{}`), ok}, 0, 3},
		{"429 with Retry-After", []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		}, ok}, 0, 2},
		{"500 is never retried", []func(http.ResponseWriter, *http.Request){jsonAnswer(500, `{"code":13,"message":"internal"}`)}, 500, 1},
		{"503 forever keeps the status", []func(http.ResponseWriter, *http.Request){jsonAnswer(503, `{"code":14,"message":"unavailable"}`)}, 503, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){"GET /apis/v2beta1/runs/r1": tt.answers}}
			c := newTestClient(t, f, Target{})
			run, err := c.GetRun(context.Background(), "r1")
			var ae *APIError
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Fatalf("GetRun: %v", err)
			case tt.wantErr == 0 && run.State != StateRunning:
				t.Errorf("state = %q", run.State)
			case tt.wantErr != 0 && (!errors.As(err, &ae) || ae.HTTPStatus != tt.wantErr):
				t.Errorf("GetRun error = %v, want HTTP %d", err, tt.wantErr)
			}
			if n := f.count("GET /apis/v2beta1/runs/r1"); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
}

// A create whose answer is lost is not repeated blindly: the run is looked
// up by the token in its description first.
func TestCreateRunReconcilesLostAnswer(t *testing.T) {
	t.Parallel()
	var created string
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"GET /apis/v2beta1/runs": {func(w http.ResponseWriter, r *http.Request) {
			filter := r.URL.Query().Get("filter")
			// KFP unescapes the filter a second time.
			inner, err := url.QueryUnescape(filter)
			if err != nil || !strings.Contains(inner, `"operation":"EQUALS"`) || r.URL.Query().Get("experiment_id") != "e1" {
				t.Errorf("list filter = %q (%v)", filter, err)
			}
			b, _ := json.Marshal(map[string]any{"runs": []any{map[string]any{"run_id": "r9", "description": created, "state": "PENDING"}}})
			jsonAnswer(200, string(b))(w, r)
		}},
	}}
	c := newTestClient(t, f, Target{})
	// The fake has read the body already: take it from the record.
	f.answers["POST /apis/v2beta1/runs"] = []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		var body map[string]any
		_ = json.Unmarshal([]byte(f.body[len(f.body)-1]), &body)
		f.mu.Unlock()
		created, _ = body["description"].(string)
		jsonAnswer(504, `{"code":4,"message":"upstream timeout"}`)(w, r) // created, but the answer is lost
	}}
	run, err := c.CreateRun(context.Background(), RunRequest{Name: "r", Description: "from CI", ExperimentID: "e1", PipelineID: "p", VersionID: "v", Token: "tok123"})
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if run.ID != "r9" {
		t.Errorf("run id = %q, want the run found by its token", run.ID)
	}
	if n := f.count("POST /apis/v2beta1/runs"); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	if want := "from CI\nkf-run:tok123"; created != want {
		t.Errorf("description = %q, want %q", created, want)
	}
}

func TestCredentialsAndBody(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"POST /pipeline/apis/v2beta1/runs": {jsonAnswer(503, `{}`), jsonAnswer(200, `{"run_id":"r1"}`)},
		// After a 503 the run is looked for (not there), then created.
		"GET /pipeline/apis/v2beta1/runs": {jsonAnswer(200, `{}`)},
	}}
	// The transport (internal/auth's, in kf-run) sees every attempt.
	creds := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer s3cr3t")
		r.Header.Set("X-Team", "ml")
		r.AddCookie(&http.Cookie{Name: "oauth2_proxy_kubeflow", Value: "c00kie"})
		return http.DefaultTransport.RoundTrip(r)
	})
	c := newTestClientVia(t, f, Target{Host: "/pipeline"}, creds)
	if _, err := c.CreateRun(context.Background(), RunRequest{Name: "r", Spec: map[string]any{"pipelineInfo": map[string]any{"name": "p"}}, Parameters: map[string]any{"n": 1}, Token: "t1"}); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) != 3 {
		t.Fatalf("%d requests, want 3 (create, look, create)", len(f.seen))
	}
	for i, r := range f.seen {
		if got := r.Header.Get("Authorization"); got != "Bearer s3cr3t" {
			t.Errorf("attempt %d: Authorization = %q", i, got)
		}
		if got := r.Header.Get("X-Team"); got != "ml" {
			t.Errorf("attempt %d: X-Team = %q", i, got)
		}
		if got := r.Header.Get("User-Agent"); got != "kf-run" {
			t.Errorf("attempt %d: User-Agent = %q, want kf-run", i, got)
		}
		if ck, err := r.Cookie("oauth2_proxy_kubeflow"); err != nil || ck.Value != "c00kie" {
			t.Errorf("attempt %d: cookie = %v, %v", i, ck, err)
		}
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.body[2]), &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"created_at", "scheduled_at", "finished_at"} {
		if _, ok := body[k]; ok {
			t.Errorf("request body has zero time %s: %s", k, f.body[2])
		}
	}
	if _, ok := body["pipeline_spec"].(map[string]any); !ok {
		t.Errorf("pipeline_spec is not a JSON object: %s", f.body[2])
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRunURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target Target
		want   string
	}{
		{Target{Host: "http://127.0.0.1:8080"}, "http://127.0.0.1:8080/#/runs/details/r1"}, // a port-forward of ml-pipeline-ui
		{Target{Host: "https://kf.example.com/pipeline", Namespace: "team-a"}, "https://kf.example.com/_/pipeline/?ns=team-a#/runs/details/r1"},
		{Target{Host: "https://kf.example.com/pipeline/"}, "https://kf.example.com/pipeline/#/runs/details/r1"},
		{Target{Host: "http://api:8888", UIURL: "https://ui.example.com"}, "https://ui.example.com/#/runs/details/r1"},
		// The API server itself serves no UI: no link rather than a dead one.
		{Target{Host: "http://127.0.0.1:8888"}, ""},
		{Target{Host: "http://ml-pipeline.kubeflow.svc.cluster.local:8888"}, ""},
		{Target{Host: "https://10.0.0.1:6443/api/v1/namespaces/kubeflow/services/ml-pipeline:8888/proxy"}, ""},
		{Target{Host: "http://ml-pipeline-ui.kubeflow:80"}, "http://ml-pipeline-ui.kubeflow:80/#/runs/details/r1"},
	}
	for _, tt := range tests {
		if got := tt.target.RunURL("r1"); got != tt.want {
			t.Errorf("RunURL(%+v) = %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestTasksPicksIRTasks(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// No child IDs: no tree, so nodes match by display name.
	run := Run{Nodes: []Node{
		{Name: "pipeline-x-0", State: StateFailed},
		{Name: "root-driver", State: StateSucceeded},
		{Name: "train-driver", State: StateSucceeded},
		{Name: "executor", State: StateFailed},
		{Name: "train", State: StateFailed, Start: t0, End: t0.Add(time.Minute)},
		{Name: "prep", State: StateSucceeded, Start: t0.Add(-time.Minute), End: t0},
		{Name: "for-loop-1-iterations", State: StateRunning, Start: t0},
		{Name: "eval", State: StateSucceeded, Start: t0, End: t0.Add(time.Second)},
		{Name: "eval", State: StateRunning, Start: t0.Add(-time.Second), End: t0.Add(time.Minute)},
	}}
	got := run.Tasks([]string{"prep", "train", "for-loop-1", "eval", "report"})
	want := []Task{
		{Name: "prep", State: StateSucceeded, Start: t0.Add(-time.Minute), End: t0},
		{Name: "train", State: StateFailed, Start: t0, End: t0.Add(time.Minute)},
		{Name: "for-loop-1", State: StateRunning, Start: t0},
		{Name: "eval", State: StateRunning, Start: t0.Add(-time.Second)},
		{Name: "report"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tasks (-want +got):\n%s", diff)
	}
}

type permanentErr struct{}

func (permanentErr) Error() string   { return "login refused" }
func (permanentErr) Permanent() bool { return true }

// A transport error that says retrying cannot help (a refused login) is
// returned at once; other transport errors of a read are retried.
func TestPermanentTransportErrorNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{{permanentErr{}, 1}, {errors.New("connection reset"), 3}} {
		var mu sync.Mutex
		n := 0
		rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
			mu.Lock()
			n++
			mu.Unlock()
			return nil, tc.err
		})
		c, err := New(Target{Host: "http://127.0.0.1:1"}, Options{Transport: rt, RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetRun(context.Background(), "r1"); err == nil || !strings.Contains(err.Error(), tc.err.Error()) {
			t.Errorf("err = %v", err)
		}
		if n != tc.want {
			t.Errorf("%v: %d attempts, want %d", tc.err, n, tc.want)
		}
	}
}

// A 502 or 503 on a create may come from a gateway after KFP got the
// request: the create is not repeated before looking for what it made.
func TestCreateNotRepeatedBlindly(t *testing.T) {
	t.Parallel()
	for _, status := range []int{502, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			var desc string
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){}}
			f.answers["POST /apis/v2beta1/runs"] = []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				f.mu.Lock()
				var body map[string]any
				_ = json.Unmarshal([]byte(f.body[len(f.body)-1]), &body)
				desc, _ = body["description"].(string)
				f.mu.Unlock()
				jsonAnswer(status, `{}`)(w, r)
			}}
			f.answers["GET /apis/v2beta1/runs"] = []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				b, _ := json.Marshal(map[string]any{"runs": []any{map[string]any{"run_id": "r7", "description": desc}}})
				jsonAnswer(200, string(b))(w, r)
			}}
			c := newTestClient(t, f, Target{})
			run, err := c.CreateRun(context.Background(), RunRequest{Name: "r", ExperimentID: "e", PipelineID: "p", VersionID: "v", Token: "tok"})
			if err != nil || run.ID != "r7" {
				t.Fatalf("CreateRun = %+v, %v; want the run found", run, err)
			}
			if n := f.count("POST /apis/v2beta1/runs"); n != 1 {
				t.Errorf("%d creates, want 1", n)
			}
		})
	}
	t.Run("experiment created after a 503 that created nothing", func(t *testing.T) {
		t.Parallel()
		f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
			"GET /apis/v2beta1/experiments":  {jsonAnswer(200, `{}`)},
			"POST /apis/v2beta1/experiments": {jsonAnswer(503, `{}`), jsonAnswer(200, `{"experiment_id":"e1"}`)},
		}}
		c := newTestClient(t, f, Target{})
		id, err := c.EnsureExperiment(context.Background(), "ci")
		if err != nil || id != "e1" {
			t.Fatalf("EnsureExperiment = %q, %v", id, err)
		}
		if n := f.count("GET /apis/v2beta1/experiments"); n != 2 {
			t.Errorf("%d lookups, want 2 (before, and after the 503)", n)
		}
	})
}

package kfp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when slept on, so the reconcile loop's tens of
// seconds take no time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps int
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps++
	return nil
}

// lateKFP loses the answer to the first create of one kind of thing and
// commits that create lag later (by the fake clock), as KFP behind a
// gateway does when the gateway gives up first. A create that is answered
// makes another one, with its own id.
type lateKFP struct {
	t     *testing.T
	clock *fakeClock
	lag   time.Duration // < 0: the lost create never commits
	lose  func(w http.ResponseWriter)

	mu       sync.Mutex
	creates  []time.Time // when each create arrived
	made     []string    // ids of what exists, in order
	commitAt time.Time   // when the lost create shows up
	desc     string      // the lost run's description
}

func (k *lateKFP) create(w http.ResponseWriter, id, desc string) bool {
	k.mu.Lock()
	now := k.clock.Now()
	k.creates = append(k.creates, now)
	first := len(k.creates) == 1
	if first {
		k.desc = desc
		if k.lag >= 0 {
			k.commitAt = now.Add(k.lag)
		}
	} else {
		k.made = append(k.made, fmt.Sprintf("%s-%d", id, len(k.creates)))
	}
	k.mu.Unlock()
	if first {
		k.lose(w)
		return false
	}
	return true
}

// visible lists what a list call sees now.
func (k *lateKFP) visible(id string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var ids []string
	if !k.commitAt.IsZero() && !k.clock.Now().Before(k.commitAt) {
		ids = append(ids, id+"-late")
	}
	return append(ids, k.made...)
}

func (k *lateKFP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer := func(v any) {
		b, _ := json.Marshal(v)
		jsonAnswer(200, string(b))(w, r)
	}
	list := func(key string, item func(id string) map[string]any) {
		var items []any
		for _, id := range k.visible("x") {
			items = append(items, item(id))
		}
		answer(map[string]any{key: items})
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /apis/v2beta1/runs":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		desc, _ := body["description"].(string)
		if k.create(w, "x", desc) {
			answer(map[string]any{"run_id": k.visible("x")[len(k.visible("x"))-1], "description": desc})
		}
	case "GET /apis/v2beta1/runs":
		list("runs", func(id string) map[string]any { return map[string]any{"run_id": id, "description": k.desc} })
	case "POST /apis/v2beta1/experiments":
		if k.create(w, "x", "") {
			answer(map[string]any{"experiment_id": k.visible("x")[len(k.visible("x"))-1]})
		}
	case "GET /apis/v2beta1/experiments":
		list("experiments", func(id string) map[string]any { return map[string]any{"experiment_id": id, "display_name": "ci"} })
	case "POST /apis/v2beta1/pipelines/upload":
		if k.create(w, "x", "") {
			answer(map[string]any{"pipeline_id": k.visible("x")[len(k.visible("x"))-1]})
		}
	case "GET /apis/v2beta1/pipelines":
		list("pipelines", func(id string) map[string]any { return map[string]any{"pipeline_id": id, "display_name": "train"} })
	case "POST /apis/v2beta1/pipelines/upload_version":
		if k.create(w, "x", "") {
			answer(map[string]any{"pipeline_version_id": k.visible("x")[len(k.visible("x"))-1]})
		}
	case "GET /apis/v2beta1/pipelines/p1/versions":
		list("pipeline_versions", func(id string) map[string]any {
			return map[string]any{"pipeline_version_id": id, "display_name": "v1"}
		})
	default:
		// The first version of an uploaded pipeline, named after it.
		if r.Method == "GET" && len(r.URL.Path) > len("/apis/v2beta1/pipelines/") {
			answer(map[string]any{"pipeline_versions": []any{map[string]any{"pipeline_version_id": "first", "display_name": "train"}}})
			return
		}
		k.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.Error(w, "unexpected", http.StatusTeapot)
	}
}

func answer504(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusGatewayTimeout)
	fmt.Fprint(w, "<html><body><h1>504 Gateway Time-out</h1></body></html>")
}

func answer503(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")
}

// answerReset drops the connection, as an attempt that timed out or a
// proxy that reset it leaves the client.
func answerReset(http.ResponseWriter) { panic(http.ErrAbortHandler) }

// TestLateCommit: after a lost create kf-run keeps looking, with backoff,
// for what it made, for ReconcileFor, before creating again; for runs,
// experiments, pipelines and versions alike.
func TestLateCommit(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		kind   string
		create func(ctx context.Context, c *Client) (string, error)
	}{
		{"run", func(ctx context.Context, c *Client) (string, error) {
			r, err := c.CreateRun(ctx, RunRequest{Name: "r", ExperimentID: "e", PipelineID: "p", VersionID: "v", Token: "tok"})
			return r.ID, err
		}},
		{"experiment", func(ctx context.Context, c *Client) (string, error) { return c.EnsureExperiment(ctx, "ci") }},
		{"pipeline", func(ctx context.Context, c *Client) (string, error) {
			id, _, err := c.UploadPipeline(ctx, "train", "d", []byte("pipelineInfo: {name: train}\n"))
			return id, err
		}},
		{"version", func(ctx context.Context, c *Client) (string, error) {
			return c.UploadVersion(ctx, "p1", "v1", "d", []byte("pipelineInfo: {name: train}\n"))
		}},
	}
	const window = 30 * time.Second
	tests := []struct {
		name        string
		lag         time.Duration
		lose        func(http.ResponseWriter)
		wantID      string
		wantCreates int
		// wantWait: the second create comes only after the whole window.
		wantWait bool
	}{
		{"504, committed 3s later", 3 * time.Second, answer504, "x-late", 1, false},
		{"504, committed just inside the window", window - time.Second, answer504, "x-late", 1, false},
		{"reset, committed 3s later", 3 * time.Second, answerReset, "x-late", 1, false},
		// Nothing made: create again, but only once the window is over.
		{"504, nothing made", -1, answer504, "x-2", 2, true},
		// KFP did not answer at all: one look, then create again soon.
		{"503, nothing made", -1, answer503, "x-2", 2, false},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind.kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
				start := clock.Now()
				k := &lateKFP{t: t, clock: clock, lag: tt.lag, lose: tt.lose}
				srv := httptest.NewServer(k)
				t.Cleanup(srv.Close)
				c, err := New(Target{Host: srv.URL}, Options{
					RetryWaitMin: 500 * time.Millisecond, RetryWaitMax: 2 * time.Second, AttemptTimeout: 5 * time.Second,
					ReconcileFor: window, Now: clock.Now, Sleep: clock.Sleep,
				})
				if err != nil {
					t.Fatal(err)
				}
				id, err := kind.create(t.Context(), c)
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				k.mu.Lock()
				defer k.mu.Unlock()
				if id != tt.wantID || len(k.creates) != tt.wantCreates {
					t.Errorf("got %q after %d creates, want %q after %d", id, len(k.creates), tt.wantID, tt.wantCreates)
				}
				if len(k.creates) > 1 {
					if waited := k.creates[1].Sub(start); (waited >= window) != tt.wantWait {
						t.Errorf("created again %s after the lost create; want the %s window waited out: %v", waited, window, tt.wantWait)
					}
				} else if clock.sleeps < 3 {
					t.Errorf("found after %d pauses: the late commit should take several looks", clock.sleeps)
				}
			})
		}
	}
}

// An interrupt while looking stops the looks: no second create.
func TestLateCommitInterrupted(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	k := &lateKFP{t: t, clock: clock, lag: -1, lose: answer504}
	srv := httptest.NewServer(k)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	sleeps := 0
	c, err := New(Target{Host: srv.URL}, Options{
		RetryWaitMin: 500 * time.Millisecond, ReconcileFor: time.Minute, Now: clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if sleeps++; sleeps == 3 {
				cancel() // as SIGINT does
			}
			return clock.Sleep(ctx, d)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadVersion(ctx, "p1", "v1", "d", []byte("pipelineInfo: {name: train}\n"))
	if err == nil {
		t.Fatal("UploadVersion succeeded, want the lost create's error")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.creates) != 1 {
		t.Errorf("%d creates, want 1", len(k.creates))
	}
}

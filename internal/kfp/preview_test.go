package kfp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestExperimentURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		t    Target
		want string
	}{
		{Target{Host: "http://127.0.0.1:3000"}, "http://127.0.0.1:3000/#/experiments/details/e1"},
		{Target{Host: "https://kf.example.com/pipeline", Namespace: "team-a"}, "https://kf.example.com/_/pipeline/?ns=team-a#/experiments/details/e1"},
		{Target{Host: "http://ml-pipeline:8888"}, ""},
	} {
		if got := tt.t.ExperimentURL("e1"); got != tt.want {
			t.Errorf("%+v: ExperimentURL = %q, want %q", tt.t, got, tt.want)
		}
	}
}

// RunsWith narrows by the experiment_id parameter (the filter key is
// broken on KFP 2.0.5), filters by description, and reads every page.
func TestRunsWith(t *testing.T) {
	t.Parallel()
	pages := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var f struct {
			Predicates []map[string]string `json:"predicates"`
		}
		raw, _ := url.QueryUnescape(q.Get("filter"))
		if err := json.Unmarshal([]byte(raw), &f); err != nil || len(f.Predicates) != 1 || f.Predicates[0]["key"] != "description" ||
			f.Predicates[0]["operation"] != "IS_SUBSTRING" || f.Predicates[0]["string_value"] != "kf-run-preview: abc." {
			t.Errorf("filter %q (%v)", raw, err)
		}
		if r.URL.Path != "/apis/v2beta1/runs" || q.Get("experiment_id") != "exp-1" || q.Get("sort_by") != "created_at desc" {
			t.Errorf("request %s", r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		pages++
		if q.Get("page_token") == "" {
			w.Write([]byte(`{"runs":[{"run_id":"r2","state":"RUNNING","storage_state":"ARCHIVED","pipeline_version_reference":{"pipeline_id":"p","pipeline_version_id":"v2"}}],"next_page_token":"t1"}`))
			return
		}
		w.Write([]byte(`{"runs":[{"run_id":"r1","state":"FAILED","pipeline_version_id":"v1"}]}`))
	}))
	defer srv.Close()
	c, err := New(Target{Host: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.RunsWith(context.Background(), "exp-1", "kf-run-preview: abc.")
	if err != nil {
		t.Fatal(err)
	}
	if pages != 2 || len(runs) != 2 || runs[0].ID != "r2" || !runs[0].Archived || runs[0].PipelineID != "p" || runs[0].VersionID != "v2" ||
		runs[1].State != StateFailed || runs[1].VersionID != "v1" {
		t.Errorf("%d pages, runs %+v", pages, runs)
	}
}

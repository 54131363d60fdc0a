package kfp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// item is a pipeline, version or experiment in listKFP's store.
type item struct {
	id, name, display string
}

// listKFP answers list calls with the filter semantics of one KFP
// version: up to 2.13 "name" and "display_name" both mean the unique Name;
// from 2.14 "display_name" means the separate, non-unique DisplayName of
// pipelines and versions, whose answers carry "name" besides
// "display_name" (kubeflow/pipelines#11952). Experiments keep one name.
type listKFP struct {
	t       *testing.T
	split   bool // KFP ≥ 2.14
	items   []item
	mu      sync.Mutex
	keysGot []string
}

func (k *listKFP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// KFP unescapes the filter a second time.
	raw, err := url.QueryUnescape(r.URL.Query().Get("filter"))
	var f struct {
		Predicates []struct {
			Key         string `json:"key"`
			Op          string `json:"operation"`
			StringValue string `json:"string_value"`
		} `json:"predicates"`
	}
	if err != nil || json.Unmarshal([]byte(raw), &f) != nil || len(f.Predicates) != 1 || f.Predicates[0].Op != "EQUALS" {
		k.t.Errorf("%s: filter %q", r.URL.Path, r.URL.Query().Get("filter"))
	}
	p := f.Predicates[0]
	k.mu.Lock()
	k.keysGot = append(k.keysGot, p.Key)
	k.mu.Unlock()
	// Experiments have one name column on every version.
	split := k.split && !strings.HasSuffix(r.URL.Path, "/experiments")
	var out []map[string]any
	for _, it := range k.items {
		field := it.name
		if p.Key == "display_name" && split {
			field = it.display
		}
		if field != p.StringValue {
			continue
		}
		m := map[string]any{"display_name": it.name} // one column
		if split {
			m["name"], m["display_name"] = it.name, it.display
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/versions"):
			m["pipeline_version_id"] = it.id
			m["description"] = "d-" + it.id
		case strings.HasSuffix(r.URL.Path, "/pipelines"):
			m["pipeline_id"] = it.id
		default:
			m["experiment_id"] = it.id
		}
		out = append(out, m)
	}
	key := map[bool]string{true: "pipelines", false: "experiments"}[strings.HasSuffix(r.URL.Path, "/pipelines")]
	if strings.HasSuffix(r.URL.Path, "/versions") {
		key = "pipeline_versions"
	}
	b, _ := json.Marshal(map[string]any{key: out})
	jsonAnswer(200, string(b))(w, r)
}

// Names are looked up by the unique "name" key, which means the unique
// column on every KFP; on KFP ≥ 2.14 a display name that differs from the
// name neither hides the item nor picks another one.
func TestFindByUniqueName(t *testing.T) {
	t.Parallel()
	for _, split := range []bool{false, true} {
		t.Run(map[bool]string{false: "2.0", true: "2.17"}[split], func(t *testing.T) {
			t.Parallel()
			k := &listKFP{t: t, split: split, items: []item{
				// Renamed in the UI: its display name is not its name.
				{id: "id-train", name: "train", display: "Training (prod)"},
				// Another item shows "train" as its display name.
				{id: "id-other", name: "train-old", display: "train"},
			}}
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
				"GET /apis/v2beta1/pipelines":             {k.ServeHTTP},
				"GET /apis/v2beta1/pipelines/p1/versions": {k.ServeHTTP},
				"GET /apis/v2beta1/experiments":           {k.ServeHTTP},
			}}
			c := newTestClient(t, f, Target{})
			ctx := context.Background()
			if id, err := c.FindPipeline(ctx, "train"); err != nil || id != "id-train" {
				t.Errorf("FindPipeline = %q, %v; want id-train", id, err)
			}
			v, err := c.FindVersion(ctx, "p1", "train")
			if err != nil || v != (Version{ID: "id-train", Name: "train", Description: "d-id-train"}) {
				t.Errorf("FindVersion = %+v, %v; want id-train named train", v, err)
			}
			if id, err := c.FindPipeline(ctx, "Training (prod)"); err != nil || id != "" {
				t.Errorf("FindPipeline(display name) = %q, %v; want none", id, err)
			}
			if id, err := c.FindExperiment(ctx, "train"); err != nil || id != "id-train" {
				t.Errorf("FindExperiment = %q, %v; want id-train", id, err)
			}
			k.mu.Lock()
			defer k.mu.Unlock()
			for _, key := range k.keysGot {
				if key != "name" {
					t.Errorf("filter key %q, want name", key)
				}
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind NameKind
		n    int
		ok   bool
	}{
		{ExperimentName, 128, true},
		{ExperimentName, 129, false},
		{PipelineName, 127, true},
		// KFP takes 128 for the pipeline, but its first version (named
		// after it) holds 127.
		{PipelineName, 128, false},
		{VersionName, 127, true},
		{VersionName, 128, false},
		{VersionName, 0, false},
	}
	for _, tt := range tests {
		err := CheckName(tt.kind, strings.Repeat("a", tt.n))
		if (err == nil) != tt.ok {
			t.Errorf("CheckName(%s, %d bytes) = %v, want ok=%t", tt.kind, tt.n, err, tt.ok)
		}
	}
	// KFP counts bytes: 64 two-byte runes are 128 bytes.
	if err := CheckName(VersionName, strings.Repeat("é", 64)); err == nil || !strings.Contains(err.Error(), "128 bytes long; KFP 2.15 and later accept at most 127") {
		t.Errorf("CheckName(64 × é) = %v", err)
	}
}

// The client refuses a name KFP ≥ 2.15 would refuse before sending
// anything.
func TestLongNamesNotSent(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){}}
	c := newTestClient(t, f, Target{})
	ctx := context.Background()
	long := strings.Repeat("x", 200)
	if _, err := c.EnsureExperiment(ctx, long); err == nil {
		t.Error("EnsureExperiment took a 200-byte name")
	}
	if _, _, err := c.UploadPipeline(ctx, long, "", []byte("x")); err == nil {
		t.Error("UploadPipeline took a 200-byte name")
	}
	if _, err := c.UploadVersion(ctx, "p1", long, "", []byte("x")); err == nil {
		t.Error("UploadVersion took a 200-byte name")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) != 0 {
		t.Errorf("%d requests sent, want none", len(f.seen))
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A re-run of the same commit whose spec differs (here a pod setting
// changed through ${ENV}) must not run the version KFP already holds under
// the commit's name: it gets a version of its own, named after its content,
// which a later identical re-run reuses. Run parameters are not content.
func TestVersionContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipeline := uniq(t, "plc")
	run := uniq(t, "content")
	cfg := fmt.Sprintf(`kubeflow:
  host: %s
defaults:
  experiment: e2e-config
pipelines:
  - name: train
    spec: %s
    pipeline_name: %s
    version: "v-{{ .Git.ShortSHA }}"
    run_name: %s
    parameters:
      dataset: gs://e2e/data.csv
      epochs: 2
    pod:
      tasks:
        train:
          node_selector:
            e2e/pool: ${POOL}
`, shared.URL, example(t, "train/pipeline.yaml"), pipeline, run)
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ci := []string{"GITLAB_CI=true", "CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567", "CI_COMMIT_SHORT_SHA=01234567", "CI_PROJECT_PATH=acme/ml"}
	var out []string
	for i, c := range []struct {
		pool string
		args []string
	}{
		{"pool-a", nil}, // uploads v-01234567
		{"pool-b", nil}, // same commit, another spec
		{"pool-b", []string{"--param", "epochs=5"}}, // that spec again, another parameter
	} {
		r := kfRun(context.Background(), t, dir, append([]string{"POOL=" + c.pool}, ci...), append([]string{"run"}, c.args...)...)
		if r.code != 0 {
			t.Fatalf("run %d: want exit 0:\n%s", i+1, r)
		}
		out = append(out, r.stderr)
	}
	runs := shared.runsNamed(t, run, "")
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3", len(runs))
	}
	for _, r := range runs {
		if r.Ref == nil {
			t.Fatalf("run %s has no pipeline version: %+v", r.RunID, runs)
		}
	}
	// The sandbox's creation times have one-second resolution: order the
	// runs by the pool their workflow carries, not by time.
	byPool := map[string][]apiRun{}
	for _, r := range runs {
		var wf json.RawMessage
		shared.call(t, "GET", "/_sandbox/runs/"+r.RunID+"/workflow", nil, &wf)
		switch {
		case strings.Contains(string(wf), "pool-a"):
			byPool["a"] = append(byPool["a"], r)
		case strings.Contains(string(wf), "pool-b"):
			byPool["b"] = append(byPool["b"], r)
		default:
			t.Errorf("run %s: its workflow has neither pool", r.RunID)
		}
	}
	if len(byPool["a"]) != 1 || len(byPool["b"]) != 2 {
		t.Fatalf("runs by the pool KFP ran them with: pool-a %d, pool-b %d; want 1 and 2", len(byPool["a"]), len(byPool["b"]))
	}
	first, second, third := byPool["a"][0].Ref, byPool["b"][0].Ref, byPool["b"][1].Ref
	if first.VersionID == second.VersionID {
		t.Errorf("the changed spec ran KFP's old version %s", first.VersionID)
	}
	if second.VersionID != third.VersionID {
		t.Errorf("the same spec again did not reuse its version: %s then %s", second.VersionID, third.VersionID)
	}

	var versions struct {
		Versions []struct {
			ID          string `json:"pipeline_version_id"`
			Name        string `json:"display_name"`
			Description string `json:"description"`
		} `json:"pipeline_versions"`
	}
	shared.call(t, "GET", "/apis/v2beta1/pipelines/"+first.PipelineID+"/versions?page_size=100", nil, &versions)
	names := map[string]string{} // id → name
	for _, v := range versions.Versions {
		names[v.ID] = v.Name
		if !regexp.MustCompile(`(?m)^kf-run-content: sha256:[0-9a-f]{64}$`).MatchString(v.Description) || !strings.Contains(v.Description, "0123456789abcdef") {
			t.Errorf("version %q description %q: want the commit and a content line", v.Name, v.Description)
		}
	}
	if names[first.VersionID] != "v-01234567" {
		t.Errorf("first run's version is %q, want v-01234567", names[first.VersionID])
	}
	own := names[second.VersionID]
	if !regexp.MustCompile(`^v-01234567-[0-9a-f]{8}$`).MatchString(own) {
		t.Fatalf("changed spec's version is %q, want v-01234567-<8 hex of its content>", own)
	}
	// Two versions in all: v-01234567 itself, and the changed spec's (the
	// pipeline's first version, named after the pipeline, makes three).
	if len(versions.Versions) != 3 {
		t.Errorf("%d versions, want 3: %+v", len(versions.Versions), versions.Versions)
	}

	note := `"v-01234567" at KFP holds another spec`
	if strings.Contains(out[0], note) {
		t.Errorf("run 1 says the version differs:\n%s", out[0])
	}
	for _, c := range []struct {
		run  int
		want string
	}{
		{2, fmt.Sprintf("train: pipeline version %q used instead: %s", own, note)},
		{2, fmt.Sprintf("pipeline version: %s (new; %s)", own, note)},
		{3, fmt.Sprintf("pipeline version: %s (reused; %s)", own, note)},
	} {
		if !strings.Contains(out[c.run-1], c.want) {
			t.Errorf("run %d's output lacks %q:\n%s", c.run, c.want, out[c.run-1])
		}
	}
}

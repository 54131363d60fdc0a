package e2e

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
	"regexp"
	"strings"
	"testing"
)

// On every KFP version the sandbox stands for, doctor and the summary name
// the release the server reports; a pipeline whose display name is not its
// name (the UI may set one from KFP 2.14) is found by its name, so kf-run
// adds its version there instead of failing on a duplicate upload; and a
// re-run reuses that version.
func TestKFPReleaseAndNames(t *testing.T) {
	t.Parallel()
	tags := map[string]string{"2.0": "2.0.5", "2.5": "2.5.0", "2.17": "2.17.0", "next": "2.17.0-next"}
	for _, profile := range kfpProfiles {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			sb := forProfile(t, profile)
			tag := tags[profile]
			spec := example(t, "train/pipeline.yaml")
			pipeline := uniq(t, "rel")
			pid := uploadPipeline(t, sb, pipeline, "Training, shown", spec)

			dir := t.TempDir()
			cfg := fmt.Sprintf(`kubeflow:
  host: %s
pipelines:
  - name: train
    spec: %s
    pipeline_name: %s
    version: v1
    run_name: %s
    parameters: {dataset: gs://e2e/data.csv, epochs: 1}
`, sb.URL, spec, pipeline, pipeline)
			if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			d := kfRun(context.Background(), t, dir, nil, "doctor")
			want := regexp.MustCompile(`(?m)^      version    KFP ` + regexp.QuoteMeta(tag) + `( \(commit [^)]+\))?$`)
			if d.code != 0 || !want.MatchString(d.stdout) {
				t.Errorf("doctor: want exit 0 and %s:\n%s", want, d)
			}
			summary := filepath.Join(dir, "summary.md")
			for i := range 2 {
				r := kfRun(context.Background(), t, dir, nil, "run", "--summary-file", summary)
				if r.code != 0 || !strings.Contains(r.stderr, "KFP "+tag) {
					t.Fatalf("run %d: want exit 0 and the release:\n%s", i+1, r)
				}
			}
			if b, _ := os.ReadFile(summary); !strings.Contains(string(b), "- **KFP:** <code>"+tag+"</code>") {
				t.Errorf("summary names no release:\n%s", b)
			}
			var versions struct {
				Versions []struct {
					ID   string `json:"pipeline_version_id"`
					Name string `json:"name"`
					Disp string `json:"display_name"`
				} `json:"pipeline_versions"`
			}
			sb.call(t, "GET", "/apis/v2beta1/pipelines/"+pid+"/versions?page_size=100", nil, &versions)
			var v1 []string
			for _, v := range versions.Versions {
				if v.Name == "v1" || (v.Name == "" && v.Disp == "v1") {
					v1 = append(v1, v.ID)
				}
			}
			if len(v1) != 1 {
				t.Fatalf("versions of the hand-made pipeline: %+v; want one v1, made by the first run", versions.Versions)
			}
			for _, r := range sb.runsNamed(t, pipeline, "") {
				if r.Ref == nil || r.Ref.PipelineID != pid || r.Ref.VersionID != v1[0] {
					t.Errorf("run %s ran %+v, want pipeline %s version %s", r.RunID, r.Ref, pid, v1[0])
				}
			}
		})
	}
}

// uploadPipeline uploads spec by hand as pipeline name with a display name
// (which KFP before 2.14 ignores), and returns its id.
func uploadPipeline(t *testing.T, sb *sandbox, name, display, spec string) string {
	t.Helper()
	b, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("uploadfile", filepath.Base(spec))
	_, _ = fw.Write(b)
	_ = mw.Close()
	q := url.Values{"name": {name}, "display_name": {display}}
	res, err := http.Post(sb.URL+"/apis/v2beta1/pipelines/upload?"+q.Encode(), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	var p struct {
		ID string `json:"pipeline_id"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(out, &p) != nil || p.ID == "" {
		t.Fatalf("upload %s: HTTP %d: %s", name, res.StatusCode, out)
	}
	return p.ID
}

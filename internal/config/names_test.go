package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPipelineNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		want    []string
		wantErr string
	}{
		{
			name: "names only: no secrets, no compile, no checks",
			src: `kubeflow:
  host: ${KFP_HOST}
  auth: {token: "${KFP_TOKEN}"}
unknown_key: is no error here
pipelines:
  - name: train
    compile: exit 1
    spec: train.yaml
  - name: eval
  - name: train
  - name: "${ENV}-score"
  - spec: unnamed.yaml
`,
			want: []string{"train", "eval"},
		},
		{name: "no pipelines", src: "kubeflow: {host: x}\n", want: nil},
		{name: "not YAML", src: "pipelines:\n  - name: [\n", wantErr: "kf-run.yaml:2: did not find expected node content"},
		{name: "pipelines not a list", src: "pipelines: train\n", wantErr: "kf-run.yaml:1: cannot use a str value"},
		{name: "too large", src: "pipelines: []\n#" + strings.Repeat("x", 1<<20), wantErr: "over 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), DefaultFile)
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := PipelineNames(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PipelineNames = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PipelineNames (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPipelineNamesMissing(t *testing.T) {
	t.Parallel()
	_, err := PipelineNames(filepath.Join(t.TempDir(), DefaultFile))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PipelineNames of a missing file = %v, want fs.ErrNotExist", err)
	}
}

package pipelinespec

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// TestYAMLGolden pins what YAML() writes (what kf-run uploads and
// `validate --print` shows): sorted keys, two-space indent, whole floats
// kept as floats, big integers exact, the platform spec after "---".
func TestYAMLGolden(t *testing.T) {
	t.Parallel()
	s := loadTwoStep(t)
	got, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "two_step.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("YAML() (-want +got):\n%s", diff)
	}
}

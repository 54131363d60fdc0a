package pipelinespec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics or hangs, and that whatever it
// accepts can be sent (JSON) and written back as YAML that parses to the
// same Spec.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		minimal,
		minimal + "---\nplatforms: {kubernetes: {}}\n",
		"not: [a, pipeline",
		"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n",
		"a: &x [1, *x]\n",
		"b: &b {x: 1}\na: {<<: *b}\n",
		`{"pipelineInfo": {"name": "x"}, "root": {"dag": {"tasks": {}}}}`,
		"a: 99999999999999999999999\nb: \"\\n x\"\n",
	} {
		f.Add([]byte(seed))
	}
	for _, name := range []string{"two_step.yaml", "missing_refs.yaml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a Spec and an error: %v", err)
			}
			return
		}
		if _, err := json.Marshal(s.RunBody()); err != nil {
			t.Fatalf("RunBody does not marshal: %v", err)
		}
		out, err := s.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		back, err := Parse("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("Parse(YAML()):\n%s\nerror: %v", out, err)
		}
		if diff := cmp.Diff(s, back, ignoreOriginal); diff != "" {
			t.Fatalf("Parse(YAML()) (-want +got):\n%s", diff)
		}
	})
}

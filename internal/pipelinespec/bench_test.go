package pipelinespec

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse measures Parse and YAML on the largest of the repository's
// own compiled pipelines (if/else branches joined by OneOf, compiled by the
// KFP SDK; see sandbox/testdata/README.md), so it runs on any clone.
func BenchmarkParse(b *testing.B) {
	path := filepath.Join("..", "..", "sandbox", "testdata", "pipelines", "if_else.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatalf("benchmark input: %v (it is part of the repository; recompile with make testdata)", err)
	}
	b.SetBytes(int64(len(data)))
	b.Run("Parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := Parse(path, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	s, err := Parse(path, data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("YAML", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.YAML(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

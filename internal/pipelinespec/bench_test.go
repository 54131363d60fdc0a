package pipelinespec

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse measures Parse and YAML on the largest corpus file.
func BenchmarkParse(b *testing.B) {
	path := filepath.Join(corpusDir, "kfp-sdk-2.4", "pipelines", "xgboost_sample_pipeline.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Skip(err)
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

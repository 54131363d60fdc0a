package pipelinespec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLoopItems(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "sandbox", "testdata", "pipelines", "loops.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		loop   string
		params map[string]any
		want   []any
		ok     bool
	}{
		{"for-loop-2", nil, []any{map[string]any{"rows": "1", "shard": "a"}, map[string]any{"rows": "10", "shard": "b"}, map[string]any{"rows": "5", "shard": "c"}}, true},
		{"for-loop-4", nil, []any{"1", "2"}, true},   // nested, literal
		{"for-loop-5", nil, []any{"eu", "us"}, true}, // the parameter's default
		{"for-loop-5", map[string]any{"regions": []any{"ap"}}, []any{"ap"}, true},
		{"for-loop-9", nil, nil, false},
	}
	for _, tt := range tests {
		got, ok := s.LoopItems(tt.loop, tt.params)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LoopItems(%s, %v) = %v, %v; want %v, %v", tt.loop, tt.params, got, ok, tt.want, tt.ok)
		}
	}
}

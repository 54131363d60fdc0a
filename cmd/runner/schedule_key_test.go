package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A schedule's key names its config from the repository's top, whatever
// directory kf-run runs in.
func TestConfigKey(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "ml", "train")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	tests := []struct{ root, path, want string }{
		{root, "kf-run.yaml", "ml/train/kf-run.yaml"},
		{root, "./kf-run.yaml", "ml/train/kf-run.yaml"},
		{root, "../train/kf-run.yaml", "ml/train/kf-run.yaml"},
		{root, filepath.Join(root, "ml", "train", "kf-run.yaml"), "ml/train/kf-run.yaml"},
		{"", "./kf-run.yaml", "kf-run.yaml"},
		{filepath.Join(root, "other"), "kf-run.yaml", "kf-run.yaml"}, // outside the root
	}
	for _, tt := range tests {
		if got := configKey(tt.root, tt.path); got != tt.want {
			t.Errorf("configKey(%q, %q) = %q, want %q", tt.root, tt.path, got, tt.want)
		}
	}
}

// Package corpus finds the shared corpus of compiled KFP pipelines for
// tests. The corpus is an extra beside the repository, switched on by
// KF_RUN_CORPUS (its absolute path; .ci/run sets it): without it the tests
// that need it skip, with it they must pass. It reads nothing else.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir is $KF_RUN_CORPUS/sub. The test is skipped when the variable is
// unset, and fails when it is set but is not an absolute path (go test runs
// each package in its own directory) or sub is missing or empty.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	root, ok := os.LookupEnv("KF_RUN_CORPUS")
	if !ok || root == "" {
		t.Skip("KF_RUN_CORPUS is not set: the KFP corpus tests are off (set it to the corpus's absolute path to run them)")
	}
	if !filepath.IsAbs(root) {
		t.Fatalf("KF_RUN_CORPUS=%q is not an absolute path: go test runs each package in its own directory, so give the absolute path", root)
	}
	dir := filepath.Join(root, sub)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("KF_RUN_CORPUS is set but the corpus is not usable: %v (fix the path or unset KF_RUN_CORPUS)", err)
	}
	if len(entries) == 0 {
		t.Fatalf("KF_RUN_CORPUS is set but %s is empty (fix the path or unset KF_RUN_CORPUS)", dir)
	}
	return dir
}

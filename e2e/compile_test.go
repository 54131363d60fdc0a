package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// kfpSDKVersion is the KFP SDK (and kfp-kubernetes) the compile tests use:
// the Makefile's KFP_VERSION.
const kfpSDKVersion = "2.17.3"

var kfpVersion = sync.OnceValues(func() (string, error) {
	out, err := exec.Command(filepath.Join(os.Getenv("KF_RUN_KFP_VENV"), "bin", "kfp"), "--version").CombinedOutput()
	return string(out), err
})

// kfpSDK returns the bin directory of the KFP SDK's virtualenv named by
// KF_RUN_KFP_VENV (make venv makes one, make test passes it on). Without
// it the test skips with a notice; with it the SDK must be there, at the
// version the project tests with: .ci/run sets it, so there these tests
// are mandatory.
func kfpSDK(t *testing.T) string {
	t.Helper()
	root := os.Getenv("KF_RUN_KFP_VENV")
	if root == "" {
		t.Skip("KF_RUN_KFP_VENV is not set: the compile tests with the real KFP SDK are off " +
			"(make venv makes the SDK's virtualenv, with Python 3 and PyPI; make test then runs them)")
	}
	if !filepath.IsAbs(root) {
		t.Fatalf("KF_RUN_KFP_VENV=%q is not an absolute path: go test runs each package in its own directory", root)
	}
	out, err := kfpVersion()
	if err != nil || !strings.Contains(out, kfpSDKVersion) {
		t.Fatalf("KF_RUN_KFP_VENV=%s has no usable KFP SDK %s (make venv makes one, or unset it): kfp --version: %v: %s", root, kfpSDKVersion, err, out)
	}
	return filepath.Join(root, "bin")
}

// pythonSources copies the example's Python pipeline to dir/train and the
// sandbox's test pipelines to dir/pipelines, and returns the latter's names.
func pythonSources(t *testing.T, dir string) []string {
	t.Helper()
	copyFile(t, example(t, "train/pipeline.py"), filepath.Join(dir, "train", "pipeline.py"))
	srcs, err := filepath.Glob(filepath.Join("..", "sandbox", "testdata", "pipelines", "*.py"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no Python pipelines in sandbox/testdata/pipelines: %v", err)
	}
	var names []string
	for _, src := range srcs {
		copyFile(t, src, filepath.Join(dir, "pipelines", filepath.Base(src)))
		names = append(names, strings.TrimSuffix(filepath.Base(src), ".py"))
	}
	return names
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// This project's Python pipelines, compiled by the real KFP SDK through
// compile: (both ways the README shows: kfp dsl compile, and a script),
// run to SUCCEEDED in the sandbox; the example's source compiles to the
// committed spec beside it.
func TestCompileFromSource(t *testing.T) {
	t.Parallel()
	sdk := kfpSDK(t)
	dir := t.TempDir()
	names := pythonSources(t, dir)
	prefix := uniq(t, "src")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "kubeflow: {host: %s}\ndefaults: {experiment: e2e-compile}\npipelines:\n", shared.URL)
	fmt.Fprintf(&cfg, `  - name: train
    compile: kfp dsl compile --py train/pipeline.py --output build/train.yaml
    spec: build/train.yaml
    run_name: %[1]s-train
    parameters: {dataset: gs://e2e/data.csv}
  - name: train-script
    compile: python train/pipeline.py build/train-script.yaml
    spec: build/train-script.yaml
    run_name: %[1]s-train-script
    parameters: {dataset: gs://e2e/data.csv}
`, prefix)
	for _, n := range names {
		fmt.Fprintf(&cfg, `  - name: %[1]s
    compile: kfp dsl compile --py pipelines/%[1]s.py --function %[1]s --output build/%[1]s.yaml
    spec: build/%[1]s.yaml
    run_name: %[2]s-%[1]s
`, n, prefix)
	}
	writeFile(t, filepath.Join(dir, "kf-run.yaml"), cfg.String())
	if err := os.Mkdir(filepath.Join(dir, "build"), 0o755); err != nil {
		t.Fatal(err)
	}

	r := kfRun(context.Background(), t, dir, []string{"PATH=" + sdk + string(os.PathListSeparator) + os.Getenv("PATH")}, "run")
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	if !strings.Contains(r.stderr, "==> Compile pipeline specs") || strings.Count(r.stderr, ": compiled in ") != len(names)+2 {
		t.Errorf("want one log group with %d compiles:\n%s", len(names)+2, r)
	}
	for _, n := range append([]string{"train", "train-script"}, names...) {
		runs := shared.runsNamed(t, prefix+"-"+n, "")
		if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
			t.Errorf("%s: runs %+v, want one SUCCEEDED", n, runs)
		}
	}

	// pipeline.py is the source of the committed pipeline.yaml: the same
	// pipeline, but for the SDK version and the YAML's layout.
	committed, compiled := specTree(t, example(t, "train/pipeline.yaml")), specTree(t, filepath.Join(dir, "build", "train.yaml"))
	if diff := cmp.Diff(committed, compiled); diff != "" {
		t.Errorf("examples/train/pipeline.py does not compile to examples/train/pipeline.yaml (-committed +compiled):\n%s", diff)
	}
}

// specTree is a compiled spec as plain values, without the SDK version.
func specTree(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	delete(m, "sdkVersion")
	return m
}

// A compile that fails, or does not write its spec, stops everything
// before the sandbox hears of it: exit 2, the error at the compile: key,
// the command's output shown, no run, not even of a pipeline that
// compiled.
func TestCompileFailureSubmitsNothing(t *testing.T) {
	t.Parallel()
	sdk := kfpSDK(t)
	tests := []struct {
		name    string
		compile string
		want    []string // in stdout+stderr
	}{
		{
			name:    "the compiler fails",
			compile: "kfp dsl compile --py broken.py --output build/broken.yaml",
			want:    []string{"--- output\nno pipeline here\n", "kf-run.yaml:11: compile broken: `kfp dsl compile --py broken.py --output build/broken.yaml` exited with status 1 (its output is printed above)"},
		},
		{
			name:    "the spec is not written",
			compile: "kfp dsl compile --py train/pipeline.py --output build/elsewhere.yaml",
			want:    []string{"kf-run.yaml:11: compile broken: `kfp dsl compile --py train/pipeline.py --output build/elsewhere.yaml` succeeded but did not write spec build/broken.yaml"},
		},
		{
			name:    "the spec is no pipeline",
			compile: `python -c "open('build/broken.yaml', 'w').write('hello: world')"`,
			want:    []string{"kf-run.yaml:11: compile broken: ", "wrote spec build/broken.yaml, which is not a KFP pipeline package"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pythonSources(t, dir)
			writeFile(t, filepath.Join(dir, "broken.py"), "raise RuntimeError('no pipeline here')\n")
			if err := os.Mkdir(filepath.Join(dir, "build"), 0o755); err != nil {
				t.Fatal(err)
			}
			name := uniq(t, "broken")
			writeFile(t, filepath.Join(dir, "kf-run.yaml"), fmt.Sprintf(`kubeflow: {host: %s}
defaults: {experiment: e2e-compile}
pipelines:
  - name: train
    compile: kfp dsl compile --py train/pipeline.py --output build/train.yaml
    spec: build/train.yaml
    run_name: %[2]s-train
    parameters: {dataset: gs://e2e/data.csv}
  - name: broken
    spec: build/broken.yaml
    compile: %[3]s
    run_name: %[2]s-broken
`, shared.URL, name, yamlQuote(tt.compile)))
			r := kfRun(context.Background(), t, dir, []string{"PATH=" + sdk + string(os.PathListSeparator) + os.Getenv("PATH")}, "run")
			if r.code != 2 {
				t.Fatalf("want exit 2:\n%s", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output lacks %q:\n%s", w, r)
				}
			}
			if strings.Contains(r.stderr, "Submit to") {
				t.Errorf("kf-run went on to submit:\n%s", r)
			}
			for _, n := range []string{name + "-train", name + "-broken"} {
				if runs := shared.runsNamed(t, n, ""); len(runs) != 0 {
					t.Errorf("the sandbox has runs named %s: %+v", n, runs)
				}
			}
		})
	}
}

func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

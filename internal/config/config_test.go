package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParse(t *testing.T) {
	t.Parallel()
	src := `# CI pipelines
kubeflow:
  host: https://kf.example.com/pipeline
  namespace: team-ml
  auth:
    token: ${KFP_TOKEN}

defaults:
  experiment: ci
  timeout: 2h

pipelines:
  - name: train
    spec: pipelines/train.yaml
    version: "{{ .Git.ShortSHA }}"
    parameters:
      epochs: 3
      rate: 0.5
      tags: [a, b]
      data: ${DATA_URI:-gs://default}
  - name: eval
    spec: pipelines/eval.json
    timeout: 30m
`
	c, err := Parse("kf-run.yaml", []byte(src), env(map[string]string{"KFP_TOKEN": "tok-123"}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Kubeflow.Host.Value != "https://kf.example.com/pipeline" || c.Kubeflow.Namespace.Value != "team-ml" {
		t.Errorf("kubeflow = %+v", c.Kubeflow)
	}
	if c.Kubeflow.Auth.Token.Value != "tok-123" {
		t.Errorf("token not expanded: %q", c.Kubeflow.Auth.Token.Value)
	}
	if diff := cmp.Diff([]string{"tok-123"}, c.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	if c.Defaults.Timeout.D != 2*time.Hour || c.Pipelines[1].Timeout.D != 30*time.Minute {
		t.Errorf("timeouts = %v, %v", c.Defaults.Timeout.D, c.Pipelines[1].Timeout.D)
	}
	if c.Pipelines[0].Line != 13 || c.Pipelines[1].Line != 21 || c.Pipelines[0].Version.Line != 15 {
		t.Errorf("lines = %d, %d, %d; want 13, 21, 15", c.Pipelines[0].Line, c.Pipelines[1].Line, c.Pipelines[0].Version.Line)
	}
	got := map[string]any{}
	for k, v := range c.Pipelines[0].Parameters {
		got[k] = v.V
	}
	want := map[string]any{"epochs": 3, "rate": 0.5, "tags": []any{"a", "b"}, "data": "gs://default"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
}

// A compiled pipeline's spec is the compile command's output: the loader
// neither needs it nor looks for it.
func TestParseCompile(t *testing.T) {
	t.Parallel()
	src := "pipelines:\n  - name: train\n    spec: build/does-not-exist.yaml\n    compile: python pipelines/train.py --out ${OUT:-build}\n"
	c, err := Load(writeFile(t, src), env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.Pipelines[0].Compile, (Text{Value: "python pipelines/train.py --out build", Line: 4}); got != want {
		t.Errorf("compile = %+v, want %+v", got, want)
	}
}

func writeFile(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kf-run.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{
		{"empty", "", nil, []string{"kf-run.yaml: the file is empty"}},
		{"unknown top-level key", "kubeflow: {host: h}\npipeline:\n  - name: x\n", nil,
			[]string{`kf-run.yaml:2: unknown key "pipeline" in the top level (known: kubeflow, defaults, report, images, preview, pipelines, follow)`}},
		{"unknown key in a pipeline", "pipelines:\n  - name: a\n    spec: a.yaml\n\n    paramters: {x: 1}\n", nil,
			[]string{`kf-run.yaml:5: unknown key "paramters" in pipelines[0] (known: name, spec, compile, pipeline_name, version, run_name, description, experiment, parameters, secret_parameters, timeout, service_account`}},
		{"unknown auth key", "kubeflow:\n  auth:\n    passwd: x\npipelines: [{name: a, spec: a.yaml}]\n", nil,
			[]string{`kf-run.yaml:3: unknown key "passwd" in kubeflow.auth`}},
		{"unset env var", "kubeflow:\n  auth:\n    token: ${NOPE}\npipelines: [{name: a, spec: a.yaml}]\n", nil,
			[]string{"kf-run.yaml:3: environment variable NOPE is not set"}},
		{"literal token", "kubeflow:\n  auth:\n    token: abc\npipelines: [{name: a, spec: a.yaml}]\n", nil,
			[]string{"kf-run.yaml:3: a credential is written literally"}},
		{"bad duration", "defaults:\n  timeout: 2 hours\npipelines: [{name: a, spec: a.yaml}]\n", nil,
			[]string{`kf-run.yaml:2: "2 hours" is not a duration`}},
		{"no pipelines", "kubeflow: {host: h}\n", nil, []string{"kf-run.yaml: no pipelines"}},
		{"duplicate and missing", "pipelines:\n  - name: a\n    spec: a.yaml\n  - name: a\n  - spec: b.yaml\n", nil,
			[]string{`kf-run.yaml:4: pipeline "a" is defined twice (first at line 2)`, `kf-run.yaml:4: pipeline "a" has no spec`, "kf-run.yaml:5: pipeline entry has no name"}},
		{"bad template", "pipelines:\n  - name: a\n    spec: a.yaml\n    version: \"{{ .Git.ShortSHA \"\n", nil,
			[]string{"kf-run.yaml:4: bad template"}},
		{"syntax error", "pipelines:\n  - name: a\n    spec: a.yaml\n    parameters: {a: 1\n", nil, []string{"kf-run.yaml:", "did not find expected"}},
		{"compile without spec", "pipelines:\n  - name: a\n    compile: python a.py\n", nil,
			[]string{`kf-run.yaml:3: pipeline "a" has compile but no spec: set spec to the file the command writes`}},
		{"empty compile", "pipelines:\n  - name: a\n    spec: a.yaml\n    compile: \"  \"\n", nil,
			[]string{`kf-run.yaml:4: pipeline "a": compile is empty`}},
		{"secret parameter", "pipelines:\n  - name: a\n    spec: a.yaml\n    parameters:\n      rows: 5\n      token: ${API_TOKEN}\n", map[string]string{"API_TOKEN": "s3cr3t-value"},
			[]string{"kf-run.yaml:6: parameter token takes ${API_TOKEN}, a secret, but KFP stores run parameters in plain text", "pod.secrets", "secret_parameters: [token]"}},
		{"secret inside a map parameter", "pipelines:\n  - name: a\n    spec: a.yaml\n  - name: b\n    spec: b.yaml\n    parameters:\n      conn:\n        user: me\n        password: ${DB_PASSWORD}\n", map[string]string{"DB_PASSWORD": "pw-123456"},
			[]string{"kf-run.yaml:9: parameter conn takes ${DB_PASSWORD}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("kf-run.yaml", []byte(tt.src), env(tt.env))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

// A secret in a run parameter is accepted only where the pipeline says
// so; other variables in parameters are fine.
func TestSecretParametersOptIn(t *testing.T) {
	t.Parallel()
	src := "pipelines:\n  - name: a\n    spec: a.yaml\n    secret_parameters: [token]\n    parameters:\n      token: ${API_TOKEN}\n      data: ${DATASET}\n"
	c, err := Parse("kf-run.yaml", []byte(src), env(map[string]string{"API_TOKEN": "s3cr3t-value", "DATASET": "gs://x"}))
	if err != nil {
		t.Fatalf("opted in: %v", err)
	}
	if !slices.Contains(c.Secrets, "s3cr3t-value") {
		t.Errorf("the value is still masked: secrets %v", c.Secrets)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	c := &Config{Path: "kf-run.yaml"}
	vars := struct{ Git struct{ ShortSHA string } }{}
	vars.Git.ShortSHA = "abc1234"
	got, err := c.Render(Text{Value: "v-{{ .Git.ShortSHA }}", Line: 7}, vars)
	if err != nil || got != "v-abc1234" {
		t.Errorf("Render = %q, %v", got, err)
	}
	_, err = c.Render(Text{Value: "{{ .Git.Nope }}", Line: 7}, vars)
	if err == nil || !strings.HasPrefix(err.Error(), "kf-run.yaml:7: template") {
		t.Errorf("Render error = %v, want one at line 7", err)
	}
}

func TestParseImages(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) { return map[string]string{"REG": "ghcr.io/acme"}[k], k == "REG" }
	c, err := Parse("kf-run.yaml", []byte(`images:
  repo: ${REG}/ml
  platforms: [linux/amd64, linux/arm64]
  base_image: cgr.dev/chainguard/static
  sbom: true
  tags: [latest, "{{ .Git.ShortSHA }}"]
  base_import_path: true
  build: [ko://example.com/cmd/extra]
pipelines: [{name: a, spec: a.yaml}]
`), env)
	if err != nil {
		t.Fatal(err)
	}
	im := c.Images
	if im.Repo.Value != "ghcr.io/acme/ml" || len(im.Platforms) != 2 || !im.SBOM || !im.BaseImportPath || im.Tags[1].Line != 6 || im.Build[0].Value != "ko://example.com/cmd/extra" {
		t.Errorf("images: %+v", im)
	}
	_, err = Parse("kf-run.yaml", []byte(`images:
  bare: true
  preserve_import_path: true
  tags: ["{{ .Git.ShortSHA"]
  build: [example.com/cmd/extra]
  platform: linux/amd64
pipelines: [{name: a, spec: a.yaml}]
`), env)
	for _, want := range []string{`kf-run.yaml:6: unknown key "platform" in images`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	_, err = Parse("kf-run.yaml", []byte(`images:
  bare: true
  preserve_import_path: true
  tags: ["{{ .Git.ShortSHA"]
  build: [example.com/cmd/extra]
pipelines: [{name: a, spec: a.yaml}]
`), env)
	for _, want := range []string{"at most one of bare", `kf-run.yaml:4: bad template`, `kf-run.yaml:5: images.build: "example.com/cmd/extra" is not a ko:// reference`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

// A secret that lands where it does not fit is named by its place, never
// shown.
func TestErrorsMaskSecrets(t *testing.T) {
	t.Parallel()
	src := "defaults:\n  cancel_on_interrupt: ${API_KEY}\npipelines: [{name: a, spec: a.yaml}]\n"
	_, err := Parse("kf-run.yaml", []byte(src), env(map[string]string{"API_KEY": "sk-SECRET-abc"}))
	if err == nil {
		t.Fatal("Parse succeeded, want a type error")
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Errorf("error %v is not a config error at line 2", err)
	}
	if strings.Contains(err.Error(), "sk-SECR") {
		t.Errorf("error shows the secret: %v", err)
	}
}

package plan

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
)

const spec = "../../examples/train/pipeline.yaml"

func loadConfig(t *testing.T, src string, env ...string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	abs, _ := filepath.Abs(spec)
	src = strings.ReplaceAll(src, "SPEC", abs)
	path := filepath.Join(dir, "kf-run.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"KFP_TOKEN": "tok"}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	c, err := config.Load(path, func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var gh = ci.Info{Provider: ci.GitHub, Repo: "acme/ml", SHA: "0123456789abcdef", ShortSHA: "0123456", Branch: "main", JobURL: "https://github.com/acme/ml/actions/runs/1", Token: "ghs_x"}

func TestNewFromConfig(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, `kubeflow:
  host: https://kf.example.com/pipeline
  namespace: team-a
  auth: {token: "${KFP_TOKEN}"}
defaults: {experiment: "ci-{{ .Git.Branch }}", timeout: 1h}
pipelines:
  - name: train
    spec: SPEC
    version: "{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://d, epochs: 4}
  - name: other
    spec: SPEC
    experiment: exp2
    run_name: "nightly {{ .Pipeline }}"
    timeout: 5m
    parameters: {dataset: gs://e}
`)
	p, err := New(Input{Config: cfg, CI: gh, Flags: Flags{Params: []string{"learning_rate=0.2"}}, Getenv: func(k string) string {
		return map[string]string{"KF_RUN_NAMESPACE": "team-b"}[k]
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if p.Target.Host != "https://kf.example.com/pipeline" || p.Target.Namespace != "team-b" || p.Auth.Token != "tok" {
		t.Errorf("target = %+v (env must win over the file)", p.Target)
	}
	if diff := cmp.Diff([]string{"tok", "tok", "ghs_x"}, p.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	type summary struct {
		Name, Experiment, RunName, PipelineName, Version string
		Timeout                                          time.Duration
		Params                                           map[string]any
	}
	var got []summary
	for _, pl := range p.Pipelines {
		got = append(got, summary{pl.Name, pl.Experiment, pl.RunName, pl.PipelineName, pl.Version, pl.Timeout, pl.Parameters})
	}
	want := []summary{
		{"train", "ci-main", "train main 0123456", "train", "0123456", time.Hour, map[string]any{"dataset": "gs://d", "epochs": 4, "learning_rate": 0.2}},
		{"other", "exp2", "nightly other", "", "", 5 * time.Minute, map[string]any{"dataset": "gs://e", "learning_rate": 0.2}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pipelines (-want +got):\n%s", diff)
	}
	if d := p.Pipelines[0].Description; d != "Submitted by kf-run from acme/ml at 0123456789abcdef (https://github.com/acme/ml/actions/runs/1)." {
		t.Errorf("description = %q", d)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	cfg := `kubeflow: {host: "http://kfp"}
pipelines:
  - name: train
    spec: SPEC
    parameters: {dataset: x}
`
	tests := []struct {
		name  string
		cfg   string
		flags Flags
		want  string
	}{
		{"unknown pipeline", cfg, Flags{Pipelines: []string{"trian"}}, `--pipeline "trian": no such pipeline in`},
		{"spec and config", cfg, Flags{Spec: spec}, "--spec and a config file exclude each other"},
		{"param not declared", cfg, Flags{Params: []string{"nope=1"}}, `no selected pipeline has a parameter "nope"`},
		{"param malformed", cfg, Flags{Params: []string{"nope"}}, "want NAME=VALUE"},
		{"wrong type in config", strings.Replace(cfg, "{dataset: x}", "{dataset: x, epochs: many}", 1), Flags{}, `kf-run.yaml:3: pipeline "train": `},
		{"no host", strings.Replace(cfg, `kubeflow: {host: "http://kfp"}`, "", 1), Flags{}, "no KFP host"},
		{"compiled spec not there", strings.Replace(cfg, "spec: SPEC", "spec: build/train.yaml\n    compile: python train.py", 1), Flags{},
			"kf-run.yaml:5 writes it: run without --no-compile)"},
		{"template error", strings.Replace(cfg, "parameters", "version: \"{{ .Nope }}\"\n    parameters", 1), Flags{}, `kf-run.yaml:5: template "{{ .Nope }}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Input{Config: loadConfig(t, tt.cfg), Flags: tt.flags, CI: gh})
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("New error = %v, want a *UsageError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

// Names longer than KFP 2.15 and later accept are config errors, at the
// key they came from, before anything is sent: templates are rendered
// first, since a branch name can make a name long.
func TestNewNameLengths(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", 128)
	branch := ci.Info{Provider: ci.GitHub, ShortSHA: "0123456", Branch: strings.Repeat("b", 126)}
	tests := []struct {
		name  string
		cfg   string
		flags Flags
		info  ci.Info
		want  string // "" means no error
	}{
		{"version of 127 bytes", `version: "` + long[:127] + `"`, Flags{}, gh, ""},
		{"version of 128 bytes", `version: "` + long + `"`, Flags{}, gh,
			`kf-run.yaml:5: version: pipeline version name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…" is 128 bytes long; KFP 2.15 and later accept at most 127: shorten it`},
		{"rendered version", `version: "{{ .Git.Branch }}-{{ .Git.ShortSHA }}"`, Flags{}, branch,
			`kf-run.yaml:5: version: pipeline version name "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb…" is 134 bytes long`},
		{"pipeline_name", `pipeline_name: "` + long + `"`, Flags{}, gh, `kf-run.yaml:5: pipeline_name: pipeline name "nnn`},
		{"entry name as pipeline name", `version: v1`, Flags{}, gh, ""},
		{"experiment", `experiment: "` + long + `x"`, Flags{}, gh, `kf-run.yaml:5: experiment: experiment name "nnn`},
		{"experiment of 128 bytes", `experiment: "` + long + `"`, Flags{}, gh, ""},
		{"--experiment", `version: v1`, Flags{Experiment: long + "x"}, gh, `--experiment: experiment name "nnn`},
		{"inline run: no pipeline name to check", `experiment: e`, Flags{}, gh, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := loadConfig(t, `kubeflow: {host: "http://kfp"}
pipelines:
  - name: train
    spec: SPEC
    `+tt.cfg+`
    parameters: {dataset: x}
`)
			_, err := New(Input{Config: cfg, Flags: tt.flags, CI: tt.info})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v\nwant a *UsageError with %q", err, tt.want)
			}
		})
	}
	// The entry's name becomes the pipeline's name when only version is set.
	cfg := loadConfig(t, `kubeflow: {host: "http://kfp"}
defaults: {experiment: "ci-{{ .Git.Branch }}"}
pipelines:
  - name: "`+long+`"
    spec: SPEC
    version: v1
    parameters: {dataset: x}
`)
	_, err := New(Input{Config: cfg, CI: branch})
	for _, want := range []string{`kf-run.yaml:4: name: pipeline name "nnn`, `kf-run.yaml:2: defaults.experiment: experiment name "ci-bbb`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error = %v\nwant %q", err, want)
		}
	}
}

func TestNewFromSpecFlag(t *testing.T) {
	t.Parallel()
	p, err := New(Input{Flags: Flags{Spec: spec, Host: "http://kfp:8888", Params: []string{"dataset=gs://x", "epochs=7"}, NoWait: true, RunName: "r1"}, CI: ci.Info{Provider: ci.Local}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pl := p.Pipelines[0]
	if pl.Name != "train-demo" || pl.Experiment != "Default" || pl.RunName != "r1" || p.Wait {
		t.Errorf("plan = %+v, pipeline = %+v", p, pl)
	}
	if diff := cmp.Diff(map[string]any{"dataset": "gs://x", "epochs": int64(7)}, pl.Parameters); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
}

// A parameter from a secret env var that fails its type check is named,
// its value masked.
func TestUsageErrorMasksSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	abs, _ := filepath.Abs(spec)
	path := filepath.Join(dir, "kf-run.yaml")
	os.WriteFile(path, []byte("kubeflow: {host: http://kfp}\npipelines:\n  - name: a\n    spec: "+abs+"\n    secret_parameters: [epochs]\n    parameters: {dataset: x, epochs: \"${API_KEY}\"}\n"), 0o644)
	cfg, err := config.Load(path, func(k string) (string, bool) { return "sk-SECRET-abc", k == "API_KEY" })
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Input{Config: cfg, CI: gh})
	if err == nil || !strings.Contains(err.Error(), `parameter "epochs"`) || strings.Contains(err.Error(), "sk-SECRET-abc") {
		t.Errorf("error = %v, want the parameter named and the value masked", err)
	}
}

// One rule for what is masked: credentials from the environment under
// kubeflow.auth, values of secret-named variables, and headers or cookies
// whose names say they are credentials; not a team header, whose value
// would otherwise turn ghcr.io/acme/ml into ghcr.io/acme/*** everywhere.
func TestSecretsAreCredentialsOnly(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, `kubeflow:
  host: https://kf.example.com/pipeline
  auth:
    headers: {X-Team: ml, X-Org: "${ORG}", Authorization: "Bearer ${GATEWAY_TOKEN}", X-Api-Key: literal-key-1}
    cookies: {lang: english, session_id: literal-sess}
pipelines:
  - name: train
    spec: SPEC
    parameters: {dataset: gs://d}
`, "ORG=acme-org", "GATEWAY_TOKEN=gw-secret-1")
	p, err := New(Input{Config: cfg, CI: gh})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, want := range []string{"Bearer gw-secret-1", "gw-secret-1", "acme-org", "literal-key-1", "literal-sess", "ghs_x"} {
		if !slices.Contains(p.Secrets, want) {
			t.Errorf("secrets %q lack %q", p.Secrets, want)
		}
	}
	for _, harmless := range []string{"ml", "english"} {
		if slices.Contains(p.Secrets, harmless) {
			t.Errorf("secrets %q hold the harmless value %q", p.Secrets, harmless)
		}
	}
}

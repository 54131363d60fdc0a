package config

import (
	"strings"
	"testing"
)

func TestParsePreview(t *testing.T) {
	t.Parallel()
	src := `preview:
  experiment: "pr-{{ .PR.Number }}-ml"
  parameters: {epochs: 1}
pipelines:
  - name: train
    spec: a.yaml
    preview:
      supersede: false
      parameters: {data: small}
  - name: eval
    spec: b.yaml
`
	c, err := Parse("kf-run.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Previews() || c.Preview.Experiment.Value != "pr-{{ .PR.Number }}-ml" || c.Preview.Experiment.Line != 2 {
		t.Errorf("preview = %+v", c.Preview)
	}
	if pv := c.Pipelines[0].Preview; pv == nil || pv.Supersede == nil || *pv.Supersede || pv.Parameters["data"].V != "small" {
		t.Errorf("pipelines[0].preview = %+v", pv)
	}
	if c.Pipelines[1].Preview != nil {
		t.Errorf("pipelines[1].preview = %+v, want none", c.Pipelines[1].Preview)
	}

	// A preview block on a pipeline alone turns previews on.
	c, err = Parse("kf-run.yaml", []byte("pipelines:\n  - {name: a, spec: a.yaml, preview: {parameters: {epochs: 1}}}\n"), env(nil))
	if err != nil || !c.Previews() {
		t.Errorf("per-pipeline preview: Previews() false (%v)", err)
	}
	c, err = Parse("kf-run.yaml", []byte("pipelines:\n  - {name: a, spec: a.yaml}\n"), env(nil))
	if err != nil || c.Previews() {
		t.Errorf("no preview block: Previews() true (%v)", err)
	}
}

func TestParsePreviewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"allow_forks is unknown on a pipeline", "pipelines:\n  - name: a\n    spec: a.yaml\n    preview: {allow_forks: true}\n",
			`kf-run.yaml:4: unknown key "allow_forks" in pipelines[0].preview`},
		// The fork's own kf-run.yaml could allow itself: the opt-in is
		// the job's environment.
		{"allow_forks is retired", "preview:\n  experiment: pr\n  allow_forks: true\npipelines: [{name: a, spec: a.yaml}]\n",
			"kf-run.yaml:3: preview.allow_forks is no longer read: on a fork's pull request kf-run.yaml is the fork's own file, so the fork could allow itself. Remove it; to let fork pull requests through where the job has your secrets, set KF_RUN_ALLOW_FORKS=true"},
		{"bad template", "preview:\n  experiment: \"pr-{{ .PR.Number\"\npipelines: [{name: a, spec: a.yaml}]\n",
			"kf-run.yaml:2: bad template"},
		{"secret in top-level preview parameters", "preview:\n  parameters:\n    token: ${API_TOKEN}\npipelines: [{name: a, spec: a.yaml, secret_parameters: [token]}]\n",
			"kf-run.yaml:3: preview parameter token takes ${API_TOKEN}, a secret"},
		{"secret in a pipeline's preview parameters", "pipelines:\n  - name: a\n    spec: a.yaml\n    preview:\n      parameters:\n        token: ${API_TOKEN}\n",
			"kf-run.yaml:6: parameter token takes ${API_TOKEN}, a secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("kf-run.yaml", []byte(tt.src), env(map[string]string{"API_TOKEN": "s3cr3t-value"}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
	// A pipeline may accept a secret in its own preview parameters.
	src := "pipelines:\n  - name: a\n    spec: a.yaml\n    secret_parameters: [token]\n    preview:\n      parameters:\n        token: ${API_TOKEN}\n"
	if _, err := Parse("kf-run.yaml", []byte(src), env(map[string]string{"API_TOKEN": "s3cr3t-value"})); err != nil {
		t.Errorf("opted in: %v", err)
	}
}

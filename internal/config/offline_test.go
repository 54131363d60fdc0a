package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOfflineListsUnsetVariables(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kf-run.yaml")
	os.WriteFile(path, []byte(`kubeflow:
  host: https://kf.example.com/pipeline
  auth:
    token: ${KFP_TOKEN}
pipelines:
  - name: a
    spec: a.yaml
    parameters:
      n: ${N}
      m: ${M:-1}
  - name: b
    spec: b.yaml
    parameters:
      n: ${N}
`), 0o644)
	env := func(string) (string, bool) { return "", false }
	if _, err := Load(path, env); err == nil || !strings.Contains(err.Error(), "KFP_TOKEN is not set: give the job this secret") || strings.Contains(err.Error(), "${KFP_TOKEN:-") {
		t.Errorf("Load: %v, want the secret's own message, no default suggested", err)
	}
	c, err := LoadOffline(path, env)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range c.Unset {
		got = append(got, u.Name+"@"+u.Param)
	}
	if strings.Join(got, " ") != "KFP_TOKEN@ N@n N@n" {
		t.Errorf("Unset = %v", got)
	}
	if a, b := c.Pipelines[0].UnsetParams, c.Pipelines[1].UnsetParams; len(a) != 1 || a[0] != "n" || len(b) != 1 || b[0] != "n" {
		t.Errorf("UnsetParams = %v, %v", a, b)
	}
	if c.Kubeflow.Auth.Token.Value != "" {
		t.Errorf("token = %q, want empty", c.Kubeflow.Auth.Token.Value)
	}
}

// An error on a line whose variable was unset says so: the error may be
// only that.
func TestLoadOfflineNotesUnsetOnErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kf-run.yaml")
	os.WriteFile(path, []byte("defaults:\n  timeout: ${T}\npipelines:\n  - name: a\n    spec: a.yaml\n"), 0o644)
	_, err := LoadOffline(path, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "kf-run.yaml:2") || !strings.Contains(err.Error(), "${T} is not set here and was read as empty") {
		t.Errorf("err = %v", err)
	}
}

func TestRenderName(t *testing.T) {
	t.Parallel()
	type vars struct {
		Git struct{ ShortSHA, Branch string }
		PR  struct{ Number int }
	}
	v := vars{}
	v.Git.Branch = "main"
	why := func(f string) string { return "why " + f }
	c := &Config{Path: "kf-run.yaml"}
	tests := []struct {
		tpl, want, err string
	}{
		{"plain", "plain", ""},
		{"r-{{ .Git.Branch }}", "r-main", ""},
		{"{{ .Git.ShortSHA }}", "", `kf-run.yaml:3: version: template "{{ .Git.ShortSHA }}": {{ .Git.ShortSHA }} is empty: why .Git.ShortSHA.`},
		{"lw {{ .Git.Branch }} {{ .Git.ShortSHA }}", "", "{{ .Git.ShortSHA }} is empty"},
		{"{{ .PR.Number }}", "", "{{ .PR.Number }} is empty: why .PR.Number"},
		{"{{ with .Git.ShortSHA }}{{ . }}{{ else }}local{{ end }}", "local", ""},
		{"{{ if .PR.Number }}pr-{{ .PR.Number }}{{ end }}", "", `template "{{ if .PR.Number }}pr-{{ .PR.Number }}{{ end }}" renders empty`},
		{"{{ .Nope }}", "", "can't evaluate field Nope"},
	}
	for _, tt := range tests {
		got, err := c.RenderName("version", Text{Value: tt.tpl, Line: 3}, v, why)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%q: %q, %v; want %q", tt.tpl, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: err %v, want %q", tt.tpl, err, tt.err)
		}
	}
}

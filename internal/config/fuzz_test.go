package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that the config loader never panics or hangs on any
// file, and that every error it gives names the file (and the line where
// it has one): a user must see where to look. Run it with
// scripts/fuzz.sh; make test runs only the seeds.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"pipelines:\n  - name: a\n    spec: a.yaml\n",
		"kubeflow: {host: https://kf.example.com/pipeline, namespace: team}\npipelines: [{name: a, spec: a.yaml, parameters: {x: 1}}]\n",
		"pipelines:\n  - name: a\n    spec: a.yaml\n    version: \"{{ .Git.ShortSHA \"\n",
		"pipelines:\n  - name: a\n    spec: a.yaml\n    parameters:\n      token: ${API_TOKEN}\n",
		"pipelines:\n  - name: a\n    spec: a.yaml\n    pod:\n      tolerations: [{key: k, operator: Equal}]\n      tasks: {t: {node_selector: {a: b}}}\n",
		"a: &x [1, *x]\n",
		"defaults: {timeout: 2 hours}\n",
		"kubeflow:\n  auth:\n    token: ${NOPE:-x}\n    password: $$literal\n",
		"images: {repo: ghcr.io/acme, platforms: [linux/amd64]}\npipelines: [{name: a, spec: ko://x}]\n",
	} {
		f.Add([]byte(seed))
	}
	env := func(k string) (string, bool) {
		switch k {
		case "API_TOKEN":
			return "tok-123456", true
		case "NUM":
			return "7", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Go's fuzzer does not stop an input that hangs: crash on it, so
		// the input is kept under testdata/fuzz.
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse hangs on %q", data)) })
		defer hang.Stop()
		c, err := Parse("kf-run.yaml", data, env)
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if line != "" && !strings.HasPrefix(line, "kf-run.yaml") && !strings.HasPrefix(line, "  ") {
				t.Fatalf("error line %q does not name the file:\n%v", line, err)
			}
		}
	})
}

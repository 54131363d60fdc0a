package cifiles

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const templatePath = "../templates/kf-run/template.yml"

// GitLab's CI/CD YAML reference, https://docs.gitlab.com/ci/yaml/ ("Job
// keywords", and the keys of image, artifacts and artifacts:reports), and
// the inputs reference, https://docs.gitlab.com/ci/inputs/.
var (
	gitlabJobKeys = []string{
		"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
		"dast_configuration", "dependencies", "environment", "extends", "hooks", "identity",
		"id_tokens", "image", "inherit", "interruptible", "manual_confirmation", "needs", "pages",
		"parallel", "release", "resource_group", "retry", "rules", "run", "script", "secrets",
		"services", "stage", "tags", "timeout", "trigger", "variables", "when",
		"only", "except", // deprecated, still accepted
	}
	gitlabImageKeys     = []string{"name", "entrypoint", "docker", "pull_policy", "kubernetes"}
	gitlabArtifactsKeys = []string{"paths", "exclude", "expire_in", "expose_as", "name", "public", "access", "reports", "untracked", "when"}
	gitlabReportKeys    = []string{
		"accessibility", "annotations", "api_fuzzing", "browser_performance", "coverage_report",
		"codequality", "container_scanning", "coverage_fuzzing", "cyclonedx", "dast",
		"dependency_scanning", "dotenv", "junit", "load_performance", "metrics", "requirements",
		"repository_xray", "sast", "secret_detection", "terraform",
	}
	gitlabInputKeys = []string{"default", "description", "options", "regex", "type", "rules"}
)

// inputRef is one use of an input: $[[ inputs.NAME ]], maybe with functions.
var inputRef = regexp.MustCompile(`\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*(\|[^\]]*)?\]\]`)

type input struct {
	Default     *string  `yaml:"default"`
	Description string   `yaml:"description"`
	Options     []string `yaml:"options"`
	Type        string   `yaml:"type"`
}

type job struct {
	Stage string `yaml:"stage"`
	Image struct {
		Name       string   `yaml:"name"`
		Entrypoint []string `yaml:"entrypoint"`
	} `yaml:"image"`
	Variables   map[string]string `yaml:"variables"`
	Script      []string          `yaml:"script"`
	AfterScript []string          `yaml:"after_script"`
	Artifacts   struct {
		When    string            `yaml:"when"`
		Reports map[string]string `yaml:"reports"`
	} `yaml:"artifacts"`
}

// component is the template read as GitLab reads it: the spec header, and
// the job document as a node tree (for the key checks) and decoded.
type component struct {
	raw    string
	inputs map[string]input
	body   string
	tree   yaml.Node
	name   string
	job    job
}

func readComponent(t *testing.T) *component {
	t.Helper()
	b, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	c := &component{raw: string(b)}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var header struct {
		Spec struct {
			Inputs yaml.Node `yaml:"inputs"`
		} `yaml:"spec"`
	}
	if err := dec.Decode(&header); err != nil {
		t.Fatalf("%s: spec header: %v", templatePath, err)
	}
	if err := dec.Decode(&c.tree); err != nil {
		t.Fatalf("%s: job document: %v", templatePath, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: want exactly two YAML documents (spec, ---, job), found more (%v)", templatePath, err)
	}
	checkKeys(t, "spec:inputs:*", header.Spec.Inputs, 2, gitlabInputKeys)
	if err := header.Spec.Inputs.Decode(&c.inputs); err != nil {
		t.Fatalf("spec:inputs: %v", err)
	}
	_, c.body, _ = strings.Cut(c.raw, "\n---\n")

	root := c.tree.Content[0]
	if len(root.Content) != 2 {
		t.Fatalf("the component must define one job and no global keyword; top-level keys: %d", len(root.Content)/2)
	}
	c.name = root.Content[0].Value
	if err := root.Content[1].Decode(&c.job); err != nil {
		t.Fatalf("job %s: %v", c.name, err)
	}
	return c
}

// checkKeys checks the mapping keys at depth (1: the node's own keys, 2:
// the keys of each of its values) against GitLab's list.
func checkKeys(t *testing.T, where string, n yaml.Node, depth int, known []string) {
	t.Helper()
	if n.Kind != yaml.MappingNode {
		t.Errorf("%s: not a mapping", where)
		return
	}
	for i := 0; i < len(n.Content); i += 2 {
		if depth > 1 {
			checkKeys(t, where, *n.Content[i+1], depth-1, known)
			continue
		}
		if k := n.Content[i].Value; !slices.Contains(known, k) {
			t.Errorf("%s: %q (line %d) is not a key GitLab knows here (%v)", where, k, n.Content[i].Line, known)
		}
	}
}

func TestGitLabComponentInputs(t *testing.T) {
	t.Parallel()
	c := readComponent(t)
	var declared, used []string
	for name, in := range c.inputs {
		declared = append(declared, name)
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
		if in.Default == nil {
			continue // mandatory input
		}
		if len(in.Options) > 0 && !slices.Contains(in.Options, *in.Default) {
			t.Errorf("input %s: default %q is not one of its options %v", name, *in.Default, in.Options)
		}
	}
	for _, m := range inputRef.FindAllStringSubmatch(c.body, -1) {
		if !slices.Contains(used, m[1]) {
			used = append(used, m[1])
		}
	}
	if inputRef.MatchString(strings.TrimSuffix(c.raw, c.body)) {
		t.Errorf("an input is used in the spec header, where GitLab does not interpolate")
	}
	sort.Strings(declared)
	sort.Strings(used)
	if diff := cmp.Diff(declared, used); diff != "" {
		t.Errorf("declared inputs (-) vs used inputs (+) differ:\n%s", diff)
	}
	// An input only ever reaches the shell through a variable: the script
	// text itself never contains one.
	for _, s := range append(slices.Clone(c.job.Script), c.job.AfterScript...) {
		if inputRef.MatchString(s) {
			t.Errorf("script interpolates an input into shell text (pass it through variables:):\n%s", s)
		}
	}
}

func TestGitLabComponentJob(t *testing.T) {
	t.Parallel()
	c := readComponent(t)
	root := c.tree.Content[0]
	if c.name != "$[[ inputs.job-name ]]" {
		t.Errorf("job name is %q, want the job-name input", c.name)
	}
	jobNode := *root.Content[1]
	checkKeys(t, "job", jobNode, 1, gitlabJobKeys)
	for i := 0; i < len(jobNode.Content); i += 2 {
		switch v := *jobNode.Content[i+1]; jobNode.Content[i].Value {
		case "image":
			checkKeys(t, "image", v, 1, gitlabImageKeys)
		case "artifacts":
			checkKeys(t, "artifacts", v, 1, gitlabArtifactsKeys)
			for j := 0; j < len(v.Content); j += 2 {
				if v.Content[j].Value == "reports" {
					checkKeys(t, "artifacts:reports", *v.Content[j+1], 1, gitlabReportKeys)
				}
			}
		}
	}
	if c.job.Stage != "$[[ inputs.stage ]]" {
		t.Errorf("stage is %q, want the stage input", c.job.Stage)
	}
	// The image's entrypoint is kf-run: GitLab must start its shell instead.
	if !slices.Equal(c.job.Image.Entrypoint, []string{""}) {
		t.Errorf(`image entrypoint is %q, want [""]`, c.job.Image.Entrypoint)
	}
	if c.job.Image.Name != "$[[ inputs.image ]]:$[[ inputs.image-tag ]]" || *c.inputs["image"].Default != "ghcr.io/kf-run/kf-run" {
		t.Errorf("image %q (default %q), want the published ghcr.io/kf-run/kf-run with the image-tag input", c.job.Image.Name, *c.inputs["image"].Default)
	}
	if c.job.Artifacts.When != "always" {
		t.Errorf("artifacts:when is %q: the reports must be kept when a run fails", c.job.Artifacts.When)
	}
	// kf-run writes the reports where the artifacts are collected.
	for report, env := range map[string]string{"dotenv": "KF_RUN_DOTENV", "annotations": "KF_RUN_ANNOTATIONS"} {
		path := c.job.Artifacts.Reports[report]
		if path == "" || c.job.Variables[env] != "$CI_PROJECT_DIR/"+path {
			t.Errorf("artifacts:reports:%s is %q but %s is %q", report, path, env, c.job.Variables[env])
		}
	}
}

// The script passes every input to kf-run as one argument, whatever it
// holds: spaces, quotes, globs, command substitutions. It runs here under
// sh with a stand-in kf-run that records its arguments, after the input
// interpolation GitLab does at pipeline creation.
func TestGitLabComponentScript(t *testing.T) {
	t.Parallel()
	c := readComponent(t)
	hostile := "a=1 2\nb=$(touch pwned)\nc=*\n\nd='x\" `touch pwned`"
	tests := []struct {
		name   string
		inputs map[string]string
		status string // CI_JOB_STATUS for after_script
		script []string
		stop   []string
	}{
		{
			name:   "defaults",
			status: "success",
			script: []string{"run", "--summary-file", "{project}/.kf-run/summary.md"},
		},
		{
			name: "every input",
			inputs: map[string]string{
				"config": "ml/kf run.yaml", "pipelines": "train  eval", "spec": "", "host": "https://kfp.example.com/pipeline",
				"namespace": "team-ml", "experiment": "nightly $(touch pwned)", "params": hostile, "timeout": "45m",
				"wait": "false", "comment": "false", "working-directory": "sub dir",
			},
			status: "canceled",
			script: []string{"run", "--summary-file", "{project}/.kf-run/summary.md",
				"--config", "ml/kf run.yaml", "--host", "https://kfp.example.com/pipeline", "--namespace", "team-ml",
				"--experiment", "nightly $(touch pwned)", "--timeout", "45m", "--no-wait", "--no-comment",
				"--pipeline", "train", "--pipeline", "eval",
				"--param", "a=1 2", "--param", "b=$(touch pwned)", "--param", "c=*", "--param", "d='x\" `touch pwned`"},
			stop: []string{"stop", "--config", "ml/kf run.yaml", "--host", "https://kfp.example.com/pipeline", "--namespace", "team-ml"},
		},
		{
			name:   "cancelled, stop-on-cancel off",
			inputs: map[string]string{"stop-on-cancel": "false", "spec": "p.yaml"},
			status: "canceled",
			script: []string{"run", "--summary-file", "{project}/.kf-run/summary.md", "--spec", "p.yaml"},
		},
		{
			name:   "cancelled",
			status: "canceled",
			script: []string{"run", "--summary-file", "{project}/.kf-run/summary.md"},
			stop:   []string{"stop"},
		},
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("the script test needs sh: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			project := t.TempDir()
			if err := os.MkdirAll(filepath.Join(project, "sub dir"), 0o755); err != nil {
				t.Fatal(err)
			}
			bin := t.TempDir()
			record := filepath.Join(bin, "args")
			fake := "#!/bin/sh\nprintf '%s\\0' \"$@\" >> '" + record + "'\nprintf '\\n' >> '" + record + "'\n"
			if err := os.WriteFile(filepath.Join(bin, "kf-run"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			// GitLab interpolates the inputs into the job's strings, then
			// expands $VARIABLES in variable values. The inputs' variables
			// are kept as written here: whatever GitLab makes of a $ in
			// them, the script gets it as data.
			env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "CI_PROJECT_DIR=" + project, "CI_JOB_STATUS=" + tt.status}
			for k, v := range c.job.Variables {
				v = inputRef.ReplaceAllStringFunc(v, func(ref string) string {
					name := inputRef.FindStringSubmatch(ref)[1]
					if val, ok := tt.inputs[name]; ok {
						return val
					}
					return *c.inputs[name].Default
				})
				if !strings.HasPrefix(k, "KF_RUN_INPUT_") {
					v = os.Expand(v, func(s string) string {
						if s == "CI_PROJECT_DIR" {
							return project
						}
						t.Fatalf("variable %s refers to $%s, which this test does not know", k, s)
						return ""
					})
				}
				env = append(env, k+"="+v)
			}
			runSteps := func(steps []string) [][]string {
				_ = os.Remove(record)
				for _, s := range steps {
					cmd := exec.Command(sh, "-e", "-c", s)
					cmd.Dir, cmd.Env = project, env
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("script step failed: %v\n%s\n--- step:\n%s", err, out, s)
					}
				}
				b, err := os.ReadFile(record)
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				var calls [][]string
				for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
					calls = append(calls, strings.Split(strings.TrimSuffix(line, "\x00"), "\x00"))
				}
				return calls
			}
			expand := func(args []string) [][]string {
				if args == nil {
					return nil
				}
				out := slices.Clone(args)
				for i := range out {
					out[i] = strings.ReplaceAll(out[i], "{project}", project)
				}
				return [][]string{out}
			}
			if diff := cmp.Diff(expand(tt.script), runSteps(c.job.Script)); diff != "" {
				t.Errorf("script ran kf-run with (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(expand(tt.stop), runSteps(c.job.AfterScript)); diff != "" {
				t.Errorf("after_script ran kf-run with (-want +got):\n%s", diff)
			}
			for _, dir := range []string{project, filepath.Join(project, "sub dir")} {
				if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
					t.Errorf("an input was run as a command")
				}
			}
			if _, err := os.Stat(filepath.Join(project, ".kf-run")); err != nil {
				t.Errorf("the script does not create the reports' directory: %v", err)
			}
		})
	}
}

// The example .gitlab-ci.yml includes the component with declared inputs.
func TestGitLabExample(t *testing.T) {
	t.Parallel()
	c := readComponent(t)
	b, err := os.ReadFile("../examples/gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Include []struct {
			Component string         `yaml:"component"`
			Inputs    map[string]any `yaml:"inputs"`
		} `yaml:"include"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("examples/gitlab-ci.yml: %v", err)
	}
	n := 0
	for _, inc := range doc.Include {
		if !strings.Contains(inc.Component, "/kf-run/kf-run@") {
			continue
		}
		n++
		for name, v := range inc.Inputs {
			if _, ok := c.inputs[name]; !ok {
				t.Errorf("examples/gitlab-ci.yml: input %q is not declared by the component", name)
			}
			// Every input is a string: GitLab refuses an unquoted false.
			if _, ok := v.(string); !ok {
				t.Errorf("examples/gitlab-ci.yml: input %s: %v is a %T; quote it", name, v, v)
			}
		}
		for name, in := range c.inputs {
			if _, ok := inc.Inputs[name]; !ok && in.Default == nil {
				t.Errorf("examples/gitlab-ci.yml: mandatory input %q is missing", name)
			}
		}
	}
	if n == 0 {
		t.Error("examples/gitlab-ci.yml does not include the kf-run component")
	}
	// Every script line is a string (an unquoted "echo a: b" is a mapping).
	var jobs map[string]yaml.Node
	if err := yaml.Unmarshal(b, &jobs); err != nil {
		t.Fatal(err)
	}
	for name, j := range jobs {
		var steps struct {
			Script       []yaml.Node `yaml:"script"`
			BeforeScript []yaml.Node `yaml:"before_script"`
			AfterScript  []yaml.Node `yaml:"after_script"`
		}
		if j.Kind != yaml.MappingNode || j.Decode(&steps) != nil {
			continue
		}
		for _, s := range slices.Concat(steps.Script, steps.BeforeScript, steps.AfterScript) {
			if s.Kind != yaml.ScalarNode {
				t.Errorf("examples/gitlab-ci.yml:%d: job %s: a script line that is not a string; quote it", s.Line, name)
			}
		}
	}
}

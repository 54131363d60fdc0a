package cifiles

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// workflowFiles are the workflows this repository runs and the examples it
// gives its users.
func workflowFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"../.github/workflows", "../examples/workflows"} {
		for _, ext := range []string{"*.yml", "*.yaml"} {
			m, err := filepath.Glob(filepath.Join(dir, ext))
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, m...)
		}
	}
	for _, must := range []string{"../.github/workflows/ci.yml", "../examples/workflows/pull-request.yml", "../examples/workflows/nightly.yml"} {
		if !slices.Contains(files, must) {
			t.Fatalf("%s is missing (found %v)", must, files)
		}
	}
	return files
}

// actionlint's own checks: syntax, expressions and their types, contexts
// per event, known actions' inputs, runner labels, cron syntax, and
// untrusted values in scripts. shellcheck and pyflakes are off: actionlint
// runs them only as external programs.
// project is the repository root and its actionlint project (which reads
// local actions such as ./action.yml from it).
func project(t *testing.T) (string, *actionlint.Project) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, proj
}

func TestActionlint(t *testing.T) {
	t.Parallel()
	root, proj := project(t)
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{WorkingDir: root, Oneline: true})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range workflowFiles(t) {
		abs, _ := filepath.Abs(f)
		files = append(files, abs)
	}
	errs, err := linter.LintFiles(files, proj)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Errorf("actionlint found %d problems:\n%s", len(errs), out.String())
	}
}

// A step that uses the kf-run Action passes only the inputs action.yml
// declares, and every required one, so an example cannot drift from the
// Action. Examples also keep ${{ }} out of run: scripts (values reach a
// script through env:), as users copy them.
func TestWorkflowsMatchAction(t *testing.T) {
	t.Parallel()
	_, proj := project(t)
	meta, _, err := actionlint.NewLocalActionsCache(proj, nil).FindMetadata("./")
	if err != nil || meta == nil {
		t.Fatalf("read action.yml: %v", err)
	}
	var declared []string
	for name := range meta.Inputs {
		declared = append(declared, name)
	}
	sort.Strings(declared)

	uses := 0
	for _, f := range workflowFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		wf, perrs := actionlint.Parse(b)
		if len(perrs) > 0 {
			t.Errorf("%s: %v", f, perrs[0])
			continue
		}
		example := strings.Contains(filepath.ToSlash(f), "examples/")
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				switch e := step.Exec.(type) {
				case *actionlint.ExecRun:
					if example && e.Run != nil && strings.Contains(e.Run.Value, "${{") {
						t.Errorf("%s:%d: an expression in a run: script; pass the value through env:", f, e.Run.Pos.Line)
					}
				case *actionlint.ExecAction:
					if e.Uses == nil || !strings.HasPrefix(e.Uses.Value, "kf-run/kf-run@") {
						continue
					}
					uses++
					for key, in := range e.Inputs {
						if _, ok := meta.Inputs[key]; !ok {
							t.Errorf("%s:%d: input %q is not declared by action.yml (inputs: %s)", f, in.Name.Pos.Line, in.Name.Value, strings.Join(declared, ", "))
						}
					}
					for key, in := range meta.Inputs {
						if _, ok := e.Inputs[key]; in.Required && !ok {
							t.Errorf("%s:%d: required input %q of the Action is missing", f, e.Uses.Pos.Line, in.Name)
						}
					}
				}
			}
		}
	}
	if uses < 2 {
		t.Errorf("only %d steps use kf-run/kf-run@…: the examples should show the Action", uses)
	}
}

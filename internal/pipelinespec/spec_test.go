package pipelinespec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// minimal is a complete one-task package; tests splice problems into it.
const minimal = `components:
  comp-hello:
    executorLabel: exec-hello
deploymentSpec:
  executors:
    exec-hello:
      container:
        image: alpine:3
pipelineInfo:
  name: hello
root:
  dag:
    tasks:
      hello:
        componentRef:
          name: comp-hello
schemaVersion: 2.1.0
sdkVersion: kfp-2.4.0
`

var ignoreOriginal = cmpopts.IgnoreUnexported(Spec{})

func TestLoadTwoStep(t *testing.T) {
	t.Parallel()
	s, err := Load(filepath.Join("testdata", "two_step.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := *s
	got.Pipeline, got.Platform = nil, nil
	want := Spec{
		Path:          filepath.Join("testdata", "two_step.yaml"),
		Name:          "two-step",
		Description:   "Prepare, then train.",
		SchemaVersion: "2.1.0",
		SDKVersion:    "kfp-2.4.0",
		Inputs: []Input{
			{Name: "data", Type: String, Description: "Where the data is."},
			{Name: "epochs", Type: Integer, Default: int64(3), HasDefault: true},
			{Name: "layers", Type: List, Optional: true},
			{Name: "lr", Type: Double, Default: 0.001, HasDefault: true},
			{Name: "opts", Type: Struct, Default: map[string]any{"a": int64(1)}, HasDefault: true},
			{Name: "seed", Type: Integer, Default: json.Number("123456789012345678901234567890"), HasDefault: true},
			{Name: "shuffle", Type: Boolean, Default: true, HasDefault: true},
		},
		Tasks: []Task{
			{Name: "prep", DisplayName: "prep", Image: "python:3.11", Executor: "exec-prep", ComponentRef: "comp-prep"},
			{Name: "train", DisplayName: "Train the model", DependsOn: []string{"prep"}, Image: "ko://github.com/acme/ml/cmd/train", Executor: "exec-train", ComponentRef: "comp-train"},
		},
	}
	if diff := cmp.Diff(want, got, ignoreOriginal); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ko://github.com/acme/ml/cmd/train", "python:3.11"}, s.Images()); diff != "" {
		t.Errorf("Images (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"kept": []any{int64(1), 2.5, "x"}}, s.Pipeline["futureField"]); diff != "" {
		t.Errorf("unknown top-level key (-want +got):\n%s", diff)
	}
	if s.Platform == nil || dig(s.Platform, "platforms", "kubernetes", "deploymentSpec", "executors", "exec-train") == nil {
		t.Errorf("Platform = %v, want the kubernetes platform spec", s.Platform)
	}
	raw, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Original()) != string(raw) {
		t.Error("Original() differs from the file")
	}
}

// TestParseErrors checks each problem's message and position.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	replace := func(old, new string) string {
		if !strings.Contains(minimal, old) {
			panic("test fixture lacks " + old)
		}
		return strings.Replace(minimal, old, new, 1)
	}
	tests := []struct {
		name  string
		in    string
		line  int
		col   int
		msg   string // substring of Msg
		hint  string // substring of Hint
		count int    // number of *Error joined; 0 means 1
	}{
		{name: "empty", in: "", msg: "empty file"},
		{name: "comments only", in: "# PIPELINE DEFINITION\n# Name: echo\n", msg: "empty file"},
		{name: "only document markers", in: "---\n---\n", msg: "empty file"},
		{name: "unclosed flow list", in: "not: [a, pipeline", line: 1, msg: "invalid YAML"},
		{name: "bad second document", in: minimal + "---\nplatforms: [\n", line: 20, msg: "invalid YAML"},
		{name: "tab indentation", in: "a:\n\tb: 1\n", line: 2, msg: "invalid YAML"},
		{name: "scalar document", in: "hello\n", line: 1, col: 1, msg: "not a mapping"},
		{name: "list document", in: "- a\n- b\n", line: 1, col: 1, msg: "not a mapping"},
		{name: "unknown document", in: "kind: Pod\napiVersion: v1\n", line: 1, col: 1, msg: "neither a KFP pipeline spec nor a platform spec (top-level keys: apiVersion, kind)"},
		{
			name: "argo workflow",
			in:   "# v1\napiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: x-}\n",
			line: 2, col: 1,
			msg:  "KFP v1 package (Argo Workflow)",
			hint: "kfp dsl compile --py pipeline.py --output pipeline.yaml",
		},
		{
			name: "platform spec alone",
			in:   "platforms:\n  kubernetes: {}\n",
			line: 1, col: 1,
			msg:  "only a kubernetes platform spec",
			hint: "second YAML document",
		},
		{name: "two pipeline specs", in: minimal + "---\n" + minimal, line: 20, col: 1, msg: "a second pipeline spec"},
		{name: "two platform specs", in: minimal + "---\nplatforms: {}\n---\nplatforms: {}\n", line: 22, col: 1, msg: "a second platform spec"},
		{name: "platform spec not a mapping", in: minimal + "---\nplatforms: [k8s]\n", line: 20, col: 1, msg: "platform spec: platforms must be a mapping, not a list"},
		{name: "platform executors not a mapping", in: minimal + "---\nplatforms:\n  kubernetes:\n    deploymentSpec:\n      executors: 3\n", line: 23, col: 7, msg: "platform spec: platforms.kubernetes.deploymentSpec.executors must be a mapping, not a number"},
		{name: "gzip", in: "\x1f\x8b\x08\x00", msg: "gzip archive"},
		{name: "duplicate key", in: replace("schemaVersion: 2.1.0\n", "schemaVersion: 2.1.0\nschemaVersion: 2.0.0\n"), line: 18, col: 1, msg: `mapping key "schemaVersion" defined twice`},
		{name: "alias cycle", in: "a: &x [1, *x]\n", line: 1, col: 11, msg: "contains it"},
		{name: "unknown anchor", in: "a: *nope\n", line: 1, col: 4, msg: "unknown anchor"},
		{name: "nan", in: "a: .nan\n", line: 1, col: 4, msg: "cannot be represented in JSON"},
		{name: "infinity", in: "a: -.inf\n", line: 1, col: 4, msg: "cannot be represented in JSON"},
		{name: "number out of range", in: `{"a": 1e400}`, line: 1, col: 7, msg: "out of range"},
		{name: "complex key", in: "? [a]\n: 1\n", line: 1, col: 3, msg: "mapping keys must be strings"},
		{name: "missing name", in: replace("  name: hello\n", "  description: x\n"), line: 9, col: 1, msg: "pipelineInfo.name is missing"},
		{name: "missing pipelineInfo", in: replace("pipelineInfo:\n  name: hello\n", ""), line: 1, col: 1, msg: "pipelineInfo is missing"},
		{name: "name not a string", in: replace("  name: hello\n", "  name: [hello]\n"), line: 10, col: 3, msg: "pipelineInfo.name must be a string"},
		{name: "missing root", in: replace("root:\n  dag:\n    tasks:\n      hello:\n        componentRef:\n          name: comp-hello\n", ""), line: 1, col: 1, msg: "root is missing"},
		{name: "missing components", in: replace("components:\n  comp-hello:\n    executorLabel: exec-hello\n", ""), line: 1, col: 1, msg: "components is missing"},
		{name: "missing deploymentSpec", in: replace("deploymentSpec:\n  executors:\n    exec-hello:\n      container:\n        image: alpine:3\n", ""), line: 1, col: 1, msg: "deploymentSpec is missing"},
		{name: "no executors", in: replace("  executors:\n    exec-hello:\n      container:\n        image: alpine:3\n", "  other: {}\n"), line: 3, col: 5, msg: `executor "exec-hello" is not in deploymentSpec.executors`, hint: "there are no executors"},
		{name: "root without dag", in: replace("root:\n  dag:\n", "root:\n  notdag:\n"), line: 11, col: 1, msg: "root.dag is missing"},
		{name: "no tasks", in: replace("    tasks:\n      hello:\n        componentRef:\n          name: comp-hello\n", "    tasks: {}\n"), line: 13, col: 5, msg: "root.dag.tasks is empty"},
		{name: "tasks a list", in: replace("    tasks:\n      hello:\n        componentRef:\n          name: comp-hello\n", "    tasks: [hello]\n"), line: 13, col: 5, msg: "root.dag.tasks must be a mapping, not a list"},
		{name: "missing component", in: replace("          name: comp-hello\n", "          name: comp-bye\n"), line: 16, col: 11, msg: `task "hello": component "comp-bye" is not in components`, hint: "components: comp-hello"},
		{name: "no componentRef", in: replace("        componentRef:\n          name: comp-hello\n", "        taskInfo: {name: hello}\n"), line: 14, col: 7, msg: `task "hello" has no componentRef.name`},
		{name: "missing executor", in: replace("    executorLabel: exec-hello\n", "    executorLabel: exec-bye\n"), line: 3, col: 5, msg: `component "comp-hello": executor "exec-bye" is not in deploymentSpec.executors`, hint: "executors: exec-hello"},
		{name: "missing dependency", in: replace("          name: comp-hello\n", "          name: comp-hello\n        dependentTasks: [ghost]\n"), line: 17, col: 26, msg: `task "hello" depends on "ghost", which is not a task of root.dag`},
		{name: "self dependency", in: replace("          name: comp-hello\n", "          name: comp-hello\n        dependentTasks: [hello]\n"), line: 17, col: 26, msg: `task "hello" depends on itself`},
		{
			name: "cycle",
			in: replace("          name: comp-hello\n", "          name: comp-hello\n        dependentTasks: [bye]\n"+
				"      bye:\n        componentRef: {name: comp-hello}\n        dependentTasks: [hello]\n"),
			line: 18, col: 7, msg: `dependency cycle among tasks "bye", "hello"`,
		},
		{
			name: "problems in a sub-DAG are found too",
			in: replace("    executorLabel: exec-hello\n", "    executorLabel: exec-hello\n  comp-sub:\n    dag:\n      tasks:\n"+
				"        inner: {componentRef: {name: comp-gone}}\n"),
			line: 7, col: 32, msg: `task "inner": component "comp-gone" is not in components`,
		},
		{
			name: "every structure problem is reported",
			in:   replace("          name: comp-hello\n", "          name: comp-bye\n        dependentTasks: [ghost]\n"),
			line: 16, col: 11, msg: "comp-bye", count: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse("p.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", s)
			}
			errs := unjoin(err)
			if want := max(tt.count, 1); len(errs) != want {
				t.Fatalf("Parse error = %v, want %d errors", err, want)
			}
			var e *Error
			if !errors.As(errs[0], &e) {
				t.Fatalf("Parse error %T %v, want *Error", errs[0], errs[0])
			}
			got := Error{File: e.File, Line: e.Line, Column: e.Column}
			if diff := cmp.Diff(Error{File: "p.yaml", Line: tt.line, Column: tt.col}, got); diff != "" {
				t.Errorf("position of %q (-want +got):\n%s", e, diff)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, tt.msg)
			}
			if !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("Hint = %q, want it to contain %q", e.Hint, tt.hint)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestErrorPositionInFile checks file:line:col against a file on disk.
func TestErrorPositionInFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "missing_refs.yaml")
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	var got []string
	for _, e := range unjoin(err) {
		got = append(got, strings.SplitN(e.Error(), "\n", 2)[0])
	}
	want := []string{
		path + `:5:5: component "comp-b": executor "exec-missing" is not in deploymentSpec.executors`,
		path + `:21:11: task "b": component "comp-nope" is not in components`,
		path + `:24:11: task "b" depends on "ghost", which is not a task of root.dag`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "p.yaml", Line: 3, Column: 7, Msg: "bad"}, "p.yaml:3:7: bad"},
		{Error{File: "p.yaml", Line: 3, Msg: "bad"}, "p.yaml:3: bad"},
		{Error{File: "p.yaml", Msg: "empty", Hint: "compile it"}, "p.yaml: empty\n  hint: compile it"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join("testdata", "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load error = %v, want os.ErrNotExist", err)
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"ints stay int64", "a: 3", int64(3)},
		{"hex", "a: 0x1F", int64(31)},
		{"underscores", "a: 1_000", int64(1000)},
		{"max int64", "a: 9223372036854775807", int64(9223372036854775807)},
		{"beyond int64 keeps digits", "a: 99999999999999999999999", json.Number("99999999999999999999999")},
		{"negative beyond int64", "a: -99999999999999999999999", json.Number("-99999999999999999999999")},
		{"floats", "a: 2.5", 2.5},
		{"whole floats", "a: 2.0", 2.0},
		{"exponent", "a: 1e3", 1000.0},
		{"quoted number is a string", `a: "3"`, "3"},
		{"timestamp stays text", "a: 2024-01-02", "2024-01-02"},
		{"null", "a: ~", nil},
		{"bool", "a: true", true},
		{"yes is a string in YAML 1.2", "a: yes", "yes"},
		{"merge keys", "base: &b {x: 1, y: 2}\na: {<<: *b, y: 3}", map[string]any{"x": int64(1), "y": int64(3)}},
		{"merge list", "p: &p {x: 1}\nq: &q {x: 2, z: 3}\na: {<<: [*p, *q]}", map[string]any{"x": int64(1), "z": int64(3)}},
		{"alias", "b: &b [1, two]\na: *b", []any{int64(1), "two"}},
		{"numeric keys are strings", "a: {1: one}", map[string]any{"1": "one"}},
		{"JSON", `{"a": {"b": [1, 1.5, true, null, "s"]}}`, map[string]any{"b": []any{int64(1), 1.5, true, nil, "s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			docs, err := decodeAll("v.yaml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := docs[0].value.(map[string]any)["a"]
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("value of a (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	in := `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	_, err := Parse("bomb.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Parse error = %v, want too large", err)
	}
}

func TestTaskOrderIsTopological(t *testing.T) {
	t.Parallel()
	in := strings.Replace(minimal, "      hello:\n", `      a:
        componentRef: {name: comp-hello}
        dependentTasks: [z]
      z:
        componentRef: {name: comp-hello}
        dependentTasks: [m]
      m:
        componentRef: {name: comp-hello}
      b:
        componentRef: {name: comp-hello}
        dependentTasks: [m]
      hello:
`, 1)
	s, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range s.Tasks {
		got = append(got, task.Name)
	}
	if diff := cmp.Diff([]string{"hello", "m", "b", "z", "a"}, got); diff != "" {
		t.Errorf("task order (-want +got):\n%s", diff)
	}
}

func TestSubDAGAndImporterTasksHaveNoImage(t *testing.T) {
	t.Parallel()
	in := `components:
  comp-imp:
    executorLabel: exec-imp
  comp-sub:
    dag:
      tasks:
        imp: {componentRef: {name: comp-imp}}
deploymentSpec:
  executors:
    exec-imp:
      importer: {artifactUri: {constant: gs://x}}
pipelineInfo: {name: p}
root:
  dag:
    tasks:
      imp: {componentRef: {name: comp-imp}}
      sub: {componentRef: {name: comp-sub}, dependentTasks: [imp]}
`
	s, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Task{
		{Name: "imp", DisplayName: "imp", Executor: "exec-imp", ComponentRef: "comp-imp"},
		{Name: "sub", DisplayName: "sub", DependsOn: []string{"imp"}, ComponentRef: "comp-sub"},
	}
	if diff := cmp.Diff(want, s.Tasks); diff != "" {
		t.Errorf("Tasks (-want +got):\n%s", diff)
	}
	if got := s.Images(); len(got) != 0 {
		t.Errorf("Images() = %v, want none", got)
	}
}

func TestLegacyParameterTypes(t *testing.T) {
	t.Parallel()
	in := strings.Replace(minimal, "root:\n", `root:
  inputDefinitions:
    parameters:
      a: {type: STRING}
      b: {type: INT}
      c: {type: DOUBLE}
`, 1)
	s, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Input{{Name: "a", Type: String}, {Name: "b", Type: Integer}, {Name: "c", Type: Double}}
	if diff := cmp.Diff(want, s.Inputs); diff != "" {
		t.Errorf("Inputs (-want +got):\n%s", diff)
	}
}

func TestRunBody(t *testing.T) {
	t.Parallel()
	const platform = "---\nplatforms:\n  kubernetes:\n    deploymentSpec: {executors: {exec-hello: {nodeSelector: {labels: {pool: gpu}}}}}\n"
	tests := []struct {
		name string
		in   string
		want string // JSON
	}{
		{
			name: "one document: the IR alone",
			in:   minimal,
			want: `{"components":{"comp-hello":{"executorLabel":"exec-hello"}},"deploymentSpec":{"executors":{"exec-hello":{"container":{"image":"alpine:3"}}}},"pipelineInfo":{"name":"hello"},"root":{"dag":{"tasks":{"hello":{"componentRef":{"name":"comp-hello"}}}}},"schemaVersion":"2.1.0","sdkVersion":"kfp-2.4.0"}`,
		},
		{
			name: "two documents: pipeline_spec and platform_spec",
			in:   minimal + platform,
			want: `{"pipeline_spec":{"components":{"comp-hello":{"executorLabel":"exec-hello"}},"deploymentSpec":{"executors":{"exec-hello":{"container":{"image":"alpine:3"}}}},"pipelineInfo":{"name":"hello"},"root":{"dag":{"tasks":{"hello":{"componentRef":{"name":"comp-hello"}}}}},"schemaVersion":"2.1.0","sdkVersion":"kfp-2.4.0"},` +
				`"platform_spec":{"platforms":{"kubernetes":{"deploymentSpec":{"executors":{"exec-hello":{"nodeSelector":{"labels":{"pool":"gpu"}}}}}}}}}`,
		},
		{
			name: "platform spec first is accepted too",
			in:   strings.TrimPrefix(platform, "---\n") + "---\n" + minimal,
			want: `{"pipeline_spec":{"components":{"comp-hello":{"executorLabel":"exec-hello"}},"deploymentSpec":{"executors":{"exec-hello":{"container":{"image":"alpine:3"}}}},"pipelineInfo":{"name":"hello"},"root":{"dag":{"tasks":{"hello":{"componentRef":{"name":"comp-hello"}}}}},"schemaVersion":"2.1.0","sdkVersion":"kfp-2.4.0"},` +
				`"platform_spec":{"platforms":{"kubernetes":{"deploymentSpec":{"executors":{"exec-hello":{"nodeSelector":{"labels":{"pool":"gpu"}}}}}}}}}`,
		},
		{
			name: "a trailing empty document is no platform spec",
			in:   minimal + "---\n",
			want: `{"components":{"comp-hello":{"executorLabel":"exec-hello"}},"deploymentSpec":{"executors":{"exec-hello":{"container":{"image":"alpine:3"}}}},"pipelineInfo":{"name":"hello"},"root":{"dag":{"tasks":{"hello":{"componentRef":{"name":"comp-hello"}}}}},"schemaVersion":"2.1.0","sdkVersion":"kfp-2.4.0"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse("p.yaml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(s.RunBody())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("RunBody JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestYAMLShowsEditsAndReparses(t *testing.T) {
	t.Parallel()
	s, err := Load(filepath.Join("testdata", "two_step.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	exec := dig(c.Pipeline, "deploymentSpec", "executors", "exec-train", "container").(map[string]any)
	exec["image"] = "ghcr.io/acme/train@sha256:0123"
	if err := c.Refresh(); err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(s.Path, out)
	if err != nil {
		t.Fatalf("re-parse YAML():\n%s\nerror: %v", out, err)
	}
	if diff := cmp.Diff(c, back, ignoreOriginal); diff != "" {
		t.Errorf("re-parsed YAML() (-want +got):\n%s", diff)
	}
	if got := back.Tasks[1].Image; got != "ghcr.io/acme/train@sha256:0123" {
		t.Errorf("edited image = %q", got)
	}
	if got := s.Tasks[1].Image; got != "ko://github.com/acme/ml/cmd/train" {
		t.Errorf("Clone shares maps: original image became %q", got)
	}
	for _, want := range []string{"\n---\n", "defaultValue: 123456789012345678901234567890\n", "cpuLimit: 2.0\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML() lacks %q:\n%s", want, out)
		}
	}
}

// TestMalformedYAMLFailsFast guards the reason Parse exists: KFP ≤ 2.17 hangs
// on malformed YAML, so kf-run must reject it locally, quickly, with a line.
func TestMalformedYAMLFailsFast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"unclosed flow list", "not: [a, pipeline", "p.yaml:1: invalid YAML: did not find expected ',' or ']'"},
		{"in the platform document", minimal + "---\nplatforms:\n  kubernetes: {a: [}\n", "p.yaml:21: invalid YAML: did not find expected node content"},
		{"unclosed list on line 2", "x: 1\nnot: [a, pipeline\ny: 2\n", "p.yaml:2: invalid YAML: did not find expected ',' or ']'"},
		{"list item in a mapping", "x: 1\ny: 2\n- z\n", "p.yaml:3: invalid YAML: did not find expected key"},
		{"stray bracket", "x: 1\ny: 2\nz: 3\nw: ]\n", "p.yaml:4: invalid YAML: did not find expected node content"},
		{"bad indentation", "x: 1\ny: 2\n  bad: 3\n", "p.yaml:3: invalid YAML: mapping values are not allowed in this context"},
		{"unterminated string", "x: 1\ny: 2\nz: \"unterminated\n", "p.yaml:3: invalid YAML: found unexpected end of stream"},
		{"tab", "x: 1\ny:\n\t- a\n", "p.yaml:3: invalid YAML: found character that cannot start any token"},
		{"reserved character on line 1", "a: @b\n", "p.yaml:1: invalid YAML: found character that cannot start any token"},
		{"unknown anchor", "x: 1\ny: 2\nz: *nope\n", "p.yaml:3:4: invalid YAML: unknown anchor 'nope' referenced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan error, 1)
			go func() {
				_, err := Parse("p.yaml", []byte(tt.in))
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Parse succeeded, want an error")
				}
				if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
					t.Errorf("Parse error (-want +got):\n%s", diff)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Parse did not return within 10s")
			}
		})
	}
}

func TestPythonSourceHint(t *testing.T) {
	t.Parallel()
	_, err := Parse("pipeline.py", []byte("from kfp import dsl\n\n@dsl.pipeline\ndef p():\n    pass\n"))
	want := "pipeline.py:4: invalid YAML: mapping values are not allowed in this context\n" +
		"  hint: this looks like the pipeline's Python source; compile it first: kfp dsl compile --py pipeline.py --output pipeline.yaml"
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Parse error (-want +got):\n%s", diff)
	}
}

func TestRefreshFindsBrokenEdits(t *testing.T) {
	t.Parallel()
	s := loadTwoStep(t)
	c := s.Clone()
	delete(dig(c.Pipeline, "components").(map[string]any), "comp-prep")
	c.Platform["platforms"] = []any{}
	err := c.Refresh()
	var got []string
	for _, e := range unjoin(err) {
		got = append(got, e.Error())
	}
	want := []string{
		s.Path + `: task "prep": component "comp-prep" is not in components` + "\n  hint: components: comp-train",
		s.Path + ": platform spec: platforms must be a mapping, not a list",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Refresh errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(s.Tasks, c.Tasks); diff != "" {
		t.Errorf("failed Refresh changed Tasks (-want +got):\n%s", diff)
	}
	if err := s.Refresh(); err != nil {
		t.Errorf("Refresh of the untouched original: %v", err)
	}
}

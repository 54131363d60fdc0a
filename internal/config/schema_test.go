package config_test

// schema/kf-run.schema.json is kf-run.yaml's JSON Schema, for editors
// (yaml-language-server) and other tools. These tests keep it and the
// loader in step: it compiles; it accepts every config the loader accepts
// (the examples and the configs in this module's tests) and refuses the
// usual mistakes; and it has exactly the keys of the config structs, so a
// new config field without a schema entry fails TestSchemaMatchesStructs.

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"gopkg.in/yaml.v3"

	"github.com/kf-run/kf-run/internal/config"
)

const (
	repoRoot   = "../.."
	schemaFile = repoRoot + "/schema/kf-run.schema.json"
)

// loadSchema compiles the schema as draft 2020-12 (its $schema) and
// returns it with its raw JSON.
func loadSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	raw, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s: not a JSON object", schemaFile)
	}
	// Known by its $id, the URL it is published at, as editors know it.
	id, _ := raw["$id"].(string)
	if id == "" {
		t.Fatalf("%s: no $id", schemaFile)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return s, raw
}

// instance is a YAML document as the JSON value an editor checks: the file
// as written, before ${ENV} expansion.
func instance(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return instance(n.Content[0])
	case yaml.AliasNode:
		return instance(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = instance(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, instance(c))
		}
		return l
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			return v
		}
	}
	return n.Value
}

func validate(s *jsonschema.Schema, src string) error {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return err
	}
	return s.Validate(instance(&n))
}

// anyEnv sets every variable, so that the loader accepts a config for what
// it says and not for the test's environment.
func anyEnv(name string) (string, bool) { return "value-of-" + name, true }

func TestSchemaCompiles(t *testing.T) {
	t.Parallel()
	_, raw := loadSchema(t)
	if got := raw["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema is %v, want draft 2020-12", got)
	}
	// Editors show a key's description on hover and in completion.
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for _, k := range slices.Sorted(maps.Keys(props)) {
					p, _ := props[k].(map[string]any)
					if d, _ := p["description"].(string); strings.TrimSpace(d) == "" {
						t.Errorf("%s/properties/%s has no description", ptr, k)
					}
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(ptr+"/"+k, v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", ptr, i), e)
			}
		}
	}
	walk("#", raw)
}

// The example configs are what users copy: the loader and the schema take
// each one.
func TestSchemaAcceptsExamples(t *testing.T) {
	t.Parallel()
	s, _ := loadSchema(t)
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (d.Name() == config.DefaultFile || strings.HasSuffix(d.Name(), ".kf-run.yaml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example configs (%v), want examples/kf-run.yaml and examples/ko/kf-run.yaml at least", len(files), files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.Parse(f, b, anyEnv); err != nil {
			t.Errorf("the loader refuses an example: %v", err)
		}
		if err := validate(s, string(b)); err != nil {
			t.Errorf("%s does not match the schema:\n%v", f, err)
		}
	}
}

// fixture is a config written in a test of this module.
type fixture struct {
	pos string // file:line of the literal
	src string
}

// configFixtures are the kf-run configs (YAML mappings with a pipelines
// key) written in this module's tests: string literals, concatenations of
// them and fmt formats, with "x1" for every value they leave to the code
// (an operand that is not a literal, a %s). A fragment that the test
// completes later (its last line opens a block) is left out.
func configFixtures(t *testing.T) []fixture {
	t.Helper()
	var out []fixture
	fset := token.NewFileSet()
	add := func(pos token.Pos, src string) {
		if !strings.Contains(src, "pipelines:") || strings.HasSuffix(strings.TrimRight(src, " \n"), ":") {
			return
		}
		var m map[string]any
		if yaml.Unmarshal([]byte(src), &m) != nil || m == nil {
			return
		}
		if _, ok := m["pipelines"]; ok {
			p := fset.Position(pos)
			rel, _ := filepath.Rel(repoRoot, p.Filename)
			out = append(out, fixture{fmt.Sprintf("%s:%d", filepath.ToSlash(rel), p.Line), src})
		}
	}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// sandbox is a module of its own; dist and bin are build output.
			if path != repoRoot && (strings.HasPrefix(d.Name(), ".") || slices.Contains([]string{"sandbox", "dist", "bin"}, d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		// This file's configs are about the schema, some wrong on purpose.
		if !strings.HasSuffix(path, "_test.go") || filepath.Base(path) == "schema_test.go" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if i := formatArg(n); i >= 0 && i < len(n.Args) {
					if src, ok := stringExpr(n.Args[i]); ok {
						add(n.Args[i].Pos(), verbRE.ReplaceAllStringFunc(src, fillVerb))
						return false
					}
				}
			case *ast.BinaryExpr, *ast.BasicLit:
				if src, ok := stringExpr(n.(ast.Expr)); ok {
					add(n.Pos(), src)
					return false
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// formatArg is the index of the format argument of a fmt call, or -1.
func formatArg(c *ast.CallExpr) int {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return -1
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "fmt" {
		return -1
	}
	switch sel.Sel.Name {
	case "Sprintf", "Errorf", "Printf":
		return 0
	case "Fprintf":
		return 1
	}
	return -1
}

// stringExpr evaluates a string literal or a + of operands at least one of
// which is a string literal; any other operand is "x1".
func stringExpr(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return stringExpr(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, okx := stringExpr(e.X)
		y, oky := stringExpr(e.Y)
		if !okx && !oky {
			return "", false
		}
		return cmpOr(x, okx) + cmpOr(y, oky), true
	}
	return "", false
}

func cmpOr(s string, ok bool) string {
	if ok {
		return s
	}
	return "x1"
}

var verbRE = regexp.MustCompile(`%[-+# 0]*(\[\d+\])?(\*|\d+)?(\.(\*|\d+))?[a-zA-Z%]`)

func fillVerb(v string) string {
	switch v[len(v)-1] {
	case '%':
		return "%"
	case 'd':
		return "1"
	case 'q':
		return `"x1"`
	}
	return "x1"
}

// Every config the loader accepts in this module's tests (a fixture of a
// valid config) matches the schema as written, before ${ENV} expansion: the
// schema never flags a file kf-run runs. A fixture the loader accepts but
// kf-run refuses later, when it applies the settings to the pipeline (a
// toleration operator, a negative quantity), says so with a line
// "# refused after loading" and must not match the schema.
func TestSchemaAcceptsValidFixtures(t *testing.T) {
	t.Parallel()
	s, _ := loadSchema(t)
	fixtures := configFixtures(t)
	accepted := 0
	for _, fx := range fixtures {
		if _, err := config.Parse("kf-run.yaml", []byte(fx.src), anyEnv); err != nil {
			continue
		}
		accepted++
		err := validate(s, fx.src)
		switch {
		case strings.Contains(fx.src, "# refused after loading"):
			if err == nil {
				t.Errorf("%s: a config marked as refused after loading matches the schema:\n%s", fx.pos, fx.src)
			}
		case err != nil:
			t.Errorf("%s: the loader accepts this config, the schema does not (if kf-run refuses it later, add a line \"# refused after loading\" to it):\n%s\n%v", fx.pos, fx.src, err)
		}
	}
	// Guard the collector: it must keep finding the fixtures.
	if accepted < 20 {
		t.Errorf("only %d of %d config literals in tests are valid configs; the collector lost them", accepted, len(fixtures))
	}
}

// The usual mistakes: the schema refuses each at the value (at, a JSON
// pointer), as kf-run does. loader says whether config.Parse refuses it
// already, or kf-run only when it applies the settings to the pipeline
// (internal/podspec, internal/build), still before anything is sent.
func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	s, _ := loadSchema(t)
	const p = "pipelines:\n  - name: train\n    spec: train.yaml\n"
	tests := []struct {
		name   string
		src    string
		at     string
		loader bool
	}{
		{"unknown top-level key", "pipeline:\n  - name: train\n    spec: train.yaml\n", "", true},
		{"unknown pipeline key", p + "    paramters: {epochs: 3}\n", "/pipelines/0", true},
		{"unknown auth key", "kubeflow:\n  auth:\n    passwd: ${PW}\n" + p, "/kubeflow/auth", true},
		{"unknown pod key", p + "    pod:\n      nodeSelector: {a: b}\n", "/pipelines/0/pod", true},
		{"unknown key in a task", p + "    pod:\n      tasks:\n        train: {resource: {}}\n", "/pipelines/0/pod/tasks/train", true},
		{"nested task overrides", p + "    pod:\n      tasks:\n        train:\n          tasks: {x: {}}\n", "/pipelines/0/pod/tasks/train", true},
		{"no pipelines", "kubeflow: {host: https://kf.example.com/pipeline}\n", "", true},
		{"empty pipelines", "pipelines: []\n", "/pipelines", true},
		{"pipeline without spec", "pipelines:\n  - name: train\n", "/pipelines/0", true},
		{"pipeline without name", "pipelines:\n  - spec: train.yaml\n", "/pipelines/0", true},
		{"pipelines not a list", "pipelines: {name: train, spec: train.yaml}\n", "/pipelines", true},
		{"name not a scalar", "pipelines:\n  - name: [train]\n    spec: train.yaml\n", "/pipelines/0/name", true},
		{"caching not a boolean", p + "    caching: sometimes\n", "/pipelines/0/caching", true},
		{"port not a number", "kubeflow:\n  kubernetes: {context: prod, port: \"8888\"}\n" + p, "/kubeflow/kubernetes/port", true},
		{"port out of range", "kubeflow:\n  kubernetes: {context: prod, port: 70000}\n" + p, "/kubeflow/kubernetes/port", true},
		{"duration without unit", p + "    timeout: 5\n", "/pipelines/0/timeout", true},
		{"duration in words", "defaults:\n  timeout: 2 hours\n" + p, "/defaults/timeout", true},
		{"negative duration", p + "    timeout: -1h\n", "/pipelines/0/timeout", true},
		{"tags not a list", "images:\n  tags: latest\n" + p, "/images/tags", true},
		{"build not ko://", "images:\n  build: [github.com/acme/ml/cmd/train]\n" + p, "/images/build/0", true},
		{"toleration operator", p + "    pod:\n      tolerations: [{key: a, operator: Equals}]\n", "/pipelines/0/pod/tolerations/0/operator", false},
		{"toleration effect", p + "    pod:\n      tolerations: [{key: a, effect: NoScheduleX}]\n", "/pipelines/0/pod/tolerations/0/effect", false},
		{"node selector operator", p + "    pod:\n      affinity:\n        node_affinity:\n          required_during_scheduling_ignored_during_execution:\n            node_selector_terms: [{match_expressions: [{key: a, operator: Within, values: [b]}]}]\n", "/pipelines/0/pod/affinity/node_affinity/required_during_scheduling_ignored_during_execution/node_selector_terms/0/match_expressions/0/operator", false},
		{"preference weight", p + "    pod:\n      affinity:\n        node_affinity:\n          preferred_during_scheduling_ignored_during_execution: [{weight: 0, preference: {match_expressions: [{key: a, operator: Exists}]}}]\n", "/pipelines/0/pod/affinity/node_affinity/preferred_during_scheduling_ignored_during_execution/0/weight", false},
		{"negative quantity", p + "    pod:\n      resources: {requests: {memory: -1Gi}}\n", "/pipelines/0/pod/resources/requests/memory", false},
		{"resource name", p + "    pod:\n      resources: {limits: {\"nvidia gpu\": 1}}\n", "/pipelines/0/pod/resources/limits", false},
		{"relative mount path", p + "    pod:\n      pvcs: [{name: data, mount_path: data}]\n", "/pipelines/0/pod/pvcs/0/mount_path", false},
		{"platform without arch", "images:\n  platforms: [linux]\n" + p, "/images/platforms/0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := validate(s, tt.src)
			if err == nil {
				t.Fatalf("the schema accepts\n%s", tt.src)
			}
			if !refusedAt(err.Error(), tt.at) {
				t.Errorf("the schema refuses\n%s\nbut not at '%s':\n%v", tt.src, tt.at, err)
			}
			_, err = config.Parse("kf-run.yaml", []byte(tt.src), anyEnv)
			switch {
			case tt.loader && err == nil:
				t.Errorf("config.Parse accepts\n%s", tt.src)
			case !tt.loader && err != nil:
				t.Errorf("config.Parse refuses a config that only applying its settings should refuse: %v", err)
			}
		})
	}
}

var atRE = regexp.MustCompile(`at '([^']*)'`)

// refusedAt says whether a validation error names the instance location
// at. jsonschema v6.0.3 keeps some errors' locations in a slice that later
// appends overwrite (validator.go sets InstanceLocation = vd.vloc without
// a copy), so an inner token may show a sibling's key: a location counts
// when its first and last tokens and its length match.
func refusedAt(msg, at string) bool {
	want := strings.Split(at, "/")
	for _, m := range atRE.FindAllStringSubmatch(msg, -1) {
		got := strings.Split(m[1], "/")
		if m[1] == at || (len(got) == len(want) && len(want) > 2 && got[1] == want[1] && got[len(got)-1] == want[len(want)-1]) {
			return true
		}
	}
	return false
}

// notInSchema are config keys the schema leaves out on purpose, by their
// path as TestSchemaMatchesStructs names them.
var notInSchema = map[string]string{
	"defaults.pod.tasks.*.tasks":             "task overrides do not nest (the loader refuses them)",
	"pipelines[].pod.tasks.*.tasks":          "task overrides do not nest (the loader refuses them)",
	"pipelines[].schedule.pod.tasks.*.tasks": "task overrides do not nest (the loader refuses them)",
}

// TestSchemaMatchesStructs walks the config structs (their yaml tags) and
// the schema side by side: every key of kf-run.yaml is in the schema at the
// same place, with a description and a type that takes what the loader
// takes, and every key of the schema is one the loader knows. A new config
// field fails here until the schema has it.
func TestSchemaMatchesStructs(t *testing.T) {
	t.Parallel()
	_, raw := loadSchema(t)
	d := drift{root: raw}
	d.walk("", reflect.TypeFor[config.Config](), raw, "#")
	for _, p := range d.problems {
		t.Error(p)
	}
	for _, key := range slices.Sorted(maps.Keys(notInSchema)) {
		if !slices.Contains(d.skipped, key) {
			t.Errorf("notInSchema lists %s, which the config structs do not have: drop it from the list", key)
		}
	}
}

type drift struct {
	root     map[string]any
	problems []string
	seen     map[string]bool
	skipped  []string
}

// errorf records a problem once per schema location: a $defs entry used in
// several places (pod) is reported at the first path that reaches it.
func (d *drift) errorf(where, format string, a ...any) {
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	if !d.seen[where] {
		d.seen[where] = true
		d.problems = append(d.problems, fmt.Sprintf(format, a...))
	}
}

// resolve follows s's $ref (local ones, #/$defs/NAME) and returns the
// schema and its pointer.
func (d *drift) resolve(s any, ptr string) (map[string]any, string) {
	m, _ := s.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		ptr = ref
		var cur any = d.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cm, _ := cur.(map[string]any)
			cur = cm[part]
		}
		m, _ = cur.(map[string]any)
	}
	return m, ptr
}

// accepts says whether schema s lets through a value of JSON type kind
// (string, integer, boolean, object, array): it checks type, enum, const,
// anyOf and oneOf, and nothing else.
func (d *drift) accepts(s any, kind string) bool {
	if b, ok := s.(bool); ok {
		return b
	}
	m, _ := d.resolve(s, "")
	if m == nil {
		return false
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts, ok := m[key].([]any); ok {
			return slices.ContainsFunc(alts, func(a any) bool { return d.accepts(a, kind) })
		}
	}
	if typ, ok := m["type"]; ok {
		var types []any
		if l, ok := typ.([]any); ok {
			types = l
		} else {
			types = []any{typ}
		}
		return slices.ContainsFunc(types, func(t any) bool { return t == kind || (kind == "integer" && t == "number") })
	}
	if enum, ok := m["enum"].([]any); ok {
		return slices.ContainsFunc(enum, func(v any) bool { return jsonKind(v) == kind })
	}
	if c, ok := m["const"]; ok {
		return jsonKind(c) == kind || (kind == "integer" && jsonKind(c) == "number")
	}
	return true
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return "number"
}

// kindOf is the JSON type the loader wants for a Go type. Text takes any
// scalar, written as a string; Value anything ("").
func kindOf(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[config.Text](), reflect.TypeFor[config.Duration]():
		return "string"
	case reflect.TypeFor[config.Value]():
		return ""
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.String:
		return "string"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array"
	}
	return "?"
}

// walk checks schema s (at pointer ptr) against Go type t, the value at
// path in kf-run.yaml.
func (d *drift) walk(path string, t reflect.Type, s any, ptr string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	shown := path
	if path == "" {
		shown = "the top level"
	}
	if kind := kindOf(t); kind != "" && !d.accepts(s, kind) {
		d.errorf(ptr+" type", "%s: the loader takes %s values (%s), the schema at %s does not", shown, kind, t, ptr)
		return
	}
	m, ptr := d.resolve(s, ptr)
	switch {
	case t == reflect.TypeFor[config.Value]():
		return
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[config.Text]() && t != reflect.TypeFor[config.Duration]():
		if m["additionalProperties"] != false {
			d.errorf(ptr+" additionalProperties", "%s: the schema at %s lacks \"additionalProperties\": false (the loader refuses unknown keys)", shown, ptr)
		}
		props, _ := m["properties"].(map[string]any)
		keys := map[string]bool{}
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			keys[key] = true
			sub := strings.TrimPrefix(path+"."+key, ".")
			if _, ok := notInSchema[sub]; ok {
				d.skipped = append(d.skipped, sub)
				if _, ok := props[key]; ok {
					d.errorf(ptr+"/properties/"+key, "%s: in the schema at %s/properties/%s, though notInSchema says: %s", sub, ptr, key, notInSchema[sub])
				}
				continue
			}
			p, ok := props[key]
			if !ok {
				d.errorf(ptr+"/properties/"+key, "%s: config field %s.%s (yaml %q) is not in the schema: add %q with a description to %s/properties in schema/kf-run.schema.json", sub, t, f.Name, key, key, ptr)
				continue
			}
			if pm, _ := p.(map[string]any); strings.TrimSpace(fmt.Sprint(pm["description"])) == "" || pm["description"] == nil {
				d.errorf(ptr+"/properties/"+key+" description", "%s: no description in the schema at %s/properties/%s", sub, ptr, key)
			}
			d.walk(sub, f.Type, p, ptr+"/properties/"+key)
		}
		for _, key := range slices.Sorted(maps.Keys(props)) {
			if !keys[key] {
				d.errorf(ptr+"/properties/"+key, "%s: the schema has %s/properties/%s, but %s has no field with yaml tag %q (the loader refuses the key)", strings.TrimPrefix(path+"."+key, "."), ptr, key, t, key)
			}
		}
	case t.Kind() == reflect.Map:
		d.walk(path+".*", t.Elem(), m["additionalProperties"], ptr+"/additionalProperties")
	case t.Kind() == reflect.Slice:
		d.walk(path+"[]", t.Elem(), m["items"], ptr+"/items")
	}
}

// The README's kf-run.yaml snippets (YAML blocks whose keys are all
// top-level config keys) match the schema, but for keys they leave out:
// a snippet shows one setting, not a whole file.
func TestSchemaAcceptsREADME(t *testing.T) {
	t.Parallel()
	s, _ := loadSchema(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	top := []string{"kubeflow", "defaults", "report", "images", "pipelines"}
	snippets := 0
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatchIndex(string(b), -1) {
		src := string(b)[m[2]:m[3]]
		line := 1 + strings.Count(string(b)[:m[2]], "\n")
		var doc map[string]any
		if yaml.Unmarshal([]byte(src), &doc) != nil || len(doc) == 0 {
			continue
		}
		if slices.ContainsFunc(slices.Collect(maps.Keys(doc)), func(k string) bool { return !slices.Contains(top, k) }) {
			continue // a workflow, a GitLab job, a spec excerpt
		}
		snippets++
		err := validate(s, src)
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) && !slices.ContainsFunc(leaves(ve), func(e *jsonschema.ValidationError) bool {
			_, ok := e.ErrorKind.(*kind.Required)
			return !ok
		}) {
			continue // only keys the snippet leaves out
		}
		if err != nil {
			t.Errorf("README.md:%d: a kf-run.yaml snippet does not match the schema:\n%v", line, err)
		}
	}
	if snippets < 5 {
		t.Errorf("found %d kf-run.yaml snippets in README.md, want the config examples", snippets)
	}
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

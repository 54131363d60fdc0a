package pipelinespec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Spec is a compiled KFP v2 pipeline package.
type Spec struct {
	Path          string // as given to Load or Parse
	Name          string // pipelineInfo.name
	Description   string // pipelineInfo.description, if any
	SchemaVersion string // schemaVersion
	SDKVersion    string // sdkVersion
	// Pipeline is the IR PipelineSpec document as JSON-compatible values.
	Pipeline map[string]any
	// Platform is the kfp-kubernetes PlatformSpec document
	// ({"platforms":{"kubernetes":...}}), nil when the package has none.
	Platform map[string]any
	// Inputs are root.inputDefinitions.parameters, sorted by name.
	Inputs []Input
	// Tasks are the root DAG's tasks in topological order (a task after
	// every task it depends on), ties broken by name.
	Tasks []Task

	original []byte
}

// Input is a pipeline parameter.
type Input struct {
	Name        string
	Type        ParamType
	Default     any // normalised to Type: int64 for NUMBER_INTEGER, float64 for NUMBER_DOUBLE
	HasDefault  bool
	Optional    bool
	Description string
}

// Task is a task of the root DAG, as read by Parse (or Refresh).
type Task struct {
	// Name is the key in root.dag.tasks. KFP 2.0.x run details list Argo
	// nodes named after it.
	Name string
	// DisplayName is taskInfo.name (Name when absent), the name KFP's
	// driver gives the task's MLMD execution (display_name) and the UI
	// shows. It may differ from Name (set_display_name) and need not be
	// unique.
	DisplayName string
	DependsOn   []string // dependentTasks, sorted
	// Image is the executor's container image; "" for sub-DAG and importer tasks.
	Image string
	// Executor is the component's executorLabel (a key of deploymentSpec.executors); "" for sub-DAGs.
	Executor     string
	ComponentRef string // componentRef.name
}

// Load reads and parses the package at path.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline spec: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a package; path is used in messages only. Every error it
// returns is an *Error, or several joined with errors.Join (structure
// problems are all reported at once).
func Parse(path string, data []byte) (s *Spec, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before (CVE-2022-28948).
		if r := recover(); r != nil {
			s, err = nil, &Error{File: path, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	if e := sniffArchive(path, data); e != nil {
		return nil, e
	}
	docs, err := decodeAll(path, data)
	if err != nil {
		if e, ok := err.(*Error); ok && strings.HasSuffix(path, ".py") {
			e.Hint = "this looks like the pipeline's Python source; compile it first: kfp dsl compile --py " + path + " --output pipeline.yaml"
		}
		return nil, err
	}
	var ir, platform *document
	for i := range docs {
		d := &docs[i]
		m, ok := d.value.(map[string]any)
		if !ok {
			return nil, &Error{File: path, Line: d.line, Column: d.col,
				Msg: fmt.Sprintf("YAML document %d is %s, not a mapping: not a KFP pipeline package", i+1, describe(d.value))}
		}
		switch {
		case isArgo(m):
			return nil, argoError(path, d, m)
		case isPipelineDoc(m):
			if ir != nil {
				return nil, &Error{File: path, Line: d.line, Column: d.col,
					Msg: fmt.Sprintf("a second pipeline spec (YAML document %d); a package has one", i+1)}
			}
			ir = d
		case isPlatformDoc(m):
			if platform != nil {
				return nil, &Error{File: path, Line: d.line, Column: d.col,
					Msg: fmt.Sprintf("a second platform spec (YAML document %d); a package has one", i+1)}
			}
			platform = d
		default:
			return nil, &Error{File: path, Line: d.line, Column: d.col,
				Msg:  fmt.Sprintf("YAML document %d is neither a KFP pipeline spec nor a platform spec (top-level keys: %s)", i+1, strings.Join(slices.Sorted(maps.Keys(m)), ", ")),
				Hint: "compile the pipeline with the KFP SDK v2: kfp dsl compile --py pipeline.py --output pipeline.yaml"}
		}
	}
	if len(docs) == 0 {
		return nil, &Error{File: path, Msg: "empty file: no pipeline spec",
			Hint: "compile the pipeline with the KFP SDK v2: kfp dsl compile --py pipeline.py --output pipeline.yaml"}
	}
	if ir == nil {
		return nil, &Error{File: path, Line: platform.line, Column: platform.col,
			Msg:  "only a kubernetes platform spec, no pipeline spec",
			Hint: "a compiled package has the pipeline spec first and the platform spec as a second YAML document after \"---\"; compile the whole pipeline with the KFP SDK (and kfp-kubernetes)"}
	}
	s = &Spec{Path: path, Pipeline: ir.value.(map[string]any), original: bytes.Clone(data)}
	c := &checker{ir: s.Pipeline, file: path, pos: ir.pos}
	c.fill(s)
	if platform != nil {
		s.Platform = platform.value.(map[string]any)
		c.platform(s.Platform, platform.pos)
	}
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	return s, nil
}

// document is one non-empty YAML document.
type document struct {
	value     any
	line, col int
	pos       *positions
}

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// decodeAll reads every YAML document, stopping at the first error. Empty
// documents (a trailing "---") are skipped.
func decodeAll(path string, data []byte) ([]document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []document
	budget := newConverter(path, len(data)).budget
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlError(path, data, err)
		}
		line, col := n.Line, n.Column
		if len(n.Content) > 0 {
			line, col = n.Content[0].Line, n.Content[0].Column
		}
		c := newConverter(path, len(data))
		c.budget = budget
		t := &positions{p: pos{line, col}}
		v, err := c.value(&n, t)
		if err != nil {
			return nil, err
		}
		budget = c.budget
		if v == nil {
			continue
		}
		docs = append(docs, document{value: v, line: line, col: col, pos: t})
	}
}

// yamlError turns a yaml.v3 syntax error into an *Error with the right line.
// yaml.v3 (decode.go, parser.fail) reports 1-based lines for scanner errors
// but the 0-based line of the enclosing construct for parser errors, and no
// line at all when that is 0; see TestMalformedYAMLFailsFast.
func yamlError(path string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case parserProblems[msg]:
		line++
	case line == 0 && isScannerProblem(msg):
		line = 1
	}
	// A construct left open at the end of the file is reported past it.
	lines := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	line = min(line, lines)
	col := 0
	// yaml.v3 gives no position for an unknown anchor; find its first use.
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		if k := bytes.Index(data, []byte("*"+m[1])); k >= 0 {
			line = bytes.Count(data[:k], []byte("\n")) + 1
			col = k - bytes.LastIndexByte(data[:k], '\n')
		}
	}
	return &Error{File: path, Line: line, Column: col, Msg: "invalid YAML: " + msg}
}

// parserProblems are yaml.v3's parser (not scanner) messages (parserc.go).
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// isScannerProblem matches yaml.v3's scanner messages (scannerc.go).
func isScannerProblem(msg string) bool {
	for _, p := range []string{"block sequence entries are not allowed", "could not find expected", "did not find", "found ", "mapping keys are not allowed", "mapping values are not allowed"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func sniffArchive(path string, data []byte) *Error {
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return &Error{File: path, Msg: "a gzip archive, not a pipeline spec",
			Hint: "KFP v1 compiled to .tar.gz; compile with the KFP SDK v2 to YAML: pip install 'kfp>=2' && kfp dsl compile --py pipeline.py --output pipeline.yaml"}
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return &Error{File: path, Msg: "a zip archive, not a pipeline spec",
			Hint: "KFP v1 compiled to .zip; compile with the KFP SDK v2 to YAML: pip install 'kfp>=2' && kfp dsl compile --py pipeline.py --output pipeline.yaml"}
	}
	return nil
}

func isArgo(m map[string]any) bool {
	v, _ := m["apiVersion"].(string)
	return strings.HasPrefix(v, "argoproj.io/")
}

func argoError(path string, d *document, m map[string]any) *Error {
	kind, _ := m["kind"].(string)
	if kind == "" {
		kind = "Argo resource"
	}
	p := d.pos.at([]string{"apiVersion"})
	return &Error{File: path, Line: p.line, Column: p.col,
		Msg: fmt.Sprintf("a KFP v1 package (Argo %s), which kf-run does not submit: kf-run submits only KFP v2 pipeline specs (KFP 2.x accepts v1 packages only through its deprecated v1beta1 API)", kind),
		Hint: "recompile the pipeline with the KFP SDK v2: pip install 'kfp>=2', port it to kfp.dsl v2, then " +
			"kfp dsl compile --py pipeline.py --output pipeline.yaml (or compiler.Compiler().compile(pipeline_func, 'pipeline.yaml'))"}
}

var pipelineKeys = []string{"pipelineInfo", "root", "components", "deploymentSpec", "schemaVersion", "sdkVersion"}

func isPipelineDoc(m map[string]any) bool {
	for _, k := range pipelineKeys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

func isPlatformDoc(m map[string]any) bool {
	_, ok := m["platforms"]
	return ok
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

// Refresh re-reads Name, Description, versions, Inputs and Tasks from the
// current Pipeline map and checks both documents' structure again; call it
// after editing the maps. Its errors carry no line numbers. On error s is
// left as it was.
func (s *Spec) Refresh() error {
	c := &checker{ir: s.Pipeline, file: s.Path}
	n := *s
	n.Name, n.Description, n.SchemaVersion, n.SDKVersion, n.Inputs, n.Tasks = "", "", "", "", nil, nil
	c.fill(&n)
	if s.Platform != nil {
		c.platform(s.Platform, nil)
	}
	if len(c.errs) > 0 {
		return c.err()
	}
	*s = n
	return nil
}

// Original returns the bytes the Spec was parsed from.
func (s *Spec) Original() []byte { return s.original }

// Images returns the distinct executor container images
// (deploymentSpec.executors.*.container.image), sorted.
func (s *Spec) Images() []string {
	seen := map[string]bool{}
	var out []string
	execs, _ := dig(s.Pipeline, "deploymentSpec", "executors").(map[string]any)
	for _, e := range execs {
		img, _ := dig(e, "container", "image").(string)
		if img != "" && !seen[img] {
			seen[img] = true
			out = append(out, img)
		}
	}
	sort.Strings(out)
	return out
}

// RunBody is the value for a v2beta1 Run's pipeline_spec when the run is
// inline: the IR alone, or, with a platform spec,
// {"pipeline_spec": IR, "platform_spec": Platform} as the KFP API server
// expects. It shares the maps with s.
func (s *Spec) RunBody() any {
	if s.Platform == nil {
		return s.Pipeline
	}
	return map[string]any{"pipeline_spec": s.Pipeline, "platform_spec": s.Platform}
}

// dig walks nested maps; nil when a step is missing or not a map.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

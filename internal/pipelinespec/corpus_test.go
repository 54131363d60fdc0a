package pipelinespec

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/kf-run/kf-run/internal/corpus"
)

// outcome is what Parse must do with a corpus file.
type outcome string

const (
	valid     outcome = "valid"
	validK8s  outcome = "valid with platform spec"
	invalid   outcome = "invalid"
	v1Package outcome = "KFP v1 (Argo)"
)

// expect classifies a corpus file by its folder (README.md's table).
func expect(rel string) (outcome, bool) {
	dir, base := filepath.Split(filepath.ToSlash(rel))
	switch dir {
	case "kfp-sdk-2.4/pipelines/", "kfp-sdk-2.17/valid/":
		return valid, true
	case "kfp-sdk-2.4/kubernetes_platform/", "kfp-sdk-2.17/kubernetes_platform/":
		return validK8s, true
	case "kfp-sdk-2.17/invalid/":
		return invalid, true
	case "kfp-sdk-2.4/backend_resources/":
		if base == "v2-hello-world.yaml" {
			return valid, true
		}
		return v1Package, true
	}
	return "", false
}

func corpusFiles(t *testing.T) (root string, files []string) {
	t.Helper()
	root = corpus.Dir(t, "")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != "README.md" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", root)
	}
	return root, files
}

func TestCorpus(t *testing.T) {
	t.Parallel()
	counts := map[outcome]int{}
	root, files := corpusFiles(t)
	for _, path := range files {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := expect(rel)
		if !ok {
			t.Errorf("%s: not classified; add its folder to expect", rel)
			continue
		}
		counts[want]++
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			s, err := Load(path)
			switch want {
			case valid, validK8s:
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				checkValid(t, s, want == validK8s)
			case invalid:
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Load error = %v, want *Error", err)
				}
				if e.File != path || e.Msg == "" {
					t.Errorf("Load error = %#v, want the file and a message", e)
				}
				if base := filepath.Base(path); base == "empty_file.yaml" && !strings.Contains(e.Msg, "empty file") {
					t.Errorf("Load error = %v, want empty file", e)
				}
			case v1Package:
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Load error = %v, want *Error", err)
				}
				if !strings.Contains(e.Msg, "KFP v1 package (Argo Workflow)") || e.Line == 0 ||
					!strings.Contains(e.Hint, "pip install 'kfp>=2'") || !strings.Contains(e.Hint, "kfp dsl compile --py pipeline.py --output pipeline.yaml") {
					t.Errorf("Load error = %v, want a KFP v1 error with line and recompile hint", e)
				}
			}
		})
	}
	t.Logf("corpus: %v", counts)
	for _, o := range []outcome{valid, validK8s, invalid, v1Package} {
		if counts[o] == 0 {
			t.Errorf("no corpus files are %s", o)
		}
	}
}

// checkValid checks a loaded package; the kubernetes_platform folders must
// have a platform spec, and others may (some 2.17 "valid" files do).
func checkValid(t *testing.T, s *Spec, requirePlatform bool) {
	t.Helper()
	if s.Name == "" || len(s.Tasks) == 0 {
		t.Errorf("Name = %q, %d tasks; want both", s.Name, len(s.Tasks))
	}
	ref := referenceDocs(t, s.Original(), filepath.Ext(s.Path) == ".json")
	if len(ref) == 0 || len(ref) > 2 {
		t.Fatalf("reference decoder found %d documents", len(ref))
	}
	wantPlatform := len(ref) == 2
	if requirePlatform && !wantPlatform {
		t.Fatal("file has no second document, want a platform spec")
	}
	if got := s.Platform != nil; got != wantPlatform {
		t.Errorf("has platform spec = %v, want %v", got, wantPlatform)
	}
	if wantPlatform && dig(s.Platform, "platforms", "kubernetes") == nil {
		t.Errorf("Platform = %v, want platforms.kubernetes", s.Platform)
	}
	if s.SchemaVersion == "" {
		t.Error("SchemaVersion is empty")
	}

	// Nothing dropped, numbers exact: the IR as JSON equals the file's own
	// first document read independently (the JSON file byte for byte as
	// JSON; YAML through yaml.v3's own decoder).
	got := jsonValue(t, s.Pipeline)
	if diff := cmp.Diff(ref[0], got, numberEqual); diff != "" {
		t.Errorf("Pipeline as JSON (-want +got):\n%s", diff)
	}
	if wantPlatform {
		if diff := cmp.Diff(ref[len(ref)-1], jsonValue(t, s.Platform), numberEqual); diff != "" {
			t.Errorf("Platform as JSON (-want +got):\n%s", diff)
		}
	}

	// The inline run body is JSON and has the right shape.
	body := jsonValue(t, s.RunBody())
	if wantPlatform {
		m, _ := body.(map[string]any)
		if diff := cmp.Diff(ref[0], m["pipeline_spec"], numberEqual); diff != "" || m["platform_spec"] == nil || len(m) != 2 {
			t.Errorf("RunBody = pipeline_spec+platform_spec? (-want +got):\n%s", diff)
		}
	} else if diff := cmp.Diff(ref[0], body, numberEqual); diff != "" {
		t.Errorf("RunBody (-want +got):\n%s", diff)
	}

	// What we would upload parses back to the same Spec.
	out, err := s.YAML()
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	back, err := Parse(s.Path, out)
	if err != nil {
		t.Fatalf("Parse(YAML()): %v", err)
	}
	if diff := cmp.Diff(s, back, ignoreOriginal); diff != "" {
		t.Errorf("Parse(YAML()) (-want +got):\n%s", diff)
	}
	for _, task := range s.Tasks {
		if task.ComponentRef == "" {
			t.Errorf("task %q has no ComponentRef", task.Name)
		}
	}
}

// referenceDocs decodes data's non-empty documents without this package.
func referenceDocs(t *testing.T, data []byte, isJSON bool) []any {
	t.Helper()
	if isJSON {
		var v any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return []any{v}
	}
	var docs []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			docs = append(docs, jsonValue(t, v))
		}
	}
}

// jsonValue marshals v and reads it back with numbers as json.Number.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// numberEqual compares JSON numbers by value: 1.0 == 1, exactly.
var numberEqual = cmp.Comparer(func(a, b json.Number) bool {
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
})

package pipelinespec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAML writes the package as YAML from the current Pipeline and Platform
// maps (so edits show): the pipeline spec, then "---" and the platform spec
// when there is one. Keys are sorted, as the KFP SDK writes them.
func (s *Spec) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	docs := []map[string]any{s.Pipeline}
	if s.Platform != nil {
		docs = append(docs, s.Platform)
	}
	for i, d := range docs {
		n, err := toNode(d)
		if err != nil {
			return nil, fmt.Errorf("encode pipeline spec %q (document %d): %w", s.Path, i+1, err)
		}
		if err := enc.Encode(n); err != nil {
			return nil, fmt.Errorf("encode pipeline spec %q (document %d): %w", s.Path, i+1, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode pipeline spec %q: %w", s.Path, err)
	}
	// Never hand out YAML that reads back differently: compare as JSON,
	// which is what KFP turns it into.
	back, err := decodeAll(s.Path, buf.Bytes())
	if err != nil || len(back) != len(docs) {
		return nil, fmt.Errorf("encode pipeline spec %q: the YAML written does not read back: %v", s.Path, err)
	}
	for i, d := range docs {
		want, err1 := json.Marshal(d)
		got, err2 := json.Marshal(back[i].value)
		if err1 != nil || err2 != nil || !bytes.Equal(want, got) {
			return nil, fmt.Errorf("encode pipeline spec %q (document %d): the YAML written reads back differently", s.Path, i+1)
		}
	}
	return buf.Bytes(), nil
}

// toNode builds the YAML node for a plain value. Doing it by hand, rather
// than letting yaml.v3 encode the maps, keeps big integers (json.Number)
// exact and makes whole floats stay floats ("2.0", not "2").
func toNode(v any) (*yaml.Node, error) {
	scalar := func(tag, value string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	}
	switch x := v.(type) {
	case nil:
		return scalar("!!null", "null"), nil
	case string:
		n := scalar("!!str", x)
		if strings.HasPrefix(x, "\n") || strings.HasPrefix(x, " ") && strings.Contains(x, "\n") {
			// yaml.v3 writes these as literal blocks that read back without
			// the leading newline; quoted they are exact.
			n.Style = yaml.DoubleQuotedStyle
		}
		return n, nil
	case bool:
		return scalar("!!bool", strconv.FormatBool(x)), nil
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return scalar("!!int", string(x)), nil
		}
		if decimalInt.MatchString(string(x)) {
			// yaml.v3 resolves a plain integer beyond int64 as !!float; tag it
			// so, to write it plain (Parse keeps its digits).
			return scalar("!!float", string(x)), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		return toNode(f)
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			vn, err := toNode(x[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			n.Content = append(n.Content, scalar("!!str", k), vn)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i, item := range x {
			vn, err := toNode(item)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			n.Content = append(n.Content, vn)
		}
		return n, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar("!!int", strconv.FormatInt(rv.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalar("!!int", strconv.FormatUint(rv.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("number %v cannot be represented in JSON", f)
		}
		text := strconv.FormatFloat(f, 'g', -1, rv.Type().Bits())
		if f == math.Trunc(f) && !bytes.ContainsAny([]byte(text), "e.") {
			text += ".0"
		}
		return scalar("!!float", text), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("mapping keys must be strings, not %s", rv.Type().Key())
		}
		m := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			m[k.String()] = rv.MapIndex(k).Interface()
		}
		return toNode(m)
	case reflect.Slice, reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return toNode(l)
	}
	return nil, fmt.Errorf("cannot write a %T as YAML", v)
}

// Clone returns a deep copy of s, so a stage can edit the maps (image
// digests, pod settings) without changing what others see.
func (s *Spec) Clone() *Spec {
	c := *s
	c.Pipeline, _ = deepCopy(s.Pipeline).(map[string]any)
	if s.Platform != nil {
		c.Platform, _ = deepCopy(s.Platform).(map[string]any)
	}
	c.Inputs = append([]Input(nil), s.Inputs...)
	for i := range c.Inputs {
		c.Inputs[i].Default = deepCopy(c.Inputs[i].Default)
	}
	c.Tasks = append([]Task(nil), s.Tasks...)
	for i := range c.Tasks {
		c.Tasks[i].DependsOn = append([]string(nil), c.Tasks[i].DependsOn...)
	}
	return &c
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		if x == nil {
			return x
		}
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

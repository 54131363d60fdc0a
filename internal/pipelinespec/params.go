package pipelinespec

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParamType is a pipeline parameter's type as the IR declares it
// (parameterType, ml_pipelines.ParameterType.ParameterTypeEnum).
type ParamType string

// The parameter types of KFP's IR. Older specs' `type: STRING|INT|DOUBLE`
// are read as String, Integer and Double.
const (
	String  ParamType = "STRING"
	Integer ParamType = "NUMBER_INTEGER"
	Double  ParamType = "NUMBER_DOUBLE"
	Boolean ParamType = "BOOLEAN"
	List    ParamType = "LIST"
	Struct  ParamType = "STRUCT"
)

func normType(t string) ParamType {
	switch t {
	case "INT":
		return Integer
	case "DOUBLE":
		return Double
	case "PARAMETER_TYPE_ENUM_UNSPECIFIED":
		return ""
	}
	return ParamType(t)
}

// Known reports whether kf-run can check values of this type. Values of
// other types (a newer SDK's) are passed through unchecked.
func (t ParamType) Known() bool {
	switch t {
	case String, Integer, Double, Boolean, List, Struct:
		return true
	}
	return false
}

// want describes the values a type takes, for messages.
func (t ParamType) want() string {
	switch t {
	case String:
		return "a string"
	case Integer:
		return "an integer"
	case Double:
		return "a number"
	case Boolean:
		return "true or false"
	case List:
		return "a list"
	case Struct:
		return "a mapping"
	}
	return "a value"
}

// check returns v normalised to t (int64 for integers, float64 for doubles),
// or an error saying what was wrong. Unknown types accept anything.
func (t ParamType) check(v any) (any, error) {
	if !t.Known() {
		return v, nil
	}
	wrong := func() error {
		return fmt.Errorf("%s wants %s, got %s", t, t.want(), describeValue(v))
	}
	switch t {
	case String:
		if s, ok := v.(string); ok {
			return s, nil
		}
		if v != nil && isScalar(v) {
			return nil, fmt.Errorf("%s wants %s, got %s (quote it in YAML: \"%v\")", t, t.want(), describeValue(v), v)
		}
		return nil, wrong()
	case Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, wrong()
	case Integer:
		switch n := v.(type) {
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
			if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
				return int64(f), nil
			}
			return nil, fmt.Errorf("%s wants an integer between %d and %d, got %s", t, int64(math.MinInt64), int64(math.MaxInt64), n)
		case float32, float64:
			f := reflect.ValueOf(n).Float()
			if f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) >= 1<<63 {
				return nil, fmt.Errorf("%s wants an integer, got %v", t, f)
			}
			return int64(f), nil
		}
		if i, ok := asInt(v); ok {
			return i, nil
		}
		return nil, wrong()
	case Double:
		switch n := v.(type) {
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		case float32, float64:
			f := reflect.ValueOf(n).Float()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("%s wants a finite number, got %v", t, f)
			}
			return f, nil
		}
		if i, ok := asInt(v); ok {
			return float64(i), nil
		}
		return nil, wrong()
	case List:
		if v != nil && reflect.TypeOf(v).Kind() == reflect.Slice {
			return v, nil
		}
		return nil, wrong()
	case Struct:
		if v != nil {
			if rt := reflect.TypeOf(v); rt.Kind() == reflect.Map && rt.Key().Kind() == reflect.String {
				return v, nil
			}
		}
		return nil, wrong()
	}
	return v, nil
}

func asInt(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), true
		}
	}
	return 0, false
}

func isScalar(v any) bool {
	switch reflect.TypeOf(v).Kind() {
	case reflect.Slice, reflect.Map, reflect.Struct, reflect.Pointer:
		return false
	}
	return true
}

func describeValue(v any) string {
	if v == nil {
		return "null"
	}
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case json.Number:
		return "number " + string(x)
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a mapping"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return fmt.Sprintf("number %v", v)
	}
	return fmt.Sprintf("%T", v)
}

func (s *Spec) input(name string) (Input, error) {
	for _, in := range s.Inputs {
		if in.Name == name {
			return in, nil
		}
	}
	return Input{}, fmt.Errorf("parameter %q: pipeline %q declares no such parameter (%s)", name, s.Name, s.declared())
}

func (s *Spec) declared() string {
	if len(s.Inputs) == 0 {
		return "it has no parameters"
	}
	names := make([]string, len(s.Inputs))
	for i, in := range s.Inputs {
		names[i] = in.Name
	}
	return "declared: " + strings.Join(names, ", ")
}

// ParseParam reads the text of a --param name=raw flag as the parameter's
// declared type: NUMBER_INTEGER as int64, NUMBER_DOUBLE as float64, BOOLEAN
// as true/false in any case, LIST and STRUCT as JSON or YAML flow text,
// STRING (and types kf-run does not know) as is.
func (s *Spec) ParseParam(name, raw string) (any, error) {
	in, err := s.input(name)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("parameter %q: %s", name, fmt.Sprintf(format, args...))
	}
	t := strings.TrimSpace(raw)
	switch in.Type {
	case Integer:
		if i, err := strconv.ParseInt(t, 10, 64); err == nil {
			return i, nil
		}
		// "3.0" and "1e3" are integers written as floats.
		if f, err := strconv.ParseFloat(t, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
		return nil, bad("%s wants an integer, got %q", in.Type, raw)
	case Double:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad("%s wants a number, got %q", in.Type, raw)
		}
		return f, nil
	case Boolean:
		switch strings.ToLower(t) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, bad("%s wants true or false, got %q", in.Type, raw)
	case List, Struct:
		v, err := parseValue(t)
		if err != nil {
			return nil, bad("%s wants JSON or YAML text: %v", in.Type, err)
		}
		if _, err := in.Type.check(v); err != nil {
			example := `["a", "b"]`
			if in.Type == Struct {
				example = `{"key": "value"}`
			}
			return nil, bad("%s wants %s such as %s, got %q", in.Type, in.Type.want(), example, raw)
		}
		return v, nil
	}
	return raw, nil
}

// parseValue reads one YAML (or JSON) value into the same plain values as
// Parse uses.
func parseValue(text string) (any, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if n.Kind == 0 { // empty text
		return nil, nil
	}
	c := newConverter("", len(text))
	v, err := c.value(&n, nil)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, errors.New(e.Msg)
		}
		return nil, err
	}
	return v, nil
}

// CheckParams checks parameter values (as read from kf-run.yaml or by
// ParseParam) against the declared inputs: unknown names, wrong types, and
// required parameters (no default, not optional) that are missing. It
// reports every problem, joined, each naming its parameter. The values
// of the parameters named in unknown are not known yet (kf-run validate
// without the job's variables): they must be declared, and count as given.
func (s *Spec) CheckParams(params map[string]any, unknown ...string) error {
	var errs []error
	names := slices.Sorted(maps.Keys(params))
	for _, name := range names {
		in, err := s.input(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if slices.Contains(unknown, name) {
			continue
		}
		v := params[name]
		if v == nil {
			if !in.Optional {
				errs = append(errs, fmt.Errorf("parameter %q: null, but the parameter is not optional", name))
			}
			continue
		}
		if _, err := in.Type.check(v); err != nil {
			errs = append(errs, fmt.Errorf("parameter %q: %w", name, err))
		}
	}
	for _, in := range s.Inputs {
		if _, ok := params[in.Name]; !ok && !in.HasDefault && !in.Optional {
			errs = append(errs, fmt.Errorf("parameter %q: required (%s, no default) but not given", in.Name, in.Type))
		}
	}
	return errors.Join(errs...)
}

// Normalize returns params with each value converted to its declared type
// (int64 for NUMBER_INTEGER, float64 for NUMBER_DOUBLE), ready to send.
// Call it after CheckParams; values that do not check are returned as is.
func (s *Spec) Normalize(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for name, v := range params {
		out[name] = v
		if in, err := s.input(name); err == nil && v != nil {
			if n, err := in.Type.check(v); err == nil {
				out[name] = n
			}
		}
	}
	return out
}

package pipelinespec

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadTwoStep(t *testing.T) *Spec {
	t.Helper()
	s, err := Load(filepath.Join("testdata", "two_step.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseParam(t *testing.T) {
	t.Parallel()
	s := loadTwoStep(t)
	tests := []struct {
		name, raw string
		want      any
		err       string // substring; "" means no error
	}{
		{"data", "gs://bucket/x", "gs://bucket/x", ""},
		{"data", " spaced ", " spaced ", ""},
		{"data", "3", "3", ""},
		{"data", "", "", ""},
		{"epochs", "3", int64(3), ""},
		{"epochs", "-7", int64(-7), ""},
		{"epochs", " 42 ", int64(42), ""},
		{"epochs", "3.0", int64(3), ""},
		{"epochs", "1e3", int64(1000), ""},
		{"epochs", "3.5", nil, `parameter "epochs": NUMBER_INTEGER wants an integer, got "3.5"`},
		{"epochs", "abc", nil, `parameter "epochs": NUMBER_INTEGER wants an integer, got "abc"`},
		{"epochs", "", nil, "wants an integer"},
		{"epochs", "99999999999999999999", nil, "wants an integer"},
		{"lr", "0.01", 0.01, ""},
		{"lr", "2", 2.0, ""},
		{"lr", "1e-3", 0.001, ""},
		{"lr", "fast", nil, `parameter "lr": NUMBER_DOUBLE wants a number, got "fast"`},
		{"lr", "NaN", nil, "wants a number"},
		{"lr", "inf", nil, "wants a number"},
		{"shuffle", "true", true, ""},
		{"shuffle", "True", true, ""},
		{"shuffle", "FALSE", false, ""},
		{"shuffle", "yes", nil, `parameter "shuffle": BOOLEAN wants true or false, got "yes"`},
		{"shuffle", "1", nil, "wants true or false"},
		{"layers", "[64, 32]", []any{int64(64), int64(32)}, ""},
		{"layers", `["a", "b"]`, []any{"a", "b"}, ""},
		{"layers", "[a, b]", []any{"a", "b"}, ""},
		{"layers", "[]", []any{}, ""},
		{"layers", "a,b", nil, `LIST wants a list such as ["a", "b"], got "a,b"`},
		{"layers", "[a", nil, "LIST wants JSON or YAML text"},
		{"layers", `{"a": 1}`, nil, "wants a list"},
		{"opts", `{"a": 1, "b": [true]}`, map[string]any{"a": int64(1), "b": []any{true}}, ""},
		{"opts", "{a: x}", map[string]any{"a": "x"}, ""},
		{"opts", "{}", map[string]any{}, ""},
		{"opts", "[1]", nil, `STRUCT wants a mapping such as {"key": "value"}, got "[1]"`},
		{"opts", "", nil, "wants a mapping"},
		{"nope", "1", nil, `parameter "nope": pipeline "two-step" declares no such parameter (declared: data, epochs, layers, lr, opts, seed, shuffle)`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := s.ParseParam(tt.name, tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseParam(%q, %q) = %v, %v; want error containing %q", tt.name, tt.raw, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseParam(%q, %q): %v", tt.name, tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseParam(%q, %q) (-want +got):\n%s", tt.name, tt.raw, diff)
			}
		})
	}
}

func TestParseParamNoInputs(t *testing.T) {
	t.Parallel()
	s, err := Parse("p.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ParseParam("x", "1")
	if err == nil || !strings.Contains(err.Error(), "it has no parameters") {
		t.Errorf("ParseParam = %v, want no parameters", err)
	}
}

func TestCheckParams(t *testing.T) {
	t.Parallel()
	s := loadTwoStep(t)
	// base gives the one required parameter.
	base := func(kv ...any) map[string]any {
		m := map[string]any{"data": "gs://d"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		params map[string]any
		want   []string // one line per problem; nil means valid
	}{
		{name: "required only", params: base()},
		{name: "every type", params: base(
			"epochs", 5, "lr", 0.5, "shuffle", false, "layers", []any{1, 2}, "opts", map[string]any{"k": "v"}, "seed", int64(1),
		)},
		{name: "int64 and integral float for NUMBER_INTEGER", params: base("epochs", int64(5), "seed", 3.0)},
		{name: "int for NUMBER_DOUBLE", params: base("lr", 1)},
		{name: "json.Number", params: base("epochs", json.Number("4"), "lr", json.Number("0.5"))},
		{name: "typed Go slices and maps", params: base("layers", []string{"a"}, "opts", map[string]string{"a": "b"})},
		{name: "null for an optional parameter", params: base("layers", nil)},
		{name: "missing required", params: map[string]any{}, want: []string{
			`parameter "data": required (STRING, no default) but not given`,
		}},
		{name: "unknown", params: base("epoch", 3), want: []string{
			`parameter "epoch": pipeline "two-step" declares no such parameter (declared: data, epochs, layers, lr, opts, seed, shuffle)`,
		}},
		{name: "string for a number", params: base("epochs", "3", "lr", "0.1"), want: []string{
			`parameter "epochs": NUMBER_INTEGER wants an integer, got string "3"`,
			`parameter "lr": NUMBER_DOUBLE wants a number, got string "0.1"`,
		}},
		{name: "fractional float for NUMBER_INTEGER", params: base("epochs", 3.5), want: []string{
			`parameter "epochs": NUMBER_INTEGER wants an integer, got 3.5`,
		}},
		{name: "number for STRING", params: map[string]any{"data": 1.10}, want: []string{
			`parameter "data": STRING wants a string, got number 1.1 (quote it in YAML: "1.1")`,
		}},
		{name: "bool for STRING", params: map[string]any{"data": true}, want: []string{
			`parameter "data": STRING wants a string, got boolean true (quote it in YAML: "true")`,
		}},
		{name: "string for BOOLEAN", params: base("shuffle", "true"), want: []string{
			`parameter "shuffle": BOOLEAN wants true or false, got string "true"`,
		}},
		{name: "scalar for LIST and list for STRUCT", params: base("layers", "a,b", "opts", []any{"a"}), want: []string{
			`parameter "layers": LIST wants a list, got string "a,b"`,
			`parameter "opts": STRUCT wants a mapping, got a list`,
		}},
		{name: "null for a required parameter", params: map[string]any{"data": nil}, want: []string{
			`parameter "data": null, but the parameter is not optional`,
		}},
		{name: "every problem at once", params: map[string]any{"zzz": 1, "epochs": "x"}, want: []string{
			`parameter "epochs": NUMBER_INTEGER wants an integer, got string "x"`,
			`parameter "zzz": pipeline "two-step" declares no such parameter (declared: data, epochs, layers, lr, opts, seed, shuffle)`,
			`parameter "data": required (STRING, no default) but not given`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.CheckParams(tt.params)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckParams(%v) (-want +got):\n%s", tt.params, diff)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	s := loadTwoStep(t)
	got := s.Normalize(map[string]any{"epochs": 3.0, "lr": 1, "data": "x", "unknown": 1})
	want := map[string]any{"epochs": int64(3), "lr": 1.0, "data": "x", "unknown": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Normalize (-want +got):\n%s", diff)
	}
}

package pipelinespec

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// pos is where a value starts in the file: for a mapping entry, its key.
type pos struct{ line, col int }

// positions is a tree of positions shaped like the value it describes:
// kids are keyed by mapping key or list index. (A tree, not a map of joined
// paths, so memory stays linear in the document however deep or long its
// keys.)
type positions struct {
	p    pos
	kids map[string]*positions
}

// child returns the node for key, adding it at n's position if new; nil
// when t is nil (positions not wanted).
func (t *positions) child(key string, n *yaml.Node) *positions {
	if t == nil {
		return nil
	}
	if k, ok := t.kids[key]; ok {
		return k // a merged key does not move an explicit one
	}
	if t.kids == nil {
		t.kids = map[string]*positions{}
	}
	k := &positions{p: pos{n.Line, n.Column}}
	t.kids[key] = k
	return k
}

// at returns the position of path, or of its nearest ancestor that has one.
func (t *positions) at(path []string) pos {
	if t == nil {
		return pos{}
	}
	for _, k := range path {
		next, ok := t.kids[k]
		if !ok {
			break
		}
		t = next
	}
	return t.p
}

// converter turns a yaml.Node tree into JSON-compatible plain values,
// recording positions. yaml.v3's own decoding into any would lose them, turn
// big integers into lossy floats and accept NaN, which json.Marshal rejects.
type converter struct {
	file string
	// budget bounds the nodes produced, so aliases cannot blow up memory
	// (the "billion laughs" document).
	budget int
	// active holds the anchors being expanded, to reject an alias to itself.
	active map[*yaml.Node]bool
}

func newConverter(file string, size int) *converter {
	return &converter{
		file:   file,
		budget: 100_000 + 4*size,
		active: map[*yaml.Node]bool{},
	}
}

func (c *converter) errAt(n *yaml.Node, format string, args ...any) *Error {
	return &Error{File: c.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// value converts n, recording positions of its parts under t (may be nil).
func (c *converter) value(n *yaml.Node, t *positions) (any, error) {
	c.budget--
	if c.budget < 0 {
		return nil, c.errAt(n, "document too large (aliases expand to too many values)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], t)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.errAt(n, "alias to an unknown anchor")
		}
		if c.active[n.Alias] {
			return nil, c.errAt(n, "alias *%s refers to a value that contains it", n.Value)
		}
		c.active[n.Alias] = true
		defer delete(c.active, n.Alias)
		return c.value(n.Alias, t)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			v, err := c.value(item, t.child(strconv.Itoa(i), item))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		if err := c.mapping(n, t, out, map[string]bool{}); err != nil {
			return nil, err
		}
		return out, nil
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	return nil, c.errAt(n, "unexpected YAML node kind %d", n.Kind)
}

// mapping adds n's entries to out. Explicit keys are errors when repeated (as
// yaml.v3 and so the KFP server treat them); keys merged in with "<<" never
// override explicit or earlier ones.
func (c *converter) mapping(n *yaml.Node, t *positions, out map[string]any, merged map[string]bool) error {
	var merges []*yaml.Node
	explicit := map[string]bool{}
	if len(n.Content)%2 != 0 {
		return c.errAt(n, "malformed mapping")
	}
	for i := 0; i < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		key, err := c.key(kn)
		if err != nil {
			return err
		}
		if explicit[key] {
			return c.errAt(kn, "mapping key %q defined twice", key)
		}
		explicit[key] = true
		v, err := c.value(vn, t.child(key, kn))
		if err != nil {
			return err
		}
		out[key] = v
		merged[key] = true
	}
	for _, m := range merges {
		if err := c.merge(m, t, out, merged); err != nil {
			return err
		}
	}
	return nil
}

func (c *converter) merge(m *yaml.Node, t *positions, out map[string]any, merged map[string]bool) error {
	c.budget--
	if c.budget < 0 {
		return c.errAt(m, "document too large (aliases expand to too many values)")
	}
	switch m.Kind {
	case yaml.AliasNode:
		if m.Alias == nil || c.active[m.Alias] {
			return c.errAt(m, "merge key refers to a value that contains it")
		}
		c.active[m.Alias] = true
		defer delete(c.active, m.Alias)
		return c.merge(m.Alias, t, out, merged)
	case yaml.MappingNode:
		tmp := map[string]any{}
		if err := c.mapping(m, t, tmp, map[string]bool{}); err != nil {
			return err
		}
		for k, v := range tmp {
			if !merged[k] {
				out[k] = v
				merged[k] = true
			}
		}
		return nil
	case yaml.SequenceNode:
		for _, item := range m.Content {
			if item.Kind == yaml.SequenceNode {
				return c.errAt(item, "merge key values must be mappings")
			}
			if err := c.merge(item, t, out, merged); err != nil {
				return err
			}
		}
		return nil
	}
	return c.errAt(m, "merge key values must be mappings")
}

func (c *converter) key(kn *yaml.Node) (string, error) {
	for kn.Kind == yaml.AliasNode && kn.Alias != nil && !c.active[kn.Alias] {
		kn = kn.Alias
	}
	if kn.Kind != yaml.ScalarNode {
		return "", c.errAt(kn, "mapping keys must be strings")
	}
	if kn.ShortTag() == "!!null" {
		return "", c.errAt(kn, "mapping key is null")
	}
	return kn.Value, nil
}

var (
	decimalInt = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)
	// jsonNumber is JSON's number grammar (RFC 8259 section 6).
	jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
)

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.errAt(n, "invalid boolean %q", n.Value)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		if v, ok := bigInt(n.Value); ok {
			return v, nil
		}
		return nil, c.errAt(n, "invalid integer %q", n.Value)
	case "!!float":
		// yaml.v3 resolves integers beyond int64 as floats; keep their digits.
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && decimalInt.MatchString(n.Value) {
			if v, ok := bigInt(n.Value); ok {
				return v, nil
			}
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.errAt(n, "invalid number %q", n.Value)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, c.errAt(n, "number %s cannot be represented in JSON", n.Value)
		}
		return f, nil
	case "!!str":
		// A plain JSON number too large for float64 ("1e400") resolves as a
		// string in yaml.v3; it is still a number in a JSON file.
		if n.Style == 0 && jsonNumber.MatchString(n.Value) {
			return nil, c.errAt(n, "number %s is out of range", n.Value)
		}
		return n.Value, nil
	case "!!binary":
		var s string
		if err := n.Decode(&s); err != nil {
			return nil, c.errAt(n, "invalid !!binary value")
		}
		return s, nil
	}
	// !!timestamp and custom tags: the text as written, as yaml.v3 does.
	return n.Value, nil
}

// bigInt reads a YAML integer literal (decimal, 0x, 0o, 0b, with "_"): int64
// when it fits, else json.Number with every digit.
func bigInt(s string) (any, bool) {
	t := strings.ReplaceAll(s, "_", "")
	neg := false
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(t, "0x"):
		base, t = 16, t[2:]
	case strings.HasPrefix(t, "0o"):
		base, t = 8, t[2:]
	case strings.HasPrefix(t, "0b"):
		base, t = 2, t[2:]
	}
	var b big.Int
	if t == "" {
		return nil, false
	}
	if _, ok := b.SetString(t, base); !ok {
		return nil, false
	}
	if neg {
		b.Neg(&b)
	}
	if b.IsInt64() {
		return b.Int64(), true
	}
	return json.Number(b.String()), true
}

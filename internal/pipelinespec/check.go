package pipelinespec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// checker reads the IR document into a Spec's summary fields and collects
// every structure problem with its position.
type checker struct {
	ir   map[string]any
	file string
	pos  *positions
	errs []*Error
}

func (c *checker) errf(path []string, hint, format string, args ...any) {
	p := c.pos.at(path)
	c.errs = append(c.errs, &Error{File: c.file, Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (c *checker) err() error {
	sort.SliceStable(c.errs, func(i, j int) bool {
		a, b := c.errs[i], c.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if len(c.errs) == 1 {
		return c.errs[0]
	}
	errs := make([]error, len(c.errs))
	for i, e := range c.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func dotted(path []string) string { return strings.Join(path, ".") }

// mapAt returns the mapping at path; when missing or not a mapping it
// records an error (if required) and returns nil.
func (c *checker) mapAt(path []string, required bool) map[string]any {
	v := dig(c.ir, path...)
	if v == nil {
		if required {
			c.errf(path, "", "%s is missing", dotted(path))
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.errf(path, "", "%s must be a mapping, not %s", dotted(path), describe(v))
		return nil
	}
	return m
}

func (c *checker) stringAt(path ...string) string {
	v := dig(c.ir, path...)
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		c.errf(path, "", "%s must be a string, not %s", dotted(path), describe(v))
	}
	return s
}

func (c *checker) fill(s *Spec) {
	ir := s.Pipeline
	p := []string{"pipelineInfo"}
	if c.mapAt(p, true) != nil {
		s.Name = c.stringAt("pipelineInfo", "name")
		if v := dig(c.ir, "pipelineInfo", "name"); v == nil || v == "" {
			c.errf([]string{"pipelineInfo", "name"}, "", "pipelineInfo.name is missing or empty")
		}
		s.Description = c.stringAt("pipelineInfo", "description")
	}
	s.SchemaVersion = c.stringAt("schemaVersion")
	s.SDKVersion = c.stringAt("sdkVersion")

	components := c.mapAt([]string{"components"}, true)
	var executors map[string]any // nil: unknown, do not check labels
	if c.mapAt([]string{"deploymentSpec"}, true) != nil {
		executors = c.mapAt([]string{"deploymentSpec", "executors"}, false)
		if dig(c.ir, "deploymentSpec", "executors") == nil {
			executors = map[string]any{}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(components)) {
		cp := []string{"components", name}
		comp, ok := components[name].(map[string]any)
		if !ok {
			c.errf(cp, "", "%s must be a mapping, not %s", dotted(cp), describe(components[name]))
			continue
		}
		if label := c.stringAt(sub(cp, "executorLabel")...); label != "" && executors != nil {
			if _, ok := executors[label]; !ok {
				c.errf(append(cp, "executorLabel"), hintNames("executors", executors),
					"component %q: executor %q is not in deploymentSpec.executors", name, label)
			}
		}
		if _, ok := comp["dag"]; ok {
			c.dag(cp, components)
		}
	}

	root := c.mapAt([]string{"root"}, true)
	if root == nil {
		return
	}
	if dig(root, "dag") == nil {
		c.errf([]string{"root"}, "", "root.dag is missing: the pipeline has no tasks")
		return
	}
	if dig(root, "dag", "tasks") == nil {
		c.errf([]string{"root", "dag"}, "", "root.dag.tasks is missing: the pipeline has no tasks")
	}
	order := c.dag([]string{"root"}, components)
	if tasks, ok := dig(root, "dag", "tasks").(map[string]any); ok && len(tasks) == 0 {
		c.errf([]string{"root", "dag", "tasks"}, "", "root.dag.tasks is empty: the pipeline has no tasks")
	}
	s.Inputs = c.inputs(ir)
	tasks, _ := dig(ir, "root", "dag", "tasks").(map[string]any)
	for _, name := range order {
		t := tasks[name].(map[string]any)
		task := Task{Name: name, DependsOn: stringList(t["dependentTasks"])}
		sort.Strings(task.DependsOn)
		task.DisplayName, _ = dig(t, "taskInfo", "name").(string)
		if task.DisplayName == "" {
			task.DisplayName = name
		}
		task.ComponentRef, _ = dig(t, "componentRef", "name").(string)
		comp, _ := components[task.ComponentRef].(map[string]any)
		task.Executor, _ = comp["executorLabel"].(string)
		task.Image, _ = dig(executors[task.Executor], "container", "image").(string)
		s.Tasks = append(s.Tasks, task)
	}
}

// platform checks the shape KFP's PlatformSpec message needs, at the
// platform document's positions.
func (c *checker) platform(doc map[string]any, pos *positions) {
	irPos := c.pos
	c.pos = pos
	defer func() { c.pos = irPos }()
	check := func(path ...string) bool {
		v := dig(doc, path...)
		if _, ok := v.(map[string]any); !ok && v != nil {
			c.errf(path, "", "platform spec: %s must be a mapping, not %s", dotted(path), describe(v))
			return false
		}
		return v != nil
	}
	if check("platforms") && check("platforms", "kubernetes") && check("platforms", "kubernetes", "deploymentSpec") {
		check("platforms", "kubernetes", "deploymentSpec", "executors")
	}
}

// dag checks the tasks of the component at path (root or components.X):
// component references, dependencies, cycles. It returns the well-formed
// tasks in topological order.
func (c *checker) dag(path []string, components map[string]any) []string {
	dp := sub(path, "dag")
	if c.mapAt(dp, true) == nil {
		return nil
	}
	tp := sub(dp, "tasks")
	tasks := c.mapAt(tp, false)
	deps := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(tasks)) {
		p := append(tp[:len(tp):len(tp)], name)
		t, ok := tasks[name].(map[string]any)
		if !ok {
			c.errf(p, "", "task %q must be a mapping, not %s", name, describe(tasks[name]))
			continue
		}
		ref := append(p[:len(p):len(p)], "componentRef", "name")
		switch r, _ := dig(t, "componentRef", "name").(string); {
		case r == "":
			c.errf(ref, "", "task %q has no componentRef.name", name)
		case components != nil && components[r] == nil:
			c.errf(ref, hintNames("components", components), "task %q: component %q is not in components", name, r)
		}
		dt := t["dependentTasks"]
		list, ok := dt.([]any)
		if dt != nil && !ok {
			c.errf(append(p, "dependentTasks"), "", "task %q: dependentTasks must be a list, not %s", name, describe(dt))
		}
		var ds []string
		for i, d := range list {
			ip := append(p[:len(p):len(p)], "dependentTasks", fmt.Sprint(i))
			ds2, ok := d.(string)
			switch {
			case !ok:
				c.errf(ip, "", "task %q: dependentTasks[%d] must be a task name", name, i)
			case ds2 == name:
				c.errf(ip, "", "task %q depends on itself", name)
			case tasks[ds2] == nil:
				c.errf(ip, hintNames("tasks", tasks), "task %q depends on %q, which is not a task of %s", name, ds2, dotted(dp))
			default:
				if _, ok := tasks[ds2].(map[string]any); ok { // others are reported above
					ds = append(ds, ds2)
				}
			}
		}
		deps[name] = ds
	}
	order, cyclic := topo(deps)
	if len(cyclic) > 0 {
		c.errf(append(tp[:len(tp):len(tp)], cyclic[0]), "", "dependency cycle among tasks %s", strings.Join(quoteAll(cyclic), ", "))
	}
	return order
}

// topo orders tasks so each comes after its dependencies, the smallest name
// first among those ready; tasks on or behind a cycle are returned in cyclic.
func topo(deps map[string][]string) (order, cyclic []string) {
	indeg := map[string]int{}
	users := map[string][]string{}
	for n, ds := range deps {
		indeg[n] += 0
		for _, d := range ds {
			indeg[n]++
			users[d] = append(users[d], n)
		}
	}
	var ready []string
	for n, k := range indeg {
		if k == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, u := range users[n] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) < len(deps) {
		for n, k := range indeg {
			if k > 0 {
				cyclic = append(cyclic, n)
			}
		}
		sort.Strings(cyclic)
	}
	return order, cyclic
}

func (c *checker) inputs(ir map[string]any) []Input {
	pp := []string{"root", "inputDefinitions", "parameters"}
	params := c.mapAt(pp, false)
	var out []Input
	for _, name := range slices.Sorted(maps.Keys(params)) {
		p := append(pp[:len(pp):len(pp)], name)
		def, ok := params[name].(map[string]any)
		if !ok {
			c.errf(p, "", "parameter %q must be a mapping, not %s", name, describe(params[name]))
			continue
		}
		in := Input{Name: name}
		t, _ := def["parameterType"].(string)
		if t == "" {
			t, _ = def["type"].(string) // schema 2.0.0
		}
		in.Type = normType(t)
		in.Optional, _ = def["isOptional"].(bool)
		in.Description, _ = def["description"].(string)
		if d, ok := def["defaultValue"]; ok {
			in.HasDefault = true
			in.Default = d
			if v, err := in.Type.check(d); err == nil {
				in.Default = v
			}
		}
		out = append(out, in)
	}
	return out
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// hintNames lists what a reference could have named, briefly.
func hintNames(what string, m map[string]any) string {
	names := slices.Sorted(maps.Keys(m))
	if len(names) == 0 {
		return "there are no " + what
	}
	const max = 10
	more := ""
	if len(names) > max {
		more = fmt.Sprintf(" and %d more", len(names)-max)
		names = names[:max]
	}
	return what + ": " + strings.Join(names, ", ") + more
}

// sub returns path with more appended, never sharing path's array.
func sub(path []string, more ...string) []string {
	out := make([]string, 0, len(path)+len(more))
	return append(append(out, path...), more...)
}

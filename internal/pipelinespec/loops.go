package pipelinespec

import "encoding/json"

// LoopItems returns the items the ParallelFor task named loop iterates
// over, when they are known before the run: literal items in the spec, or,
// for a loop of the root DAG, a pipeline parameter (taken from params,
// else its default). ok is false when the items come from another task's
// output, or the loop is not found.
func (s *Spec) LoopItems(loop string, params map[string]any) (items []any, ok bool) {
	if s == nil {
		return nil, false
	}
	root, _ := s.Pipeline["root"].(map[string]any)
	if items, ok, found := loopIn(root, loop, true, s, params); found {
		return items, ok
	}
	comps, _ := s.Pipeline["components"].(map[string]any)
	for _, c := range comps {
		if items, ok, found := loopIn(c.(map[string]any), loop, false, s, params); found {
			return items, ok
		}
	}
	return nil, false
}

func loopIn(component map[string]any, loop string, isRoot bool, s *Spec, params map[string]any) (items []any, ok, found bool) {
	dag, _ := component["dag"].(map[string]any)
	tasks, _ := dag["tasks"].(map[string]any)
	task, _ := tasks[loop].(map[string]any)
	if task == nil {
		return nil, false, false
	}
	it, _ := task["parameterIterator"].(map[string]any)
	src, _ := it["items"].(map[string]any)
	if raw, isStr := src["raw"].(string); isStr {
		if err := json.Unmarshal([]byte(raw), &items); err != nil {
			return nil, false, true
		}
		return items, true, true
	}
	in, _ := src["inputParameter"].(string)
	if !isRoot || in == "" {
		return nil, false, true
	}
	inputs, _ := task["inputs"].(map[string]any)
	ps, _ := inputs["parameters"].(map[string]any)
	p, _ := ps[in].(map[string]any)
	name, _ := p["componentInputParameter"].(string)
	if name == "" {
		return nil, false, true
	}
	v, has := params[name]
	if !has {
		for _, i := range s.Inputs {
			if i.Name == name && i.HasDefault {
				v, has = i.Default, true
			}
		}
	}
	list, isList := v.([]any)
	if !has || !isList {
		return nil, false, true
	}
	return list, true, true
}

package podspec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

var errNoTask = errors.New("no such task")

// dummyImages are the placeholder images of kfp-kubernetes' createpvc and
// deletepvc tasks, which KFP runs in the driver, not as pods.
var dummyImages = map[string]bool{"argostub/createpvc": true, "argostub/deletepvc": true}

// index maps task names to executors over every DAG of a pipeline spec.
type index struct {
	ir         map[string]any
	executors  map[string]any
	containers []string            // container executors, sorted
	tasks      map[string][]string // task name → executor labels ("" for sub-DAGs)
	users      map[string][]string // executor label → task names
	allTasks   []map[string]any    // every task of every DAG
}

func newIndex(ir map[string]any) *index {
	ix := &index{ir: ir, tasks: map[string][]string{}, users: map[string][]string{}}
	ix.executors, _ = dig(ir, "deploymentSpec", "executors").(map[string]any)
	for _, label := range slices.Sorted(maps.Keys(ix.executors)) {
		c, ok := dig(ix.executors[label], "container").(map[string]any)
		if ok && !dummyImages[str(c["image"])] {
			ix.containers = append(ix.containers, label)
		}
	}
	components, _ := ir["components"].(map[string]any)
	dags := []map[string]any{}
	if t, ok := dig(ir, "root", "dag", "tasks").(map[string]any); ok {
		dags = append(dags, t)
	}
	for _, name := range slices.Sorted(maps.Keys(components)) {
		if t, ok := dig(components[name], "dag", "tasks").(map[string]any); ok {
			dags = append(dags, t)
		}
	}
	for _, tasks := range dags {
		for _, name := range slices.Sorted(maps.Keys(tasks)) {
			task, _ := tasks[name].(map[string]any)
			comp := str(dig(task, "componentRef", "name"))
			label := str(dig(components, comp, "executorLabel"))
			ix.allTasks = append(ix.allTasks, task)
			if !slices.Contains(ix.tasks[name], label) {
				ix.tasks[name] = append(ix.tasks[name], label)
			}
			if label != "" && !slices.Contains(ix.users[label], name) {
				ix.users[label] = append(ix.users[label], name)
			}
		}
	}
	return ix
}

// resolve returns the container executors a task override named name
// applies to: the executor with that label, or the executors of the tasks
// with that name.
func (ix *index) resolve(name string) ([]string, error) {
	if _, ok := ix.executors[name]; ok {
		if !slices.Contains(ix.containers, name) {
			return nil, fmt.Errorf("executor %q does not run a container (an importer, or a kfp-kubernetes PVC step): pod settings do not apply", name)
		}
		return []string{name}, nil
	}
	labels, ok := ix.tasks[name]
	if !ok {
		names := slices.Sorted(maps.Keys(ix.tasks))
		return nil, fmt.Errorf("%w %q in the pipeline (tasks: %s; executors: %s)", errNoTask, name, strings.Join(names, ", "), strings.Join(ix.containers, ", "))
	}
	var out []string
	for _, l := range labels {
		switch {
		case l == "":
			return nil, fmt.Errorf("task %q is a sub-pipeline: set pod settings on the tasks inside it", name)
		case !slices.Contains(ix.containers, l):
			return nil, fmt.Errorf("task %q does not run a container (an importer, or a kfp-kubernetes PVC step): pod settings do not apply", name)
		}
		for _, other := range ix.users[l] {
			if other != name {
				return nil, fmt.Errorf("task %q shares executor %q with task %q, and KFP configures pods per executor: name the executor to set both", name, l, other)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// setCaching turns caching on or off for every container task. Off is
// written as the SDK writes it: cachingOptions without enableCache.
func (ix *index) setCaching(on bool) {
	components, _ := ix.ir["components"].(map[string]any)
	for _, task := range ix.allTasks {
		comp := str(dig(task, "componentRef", "name"))
		if str(dig(components, comp, "executorLabel")) == "" {
			continue
		}
		co := child(task, "cachingOptions")
		if on {
			co["enableCache"] = true
		} else {
			delete(co, "enableCache")
		}
	}
}

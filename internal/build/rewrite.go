package build

import (
	"fmt"
	"sort"

	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// Refs returns the distinct ko:// executor images of s, sorted.
func Refs(s *pipelinespec.Spec) []string {
	var out []string
	for _, img := range s.Images() {
		if IsRef(img) {
			out = append(out, img)
		}
	}
	return out
}

// Targets returns s's ko:// executor images with the tasks that run them,
// named "<pipeline>/<task>".
func Targets(pipeline string, s *pipelinespec.Spec) []Target {
	steps := map[string][]string{}
	for _, t := range s.Tasks {
		if IsRef(t.Image) {
			steps[t.Image] = append(steps[t.Image], pipeline+"/"+t.Name)
		}
	}
	var out []Target
	for _, ref := range Refs(s) {
		st := steps[ref]
		sort.Strings(st)
		out = append(out, Target{Ref: ref, Steps: st})
	}
	return out
}

// Rewrite returns a copy of s whose executor images
// (deploymentSpec.executors.*.container.image) that are ko:// references
// are replaced by their pushed digests. ko:// text anywhere else (an
// argument, say) stays as it is. Every ko:// executor image must be in
// digests.
func Rewrite(s *pipelinespec.Spec, digests map[string]string) (*pipelinespec.Spec, error) {
	c := s.Clone()
	deploy, _ := c.Pipeline["deploymentSpec"].(map[string]any)
	execs, _ := deploy["executors"].(map[string]any)
	for name, e := range execs {
		em, _ := e.(map[string]any)
		ctr, _ := em["container"].(map[string]any)
		img, _ := ctr["image"].(string)
		if !IsRef(img) {
			continue
		}
		d, ok := digests[img]
		if !ok {
			return nil, fmt.Errorf("executor %s: no image built for %s", name, img)
		}
		ctr["image"] = d
	}
	if err := c.Refresh(); err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", s.Path, err)
	}
	return c, nil
}

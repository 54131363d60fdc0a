package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSchedules(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, `kubeflow: {host: https://kf.example.com}
pipelines:
  - name: train
    spec: SPEC
    version: "v-{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://d, epochs: 4}
    schedule:
      cron: "0 2 * * *"
      parameters: {epochs: 10}
      pod: {node_selector: {pool: nightly}}
  - name: adhoc
    spec: SPEC
    parameters: {dataset: gs://d}
`)
	p, ss, err := Schedules(Input{Config: cfg, CI: gh})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pipelines) != 2 || len(ss) != 1 {
		t.Fatalf("%d pipelines, %d schedules; want 2 and 1", len(p.Pipelines), len(ss))
	}
	s := ss[0]
	pl := s.Pipeline
	if s.Cron != "0 0 2 * * *" || s.MaxConcurrency != 1 || !s.NoCatchup || !s.Enabled || s.Interval != 0 || !s.Start.Equal(time.Time{}) {
		t.Errorf("schedule %+v", s)
	}
	if pl.Name != "train" || pl.PipelineName != "train" || pl.Version != "v-0123456" || pl.Parameters["epochs"] != 10 || pl.Parameters["dataset"] != "gs://d" {
		t.Errorf("scheduled pipeline %+v", pl)
	}
	yml, err := pl.Spec.YAML()
	if err != nil || !strings.Contains(string(yml), "nightly") {
		t.Errorf("the schedule's pod settings are not in its spec (%v)", err)
	}
	// The run of the same entry keeps its own settings.
	if p.Pipelines[0].Parameters["epochs"] != 4 {
		t.Errorf("run parameters changed: %v", p.Pipelines[0].Parameters)
	}
	if run, _ := p.Pipelines[0].Spec.YAML(); strings.Contains(string(run), "nightly") {
		t.Errorf("the schedule's pod settings leaked into the run's spec")
	}
}

func TestSchedulesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, src, want string }{
		{"no version", `pipelines:
  - name: train
    spec: SPEC
    parameters: {dataset: gs://d}
    schedule: {every: 6h}
`, `kf-run.yaml:6: pipelines[0].schedule: a schedule runs a pipeline version uploaded by kf-run, never KFP's "latest": set version`},
		{"unknown parameter", `pipelines:
  - name: train
    spec: SPEC
    version: v1
    parameters: {dataset: gs://d}
    schedule: {every: 6h, parameters: {epoch: 3}}
`, `pipeline "train"`},
		{"unknown task", `pipelines:
  - name: train
    spec: SPEC
    version: v1
    parameters: {dataset: gs://d}
    schedule:
      every: 6h
      pod:
        tasks:
          nope: {node_selector: {a: b}}
`, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := loadConfig(t, "kubeflow: {host: https://kf.example.com}\n"+tc.src)
			_, _, err := Schedules(Input{Config: cfg, CI: gh})
			var ue *UsageError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !asUsage(err, &ue) {
				t.Fatalf("error %v (%T), want a usage error with %q", err, err, tc.want)
			}
		})
	}
}

func asUsage(err error, ue **UsageError) bool { return errors.As(err, ue) }

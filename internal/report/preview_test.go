package report

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// A preview run's report lists the pipeline's earlier runs in the pull
// request, says which it superseded, and links to the experiment.
func TestMarkdownPreview(t *testing.T) {
	t.Parallel()
	p, pl := succeeded()
	pl.Submission.ExperimentName = "pr-5"
	pl.Preview = &plan.PipelinePreview{
		Line: plan.PreviewKey("acme/ml", 5) + "0123456789ab", Supersede: true,
		ExperimentURL: "https://kfp.example.com/#/experiments/details/e-1",
		Earlier: []plan.EarlierRun{
			{ID: "run-41", Name: "train PR #5 0ddba11", URL: "https://kfp.example.com/#/runs/details/run-41", State: kfp.StateRunning, Created: at(-10 * time.Minute), Superseded: true},
			{ID: "run-40", Name: "train PR #5 <b>x</b>", URL: "https://kfp.example.com/#/runs/details/run-40", State: kfp.StateFailed, Created: at(-time.Hour)},
		},
		MoreEarlier: 3,
	}
	got := Markdown(p, pl, 0)
	golden(t, filepath.Join("testdata", "preview.md.golden"), got)
	for _, want := range []string{
		"**Earlier runs of train in <code>pr-5</code>** ([all runs](<https://kfp.example.com/#/experiments/details/e-1>))",
		"RUNNING, terminated: superseded by this run",
		"- and 3 more",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "<b>x</b>") {
		t.Errorf("a run name is not escaped:\n%s", got)
	}

	// Not a preview: no such section.
	p, pl = succeeded()
	if got := Markdown(p, pl, 0); strings.Contains(got, "Earlier runs") {
		t.Errorf("a run that is no preview lists earlier runs:\n%s", got)
	}
}

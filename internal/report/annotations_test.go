package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/plan"
)

func TestAnnotations(t *testing.T) {
	t.Parallel()
	type link struct{ Label, URL string }
	tests := []struct {
		name string
		plan func() *plan.Plan
		want []link
	}{
		{"one", func() *plan.Plan { p, _ := succeeded(); return p },
			[]link{{"train: SUCCEEDED", "https://kfp.example.com/#/runs/details/run-42"}}},
		{"not submitted", func() *plan.Plan { p, _ := notSubmitted(); return p }, []link{}},
		{"no wait", func() *plan.Plan {
			p, pl := fixture()
			p.Wait = false
			pl.Name = "nightly\n  eval"
			return p
		}, []link{{"nightly eval: SUBMITTED", "https://kfp.example.com/#/runs/details/run-42"}}},
		{"several", func() *plan.Plan {
			p, _ := succeeded()
			_, b := timedOut()
			b.Name = "eval"
			b.Submission.RunURL = "https://kubeflow.example.com/_/pipeline/?ns=team#/runs/details/run-43"
			_, c := notSubmitted()
			p.Pipelines = append(p.Pipelines, b, c)
			return p
		}, []link{
			{"train: SUCCEEDED", "https://kfp.example.com/#/runs/details/run-42"},
			{"eval: TIMED_OUT", "https://kubeflow.example.com/_/pipeline/?ns=team#/runs/details/run-43"},
		}},
		{"hostile values", func() *plan.Plan {
			p, a := succeeded()
			a.Submission.RunURL = "javascript:alert(1)"
			_, b := succeeded()
			b.Submission.RunURL = "https://x/?t=" + secret
			_, c := succeeded()
			c.Name = "leak " + secret + ` "}]`
			p.Pipelines = append(p.Pipelines, b, c)
			return p
		}, []link{{`leak *** "}]: SUCCEEDED`, "https://kfp.example.com/#/runs/details/run-42"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := Annotations(tt.plan())
			if strings.Contains(string(out), secret) {
				t.Fatalf("a secret in the report:\n%s", out)
			}
			// The exact shape GitLab documents, and nothing else.
			var doc map[string][]map[string]map[string]string
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("not the annotations shape: %v\n%s", err, out)
			}
			if len(doc) != 1 || doc["kf-run"] == nil {
				t.Fatalf("want one section %q:\n%s", "kf-run", out)
			}
			got := []link{}
			for _, a := range doc["kf-run"] {
				if len(a) != 1 || len(a["external_link"]) != 2 {
					t.Fatalf("want only external_link {label, url}: %v", a)
				}
				got = append(got, link{a["external_link"]["label"], a["external_link"]["url"]})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnnotationsSizeLimit(t *testing.T) {
	t.Parallel()
	p, first := succeeded()
	first.Submission.RunURL += "?" + strings.Repeat("x", 4000)
	for i := range 40 {
		_, pl := succeeded()
		pl.Name = fmt.Sprintf("p%d", i)
		pl.Submission.RunURL = first.Submission.RunURL
		p.Pipelines = append(p.Pipelines, pl)
	}
	out := Annotations(p)
	if len(out) > annotationsMaxBytes {
		t.Errorf("report is %d bytes, over the %d budget", len(out), annotationsMaxBytes)
	}
	var doc map[string][]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if n := len(doc["kf-run"]); n < 10 || n >= len(p.Pipelines) {
		t.Errorf("%d links of %d, want the first ones up to the budget", n, len(p.Pipelines))
	}
}

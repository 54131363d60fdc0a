package report

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/kf-run/kf-run/internal/plan"
)

// annotationsSection names kf-run's list in the annotations report.
const annotationsSection = "kf-run"

// annotationsMaxBytes keeps the report under GitLab's default
// ci_job_annotations_size limit (80 KiB); links past it are left out.
const annotationsMaxBytes = 64 << 10

type glAnnotation struct {
	ExternalLink externalLink `json:"external_link"`
}

type externalLink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Annotations renders the GitLab annotations report, which links each
// submitted run on the job page:
// {"kf-run": [{"external_link": {"label": "train: SUCCEEDED", "url": ...}}]}.
// https://docs.gitlab.com/ci/yaml/artifacts_reports/#artifactsreportsannotations
// A link that is not http(s) or holds a secret is left out, and so are
// the links past GitLab's size limit.
func Annotations(p *plan.Plan) []byte {
	redact := secrets(p)
	links := []glAnnotation{}
	size := 0
	for _, pl := range p.Pipelines {
		s := pl.Submission
		if s == nil || s.RunURL == "" || redact.Replace(s.RunURL) != s.RunURL {
			continue
		}
		if u, err := url.Parse(s.RunURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		label := redact.Replace(strings.Join(strings.Fields(pl.Name), " ") + ": " + State(p, pl))
		a := glAnnotation{externalLink{Label: label, URL: s.RunURL}}
		b, _ := json.Marshal(a)
		if size+len(b)+64 > annotationsMaxBytes {
			break
		}
		size += len(b) + 1
		links = append(links, a)
	}
	b, _ := json.MarshalIndent(map[string][]glAnnotation{annotationsSection: links}, "", "  ")
	return append(b, '\n')
}

package report

import (
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/plan"
)

func TestMarkdownImages(t *testing.T) {
	t.Parallel()
	p, pl := noWait()
	if got := Markdown(p, pl, 0); strings.Contains(got, "| Image |") {
		t.Errorf("images section without images:\n%s", got)
	}
	pl.Images = []plan.BuiltImage{
		{Ref: "ko://example.com/app/cmd/train", Digest: "ghcr.io/acme/ml/train-0a1b@sha256:" + strings.Repeat("a", 64)},
		{Ref: "ko://example.com/app/cmd/prep", Digest: "ghcr.io/acme/ml/prep-2c3d@sha256:" + strings.Repeat("b", 64), Reused: true},
	}
	got := Markdown(p, pl, 0)
	for _, want := range []string{
		"| Image | Pushed as |",
		"| <code>ko://example.com/app/cmd/train</code> | <code>ghcr.io/acme/ml/train-0a1b@sha256:" + strings.Repeat("a", 64) + "</code> |",
		"sha256:" + strings.Repeat("b", 64) + "</code> (unchanged) |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown lacks %q:\n%s", want, got)
		}
	}
}

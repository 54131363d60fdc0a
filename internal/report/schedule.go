package report

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

// sticky is one comment (MR note) kf-run keeps up to date on a pull
// request: found again by its marker, which body ends with.
type sticky struct {
	name string // what it is, for errors: the pipeline's name
	mark string
	body string
}

// scheduleMarker identifies the schedule plan of one config file (as
// given, slash-separated) and comment key. Not the workflow or job: the
// plan is what merging would change, whichever job computes it.
func scheduleMarker(config, key string) string {
	return "<!-- kf-run-schedule:" + markerPart(config) + markerLeg(key) + " -->"
}

// schedulePlan is the sticky comment of a schedule plan, cut to budget and
// with the plan's secrets redacted.
func schedulePlan(p *plan.Plan, config, markdown string, budget int) sticky {
	mark := scheduleMarker(config, p.CommentKey)
	body := secrets(p).Replace(markdown)
	if room := budget - len(mark) - 1; len(body) > room {
		const more = "\n\n… (cut: the job summary or log has the whole plan)\n"
		body = strings.ToValidUTF8(body[:room-len(more)], "")
		body = body[:max(strings.LastIndexByte(body, '\n'), 0)] + more
	}
	return sticky{name: "schedule plan of " + config, mark: mark, body: strings.TrimRight(body, "\n") + "\n\n" + mark}
}

// PublishSchedulePlan keeps the plan of kf-run schedule sync --dry-run on
// a pull request (markdown: schedule.CommentMarkdown) in one sticky
// comment per config file and comment key, updated in place. Outside a
// pull request, or with p.Comment off, it does nothing; a fork PR or a
// token that may not comment gives a notice or warning on c, as Publish.
func (g *GitHub) PublishSchedulePlan(ctx context.Context, p *plan.Plan, config, markdown string, c *console.Console) error {
	c.Mask(secretValues(p)...)
	if !p.Comment || !commentable(p.CI, c) {
		return nil
	}
	return g.upsert(ctx, p.CI, []sticky{schedulePlan(p, config, markdown, commentBudget)}, c)
}

// PublishSchedulePlan is GitHub.PublishSchedulePlan as an MR note.
func (g *GitLab) PublishSchedulePlan(ctx context.Context, p *plan.Plan, config, markdown string, c *console.Console) error {
	c.Mask(secretValues(p)...)
	if !p.Comment || !noteable(p.CI, c) {
		return nil
	}
	return g.upsert(ctx, p.CI, []sticky{schedulePlan(p, config, markdown, noteBudget)}, c)
}

// ScheduleSummary appends a schedule plan's markdown to the job summary
// and --summary-file, with the plan's secrets redacted, as every other
// summary kf-run writes. It returns the errors of both.
func ScheduleSummary(p *plan.Plan, markdown string) error {
	var errs []error
	body := secrets(p).Replace(markdown)
	for _, f := range []string{p.CI.SummaryPath, p.SummaryFile} {
		if f == "" {
			continue
		}
		if err := appendFile(f, body); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", f, err))
		}
	}
	return errors.Join(errs...)
}

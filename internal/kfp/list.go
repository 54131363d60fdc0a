package kfp

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// listPage is the most runs KFP returns in one page (its maximum
// page_size).
const listPage = 200

// RunsByID reads the runs with these IDs, one ListRuns for up to 200 of
// them (a run_id IN filter), so following many runs costs one request a
// tick. Runs the server does not list (deleted, another namespace) are
// missing from the answer. Up to KFP 2.17 the listed runs carry
// task_details as GetRun's do; with the task API they have no tasks
// (Run.Nodes is empty) and GetRun with view=FULL gives them.
func (c *Client) RunsByID(ctx context.Context, ids []string) (map[string]Run, error) {
	out := make(map[string]Run, len(ids))
	for chunk := range slices.Chunk(ids, listPage) {
		q := url.Values{
			"filter":    {filter("run_id", "IN", "string_values", map[string]any{"values": chunk})},
			"page_size": {strconv.Itoa(listPage)},
		}
		if c.target.Namespace != "" {
			q.Set("namespace", c.target.Namespace)
		}
		for pages := 0; ; pages++ {
			if pages == maxPages {
				return nil, &APIError{Op: "ListRuns", Err: fmt.Errorf("still paging after %d pages", maxPages)}
			}
			var page struct {
				Runs          []runJSON `json:"runs"`
				NextPageToken string    `json:"next_page_token"`
			}
			if err := c.getJSON(ctx, "ListRuns", "/apis/v2beta1/runs", q, &page); err != nil {
				return nil, err
			}
			for _, r := range page.Runs {
				out[r.RunID] = r.run()
			}
			if page.NextPageToken == "" || page.NextPageToken == q.Get("page_token") {
				break
			}
			q = url.Values{"page_token": {page.NextPageToken}, "page_size": {strconv.Itoa(listPage)}}
			if c.target.Namespace != "" {
				q.Set("namespace", c.target.Namespace)
			}
		}
	}
	return out, nil
}

// PastRun is a finished run, for how long runs of a pipeline take.
type PastRun struct {
	ID                string
	Pipeline          string // the spec's pipelineInfo.name, for an inline spec
	PipelineID        string // for a run of an uploaded version
	Created, Finished time.Time
}

// PastRuns lists the last n runs that succeeded in an experiment (in the
// target namespace when experimentID is empty), newest first.
func (c *Client) PastRuns(ctx context.Context, experimentID string, n int) ([]PastRun, error) {
	q := url.Values{
		"filter":    {filter("state", "EQUALS", "string_value", string(StateSucceeded))},
		"page_size": {strconv.Itoa(min(n, listPage))},
		"sort_by":   {"created_at desc"},
	}
	if experimentID != "" {
		q.Set("experiment_id", experimentID)
	} else if c.target.Namespace != "" {
		q.Set("namespace", c.target.Namespace)
	}
	var page struct {
		Runs []struct {
			runJSON
			PipelineSpec *struct {
				PipelineInfo struct {
					Name string `json:"name"`
				} `json:"pipelineInfo"`
			} `json:"pipeline_spec"`
			VersionRef *struct {
				PipelineID string `json:"pipeline_id"`
			} `json:"pipeline_version_reference"`
		} `json:"runs"`
	}
	if err := c.getJSON(ctx, "ListRuns", "/apis/v2beta1/runs", q, &page); err != nil {
		return nil, err
	}
	out := make([]PastRun, 0, len(page.Runs))
	for _, r := range page.Runs {
		p := PastRun{ID: r.RunID, Created: parseTime(r.CreatedAt), Finished: parseTime(r.FinishedAt)}
		if r.PipelineSpec != nil {
			p.Pipeline = r.PipelineSpec.PipelineInfo.Name
		}
		if r.VersionRef != nil {
			p.PipelineID = r.VersionRef.PipelineID
		}
		if !p.Created.IsZero() && p.Finished.After(p.Created) {
			out = append(out, p)
		}
	}
	return out, nil
}

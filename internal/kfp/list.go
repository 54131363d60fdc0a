package kfp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listPage is the most runs KFP returns in one page (its maximum
// page_size).
const listPage = 200

// maxPages bounds every listing. At 100 to 200 items a page that is far
// more than any namespace holds, so reaching it means the server keeps
// answering a new next_page_token (a paging bug), not a long list.
const maxPages = 1000

// listing is one KFP list call to read page by page.
type listing struct {
	op    string     // the API operation, for errors: ListRuns
	path  string     // the route: /apis/v2beta1/runs
	field string     // the page's JSON field that holds the items: runs
	query url.Values // the first page's query (page_size, filter, ...)
	// firstOnly are query keys sent with the first page only: KFP's page
	// token carries the filter and sort on, so a long filter need not
	// be sent again.
	firstOnly []string
}

// listAll reads every page of l and yields its items in order, until the
// loop stops or a page's next_page_token is empty or the one just sent
// (a server bug that would repeat the page forever). An error is the last
// pair yielded: a failed page, or still paging after maxPages pages.
func listAll[T any](ctx context.Context, c *Client, l listing) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q := maps.Clone(l.query)
		token := ""
		for range maxPages {
			p := page[T]{field: l.field}
			if err := c.getJSON(ctx, l.op, l.path, q, &p); err != nil {
				yield(zero, err)
				return
			}
			for _, item := range p.items {
				if !yield(item, nil) {
					return
				}
			}
			if p.next == "" || p.next == token {
				return
			}
			token = p.next
			for _, k := range l.firstOnly {
				q.Del(k)
			}
			q.Set("page_token", token)
		}
		yield(zero, &APIError{Op: l.op, Err: fmt.Errorf("GET %s: still paging after %d pages, each with a new next_page_token: "+
			"the server (or a proxy in front of it) pages without end; report it to its operators", l.path, maxPages)})
	}
}

// page is one page of a list answer: the items under field, and the
// token of the next page. It is decoded in one pass, without the page's
// other fields (total_size), as encoding/json would a struct with those
// two fields: keys match case-insensitively, null is no items.
type page[T any] struct {
	field string
	items []T
	next  string
}

func (p *page[T]) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	t, err := d.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil // null: an empty page
	}
	if t != json.Delim('{') {
		return fmt.Errorf("a list page is %v, not an object", t)
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch k, _ := t.(string); {
		case strings.EqualFold(k, p.field):
			err = d.Decode(&p.items)
		case strings.EqualFold(k, "next_page_token"):
			err = d.Decode(&p.next)
		default:
			err = d.Decode(new(json.RawMessage))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

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
		l := listing{op: "ListRuns", path: "/apis/v2beta1/runs", field: "runs", query: q, firstOnly: []string{"filter"}}
		for r, err := range listAll[runJSON](ctx, c, l) {
			if err != nil {
				return nil, err
			}
			out[r.RunID] = r.run()
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

package kfp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Recurring runs (KFP's "jobs"), v2beta1: create, get, list, enable,
// disable, delete. There is no update, at 2.0.5 or later
// (backend/api/v2beta1/recurring_run.proto). Decoded here rather than with
// the generated models, which send zero timestamps and lose error bodies.

// Trigger is when a recurring run starts runs, and how many may run at once.
type Trigger struct {
	// Exactly one of Cron (6 fields, seconds first) and Interval.
	Cron           string
	Interval       time.Duration
	Start, End     time.Time
	MaxConcurrency int
	NoCatchup      bool
}

// RecurringRunRequest is a recurring run to create. It always points at one
// pipeline version (both ids): KFP's "latest version" means "at creation"
// up to 2.4 and "at each trigger" from 2.5 (#11560).
type RecurringRunRequest struct {
	Name         string
	Description  string
	ExperimentID string
	PipelineID   string
	VersionID    string
	Parameters   map[string]any
	PipelineRoot string
	// ServiceAccount is sent as is; KFP answers with the one it stored.
	ServiceAccount string
	Trigger
	// Enabled is sent as mode ENABLE; false is DISABLE (KFP reads an unset
	// mode as disabled).
	Enabled bool
}

// RecurringRun is a recurring run as KFP stores it: what was asked for,
// and what KFP added.
type RecurringRun struct {
	ID string
	RecurringRunRequest
	Namespace string
	Created   time.Time
}

type recurringJSON struct {
	RecurringRunID           string          `json:"recurring_run_id,omitempty"`
	DisplayName              string          `json:"display_name"`
	Description              string          `json:"description,omitempty"`
	ExperimentID             string          `json:"experiment_id,omitempty"`
	Namespace                string          `json:"namespace,omitempty"`
	PipelineVersionReference *versionRefJSON `json:"pipeline_version_reference,omitempty"`
	RuntimeConfig            *struct {
		Parameters   map[string]any `json:"parameters,omitempty"`
		PipelineRoot string         `json:"pipeline_root,omitempty"`
	} `json:"runtime_config,omitempty"`
	ServiceAccount string       `json:"service_account,omitempty"`
	MaxConcurrency int64String  `json:"max_concurrency"`
	Trigger        *triggerJSON `json:"trigger,omitempty"`
	Mode           string       `json:"mode,omitempty"`
	Status         string       `json:"status,omitempty"`
	NoCatchup      bool         `json:"no_catchup,omitempty"`
	CreatedAt      string       `json:"created_at,omitempty"`
}

type versionRefJSON struct {
	PipelineID        string `json:"pipeline_id"`
	PipelineVersionID string `json:"pipeline_version_id"`
}

type triggerJSON struct {
	Cron     *scheduleJSON `json:"cron_schedule,omitempty"`
	Periodic *scheduleJSON `json:"periodic_schedule,omitempty"`
}

type scheduleJSON struct {
	StartTime      string      `json:"start_time,omitempty"`
	EndTime        string      `json:"end_time,omitempty"`
	Cron           string      `json:"cron,omitempty"`
	IntervalSecond int64String `json:"interval_second,omitempty"`
}

// int64String is a proto int64: a JSON string from KFP, either on the way in.
type int64String int64

func (n int64String) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatInt(int64(n), 10))
}

func (n *int64String) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*n = int64String(v)
	return err
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (r RecurringRunRequest) body() recurringJSON {
	b := recurringJSON{
		DisplayName:              r.Name,
		Description:              r.Description,
		ExperimentID:             r.ExperimentID,
		PipelineVersionReference: &versionRefJSON{PipelineID: r.PipelineID, PipelineVersionID: r.VersionID},
		ServiceAccount:           r.ServiceAccount,
		MaxConcurrency:           int64String(r.MaxConcurrency),
		NoCatchup:                r.NoCatchup,
		Mode:                     "DISABLE",
	}
	if r.Enabled {
		b.Mode = "ENABLE"
	}
	if len(r.Parameters) > 0 || r.PipelineRoot != "" {
		b.RuntimeConfig = &struct {
			Parameters   map[string]any `json:"parameters,omitempty"`
			PipelineRoot string         `json:"pipeline_root,omitempty"`
		}{r.Parameters, r.PipelineRoot}
	}
	s := &scheduleJSON{StartTime: rfc3339(r.Start), EndTime: rfc3339(r.End)}
	if r.Cron != "" {
		s.Cron = r.Cron
		b.Trigger = &triggerJSON{Cron: s}
	} else {
		s.IntervalSecond = int64String(r.Interval / time.Second)
		b.Trigger = &triggerJSON{Periodic: s}
	}
	return b
}

func (j recurringJSON) recurring() RecurringRun {
	r := RecurringRun{ID: j.RecurringRunID, Namespace: j.Namespace, Created: parseTime(j.CreatedAt),
		RecurringRunRequest: RecurringRunRequest{
			Name: j.DisplayName, Description: j.Description, ExperimentID: j.ExperimentID, ServiceAccount: j.ServiceAccount,
			Trigger: Trigger{MaxConcurrency: int(j.MaxConcurrency), NoCatchup: j.NoCatchup},
			Enabled: j.Status == "ENABLED",
		}}
	if v := j.PipelineVersionReference; v != nil {
		r.PipelineID, r.VersionID = v.PipelineID, v.PipelineVersionID
	}
	if c := j.RuntimeConfig; c != nil {
		r.Parameters, r.PipelineRoot = c.Parameters, c.PipelineRoot
	}
	if t := j.Trigger; t != nil {
		s := t.Cron
		if s == nil {
			s = t.Periodic
		}
		if s != nil {
			r.Cron, r.Interval = s.Cron, time.Duration(s.IntervalSecond)*time.Second
			r.Start, r.End = parseTime(s.StartTime), parseTime(s.EndTime)
		}
	}
	return r
}

const recurringPath = "/apis/v2beta1/recurringruns"

// CreateRecurringRun creates a recurring run. KFP has no idempotency key:
// when the answer is lost, it looks for a recurring run with exactly this
// description (callers make it unique) before trying again.
func (c *Client) CreateRecurringRun(ctx context.Context, r RecurringRunRequest) (RecurringRun, error) {
	var out recurringJSON
	var made RecurringRun
	err := c.createReconciled(ctx, func() error {
		if err := c.sendJSON(mayCreate(ctx), "CreateRecurringRun", http.MethodPost, recurringPath, r.body(), &out); err != nil {
			return err
		}
		made = out.recurring()
		return nil
	}, func(ctx context.Context) (bool, error) {
		all, err := c.listRecurring(ctx, filterEquals("description", r.Description))
		for _, f := range all {
			if f.Description == r.Description {
				c.log.Debug("recurring run was created although its answer was lost", "recurring_run_id", f.ID)
				made = f
				return true, nil
			}
		}
		return false, err
	})
	return made, err
}

// GetRecurringRun reads one recurring run.
func (c *Client) GetRecurringRun(ctx context.Context, id string) (RecurringRun, error) {
	var out recurringJSON
	if err := c.getJSON(ctx, "GetRecurringRun", recurringPath+"/"+url.PathEscape(id), nil, &out); err != nil {
		return RecurringRun{}, err
	}
	return out.recurring(), nil
}

// ListRecurringRuns lists every recurring run in the target namespace
// whose description contains substring, reading all pages. KFP's
// IS_SUBSTRING is SQL LIKE '%v%' with no escape clause: '_' and '%' in
// substring match any character (and SQLite has no default escape
// character, so they cannot be escaped portably). Callers search for text
// without them and check each answer exactly.
func (c *Client) ListRecurringRuns(ctx context.Context, substring string) ([]RecurringRun, error) {
	s := filter("description", "IS_SUBSTRING", "string_value", substring)
	return c.listRecurring(ctx, &s)
}

func (c *Client) listRecurring(ctx context.Context, filter *string) ([]RecurringRun, error) {
	q := url.Values{"page_size": {"100"}}
	if filter != nil {
		q.Set("filter", *filter)
	}
	if ns := c.target.Namespace; ns != "" {
		q.Set("namespace", ns)
	}
	// recurringRuns: the proto's own field name (recurring_run.proto).
	l := listing{op: "ListRecurringRuns", path: recurringPath, field: "recurringRuns", query: q}
	var all []RecurringRun
	for j, err := range listAll[recurringJSON](ctx, c, l) {
		if err != nil {
			return nil, err
		}
		all = append(all, j.recurring())
	}
	return all, nil
}

// EnableRecurringRun enables a recurring run. With catch-up on, KFP then
// starts the runs of every slot missed while it was disabled (#8344).
func (c *Client) EnableRecurringRun(ctx context.Context, id string) error {
	return c.sendJSON(ctx, "EnableRecurringRun", http.MethodPost, recurringPath+"/"+url.PathEscape(id)+":enable", nil, nil)
}

// DisableRecurringRun disables a recurring run; its running runs go on.
func (c *Client) DisableRecurringRun(ctx context.Context, id string) error {
	return c.sendJSON(ctx, "DisableRecurringRun", http.MethodPost, recurringPath+"/"+url.PathEscape(id)+":disable", nil, nil)
}

// DeleteRecurringRun deletes a recurring run; one that is gone already is
// no error. Up to KFP 2.15 this also deletes its running runs (#7421):
// callers check ActiveRuns first.
func (c *Client) DeleteRecurringRun(ctx context.Context, id string) error {
	err := c.sendJSON(ctx, "DeleteRecurringRun", http.MethodDelete, recurringPath+"/"+url.PathEscape(id), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// ActiveRuns returns the runs of recurring run r that have not ended.
// KFP 2.0.5's recurring_run_id filter names a column that does not exist
// (#10430, fixed in 2.1), so it lists r's experiment (the experiment_id
// parameter works everywhere) newest first, stops at runs older than r,
// and matches recurring_run_id itself.
func (c *Client) ActiveRuns(ctx context.Context, r RecurringRun) ([]Run, error) {
	type listed struct {
		runJSON
		RecurringRunID string `json:"recurring_run_id"`
	}
	q := url.Values{"page_size": {"100"}, "sort_by": {"created_at desc"}}
	if r.ExperimentID != "" {
		q.Set("experiment_id", r.ExperimentID)
	} else if ns := c.target.Namespace; ns != "" {
		q.Set("namespace", ns)
	}
	l := listing{op: "ListRuns", path: "/apis/v2beta1/runs", field: "runs", query: q}
	var active []Run
	for j, err := range listAll[listed](ctx, c, l) {
		if err != nil {
			return nil, err
		}
		run := j.run()
		if !r.Created.IsZero() && !run.Created.IsZero() && run.Created.Before(r.Created.Add(-time.Second)) {
			return active, nil // older than r: none further can be its
		}
		if j.RecurringRunID == r.ID && !run.State.IsTerminal() {
			active = append(active, run)
		}
	}
	return active, nil
}

// sendJSON sends body (nil: none) to path with method and decodes a 200
// JSON answer into out (nil: discarded); anything else is an *APIError.
func (c *Client) sendJSON(ctx context.Context, op, method, path string, body, out any) error {
	return c.doJSON(ctx, op, method, path, nil, body, out)
}

// doJSON is sendJSON with a query.
func (c *Client) doJSON(ctx context.Context, op, method, path string, q url.Values, body, out any) error {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	var rd *bytes.Reader
	if body != nil {
		var b bytes.Buffer
		if err := produceJSON(&b, body); err != nil {
			return &APIError{Op: op, Err: err}
		}
		rd = bytes.NewReader(b.Bytes())
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return &APIError{Op: op, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return withHint(&APIError{Op: op, Err: err}, c.hint)
	}
	defer res.Body.Close()
	ct := res.Header.Get("Content-Type")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		return withHint(newAPIError(op, res.StatusCode, ct, res.Header.Get("Location"), res.Body), c.hint)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return withHint(&APIError{Op: op, Err: errors.Join(errors.New("decode answer"), err)}, c.hint)
	}
	return nil
}

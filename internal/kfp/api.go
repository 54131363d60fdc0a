package kfp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"

	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/experiment_client/experiment_service"
	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/experiment_model"
	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/pipeline_upload_client/pipeline_upload_service"
	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/run_client/run_service"
	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/run_model"
)

// filterEquals builds a KFP list filter matching key == value. KFP decodes
// the filter parameter twice, so it is escaped here once more.
//
// Names are looked up with the key "name": on every KFP from 2.0 to 2.17
// it maps to the unique Name column of experiments, pipelines and
// versions (model/*.go APIToModelFieldMap). "display_name" mapped there
// too up to 2.13; from 2.14 (kubeflow/pipelines#11952) it maps to the new,
// non-unique DisplayName of pipelines and versions, which the UI or the
// SDK may set apart from the name.
func filterEquals(key, value string) *string {
	s := filter(key, "EQUALS", "string_value", value)
	return &s
}

// filter is a list filter of one predicate on key, the value in the
// predicate's field (string_value, string_values, ...), escaped once
// more than the query will be: KFP URL-decodes the filter twice.
func filter(key, operation, field string, value any) string {
	f, _ := json.Marshal(map[string]any{"predicates": []any{map[string]any{
		"key": key, "operation": operation, field: value,
	}}})
	return url.QueryEscape(string(f))
}

func ptr[T any](v T) *T { return &v }

func (c *Client) ns() *string {
	if c.target.Namespace == "" {
		return nil
	}
	return ptr(c.target.Namespace)
}

// FindExperiment returns the id of the experiment named name in the
// target namespace, or "" if there is none.
func (c *Client) FindExperiment(ctx context.Context, name string) (string, error) {
	res, err := c.experiments.ListExperiments(&experiment_service.ListExperimentsParams{
		Context: ctx, Filter: filterEquals("name", name), Namespace: c.ns(), PageSize: ptr(int32(2)),
	})
	if err != nil {
		return "", err
	}
	for _, e := range res.Payload.Experiments {
		// An experiment's display_name is its unique name on every KFP.
		if e.DisplayName == name {
			return e.ExperimentID, nil
		}
	}
	return "", nil
}

// EnsureExperiment returns the id of the experiment named name, creating it
// in the target namespace if it does not exist.
func (c *Client) EnsureExperiment(ctx context.Context, name string) (id string, err error) {
	if err := CheckName(ExperimentName, name); err != nil {
		return "", err
	}
	if id, err = c.FindExperiment(ctx, name); err != nil || id != "" {
		return id, err
	}
	err = c.createReconciled(ctx, func() error {
		res, err := c.experiments.CreateExperiment(&experiment_service.CreateExperimentParams{
			Context: mayCreate(ctx),
			Body:    &experiment_model.V2beta1Experiment{DisplayName: name, Namespace: c.target.Namespace},
		})
		if err == nil {
			id = res.Payload.ExperimentID
		}
		return err
	}, func(ctx context.Context) (found bool, err error) {
		id, err = c.FindExperiment(ctx, name)
		return id != "", err
	})
	if IsAlreadyExists(err) {
		// A parallel job created it first.
		fid, ferr := c.FindExperiment(ctx, name)
		switch {
		case ferr != nil:
			return "", err
		case fid != "":
			return fid, nil
		}
		return "", c.hiddenDuplicate(err, fmt.Sprintf("experiment %q", name), true)
	}
	if err != nil {
		return "", err
	}
	return id, nil
}

// hiddenDuplicate explains a create that KFP refused as a duplicate when
// kf-run then cannot find what it clashes with. what names it; namespaced
// is true for experiments and pipelines, which live in a namespace.
func (c *Client) hiddenDuplicate(err error, what string, namespaced bool) error {
	ae, ok := err.(*APIError)
	if !ok || !IsAlreadyExists(err) {
		return err
	}
	e := *ae
	where := ""
	if namespaced {
		where = " (another namespace may hold it, or these credentials may not see it)"
		if c.target.Namespace != "" {
			where = " in namespace " + c.target.Namespace + where
		}
	}
	hint := fmt.Sprintf("KFP says %s already exists, yet kf-run finds none of that name%s: choose another name, or have that one deleted at KFP", what, where)
	e.Hint = strings.TrimPrefix(e.Hint+". "+hint, ". ")
	return &e
}

// named is a pipeline or version in a list answer. The generated 2.0.5
// models lack name (KFP ≥ 2.14), so list answers are decoded here.
type named struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// uniqueName is the unique name KFP keys the item by: name from KFP 2.14,
// display_name (then the same column) before.
func (n named) uniqueName() string {
	if n.Name != "" {
		return n.Name
	}
	return n.DisplayName
}

// listByName is the query of a list call for the item named name.
func listByName(name, namespace string) url.Values {
	q := url.Values{"filter": {*filterEquals("name", name)}, "page_size": {"2"}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	return q
}

// FindPipeline returns the id of the pipeline named name (in the target
// namespace), or "". KFP 2.0.x's GetPipelineByName always fails, so it lists.
func (c *Client) FindPipeline(ctx context.Context, name string) (string, error) {
	var res struct {
		Pipelines []struct {
			named
			PipelineID string `json:"pipeline_id"`
		} `json:"pipelines"`
	}
	if err := c.getJSON(ctx, "ListPipelines", "/apis/v2beta1/pipelines", listByName(name, c.target.Namespace), &res); err != nil {
		return "", err
	}
	for _, p := range res.Pipelines {
		if p.uniqueName() == name {
			return p.PipelineID, nil
		}
	}
	return "", nil
}

// Version is a pipeline version as kf-run sees it.
type Version struct {
	ID          string
	Name        string
	Description string
}

// FindVersion returns pipeline pipelineID's version named name; its ID is
// "" when there is none.
func (c *Client) FindVersion(ctx context.Context, pipelineID, name string) (Version, error) {
	var res struct {
		Versions []struct {
			named
			PipelineVersionID string `json:"pipeline_version_id"`
			Description       string `json:"description"`
		} `json:"pipeline_versions"`
	}
	path := "/apis/v2beta1/pipelines/" + pipelineID + "/versions"
	if err := c.getJSON(ctx, "ListPipelineVersions", path, listByName(name, ""), &res); err != nil {
		return Version{}, err
	}
	for _, v := range res.Versions {
		if v.uniqueName() == name {
			return Version{ID: v.PipelineVersionID, Name: v.uniqueName(), Description: v.Description}, nil
		}
	}
	return Version{}, nil
}

// UploadPipeline uploads spec (YAML) as a new pipeline named name, and
// returns the pipeline id and the id of its first version.
func (c *Client) UploadPipeline(ctx context.Context, name, description string, spec []byte) (pipelineID, versionID string, err error) {
	if err := CheckName(PipelineName, name); err != nil {
		return "", "", err
	}
	find := func(ctx context.Context) (bool, error) {
		id, err := c.FindPipeline(ctx, name)
		pipelineID = id
		return id != "", err
	}
	err = c.createReconciled(ctx, func() error {
		res, err := c.uploads.UploadPipeline(&pipeline_upload_service.UploadPipelineParams{
			Context:     mayCreate(ctx),
			Name:        &name,
			Description: &description,
			Namespace:   c.ns(),
			Uploadfile:  runtime.NamedReader(name+".yaml", bytes.NewReader(spec)),
		}, nil)
		if err == nil {
			pipelineID = res.Payload.PipelineID
		}
		return err
	}, find)
	if err != nil {
		// A parallel job uploaded it (KFP answers a duplicate with 500 up
		// to 2.0.x, 409 from 2.1): take that one.
		found, ferr := find(ctx)
		switch {
		case ferr != nil:
			return "", "", err
		case !found:
			return "", "", c.hiddenDuplicate(err, fmt.Sprintf("pipeline %q", name), true)
		}
	}
	// The upload answer carries no version id: the first version has the
	// pipeline's name.
	v, err := c.FindVersion(ctx, pipelineID, name)
	if err != nil {
		return "", "", err
	}
	return pipelineID, v.ID, nil
}

// UploadVersion uploads spec as version name of pipeline pipelineID.
func (c *Client) UploadVersion(ctx context.Context, pipelineID, name, description string, spec []byte) (id string, err error) {
	if err := CheckName(VersionName, name); err != nil {
		return "", err
	}
	find := func(ctx context.Context) (bool, error) {
		v, err := c.FindVersion(ctx, pipelineID, name)
		id = v.ID
		return v.ID != "", err
	}
	err = c.createReconciled(ctx, func() error {
		res, err := c.uploads.UploadPipelineVersion(&pipeline_upload_service.UploadPipelineVersionParams{
			Context:     mayCreate(ctx),
			Name:        &name,
			Description: &description,
			Pipelineid:  &pipelineID,
			Uploadfile:  runtime.NamedReader(name+".yaml", bytes.NewReader(spec)),
		}, nil)
		if err == nil {
			id = res.Payload.PipelineVersionID
		}
		return err
	}, find)
	if err != nil {
		// A parallel job uploaded it (KFP answers a duplicate with 500 up
		// to 2.0.x, 409 from 2.1): take that one.
		found, ferr := find(ctx)
		switch {
		case ferr != nil:
			return "", err
		case !found:
			return "", c.hiddenDuplicate(err, fmt.Sprintf("version %q of the pipeline", name), false)
		}
	}
	return id, nil
}

// RunRequest is a run to create. Exactly one of Spec (inline) or
// PipelineID/VersionID is set.
type RunRequest struct {
	Name           string
	Description    string
	ExperimentID   string
	Spec           any // JSON-compatible IR, or {"pipeline_spec","platform_spec"}
	PipelineID     string
	VersionID      string
	Parameters     map[string]any
	ServiceAccount string
	PipelineRoot   string // runtime_config.pipeline_root; "" for the default
	// Token makes the create idempotent: it is appended to the description,
	// and looked for before the create is retried.
	Token string
}

// Run is a run as kf-run sees it.
type Run struct {
	ID          string
	Name        string
	State       RunState
	Created     time.Time
	Finished    time.Time
	Error       string
	Description string
	// Nodes are the run's tasks as the server reports them (see Node):
	// Argo nodes in run_details.task_details up to KFP 2.17, pipeline
	// tasks in Run.tasks with the task API. See Tasks and Failed.
	Nodes []Node
}

func (r RunRequest) description() string {
	if r.Token == "" {
		return r.Description
	}
	return strings.TrimSpace(r.Description + "\nkf-run:" + r.Token)
}

// Body is the body of the POST .../runs that CreateRun sends for r.
func (r RunRequest) Body() *run_model.V2beta1Run {
	body := &run_model.V2beta1Run{
		DisplayName:    r.Name,
		Description:    r.description(),
		ExperimentID:   r.ExperimentID,
		ServiceAccount: r.ServiceAccount,
		RuntimeConfig:  &run_model.V2beta1RuntimeConfig{Parameters: r.Parameters, PipelineRoot: r.PipelineRoot},
	}
	if r.Spec != nil {
		body.PipelineSpec = r.Spec
	} else {
		body.PipelineVersionReference = &run_model.V2beta1PipelineVersionReference{PipelineID: r.PipelineID, PipelineVersionID: r.VersionID}
	}
	return body
}

// CreateRun creates a run. If the answer is lost (reset, timeout, 502, 504)
// it looks for the run by its token before trying again, so a run is never
// created twice.
func (c *Client) CreateRun(ctx context.Context, r RunRequest) (Run, error) {
	body := r.Body()
	var run Run
	create := func() error {
		res, err := c.runs.CreateRun(&run_service.CreateRunParams{Context: mayCreate(ctx), Body: body}, nil)
		if err == nil {
			run = toRun(res.Payload)
		}
		return err
	}
	if r.Token == "" {
		// Nothing to find a lost run by: one attempt, never a blind retry.
		return run, create()
	}
	find := func(ctx context.Context) (bool, error) {
		found, err := c.findRunByDescription(ctx, r.ExperimentID, body.Description)
		if found != nil {
			c.log.Debug("run was created although its answer was lost", "run_id", found.ID)
			run = *found
		}
		return found != nil, err
	}
	err := c.createReconciled(ctx, create, find)
	if err != nil && ctx.Err() != nil {
		// Interrupted while KFP may have been creating it: look once more,
		// briefly, so the caller can terminate a run that did start.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		if found, ferr := find(lctx); ferr == nil && found {
			return run, nil
		}
	}
	return run, err
}

// createReconciled runs create. When its answer may have been lost (a
// reset, a timeout, 502, 503, 504), it looks for what it meant to create
// before trying again, up to three attempts: KFP has no idempotency key, so
// a blind retry could create the thing twice. After a 504, a timeout or a
// reset it keeps looking for c.reconcileFor (KFP may still be creating);
// after a 502 or 503 it looks once.
func (c *Client) createReconciled(ctx context.Context, create func() error, find func(context.Context) (bool, error)) error {
	var err error
	wait := c.retryWait
	for attempt := range 3 {
		if attempt > 0 {
			if c.sleep(ctx, wait/2+time.Duration(jitter(int64(wait)))) != nil {
				return err
			}
			wait *= 2
		}
		if err = create(); err == nil || !ambiguous(err) || ctx.Err() != nil {
			return err
		}
		window := time.Duration(0)
		if mayCommitLate(err) {
			window = c.reconcileFor
		}
		found, ferr := c.lookFor(ctx, find, window)
		if ferr != nil {
			return fmt.Errorf("%w (and looking for it afterwards failed: %v)", err, ferr)
		}
		if found {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		c.log.Debug("a create's answer was lost and nothing was made: creating again", "looked_for", window, "error", err)
	}
	return err
}

// lookWaitMax caps the pause between looks for a lost create, so what KFP
// commits late is found soon after.
const lookWaitMax = 5 * time.Second

// lookFor looks for what a create whose answer was lost made: at once, then
// with jittered exponential backoff until window has passed (a last look at
// the end). A gateway answers 504 while KFP is still creating, so what one
// look at once misses can appear seconds later; creating again before then
// would make two. It returns false, nil when ctx ends.
func (c *Client) lookFor(ctx context.Context, find func(context.Context) (bool, error), window time.Duration) (bool, error) {
	deadline := c.now().Add(window)
	wait := c.retryWait
	for looks := 1; ; looks++ {
		found, err := find(ctx)
		if err != nil || found {
			if found && looks > 1 {
				c.log.Debug("a create whose answer was lost was found late", "looks", looks)
			}
			return found, err
		}
		left := deadline.Sub(c.now())
		if left <= 0 {
			return false, nil
		}
		d := min(wait/2+time.Duration(jitter(int64(wait))), left)
		if c.sleep(ctx, d) != nil {
			return false, nil
		}
		wait = min(wait*2, lookWaitMax)
	}
}

func (c *Client) findRunByDescription(ctx context.Context, experimentID, description string) (*Run, error) {
	p := &run_service.ListRunsParams{Context: ctx, Filter: filterEquals("description", description), PageSize: ptr(int32(2))}
	if experimentID != "" {
		p.ExperimentID = &experimentID
	} else {
		p.Namespace = c.ns()
	}
	res, err := c.runs.ListRuns(p, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range res.Payload.Runs {
		if r.Description == description {
			run := toRun(r)
			return &run, nil
		}
	}
	return nil, nil
}

// TerminateRun asks KFP to stop a run. Terminating a run that already
// ended is not an error.
func (c *Client) TerminateRun(ctx context.Context, id string) error {
	_, err := c.runs.TerminateRun(&run_service.TerminateRunParams{Context: ctx, RunID: id}, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.GRPCCode == CodeInvalidArgument {
		// KFP answers 400 when the run is already finished or canceling.
		return nil
	}
	return err
}

func tail(r io.Reader, limit int64) ([]byte, error) {
	buf := make([]byte, 0, 32<<10)
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if int64(len(buf)) > 2*limit {
			buf = append(buf[:0], buf[int64(len(buf))-limit:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(buf)) > limit {
		buf = buf[int64(len(buf))-limit:]
	}
	return buf, nil
}

func toTime(t strfmt.DateTime) time.Time {
	tt := time.Time(t)
	// KFP reports unset times as 0001-01-01 or 1970-01-01.
	if tt.IsZero() || tt.Unix() <= 0 {
		return time.Time{}
	}
	return tt
}

func toRun(r *run_model.V2beta1Run) Run {
	if r == nil {
		return Run{}
	}
	run := Run{
		ID:          r.RunID,
		Name:        r.DisplayName,
		State:       normalize(string(r.State)),
		Created:     toTime(r.CreatedAt),
		Finished:    toTime(r.FinishedAt),
		Description: r.Description,
	}
	if r.Error != nil {
		run.Error = r.Error.Message
	}
	if r.RunDetails != nil {
		for _, t := range r.RunDetails.TaskDetails {
			if t == nil {
				continue
			}
			n := Node{
				Name: t.DisplayName, Iteration: -1,
				State: normalize(string(t.State)),
				Start: toTime(t.StartTime),
				End:   toTime(t.EndTime),
			}
			if t.Error != nil {
				n.Message = t.Error.Message
			}
			for _, ch := range t.ChildTasks {
				if ch != nil && ch.PodName != "" {
					n.Children = append(n.Children, ch.PodName)
				}
			}
			run.Nodes = append(run.Nodes, n)
		}
	}
	return run
}

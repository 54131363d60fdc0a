package kfp

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// GetRun reads a run with its tasks. It asks for view=FULL, which the task
// API of KFP PR #13986 needs to return Run.tasks (older servers ignore the
// parameter), and decodes both task shapes itself: KFP 2.0.5's generated
// models know neither Run.tasks nor typed pods.
func (c *Client) GetRun(ctx context.Context, id string) (Run, error) {
	var r runJSON
	if err := c.getJSON(ctx, "GetRun", "/apis/v2beta1/runs/"+url.PathEscape(id), url.Values{"view": {"FULL"}}, &r); err != nil {
		return Run{}, err
	}
	return r.run(), nil
}

// getJSON GETs path (below the API base) through the retrying client and
// decodes a 200 JSON answer into out; anything else is an *APIError.
func (c *Client) getJSON(ctx context.Context, op, path string, q url.Values, out any) error {
	return c.doJSON(ctx, op, http.MethodGet, path, q, nil, out)
}

// runJSON is a v2beta1 Run as the server sends it, with both task shapes.
type runJSON struct {
	RunID       string     `json:"run_id"`
	DisplayName string     `json:"display_name"`
	Description string     `json:"description"`
	State       string     `json:"state"`
	CreatedAt   string     `json:"created_at"`
	FinishedAt  string     `json:"finished_at"`
	Error       *errorJSON `json:"error"`
	RunDetails  *struct {
		TaskDetails []taskJSON `json:"task_details"`
	} `json:"run_details"`
	Tasks []taskJSON `json:"tasks"`
}

type errorJSON struct {
	Message string `json:"message"`
}

// taskJSON is a PipelineTaskDetail of either shape. protojson omits enum
// zero values: a task without a type is ROOT, a pod without a type is the
// DRIVER. It writes int64 values as strings.
type taskJSON struct {
	TaskID       string     `json:"task_id"`
	ParentTaskID string     `json:"parent_task_id"`
	Name         string     `json:"name"`
	DisplayName  string     `json:"display_name"`
	State        string     `json:"state"`
	Status       string     `json:"status"` // the task API's TaskState
	StartTime    string     `json:"start_time"`
	EndTime      string     `json:"end_time"`
	Error        *errorJSON `json:"error"`
	Type         string     `json:"type"`
	Attributes   *struct {
		IterationIndex *json.Number `json:"iteration_index"`
	} `json:"type_attributes"`
	ChildTasks []struct {
		TaskID  string `json:"task_id"`
		PodName string `json:"pod_name"`
	} `json:"child_tasks"`
	Pods []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"pods"`
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Unix() <= 0 {
		return time.Time{} // unset: KFP sends 0001-01-01 or 1970-01-01
	}
	return t
}

func (r runJSON) run() Run {
	run := Run{
		ID: r.RunID, Name: r.DisplayName, Description: r.Description,
		State:    normalize(r.State),
		Created:  parseTime(r.CreatedAt),
		Finished: parseTime(r.FinishedAt),
	}
	if r.Error != nil {
		run.Error = r.Error.Message
	}
	tasks, api := r.Tasks, len(r.Tasks) > 0
	if !api && r.RunDetails != nil {
		tasks = r.RunDetails.TaskDetails
		for _, t := range tasks {
			// The task API's shape, in its draft inside run_details.
			api = api || len(t.Pods) > 0 || t.Type != "" || t.ParentTaskID != ""
		}
	}
	for _, t := range tasks {
		run.Nodes = append(run.Nodes, t.node(api))
	}
	return run
}

// node converts t; api says whether the run's tasks have the task API's
// shape. In task_details (KFP ≤ 2.17) children are Argo node IDs, and
// task IDs are the task store's, unrelated to them: they are dropped.
func (t taskJSON) node(api bool) Node {
	n := Node{
		ID: t.TaskID, ParentID: t.ParentTaskID,
		Name: cmp.Or(t.DisplayName, t.Name), TaskName: t.Name,
		Type:      t.Type,
		Iteration: -1,
		State:     normalize(cmp.Or(t.Status, t.State)),
		Start:     parseTime(t.StartTime),
		End:       parseTime(t.EndTime),
	}
	if t.Error != nil {
		n.Message = t.Error.Message
	}
	if t.Attributes != nil && t.Attributes.IterationIndex != nil {
		if i, err := t.Attributes.IterationIndex.Int64(); err == nil {
			n.Iteration = int(i)
		}
	}
	if !api {
		n.ID, n.TaskName = "", ""
		for _, c := range t.ChildTasks {
			if c.PodName != "" {
				n.Children = append(n.Children, c.PodName)
			}
		}
	}
	for _, p := range t.Pods {
		n.Pods = append(n.Pods, Pod{Name: p.Name, Executor: p.Type == "EXECUTOR"})
	}
	return n
}

// RunSource is where a run came from: what kf-run wait needs to follow a
// run it did not start, and report it as kf-run run would.
type RunSource struct {
	Run
	ExperimentID   string
	ExperimentName string
	// PipelineID and VersionID are set for a run of an uploaded version,
	// VersionName and PipelineName then too.
	PipelineID, VersionID     string
	PipelineName, VersionName string
	// Spec is the run's pipeline spec (inline, or its version's), as JSON;
	// nil when KFP did not give it.
	Spec       json.RawMessage
	Parameters map[string]any
}

// GetRunSource reads run id with where it came from: its experiment's
// name and, for a run of an uploaded version, the version's name and spec.
// Only the run itself must be found; the rest is best effort.
func (c *Client) GetRunSource(ctx context.Context, id string) (RunSource, error) {
	var r struct {
		runJSON
		ExperimentID string          `json:"experiment_id"`
		PipelineSpec json.RawMessage `json:"pipeline_spec"`
		VersionRef   *struct {
			PipelineID string `json:"pipeline_id"`
			VersionID  string `json:"pipeline_version_id"`
		} `json:"pipeline_version_reference"`
		RuntimeConfig *struct {
			Parameters map[string]any `json:"parameters"`
		} `json:"runtime_config"`
	}
	if err := c.getJSON(ctx, "GetRun", "/apis/v2beta1/runs/"+url.PathEscape(id), url.Values{"view": {"FULL"}}, &r); err != nil {
		return RunSource{}, err
	}
	s := RunSource{Run: r.run(), ExperimentID: r.ExperimentID}
	if len(r.PipelineSpec) > 0 && string(r.PipelineSpec) != "null" {
		s.Spec = r.PipelineSpec
	}
	if r.RuntimeConfig != nil {
		s.Parameters = r.RuntimeConfig.Parameters
	}
	if s.ExperimentID != "" {
		if e, err := c.GetExperiment(ctx, s.ExperimentID); err == nil {
			s.ExperimentName = e.Name
		}
	}
	if ref := r.VersionRef; ref != nil && ref.PipelineID != "" {
		s.PipelineID, s.VersionID = ref.PipelineID, ref.VersionID
		var p struct {
			DisplayName string `json:"display_name"`
		}
		if c.getJSON(ctx, "GetPipeline", "/apis/v2beta1/pipelines/"+url.PathEscape(ref.PipelineID), nil, &p) == nil {
			s.PipelineName = p.DisplayName
		}
		if ref.VersionID != "" {
			var v struct {
				DisplayName  string          `json:"display_name"`
				PipelineSpec json.RawMessage `json:"pipeline_spec"`
			}
			if c.getJSON(ctx, "GetPipelineVersion", versionPath(ref.PipelineID, ref.VersionID), nil, &v) == nil {
				s.VersionName = v.DisplayName
				if s.Spec == nil && len(v.PipelineSpec) > 0 && string(v.PipelineSpec) != "null" {
					s.Spec = v.PipelineSpec
				}
			}
		}
	}
	return s, nil
}

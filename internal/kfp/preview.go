package kfp

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// What a pull request's previews need from KFP: the runs of an experiment
// found by a line of their description, the experiment's archive state,
// and the pipeline versions those runs ran.

// ListedRun is a run as a listing returns it, with the pipeline version it
// runs ("" for an inline spec).
type ListedRun struct {
	Run
	PipelineID, VersionID string
	Archived              bool
}

// RunsWith lists the runs of experiment experimentID whose description
// contains substring, newest first, reading all pages. The experiment_id
// query parameter narrows the list: KFP 2.0.5's experiment_id filter key
// names a column that does not exist (#10430). IS_SUBSTRING is SQL LIKE
// with no escape clause: callers search for text without '_' and '%' and
// check each answer exactly.
func (c *Client) RunsWith(ctx context.Context, experimentID, substring string) ([]ListedRun, error) {
	type listed struct {
		runJSON
		StorageState string `json:"storage_state"`
		Ref          *struct {
			PipelineID string `json:"pipeline_id"`
			VersionID  string `json:"pipeline_version_id"`
		} `json:"pipeline_version_reference"`
		VersionID string `json:"pipeline_version_id"` // deprecated, KFP 2.0
	}
	q := url.Values{"page_size": {"100"}, "sort_by": {"created_at desc"}, "experiment_id": {experimentID},
		"filter": {filter("description", "IS_SUBSTRING", "string_value", substring)}}
	l := listing{op: "ListRuns", path: "/apis/v2beta1/runs", field: "runs", query: q}
	var all []ListedRun
	for j, err := range listAll[listed](ctx, c, l) {
		if err != nil {
			return nil, err
		}
		r := ListedRun{Run: j.run(), VersionID: j.VersionID, Archived: j.StorageState == "ARCHIVED"}
		r.Nodes = nil // a listing's task details are not needed here
		if j.Ref != nil {
			r.PipelineID = j.Ref.PipelineID
			if j.Ref.VersionID != "" {
				r.VersionID = j.Ref.VersionID
			}
		}
		all = append(all, r)
	}
	return all, nil
}

// Experiment is an experiment as kf-run sees it.
type Experiment struct {
	ID, Name string
	Archived bool
}

type experimentJSON struct {
	ID           string `json:"experiment_id"`
	Name         string `json:"display_name"`
	StorageState string `json:"storage_state"`
}

func (j experimentJSON) experiment() Experiment {
	return Experiment{ID: j.ID, Name: j.Name, Archived: j.StorageState == "ARCHIVED"}
}

// LookupExperiment returns the experiment named name in the target
// namespace, archived or not; its ID is "" when there is none.
func (c *Client) LookupExperiment(ctx context.Context, name string) (Experiment, error) {
	var res struct {
		Experiments []experimentJSON `json:"experiments"`
	}
	if err := c.getJSON(ctx, "ListExperiments", "/apis/v2beta1/experiments", listByName(name, c.target.Namespace), &res); err != nil {
		return Experiment{}, err
	}
	for _, e := range res.Experiments {
		if e.Name == name {
			return e.experiment(), nil
		}
	}
	return Experiment{}, nil
}

// GetExperiment reads experiment id.
func (c *Client) GetExperiment(ctx context.Context, id string) (Experiment, error) {
	var e experimentJSON
	if err := c.getJSON(ctx, "GetExperiment", "/apis/v2beta1/experiments/"+url.PathEscape(id), nil, &e); err != nil {
		return Experiment{}, err
	}
	return e.experiment(), nil
}

// ArchiveExperiment archives experiment id: KFP archives its runs and
// disables its recurring runs with it, but does not stop running runs.
func (c *Client) ArchiveExperiment(ctx context.Context, id string) error {
	return c.sendJSON(ctx, "ArchiveExperiment", http.MethodPost, "/apis/v2beta1/experiments/"+url.PathEscape(id)+":archive", nil, nil)
}

// UnarchiveExperiment unarchives experiment id (its runs stay archived).
func (c *Client) UnarchiveExperiment(ctx context.Context, id string) error {
	return c.sendJSON(ctx, "UnarchiveExperiment", http.MethodPost, "/apis/v2beta1/experiments/"+url.PathEscape(id)+":unarchive", nil, nil)
}

func versionPath(pipelineID, versionID string) string {
	return "/apis/v2beta1/pipelines/" + url.PathEscape(pipelineID) + "/versions/" + url.PathEscape(versionID)
}

// GetVersion reads a pipeline version; a version that is gone is a
// NotFound error (IsNotFound).
func (c *Client) GetVersion(ctx context.Context, pipelineID, versionID string) (Version, error) {
	var v struct {
		named
		ID          string `json:"pipeline_version_id"`
		Description string `json:"description"`
	}
	if err := c.getJSON(ctx, "GetPipelineVersion", versionPath(pipelineID, versionID), nil, &v); err != nil {
		return Version{}, err
	}
	return Version{ID: v.ID, Name: v.uniqueName(), Description: v.Description}, nil
}

// DeleteVersion deletes a pipeline version; one that is gone already is no
// error. KFP does not check what uses it: runs keep their own copy of the
// spec.
func (c *Client) DeleteVersion(ctx context.Context, pipelineID, versionID string) error {
	err := c.sendJSON(ctx, "DeletePipelineVersion", http.MethodDelete, versionPath(pipelineID, versionID), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// ExperimentURL links to an experiment in the KFP UI, as RunURL to a run
// ("" when Host is the API server and no UIURL is set).
func (t Target) ExperimentURL(id string) string {
	u := t.RunURL(id)
	if u == "" {
		return ""
	}
	return strings.TrimSuffix(u, "#/runs/details/"+id) + "#/experiments/details/" + id
}

// VersionsWith lists the versions of pipeline pipelineID whose description
// contains substring (IS_SUBSTRING, as RunsWith), reading all pages.
func (c *Client) VersionsWith(ctx context.Context, pipelineID, substring string) ([]Version, error) {
	type listed struct {
		named
		ID          string `json:"pipeline_version_id"`
		Description string `json:"description"`
	}
	l := listing{op: "ListPipelineVersions", path: "/apis/v2beta1/pipelines/" + url.PathEscape(pipelineID) + "/versions", field: "pipeline_versions",
		query: url.Values{"page_size": {"100"}, "filter": {filter("description", "IS_SUBSTRING", "string_value", substring)}}}
	var all []Version
	for v, err := range listAll[listed](ctx, c, l) {
		if err != nil {
			return nil, err
		}
		all = append(all, Version{ID: v.ID, Name: v.uniqueName(), Description: v.Description})
	}
	return all, nil
}

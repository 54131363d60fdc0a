package kfp

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// PodLogReader reads a pod's log straight from Kubernetes, when kf-run can
// reach the cluster's API server (a kubeconfig context, or in cluster).
type PodLogReader interface {
	// WorkflowPodLog finds the pod of Argo node nodeID (or named one of
	// names) among the pods of workflow in namespace and returns its name
	// and the tail of its main container's log, at most limit bytes.
	WorkflowPodLog(ctx context.Context, namespace, workflow, nodeID string, names []string, limit int64) (pod, text string, err error)
}

// StepLog is the tail of a step's log and where it came from.
type StepLog struct {
	Text   string
	Source string // e.g. "KFP API server node log", "KFP UI pod log (pod NAME)"
}

// LogError says why no path gave a step's log: each path tried, and what
// it answered.
type LogError struct {
	Tried []string
}

func (e *LogError) Error() string {
	return strings.Join(e.Tried, "; ")
}

// StepLog fetches the tail (at most limit bytes) of a step's log, by the
// first path that gives it. KFP versions differ in which paths work:
//
//  1. the API server's node-log endpoint /apis/v1alpha1/runs/ID/nodes/NODE/log
//     (KFP 2.0 to 2.17), by Argo node ID; it finds the pod only while pods
//     are named by node ID (KFP ≤ 2.1), else the archived log through the
//     workflow KFP stored. Behind Kubeflow's /pipeline gateway (the KFP UI
//     server) it is not proxied, so it answers 404 there;
//  2. the KFP UI server's /k8s/pod/logs route, by pod name, computed as
//     Argo names pods (by node ID up to KFP 2.1, <workflow>-<template>-<hash>
//     from 2.2, retry templates from 2.14), with podnamespace (required
//     under authorization from 2.16), runid and createdat (needed from 2.3
//     to find an archived log once the pod is gone);
//  3. the Kubernetes pods/log API through Options.Pods, finding the pod by
//     the workflow's label and its node-id annotation.
//
// minor is the server's KFP 2.x minor version (-1 if unknown): it orders
// the pod names to try. The error is a *LogError listing every path tried.
func (c *Client) StepLog(ctx context.Context, run Run, s Step, minor int, limit int64) (StepLog, error) {
	e := &LogError{}
	node := cmp.Or(s.Pod.NodeID, s.Pod.Name)
	if node != "" {
		text, err := c.nodeLog(ctx, run.ID, node, limit)
		if err == nil {
			return StepLog{Text: text, Source: "KFP API server node log"}, nil
		}
		e.Tried = append(e.Tried, "API server node log: "+shortErr(err))
		if ctx.Err() != nil {
			return StepLog{}, e
		}
	}
	names := s.Pod.PodNames(minor)
	var uiErrs []string
	for _, pod := range names {
		text, err := c.uiPodLog(ctx, run, pod, limit)
		if err == nil {
			return StepLog{Text: text, Source: "KFP UI pod log (pod " + pod + ")"}, nil
		}
		uiErrs = append(uiErrs, pod+": "+shortErr(err))
		var ae *APIError
		if ctx.Err() != nil || (errors.As(err, &ae) && (ae.HTTPStatus == http.StatusUnprocessableEntity ||
			ae.HTTPStatus == http.StatusForbidden || ae.HTTPStatus == http.StatusUnauthorized || ae.HTTPStatus == http.StatusNotFound)) {
			break // not about the pod's name: another name will not help
		}
	}
	if len(uiErrs) > 0 {
		e.Tried = append(e.Tried, "UI pod log: "+strings.Join(uiErrs, ", "))
	}
	if c.pods == nil {
		e.Tried = append(e.Tried, "Kubernetes pods/log: no cluster access (set kubeflow.kubernetes.context, or run in the cluster)")
		return StepLog{}, e
	}
	if ctx.Err() != nil {
		return StepLog{}, e
	}
	pod, text, err := c.pods.WorkflowPodLog(ctx, c.namespace(), s.Pod.Workflow, s.Pod.NodeID, names, limit)
	if err == nil {
		return StepLog{Text: text, Source: "Kubernetes pods/log (pod " + pod + ")"}, nil
	}
	e.Tried = append(e.Tried, "Kubernetes pods/log: "+shortErr(err))
	return StepLog{}, e
}

// namespace is where the run's pods are: the user's namespace, or KFP's
// own in single-user mode.
func (c *Client) namespace() string { return c.target.PodNamespace() }

func shortErr(err error) string {
	var ae *APIError
	if errors.As(err, &ae) && ae.Err == nil {
		if ae.HTTPStatus == http.StatusOK {
			return ae.Message
		}
		msg := ae.Message
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		return fmt.Sprintf("HTTP %d %s", ae.HTTPStatus, msg)
	}
	return err.Error()
}

// nodeLog reads the API server's node log. KFP writes the 200 status
// before it reads the log (run_log_server.go), so a failure arrives as a
// 200 whose body is the error JSON.
func (c *Client) nodeLog(ctx context.Context, runID, node string, limit int64) (string, error) {
	b, err := c.getText(ctx, "NodeLog", "/apis/v1alpha1/runs/"+url.PathEscape(runID)+"/nodes/"+url.PathEscape(node)+"/log", nil, limit)
	if err != nil {
		return "", err
	}
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte(`{"error_message"`)) {
		ae := newAPIError("NodeLog", http.StatusInternalServerError, "application/json", "", bytes.NewReader(t))
		ae.HTTPStatus = http.StatusOK
		return "", ae
	}
	return string(b), nil
}

// uiPodLog reads a pod's log through the KFP UI server's route, beside
// the API (/k8s/pod/logs, or /pipeline/k8s/pod/logs behind Kubeflow).
func (c *Client) uiPodLog(ctx context.Context, run Run, pod string, limit int64) (string, error) {
	q := url.Values{"podname": {pod}, "podnamespace": {c.namespace()}}
	if run.ID != "" {
		q.Set("runid", run.ID)
	}
	if !run.Created.IsZero() {
		q.Set("createdat", run.Created.UTC().Format("2006-01-02"))
	}
	b, err := c.getText(ctx, "PodLog", "/k8s/pod/logs", q, limit)
	return string(b), err
}

// getText GETs a text answer below the API base, keeping its last limit
// bytes. An HTML page (a login page, a UI's index) is an error.
func (c *Client) getText(ctx context.Context, op, path string, q url.Values, limit int64) ([]byte, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &APIError{Op: op, Err: err}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, withHint(&APIError{Op: op, Err: err}, c.hint)
	}
	defer res.Body.Close()
	ct := res.Header.Get("Content-Type")
	if res.StatusCode != http.StatusOK {
		return nil, newAPIError(op, res.StatusCode, ct, res.Header.Get("Location"), res.Body)
	}
	if strings.HasPrefix(ct, "text/html") {
		return nil, &APIError{Op: op, HTTPStatus: res.StatusCode, Message: "an HTML page answered, not a log"}
	}
	return tail(res.Body, limit)
}

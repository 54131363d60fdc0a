package kfp

import (
	"net/url"
	"strings"
	"time"
)

// Target says where a KFP API server is. How to authenticate to it is the
// transport's business (Options.Transport, made by internal/auth).
type Target struct {
	// Host is the API base URL: http://127.0.0.1:8888 for standalone KFP, or
	// https://kubeflow.example.com/pipeline behind Kubeflow's gateway.
	Host string
	// Namespace is the Kubeflow profile namespace (multi-user); empty on
	// standalone KFP.
	Namespace string
	// UIURL is the base for run links when the UI is elsewhere than Host.
	UIURL string
}

// RunURL is the link a person follows to see the run in the KFP UI:
// HOST/#/runs/details/ID on standalone KFP, and the central dashboard's
// BASE/_/pipeline/?ns=NS#/runs/details/ID on multi-user Kubeflow (a host
// ending in /pipeline with a namespace).
func (t Target) RunURL(runID string) string {
	base := strings.TrimRight(t.UIURL, "/")
	if base == "" {
		base = strings.TrimRight(t.Host, "/")
	}
	if t.Namespace != "" && strings.HasSuffix(base, "/pipeline") {
		root := strings.TrimSuffix(base, "/pipeline")
		return root + "/_/pipeline/?ns=" + url.QueryEscape(t.Namespace) + "#/runs/details/" + runID
	}
	return base + "/#/runs/details/" + runID
}

// Task is one IR task of a run (not one of Argo's driver or executor nodes).
type Task struct {
	Name    string
	State   RunState
	Start   time.Time
	End     time.Time
	Message string
}

// Duration is the task's run time, or 0 if it has not both started and ended.
func (t Task) Duration() time.Duration {
	if t.Start.IsZero() || t.End.IsZero() || t.End.Before(t.Start) {
		return 0
	}
	return t.End.Sub(t.Start)
}

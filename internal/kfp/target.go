package kfp

import (
	"cmp"
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
// ending in /pipeline with a namespace). It is "" when Host is the API
// server itself and no UIURL is set: a link there would 404.
func (t Target) RunURL(runID string) string {
	base := strings.TrimRight(t.UIURL, "/")
	if base == "" {
		if t.APIServerOnly() {
			return ""
		}
		base = strings.TrimRight(t.Host, "/")
	}
	if t.Namespace != "" && strings.HasSuffix(base, "/pipeline") {
		root := strings.TrimSuffix(base, "/pipeline")
		return root + "/_/pipeline/?ns=" + url.QueryEscape(t.Namespace) + "#/runs/details/" + runID
	}
	return base + "/#/runs/details/" + runID
}

// APIServerOnly reports whether Host is KFP's API server itself (the
// ml-pipeline service: its port 8888, its in-cluster name, or the
// Kubernetes API server's proxy to it) rather than the UI or Kubeflow's
// gateway. The UI's pages and its /k8s/pod/logs route are served by
// ml-pipeline-ui, not there.
func (t Target) APIServerOnly() bool {
	u, err := url.Parse(t.Host)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return u.Port() == "8888" || host == "ml-pipeline" || strings.HasPrefix(host, "ml-pipeline.") ||
		(strings.Contains(u.Path, "/services/") && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/proxy"))
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

// PodNamespace is where the runs' workflows and pods are: the profile
// namespace on multi-user Kubeflow, else KFP's own (kubeflow).
func (t Target) PodNamespace() string { return cmp.Or(t.Namespace, "kubeflow") }

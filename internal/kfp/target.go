package kfp

import (
	"net/url"
	"strings"
	"time"
)

// Target says where a KFP API server is and how to authenticate to it.
type Target struct {
	// Host is the API base URL: http://127.0.0.1:8888 for standalone KFP, or
	// https://kubeflow.example.com/pipeline behind Kubeflow's gateway.
	Host string
	// Namespace is the Kubeflow profile namespace (multi-user); empty on
	// standalone KFP.
	Namespace string
	// UIURL is the base for run links when the UI is elsewhere than Host.
	UIURL string
	Auth  Auth
}

// Auth holds the credentials sent with every request. Every value is a secret.
type Auth struct {
	Token   string            // sent as Authorization: Bearer
	Headers map[string]string // extra headers
	Cookies map[string]string // extra cookies
}

// Secrets lists the credential values, for masking.
func (a Auth) Secrets() []string {
	var s []string
	if a.Token != "" {
		s = append(s, a.Token)
	}
	for _, v := range a.Headers {
		s = append(s, v)
	}
	for _, v := range a.Cookies {
		s = append(s, v)
	}
	return s
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
	PodName string // the Argo node id of the task's executor pod, if known
	Message string
}

// Duration is the task's run time, or 0 if it has not both started and ended.
func (t Task) Duration() time.Duration {
	if t.Start.IsZero() || t.End.IsZero() || t.End.Before(t.Start) {
		return 0
	}
	return t.End.Sub(t.Start)
}

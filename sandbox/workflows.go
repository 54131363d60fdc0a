package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	k8errors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8schema "k8s.io/apimachinery/pkg/runtime/schema"
)

// This file is the Kubernetes API of the runs' Argo workflows, as the
// API server serves the Workflow custom resource, for a client that lists
// and watches them with client-go (dynamic or typed):
//
//	GET /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows[?labelSelector=…]   a WorkflowList
//	GET /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows?watch=true&resourceVersion=RV   watch events
//	GET /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows/{name}   a Workflow
//
// A workflow carries KFP's labels (pipeline/runid among them) and the status
// last reported to KFP, so a watcher sees a change exactly when KFP's run
// does. Every change (creation, report, retry, deletion by GCRun) takes the
// next resourceVersion, one counter per sandbox. A watch sends the latest
// state of each workflow that changed after its resourceVersion: changes
// between two ticks come as one event, which Kubernetes' watch cache may
// also do after a relist. Served at the server root, without
// authentication, like the pods API.

var workflowsPath = regexp.MustCompile(`^/apis/argoproj\.io/v1alpha1/namespaces/([^/]+)/workflows(?:/([^/]+))?$`)

func isWorkflowsAPI(path string) bool { return strings.HasPrefix(path, "/apis/argoproj.io/") }

// bumpLocked gives r's workflow the next resourceVersion and wakes the
// watches, so no change (a create through KFP's API, a retry) waits for
// the next tick to be seen.
func (s *Sandbox) bumpLocked(r *runSim) {
	s.kubeRV++
	r.rv = s.kubeRV
	s.notifyLocked()
}

// notifyLocked wakes every watch and log follow.
func (s *Sandbox) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var workflowGR = k8schema.GroupResource{Group: "argoproj.io", Resource: "workflows"}

func (s *Sandbox) workflowsAPI(w http.ResponseWriter, r *http.Request) {
	m := workflowsPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeStatus(w, &k8errors.NewNotFound(k8schema.GroupResource{}, "").ErrStatus, "the server could not find the requested resource")
		return
	}
	if r.Method != http.MethodGet {
		writeStatus(w, &k8errors.NewMethodNotSupported(workflowGR, r.Method).ErrStatus, "")
		return
	}
	ns, name := m[1], m[2]
	q := r.URL.Query()
	sel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		writeStatus(w, &k8errors.NewBadRequest(err.Error()).ErrStatus, "")
		return
	}
	if name != "" {
		s.serveWorkflow(w, r, ns, name)
		return
	}
	if v := q.Get("watch"); v == "true" || v == "1" {
		since, _ := strconv.ParseInt(q.Get("resourceVersion"), 10, 64)
		timeout := time.Duration(0)
		if n, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
		s.watchWorkflows(w, r, ns, sel, since, timeout)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
	defer cancel()
	if !s.acquire(ctx, "workflows API") {
		writeStatus(w, &k8errors.NewInternalError(fmt.Errorf("kfp-sandbox watchdog: the sandbox lock is held by %s", s.lockHolder())).ErrStatus, "")
		return
	}
	s.discoverLocked()
	list := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowList",
		"metadata": map[string]any{"resourceVersion": strconv.FormatInt(s.kubeRV, 10)},
	}
	items := []json.RawMessage{}
	for _, rs := range s.sortedRunsLocked() {
		if rs.deletedAt.IsZero() && s.podNamespace(rs) == ns && sel.Matches(labels.Set(rs.wf.Labels)) {
			items = append(items, s.workflowJSONLocked(rs))
		}
	}
	s.release()
	list["items"] = items
	writeKube(w, http.StatusOK, list)
}

func (s *Sandbox) serveWorkflow(w http.ResponseWriter, r *http.Request, ns, name string) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
	defer cancel()
	if !s.acquire(ctx, "workflows API") {
		writeStatus(w, &k8errors.NewInternalError(fmt.Errorf("kfp-sandbox watchdog: the sandbox lock is held by %s", s.lockHolder())).ErrStatus, "")
		return
	}
	s.discoverLocked()
	rs, ok := s.runs[name]
	var b json.RawMessage
	if ok && rs.deletedAt.IsZero() && s.podNamespace(rs) == ns {
		b = s.workflowJSONLocked(rs)
	}
	s.release()
	if b == nil {
		writeStatus(w, &k8errors.NewNotFound(workflowGR, name).ErrStatus, "")
		return
	}
	writeKube(w, http.StatusOK, b)
}

// workflowJSONLocked renders r's workflow as the API server would: its
// kind, the resourceVersion of its last change, the last reported status.
func (s *Sandbox) workflowJSONLocked(r *runSim) json.RawMessage {
	wf := r.wf.DeepCopy()
	wf.TypeMeta = metav1.TypeMeta{Kind: "Workflow", APIVersion: "argoproj.io/v1alpha1"}
	wf.ResourceVersion = strconv.FormatInt(r.rv, 10)
	if wf.Namespace == "" {
		wf.Namespace = s.podNamespace(r)
	}
	b, err := json.Marshal(wf)
	if err != nil {
		s.log.Error("sandbox: marshal workflow", "workflow", r.name, "err", err)
		return json.RawMessage(`{}`)
	}
	return b
}

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watchWorkflows streams watch events for the workflows in ns matching sel
// that change after resourceVersion since (0: every existing one first, as
// ADDED), until the client leaves, timeout passes or the sandbox closes.
func (s *Sandbox) watchWorkflows(w http.ResponseWriter, r *http.Request, ns string, sel labels.Selector, since int64, timeout time.Duration) {
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flush := func() { _ = http.NewResponseController(w).Flush() }
	flush()
	known := map[string]bool{}   // workflows the client has been told exist
	deleted := map[string]bool{} // and those it has been told are gone
	initial := since == 0
	enc := json.NewEncoder(w)
	for {
		if !s.acquire(r.Context(), "workflows watch") {
			return
		}
		s.discoverLocked()
		var evs []struct {
			rv int64
			ev watchEvent
		}
		for _, rs := range s.runs {
			if rs.rv <= since || s.podNamespace(rs) != ns || !sel.Matches(labels.Set(rs.wf.Labels)) {
				continue
			}
			typ := "MODIFIED"
			switch {
			case !rs.deletedAt.IsZero():
				if deleted[rs.name] {
					continue
				}
				typ, deleted[rs.name] = "DELETED", true
			case !known[rs.name] && (initial || rs.createdRV > since):
				typ = "ADDED"
			}
			known[rs.name] = true
			evs = append(evs, struct {
				rv int64
				ev watchEvent
			}{rs.rv, watchEvent{Type: typ, Object: s.workflowJSONLocked(rs)}})
		}
		wake := s.changed
		s.release()
		sort.Slice(evs, func(i, j int) bool { return evs[i].rv < evs[j].rv })
		for _, e := range evs {
			if err := enc.Encode(e.ev); err != nil {
				return
			}
			since = e.rv
		}
		initial = false
		if len(evs) > 0 {
			flush()
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-expire:
			return
		}
	}
}

// Package workflow watches the Argo Workflows of KFP runs through
// client-go, so that kf-run learns of a run's change when Argo makes it
// instead of polling KFP. KFP labels each run's workflow with
// pipeline/runid. It only says which run changed and whether its workflow
// ended; KFP stays the source of the run's state and tasks.
package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// runIDLabel is the label KFP's compiler puts on a run's workflow.
const runIDLabel = "pipeline/runid"

var workflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}

// Event is news of the watch: RunID's workflow changed (Final: it is in a
// final phase), or, with no RunID, whether the watch holds.
type Event struct {
	RunID   string
	Final   bool
	Holding bool
}

// Watcher watches workflows in one namespace.
type Watcher struct {
	res       dynamic.NamespaceableResourceInterface
	namespace string
}

// New makes a Watcher for the cluster cfg points at. It does no I/O.
func New(cfg *rest.Config, namespace string) (*Watcher, error) {
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Watcher{res: c.Resource(workflows), namespace: namespace}, nil
}

// Watch sends events for the workflows of runs until ctx is done: first a
// holding event and each listed workflow that already ended, then every
// change. When the watch drops it says so and resumes from the last
// resourceVersion (listing again if that expired), with backoff. A watch
// that cannot be had (no permission) ends with the error after telling
// that it does not hold.
func (w *Watcher) Watch(ctx context.Context, runs []string, send func(Event)) error {
	sel := runIDLabel + " in (" + strings.Join(runs, ",") + ")"
	rv := ""
	fails := 0
	for ctx.Err() == nil {
		if rv == "" {
			list, err := w.res.Namespace(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				if fails++; fails > 5 || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) {
					send(Event{})
					return fmt.Errorf("list workflows: %w", err)
				}
				if sleep(ctx, time.Duration(fails)*time.Second) != nil {
					break
				}
				continue
			}
			rv = list.GetResourceVersion()
			for i := range list.Items {
				if id, final := state(&list.Items[i]); id != "" && final {
					send(Event{RunID: id, Final: true})
				}
			}
		}
		wi, err := w.res.Namespace(w.namespace).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			send(Event{})
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				rv = ""
			}
			if fails++; fails > 5 && (apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)) {
				return fmt.Errorf("watch workflows: %w", err)
			}
			if sleep(ctx, time.Duration(min(fails, 10))*time.Second) != nil {
				break
			}
			continue
		}
		fails = 0
		send(Event{Holding: true})
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Error:
				if st, ok := ev.Object.(*metav1.Status); ok && st.Code == 410 {
					rv = ""
				}
				continue
			case watch.Bookmark:
				if u, ok := ev.Object.(*unstructured.Unstructured); ok {
					rv = u.GetResourceVersion()
				}
				continue
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			rv = u.GetResourceVersion()
			if id, final := state(u); id != "" {
				send(Event{RunID: id, Final: final || ev.Type == watch.Deleted})
			}
		}
		wi.Stop()
		if ctx.Err() != nil {
			break
		}
		send(Event{})
		if sleep(ctx, 500*time.Millisecond) != nil {
			break
		}
	}
	return nil
}

// state is a workflow's run ID and whether its phase is final.
func state(u *unstructured.Unstructured) (string, bool) {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	switch phase {
	case "Succeeded", "Failed", "Error":
		return u.GetLabels()[runIDLabel], true
	}
	return u.GetLabels()[runIDLabel], false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

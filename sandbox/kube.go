package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8errors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8schema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// This file is a minimal Kubernetes pods API over the simulated pods, for a
// client that reads logs the way client-go does. It is served at the server
// root with no authentication (tests put a fake API server with auth in
// front of it):
//
//	GET /api/v1/namespaces/{ns}/pods[?labelSelector=…]   a v1 PodList
//	GET /api/v1/namespaces/{ns}/pods/{name}              a v1 Pod
//	GET /api/v1/namespaces/{ns}/pods/{name}/log?container=main   the log, text/plain
//
// Pods carry Argo's label workflows.argoproj.io/workflow and annotations
// workflows.argoproj.io/node-id and node-name, are named per the profile,
// and vanish with their workflow (GCRun). Errors are Kubernetes Status
// objects.

// Argo's pod labels and annotations.
const (
	labelWorkflow      = "workflows.argoproj.io/workflow"
	labelCompleted     = "workflows.argoproj.io/completed"
	annotationNodeID   = "workflows.argoproj.io/node-id"
	annotationNodeName = "workflows.argoproj.io/node-name"
)

var kubePodsPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)(/log)?)?$`)

func (s *Sandbox) kubeAPI(w http.ResponseWriter, r *http.Request) {
	m := kubePodsPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeStatus(w, &k8errors.NewNotFound(k8schema.GroupResource{}, "").ErrStatus, "the server could not find the requested resource")
		return
	}
	if r.Method != http.MethodGet {
		writeStatus(w, &k8errors.NewMethodNotSupported(k8schema.GroupResource{Resource: "pods"}, r.Method).ErrStatus, "")
		return
	}
	ns, name, isLog := m[1], m[2], m[3] != ""
	if isLog && r.URL.Query().Get("container") == "main" {
		s.podLog(w, r, ns, name)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
	defer cancel()
	if !s.acquire(ctx, "kube API") {
		writeStatus(w, &k8errors.NewInternalError(fmt.Errorf("kfp-sandbox watchdog: the sandbox lock is held by %s", s.lockHolder())).ErrStatus, "")
		return
	}
	defer s.release()
	s.discoverLocked()
	now := s.clock.Now()
	if name == "" {
		sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
		if err != nil {
			writeStatus(w, &k8errors.NewBadRequest(err.Error()).ErrStatus, "")
			return
		}
		list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{}}
		list.ResourceVersion = "1"
		for _, p := range s.livePodsLocked(now) {
			pod := kubePod(p, now)
			if p.namespace == ns && sel.Matches(labels.Set(pod.Labels)) {
				list.Items = append(list.Items, pod)
			}
		}
		writeKube(w, http.StatusOK, list)
		return
	}
	var pod *simPod
	for _, p := range s.livePodsLocked(now) {
		if p.namespace == ns && p.name == name {
			pod = &p
			break
		}
	}
	if pod == nil {
		writeStatus(w, &k8errors.NewNotFound(k8schema.GroupResource{Resource: "pods"}, name).ErrStatus, "")
		return
	}
	if !isLog {
		kp := kubePod(*pod, now)
		kp.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		writeKube(w, http.StatusOK, kp)
		return
	}
	switch c := r.URL.Query().Get("container"); c {
	case "wait":
		w.Header().Set("Content-Type", "text/plain")
	case "":
		writeStatus(w, &k8errors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [wait main]", name)).ErrStatus, "")
	default:
		writeStatus(w, &k8errors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", c, name)).ErrStatus, "")
	}
}

// podLog serves a pod's main container log with the options of
// PodLogOptions a follower uses: follow (the stream goes on as the task
// writes, and ends when the container has ended), timestamps (each line
// starts with its RFC 3339 time with nanoseconds and a space), sinceTime
// (lines written at or after it; RFC 3339, whole seconds as the API
// server takes it), sinceSeconds and tailLines.
func (s *Sandbox) podLog(w http.ResponseWriter, r *http.Request, ns, name string) {
	q := r.URL.Query()
	follow := q.Get("follow") == "true"
	stamps := q.Get("timestamps") == "true"
	var since time.Time
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeStatus(w, &k8errors.NewBadRequest("sinceTime: "+err.Error()).ErrStatus, "")
			return
		}
		since = t
	}
	sinceSeconds, _ := strconv.ParseInt(q.Get("sinceSeconds"), 10, 64)
	tail := int64(-1)
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, &k8errors.NewBadRequest("tailLines: must be a non-negative integer").ErrStatus, "")
			return
		}
		tail = n
	}
	sent, started := 0, false
	for {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
		ok := s.acquire(ctx, "pod log")
		cancel()
		if !ok {
			if !started {
				writeStatus(w, &k8errors.NewInternalError(fmt.Errorf("kfp-sandbox watchdog: the sandbox lock is held by %s", s.lockHolder())).ErrStatus, "")
			}
			return
		}
		s.discoverLocked()
		now := s.clock.Now()
		var pod *simPod
		for _, p := range s.livePodsLocked(now) {
			if p.namespace == ns && p.name == name {
				pod = &p
				break
			}
		}
		var lines []string
		var times []time.Time
		running := false
		if pod != nil {
			all := pod.allLines()
			k := pod.written(len(all), now)
			if !started {
				// The first answer decides where the stream starts.
				from := 0
				if sinceSeconds > 0 && since.IsZero() {
					since = now.Add(-time.Duration(sinceSeconds) * time.Second)
				}
				if !since.IsZero() {
					from = sort.Search(k, func(i int) bool { return !pod.lineTime(i, len(all)).Before(since) })
				}
				if tail >= 0 && int64(k-from) > tail {
					from = k - int(tail)
				}
				sent = from
			}
			for i := sent; i < k; i++ {
				lines = append(lines, all[i])
				if stamps {
					times = append(times, pod.lineTime(i, len(all)))
				}
			}
			sent = max(sent, k)
			running = pod.running(now) || k < len(all)
		}
		wake := s.changed
		s.release()
		if !started {
			if pod == nil {
				writeStatus(w, &k8errors.NewNotFound(k8schema.GroupResource{Resource: "pods"}, name).ErrStatus, "")
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		var b strings.Builder
		for i, l := range lines {
			if stamps {
				b.WriteString(times[i].UTC().Format(time.RFC3339Nano) + " ")
			}
			b.WriteString(l + "\n")
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return
		}
		if !follow || !running {
			return
		}
		_ = http.NewResponseController(w).Flush()
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

// kubePod renders a simulated pod as the v1 Pod Argo would have created.
func kubePod(p simPod, now time.Time) corev1.Pod {
	completed := "false"
	if p.finishedBy(now) {
		completed = "true"
	}
	start := metav1.NewTime(p.node.start.Truncate(time.Second))
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.name, Namespace: p.namespace, UID: types.UID(p.uid()), CreationTimestamp: start,
			Labels:      map[string]string{labelWorkflow: p.run.wf.Name, labelCompleted: completed},
			Annotations: map[string]string{annotationNodeID: p.nodeID, annotationNodeName: p.nodeName},
		},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "wait"}, {Name: "main", Image: p.node.image}}},
		Status: corev1.PodStatus{Phase: corev1.PodPhase(p.phase(now)), StartTime: &start},
	}
	return pod
}

// writeStatus answers with a Kubernetes Status object, as the API server
// does for errors.
func writeStatus(w http.ResponseWriter, st *metav1.Status, message string) {
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if message != "" {
		st.Message = message
		st.Details = nil
	}
	writeKube(w, int(st.Code), st)
}

func writeKube(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	io.WriteString(w, "\n")
}

// isKubeAPI matches the paths the pods API answers (and every other /api/
// path, which Kubernetes answers 404).
func isKubeAPI(path string) bool { return strings.HasPrefix(path, "/api/") }

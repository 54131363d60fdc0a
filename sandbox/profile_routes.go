package sandbox

import (
	"net/http"
	"strings"
)

// serveProfileRoutes serves the routes beside KFP's API that the profiles
// shape (logs, the pods API, profile next's runs), and reports whether it
// did. serveKFP calls it first.
//
//   - /k8s/pod/logs and PREFIX/k8s/pod/logs: the KFP UI server's log route.
//   - /api/…: the Kubernetes pods API, at the server root only.
//   - /apis/v1alpha1/runs/{run}/nodes/{node}/log: the API server's log
//     route, at the server root only. Behind Kubeflow the /pipeline gateway
//     is the KFP UI server, which proxies only apis/v1beta1 and apis/v2beta1
//     (frontend/server/app.ts), so under the prefix the answer is a 404.
//   - profile next: GetRun and ListRuns (tasks_next.go).
func (s *Sandbox) serveProfileRoutes(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	prefix := s.opts.Prefix
	switch {
	case p == "/k8s/pod/logs" || (prefix != "" && p == prefix+"/k8s/pod/logs"):
		s.podLogs(w, r)
		return true
	case isKubeAPI(p):
		s.kubeAPI(w, r)
		return true
	case isWorkflowsAPI(p):
		s.workflowsAPI(w, r)
		return true
	}
	if m := nodeLogPath.FindStringSubmatch(p); m != nil {
		s.nodeLog(w, r, m[1], m[2])
		return true
	}
	rel, ok := p, true
	if prefix != "" {
		rest, cut := strings.CutPrefix(p, prefix)
		rel, ok = rest, cut && strings.HasPrefix(rest, "/")
	}
	if !ok {
		return false
	}
	if prefix != "" && nodeLogPath.MatchString(rel) {
		http.NotFound(w, r)
		return true
	}
	if s.opts.Profile == ProfileNext && r.Method == http.MethodGet && r.Context().Value(innerRequest{}) == nil {
		if m := v2RunsPath.FindStringSubmatch(rel); m != nil {
			s.serveRunsNext(w, r, m[1])
			return true
		}
	}
	return false
}

// gcControl serves POST /_sandbox/runs/{id}/gc (see GCRun).
func (s *Sandbox) gcControl(w http.ResponseWriter, r *http.Request) {
	if err := s.GCRun(r.PathValue("id")); err != nil {
		controlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apiv1beta1 "github.com/kubeflow/pipelines/backend/api/v1beta1/go_client"
	"github.com/kubeflow/pipelines/backend/src/apiserver/common"
	"github.com/kubeflow/pipelines/backend/src/common/util"
	"google.golang.org/grpc/metadata"
	authzv1 "k8s.io/api/authorization/v1"
	k8errors "k8s.io/apimachinery/pkg/api/errors"
	k8schema "k8s.io/apimachinery/pkg/runtime/schema"
)

// This file serves the two ways a client reads a task's log, per profile:
// the KFP UI server's /k8s/pod/logs route and the API server's v1alpha1
// node-log route. Both read live pods first and, from 2.5 on, Argo's log
// archive. GCRun deletes a run's workflow and pods, as the TTL of KFP
// 2.17's manifests does an hour after a workflow finishes.

// GCRun simulates the deletion of a run's workflow after its TTL: the
// workflow and its pods are gone, so pod logs can only be read from the
// archive (profiles 2.5 and later). A run that had not finished stays as
// it was last reported, as when a live workflow is deleted. KFP's own run
// record is kept, and a retry creates the workflow again.
func (s *Sandbox) GCRun(runID string) error {
	r, release, err := s.runLocked("gc run", runID)
	if err != nil {
		return err
	}
	defer release()
	if r.deletedAt.IsZero() {
		r.deletedAt = s.clock.Now()
		s.bumpLocked(r)
	}
	r.done = true // no workflow, nothing for the persistence agent to report
	return nil
}

// archivedPodsLocked lists the pods whose logs Argo archived: the pods of
// every run that finished by now (and before their workflow was deleted).
// Argo's wait container uploads main.log when the main container ends.
func (s *Sandbox) archivedPodsLocked(now time.Time) []simPod {
	if !s.opts.Profile.archivesLogs() {
		return nil
	}
	var pods []simPod
	for _, r := range s.sortedRunsLocked() {
		until := now
		if !r.deletedAt.IsZero() && r.deletedAt.Before(now) {
			until = r.deletedAt
		}
		for _, p := range s.podsLocked(r, until) {
			if p.finishedBy(until) {
				pods = append(pods, p)
			}
		}
	}
	return pods
}

// archiveKey is where Argo archives a pod's log with the keyFormat of KFP's
// manifests, artifacts/{{workflow.name}}/{{workflow.creationTimestamp.Y}}/
// {{workflow.creationTimestamp.m}}/{{workflow.creationTimestamp.d}}/{{pod.name}},
// plus the main.log file. The date is the workflow's creation in UTC.
func archiveKey(p simPod) string {
	c := p.run.wf.CreationTimestamp.UTC()
	return fmt.Sprintf("artifacts/%s/%04d/%02d/%02d/%s/main.log", p.run.wf.Name, c.Year(), int(c.Month()), c.Day(), p.name)
}

// uiArchiveKey is the key KFP's UI server builds from its request
// (frontend/server/workflow-helper.ts, createPodLogsMinioRequestConfig):
// the workflow name is the pod name up to "-system-container-impl-", and
// the date parts come from createdat=YYYY-MM-DD (KFP #11010, commit
// 2e6e634de4). Without createdat the month and day are JavaScript's
// undefined, so the key names a folder "undefined" that does not exist.
func uiArchiveKey(pod, createdAt string) string {
	parts := strings.Split(createdAt, "-")
	part := func(i int) string {
		if i < len(parts) {
			return parts[i]
		}
		return "undefined"
	}
	wf := implPodSuffix.ReplaceAllString(pod, "")
	return fmt.Sprintf("artifacts/%s/%s/%s/%s/%s/main.log", wf, part(0), part(1), part(2), pod)
}

// noSuchKey is what the object store answers for a missing key.
const noSuchKey = "The specified key does not exist."

// podLogsUI serves GET /k8s/pod/logs as the KFP UI server of the profile
// does (frontend/server/handlers/pod-logs.ts). Text answers are
// text/plain, like Express's res.send of a string.
//
//   - podname is required (400).
//   - 2.17 and next, in multi-user mode (ENABLE_AUTHZ in the manifests):
//     podnamespace is required (422, KFP #12778, commit 48a01c39db), and the
//     caller must be allowed to view it (403), which the UI asks the API
//     server's AuthService; the sandbox asks KFP's own authenticators and
//     access review, with the request's identity header or bearer token.
//   - The log of the live pod named podname (the namespace is not checked).
//   - 2.0: nothing else; the message of KFP 2.0's workflow fallback.
//   - 2.5 and later: the archive, at the key the UI builds from podname and
//     createdat; a miss is the object store's NoSuchKey.
func (s *Sandbox) podLogsUI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	q := r.URL.Query()
	pod := q.Get("podname")
	if pod == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "podname argument is required")
		return
	}
	ns := q.Get("podnamespace")
	authz := s.opts.MultiUser && s.opts.Profile.atLeast(Profile217)
	if authz && ns == "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, "podnamespace argument is required")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
	defer cancel()
	if !s.acquire(ctx, "pod logs") {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "kfp-sandbox watchdog: the sandbox lock is held by "+s.lockHolder())
		return
	}
	defer s.release()
	if authz && ns != "" && s.viewerDeniedLocked(r, ns) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "Access denied to namespace")
		return
	}
	now := s.clock.Now()
	for _, p := range s.livePodsLocked(now) {
		if p.name == pod {
			writeLines(w, p.log())
			return
		}
	}
	if !s.opts.Profile.archivesLogs() {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "Could not get main container logs: Error: Unable to retrieve workflow status: Error: pod %q not found.", pod)
		return
	}
	key := uiArchiveKey(pod, q.Get("createdat"))
	for _, p := range s.archivedPodsLocked(now) {
		if archiveKey(p) == key {
			writeLines(w, p.log())
			return
		}
	}
	s.log.Debug("sandbox: pod log not in the archive", "pod", pod, "key", key)
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, "Could not get main container logs: S3Error: "+noSuchKey)
}

// viewerDeniedLocked asks KFP, as the UI server asks the API server's
// AuthService (verb get, resource viewers), whether the caller may view
// namespace ns. The caller is who KFP's authenticators say: the user-id
// header, else the bearer token.
func (s *Sandbox) viewerDeniedLocked(r *http.Request, ns string) bool {
	md := metadata.MD{}
	if v := r.Header.Get(s.opts.UserIDHeader); v != "" {
		md.Append(s.opts.UserIDHeader, v)
	}
	if v := r.Header.Get("Authorization"); v != "" {
		md.Append(common.AuthorizationBearerTokenHeader, v)
	}
	ctx := metadata.NewIncomingContext(r.Context(), md)
	err := s.kfp.rm.IsAuthorized(ctx, &authzv1.ResourceAttributes{
		Namespace: ns,
		Verb:      common.RbacResourceVerbGet,
		Group:     common.RbacKubeflowGroup,
		Version:   common.RbacPipelinesVersion,
		Resource:  common.RbacResourceTypeViewers,
	})
	return err != nil
}

func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		io.WriteString(w, l+"\n")
	}
}

// nodeLogPath is KFP's v1alpha1 log route (backend/src/apiserver/main.go).
var nodeLogPath = regexp.MustCompile(`^/apis/v1alpha1/runs/([^/]+)/nodes/([^/]+)/log$`)

// nodeLog serves GET /apis/v1alpha1/runs/{run_id}/nodes/{node_id}/log as
// KFP's RunLogServer.ReadRunLogV1 and ResourceManager.ReadLog do, on every
// profile:
//
//   - an unknown run is an error;
//   - the pod is looked up by node_id used as a pod name, in the run's
//     namespace, so it is found only with v1 pod names (profile 2.0) and
//     while the pod exists;
//   - failing that, from 2.5 on (where the log archive is configured), the
//     archive is read through the workflow KFP stored for the run: node_id
//     is looked up there and its pod's name computed (a Retry node's pod is
//     its child), so a pod that finished is found;
//   - errors are KFP's, wrapped as ReadLog wraps them.
//
// KFP's quirk is kept: ReadRunLogV1 calls WriteHeader(200) before ReadLog,
// so an error arrives with status 200 and the JSON body
// {"error_message":…,"error_details":…}. Its later WriteHeader(500) and
// Content-Type are lost, so the body is sniffed as text/plain.
//
// The sandbox's simplification: KFP itself keys its archive reads by
// <ARCHIVE_CONFIG_LOG_PATH_PREFIX>/<workflow>/<node_id>/<file>; the sandbox
// answers from the pod the node ran, as a deployment whose archive
// settings match Argo's would.
func (s *Sandbox) nodeLog(w http.ResponseWriter, r *http.Request, runID, nodeID string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
	defer cancel()
	if !s.acquire(ctx, "node log") {
		writeLogError(w, fmt.Errorf("kfp-sandbox watchdog: the sandbox lock is held by %s", s.lockHolder()))
		return
	}
	lines, err := s.readLogLocked(runID, nodeID)
	s.release()
	if err != nil {
		writeLogError(w, err)
		return
	}
	writeLines(w, lines)
}

func writeLogError(w io.Writer, err error) {
	b, _ := json.Marshal(&apiv1beta1.Error{ErrorMessage: err.Error(), ErrorDetails: fmt.Sprintf("%+v", err)})
	w.Write(b)
}

// readLogLocked is ReadLog.
func (s *Sandbox) readLogLocked(runID, nodeID string) ([]string, error) {
	s.discoverLocked()
	run, err := s.kfp.rm.GetRun(runID)
	if err != nil {
		return nil, util.NewBadRequestError(err, "Failed to read logs for run %v due to run fetching error", runID)
	}
	ns, err := s.kfp.rm.GetNamespaceFromExperimentId(run.ExperimentId)
	if err != nil {
		return nil, util.NewBadRequestError(util.Wrapf(err, "Failed to fetch namespace from run %v", runID),
			"Failed to read logs for run %v due to namespace fetching error", runID)
	}
	if ns == "" {
		// Single-user: KFP asks its pod client for namespace "". The
		// sandbox reads that as the namespace KFP runs workflows in.
		ns = s.opts.Namespace
	}
	now := s.clock.Now()
	for _, p := range s.livePodsLocked(now) {
		if p.name == nodeID && p.namespace == ns {
			return p.log(), nil
		}
	}
	err = util.NewInternalServerError(k8errors.NewNotFound(k8schema.GroupResource{Resource: "pods"}, nodeID),
		"Failed to read logs from pod %v due to error opening log stream", nodeID)
	if s.opts.Profile.archivesLogs() {
		var lines []string
		if lines, err = s.readArchiveLocked(run.WorkflowRuntimeManifest, nodeID, now); err == nil {
			return lines, nil
		}
	}
	return nil, util.NewBadRequestError(err, "Failed to read logs for run %v", runID)
}

// readArchiveLocked is ReadLog's archive fallback, through the workflow KFP
// stored for the run.
func (s *Sandbox) readArchiveLocked(manifest, nodeID string, now time.Time) ([]string, error) {
	if manifest == "" {
		return nil, util.NewInternalServerError(util.NewInvalidInputError("Runtime workflow manifest cannot empty"),
			"Failed to read logs from archive %v due to empty runtime workflow manifest", nodeID)
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal([]byte(manifest), &wf); err != nil {
		return nil, util.NewInternalServerError(err, "Failed to read logs from archive %v due error reading execution spec", nodeID)
	}
	missing := util.NewInternalServerError(fmt.Errorf("%s", noSuchKey),
		"Failed to read logs from archive %v due to error fetching the log file", nodeID)
	node, ok := wf.Status.Nodes[nodeID]
	if ok && node.Type == wfv1.NodeTypeRetry && len(node.Children) > 0 {
		node, ok = wf.Status.Nodes[node.Children[len(node.Children)-1]]
	}
	if !ok || node.Type != wfv1.NodeTypePod {
		return nil, missing
	}
	pod := argoPodName(wf.Name, node.Name, node.TemplateName, node.ID, s.opts.Profile.podNamesV2())
	for _, p := range s.archivedPodsLocked(now) {
		if p.run.wf.Name == wf.Name && p.name == pod {
			return p.log(), nil
		}
	}
	return nil, missing
}

// Package podlog reads a KFP task's log straight from Kubernetes, for
// when kf-run can reach the cluster's API server (a kubeconfig context, or
// in cluster) and KFP's own log routes cannot give it. It finds the pod
// among the workflow's pods (Argo's workflows.argoproj.io/workflow label)
// by its node-id annotation or its name, and reads the main container's
// log through client-go.
package podlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// Argo's pod label and annotations.
const (
	workflowLabel  = "workflows.argoproj.io/workflow"
	nodeIDAnnotKey = "workflows.argoproj.io/node-id"
)

// tailLines is how many of the last log lines Kubernetes is asked for; the
// caller keeps its own byte limit.
const tailLines = 2000

// Reader reads pod logs with one Kubernetes client.
type Reader struct {
	core corev1client.CoreV1Interface
}

// New makes a Reader for the cluster cfg points at. It does no I/O.
func New(cfg *rest.Config) (*Reader, error) {
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Reader{core: core}, nil
}

// WorkflowPodLog finds the pod of Argo node nodeID (or one named as in
// names) among workflow's pods in namespace, and returns its name and the
// tail of its main container's log (at most limit bytes). Without a
// workflow name it reads the first of names directly.
func (r *Reader) WorkflowPodLog(ctx context.Context, namespace, workflow, nodeID string, names []string, limit int64) (string, string, error) {
	pod, err := r.FindPod(ctx, namespace, workflow, nodeID, names)
	if err != nil {
		return "", "", err
	}
	n := int64(tailLines)
	rc, err := r.core.Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: "main", TailLines: &n}).Stream(ctx)
	if err != nil {
		return pod, "", fmt.Errorf("read the log of pod %s/%s: %w", namespace, pod, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		return pod, "", fmt.Errorf("read the log of pod %s/%s: %w", namespace, pod, err)
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		b = b[int64(len(b))-limit:]
	}
	return pod, string(b), nil
}

// FindPod names the pod of Argo node nodeID (or one named as in names)
// among workflow's pods in namespace; without a workflow, the first of
// names.
func (r *Reader) FindPod(ctx context.Context, namespace, workflow, nodeID string, names []string) (string, error) {
	if workflow == "" {
		if len(names) == 0 {
			return "", fmt.Errorf("no pod to look for")
		}
		return names[0], nil
	}
	list, err := r.core.Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: workflowLabel + "=" + workflow})
	if err != nil {
		return "", fmt.Errorf("list the pods of workflow %s in namespace %s: %w", workflow, namespace, err)
	}
	for _, p := range list.Items {
		if (nodeID != "" && p.Annotations[nodeIDAnnotKey] == nodeID) || slices.Contains(names, p.Name) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no pod of workflow %s in namespace %s is node %s (%d pods: deleted after the run?)", workflow, namespace, nodeID, len(list.Items))
}

// Stream follows the main container's log of pod, each line prefixed with
// its RFC 3339 timestamp, from since (whole seconds, as the API takes it;
// zero: from the start). It ends when the container has ended, or drops.
func (r *Reader) Stream(ctx context.Context, namespace, pod string, since time.Time) (io.ReadCloser, error) {
	o := &corev1.PodLogOptions{Container: "main", Follow: true, Timestamps: true}
	if !since.IsZero() {
		t := metav1.NewTime(since)
		o.SinceTime = &t
	}
	rc, err := r.core.Pods(namespace).GetLogs(pod, o).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("follow the log of pod %s/%s: %w", namespace, pod, err)
	}
	return rc, nil
}

// Ended reports whether pod's containers have ended (or the pod is gone).
func (r *Reader) Ended(ctx context.Context, namespace, pod string) (bool, error) {
	p, err := r.core.Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
}

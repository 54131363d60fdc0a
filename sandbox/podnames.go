package sandbox

import (
	"hash/fnv"
	"regexp"
	"sort"
	"strconv"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/uuid"
)

// This file gives the simulated pods their names and the executor its
// Retry node, per profile.
//
// Pod names. Argo 3.3 (KFP 2.0.x) names a pod after its node ID
// (POD_NAMES=v1). Argo 3.4 made the v2 format the default
// (argoproj/argo-workflows#8748): <workflow>-<template>-<fnv32a(node name)>,
// and KFP 2.2 moved to Argo 3.4.16 (KFP #10568), so every profile from 2.5
// on has v2 names. KFP still reports node IDs in task_details, so from 2.5
// on a node ID is no longer a pod name.
//
// Retry nodes. KFP 2.17's manifests give every template a default retry
// strategy (KFP #13485, commit 2dea6fd468). Argo then puts a node of type
// Retry where the executor pod was (display name "executor") and runs the
// pod as its child "<executor node name>(0)" (display "executor(0)"); the
// pod's v2 name hashes the child's node name.

// Argo's limits for a v2 pod name (workflow/util/pod_name.go): the name must
// fit Kubernetes' 253 characters with room for the hash.
const (
	maxK8sResourceNameLength = 253
	k8sNamingHashLength      = 10
	maxPodNamePrefixLength   = maxK8sResourceNameLength - k8sNamingHashLength
)

// argoPodName is the name Argo gives the pod of a node: the node ID with v1
// names, <workflow>-<template>-<fnv32a(node name)> with v2 names, the
// prefix cut to leave room for the hash, as Argo 3.4's GeneratePodName does.
func argoPodName(workflow, nodeName, template, nodeID string, v2 bool) string {
	if !v2 {
		return nodeID
	}
	if workflow == nodeName {
		return workflow
	}
	prefix := workflow
	if template != "" {
		prefix += "-" + template
	}
	if len(prefix) > maxPodNamePrefixLength-1 {
		prefix = prefix[:maxPodNamePrefixLength-1]
	}
	h := fnv.New32a()
	h.Write([]byte(nodeName))
	return prefix + "-" + strconv.FormatUint(uint64(h.Sum32()), 10)
}

// podNameFormatAnnotation is the workflow annotation Argo 3.4 sets to the pod
// name format it used.
const podNameFormatAnnotation = "workflows.argoproj.io/pod-name-format"

// retryNodes reports whether the profile's workflows carry KFP 2.17's
// default retry strategy.
func (p Profile) retryNodes() bool { return p.atLeast(Profile217) }

// archivesLogs reports whether Argo archives pod logs (ARGO_ARCHIVE_LOGS and
// the workflow controller's archiveLogs, in KFP's manifests since 2.5).
func (p Profile) archivesLogs() bool { return p.atLeast(Profile25) }

// buildTreeLocked expands a run's workflow as the profile's Argo would: the
// node tree, Retry nodes above executor pods from 2.17 on, and the pod name
// format annotation from 2.5 on.
func (s *Sandbox) buildTreeLocked(r *runSim) (*simNode, error) {
	root, err := buildTree(r.wf)
	if err != nil {
		return nil, err
	}
	if s.opts.Profile.podNamesV2() {
		if r.wf.Annotations == nil {
			r.wf.Annotations = map[string]string{}
		}
		r.wf.Annotations[podNameFormatAnnotation] = "v2"
	}
	if s.opts.Profile.retryNodes() {
		markRetries(root)
	}
	return root, nil
}

// markRetries flags every container executor pod to be rendered as a Retry
// node with one pod child. Only the rendering changes: the child has the
// Retry node's schedule, so the Retry node takes its child's phase,
// message and times.
func markRetries(n *simNode) {
	if n.kind == kindExecutor && n.template == tmplContainerImpl {
		n.retry = true
	}
	for _, c := range n.children {
		markRetries(c)
	}
}

// retryChildName is the node name of a Retry node's first (only) attempt.
func retryChildName(name string) string { return name + "(0)" }

// splitRetry renders a retried executor as Argo does: s becomes the Retry
// node and the returned status is its pod child.
func splitRetry(s *wfv1.NodeStatus, wf *wfv1.Workflow) wfv1.NodeStatus {
	child := *s
	child.Name = retryChildName(s.Name)
	child.ID = wf.NodeID(child.Name)
	child.DisplayName = retryChildName(s.DisplayName)
	child.Children = nil
	s.Type = wfv1.NodeTypeRetry
	s.Children = []string{child.ID}
	return child
}

// simPod is a pod of a run as Kubernetes would list it at some instant.
type simPod struct {
	name      string // the pod name, per the profile's format
	nodeID    string // the Argo node the pod runs (the Retry node's child from 2.17 on)
	nodeName  string
	namespace string
	run       *runSim
	node      *simNode
	at        time.Time // the instant the pod was listed at: its log is what was written by then
}

// running reports whether the pod has not finished at t.
func (p simPod) running(t time.Time) bool { return p.node.end.IsZero() || p.node.end.After(t) }

// finishedBy reports whether the pod finished at or before t.
func (p simPod) finishedBy(t time.Time) bool { return !p.running(t) }

// phase is the pod's Kubernetes phase at t.
func (p simPod) phase(t time.Time) string {
	if p.running(t) {
		return "Running"
	}
	if p.node.phase == wfv1.NodeSucceeded {
		return "Succeeded"
	}
	return "Failed"
}

// log is the main container's log as written by p.at.
func (p simPod) log() []string {
	all := p.allLines()
	return all[:p.written(len(all), p.at)]
}

// allLines is everything the main container writes.
func (p simPod) allLines() []string {
	switch p.node.kind {
	case kindExecutor, kindImporter:
		return p.node.log
	}
	return []string{"I sandbox: " + p.node.template + " " + p.node.display}
}

// lineTime is when the container writes line i of n: an executor that
// ends spreads its lines evenly over its run, the first as it starts; a pod that never ends (hang, a manual advance) wrote them all when
// it started, as do drivers.
func (p simPod) lineTime(i, n int) time.Time {
	d := p.node.end.Sub(p.node.start)
	if p.node.end.IsZero() || d <= 0 || (p.node.kind != kindExecutor && p.node.kind != kindImporter) {
		return p.node.start
	}
	return p.node.start.Add(time.Duration(float64(d) * float64(i) / float64(n)))
}

// written is how many of the n lines were written by t.
func (p simPod) written(n int, t time.Time) int {
	return sort.Search(n, func(i int) bool { return p.lineTime(i, n).After(t) })
}

// uid is the pod's UID: stable for a pod of a run, so the Kubernetes API
// and the tasks of profile next agree.
func (p simPod) uid() string { return podUID(p.run.runID, p.namespace, p.name) }

func podUID(runID, namespace, pod string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(runID+"/"+namespace+"/"+pod)).String()
}

// podNamespace is the namespace a run's pods live in.
func (s *Sandbox) podNamespace(r *runSim) string {
	if r.wf.Namespace != "" {
		return r.wf.Namespace
	}
	return s.opts.Namespace
}

// podsLocked lists the pods a run has had by t: every pod node Argo created
// by then (drivers included), but none for nodes that were Omitted or
// Skipped, which never get a pod.
func (s *Sandbox) podsLocked(r *runSim, t time.Time) []simPod {
	if r.root == nil {
		return nil
	}
	v2 := s.opts.Profile.podNamesV2()
	ns := s.podNamespace(r)
	var pods []simPod
	var walk func(n *simNode)
	walk = func(n *simNode) {
		if !n.reached || n.start.After(t) {
			return
		}
		if n.typ == wfv1.NodeTypePod && n.phase != wfv1.NodeOmitted && n.phase != wfv1.NodeSkipped {
			id, name := n.id, n.name
			if n.retry {
				name = retryChildName(n.name)
				id = r.wf.NodeID(name)
			}
			pods = append(pods, simPod{
				name: argoPodName(r.wf.Name, name, n.template, id, v2), nodeID: id, nodeName: name,
				namespace: ns, run: r, node: n, at: t,
			})
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(r.root)
	return pods
}

// livePodsLocked lists the pods that exist at now: those of every run whose
// workflow has not been deleted (Argo's pods go with their workflow).
func (s *Sandbox) livePodsLocked(now time.Time) []simPod {
	var pods []simPod
	for _, r := range s.sortedRunsLocked() {
		if !r.deletedAt.IsZero() {
			continue
		}
		pods = append(pods, s.podsLocked(r, now)...)
	}
	return pods
}

// sortedRunsLocked lists the runs by workflow name, for stable answers.
func (s *Sandbox) sortedRunsLocked() []*runSim {
	runs := make([]*runSim, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].name < runs[j].name })
	return runs
}

// implPodSuffix is what KFP's UI strips from a pod name to find its
// workflow (frontend/server/workflow-helper.ts).
var implPodSuffix = regexp.MustCompile(`-system-container-impl-.*`)

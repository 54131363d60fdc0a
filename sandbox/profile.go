package sandbox

import "fmt"

// Profile is the KFP server version a sandbox stands for. KFP 2.0.5's own
// API server code runs underneath every profile; a newer profile adds a
// thin, documented layer that changes only what the newer server changes on
// the wire (error bodies, log routes, pod names, task shapes). Each change
// is traced in a comment to the KFP or Argo commit that made it; the
// research notes in the README list them.
type Profile string

// The profiles. The zero value is Profile20.
const (
	// Profile20 is KFP 2.0.5 with Argo 3.3 (pod name = Argo node ID).
	Profile20 Profile = "2.0"
	// Profile25 is KFP 2.5 (Kubeflow 1.10) with Argo 3.4: Argo v2 pod
	// names (argoproj/argo-workflows#8748, KFP #10568), 409 JSON on
	// duplicate uploads (KFP #10546), archived logs that need createdat
	// (KFP #11010).
	Profile25 Profile = "2.5"
	// Profile217 is KFP 2.17: 2.5 plus grpc-gateway v2 error bodies and
	// strict request parsing (KFP #12067, #12101), unique name beside
	// display_name (KFP #11952), name length limits (KFP 2af42c323f), a
	// default retry strategy that puts a Retry node above each pod (KFP
	// #13485), and the UI log route's podnamespace rule under authz (KFP
	// #12778).
	Profile217 Profile = "2.17"
	// ProfileNext is 2.17 with the task API rework of KFP PR #13986 (not
	// released in 2.17.0): tasks move from run_details.task_details to
	// Run.tasks, returned only with view=FULL, with typed pods.
	ProfileNext Profile = "next"
)

// allProfiles lists the accepted profiles, oldest first.
func allProfiles() []Profile { return []Profile{Profile20, Profile25, Profile217, ProfileNext} }

// ParseProfile checks a profile name ("" is 2.0).
func ParseProfile(s string) (Profile, error) {
	if s == "" {
		return Profile20, nil
	}
	for _, p := range allProfiles() {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown KFP profile %q (want 2.0, 2.5, 2.17 or next)", s)
}

// Tag is the KFP release the profile stands for, as healthz's tag_name
// reports it.
func (p Profile) Tag() string {
	switch p {
	case Profile25:
		return "2.5.0"
	case Profile217:
		return "2.17.0"
	case ProfileNext:
		return "2.17.0-next"
	}
	return "2.0.5"
}

// atLeast reports whether p includes the changes of profile q.
func (p Profile) atLeast(q Profile) bool {
	rank := func(x Profile) int {
		for i, y := range allProfiles() {
			if x == y {
				return i
			}
		}
		return 0
	}
	return rank(p) >= rank(q)
}

// podNamesV2 reports whether Argo names pods <workflow>-<template>-<hash>
// (Argo 3.4's default, KFP ≥ 2.2) rather than by node ID.
func (p Profile) podNamesV2() bool { return p.atLeast(Profile25) }

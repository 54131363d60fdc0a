package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kf-run run --no-wait records its runs; kf-run stop, as a cancelled
// GitLab job's after_script runs it, terminates the one still running,
// leaves the one that ended alone, and is harmless when run again.
func TestStopFromStateFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hanging, quick := uniq(t, "hang"), uniq(t, "quick")
	shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": hanging, "run": map[string]any{"outcome": "hang"}}, nil)
	spec := example(t, "train/pipeline.yaml")
	annotations := filepath.Join(dir, "annotations.json")
	for _, name := range []string{hanging, quick} {
		r := kfRun(context.Background(), t, dir, []string{"KF_RUN_ANNOTATIONS=" + annotations},
			append(withSpec(exampleArgs(name), spec), "--no-wait")...)
		if r.code != 0 {
			t.Fatalf("kf-run run --no-wait: want exit 0:\n%s", r)
		}
	}
	hangRuns, quickRuns := shared.runsNamed(t, hanging, ""), shared.runsNamed(t, quick, "")
	if len(hangRuns) != 1 || len(quickRuns) != 1 {
		t.Fatalf("runs at KFP: %+v and %+v, want one each", hangRuns, quickRuns)
	}
	hangID, quickID := hangRuns[0].RunID, quickRuns[0].RunID

	// The default state file, in the working directory, lists both runs
	// with what stop needs and no credential.
	state, err := os.ReadFile(filepath.Join(dir, ".kf-run", "runs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(state)), "\n") {
		var rec struct {
			RunID               string `json:"run_id"`
			Pipeline, Host, URL string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("state line %q: %v", line, err)
		}
		if rec.Host != shared.URL || rec.Pipeline == "" || !strings.HasSuffix(rec.URL, "/#/runs/details/"+rec.RunID) {
			t.Errorf("state line %q lacks the host, pipeline or link", line)
		}
		ids = append(ids, rec.RunID)
	}
	if strings.Join(ids, " ") != hangID+" "+quickID {
		t.Fatalf("state file lists %v, want [%s %s]:\n%s", ids, hangID, quickID, state)
	}
	// The GitLab annotations report of the last run links its run.
	var ann map[string][]map[string]map[string]string
	b, err := os.ReadFile(annotations)
	if err != nil || json.Unmarshal(b, &ann) != nil || len(ann["kf-run"]) != 1 ||
		!strings.HasSuffix(ann["kf-run"][0]["external_link"]["url"], "/#/runs/details/"+quickID) {
		t.Errorf("annotations report (%v):\n%s", err, b)
	}

	shared.awaitRun(t, quick, "", "SUCCEEDED")
	shared.awaitRun(t, hanging, "", "RUNNING")
	r := kfRun(context.Background(), t, dir, nil, "stop", "--host", shared.URL)
	if r.code != 0 {
		t.Fatalf("kf-run stop: want exit 0:\n%s", r)
	}
	for _, want := range []string{
		"run " + hangID + " terminated at KFP (was RUNNING)",
		"run " + quickID + " had already ended SUCCEEDED",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("kf-run stop output lacks %q:\n%s", want, r)
		}
	}
	// KFP 2.0.5 goes CANCELING, then FAILED on Argo's final report.
	shared.awaitRun(t, hanging, "", "FAILED", "CANCELED")
	if _, err := os.Stat(filepath.Join(dir, ".kf-run", "runs.jsonl")); !os.IsNotExist(err) {
		t.Errorf("the state file still lists runs after every run was stopped: %v", err)
	}

	r = kfRun(context.Background(), t, dir, nil, "stop", "--host", shared.URL)
	if r.code != 0 || !strings.Contains(r.stdout, "No runs to stop") {
		t.Errorf("kf-run stop again: want exit 0 and nothing to do:\n%s", r)
	}
}

// A run that waited to its end leaves the state file; one kf-run could
// not terminate stays for kf-run stop, whose failure is exit 1.
func TestStopStateFileFollowsRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state", "runs.jsonl")
	env := []string{"KF_RUN_STATE_FILE=" + state}
	name := uniq(t, "done")
	r := kfRun(context.Background(), t, dir, env, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a run kf-run saw succeed is still in the state file: %v", err)
	}

	// A run recorded on another KFP is not touched, and says why.
	line := `{"run_id":"elsewhere-1","pipeline":"train","host":"http://127.0.0.1:9/other","submitted_at":"2026-11-30T12:00:00Z"}` + "\n"
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	r = kfRun(context.Background(), t, dir, nil, "stop", "--host", shared.URL, "--state", state)
	if r.code != 1 || !strings.Contains(r.stdout, "run elsewhere-1 was started through http://127.0.0.1:9/other") {
		t.Errorf("want exit 1 naming the other host:\n%s", r)
	}
	if b, _ := os.ReadFile(state); string(b) != line {
		t.Errorf("the run that could not be stopped left the state file: %q", b)
	}
}

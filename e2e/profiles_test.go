package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// kfpProfiles are the KFP server versions the sandbox stands for
// (kfp-sandbox --kfp-profile): KFP 2.0.5's own server code, plus a thin
// layer for what 2.5 and 2.17 change on the wire, and "next", the task API
// of KFP PR #13986.
var kfpProfiles = []string{"2.0", "2.5", "2.17", "next"}

// profileSandboxes are started once per profile (single-user) and shared.
type profileSandboxes struct {
	mu  sync.Mutex
	sbs map[string]*sandbox
	err map[string]error
}

var byProfile = &profileSandboxes{sbs: map[string]*sandbox{}, err: map[string]error{}}

// forProfile returns the shared single-user sandbox of a KFP profile.
func forProfile(t *testing.T, profile string) *sandbox {
	t.Helper()
	if profile == "2.0" {
		return shared
	}
	byProfile.mu.Lock()
	defer byProfile.mu.Unlock()
	if s, ok := byProfile.sbs[profile]; ok {
		return s
	}
	if err := byProfile.err[profile]; err != nil {
		t.Fatal(err)
	}
	s, err := start(context.Background(), "--step-duration", "40ms", "--kfp-profile", profile)
	if err != nil {
		byProfile.err[profile] = err
		t.Fatal(err)
	}
	byProfile.sbs[profile] = s
	return s
}

func (p *profileSandboxes) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sbs {
		s.stop()
	}
}

func testdataPipeline(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "sandbox", "testdata", "pipelines", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A failure deep inside loops, a sub-pipeline, an exit handler or a
// condition is named by its path, with its own log tail and the path the
// log came by, in the job log and the summary, on every KFP version.
func TestTriageNestedFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, task string
		wantPath         string
		wantItem         string
	}{
		{"loops", "loops.yaml", "print-text-2", "for-loop-2[2] › for-loop-4[1] › print-text-2", `for-loop-2[2] = {"rows":"5","shard":"c"}`},
		{"sub-pipeline", "sub_pipeline.yaml", "normalize", "prepare › normalize", ""},
		{"exit-handler", "exit_handler.yaml", "train", "exit-handler-1 › train", ""},
		{"condition", "if_else.yaml", "say-2", "condition-branches-1 › condition-3 › say-2", ""},
	}
	for _, profile := range kfpProfiles {
		for _, tc := range cases {
			t.Run(profile+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				sb := forProfile(t, profile)
				name := uniq(t, "triage")
				logLine := "boom in " + tc.task + " " + profile
				sb.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
					tc.task: map[string]any{"outcome": "fail", "message": "exit code 1", "log": []string{"starting " + tc.task, logLine}},
					// if_else: the other branch's task does not run.
					"say": map[string]any{"outcome": "skip"},
				}}, nil)
				dir := t.TempDir()
				summary := filepath.Join(dir, "summary.md")
				r := kfRun(context.Background(), t, dir, githubEnv(summary, filepath.Join(dir, "out")),
					"run", "--spec", testdataPipeline(t, tc.file), "--host", sb.URL, "--run-name", name, "--experiment", "e2e-triage")
				if r.code != 3 {
					t.Fatalf("want exit 3 (run failed):\n%s", r)
				}
				sum, err := os.ReadFile(summary)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"failed: " + tc.wantPath, logLine} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("job log lacks %q:\n%s", want, r)
					}
				}
				if strings.Contains(r.stderr, "no log of") {
					t.Errorf("a step's log could not be had:\n%s", r)
				}
				// Never a driver's log as the step's.
				if strings.Contains(r.stderr, "I sandbox: system-") {
					t.Errorf("a driver's log was shown:\n%s", r)
				}
				md := string(sum)
				for _, want := range []string{strings.ReplaceAll(strings.ReplaceAll(tc.wantPath, "[", "&#91;"), "]", "&#93;"), logLine, ", from "} {
					if !strings.Contains(md, want) {
						t.Errorf("summary lacks %q:\n%s", want, md)
					}
				}
				if tc.wantItem != "" && !strings.Contains(r.stderr, tc.wantItem) {
					t.Errorf("job log lacks the loop item %q:\n%s", tc.wantItem, r)
				}
			})
		}
	}
}

// What a CI job does, on every KFP profile, in multi-user mode behind the
// /pipeline prefix as on Kubeflow: upload a pipeline version and reuse it
// on a re-run, survive a parallel job uploading the same pipeline, triage
// a failure with its log, refuse a user without access clearly, and
// terminate a run on interrupt.
func TestProfileLifecycle(t *testing.T) {
	t.Parallel()
	for _, profile := range kfpProfiles {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			s, err := start(context.Background(), "--step-duration", "40ms", "--multi-user", "--prefix", "/pipeline",
				"--kfp-profile", profile, "--token", aliceTok+"="+alice, "--token", malTok+"=mallory@example.com",
				"--allow", alice+"=team-a", "--allow", "e2e@example.com=*")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.stop)
			spec := example(t, "train/pipeline.yaml")
			env := []string{"KF_RUN_TOKEN=" + aliceTok, "GITLAB_CI=true", "CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567",
				"CI_COMMIT_SHORT_SHA=01234567", "CI_PROJECT_PATH=acme/ml"}
			config := func(dir, pipeline, run string) {
				writeFile(t, filepath.Join(dir, "kf-run.yaml"), `kubeflow:
  host: `+s.URL+`
  namespace: team-a
defaults:
  experiment: e2e-`+profile+`
pipelines:
  - name: train
    spec: `+spec+`
    pipeline_name: `+pipeline+`
    version: "v-{{ .Git.ShortSHA }}"
    run_name: `+run+`
    parameters: {dataset: gs://e2e/x.csv}
`)
			}

			t.Run("upload and reuse", func(t *testing.T) {
				dir, pipeline := t.TempDir(), uniq(t, "pl")
				config(dir, pipeline, uniq(t, "reuse"))
				for i, want := range []string{"(new)", "(reused)"} {
					r := kfRun(context.Background(), t, dir, env, "run")
					if r.code != 0 || !strings.Contains(r.stderr, "pipeline version: v-01234567 "+want) {
						t.Fatalf("run %d: want exit 0 and version v-01234567 %s:\n%s", i+1, want, r)
					}
				}
			})

			t.Run("parallel uploads", func(t *testing.T) {
				pipeline := uniq(t, "race")
				var wg sync.WaitGroup
				results := make([]result, 3)
				for i := range results {
					dir := t.TempDir()
					config(dir, pipeline, uniq(t, "race"))
					wg.Add(1)
					go func() {
						defer wg.Done()
						results[i] = kfRun(context.Background(), t, dir, env, "run")
					}()
				}
				wg.Wait()
				for i, r := range results {
					if r.code != 0 {
						t.Errorf("job %d: want exit 0 (a parallel upload is not an error):\n%s", i+1, r)
					}
				}
			})

			t.Run("triage", func(t *testing.T) {
				dir, name := t.TempDir(), uniq(t, "fail")
				s.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
					"train": map[string]any{"outcome": "fail", "log": []string{"MemoryError: " + profile}},
				}}, nil)
				r := kfRun(context.Background(), t, dir, env, "run", "--spec", spec, "--host", s.URL, "--namespace", "team-a",
					"--run-name", name, "--param", "dataset=x", "--experiment", "e2e-"+profile)
				if r.code != 3 || !strings.Contains(r.stderr, "failed: train") || !strings.Contains(r.stderr, "MemoryError: "+profile) {
					t.Errorf("want exit 3 with train's log tail:\n%s", r)
				}
			})

			t.Run("no access", func(t *testing.T) {
				r := kfRun(context.Background(), t, t.TempDir(), []string{"KF_RUN_TOKEN=" + malTok}, "run", "--spec", spec, "--host", s.URL,
					"--namespace", "team-a", "--param", "dataset=x")
				if r.code != 1 || !strings.Contains(r.stdout+r.stderr, `user "mallory@example.com"`) {
					t.Errorf("want exit 1 naming the user:\n%s", r)
				}
			})

			t.Run("terminate", func(t *testing.T) {
				name := uniq(t, "stop")
				s.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "run": map[string]any{"outcome": "hang"}}, nil)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cmdDone := make(chan result, 1)
				go func() {
					cmdDone <- kfRun(ctx, t, t.TempDir(), env, "run", "--spec", spec, "--host", s.URL, "--namespace", "team-a",
						"--run-name", name, "--param", "dataset=x", "--experiment", "e2e-"+profile)
				}()
				s.awaitRun(t, name, "&namespace=team-a", "RUNNING")
				cancel()
				r := <-cmdDone
				if r.code != 130 || !strings.Contains(r.stderr, "terminated at KFP") {
					t.Fatalf("want exit 130, the run terminated:\n%s", r)
				}
				// Terminate ends FAILED on every version up to 2.17.
				s.awaitRun(t, name, "&namespace=team-a", "FAILED", "CANCELED")
			})
		})
	}
}

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type apiRecurring struct {
	ID          string `json:"recurring_run_id"`
	Name        string `json:"display_name"`
	Description string `json:"description"`
	Status      string `json:"status"`
	NoCatchup   bool   `json:"no_catchup"`
	Namespace   string `json:"namespace"`
	Max         string `json:"max_concurrency"`
	runSource
	Trigger struct {
		Cron *struct {
			Cron string `json:"cron"`
		} `json:"cron_schedule"`
		Periodic *struct {
			Interval string `json:"interval_second"`
		} `json:"periodic_schedule"`
	} `json:"trigger"`
}

// recurring lists every recurring run (query: "&namespace=team-a").
func (s *sandbox) recurring(t *testing.T, query string) []apiRecurring {
	t.Helper()
	var res struct {
		Runs []apiRecurring `json:"recurringRuns"`
	}
	s.call(t, "GET", "/apis/v2beta1/recurringruns?page_size=200"+query, nil, &res)
	return res.Runs
}

type sandboxRequest struct {
	Method, Path string
	Status       int
}

// writes returns the API requests since the last clear that could change
// something: every POST and DELETE outside the sandbox's own control API.
func (s *sandbox) writes(t *testing.T) []string {
	t.Helper()
	var reqs []sandboxRequest
	s.call(t, "GET", "/_sandbox/requests", nil, &reqs)
	var out []string
	for _, r := range reqs {
		if (r.Method == "POST" || r.Method == "DELETE" || r.Method == "PUT" || r.Method == "PATCH") && !strings.Contains(r.Path, "/_sandbox/") {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func scheduleEnv(repo string) []string {
	return []string{"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=" + repo, "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567",
		"GITHUB_REF=refs/heads/main", "GITHUB_EVENT_NAME=push"}
}

func writeConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The whole life of a schedule against KFP 2.0.5's own server code, on a
// sandbox of its own so its request log counts only this test's writes.
func TestScheduleSync(t *testing.T) {
	t.Parallel()
	s, err := start(context.Background(), "--step-duration", "40ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	dir := t.TempDir()
	env := scheduleEnv("acme/ml")
	spec := example(t, "train/pipeline.yaml")
	cfg := func(schedules string) string {
		return fmt.Sprintf(`kubeflow:
  host: %s
defaults: {experiment: nightly}
pipelines:
  - name: train
    spec: %s
    version: "v-{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://e2e/data.csv}
%s`, s.URL, spec, schedules)
	}
	sync := func(args ...string) result {
		t.Helper()
		s.call(t, "DELETE", "/_sandbox/requests", nil, nil)
		return kfRun(context.Background(), t, dir, env, append([]string{"schedule", "sync"}, args...)...)
	}
	both := `    schedule:
      cron: "0 2 * * *"
      parameters: {epochs: 7}
  - name: eval
    spec: ` + spec + `
    version: "v-{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://e2e/data.csv}
    schedule: {every: 6h, max_concurrency: 2}
`
	writeConfig(t, dir, cfg(both))

	// A dry run says what it would do, uploads and writes nothing.
	r := sync("--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "create     train: cron 0 0 2 * * *") || !strings.Contains(r.stderr, "cronScheduleTimezone") {
		t.Fatalf("dry run: want exit 0, a plan to create, the time zone said:\n%s", r)
	}
	if w := s.writes(t); len(w) != 0 || len(s.recurring(t, "")) != 0 {
		t.Fatalf("the dry run wrote %v", w)
	}

	// Create: the 5-field cron is stored as KFP reads it, seconds first.
	summary := filepath.Join(dir, "summary.md")
	if r := sync("--summary-file", summary); r.code != 0 {
		t.Fatalf("sync: want exit 0:\n%s", r)
	}
	rr := s.recurring(t, "")
	if len(rr) != 2 {
		t.Fatalf("recurring runs %+v, want train and eval", rr)
	}
	byName := map[string]apiRecurring{}
	for _, x := range rr {
		byName[x.Name] = x
	}
	train, eval := byName["train"], byName["eval"]
	if train.Trigger.Cron == nil || train.Trigger.Cron.Cron != "0 0 2 * * *" || train.Status != "ENABLED" || !train.NoCatchup || train.Max != "1" {
		t.Errorf("train at KFP: %+v; want cron 0 0 2 * * *, enabled, no catch-up, max 1", train)
	}
	if eval.Trigger.Periodic == nil || eval.Trigger.Periodic.Interval != "21600" || eval.Max != "2" {
		t.Errorf("eval at KFP: %+v; want every 21600 s, max 2", eval)
	}
	if train.Ref == nil || train.Ref.PipelineID == "" || train.Ref.VersionID == "" {
		t.Fatalf("train points at %+v, want a pipeline version by both ids", train.Ref)
	}
	var version struct {
		Name string `json:"display_name"`
	}
	s.call(t, "GET", "/apis/v2beta1/pipelines/"+train.Ref.PipelineID+"/versions/"+train.Ref.VersionID, nil, &version)
	if version.Name != "v-0123456" {
		t.Errorf("train runs version %q, want this commit's v-0123456", version.Name)
	}
	if p := train.Runtime.Parameters; p["epochs"] != float64(7) || p["dataset"] != "gs://e2e/data.csv" {
		t.Errorf("train parameters %v: want the schedule's over the pipeline's", p)
	}
	if !strings.Contains(train.Description, "kf-run schedule: acme/ml kf-run.yaml train") {
		t.Errorf("description %q", train.Description)
	}
	if b, _ := os.ReadFile(summary); !strings.Contains(string(b), "| train | create | cron 0 0 2 * * * |") {
		t.Errorf("summary:\n%s", b)
	}

	// Nothing changed: not a single write.
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "Nothing to change") {
		t.Fatalf("second sync:\n%s", r)
	}
	if w := s.writes(t); len(w) != 0 {
		t.Errorf("the second sync wrote %v, want nothing", w)
	}

	// A parameter changes: the new one is created before the old one is
	// disabled, then the old one (no active runs) deleted.
	writeConfig(t, dir, cfg(strings.Replace(both, "epochs: 7", "epochs: 8", 1)))
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "replace    train") {
		t.Fatalf("sync after a change: want a replace:\n%s", r)
	}
	w := s.writes(t)
	create := slices.Index(w, "POST /apis/v2beta1/recurringruns")
	disable := slices.Index(w, "POST /apis/v2beta1/recurringruns/"+train.ID+":disable")
	del := slices.Index(w, "DELETE /apis/v2beta1/recurringruns/"+train.ID)
	if create < 0 || disable < create || del < disable {
		t.Errorf("writes %v: want create, then disable of %s, then its delete", w, train.ID)
	}
	rr = s.recurring(t, "")
	var trains []apiRecurring
	for _, x := range rr {
		if x.Name == "train" {
			trains = append(trains, x)
		}
	}
	if len(trains) != 1 || trains[0].ID == train.ID || trains[0].Runtime.Parameters["epochs"] != float64(8) || trains[0].Status != "ENABLED" {
		t.Fatalf("train at KFP after the replace: %+v", trains)
	}

	// eval leaves the config: disabled, kept.
	writeConfig(t, dir, cfg("    schedule:\n      cron: \"0 2 * * *\"\n      parameters: {epochs: 8}\n"))
	if r := sync(); r.code != 0 || !strings.Contains(r.stderr, "disable    eval") {
		t.Fatalf("sync without eval:\n%s", r)
	}
	var got apiRecurring
	s.call(t, "GET", "/apis/v2beta1/recurringruns/"+eval.ID, nil, &got)
	if got.Status != "DISABLED" {
		t.Errorf("eval is %s, want DISABLED", got.Status)
	}
	if w := s.writes(t); !slices.Equal(w, []string{"POST /apis/v2beta1/recurringruns/" + eval.ID + ":disable"}) {
		t.Errorf("writes %v, want only eval's disable", w)
	}
	// With --prune: deleted.
	if r := sync("--prune"); r.code != 0 || !strings.Contains(r.stderr, "delete     eval") {
		t.Fatalf("sync --prune:\n%s", r)
	}
	for _, x := range s.recurring(t, "") {
		if x.ID == eval.ID {
			t.Errorf("eval still at KFP after --prune: %+v", x)
		}
	}
	// And once more: nothing.
	if r := sync("--prune"); r.code != 0 || len(s.writes(t)) != 0 {
		t.Errorf("a last sync wrote %v:\n%s", s.writes(t), r)
	}
}

// A time zone prefix is refused before anything is sent: KFP has one time
// zone, its controller's.
func TestScheduleCronTZRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf(`kubeflow:
  host: %s
pipelines:
  - name: train
    spec: %s
    version: v1
    parameters: {dataset: gs://e2e/data.csv}
    schedule:
      cron: "CRON_TZ=Europe/Paris 0 2 * * *"
`, shared.URL, example(t, "train/pipeline.yaml")))
	r := kfRun(context.Background(), t, dir, scheduleEnv("acme/tz"), "schedule", "sync")
	if r.code != 2 || !strings.Contains(r.stderr, "kf-run.yaml:9: pipelines[0].schedule.cron") || !strings.Contains(r.stderr, "cronScheduleTimezone") {
		t.Fatalf("want exit 2 at kf-run.yaml:9 naming cronScheduleTimezone:\n%s", r)
	}
	r = kfRun(context.Background(), t, dir, nil, "schedule", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Exit codes:\n  0    KFP matches the config") {
		t.Errorf("schedule --help: want its exit codes:\n%s", r)
	}
}

// On multi-user KFP behind /pipeline, the schedules live in the profile's
// namespace, and a second sync writes nothing there either.
func TestScheduleMultiUser(t *testing.T) {
	t.Parallel()
	s := startMultiUser(t)
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf(`kubeflow:
  host: %s
  namespace: team-a
  auth: {token: "${KF_TOKEN}"}
defaults: {experiment: nightly}
pipelines:
  - name: train
    spec: %s
    version: "{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://e2e/data.csv}
    schedule: {every: 1h}
`, s.URL, example(t, "train/pipeline.yaml")))
	env := append(scheduleEnv("acme/team"), "KF_TOKEN="+aliceTok)
	if r := kfRun(context.Background(), t, dir, env, "schedule", "sync"); r.code != 0 {
		t.Fatalf("sync: want exit 0:\n%s", r)
	}
	rr := s.recurring(t, "&namespace="+url.QueryEscape("team-a"))
	if len(rr) != 1 || rr[0].Namespace != "team-a" || rr[0].Status != "ENABLED" {
		t.Fatalf("recurring runs in team-a: %+v", rr)
	}
	s.call(t, "DELETE", "/_sandbox/requests", nil, nil)
	if r := kfRun(context.Background(), t, dir, env, "schedule", "sync"); r.code != 0 || !strings.Contains(r.stderr, "unchanged") {
		t.Fatalf("second sync:\n%s", r)
	}
	if w := s.writes(t); len(w) != 0 {
		t.Errorf("the second sync wrote %v", w)
	}
}

// schedule sync loads the config as run does: a pipeline with compile:
// is planned from the spec its command writes, not from the stale one in
// place (another pipeline, without the dataset parameter), --dry-run
// included; --no-compile reads the stale one.
func TestScheduleSyncCompiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join("..", "sandbox", "testdata", "pipelines", "two_step.yaml")
	copyFile(t, stale, filepath.Join(dir, "build", "train.yaml"))
	copyFile(t, example(t, "train/pipeline.yaml"), filepath.Join(dir, "src", "train.yaml"))
	writeConfig(t, dir, fmt.Sprintf(`kubeflow:
  host: %s
pipelines:
  - name: train
    compile: cp src/train.yaml build/train.yaml
    spec: build/train.yaml
    version: "v-{{ .Git.ShortSHA }}"
    parameters: {dataset: gs://e2e/data.csv}
    schedule: {cron: "0 2 * * *"}
`, shared.URL))
	env := scheduleEnv(uniq(t, "acme/compile"))

	r := kfRun(context.Background(), t, dir, env, "schedule", "sync", "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run: want exit 0:\n%s", r)
	}
	i, j := strings.Index(r.stderr, "::group::Compile pipeline specs"), strings.Index(r.stderr, "create     train: cron 0 0 2 * * *")
	if i < 0 || j < i || !strings.Contains(r.stderr, "train: compiled in ") {
		t.Errorf("dry run: want the compile, then a plan to create train:\n%s", r)
	}

	copyFile(t, stale, filepath.Join(dir, "build", "train.yaml"))
	r = kfRun(context.Background(), t, dir, env, "schedule", "sync", "--dry-run", "--no-compile")
	if r.code != 2 || strings.Contains(r.stderr, "Compile pipeline specs") || !strings.Contains(r.stderr, `"dataset"`) {
		t.Errorf("--no-compile: want exit 2 from the stale spec's parameters, no compile:\n%s", r)
	}
}

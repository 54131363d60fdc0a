package e2e

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// This file runs the composite Action (action.yml) as GitHub's runner does:
// each step's env: and run: are evaluated, the script runs with
// `bash --noprofile --norc -eo pipefail FILE` and the runner's variables,
// and the file commands (GITHUB_PATH, GITHUB_ENV, GITHUB_OUTPUT) are applied
// between steps. Releases come from a loopback server standing in for the
// GitHub release downloads (KF_RUN_DOWNLOAD_BASE).

// actionYML is the part of action.yml the runner reads; unknown keys fail
// the test, so a key the emulation does not implement cannot slip in.
type actionYML struct {
	Name        string
	Description string
	Author      string
	Branding    map[string]string
	Inputs      map[string]struct {
		Description string
		Required    bool
		Default     string
	}
	Outputs map[string]struct {
		Description string
		Value       string
	}
	Runs struct {
		Using string
		Steps []struct {
			Name  string
			ID    string
			Shell string
			Env   map[string]string
			Run   string
		}
	}
}

func loadAction(t testing.TB, path string) actionYML {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var a actionYML
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml has something the emulated runner does not implement: %v", err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("action.yml runs.using = %q, want composite", a.Runs.Using)
	}
	return a
}

func (a actionYML) mustHaveStep(t testing.TB, id string) {
	t.Helper()
	for _, st := range a.Runs.Steps {
		if st.ID == id {
			return
		}
	}
	t.Fatalf("action.yml refers to step %q, which it does not have", id)
}

// actionJob is one use of the action in a job.
type actionJob struct {
	actionDir string            // GITHUB_ACTION_PATH
	workspace string            // GITHUB_WORKSPACE, where steps start
	with      map[string]string // the workflow's with:
	github    map[string]string // github.token, github.action_ref
	runnerOS  string            // RUNNER_OS
	arch      string            // RUNNER_ARCH
	temp      string            // RUNNER_TEMP
	toolCache string            // RUNNER_TOOL_CACHE
	path      []string          // the job's PATH
	env       []string          // the job's other env
	// onStdout, if set, sees each stdout line of each step as it comes.
	onStdout func(step, line string)
	// only, if set, runs just these step ids.
	only []string
}

type stepRun struct {
	id      string
	pid     int // the step's process
	code    int
	stdout  string
	stderr  string
	outputs map[string]string
	summary string
}

type jobRun struct {
	steps   []stepRun
	outputs map[string]string // the action's outputs
	path    []string          // PATH entries added through GITHUB_PATH
}

func (r jobRun) String() string {
	var b strings.Builder
	for _, s := range r.steps {
		fmt.Fprintf(&b, "step %s: exit %d\n--- stdout\n%s--- stderr\n%s", s.id, s.code, s.stdout, s.stderr)
	}
	return b.String()
}

var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// eval replaces the ${{ }} expressions action.yml uses (inputs.NAME with
// its default, github.token, github.action_ref, steps.ID.outputs.NAME,
// toJSON(steps.ID.outputs)).
// Any other form fails the test: the emulation must not drift from what it
// claims.
func (j *actionJob) eval(t testing.TB, a actionYML, s string, steps map[string]map[string]string) string {
	t.Helper()
	out := exprRE.ReplaceAllStringFunc(s, func(m string) string {
		e := exprRE.FindStringSubmatch(m)[1]
		f := strings.Split(e, ".")
		switch {
		case len(f) == 2 && f[0] == "inputs" && regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(f[1]):
			in, ok := a.Inputs[f[1]]
			if !ok {
				t.Fatalf("action.yml uses %s: no such input", m)
			}
			if v, ok := j.with[f[1]]; ok {
				return v
			}
			return j.eval(t, a, in.Default, steps)
		case e == "github.token" || e == "github.action_ref":
			return j.github[f[1]]
		case len(f) == 4 && f[0] == "steps" && f[2] == "outputs":
			a.mustHaveStep(t, f[1])
			return steps[f[1]][f[3]]
		case regexp.MustCompile(`^toJSON\(steps\.[a-z0-9_-]+\.outputs\)$`).MatchString(e):
			id := strings.Split(strings.TrimPrefix(e, "toJSON(steps."), ".")[0]
			a.mustHaveStep(t, id)
			m := steps[id] // a step that did not run has no outputs
			if m == nil {
				m = map[string]string{}
			}
			b, _ := json.MarshalIndent(m, "", "  ")
			return string(b)
		}
		t.Fatalf("action.yml uses the expression %s, which the emulated runner does not implement", m)
		return ""
	})
	if strings.Contains(exprRE.ReplaceAllString(s, ""), "${{") {
		t.Fatalf("unterminated expression in %q", s)
	}
	return out
}

// run runs the action's steps in order until one fails.
func (j *actionJob) run(ctx context.Context, t testing.TB) jobRun {
	t.Helper()
	a := loadAction(t, filepath.Join(j.actionDir, "action.yml"))
	for k := range j.with {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("with: %s: action.yml has no such input", k)
		}
	}
	var res jobRun
	outputs := map[string]map[string]string{}
	added := map[string]string{} // GITHUB_ENV
	dir := t.TempDir()
	for i, st := range a.Runs.Steps {
		if st.Shell != "bash" {
			t.Fatalf("step %s: shell %q, want bash", st.ID, st.Shell)
		}
		if st.ID == "" {
			t.Fatalf("step %d (%s) has no id", i, st.Name)
		}
		if j.only != nil && !slices.Contains(j.only, st.ID) {
			continue
		}
		files := map[string]string{}
		for _, k := range []string{"GITHUB_PATH", "GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
			files[k] = filepath.Join(dir, fmt.Sprintf("%d_%s", i, strings.ToLower(k)))
			if err := os.WriteFile(files[k], nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		script := filepath.Join(dir, fmt.Sprintf("%d.sh", i))
		if err := os.WriteFile(script, []byte(j.eval(t, a, st.Run, outputs)), 0o644); err != nil {
			t.Fatal(err)
		}
		// The runner's order: job env, the file-command env, the runner's
		// variables, then the step's env:.
		path := append(slices.Clone(res.path), j.path...)
		home := filepath.Join(dir, "home")
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		env := append([]string{"HOME=" + home, "GITHUB_WORKSPACE=" + j.workspace}, j.env...)
		for k, v := range added {
			env = append(env, k+"="+v)
		}
		env = append(env, "PATH="+strings.Join(path, string(os.PathListSeparator)),
			"GITHUB_ACTIONS=true", "CI=true", "GITHUB_ACTION_PATH="+j.actionDir,
			"RUNNER_OS="+j.runnerOS, "RUNNER_ARCH="+j.arch, "RUNNER_TEMP="+j.temp, "RUNNER_TOOL_CACHE="+j.toolCache)
		for k, f := range files {
			env = append(env, k+"="+f)
		}
		for k, v := range st.Env {
			env = append(env, k+"="+j.eval(t, a, v, outputs))
		}
		s := j.exec(ctx, t, st.ID, env, script)
		s.outputs = readFileCommand(t, files["GITHUB_OUTPUT"])
		outputs[st.ID] = s.outputs
		for k, v := range readFileCommand(t, files["GITHUB_ENV"]) {
			added[k] = v
		}
		b, _ := os.ReadFile(files["GITHUB_PATH"])
		for _, p := range strings.Split(string(b), "\n") {
			if p = strings.TrimSpace(p); p != "" {
				res.path = append([]string{p}, res.path...) // the newest comes first
			}
		}
		sum, _ := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
		s.summary = string(sum)
		res.steps = append(res.steps, s)
		if s.code != 0 {
			break
		}
	}
	res.outputs = map[string]string{}
	for k, o := range a.Outputs {
		res.outputs[k] = j.eval(t, a, o.Value, outputs)
	}
	return res
}

func (j *actionJob) exec(ctx context.Context, t testing.TB, id string, env []string, script string) stepRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir = j.workspace
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			if j.onStdout != nil {
				j.onStdout(id, sc.Text())
			}
			stdout.WriteString(sc.Text() + "\n")
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Start()
	if err != nil {
		t.Fatalf("step %s: %v", id, err)
	}
	s := stepRun{id: id, pid: cmd.Process.Pid}
	err = cmd.Wait()
	pw.Close()
	<-done
	s.stdout, s.stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		s.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			s.code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("step %s: %v", id, err)
	}
	return s
}

// readFileCommand parses a GITHUB_OUTPUT/GITHUB_ENV file as the runner
// does: NAME=VALUE lines and NAME<<DELIMITER blocks.
func readFileCommand(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSuffix(lines[i], "\r")
		if l == "" {
			continue
		}
		eq, heredoc := strings.Index(l, "="), strings.Index(l, "<<")
		if eq >= 0 && (heredoc < 0 || eq < heredoc) {
			out[l[:eq]] = l[eq+1:]
			continue
		}
		if heredoc < 0 {
			t.Fatalf("%s: invalid line %q", path, l)
		}
		name, delim := l[:heredoc], l[heredoc+2:]
		var v []string
		for i++; ; i++ {
			if i >= len(lines) {
				t.Fatalf("%s: matching delimiter not found %q", path, delim)
			}
			if strings.TrimSuffix(lines[i], "\r") == delim {
				break
			}
			v = append(v, lines[i])
		}
		out[name] = strings.Join(v, "\n")
	}
	return out
}

// release is a set of release archives and their sums, as goreleaser
// publishes them (contract: kf-run_<V>_<os>_<arch>.tar.gz or .zip with the
// binary at the root, checksums.txt in sha256sum format).
type release struct {
	version string // without v
	files   map[string][]byte
	sums    map[string]string // archive -> sha256 hex
}

var archiveRE = regexp.MustCompile(`^kf-run_(.+)_(linux|darwin|windows)_(amd64|arm64)\.(tar\.gz|zip)$`)

var (
	releaseOnce sync.Once
	theRelease  *release
	releaseErr  error
)

// getRelease is the goreleaser snapshot in KF_RUN_SNAPSHOT_DIR (mandatory
// when set), else a release of KF_RUN_BIN for this host made here in the
// same layout (plus a windows zip of it, to test the zip path).
func getRelease(t testing.TB) *release {
	t.Helper()
	releaseOnce.Do(func() {
		if dir := os.Getenv("KF_RUN_SNAPSHOT_DIR"); dir != "" {
			theRelease, releaseErr = snapshotRelease(dir)
		} else {
			theRelease, releaseErr = hostRelease()
		}
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return theRelease
}

func snapshotRelease(dir string) (*release, error) {
	sums, err := os.ReadFile(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		return nil, fmt.Errorf("KF_RUN_SNAPSHOT_DIR: %w (run make snapshot)", err)
	}
	r := &release{files: map[string][]byte{}, sums: map[string]string{}}
	for _, l := range strings.Split(string(sums), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		m := archiveRE.FindStringSubmatch(f[1])
		if m == nil {
			continue
		}
		if r.version != "" && r.version != m[1] {
			return nil, fmt.Errorf("KF_RUN_SNAPSHOT_DIR: archives of two versions, %s and %s", r.version, m[1])
		}
		r.version = m[1]
		b, err := os.ReadFile(filepath.Join(dir, f[1]))
		if err != nil {
			return nil, fmt.Errorf("KF_RUN_SNAPSHOT_DIR: checksums.txt lists %s: %w", f[1], err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != f[0] {
			return nil, fmt.Errorf("KF_RUN_SNAPSHOT_DIR: %s does not match its line in checksums.txt", f[1])
		}
		r.files[f[1]], r.sums[f[1]] = b, f[0]
	}
	for _, want := range []string{hostArchive(r.version), "kf-run_" + r.version + "_windows_amd64.zip"} {
		if _, ok := r.files[want]; !ok {
			return nil, fmt.Errorf("KF_RUN_SNAPSHOT_DIR: no %s in checksums.txt", want)
		}
	}
	return r, nil
}

func hostArchive(v string) string {
	return fmt.Sprintf("kf-run_%s_%s_%s.tar.gz", v, runtime.GOOS, runtime.GOARCH)
}

func hostRelease() (*release, error) {
	bin, err := os.ReadFile(kfRunBin)
	if err != nil {
		return nil, err
	}
	r := &release{version: "0.0.0-e2e", files: map[string][]byte{}, sums: map[string]string{}}
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "kf-run", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg})
	tw.Write(bin)
	for _, name := range []string{"README.md", "LICENSE"} { // goreleaser adds these beside it
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
		tw.Write([]byte("text"))
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		return nil, err
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("kf-run.exe")
	w.Write(bin)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	r.files[hostArchive(r.version)] = tgz.Bytes()
	r.files["kf-run_"+r.version+"_windows_amd64.zip"] = zb.Bytes()
	for n, b := range r.files {
		h := sha256.Sum256(b)
		r.sums[n] = hex.EncodeToString(h[:])
	}
	return r, nil
}

// checksums is action/checksums.txt: the archives' lines only.
func (r *release) checksums() string {
	var names []string
	for n := range r.sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", r.sums[n], n)
	}
	return b.String()
}

// serve stands in for github.com/kf-run/kf-run/releases/download: it
// serves /v<V>/<archive>, through corrupt when set, and counts downloads.
func (r *release) serve(t testing.TB, corrupt func([]byte) []byte) (base string, downloads func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		name, ok := strings.CutPrefix(req.URL.Path, "/v"+r.version+"/")
		b, found := r.files[name]
		if !ok || !found {
			t.Errorf("release server: unexpected %s %s", req.Method, req.URL)
			http.NotFound(w, req)
			return
		}
		mu.Lock()
		n++
		mu.Unlock()
		if corrupt != nil {
			b = corrupt(slices.Clone(b))
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// copyAction copies what the runner downloads for the action (action.yml,
// action/, and for a source build the Go module) into a fresh directory,
// with action/VERSION and action/checksums.txt when r is not nil.
func copyAction(t testing.TB, r *release, source bool) string {
	t.Helper()
	dst := t.TempDir()
	roots := []string{"action.yml", "action"}
	if source {
		roots = append(roots, "go.mod", "go.sum", "cmd", "internal")
	}
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join("..", root), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel("..", p)
			if rel == filepath.Join("action", "VERSION") || rel == filepath.Join("action", "checksums.txt") {
				return nil // this copy is not the repository's release state
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, fi.Mode().Perm())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if r != nil {
		write(t, filepath.Join(dst, "action", "VERSION"), "v"+r.version+"\n")
		write(t, filepath.Join(dst, "action", "checksums.txt"), r.checksums())
	}
	return dst
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runnerTools is a directory with just the commands a hosted runner has
// that the action's scripts and kf-run use, so PATH holds no go unless a
// test adds it.
func runnerTools(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"bash", "cat", "chmod", "mkdir", "mktemp", "mv", "rm", "tr", "awk", "sed", "tar", "gzip", "unzip", "curl", "sha256sum", "env", "git"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("the action needs %s on a runner: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func goDir(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(p)
}

func runnerArch() string {
	return map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
}

func runnerOS() string {
	return map[string]string{"linux": "Linux", "darwin": "macOS", "windows": "Windows"}[runtime.GOOS]
}

// newJob is a job on this host's platform with the given action copy.
func newJob(t testing.TB, actionDir string, path ...string) *actionJob {
	t.Helper()
	return &actionJob{
		actionDir: actionDir, workspace: t.TempDir(), with: map[string]string{},
		github:   map[string]string{"token": "ghs_e2eactiontoken"},
		runnerOS: runnerOS(), arch: runnerArch(), temp: t.TempDir(), toolCache: t.TempDir(),
		path: append(path, runnerTools(t)),
		env: []string{"GITHUB_REPOSITORY=acme/ml", "GITHUB_EVENT_NAME=push",
			"GITHUB_REF=refs/heads/main", "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef", "GITHUB_RUN_ID=7"},
	}
}

// (a) A release ref: the install step downloads and verifies the archive
// for this runner and puts kf-run on PATH; the run step runs the example to
// SUCCEEDED and the action's outputs come from it. A second job on the same
// runner reuses the installed copy and downloads nothing.
func TestActionInstallAndRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := getRelease(t)
	base, downloads := r.serve(t, nil)
	job := newJob(t, copyAction(t, r, false))
	job.env = append(job.env, "KF_RUN_DOWNLOAD_BASE="+base)
	job.with = map[string]string{"spec": example(t, "train/pipeline.yaml"), "host": shared.URL,
		"experiment": "e2e-action", "params": "dataset=gs://e2e/data.csv\n"}

	for i, wantDownloads := range []int{1, 1} {
		res := job.run(ctx, t)
		t.Logf("job %d:\n%s", i+1, res)
		if len(res.steps) != 2 || res.steps[1].code != 0 {
			t.Fatalf("job %d: want both steps to pass:\n%s", i+1, res)
		}
		if got := downloads(); got != wantDownloads {
			t.Errorf("job %d: %d downloads, want %d", i+1, got, wantDownloads)
		}
		if i == 1 && !strings.Contains(res.steps[0].stdout, "reusing") {
			t.Errorf("job 2 did not reuse the installed copy:\n%s", res)
		}
		inst := filepath.Join(job.toolCache, "kf-run", r.version, runtime.GOARCH)
		if diff := cmp.Diff([]string{inst}, res.path); diff != "" {
			t.Errorf("job %d: GITHUB_PATH (-want +got):\n%s", i+1, diff)
		}
		if res.outputs["state"] != "SUCCEEDED" || res.outputs["run-id"] == "" || !strings.Contains(res.outputs["run-url"], res.outputs["run-id"]) {
			t.Errorf("job %d: action outputs %v, want state SUCCEEDED with the run's id and link\n%s", i+1, res.outputs, res)
		}
		var all map[string]string
		if err := json.Unmarshal([]byte(res.outputs["all-outputs"]), &all); err != nil || all["run-id"] != res.outputs["run-id"] || all["state"] != "SUCCEEDED" {
			t.Errorf("job %d: all-outputs %q (%v), want the run step's outputs as JSON", i+1, res.outputs["all-outputs"], err)
		}
		var run apiRun
		shared.call(t, "GET", "/apis/v2beta1/runs/"+res.outputs["run-id"], nil, &run)
		if run.State != "SUCCEEDED" {
			t.Errorf("job %d: the sandbox says run %s is %s", i+1, run.RunID, run.State)
		}
		if !strings.Contains(res.steps[1].summary, "SUCCEEDED") {
			t.Errorf("job %d: no job summary:\n%s", i+1, res.steps[1].summary)
		}
		if !strings.Contains(res.steps[1].stderr, "::add-mask::ghs_e2eactiontoken") {
			t.Errorf("job %d: the github-token input (default github.token) is not masked:\n%s", i+1, res)
		}
	}
}

// (b) An archive whose bytes differ from the pinned sum, or one with no
// pinned line, is refused: the job fails in the install step, names the
// sums, and no kf-run is installed or run.
func TestActionRefusesUnpinnedBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := getRelease(t)
	archive := hostArchive(r.version)
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
		sums    func(string) string
		want    []string
	}{
		{"corrupted archive", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, nil,
			[]string{"SHA-256 mismatch for " + archive, "expected " + r.sums[archive], "got ", "Refusing to run it"}},
		{"no pinned line", nil, func(s string) string {
			var keep []string
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasSuffix(l, " "+archive) {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}, []string{"has no SHA-256 line for " + archive, "refusing to run an unverified binary"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, _ := r.serve(t, tc.corrupt)
			dir := copyAction(t, r, false)
			if tc.sums != nil {
				write(t, filepath.Join(dir, "action", "checksums.txt"), tc.sums(r.checksums()))
			}
			job := newJob(t, dir)
			job.env = append(job.env, "KF_RUN_DOWNLOAD_BASE="+base)
			job.with = map[string]string{"spec": example(t, "train/pipeline.yaml"), "host": shared.URL}
			res := job.run(ctx, t)
			if len(res.steps) != 1 || res.steps[0].code == 0 {
				t.Fatalf("want the install step to fail and nothing after it:\n%s", res)
			}
			for _, w := range append(tc.want, "::error title=kf-run install::") {
				if !strings.Contains(res.steps[0].stdout, w) {
					t.Errorf("install output lacks %q:\n%s", w, res)
				}
			}
			if len(res.path) != 0 {
				t.Errorf("GITHUB_PATH got %v after a refused install", res.path)
			}
			if found := findFiles(t, job.toolCache, job.temp); len(found) > 0 {
				t.Errorf("files left in the tool cache or temp: %v", found)
			}
		})
	}
}

func findFiles(t testing.TB, dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// (c) A runner platform with no release binary gets an error naming it and
// the supported ones, and nothing is downloaded.
func TestActionUnknownPlatform(t *testing.T) {
	t.Parallel()
	r := getRelease(t)
	base, downloads := r.serve(t, nil)
	job := newJob(t, copyAction(t, r, false))
	job.arch = "ARM"
	job.env = append(job.env, "KF_RUN_DOWNLOAD_BASE="+base)
	res := job.run(context.Background(), t)
	if len(res.steps) != 1 || res.steps[0].code == 0 {
		t.Fatalf("want the install step to fail:\n%s", res)
	}
	for _, w := range []string{"no release binary for this runner (RUNNER_OS=" + runnerOS() + ", RUNNER_ARCH=ARM)", "supported: Linux, macOS and Windows on X64 or ARM64"} {
		if !strings.Contains(res.steps[0].stdout, w) {
			t.Errorf("install output lacks %q:\n%s", w, res)
		}
	}
	if downloads() != 0 {
		t.Errorf("%d downloads for an unsupported platform", downloads())
	}
}

// A Windows runner gets the zip and kf-run.exe (the install step only:
// this host cannot run the binary under that name's platform).
func TestActionInstallWindowsZip(t *testing.T) {
	t.Parallel()
	r := getRelease(t)
	base, _ := r.serve(t, nil)
	job := newJob(t, copyAction(t, r, false))
	job.runnerOS, job.arch, job.only = "Windows", "X64", []string{"install"}
	job.env = append(job.env, "KF_RUN_DOWNLOAD_BASE="+base)
	res := job.run(context.Background(), t)
	if len(res.steps) != 1 || res.steps[0].code != 0 {
		t.Fatalf("install on Windows:\n%s", res)
	}
	zr, err := zip.NewReader(bytes.NewReader(r.files["kf-run_"+r.version+"_windows_amd64.zip"]), int64(len(r.files["kf-run_"+r.version+"_windows_amd64.zip"])))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("kf-run.exe")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(f)
	if len(res.path) != 1 {
		t.Fatalf("GITHUB_PATH: %v", res.path)
	}
	got, err := os.ReadFile(filepath.Join(res.path[0], "kf-run.exe"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("installed kf-run.exe is not the archive's (%v)", err)
	}
}

// (d) A branch or SHA ref (no action/VERSION): kf-run is built from the
// action's source with the job's Go, stamped with the action ref, and
// runs; without Go the error says what to do.
func TestActionSourceBuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := copyAction(t, nil, true)

	noGo := newJob(t, dir)
	res := noGo.run(ctx, t)
	if len(res.steps) != 1 || res.steps[0].code == 0 {
		t.Fatalf("without Go: want the install step to fail:\n%s", res)
	}
	for _, w := range []string{"not a release (no action/VERSION)", "no go command on PATH", "Pin a release tag", "actions/setup-go"} {
		if !strings.Contains(res.steps[0].stdout, w) {
			t.Errorf("install output lacks %q:\n%s", w, res)
		}
	}

	job := newJob(t, dir, goDir(t))
	job.env = append(job.env, goEnv(t)...)
	job.github["action_ref"] = "feature/x"
	job.with = map[string]string{"spec": example(t, "train/pipeline.yaml"), "host": shared.URL,
		"experiment": "e2e-action", "params": "dataset=gs://e2e/data.csv"}
	res = job.run(ctx, t)
	if len(res.steps) != 2 || res.steps[1].code != 0 || res.outputs["state"] != "SUCCEEDED" {
		t.Fatalf("source build: want the run to succeed:\n%s", res)
	}
	if !strings.Contains(res.steps[0].stdout, "building from the action's source at feature/x") {
		t.Errorf("install did not say it builds from source:\n%s", res)
	}
	bin := filepath.Join(res.path[0], "kf-run")
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), "feature/x") {
		t.Errorf("kf-run version of the source build = %q (%v), want the action ref", out, err)
	}
}

// (e) ko:// images are built with the job's Go (the runner's Go, set up by
// actions/setup-go on GitHub); with no Go on PATH the run fails before
// anything is submitted, and says to add setup-go.
func TestActionKoUsesJobGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := getRelease(t)
	srvBase, _ := r.serve(t, nil)
	base := shared.Registry + "/e2e-action-base/static:latest"
	pushTestBase(t, base)
	dir := copyAction(t, r, false)
	for _, withGo := range []bool{true, false} {
		t.Run(map[bool]string{true: "go on PATH", false: "no go"}[withGo], func(t *testing.T) {
			var job *actionJob
			if withGo {
				job = newJob(t, dir, goDir(t))
				job.env = append(job.env, goEnv(t)...)
			} else {
				job = newJob(t, dir)
			}
			branch := uniq(t, "ko")
			job.env = append(job.env, "KF_RUN_DOWNLOAD_BASE="+srvBase, "KO_DOCKER_REPO="+shared.Registry+"/e2e-action",
				"KO_DEFAULTBASEIMAGE="+base, "GITHUB_REF=refs/heads/"+branch)
			job.with = map[string]string{"working-directory": example(t, "ko"), "host": shared.URL}
			res := job.run(ctx, t)
			runs := shared.runsNamed(t, "ko-demo "+branch+" 89abcde", "")
			if withGo {
				if len(res.steps) != 2 || res.steps[1].code != 0 || res.outputs["state"] != "SUCCEEDED" {
					t.Fatalf("want the ko pipeline to succeed:\n%s", res)
				}
				if !strings.Contains(res.steps[1].stderr, "Build images with ko") || len(digestRE.FindAllString(res.steps[1].stderr, -1)) != 2 {
					t.Errorf("no ko build in the output:\n%s", res)
				}
				if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
					t.Errorf("runs of this job: %+v, want one SUCCEEDED", runs)
				}
				return
			}
			t.Logf("no go:\n%s", res)
			if len(res.steps) != 2 || res.steps[1].code != 2 {
				t.Fatalf("no go: want the run step to exit 2:\n%s", res)
			}
			for _, w := range []string{"no go command on PATH", "actions/setup-go", "go-version-file: go.mod"} {
				if !strings.Contains(res.steps[1].stderr, w) {
					t.Errorf("run output lacks %q:\n%s", w, res)
				}
			}
			if res.outputs["state"] != "NOT_SUBMITTED" || len(runs) != 0 || strings.Contains(res.steps[1].stderr, "Submit to") {
				t.Errorf("something was submitted without Go: state %q, runs %+v\n%s", res.outputs["state"], runs, res)
			}
		})
	}
}

// (f) Every input reaches kf-run as one argument or variable, whatever
// shell metacharacters it holds (inputs go through env:, never script
// text); multi-line inputs give one flag per line; secrets are masked
// before anything else is printed; kf-run is exec'd (same process).
func TestActionInputs(t *testing.T) {
	t.Parallel()
	fake := t.TempDir()
	write(t, filepath.Join(fake, "kf-run"), `#!/bin/bash
echo "pid=$$"
for a in "$@"; do printf 'arg=%s\n' "$a"; done
echo "pwd=$(pwd)"
for v in GITHUB_TOKEN KF_RUN_TOKEN KF_RUN_USERNAME KF_RUN_PASSWORD KF_RUN_OIDC_AUDIENCE KF_RUN_KUBE_CONTEXT; do printf '%s=%s\n' "$v" "${!v-unset}"; done
n=0; for v in $(compgen -e); do [[ $v == INPUT_* ]] && n=$((n+1)); done; echo "INPUT_ variables: $n"
`)
	os.Chmod(filepath.Join(fake, "kf-run"), 0o755)
	work := filepath.Join(t.TempDir(), "dir with $(space) `and` ;quotes'")
	os.MkdirAll(work, 0o755)
	pwned := filepath.Join(t.TempDir(), "pwned")
	job := newJob(t, copyAction(t, nil, false), fake)
	job.only = []string{"run"}
	job.with = map[string]string{
		"config": "ci/kf-run.yaml", "timeout": "45m", "wait": "False", "comment": "true", "comment-key": `{"python": "3.12", "x": "$(id)"}`,
		"pipelines": "train\n\n  eval  \r\n", "params": "epochs=3\nmsg=a b; touch " + pwned + "\nq=$(touch " + pwned + ") `x` \"y\" '*'",
		"host": "https://kfp.example.com/pipeline?x=1&y=$HOME", "namespace": "team a", "experiment": "e ${{ x }}",
		"working-directory": work, "github-token": "ghs_abc", "token": "tok$en;x", "username": "alice",
		"password": "p@ss\nsecond line%", "oidc-audience": "pipelines.kubeflow.org", "kube-context": "prod",
	}
	res := job.run(context.Background(), t)
	if len(res.steps) != 1 || res.steps[0].code != 0 {
		t.Fatalf("run step:\n%s", res)
	}
	lines := strings.Split(strings.TrimSpace(res.steps[0].stdout), "\n")
	want := []string{
		"::add-mask::tok$en;x", "::add-mask::p@ss%0Asecond line%25", "::add-mask::ghs_abc",
		"arg=run", "arg=--config", "arg=ci/kf-run.yaml", "arg=--host", "arg=https://kfp.example.com/pipeline?x=1&y=$HOME",
		"arg=--namespace", "arg=team a", "arg=--experiment", "arg=e ${{ x }}", "arg=--timeout", "arg=45m", "arg=--no-wait", "arg=--comment-key", `arg={"python": "3.12", "x": "$(id)"}`,
		"arg=--pipeline", "arg=train", "arg=--pipeline", "arg=eval",
		"arg=--param", "arg=epochs=3", "arg=--param", "arg=msg=a b; touch " + pwned,
		"arg=--param", "arg=q=$(touch " + pwned + ") `x` \"y\" '*'",
		"pwd=" + work, "GITHUB_TOKEN=ghs_abc", "KF_RUN_TOKEN=tok$en;x", "KF_RUN_USERNAME=alice", "KF_RUN_PASSWORD=p@ss",
		"second line%", "KF_RUN_OIDC_AUDIENCE=pipelines.kubeflow.org", "KF_RUN_KUBE_CONTEXT=prod", "INPUT_ variables: 0",
	}
	if len(lines) < 4 || lines[3] != fmt.Sprintf("pid=%d", res.steps[0].pid) {
		t.Fatalf("kf-run is not the step's process (%d): the runner's SIGINT would not reach it:\n%s", res.steps[0].pid, res)
	}
	got := append(slices.Clone(lines[:3]), lines[4:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kf-run's arguments and env (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Error("an input ran a command")
	}
	// Empty auth inputs leave the job's own variables alone.
	job.with = map[string]string{}
	job.env = append(job.env, "KF_RUN_TOKEN=from-job-env")
	res = job.run(context.Background(), t)
	if !strings.Contains(res.steps[0].stdout, "KF_RUN_TOKEN=from-job-env\n") || !strings.Contains(res.steps[0].stdout, "arg=run\npwd="+job.workspace+"\n") {
		t.Errorf("with no inputs:\n%s", res)
	}
}

// The command input picks kf-run's command and the inputs it takes; args
// adds the command's own arguments, one per line; an input the command
// has no use for is an error before kf-run starts.
func TestActionCommands(t *testing.T) {
	t.Parallel()
	fake := t.TempDir()
	write(t, filepath.Join(fake, "kf-run"), `#!/bin/bash
for a in "$@"; do printf 'arg=%s\n' "$a"; done
`)
	os.Chmod(filepath.Join(fake, "kf-run"), 0o755)
	job := newJob(t, copyAction(t, nil, false), fake)
	job.only = []string{"run"}
	tests := []struct {
		with map[string]string
		code int
		want []string // the step's stdout lines
	}{
		{map[string]string{"command": "wait", "args": "run-1\n run-2 \n--output json", "timeout": "30m", "host": "https://kf"},
			0, []string{"arg=wait", "arg=--host", "arg=https://kf", "arg=--timeout", "arg=30m", "arg=run-1", "arg=run-2", "arg=--output json"}},
		{map[string]string{"command": "schedule-plan", "config": "ml/kf-run.yaml", "comment-key": "prod"},
			0, []string{"arg=schedule", "arg=sync", "arg=--dry-run", "arg=--config", "arg=ml/kf-run.yaml", "arg=--comment-key", "arg=prod"}},
		{map[string]string{"command": "schedule-sync", "args": "--prune"}, 0, []string{"arg=schedule", "arg=sync", "arg=--prune"}},
		{map[string]string{"command": "cleanup", "args": "--delete-versions", "comment": "true"}, 0, []string{"arg=cleanup", "arg=--delete-versions"}},
		{map[string]string{"command": "wait", "params": "epochs=3"}, 2, []string{"::error title=kf-run::input params does not apply to command wait"}},
		{map[string]string{"command": "cleanup", "wait": "false"}, 2, []string{"::error title=kf-run::input wait does not apply to command cleanup"}},
		{map[string]string{"command": "deploy"}, 2, []string{"::error title=kf-run::command: deploy is not one of run, wait, validate, schedule-sync, schedule-plan, cleanup"}},
	}
	for _, tt := range tests {
		job.with = tt.with
		res := job.run(context.Background(), t)
		if len(res.steps) != 1 || res.steps[0].code != tt.code {
			t.Errorf("%v: want exit %d:\n%s", tt.with, tt.code, res)
			continue
		}
		// The github-token input's mask comes first, whatever the command.
		got := strings.Split(strings.TrimSpace(res.steps[0].stdout), "\n")[1:]
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.with, diff)
		}
	}
}

// BenchmarkActionStart measures what the Action costs a job before kf-run
// does anything: from the install step's start to kf-run's first output
// line, with the release archive on a loopback server (a warm download:
// no network time) into an empty tool cache ("download"), and with the
// copy a previous job left in the tool cache ("cached").
//
// The Docker action it replaces could not run here (no Docker); from its
// steps: pull golang:1.26 (~800 MB), `go mod download` of ~130 modules,
// compile kf-run (~1 min on a hosted runner), pull alpine and apk add git:
// minutes per job, every job.
//
//	go test -run XXX -bench ActionStart ./e2e/
func BenchmarkActionStart(b *testing.B) {
	r := getRelease(b)
	base, _ := r.serve(b, nil)
	dir := copyAction(b, r, false)
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "download", true: "cached"}[cached], func(b *testing.B) {
			job := newJob(b, dir)
			job.env = append(job.env, "KF_RUN_DOWNLOAD_BASE="+base)
			// No github-token: run.sh prints no mask, so the run step's first
			// line is kf-run's own.
			job.with = map[string]string{"spec": example(b, "train/pipeline.yaml"), "host": shared.URL,
				"experiment": "e2e-action-bench", "params": "dataset=gs://e2e/data.csv", "wait": "false", "github-token": ""}
			var first time.Time
			job.onStdout = func(step, _ string) {
				if step == "run" && first.IsZero() {
					first = time.Now()
				}
			}
			if cached {
				job.run(context.Background(), b) // the previous job on this runner
			}
			var total time.Duration
			for b.Loop() {
				if !cached {
					b.StopTimer()
					os.RemoveAll(job.toolCache)
					os.MkdirAll(job.toolCache, 0o755)
					b.StartTimer()
				}
				first = time.Time{}
				start := time.Now()
				res := job.run(context.Background(), b)
				if len(res.steps) != 2 || res.steps[1].code != 0 || first.IsZero() {
					b.Fatalf("job failed:\n%s", res)
				}
				if cached != strings.Contains(res.steps[0].stdout, "reusing") {
					b.Fatalf("cached=%t but the install step says:\n%s", cached, res.steps[0].stdout)
				}
				total += first.Sub(start)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-line/op")
		})
	}
}

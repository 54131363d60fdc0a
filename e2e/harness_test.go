// Package e2e runs the real kf-run binary against a running kfp-sandbox
// (KFP 2.0.5's own API server with fake Kubernetes) over HTTP.
//
// The binaries come from KF_RUN_BIN and KFP_SANDBOX_BIN (make test sets
// both); without them TestMain builds them, which takes minutes cold.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	kfRunBin, sandboxBin string
	shared               *sandbox // single-user, no prefix: most tests use it
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "kf-run-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if kfRunBin, err = binary("KF_RUN_BIN", tmp, "kf-run", "..", "./cmd/runner", "CGO_ENABLED=0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if sandboxBin, err = binary("KFP_SANDBOX_BIN", tmp, "kfp-sandbox", "../sandbox", "./cmd/kfp-sandbox", "CGO_ENABLED=1"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared, err = start(context.Background(), "--step-duration", "40ms")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.stop()
	defer byProfile.stopAll()
	return m.Run()
}

func binary(envVar, tmp, name, dir, pkg, cgo string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return filepath.Abs(p)
	}
	out := filepath.Join(tmp, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cgo)
	cmd.Stderr = os.Stderr
	fmt.Fprintf(os.Stderr, "e2e: building %s (set %s to skip)\n", name, envVar)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	return out, nil
}

// sandbox is a running kfp-sandbox process.
type sandbox struct {
	URL      string // the KFP API base, with the prefix
	Root     string // the server root, for /_sandbox
	Registry string
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
}

func start(ctx context.Context, args ...string) (*sandbox, error) {
	cmd := exec.CommandContext(ctx, sandboxBin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &sandbox{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: s.stderr}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for (s.URL == "" || s.Registry == "") && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "KFP_URL":
			s.URL = v
		case "REGISTRY":
			s.Registry = v
		}
	}
	go io.Copy(io.Discard, out)
	if s.URL == "" {
		s.stop()
		return nil, fmt.Errorf("kfp-sandbox did not print KFP_URL: %s", s.stderr)
	}
	u, _ := url.Parse(s.URL)
	s.Root = u.Scheme + "://" + u.Host
	return s, nil
}

func (s *sandbox) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// call sends a JSON request to the sandbox and decodes the answer into out.
func (s *sandbox) call(t testing.TB, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	base := s.URL
	if strings.HasPrefix(path, "/_sandbox/") {
		base = s.Root
	}
	req, _ := http.NewRequest(method, base+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("kubeflow-userid", "e2e@example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

type apiRun struct {
	RunID        string `json:"run_id"`
	DisplayName  string `json:"display_name"`
	State        string `json:"state"`
	ExperimentID string `json:"experiment_id"`
	Description  string `json:"description"`
	Ref          *struct {
		PipelineID string `json:"pipeline_id"`
		VersionID  string `json:"pipeline_version_id"`
	} `json:"pipeline_version_reference"`
}

// runsNamed lists the runs with this display name.
func (s *sandbox) runsNamed(t testing.TB, name string, query string) []apiRun {
	t.Helper()
	f, _ := json.Marshal(map[string]any{"predicates": []any{map[string]any{"key": "display_name", "operation": "EQUALS", "string_value": name}}})
	var res struct {
		Runs []apiRun `json:"runs"`
	}
	s.call(t, "GET", "/apis/v2beta1/runs?page_size=100&filter="+url.QueryEscape(url.QueryEscape(string(f)))+query, nil, &res)
	return res.Runs
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// kfRun runs the kf-run binary in dir with only the given environment
// (plus PATH and HOME), so nothing of the machine's CI leaks in. It may be
// called from a goroutine: it never stops the test itself.
func kfRun(ctx context.Context, t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, kfRunBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	default:
		// Errorf, not Fatalf: kfRun also runs on goroutines beside the test.
		t.Errorf("run kf-run: %v", err)
		r.code = -1
	}
	return r
}

func example(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "examples", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// uniq makes names that parallel tests do not share.
func uniq(t testing.TB, prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), time.Now().UnixNano()%1e6)
}

// awaitRun blocks until the run named name (query narrows the list, e.g.
// "&namespace=team-a") is in one of states. It has no clock of its own:
// only the test's end (go test -timeout) stops it, so a loaded machine
// makes it slower, never flaky.
func (s *sandbox) awaitRun(t *testing.T, name, query string, states ...string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, r := range s.runsNamed(t, name, query) {
			for _, st := range states {
				if r.State == st {
					return
				}
			}
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("run %q never reached %v", name, states)
		case <-tick.C:
		}
	}
}

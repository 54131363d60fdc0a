package main_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// binary is the kfp-sandbox built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kfp-sandbox-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kfp-sandbox")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kfp-sandbox:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd      *exec.Cmd
	stdout   *bufio.Scanner
	stderr   *bytes.Buffer
	kfpURL   string
	registry string
}

var (
	kfpLine      = regexp.MustCompile(`^KFP_URL=(http://127\.0\.0\.1:[0-9]+(/[a-z]+)?)$`)
	registryLine = regexp.MustCompile(`^REGISTRY=(127\.0\.0\.1:[0-9]+)$`)
)

// run starts the binary and reads its two ready lines.
func run(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--listen", "127.0.0.1:0", "--step-duration", "10ms"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdout: bufio.NewScanner(out), stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("kfp-sandbox stderr:\n%s", p.stderr)
		}
	})
	for i, re := range []*regexp.Regexp{kfpLine, registryLine} {
		if !p.stdout.Scan() {
			t.Fatalf("stdout ended before ready line %d: %v", i+1, p.stdout.Err())
		}
		m := re.FindStringSubmatch(p.stdout.Text())
		if m == nil {
			t.Fatalf("ready line %d = %q, want %s", i+1, p.stdout.Text(), re)
		}
		if i == 0 {
			p.kfpURL = m[1]
		} else {
			p.registry = m[1]
		}
	}
	return p
}

// stop sends SIGTERM, expects a clean exit and nothing more on stdout.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	for p.stdout.Scan() {
		rest.WriteString(p.stdout.Text() + "\n")
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if rest.Len() > 0 {
		t.Errorf("more than the two ready lines on stdout: %q", rest.String())
	}
}

func TestServesAndRunsToSuccess(t *testing.T) {
	t.Parallel()
	p := run(t)
	c := &kfptest.Client{Base: p.kfpURL}
	c.Must(t, 200, "GET", "/apis/v2beta1/healthz", nil)
	spec := kfptest.Pipeline(t, "two_step.yaml")
	pid, vid := c.Upload(t, "two-step", "two_step.yaml", spec)
	id := c.CreateRun(t, "by itself", pid, vid, map[string]any{"text": "hi"})
	c.WaitState(t, id, "SUCCEEDED")
	ctl := &kfptest.Client{Base: p.kfpURL}
	if r := ctl.Must(t, 200, "GET", "/_sandbox/requests", nil); !strings.Contains(string(r.Body), `"path":"/apis/v2beta1/runs"`) {
		t.Errorf("request log misses the create: %s", r.Body)
	}
	p.stop(t)
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, p *proc)
	}{
		{"prefix", []string{"--prefix", "/pipeline"}, func(t *testing.T, p *proc) {
			if !strings.HasSuffix(p.kfpURL, "/pipeline") {
				t.Errorf("KFP_URL %s lacks the prefix", p.kfpURL)
			}
			c := &kfptest.Client{Base: p.kfpURL}
			c.Must(t, 200, "GET", "/apis/v2beta1/healthz", nil)
			root := &kfptest.Client{Base: strings.TrimSuffix(p.kfpURL, "/pipeline")}
			root.Must(t, 200, "GET", "/_sandbox/requests", nil)
			root.Must(t, 400, "GET", "/pipeline/k8s/pod/logs", nil)
		}},
		{"multi-user with policy, tokens and header", []string{"--multi-user", "--userid-header", "x-user",
			"--allow", "alice=team-a", "--token", "t1=alice", "--token", "t2=bob"}, func(t *testing.T, p *proc) {
			c := &kfptest.Client{Base: p.kfpURL}
			for _, tt := range []struct {
				path   string
				hdr    http.Header
				status int
			}{
				{"/apis/v2beta1/experiments", http.Header{"X-User": {"alice"}}, 400},
				{"/apis/v2beta1/experiments?namespace=team-a", nil, 401},
				{"/apis/v2beta1/experiments?namespace=team-a", http.Header{"X-User": {"alice"}}, 200},
				{"/apis/v2beta1/experiments?namespace=team-a", http.Header{"Kubeflow-Userid": {"alice"}}, 401},
				{"/apis/v2beta1/experiments?namespace=team-a", http.Header{"Authorization": {"Bearer t1"}}, 200},
				{"/apis/v2beta1/experiments?namespace=team-a", http.Header{"Authorization": {"Bearer t2"}}, 403},
				{"/apis/v2beta1/experiments?namespace=team-a", http.Header{"Authorization": {"Bearer t3"}}, 401},
			} {
				r, err := c.Do(t.Context(), "GET", tt.path, nil, tt.hdr)
				if err != nil || r.Status != tt.status {
					t.Errorf("GET %s %v: %d %s %v, want %d", tt.path, tt.hdr, r.Status, r.Body, err, tt.status)
				}
			}
		}},
		{"manual clock", []string{"--clock", "manual", "--clock-start", "2026-01-02T03:04:05Z"}, func(t *testing.T, p *proc) {
			root := &kfptest.Client{Base: p.kfpURL}
			if r := root.Must(t, 200, "GET", "/_sandbox/clock", nil).JSON(t); r["now"] != "2026-01-02T03:04:05Z" || r["manual"] != true {
				t.Errorf("GET /_sandbox/clock = %v", r)
			}
			if r := root.Must(t, 200, "POST", "/_sandbox/clock/advance?by=10s", nil).JSON(t); r["now"] != "2026-01-02T03:04:15Z" {
				t.Errorf("advance 10s: %v", r)
			}
		}},
		{"real clock by default", nil, func(t *testing.T, p *proc) {
			root := &kfptest.Client{Base: p.kfpURL}
			if r := root.Must(t, 200, "GET", "/_sandbox/clock", nil).JSON(t); r["manual"] != false {
				t.Errorf("GET /_sandbox/clock = %v", r)
			}
			root.Must(t, 409, "POST", "/_sandbox/clock/advance?by=10s", nil)
		}},
		{"registry auth", []string{"--registry-user", "u", "--registry-password", "p"}, func(t *testing.T, p *proc) {
			resp, err := http.Get("http://" + p.registry + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("anonymous /v2/ = %d, want 401", resp.StatusCode)
			}
			req, _ := http.NewRequest("GET", "http://"+p.registry+"/v2/", nil)
			req.SetBasicAuth("u", "p")
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("authenticated /v2/ = %d, want 200", resp.StatusCode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := run(t, tt.args...)
			tt.check(t, p)
			p.stop(t)
		})
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--nope"}, {"--allow", "no-equals"}, {"extra"},
		{"--clock", "sundial"}, {"--clock-start", "2026-01-02T03:04:05Z"}, {"--clock", "manual", "--clock-start", "tomorrow"}} {
		cmd := exec.Command(binary, args...)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit code 2", args, err)
		}
		if stdout.Len() > 0 {
			t.Errorf("%v: stdout %q, want nothing", args, stdout.String())
		}
	}
}

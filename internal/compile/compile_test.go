package compile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The example's compiled pipeline, copied by the commands below as if they
// had compiled it.
func exampleSpec(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../examples/train/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	t.Parallel()
	many := make([]string, 0, 100)
	for i := range 100 {
		many = append(many, "line "+strconv.Itoa(i+1))
	}
	tests := []struct {
		name    string
		command string
		spec    string
		// setup runs in the directory before the command.
		setup     func(t *testing.T, dir string)
		wantErr   string // "" for success
		wantJob   bool   // the error names the pipeline's spec, not the command
		wantTail  []string
		truncated bool
	}{
		{
			name:     "writes the spec",
			command:  `echo compiling; cp "$SRC" build/train.yaml`,
			spec:     "build/train.yaml",
			setup:    func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "build")) },
			wantTail: []string{"compiling"},
		},
		{
			name:     "overwrites a committed spec",
			command:  `cp "$SRC" train.yaml`,
			spec:     "train.yaml",
			setup:    func(t *testing.T, dir string) { write(t, filepath.Join(dir, "train.yaml"), "old") },
			wantTail: nil,
		},
		{
			name:    "the job's environment",
			command: `test "$KF_RUN_TEST_VALUE" = 42 && cp "$SRC" train.yaml`,
			spec:    "train.yaml",
		},
		{
			name:      "non-zero exit keeps the tail",
			command:   `seq 1 100 | sed 's/^/line /'; echo 'Traceback: no module named kfp' >&2; exit 3`,
			spec:      "train.yaml",
			wantErr:   "compile train: `seq 1 100 | sed 's/^/line /'; echo 'Traceback: no module named kfp' >&2; exit 3` exited with status 3",
			wantTail:  append(append([]string{}, many[len(many)-TailLines+1:]...), "Traceback: no module named kfp"),
			truncated: true,
		},
		{
			name:    "command not found",
			command: `no-such-compiler-xyz --py train.py`,
			spec:    "train.yaml",
			wantErr: "exited with status 127",
		},
		{
			name:    "missing output",
			command: `cp "$SRC" elsewhere.yaml`,
			spec:    "train.yaml",
			wantErr: "compile train: `cp \"$SRC\" elsewhere.yaml` succeeded but did not write spec train.yaml",
			wantJob: true,
		},
		{
			name:    "stale output",
			command: `cp "$SRC" elsewhere.yaml`,
			spec:    "train.yaml",
			setup:   func(t *testing.T, dir string) { write(t, filepath.Join(dir, "train.yaml"), "committed") },
			wantErr: "left spec train.yaml as it was before",
			wantJob: true,
		},
		{
			name:    "invalid output",
			command: `echo 'pipelineInfo: {name: x}' > train.yaml`,
			spec:    "train.yaml",
			wantErr: "wrote spec train.yaml, which is not a KFP pipeline package: ",
			wantJob: true,
		},
		{
			name:    "output is a directory",
			command: `mkdir train.yaml`,
			spec:    "train.yaml",
			wantErr: "spec train.yaml is a directory",
			wantJob: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			job := Job{Pipeline: "train", Command: tt.command, Spec: tt.spec}
			step := Steps([]Job{job})[0]
			res, err := Run(context.Background(), step, Options{Dir: dir, Env: []string{
				"PATH=" + os.Getenv("PATH"), "SRC=" + exampleSpec(t), "KF_RUN_TEST_VALUE=42",
			}})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run: %v\ntail: %q", err, res.Tail)
				}
			} else {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("error %v (%T), want an *Error", err, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.wantErr)
				}
				if got := ce.Job.Pipeline != ""; got != tt.wantJob {
					t.Errorf("error names a job: %v, want %v", got, tt.wantJob)
				}
			}
			if tt.wantTail != nil || tt.wantErr == "" {
				if diff := cmp.Diff(tt.wantTail, res.Tail); diff != "" {
					t.Errorf("tail (-want +got):\n%s", diff)
				}
			}
			if res.Truncated != tt.truncated {
				t.Errorf("truncated = %v, want %v", res.Truncated, tt.truncated)
			}
		})
	}
}

// Pipelines written by one command run it once, and each spec is checked.
func TestStepsRunOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	both := `echo run >> count; cp "$SRC" train.yaml; cp "$SRC" eval.yaml`
	jobs := []Job{
		{Pipeline: "train", Command: both, Spec: "train.yaml"},
		{Pipeline: "other", Command: `cp "$SRC" other.yaml`, Spec: "other.yaml"},
		{Pipeline: "eval", Command: both, Spec: "eval.yaml"},
	}
	steps := Steps(jobs)
	want := []Step{
		{Command: both, Jobs: []Job{jobs[0], jobs[2]}},
		{Command: jobs[1].Command, Jobs: []Job{jobs[1]}},
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"train", "eval"}, steps[0].Pipelines()); diff != "" {
		t.Errorf("pipelines (-want +got):\n%s", diff)
	}
	o := Options{Dir: dir, Env: []string{"PATH=" + os.Getenv("PATH"), "SRC=" + exampleSpec(t)}}
	for _, s := range steps {
		if _, err := Run(context.Background(), s, o); err != nil {
			t.Fatalf("Run %q: %v", s.Command, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "count"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "run"); got != 1 {
		t.Errorf("the shared command ran %d times, want 1", got)
	}

	// One of two specs missing: the error names that pipeline.
	both2 := `cp "$SRC" train.yaml`
	_, err = Run(context.Background(), Steps([]Job{{Pipeline: "train", Command: both2, Spec: "train.yaml"}, {Pipeline: "eval", Command: both2, Spec: "eval2.yaml"}})[0], o)
	var ce *Error
	if !errors.As(err, &ce) || ce.Job.Pipeline != "eval" {
		t.Errorf("error %v, want one naming pipeline eval", err)
	}
}

// A cancelled context stops the command and is returned as such.
func TestRunCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	// The command tells the test it started (through a FIFO, which the
	// test's open waits on), then waits to be stopped.
	if out, err := exec.Command("mkfifo", filepath.Join(dir, "started")).CombinedOutput(); err != nil {
		t.Skipf("mkfifo: %v: %s", err, out)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Step{Command: "echo go > started; exec sleep 1000", Jobs: []Job{{Pipeline: "p", Spec: "p.yaml"}}},
			Options{Dir: dir, Env: []string{"PATH=" + os.Getenv("PATH")}})
		done <- err
	}()
	if b, err := os.ReadFile(filepath.Join(dir, "started")); err != nil || string(b) != "go\n" {
		t.Fatalf("read the FIFO: %q, %v", b, err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	tr := &tail{max: 16}
	for i := range 20 {
		fmt.Fprintf(tr, "l%02d\n", i)
	}
	got, cut := tr.lines(3)
	if diff := cmp.Diff([]string{"l17", "l18", "l19"}, got); diff != "" || !cut {
		t.Errorf("lines (-want +got):\n%s\ncut = %v", diff, cut)
	}
	if len(tr.buf) > 2*tr.max {
		t.Errorf("kept %d bytes, want at most %d", len(tr.buf), 2*tr.max)
	}
	got, cut = (&tail{max: 64}).lines(3)
	if got != nil || cut {
		t.Errorf("no output: %q, %v", got, cut)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

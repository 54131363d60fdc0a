// Package compile runs the compile: commands of kf-run.yaml: each distinct
// command line once, with sh -c in the config file's directory and the
// job's environment, then checks that it wrote each of its pipelines'
// spec, freshly, as a KFP pipeline package. It keeps the tail of the
// command's output for the caller to show.
//
// It does not read the config, print, or mask: the caller passes the
// commands in and shows the tail through the console, which masks and
// fences it. It keeps nothing of the spec it checks: plan loads it as it
// would a committed one.
package compile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// TailLines is how many of the last lines of a command's output are kept.
const TailLines = 40

// tailBytes bounds the output kept in memory, whatever the command prints.
const tailBytes = 64 << 10

// Job is one pipeline whose spec a command writes.
type Job struct {
	Pipeline string
	// Command is the shell command line, run with sh -c.
	Command string
	// Spec is the file the command must write, relative to the directory
	// the command runs in (or absolute).
	Spec string
}

// Step is one distinct command and the pipelines whose specs it writes,
// in the order of their jobs.
type Step struct {
	Command string
	Jobs    []Job
}

// Pipelines names the step's pipelines, for messages.
func (s Step) Pipelines() []string {
	var names []string
	for _, j := range s.Jobs {
		names = append(names, j.Pipeline)
	}
	return names
}

// Steps groups jobs by command line, in the order each command first
// appears: pipelines sharing a command (one script writing several specs)
// run it once.
func Steps(jobs []Job) []Step {
	var steps []Step
	for _, j := range jobs {
		i := slices.IndexFunc(steps, func(s Step) bool { return s.Command == j.Command })
		if i < 0 {
			steps = append(steps, Step{Command: j.Command})
			i = len(steps) - 1
		}
		steps[i].Jobs = append(steps[i].Jobs, j)
	}
	return steps
}

// Result is what running one step did.
type Result struct {
	Duration time.Duration
	// Tail is the last lines of the command's stdout and stderr, as
	// printed (interleaved), untrusted: mask and fence it to show it.
	Tail []string
	// Truncated says that Tail does not start at the output's first line.
	Truncated bool
}

// Error is a step that failed: the command exited non-zero or could not
// start, or a spec it should have written is missing, stale or not a
// pipeline. Nothing should be submitted after it.
type Error struct {
	Step Step
	// Job is the pipeline whose spec is wrong; zero when the command failed.
	Job Job
	Err error
}

func (e *Error) Error() string {
	if e.Job.Pipeline == "" {
		return fmt.Sprintf("compile %s: %v", strings.Join(e.Step.Pipelines(), ", "), e.Err)
	}
	return fmt.Sprintf("compile %s: %v", e.Job.Pipeline, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Options say where and how commands run.
type Options struct {
	// Dir is where the commands run and relative specs are found.
	Dir string
	// Env is the commands' whole environment (the job's).
	Env []string
}

// waitDelay is how long a cancelled command may keep its output open (a
// child still running) before it is killed: within GitHub's ~10 s from
// cancel to SIGKILL, with time left for kf-run's own exit.
const waitDelay = 5 * time.Second

// Run runs one step and checks its specs. The Result is filled in on
// error too (the tail explains the failure); the error is an *Error, or
// the context's error when ctx ended first.
func Run(ctx context.Context, s Step, o Options) (Result, error) {
	var res Result
	before := map[string]fs.FileInfo{}
	for _, j := range s.Jobs {
		if fi, err := os.Stat(specPath(o.Dir, j)); err == nil {
			before[j.Spec] = fi
		}
	}
	out := &tail{max: tailBytes}
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Command)
	cmd.Dir, cmd.Env = o.Dir, o.Env
	cmd.Stdout, cmd.Stderr = out, out
	// An interrupt, as a terminal would send, so the command can clean up;
	// killed if its output is still open waitDelay later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = waitDelay
	start := time.Now()
	err := cmd.Run()
	res.Duration = time.Since(start)
	res.Tail, res.Truncated = out.lines(TailLines)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			err = fmt.Errorf("`%s` exited with status %d", s.Command, ee.ExitCode())
		} else {
			err = fmt.Errorf("`%s`: %w", s.Command, err)
		}
		return res, &Error{Step: s, Err: err}
	}
	for _, j := range s.Jobs {
		if err := check(o.Dir, j, before[j.Spec]); err != nil {
			return res, &Error{Step: s, Job: j, Err: err}
		}
	}
	return res, nil
}

// check says whether the command wrote j's spec as a pipeline package. A
// spec left as it was before the command ran (a committed one, the
// previous compile's) is stale: the command wrote elsewhere.
func check(dir string, j Job, before fs.FileInfo) error {
	path := specPath(dir, j)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("`%s` succeeded but did not write spec %s: make it write there, or point spec at the file it writes", j.Command, j.Spec)
	case err != nil:
		return fmt.Errorf("spec %s: %w", j.Spec, err)
	case fi.IsDir():
		return fmt.Errorf("spec %s is a directory: it should be the file `%s` writes", j.Spec, j.Command)
	case before != nil && fi.ModTime().Equal(before.ModTime()) && fi.Size() == before.Size():
		return fmt.Errorf("`%s` succeeded but left spec %s as it was before: make it write there, or point spec at the file it writes", j.Command, j.Spec)
	}
	if _, err := pipelinespec.Load(path); err != nil {
		return fmt.Errorf("`%s` wrote spec %s, which is not a KFP pipeline package: %w", j.Command, j.Spec, err)
	}
	return nil
}

func specPath(dir string, j Job) string {
	if filepath.IsAbs(j.Spec) {
		return j.Spec
	}
	return filepath.Join(dir, j.Spec)
}

// tail keeps the last max bytes written to it (up to twice that between
// trims, so a chatty command costs amortised constant work per byte).
type tail struct {
	max     int
	buf     []byte
	dropped bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.dropped = true
	}
	return len(p), nil
}

// lines returns the last n lines, and whether earlier output was left out.
func (t *tail) lines(n int) ([]string, bool) {
	b := t.buf
	if len(b) > t.max {
		b, t.dropped = b[len(b)-t.max:], true
	}
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if s == "" {
		return nil, t.dropped
	}
	all := strings.Split(s, "\n")
	cut := t.dropped
	if t.dropped && len(all) > 1 {
		all = all[1:] // the first line is likely cut in the middle
	}
	if len(all) > n {
		all, cut = all[len(all)-n:], true
	}
	return all, cut
}

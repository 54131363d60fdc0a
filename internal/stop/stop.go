// Package stop lets a later process terminate the KFP runs a kf-run
// invocation started. `kf-run run` records each run in a state file the
// moment KFP has created it (Record) and forgets the runs it saw end
// (Forget); `kf-run stop`, typically a cancelled GitLab job's
// after_script, reads the file (Load) and terminates the runs that have
// not ended (Runs).
//
// The state file is JSON Lines, one run per line, appended so that a run
// is on disk even if kf-run is killed right after submitting it. It holds
// run ids, names, hosts and links, never a credential: stop connects with
// the same settings as run. This package does not connect to KFP itself,
// and does not wait for a terminated run to reach its final state.
package stop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kf-run/kf-run/internal/kfp"
)

// DefaultFile is the state file's path, relative to the working directory,
// when neither --state nor KF_RUN_STATE_FILE names one.
const DefaultFile = ".kf-run/runs.jsonl"

// Path is the state file to use: the flag, else the environment's
// KF_RUN_STATE_FILE, else DefaultFile.
func Path(flag, env string) string {
	switch {
	case flag != "":
		return flag
	case env != "":
		return env
	}
	return DefaultFile
}

// Run is one started run, as recorded in the state file.
type Run struct {
	RunID    string `json:"run_id"`
	Pipeline string `json:"pipeline"`
	// Host is the KFP API URL the run was created through; Namespace the
	// Kubeflow profile ("" on standalone KFP).
	Host      string    `json:"host"`
	Namespace string    `json:"namespace,omitempty"`
	URL       string    `json:"url,omitempty"`
	Submitted time.Time `json:"submitted_at"`
}

// Record appends r to the state file at path, creating the file and its
// directory when missing. One write per run, so concurrent appenders and a
// kill between runs leave whole lines.
func Record(path string, r Run) error {
	if r.RunID == "" {
		return fmt.Errorf("record run of %q in %s: no run id", r.Pipeline, path)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record run %s in %s: %w", r.RunID, path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("record run %s: %w", r.RunID, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.RunID, err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.RunID, err)
	}
	return nil
}

// Load reads the state file. A missing file lists no runs. A run recorded
// twice is listed once. An unterminated last line (kf-run killed while
// writing it) is skipped; any other line that is not a run is an error.
func Load(path string) ([]Run, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var runs []Run
	seen := map[string]bool{}
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Run
		err := json.Unmarshal(line, &r)
		if err == nil && r.RunID == "" {
			err = errors.New("no run_id")
		}
		if err != nil {
			if i == len(lines)-1 {
				break // unterminated: cut short by a kill while writing
			}
			return nil, fmt.Errorf("%s:%d: not a kf-run state line (%v): delete the file if no run it lists can still be running", path, i+1, err)
		}
		if !seen[r.RunID] {
			seen[r.RunID] = true
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// Forget removes the runs for which done is true from the state file,
// and the file itself when no run is left. It rewrites the file through a
// temporary file and a rename, so a reader sees the old list or the new.
func Forget(path string, done func(Run) bool) error {
	runs, err := Load(path)
	if err != nil {
		return err
	}
	var keep bytes.Buffer
	n := 0
	for _, r := range runs {
		if done(r) {
			continue
		}
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", path, err)
		}
		keep.Write(append(line, '\n'))
		n++
	}
	if n == len(runs) {
		return nil
	}
	if n == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove state file: %w", err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".runs-*.tmp")
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	_, err = tmp.Write(keep.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	return nil
}

// Client is the part of the KFP client Runs uses.
type Client interface {
	GetRun(ctx context.Context, id string) (kfp.Run, error)
	TerminateRun(ctx context.Context, id string) error
}

// Action is what Runs did about one run.
type Action string

const (
	// Terminated: KFP accepted the request to terminate the run.
	Terminated Action = "terminated"
	// Ended: the run had already reached a final state.
	Ended Action = "ended"
	// Stopping: KFP was already terminating the run (CANCELING).
	Stopping Action = "stopping"
	// Gone: KFP does not know the run (deleted).
	Gone Action = "gone"
	// Failed: the run may still be running; Result.Err says why.
	Failed Action = "failed"
)

// Done reports whether nothing is left to stop for the run.
func (a Action) Done() bool { return a != Failed }

// Result is the outcome for one run.
type Result struct {
	Run    Run
	Action Action
	// State is the run's state as KFP reported it before any terminate.
	State kfp.RunState
	Err   error
}

// Options tune Runs.
type Options struct {
	// Host is the KFP API URL the client talks to. A run recorded on
	// another host is not touched (Failed): the settings reach the wrong
	// server.
	Host string
	// Parallel bounds the concurrent requests; default 8.
	Parallel int
}

// Runs terminates every run that has not ended, all at once (at most
// o.Parallel at a time), and returns one result per run, in order. The
// caller bounds the time with ctx: a run still unanswered at its deadline
// is Failed.
func Runs(ctx context.Context, c Client, runs []Run, o Options) []Result {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	res := make([]Result, len(runs))
	var g errgroup.Group
	g.SetLimit(o.Parallel)
	for i, r := range runs {
		res[i].Run = r
		if o.Host != "" && !sameHost(r.Host, o.Host) {
			res[i].Action = Failed
			res[i].Err = fmt.Errorf("run %s was started through %s, but the connection settings reach %s: run kf-run stop with the settings kf-run run used", r.RunID, r.Host, o.Host)
			continue
		}
		g.Go(func() error {
			res[i] = one(ctx, c, r)
			return nil
		})
	}
	_ = g.Wait()
	return res
}

func one(ctx context.Context, c Client, r Run) Result {
	res := Result{Run: r, Action: Failed}
	run, err := c.GetRun(ctx, r.RunID)
	switch {
	case kfp.IsNotFound(err):
		res.Action = Gone
		return res
	case err != nil:
		res.Err = fmt.Errorf("get run %s: %w", r.RunID, err)
		return res
	}
	res.State = run.State
	switch {
	case run.State.IsTerminal():
		res.Action = Ended
		return res
	case run.State == kfp.StateCanceling:
		res.Action = Stopping
		return res
	}
	if err := c.TerminateRun(ctx, r.RunID); err != nil {
		if kfp.IsNotFound(err) {
			res.Action = Gone
			return res
		}
		res.Err = fmt.Errorf("terminate run %s: %w", r.RunID, err)
		return res
	}
	res.Action = Terminated
	return res
}

func sameHost(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

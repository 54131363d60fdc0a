package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAfterFinalState measures kf-run's own overhead: the time and the
// API calls from the moment it sees a run's final state (it prints the
// "run SUCCEEDED|FAILED" line at once) to its exit, with the GitHub report
// (summary, outputs) and, for a failed run, the pod-log triage. Baseline:
// one GetRun round trip to the same server, the least any client needs to
// learn the final state.
//
//	go test -run XXX -bench AfterFinalState ./e2e/
func BenchmarkAfterFinalState(b *testing.B) {
	for _, fail := range []bool{false, true} {
		b.Run(map[bool]string{false: "succeeded", true: "failed"}[fail], func(b *testing.B) {
			var overhead time.Duration
			calls := 0
			rtt := getRunRTT(b)
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("bench-%v-%d-%d", fail, i, time.Now().UnixNano())
				if fail {
					shared.call(b, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
						"train": map[string]any{"outcome": "fail", "message": "boom", "log": []string{"Traceback", "RuntimeError: boom"}},
					}}, nil)
				}
				d, n := afterFinal(b, name)
				overhead += d
				calls += n
			}
			per := overhead / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms-after-final/op")
			b.ReportMetric(float64(calls)/float64(b.N), "api-calls-after-final/op")
			b.ReportMetric(float64(rtt.Microseconds())/1000, "ms-getrun-baseline")
			b.ReportMetric(float64(per)/float64(rtt), "x-baseline")
		})
	}
}

func afterFinal(b *testing.B, name string) (time.Duration, int) {
	dir := b.TempDir()
	cmd := exec.Command(kfRunBin, withSpec(exampleArgs(name), example(b, "train/pipeline.yaml"))...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml",
		"GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef", "GITHUB_EVENT_NAME=push",
		"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"), "GITHUB_OUTPUT=" + filepath.Join(dir, "out")}
	out, _ := cmd.StderrPipe() // progress is on stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var seen time.Time
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		if seen.IsZero() && (strings.HasSuffix(l, ": run SUCCEEDED") || strings.HasSuffix(l, ": run FAILED")) {
			seen = time.Now()
		}
	}
	_ = cmd.Wait()
	end := time.Now()
	if seen.IsZero() {
		b.Fatalf("kf-run never reported a final state for %s", name)
	}
	// The sandbox logs a request once its handler returns, which can be
	// after the client has its answer: let the log settle before counting.
	time.Sleep(100 * time.Millisecond)
	return end.Sub(seen), callsAfterLastPoll(b, shared.runsNamed(b, name, "")[0].RunID)
}

// callsAfterLastPoll counts the API requests made after the last read of
// run id (the poll that saw the final state: a GetRun, or a ListRuns whose
// filter names it). Benchmarks run one at a time.
func callsAfterLastPoll(b *testing.B, id string) int {
	var reqs []struct{ Method, Path, Query string }
	shared.call(b, "GET", "/_sandbox/requests", nil, &reqs)
	n := 0
	for _, r := range reqs {
		switch {
		case r.Method == "GET" && r.Path == "/apis/v2beta1/runs/"+id,
			r.Method == "GET" && r.Path == "/apis/v2beta1/runs" && strings.Contains(r.Query, id):
			n = 0
		case r.Path == "/apis/v2beta1/runs" && r.Method == "GET":
			// the harness's own lookup by name
		case !strings.HasPrefix(r.Path, "/_sandbox/"):
			n++
		}
	}
	return n
}

func getRunRTT(b *testing.B) time.Duration {
	name := fmt.Sprintf("bench-rtt-%d", time.Now().UnixNano())
	if r := kfRun(context.Background(), b, b.TempDir(), nil, withSpec(exampleArgs(name), example(b, "train/pipeline.yaml"))...); r.code != 0 {
		b.Fatalf("setup run: %s", r)
	}
	id := shared.runsNamed(b, name, "")[0].RunID
	const n = 50
	start := time.Now()
	for range n {
		res, err := http.Get(shared.URL + "/apis/v2beta1/runs/" + id)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
	return time.Since(start) / n
}

// BenchmarkTrack20Runs measures kf-run's peak memory while it follows 20
// runs at once (one config, 20 pipelines, each running for a few seconds).
// Baseline: the peak memory of `kf-run version`, the binary's floor.
//
//	go test -run XXX -bench Track20Runs -benchtime 3x ./e2e/
func BenchmarkTrack20Runs(b *testing.B) {
	floor := maxRSS(b, exec.Command(kfRunBin, "version"))
	var peak int64
	for i := 0; b.Loop(); i++ {
		dir := b.TempDir()
		prefix := fmt.Sprintf("b20-%d-%d", i, time.Now().UnixNano())
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "kubeflow:\n  host: %s\ndefaults:\n  experiment: bench\npipelines:\n", shared.URL)
		for j := range 20 {
			shared.call(b, "POST", "/_sandbox/scripts", map[string]any{"run_name": fmt.Sprintf("%s-%02d", prefix, j), "tasks": map[string]any{
				"train": map[string]any{"outcome": "succeed", "seconds": 3},
			}}, nil)
			fmt.Fprintf(&cfg, "  - name: p%02d\n    spec: %s\n    run_name: %s-%02d\n    parameters: {dataset: x}\n", j, example(b, "train/pipeline.yaml"), prefix, j)
		}
		os.WriteFile(filepath.Join(dir, "kf-run.yaml"), []byte(cfg.String()), 0o644)
		cmd := exec.Command(kfRunBin, "run")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		peak = max(peak, maxRSS(b, cmd))
	}
	b.ReportMetric(float64(peak)/1024, "MiB-peak-20-runs")
	b.ReportMetric(float64(floor)/1024, "MiB-peak-version")
	b.ReportMetric(float64(peak)/float64(floor), "x-baseline")
}

// maxRSS runs cmd and returns its peak resident memory in KiB.
func maxRSS(b *testing.B, cmd *exec.Cmd) int64 {
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

// BenchmarkFollowMemory measures kf-run's peak memory following one run
// whose task writes 10,000 log lines, with --follow (every line printed,
// polled from KFP's log route) and without (the baseline: the same run,
// waited for without logs). Lines are streamed, never held: the ratio is
// the cost of following.
//
//	go test -run XXX -bench FollowMemory -benchtime 3x ./e2e/
func BenchmarkFollowMemory(b *testing.B) {
	var with, without int64
	for i := 0; b.Loop(); i++ {
		for _, follow := range []bool{false, true} {
			name := fmt.Sprintf("bfm-%d-%t-%d", i, follow, time.Now().UnixNano())
			shared.call(b, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
				"train": map[string]any{"outcome": "succeed", "seconds": 3, "log_lines": 10000},
			}}, nil)
			args := withSpec(exampleArgs(name), example(b, "train/pipeline.yaml"))
			if follow {
				args = append(args, "--follow")
			}
			cmd := exec.Command(kfRunBin, args...)
			cmd.Dir = b.TempDir()
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %v\n%.2000s", cmd.Args, err, out.String())
			}
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
			if follow {
				if n := strings.Count(out.String(), "[train-demo/train] "); n < 10000 {
					b.Fatalf("--follow printed %d of the 10,000 lines", n)
				}
				with = max(with, rss)
			} else {
				without = max(without, rss)
			}
		}
	}
	b.ReportMetric(float64(with)/1024, "MiB-peak-follow")
	b.ReportMetric(float64(without)/1024, "MiB-peak-no-logs")
	b.ReportMetric(float64(with)/float64(without), "x-baseline")
}

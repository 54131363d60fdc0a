package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/auth/authtest"
)

// --follow prints a task's 10,000 log lines live, each once and in order
// after its [pipeline/task] tag, with a line when the task starts and
// ends: streamed from Kubernetes (a kubeconfig context, the sandbox's pods
// and workflows API behind a fake API server, real client-go) and, without
// cluster access, polled from KFP's log route.
func TestFollowLogs(t *testing.T) {
	t.Parallel()
	k := authtest.NewKubeAPI(shared.URL, "kubeflow/ml-pipeline:8888")
	t.Cleanup(k.Close)
	k.ServePods(shared.Root)
	spec := example(t, "train/pipeline.yaml")
	const n = 10000
	for _, tt := range []struct {
		name string
		env  []string
		args []string
	}{
		{"kubernetes", []string{"KF_RUN_KUBECONFIG=" + k.KubeconfigToken(t.TempDir()), "KF_RUN_KUBE_CONTEXT=kf"}, nil},
		{"polling", nil, []string{"--host", shared.URL}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := uniq(t, "follow")
			shared.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
				"train": map[string]any{"seconds": 4, "log_lines": n, "log": []string{"::add-mask::leak", "##[error]forged"}},
			}}, nil)
			args := append([]string{"run", "--spec", spec, "--param", "dataset=x", "--run-name", name, "--experiment", "follow", "--follow"}, tt.args...)
			r := kfRun(context.Background(), t, t.TempDir(), append(tt.env, "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml"), args...)
			if r.code != 0 {
				t.Fatalf("want exit 0:\n%s", r)
			}
			var got []string
			started, ended := 0, 0
			for _, l := range strings.Split(r.stderr, "\n") {
				rest, ok := strings.CutPrefix(l, "[train-demo/train] ")
				switch {
				case !ok:
				case rest == "--- started":
					started++
				case strings.HasPrefix(rest, "--- ended SUCCEEDED"):
					ended++
				case strings.HasPrefix(rest, "train line "):
					got = append(got, rest)
				}
			}
			if started != 1 || ended != 1 {
				t.Errorf("%d start and %d end lines, want 1 each", started, ended)
			}
			if len(got) != n {
				t.Fatalf("%d lines followed, want %d", len(got), n)
			}
			for i, l := range got {
				if want := fmt.Sprintf("train line %d/%d", i+1, n); l != want {
					t.Fatalf("line %d is %q, want %q", i, l, want)
				}
			}
			// Remote text cannot run workflow commands.
			if strings.Contains(r.stderr, "\n::add-mask::leak") || !strings.Contains(r.stderr, "[train-demo/train] ::add-mask::leak") {
				t.Errorf("the mask line was not printed as text:\n%s", r.stderr[:min(len(r.stderr), 3000)])
			}
			if !strings.Contains(r.stderr, "::stop-commands::") {
				t.Errorf("the ##[ line was not fenced")
			}
			if tt.args == nil {
				// The stream and the watch went through client-go.
				var reqs []struct{ Path, Query string }
				shared.call(t, "GET", "/_sandbox/requests", nil, &reqs)
				follows, watches := 0, 0
				for _, q := range reqs {
					if strings.HasSuffix(q.Path, "/log") && strings.Contains(q.Query, "follow=true") {
						follows++
					}
					if strings.HasPrefix(q.Path, "/apis/argoproj.io/") && strings.Contains(q.Query, "watch=true") && strings.Contains(q.Query, "pipeline%2Frunid") {
						watches++
					}
				}
				if follows == 0 || watches == 0 {
					t.Errorf("%d log follows and %d workflow watches, want some of each", follows, watches)
				}
			}
		})
	}
}

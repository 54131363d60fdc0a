package report

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

// stable replaces the random stop-commands tokens and GitLab section
// timestamps so console output can be compared with a golden file.
func stable(s string) string {
	s = regexp.MustCompile(`::stop-commands::[0-9a-f]{32}\n`).ReplaceAllString(s, "::stop-commands::TOKEN\n")
	s = regexp.MustCompile(`(?m)^::[0-9a-f]{32}::$`).ReplaceAllString(s, "::TOKEN::")
	return regexp.MustCompile(`section_(start|end):\d+:`).ReplaceAllString(s, "section_$1:TS:")
}

func multi() *plan.Plan {
	p, _ := failedRun()
	_, ok := succeeded()
	ok.Name = "eval"
	_, nw := timedOut()
	nw.Name = "nightly"
	_, ns := notSubmitted()
	ns.Name = "broken"
	_, hs := hostile()
	p.Pipelines = append(p.Pipelines, ok, nw, ns, hs)
	return p
}

func TestConsoleGolden(t *testing.T) {
	t.Parallel()
	for _, prov := range []ci.Provider{ci.GitHub, ci.GitLab, ci.Local} {
		t.Run(string(prov), func(t *testing.T) {
			t.Parallel()
			p := multi()
			p.CI.Provider = prov
			var buf bytes.Buffer
			Console(console.New(&buf, prov, false), p)
			got := stable(buf.String())
			golden(t, filepath.Join("testdata", "console-"+string(prov)+".golden"), got)
			for _, l := range strings.Split(got, "\n") {
				if strings.HasPrefix(l, "::add-mask::") {
					continue
				}
				if strings.Contains(l, secret) {
					t.Errorf("secret in line %q", l)
				}
			}
		})
	}
}

// TestConsoleNoCommands checks that no KFP text reaches the GitHub log as a
// workflow command outside a stop-commands fence.
func TestConsoleNoCommands(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	Console(console.New(&buf, ci.GitHub, false), multi())
	fenced := ""
	for _, l := range strings.Split(buf.String(), "\n") {
		switch {
		case fenced != "":
			if l == "::"+fenced+"::" {
				fenced = ""
			}
		case strings.HasPrefix(l, "::stop-commands::"):
			fenced = strings.TrimPrefix(l, "::stop-commands::")
		case strings.HasPrefix(strings.TrimSpace(l), "::"):
			ok := false
			for _, cmd := range []string{"::add-mask::", "::group::", "::endgroup::", "::error title=kf-run%3A "} {
				ok = ok || strings.HasPrefix(l, cmd)
			}
			if !ok {
				t.Errorf("command outside a fence: %q", l)
			}
		case strings.Contains(l, "##["):
			t.Errorf("legacy command outside a fence: %q", l)
		}
	}
}

func TestState(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		make func() (*plan.Plan, *plan.Pipeline)
		want string
	}{
		{"succeeded", succeeded, "SUCCEEDED"},
		{"failed", failedRun, "FAILED"},
		{"timed out", timedOut, "TIMED_OUT"},
		{"interrupted", interrupted, "CANCELED"},
		{"not submitted", notSubmitted, "NOT_SUBMITTED"},
		{"no wait", noWait, "SUBMITTED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, pl := tt.make()
			if diff := cmp.Diff(tt.want, State(p, pl)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDotenv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		plan func() *plan.Plan
		want string
	}{
		{"one", func() *plan.Plan { p, _ := succeeded(); return p }, "" +
			"KF_RUN_ID=run-42\n" +
			"KF_RUN_URL=https://kfp.example.com/#/runs/details/run-42\n" +
			"KF_RUN_STATE=SUCCEEDED\n"},
		{"not submitted", func() *plan.Plan { p, _ := notSubmitted(); return p }, "KF_RUN_STATE=NOT_SUBMITTED\n"},
		{"hostile values", func() *plan.Plan {
			p, pl := succeeded()
			pl.Submission.RunID = "a b\nKF_RUN_STATE=SUCCEEDED"
			pl.Submission.RunURL = "https://x/?t=" + secret
			return p
		}, "KF_RUN_ID=a%20b%0AKF_RUN_STATE=SUCCEEDED\nKF_RUN_STATE=SUCCEEDED\n"},
		{"several", func() *plan.Plan {
			p, _ := succeeded()
			_, b := timedOut()
			b.Name = "nightly-eval.v2"
			p.Pipelines = append(p.Pipelines, b)
			return p
		}, "" +
			"KF_RUN_ID=run-42\n" +
			"KF_RUN_URL=https://kfp.example.com/#/runs/details/run-42\n" +
			"KF_RUN_STATE=TIMED_OUT\n" + // the worst of all
			"KF_RUN_TRAIN_ID=run-42\n" +
			"KF_RUN_TRAIN_URL=https://kfp.example.com/#/runs/details/run-42\n" +
			"KF_RUN_TRAIN_STATE=SUCCEEDED\n" +
			"KF_RUN_NIGHTLY_EVAL_V2_ID=run-42\n" +
			"KF_RUN_NIGHTLY_EVAL_V2_URL=https://kfp.example.com/#/runs/details/run-42\n" +
			"KF_RUN_NIGHTLY_EVAL_V2_STATE=TIMED_OUT\n"},
		{"count limit", func() *plan.Plan {
			p, _ := succeeded()
			for range 10 {
				_, b := succeeded()
				p.Pipelines = append(p.Pipelines, b)
			}
			return p
		}, ""},
	}
	key := regexp.MustCompile(`^[A-Za-z0-9_]+=[^\s]*$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Dotenv(tt.plan())
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			for _, l := range lines {
				if !key.MatchString(l) {
					t.Errorf("line %q breaks GitLab's dotenv rules", l)
				}
			}
			if strings.Contains(got, secret) {
				t.Error("secret in dotenv")
			}
			if len(lines) > dotenvMaxVars || len(got) > dotenvMaxBytes {
				t.Errorf("%d variables, %d bytes: over GitLab's limits", len(lines), len(got))
			}
			if tt.want == "" {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

package report

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const secret = "tok-5up3r-s3cret"

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// fixture is a plan with one pipeline on GitHub, submitted, not yet waited.
func fixture() (*plan.Plan, *plan.Pipeline) {
	pl := &plan.Pipeline{
		Name:         "train",
		Experiment:   "ci",
		PipelineName: "train-demo",
		Spec: &pipelinespec.Spec{
			Name: "train-pipeline",
			Tasks: []pipelinespec.Task{
				{Name: "prep"},
				{Name: "train", DependsOn: []string{"prep"}},
				{Name: "evaluate", DependsOn: []string{"train"}},
				{Name: "publish", DependsOn: []string{"evaluate", "train"}},
			},
		},
		Parameters: map[string]any{"epochs": 3, "data": "gs://acme/data", "flags": []any{"a", "b"}},
		Submission: &plan.Submission{
			ExperimentID: "e-1", ExperimentName: "ci",
			VersionName: "abc1234", VersionReused: true,
			RunID: "run-42", RunURL: "https://kfp.example.com/#/runs/details/run-42",
			SubmittedAt: t0,
		},
	}
	p := &plan.Plan{
		Target: kfp.Target{Host: "https://kfp.example.com"}, Auth: auth.Settings{Token: secret},
		CI: ci.Info{
			Provider: ci.GitHub, Repo: "acme/ml", SHA: "abc1234def5678", ShortSHA: "abc1234",
			ServerURL: "https://github.com", JobURL: "https://github.com/acme/ml/actions/runs/7",
			Job: "train", Workflow: "CI", PR: 5, Token: "ghs_token",
		},
		Pipelines: []*plan.Pipeline{pl},
		Wait:      true,
		Secrets:   []string{secret},
		Comment:   true,
	}
	return p, pl
}

func task(name string, s kfp.RunState, start, end time.Duration, msg string) kfp.Task {
	return kfp.Task{Name: name, State: s, Start: at(start), End: at(end), Message: msg}
}

func succeeded() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	pl.Outcome = &plan.Outcome{
		State: kfp.StateSucceeded, Started: t0, Finished: at(4*time.Minute + 12*time.Second),
		Tasks: []kfp.Task{
			task("publish", kfp.StateSucceeded, 3*time.Minute, 4*time.Minute, ""),
			task("prep", kfp.StateSucceeded, 0, 12*time.Second, ""),
			task("train", kfp.StateSucceeded, 15*time.Second, 2*time.Minute, ""),
			task("evaluate", kfp.StateSucceeded, 2*time.Minute, 3*time.Minute, ""),
		},
	}
	return p, pl
}

func failedRun() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	pl.Submission.VersionReused = false
	pl.Outcome = &plan.Outcome{
		State: kfp.StateFailed, Started: t0, Finished: at(3 * time.Minute),
		Tasks: []kfp.Task{
			task("prep", kfp.StateSucceeded, 0, 12*time.Second, ""),
			task("train", kfp.StateFailed, 15*time.Second, 2*time.Minute, "OOMKilled: exit code 137 (token "+secret+")"),
			task("evaluate", kfp.StateSkipped, 0, 0, ""),
		},
		Failures: []plan.Failure{{
			Path: []string{"train"}, Message: "OOMKilled: exit code 137",
			LogSource: "KFP UI pod log (pod train-x-system-container-impl-1)",
			Log: []string{
				"epoch 1 loss=0.3",
				"using token " + secret,
				"```",
				"\x1b[31mKilled\x1b[0m",
			},
		}, {
			Path: []string{"train", "for-loop-2[1]", "shard"}, Items: []string{`for-loop-2[1] = {"rows":"10"}`},
			NoLog: "API server node log: HTTP 404 Not Found; UI pod log: x: HTTP 500 pod not found",
		}},
		MoreFailures: 3,
	}
	pl.Err = errors.New(`run "train" FAILED`)
	return p, pl
}

func timedOut() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	pl.Outcome = &plan.Outcome{
		State: kfp.StateRunning, Started: t0, Finished: at(30 * time.Minute), TimedOut: true,
		Tasks: []kfp.Task{
			task("prep", kfp.StateSucceeded, 0, 12*time.Second, ""),
			{Name: "train", State: kfp.StateRunning, Start: at(15 * time.Second)},
		},
	}
	pl.Err = errors.New("wait for run run-42: timed out after 30m")
	return p, pl
}

func interrupted() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	pl.Outcome = &plan.Outcome{
		State: kfp.StateCanceled, Started: t0, Finished: at(90 * time.Second), Terminated: true,
		Tasks: []kfp.Task{
			task("prep", kfp.StateSucceeded, 0, 12*time.Second, ""),
			task("train", kfp.StateCanceled, 15*time.Second, 90*time.Second, "terminated"),
		},
	}
	pl.Err = errors.New("interrupted")
	return p, pl
}

func notSubmitted() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	pl.Submission = nil
	pl.Err = errors.New(`create run "train": POST https://kfp.example.com/apis/v2beta1/runs: 401 Unauthorized (Authorization: Bearer ` + secret + ")")
	return p, pl
}

func noWait() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	p.Wait = false
	return p, pl
}

func hostile() (*plan.Plan, *plan.Pipeline) {
	p, pl := fixture()
	names := []string{
		"a|b",
		"<script>alert(1)</script>",
		"```",
		"::error::pwned",
		"x\"]; click n0 \"javascript:alert(1)\"",
	}
	pl.Name = "evil <b>pipe</b>|"
	pl.Spec.Tasks = nil
	var tasks []kfp.Task
	for i, n := range names {
		var deps []string
		if i > 0 {
			deps = []string{names[i-1]}
		}
		pl.Spec.Tasks = append(pl.Spec.Tasks, pipelinespec.Task{Name: n, DependsOn: deps})
		tasks = append(tasks, task(n, kfp.StateFailed, 0, time.Second,
			"| col | <img src=x onerror=alert(1)> & `code` ``` ::error::msg @octocat [x](javascript:alert(1))\nsecond line"))
	}
	pl.Parameters = map[string]any{"p|<i>": "v`|</td>", "token": secret}
	pl.Outcome = &plan.Outcome{
		State: kfp.StateFailed, Started: t0, Finished: at(time.Minute), Tasks: tasks,
		Failures: []plan.Failure{{Path: []string{"```", "a|b<i>"}, Message: "<img src=x>", LogSource: "pod `x`|<b>",
			Log: []string{"````", "</details><script>x</script>", "::add-mask::x"}}},
	}
	pl.Submission.RunURL = "https://kfp.example.com/#/runs/details/run-42)<script>"
	pl.Submission.ExperimentName = "ci`<b>"
	return p, pl
}

var cases = []struct {
	name string
	make func() (*plan.Plan, *plan.Pipeline)
}{
	{"succeeded", succeeded},
	{"failed", failedRun},
	{"timed_out", timedOut},
	{"interrupted", interrupted},
	{"not_submitted", notSubmitted},
	{"no_wait", noWait},
	{"hostile", hostile},
}

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, pl := tt.make()
			got := Markdown(p, pl, 0)
			golden(t, filepath.Join("testdata", tt.name+".md.golden"), got)
			if strings.Contains(got, secret) {
				t.Errorf("secret in markdown:\n%s", got)
			}
			if again := Markdown(p, pl, 0); again != got {
				t.Error("Markdown is not deterministic")
			}
		})
	}
}

func TestMarkdownHostile(t *testing.T) {
	t.Parallel()
	p, pl := hostile()
	got := Markdown(p, pl, 0)
	// Log tails are shown verbatim, but only inside a fence longer than
	// any backtick run in them; check the text outside it.
	outside := got
	for {
		i := strings.Index(outside, "`````text\n")
		if i < 0 {
			break
		}
		j := strings.Index(outside[i+10:], "\n`````\n")
		if j < 0 {
			t.Fatal("log fence not closed")
		}
		outside = outside[:i] + outside[i+10+j+7:]
	}
	for _, bad := range []string{"<script", "<img", "<b>", "<i>", "</td>", "javascript:alert(1))", "@octocat", "](javascript"} {
		if strings.Contains(outside, bad) {
			t.Errorf("markdown contains %q", bad)
		}
	}
	// Every table row keeps its four cells: no unescaped | from task text.
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "| <code>") && strings.Contains(l, "FAILED") && strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != 5 {
			t.Errorf("table row split by task text: %q", l)
		}
	}
}

func TestMarkdownBudget(t *testing.T) {
	t.Parallel()
	big := func() (*plan.Plan, *plan.Pipeline) {
		p, pl := failedRun()
		pl.Spec.Tasks = nil
		pl.Outcome.Tasks = nil
		for i := range 400 {
			n := "task-" + strings.Repeat("x", 20) + "-" + string(rune('a'+i%26)) + itoa3(i)
			st := kfp.StateSucceeded
			if i == 399 {
				st = kfp.StateFailed
			}
			pl.Spec.Tasks = append(pl.Spec.Tasks, pipelinespec.Task{Name: n})
			pl.Outcome.Tasks = append(pl.Outcome.Tasks, task(n, st, 0, time.Second, strings.Repeat("m", 100)))
		}
		var log []string
		for range 500 {
			log = append(log, strings.Repeat("log line ", 10))
		}
		pl.Outcome.Failures = []plan.Failure{{Path: []string{"train"}, Log: log}}
		return p, pl
	}
	p, pl := big()
	full := len(Markdown(p, pl, 0))
	tests := []struct {
		name     string
		budget   int
		contains []string
		absent   []string
	}{
		{"no limit", 0, []string{"```mermaid", "task-xxxxxxxxxxxxxxxxxxxx-a000"}, nil},
		{"drop mermaid", full - 1, []string{"task-xxxxxxxxxxxxxxxxxxxx-a000"}, []string{"```mermaid"}},
		{"trim tasks", 70000, []string{"more tasks — [see the run]", "<code>task-xxxxxxxxxxxxxxxxxxxx-j399</code>", "Log of"}, []string{"```mermaid"}},
		{"trim logs", 8000, []string{"400 tasks — [see the run]", "last 20 lines"}, []string{"<code>task-"}},
		{"tiny", 300, nil, []string{"Log of"}},
		{"tinier than a header", 10, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, pl := big()
			got := Markdown(p, pl, tt.budget)
			if tt.budget > 0 && len(got) > tt.budget {
				t.Errorf("len = %d, over budget %d", len(got), tt.budget)
			}
			if !utf8.ValidString(got) {
				t.Error("not valid UTF-8")
			}
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("missing %q", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(got, s) {
					t.Errorf("unexpected %q", s)
				}
			}
		})
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

func TestSummaryBudget(t *testing.T) {
	t.Parallel()
	p, _ := fixture()
	p.Pipelines = nil
	for i := range 3 {
		_, pl := failedRun()
		pl.Name = "p" + itoa3(i)
		var log []string
		for range 40000 {
			log = append(log, strings.Repeat("z", 20))
		}
		if i == 1 {
			log = log[:10] // a small one keeps everything
		}
		pl.Outcome.Failures[0].Log = log
		p.Pipelines = append(p.Pipelines, pl)
	}
	got := Summary(p)
	if len(got) > SummaryBudget {
		t.Errorf("summary is %d bytes, over %d", len(got), SummaryBudget)
	}
	_, small := failedRun()
	small.Name = "p001"
	small.Outcome.Failures[0].Log = p.Pipelines[1].Outcome.Failures[0].Log
	if want := Markdown(p, small, 0); !strings.Contains(got, want) {
		t.Error("small pipeline was shrunk")
	}
	for _, n := range []string{"p000", "p001", "p002"} {
		if !strings.Contains(got, "### ❌ "+n) {
			t.Errorf("pipeline %s missing", n)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "<1s"}, {400 * time.Millisecond, "<1s"}, {10 * time.Second, "10s"}, {4*time.Minute + 12*time.Second, "4m12s"},
		{5 * time.Minute, "5m"}, {time.Hour + 2*time.Minute + 40*time.Second, "1h3m"}, {2 * time.Hour, "2h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, duration(tt.in)); diff != "" {
				t.Errorf("duration(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, cell, code string
	}{
		{"pipe", "a|b", `a\|b`, "<code>a&#124;b</code>"},
		{"html", "<b>&", "&lt;b&gt;&amp;", "<code>&lt;b&gt;&amp;</code>"},
		{"backticks", "``x``", "&#96;&#96;x&#96;&#96;", "<code>&#96;&#96;x&#96;&#96;</code>"},
		{"newline", "a\nb", "a<br>b", "<code>a b</code>"},
		// GitHub and GitLab make no mention inside code (html-pipeline's
		// MentionFilter skips <code>; GitLab's reference filters ignore
		// code and pre), so code keeps "@" as it is: a digest stays copyable.
		{"mention", "@team", "@\u2060team", "<code>@team</code>"},
		{"digest", "ghcr.io/a/b@sha256:0f", "ghcr.io/a/b@\u2060sha256:0f", "<code>ghcr.io/a/b@sha256:0f</code>"},
		{"link", "[x](y)", `\[x\]\(y\)`, "<code>&#91;x&#93;(y)</code>"},
		{"control", "a\x1b[31mb\x07", "ab", "<code>ab</code>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.cell, cell(tt.in, 0)); diff != "" {
				t.Errorf("cell (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.code, code(tt.in, 0)); diff != "" {
				t.Errorf("code (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFence(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "```"}, {"``", "```"}, {"a ``` b", "````"}, {"`````", "``````"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, fence(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// A DAG over GitHub's Mermaid limits would show an error box: the summary
// keeps the table and draws no graph.
func TestMermaidLimits(t *testing.T) {
	t.Parallel()
	if !mermaidFits(strings.Repeat("x", mermaidMaxTextSize), mermaidMaxEdges) {
		t.Error("a diagram at both limits must be drawn")
	}
	if mermaidFits(strings.Repeat("x", mermaidMaxTextSize+1), 0) {
		t.Error("a diagram one character over maxTextSize must not be drawn")
	}
	if mermaidFits("graph TD\n", mermaidMaxEdges+1) {
		t.Error("a diagram one edge over maxEdges must not be drawn")
	}
	// Labels are cut to 60 characters; "#" becomes Mermaid's "#35;", so
	// long "#" names make a large text from few edges.
	chain := func(edges, nameLen int) (*plan.Plan, *plan.Pipeline) {
		p, pl := failedRun()
		pl.Spec.Tasks, pl.Outcome.Tasks = nil, nil
		prev := ""
		for i := range edges + 1 {
			n := fmt.Sprintf("t%04d", i) + strings.Repeat("#", nameLen)
			st := pipelinespec.Task{Name: n}
			if prev != "" {
				st.DependsOn = []string{prev}
			}
			pl.Spec.Tasks = append(pl.Spec.Tasks, st)
			pl.Outcome.Tasks = append(pl.Outcome.Tasks, task(n, kfp.StateSucceeded, 0, time.Second, ""))
			prev = n
		}
		return p, pl
	}
	tests := []struct {
		name           string
		edges, nameLen int
		drawn          bool
	}{
		{"500 edges", 500, 0, true},
		{"501 edges", 501, 0, false},
		{"text over 50,000 characters", 250, 60, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, pl := chain(tt.edges, tt.nameLen)
			got := Markdown(p, pl, 0)
			if strings.Contains(got, "```mermaid") != tt.drawn {
				t.Errorf("mermaid drawn = %v, want %v", !tt.drawn, tt.drawn)
			}
			if !strings.Contains(got, fmt.Sprintf("<code>t%04d", tt.edges)) {
				t.Error("the task table lost the last task")
			}
		})
	}
}

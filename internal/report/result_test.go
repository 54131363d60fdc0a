package report

import (
	"errors"
	"testing"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

func TestOverallIsTheWorstState(t *testing.T) {
	t.Parallel()
	ended := func(s kfp.RunState) *plan.Pipeline {
		return &plan.Pipeline{Submission: &plan.Submission{RunID: "r"}, Outcome: &plan.Outcome{State: s}}
	}
	notSubmitted := &plan.Pipeline{Err: errors.New("boom")}
	submitted := &plan.Pipeline{Submission: &plan.Submission{RunID: "r"}}
	interrupted := &plan.Pipeline{Submission: &plan.Submission{RunID: "r"}, Outcome: &plan.Outcome{State: kfp.StateRunning, Interrupted: true}}
	timedOut := &plan.Pipeline{Submission: &plan.Submission{RunID: "r"}, Outcome: &plan.Outcome{State: kfp.StateRunning, TimedOut: true}}
	lost := &plan.Pipeline{Submission: &plan.Submission{RunID: "r"}, Outcome: &plan.Outcome{State: kfp.StateRunning}, Err: errors.New("poll: 500")}
	tests := []struct {
		name string
		wait bool
		pls  []*plan.Pipeline
		want string
	}{
		{"one succeeded", true, []*plan.Pipeline{ended(kfp.StateSucceeded)}, "SUCCEEDED"},
		{"the second failed", true, []*plan.Pipeline{ended(kfp.StateSucceeded), ended(kfp.StateFailed)}, "FAILED"},
		{"failed beats canceled", true, []*plan.Pipeline{ended(kfp.StateCanceled), ended(kfp.StateFailed)}, "FAILED"},
		{"failed beats timed out", true, []*plan.Pipeline{timedOut, ended(kfp.StateFailed)}, "FAILED"},
		{"timed out beats succeeded", true, []*plan.Pipeline{ended(kfp.StateSucceeded), timedOut}, "TIMED_OUT"},
		{"not submitted beats failed", true, []*plan.Pipeline{ended(kfp.StateFailed), notSubmitted}, "NOT_SUBMITTED"},
		{"interrupted beats everything", true, []*plan.Pipeline{notSubmitted, interrupted, ended(kfp.StateFailed)}, "INTERRUPTED"},
		{"lost track", true, []*plan.Pipeline{ended(kfp.StateSucceeded), lost}, "UNKNOWN"},
		{"no-wait", false, []*plan.Pipeline{submitted, submitted}, "SUBMITTED"},
		{"skipped is a success that did not run", true, []*plan.Pipeline{ended(kfp.StateSucceeded), ended(kfp.StateSkipped)}, "SKIPPED"},
		{"nothing", true, nil, "NOT_SUBMITTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Overall(&plan.Plan{Wait: tt.wait, Pipelines: tt.pls}); got != tt.want {
				t.Errorf("Overall = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestResultMasksSecrets(t *testing.T) {
	t.Parallel()
	p := &plan.Plan{Wait: true, Secrets: []string{"tok-123456"}, Pipelines: []*plan.Pipeline{{
		Name: "train", Err: errors.New("login with tok-123456 refused"),
		Submission: &plan.Submission{RunID: "r1", RunURL: "https://kfp/#/runs/details/r1"},
		Outcome: &plan.Outcome{State: kfp.StateFailed, Tasks: []kfp.Task{{Name: "a", State: kfp.StateFailed, Message: "saw tok-123456"}, {Name: "b"}},
			Failures: []plan.Failure{{Path: []string{"a"}, Message: "tok-123456 again"}}},
	}}}
	r := NewResult(p)
	pr := r.Pipelines[0]
	if r.State != "FAILED" || pr.RunID != "r1" || pr.Error != "login with *** refused" || pr.Tasks[0].Message != "saw ***" || pr.Failures[0].Message != "*** again" {
		t.Errorf("result: %+v", r)
	}
	if pr.Tasks[1].State != "not run" {
		t.Errorf("a task without a state: %q, want \"not run\"", pr.Tasks[1].State)
	}
}

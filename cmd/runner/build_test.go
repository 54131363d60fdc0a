package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/build"
	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
)

// A compile error is shown under the step's name, the compiler's output
// fenced so a line of it cannot run a workflow command; other errors are
// one annotation each.
func TestReportBuildError(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	out := console.New(&buf, ci.GitHub, false)
	err := errors.Join(
		&build.StepError{Ref: "ko://example.com/app/cmd/train", Steps: []string{"ko-demo/train"}, Compiler: "# example.com/app/cmd/train\ncmd/train/main.go:3:15: undefined: x\n::error::not a command", Err: errors.New("build: go build: exit status 1")},
		&build.StepError{Ref: "ko://example.com/app/cmd/prep", Steps: []string{"ko-demo/prep"}, Err: errors.New("registry r denied access")},
	)
	reportBuildError(out, err)
	got := buf.String()
	for _, want := range []string{
		"::error title=build ko-demo/train::ko://example.com/app/cmd/train does not compile",
		"cmd/train/main.go:3:15: undefined: x",
		"::stop-commands::",
		"::error title=build ko-demo/prep::build ko://example.com/app/cmd/prep (step ko-demo/prep): registry r denied access",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// The injected line is inside the stop-commands fence.
	stop := strings.Index(got, "::stop-commands::")
	if i := strings.Index(got, "::error::not a command"); i < stop {
		t.Errorf("compiler output not fenced:\n%s", got)
	}
}

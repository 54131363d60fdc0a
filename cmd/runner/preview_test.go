package main

import (
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/kfp"
)

// A fork's job without secrets: KFP's 401 says why, other errors do not.
func TestNoSecretsHint(t *testing.T) {
	t.Parallel()
	base := func(*kfp.APIError) string { return "Set a credential" }
	fork := ci.Info{Provider: ci.GitHub, Event: "pull_request", PR: 7, Fork: true, ForkHead: "someone/ml"}
	h := noSecretsHint(fork, base)
	if got := h(&kfp.APIError{HTTPStatus: 401}); !strings.HasPrefix(got, "Most likely this is pull request #7 from the fork someone/ml") || !strings.HasSuffix(got, "Set a credential") {
		t.Errorf("401 hint = %q", got)
	}
	if got := h(&kfp.APIError{HTTPStatus: 500}); got != "Set a credential" {
		t.Errorf("500 hint = %q", got)
	}
	same := fork
	same.Fork = false
	if got := noSecretsHint(same, base)(&kfp.APIError{HTTPStatus: 401}); got != "Set a credential" {
		t.Errorf("no fork: hint = %q", got)
	}
}

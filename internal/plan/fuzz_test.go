package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/ci"
)

// FuzzParamFlag checks --param NAME=VALUE against the example pipeline's
// typed parameters (string, integer, double, boolean, list, struct): it
// never panics, a value it refuses is a usage error (exit 2) that names
// the flag or the parameter, and a value it takes has the parameter's
// type. Run it with scripts/fuzz.sh; make test runs only the seeds.
func FuzzParamFlag(f *testing.F) {
	for _, seed := range []string{
		"dataset=gs://x", "epochs=7", "epochs=7.5", "epochs=", "epochs=1e3", "epochs=-0",
		"=x", "noequals", "unknown=1", "dataset=", "dataset=\x00", "epochs=99999999999999999999",
		"learning_rate=0.1", "learning_rate=NaN", "learning_rate=inf",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, kv string) {
		p, err := New(Input{Flags: Flags{Spec: spec, Host: "http://kfp:8888", Params: []string{"dataset=gs://x", kv}, NoWait: true, RunName: "r"}, CI: ci.Info{Provider: ci.Local}})
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("--param %q: %v is not a usage error (exit 2)", kv, err)
			}
			name, _, _ := strings.Cut(kv, "=")
			if msg := err.Error(); !strings.Contains(msg, "--param") && !strings.Contains(msg, name) {
				t.Fatalf("--param %q: error %q names neither the flag nor the parameter", kv, msg)
			}
			return
		}
		pl := p.Pipelines[0]
		if err := pl.Spec.CheckParams(pl.Parameters); err != nil {
			t.Fatalf("--param %q was taken as %v, which fails its own type check: %v", kv, pl.Parameters, err)
		}
	})
}

package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
)

// The summary's facts and the step outputs name the KFP release the
// server reported; nothing is said when it did not answer.
func TestKFPVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		server kfp.Server
		fact   string // "" for none
		output string // kfp-version's value, "" for no output
	}{
		{kfp.Server{Tag: "2.17.0", Release: kfp.Release{Major: 2, Minor: 17}}, "- **KFP:** <code>2.17.0</code>\n", "2.17.0"},
		{kfp.Server{Tag: "unknown"}, "- **KFP:** <code>unknown (healthz tag&#95;name \"unknown\")</code>\n", "unknown"},
		{kfp.Server{}, "", ""},
	} {
		p, pl := succeeded()
		p.Server = tc.server
		md := Markdown(p, pl, 0)
		if tc.fact != "" && !strings.Contains(md, "- **Pipeline version:** <code>train-demo</code> / <code>abc1234</code> (reused)\n"+tc.fact+"- **Commit:**") {
			t.Errorf("%q: markdown lacks %q after the pipeline version:\n%s", tc.server.Tag, tc.fact, md)
		}
		if tc.fact == "" && strings.Contains(md, "**KFP:**") {
			t.Errorf("no server: markdown names a KFP release:\n%s", md)
		}
		var log bytes.Buffer
		out, err := outputs(p, console.New(&log, ci.GitHub, false))
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(out, "kfp-version<<")
		if has != (tc.output != "") || (has && !strings.Contains(out, "\n"+tc.output+"\n")) {
			t.Errorf("%q: outputs:\n%s", tc.server.Tag, out)
		}
	}
}

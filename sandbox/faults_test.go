package sandbox_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kf-run/kf-run/sandbox"
	"github.com/kf-run/kf-run/sandbox/internal/kfptest"
)

// 504-late: the client gets a bare 504 at once, a look right after finds
// nothing, and KFP commits the create delay later, body and all.
func TestFaultLateCommit(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	t.Parallel()
	if err := sb.Faults().Add(sandbox.Fault{Kind: sandbox.FaultLateCommit}); err == nil || !strings.Contains(err.Error(), "set delay") {
		t.Errorf("504-late without a delay: %v, want an error asking for one", err)
	}
	// The delay only has to outlast one list call right after the 504.
	const delay = sandbox.Duration(3 * time.Second)
	spec, err := os.ReadFile("testdata/pipelines/if_else.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []sandbox.Fault{
		{Method: "POST", Path: "^/apis/v2beta1/experiments$", Times: 1, Kind: sandbox.FaultLateCommit, Delay: delay},
		{Method: "POST", Path: "^/apis/v2beta1/pipelines/upload$", Times: 1, Kind: sandbox.FaultLateCommit, Delay: delay},
	} {
		if err := sb.Faults().Add(f); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.Do(t.Context(), http.MethodPost, "/apis/v2beta1/experiments", map[string]any{"display_name": "late-commit"}, nil)
	if err != nil || r.Status != http.StatusGatewayTimeout || strings.Contains(string(r.Body), "late-commit") {
		t.Fatalf("create experiment: %d %s %v, want a bare 504", r.Status, r.Body, err)
	}
	if u := upload(t, c, "late-pipeline", "p.yaml", spec); u.Status != http.StatusGatewayTimeout {
		t.Fatalf("upload: %d %s, want a bare 504", u.Status, u.Body)
	}
	experiment := func() bool {
		return strings.Contains(lateList(t, c, "/apis/v2beta1/experiments", "late-commit"), `"late-commit"`)
	}
	pipeline := func() bool {
		return strings.Contains(lateList(t, c, "/apis/v2beta1/pipelines", "late-pipeline"), `"late-pipeline"`)
	}
	if experiment() || pipeline() {
		t.Fatal("the creates were visible right after their 504s, want them committed later")
	}
	waitFor(t, experiment)
	waitFor(t, pipeline)
	// Once, each: the fault's own request is not repeated.
	c.Must(t, http.StatusConflict, http.MethodPost, "/apis/v2beta1/experiments", map[string]any{"display_name": "late-commit"})
	var got []string
	for _, q := range sb.Requests() {
		if q.Method == "POST" {
			got = append(got, q.Fault+"/"+http.StatusText(q.Status))
		}
	}
	if want := "504-late/Gateway Timeout,504-late/Gateway Timeout,/Conflict"; strings.Join(got, ",") != want {
		t.Errorf("POSTs in the request log: %v, want %s", got, want)
	}
}

// lateList returns the body of a list call filtered on display_name == name.
func lateList(t *testing.T, c *kfptest.Client, path, name string) string {
	t.Helper()
	f := `{"predicates":[{"key":"display_name","operation":"EQUALS","string_value":"` + name + `"}]}`
	r := c.Must(t, http.StatusOK, http.MethodGet, path+"?filter="+url.QueryEscape(url.QueryEscape(f)), nil)
	return string(r.Body)
}

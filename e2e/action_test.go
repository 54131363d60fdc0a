package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Docker action's entrypoint maps inputs to kf-run's flags, one
// argument each (an input cannot inject a second command), including the
// inputs whose names keep their dashes (INPUT_GITHUB-TOKEN).
func TestActionEntrypoint(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	fake := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\necho \"pwd=$(pwd)\"\necho \"token=$GITHUB_TOKEN\"\n"
	if err := os.WriteFile(filepath.Join(bin, "kf-run"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	entry, _ := filepath.Abs("../action/entrypoint.sh")
	work := t.TempDir()
	cmd := exec.Command("sh", entry)
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin",
		"INPUT_CONFIG=ci/kf-run.yaml", "INPUT_TIMEOUT=45m", "INPUT_WAIT=False", "INPUT_COMMENT=true",
		"INPUT_PIPELINES=train\neval\n", "INPUT_PARAMS=epochs=3\nmsg=a b; touch /tmp/pwned",
		"INPUT_WORKING-DIRECTORY=" + work, "INPUT_GITHUB-TOKEN=ghs_abc"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("entrypoint: %v\n%s", err, out)
	}
	want := []string{"run", "--config", "ci/kf-run.yaml", "--timeout", "45m", "--no-wait",
		"--pipeline", "train", "--pipeline", "eval", "--param", "epochs=3", "--param", "msg=a b; touch /tmp/pwned",
		"pwd=" + work, "token=ghs_abc"}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(string(out)), "\n")); diff != "" {
		t.Errorf("kf-run arguments (-want +got):\n%s", diff)
	}
}

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushTestBase pushes a tiny two-platform base image to a loopback
// registry: the end-to-end tests cannot pull ko's default from the internet.
func pushTestBase(t *testing.T, ref string, opts ...remote.Option) {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := "e2e base " + arch + "\n"
		tw.WriteHeader(&tar.Header{Name: "etc/base-release", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
		tw.Close()
		b := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), opts...); err != nil {
		t.Fatal(err)
	}
}

// goEnv passes the machine's Go caches and settings to kf-run, whose HOME
// is a fresh directory, so the build does not start from nothing.
func goEnv(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	var env []string
	for k, v := range m {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return append(env, "GOTOOLCHAIN=local")
}

var digestRE = regexp.MustCompile(`ko://github\.com/kf-run/kf-run/examples/components/(prep|train) → (\S+@sha256:[0-9a-f]{64})`)

// The ko example: two Go steps built for two platforms, pushed to the
// sandbox's registry and pinned; the sandbox fails a task whose image is
// not there, so SUCCEEDED proves both digests were pushed. A second run
// with no source change builds and pushes nothing.
func TestBuildKoPipeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := shared.Registry + "/e2e-base/static:latest"
	pushTestBase(t, base)
	env := append(goEnv(t), "KO_DOCKER_REPO="+shared.Registry+"/e2e", "KO_DEFAULTBASEIMAGE="+base)
	summary := filepath.Join(t.TempDir(), "summary.md")

	var digests []string
	for i, want := range []string{"Publishing", "unchanged, not rebuilt"} {
		name := uniq(t, "ko")
		r := kfRun(ctx, t, example(t, "ko"), env, "run", "--host", shared.URL, "--run-name", name, "--summary-file", summary)
		if r.code != 0 {
			t.Fatalf("run %d: want exit 0:\n%s", i+1, r)
		}
		t.Logf("run %d:\n%s", i+1, r)
		runs := shared.runsNamed(t, name, "")
		if len(runs) != 1 || runs[0].State != "SUCCEEDED" {
			t.Fatalf("run %d: runs named %q: %+v, want one SUCCEEDED\n%s", i+1, name, runs, r)
		}
		for _, w := range []string{"Build images with ko", "ko-demo: task prep SUCCEEDED", "ko-demo: task train SUCCEEDED", want} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("run %d: output lacks %q:\n%s", i+1, w, r)
			}
		}
		m := digestRE.FindAllStringSubmatch(r.stderr, -1)
		if len(m) != 2 {
			t.Fatalf("run %d: want two pinned images in the output:\n%s", i+1, r)
		}
		got := []string{m[0][2], m[1][2]}
		if digests == nil {
			digests = got
		} else if strings.Join(got, " ") != strings.Join(digests, " ") {
			t.Errorf("run 2 pinned %v, run 1 %v: same source, want the same digests", got, digests)
		}
		if i == 1 && (strings.Contains(r.stderr, "Publishing") || strings.Contains(r.stderr, "Building")) {
			t.Errorf("run 2 built or pushed although nothing changed:\n%s", r)
		}
		// What KFP ran: the digests, on the sandbox registry.
		var wf map[string]any
		shared.call(t, "GET", "/_sandbox/runs/"+runs[0].RunID+"/workflow", nil, &wf)
		b, _ := json.Marshal(wf)
		for _, d := range got {
			if !strings.HasPrefix(d, shared.Registry+"/e2e/") || !strings.Contains(string(b), d) {
				t.Errorf("run %d: workflow does not run %s", i+1, d)
			}
		}
		if strings.Contains(string(b), `"image":"ko://`) {
			t.Errorf("run %d: a ko:// image reached KFP", i+1)
		}
		md, _ := os.ReadFile(summary)
		if !strings.Contains(string(md), "| Image | Pushed as |") || !strings.Contains(string(md), "<code>ko://github.com/kf-run/kf-run/examples/components/prep</code>") {
			t.Errorf("run %d: summary lacks the images:\n%s", i+1, md)
		}
	}
}

// A registry with basic auth (the sandbox's --registry-user): kf-run takes
// KF_RUN_REGISTRY_USERNAME/PASSWORD, never prints the password, and without
// them says which registry refused and what it tried; nothing is submitted.
func TestBuildRegistryAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sb, err := start(ctx, "--step-duration", "40ms", "--registry-user", "ci", "--registry-password", "s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.stop()
	base := sb.Registry + "/e2e-base/static:latest"
	pushTestBase(t, base, remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret-pw"}))
	env := append(goEnv(t), "KO_DOCKER_REPO="+sb.Registry+"/e2e", "KO_DEFAULTBASEIMAGE="+base)

	name := uniq(t, "denied")
	r := kfRun(ctx, t, example(t, "ko"), env, "run", "--host", sb.URL, "--run-name", name)
	if r.code != 1 {
		t.Fatalf("no credentials: want exit 1:\n%s", r)
	}
	for _, w := range []string{"registry " + sb.Registry + " denied access", "no credentials found", "ko-demo/prep"} {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("no credentials: output lacks %q:\n%s", w, r)
		}
	}
	if runs := sb.runsNamed(t, name, ""); len(runs) != 0 {
		t.Errorf("a build failed but %d runs were submitted", len(runs))
	}

	name = uniq(t, "auth")
	r = kfRun(ctx, t, example(t, "ko"), append(env, "KF_RUN_REGISTRY_USERNAME=ci", "KF_RUN_REGISTRY_PASSWORD=s3cret-pw"), "run", "--host", sb.URL, "--run-name", name)
	if r.code != 0 {
		t.Fatalf("with credentials: want exit 0:\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret-pw") {
		t.Errorf("the registry password was printed:\n%s", r)
	}
	if runs := sb.runsNamed(t, name, ""); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
		t.Errorf("with credentials: %+v, want one SUCCEEDED run", runs)
	}
}

// A ko:// reference to a package that does not exist is a config error:
// exit 2, the reference named, nothing submitted.
func TestBuildBadRef(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile(example(t, "ko/pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(spec), "examples/components/train", "examples/components/nope", 1)
	path := filepath.Join(t.TempDir(), "pipeline.yaml")
	os.WriteFile(path, []byte(bad), 0o644)
	name := uniq(t, "badref")
	env := append(goEnv(t), "KO_DOCKER_REPO="+shared.Registry+"/e2e")
	r := kfRun(context.Background(), t, example(t, "ko"), env, "run", "--spec", path, "--host", shared.URL, "--run-name", name)
	if r.code != 2 {
		t.Fatalf("want exit 2:\n%s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "ko://github.com/kf-run/kf-run/examples/components/nope: package not found") {
		t.Errorf("output does not name the bad reference:\n%s", r)
	}
	if runs := shared.runsNamed(t, name, ""); len(runs) != 0 {
		t.Errorf("%d runs submitted after a bad reference", len(runs))
	}
}

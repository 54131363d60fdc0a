package build

import (
	"bytes"
	"context"
	"crypto/md5"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const (
	prepRef  = "ko://github.com/kf-run/kf-run/examples/components/prep"
	trainRef = "ko://github.com/kf-run/kf-run/examples/components/train"
)

// logTo collects the build's log lines for failure messages.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }
func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// writeModule writes a throwaway module example.com/app with the files.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/app\n\ngo 1.26\n"
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const helloMain = `package main

import "fmt"

var version = "dev"

func main() { fmt.Println("hello", version, tag) }
`

func TestIgnoredEnv(t *testing.T) {
	t.Parallel()
	got := IgnoredEnv([]string{"PATH=/bin", "GOOS=windows", "CGO_ENABLED=0", "GOAMD64=v3", "CGO_ENABLED=1", "GOFLAGS=-mod=mod"})
	if want := []string{"GOOS", "GOAMD64", "CGO_ENABLED"}; !slices.Equal(got, want) {
		t.Errorf("IgnoredEnv = %v, want %v", got, want)
	}
}

// The example components, for two platforms, against a base index of our
// own: the pushed index and images are what ko's CLI would push, the
// process's GOARCH/CGO_ENABLED do not leak into the build, and a second run
// with nothing changed writes nothing to the registry.
func TestImagesExampleTwoPlatforms(t *testing.T) {
	// Not parallel: it sets env to prove it does not leak into go build.
	t.Setenv("GOARCH", "arm64")
	t.Setenv("CGO_ENABLED", "1")
	ctx := context.Background()
	reg := newRegistry(t, "", "")
	base := reg.Host + "/base/multi:latest"
	baseLayers := pushBase(t, base, nil, "linux/amd64", "linux/arm64")
	var log logLines
	o := Options{
		Dir:       "../..",
		Repo:      reg.Host + "/kf",
		Platforms: []string{"linux/amd64,linux/arm64"},
		BaseImage: base,
		Tags:      []string{"latest", "0123abc"},
		Log:       log.add,
	}
	targets := []Target{
		{Ref: prepRef, Steps: []string{"ko-demo/prep"}},
		{Ref: trainRef, Steps: []string{"ko-demo/train"}},
		{Ref: prepRef, Steps: []string{"other/prep"}},
	}
	reg.takeWrites()
	// The library does not touch the process environment: it refuses,
	// and the program drops what IgnoredEnv lists (cmd/runner does).
	if _, err := Images(ctx, o, targets); err == nil || !strings.Contains(err.Error(), "GOARCH, CGO_ENABLED") {
		t.Fatalf("Images with GOARCH and CGO_ENABLED=1 set: %v, want a refusal naming both", err)
	}
	if got := os.Getenv("GOARCH"); got != "arm64" {
		t.Fatalf("the library changed GOARCH to %q", got)
	}
	for _, k := range IgnoredEnv(os.Environ()) {
		os.Unsetenv(k) // t.Setenv restores them
	}
	imgs, err := Images(ctx, o, targets)
	if err != nil {
		t.Fatalf("Images: %v\nlog:\n%s", err, &log)
	}
	if len(imgs) != 3 || imgs[0].Digest != imgs[2].Digest || imgs[0].Digest == imgs[1].Digest {
		t.Fatalf("images: %+v", imgs)
	}
	if w := reg.takeWrites(); len(w) == 0 {
		t.Fatal("first build wrote nothing to the registry")
	}

	for _, img := range imgs[:2] {
		ip := strings.TrimPrefix(img.Ref, Scheme)
		sum := md5.Sum([]byte(ip))
		wantRepo := reg.Host + "/kf/" + filepath.Base(ip) + "-" + hex.EncodeToString(sum[:])
		d, err := name.NewDigest(img.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if d.Context().String() != wantRepo {
			t.Errorf("%s pushed to %s, want %s", img.Ref, d.Context(), wantRepo)
		}
		if img.ImportPath != ip || img.Reused {
			t.Errorf("%+v", img)
		}
		idx, err := remote.Index(d)
		if err != nil {
			t.Fatalf("%s is not an index: %v", img.Digest, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var plats []string
		for _, m := range im.Manifests {
			plats = append(plats, m.Platform.String())
			image, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			exe := inspectImage(t, image, m.Platform.String(), filepath.Base(ip), baseLayers[m.Platform.String()])
			if out, ran := runHere(t, m.Platform.String(), exe, "--help"); ran && !strings.Contains(out, "Usage of") {
				t.Errorf("%s --help printed %q", ip, out)
			}
		}
		if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, plats); diff != "" {
			t.Errorf("platforms (-want +got):\n%s", diff)
		}
		tagged, err := remote.Head(d.Context().Tag("0123abc"))
		if err != nil || tagged.Digest.String() != d.DigestStr() {
			t.Errorf("tag 0123abc: %v %v, want %s", tagged, err, d.DigestStr())
		}
	}

	// Again, with nothing changed: found by the skip cache, nothing written.
	again, err := Images(ctx, o, targets)
	if err != nil {
		t.Fatalf("second Images: %v\nlog:\n%s", err, &log)
	}
	for i := range again {
		if again[i].Digest != imgs[i].Digest || !again[i].Reused {
			t.Errorf("second run: %+v, first %+v\nlog:\n%s", again[i], imgs[i], &log)
		}
	}
	if w := reg.takeWrites(); len(w) > 0 {
		t.Errorf("second run wrote to the registry: %v", w)
	}
}

// inspectImage checks one platform's image: base layer first, entrypoint
// /ko-app/<name>, a binary for the right architecture, which runs here.
func inspectImage(t *testing.T, img v1.Image, plat, bin string, baseLayer v1.Hash) []byte {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.OS + "/" + cf.Architecture; got != plat {
		t.Errorf("%s: config platform %s", plat, got)
	}
	if diff := cmp.Diff([]string{"/ko-app/" + bin}, cf.Config.Entrypoint); diff != "" {
		t.Errorf("%s: entrypoint (-want +got):\n%s", plat, diff)
	}
	if cf.Config.User != "65532" {
		t.Errorf("%s: user %q, want the base's", plat, cf.Config.User)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) < 2 {
		t.Fatalf("%s: layers %d %v", plat, len(layers), err)
	}
	if d, _ := layers[0].Digest(); d != baseLayer {
		t.Errorf("%s: first layer %s, want the base's %s", plat, d, baseLayer)
	}
	exe := fileFromImage(t, img, "ko-app/"+bin)
	if len(exe) == 0 {
		t.Fatalf("%s: no /ko-app/%s in the image", plat, bin)
	}
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("%s: /ko-app/%s is not an ELF binary: %v", plat, bin, err)
	}
	want := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}[plat]
	if f.Machine != want {
		t.Errorf("%s: binary is for %v, want %v (GOARCH leaked?)", plat, f.Machine, want)
	}
	return exe
}

// runHere runs a binary from an image when it is for this machine.
func runHere(t *testing.T, plat string, exe []byte, args ...string) (string, bool) {
	t.Helper()
	if plat != runtime.GOOS+"/"+runtime.GOARCH {
		return "", false
	}
	p := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(p, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p, args...).CombinedOutput()
	if err != nil {
		t.Errorf("run %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out)), true
}

// .ko.yaml: a base override, per-build ldflags and flags, a relative ref;
// SOURCE_DATE_EPOCH's creation time; the same source gives the same digest
// when built again (no skip cache), and that second push writes nothing.
func TestImagesKoYAML(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegistry(t, "", "")
	pushBase(t, reg.Host+"/base/default:latest", nil, "linux/amd64")
	overrideLayers := pushBase(t, reg.Host+"/base/override:v1", nil, "linux/amd64")
	dir := writeModule(t, map[string]string{
		"cmd/hello/main.go":  helloMain,
		"cmd/hello/tag.go":   "//go:build extra\n\npackage main\n\nconst tag = \"extra\"\n",
		"cmd/hello/notag.go": "//go:build !extra\n\npackage main\n\nconst tag = \"plain\"\n",
		".ko.yaml": `defaultBaseImage: ` + reg.Host + `/base/default:latest
baseImageOverrides:
  example.com/app/cmd/hello: ` + reg.Host + `/base/override:v1
defaultPlatforms: linux/amd64
builds:
- id: hello
  main: ./cmd/hello
  flags: -tags extra
  ldflags: ["-X main.version=1.2.3"]
`,
	})
	created := time.Unix(1700000000, 0).UTC()
	var log logLines
	o := Options{Dir: dir, Repo: reg.Host + "/app", Naming: NamingBase, CreationTime: created, NoSkip: true, Log: log.add}
	imgs, err := Images(ctx, o, []Target{{Ref: "ko://./cmd/hello"}})
	if err != nil {
		t.Fatalf("Images: %v\nlog:\n%s", err, &log)
	}
	if imgs[0].ImportPath != "example.com/app/cmd/hello" || !strings.HasPrefix(imgs[0].Digest, reg.Host+"/app/hello@sha256:") {
		t.Fatalf("%+v", imgs[0])
	}
	img, err := remote.Image(mustDigest(t, imgs[0].Digest))
	if err != nil {
		t.Fatalf("want a single-platform image: %v", err)
	}
	exe := inspectImage(t, img, "linux/amd64", "hello", overrideLayers["linux/amd64"])
	cf, _ := img.ConfigFile()
	if !cf.Created.Time.Equal(created) {
		t.Errorf("created %v, want %v", cf.Created, created)
	}
	if out, ran := runHere(t, "linux/amd64", exe); ran && out != "hello 1.2.3 extra" {
		t.Errorf("hello printed %q, want ldflags and tags from .ko.yaml", out)
	}

	reg.takeWrites()
	again, err := Images(ctx, o, []Target{{Ref: "ko://example.com/app/cmd/hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Digest != imgs[0].Digest || again[0].Reused {
		t.Errorf("rebuilt %+v, want the same digest as %s", again[0], imgs[0].Digest)
	}
	if w := reg.takeWrites(); len(w) > 0 {
		t.Errorf("pushing an identical image wrote %v", w)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func mustDigest(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestImagesErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegistry(t, "", "")
	base := reg.Host + "/base/static:latest"
	pushBase(t, base, nil, "linux/amd64")
	dir := writeModule(t, map[string]string{
		"cmd/hello/main.go":  helloMain + "\nconst tag = \"\"\n",
		"cmd/broken/main.go": "package main\n\nfunc main() { undefinedThing() }\n",
		"lib/lib.go":         "package lib\n\nconst X = 1\n",
	})
	o := Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base}
	tests := []struct {
		name    string
		o       Options
		targets []Target
		config  bool // a *ConfigError: exit 2
		want    []string
	}{
		{"not found", o, []Target{{Ref: "ko://example.com/app/nope"}, {Ref: "ko://./cmd/nope"}}, true,
			[]string{"ko://example.com/app/nope: package not found", "ko://./cmd/nope: package not found"}},
		{"not main", o, []Target{{Ref: "ko://example.com/app/lib"}}, true,
			[]string{"ko://example.com/app/lib: not a main package (it is package lib)"}},
		{"pattern", o, []Target{{Ref: "ko://example.com/app/..."}}, true, []string{"patterns"}},
		{"no repo", Options{Dir: dir}, []Target{{Ref: "ko://./cmd/hello"}}, true, []string{"set images.repo in kf-run.yaml or KO_DOCKER_REPO"}},
		{"bad platform", Options{Dir: dir, Repo: o.Repo, Platforms: []string{"linux"}}, []Target{{Ref: "ko://./cmd/hello"}}, true, []string{`platform "linux"`}},
		{"compile error", o, []Target{{Ref: "ko://./cmd/broken", Steps: []string{"p/broken"}}, {Ref: "ko://./cmd/hello"}}, false,
			[]string{"compile ko://example.com/app/cmd/broken (step p/broken):", "undefined: undefinedThing"}},
		{"platform not in base", Options{Dir: dir, Repo: o.Repo, BaseImage: base, Platforms: []string{"linux/s390x"}}, []Target{{Ref: "ko://./cmd/hello"}}, false,
			[]string{"build ko://example.com/app/cmd/hello", "linux/s390x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Images(ctx, tt.o, tt.targets)
			if err == nil {
				t.Fatal("no error")
			}
			var ce *ConfigError
			if errors.As(err, &ce) != tt.config {
				t.Errorf("ConfigError = %t, want %t: %v", !tt.config, tt.config, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// Basic auth: without credentials the error names the registry and the
// sources tried; with username/password (or docker's config.json) it works.
func TestImagesBasicAuth(t *testing.T) {
	// Not parallel: DOCKER_CONFIG points at an empty directory.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	reg := newRegistry(t, "ci", "s3cret")
	open := newRegistry(t, "", "")
	base := reg.Host + "/base/static:latest"
	pushBase(t, base, remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"}), "linux/amd64")
	openBase := open.Host + "/base/static:latest"
	pushBase(t, openBase, nil, "linux/amd64")
	dir := writeModule(t, map[string]string{"cmd/hello/main.go": helloMain + "\nconst tag = \"\"\n"})
	targets := []Target{{Ref: "ko://./cmd/hello", Steps: []string{"p/hello"}}}

	// The base image's registry refuses.
	_, err := Images(ctx, Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base}, targets)
	for _, w := range []string{"registry " + reg.Host + " denied access", "no credentials found", "docker config.json", "GITHUB_TOKEN"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("base fetch without credentials: error does not say %q:\n%v", w, err)
		}
	}
	// The push is refused.
	_, err = Images(ctx, Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: openBase, Auth: Auth{Username: "ci", Password: "wrong", Source: "KF_RUN_REGISTRY_USERNAME/PASSWORD"}}, targets)
	for _, w := range []string{"registry " + reg.Host + " denied access with the credentials from KF_RUN_REGISTRY_USERNAME/PASSWORD", "p/hello"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("push with a wrong password: error does not say %q:\n%v", w, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Errorf("the password is printed: %v", err)
	}
	// Right credentials.
	imgs, err := Images(ctx, Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base, Auth: Auth{Username: "ci", Password: "s3cret"}}, targets)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(mustDigest(t, imgs[0].Digest), remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})); err != nil {
		t.Errorf("pushed image not found: %v", err)
	}
	// docker's config.json, as `docker login` or `ko login` write it.
	cfg := `{"auths":{"` + reg.Host + `":{"auth":"` + b64("ci:s3cret") + `"}}}`
	os.WriteFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), []byte(cfg), 0o600)
	if _, err := Images(ctx, Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base}, targets); err != nil {
		t.Errorf("with docker config.json: %v", err)
	}
}

// The skip cache: a source change rebuilds; going back finds the old
// image again; a new tag (the next commit's SHA) on an unchanged image is
// one manifest PUT, no blob.
func TestImagesSkipCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegistry(t, "", "")
	base := reg.Host + "/base/static:latest"
	pushBase(t, base, nil, "linux/amd64")
	dir := writeModule(t, map[string]string{"cmd/hello/main.go": helloMain + "\nconst tag = \"one\"\n"})
	o := Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base, Tags: []string{"latest", "sha1"}}
	targets := []Target{{Ref: "ko://./cmd/hello"}}
	build := func(what string) Image {
		t.Helper()
		imgs, err := Images(ctx, o, targets)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return imgs[0]
	}
	first := build("first")
	reg.takeWrites()

	os.WriteFile(filepath.Join(dir, "cmd/hello/main.go"), []byte(helloMain+"\nconst tag = \"two\"\n"), 0o644)
	changed := build("after a change")
	if changed.Reused || changed.Digest == first.Digest {
		t.Errorf("after a source change: %+v, first %+v", changed, first)
	}
	reg.takeWrites()

	os.WriteFile(filepath.Join(dir, "cmd/hello/main.go"), []byte(helloMain+"\nconst tag = \"one\"\n"), 0o644)
	back := build("back")
	if !back.Reused || back.Digest != first.Digest {
		t.Errorf("back to the first source: %+v, want the first image reused", back)
	}
	for _, w := range reg.takeWrites() {
		if !strings.HasPrefix(w, "PUT ") || !(strings.HasSuffix(w, "/manifests/latest") || strings.HasSuffix(w, "/manifests/sha1")) {
			t.Errorf("going back wrote %s; want only the tags re-pointed", w)
		}
	}

	o.Tags = []string{"latest", "sha2"}
	next := build("next commit")
	if !next.Reused || next.Digest != first.Digest {
		t.Errorf("new tag: %+v", next)
	}
	if w := reg.takeWrites(); len(w) != 1 || !strings.HasSuffix(w[0], "/manifests/sha2") {
		t.Errorf("a new tag wrote %v, want one manifest PUT", w)
	}
	if d, err := remote.Head(mustDigest(t, first.Digest).Context().Tag("sha2")); err != nil || d.Digest.String() != mustDigest(t, first.Digest).DigestStr() {
		t.Errorf("sha2 tag: %v %v", d, err)
	}
}

// SBOM: off by default (no .sbom tag), on when asked (ko's SPDX, pushed
// under sha256-<digest>.sbom), without changing the image digest.
func TestImagesSBOM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegistry(t, "", "")
	base := reg.Host + "/base/static:latest"
	pushBase(t, base, nil, "linux/amd64")
	dir := writeModule(t, map[string]string{"cmd/hello/main.go": helloMain + "\nconst tag = \"\"\n"})
	var digests []string
	for _, sbom := range []bool{false, true} {
		o := Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base, SBOM: sbom, NoSkip: true, UserAgent: "kf-run/test"}
		imgs, err := Images(ctx, o, []Target{{Ref: "ko://./cmd/hello"}})
		if err != nil {
			t.Fatal(err)
		}
		d := mustDigest(t, imgs[0].Digest)
		digests = append(digests, d.DigestStr())
		tags, err := remote.List(d.Context())
		if err != nil {
			t.Fatal(err)
		}
		sbomTag := strings.Replace(d.DigestStr(), ":", "-", 1) + ".sbom"
		has := slices.Contains(tags, sbomTag)
		if has != sbom {
			t.Errorf("sbom %t: tags %v", sbom, tags)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("the SBOM changed the image digest: %v", digests)
	}
}

// What ko puts in the image but no BuildID covers must change the skip key:
// files behind a symlinked kodata directory, and -ldflags from GOFLAGS.
// Not parallel: it sets GOFLAGS for the process.
func TestImagesSkipCacheSeesKodataLinksAndGOFLAGS(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, "", "")
	base := reg.Host + "/base/static:latest"
	pushBase(t, base, nil, "linux/amd64")
	dir := writeModule(t, map[string]string{"cmd/hello/main.go": helloMain + "\nconst tag = \"one\"\n", "assets/a.txt": "one"})
	if err := os.Symlink(filepath.Join("..", "..", "assets"), filepath.Join(dir, "cmd/hello/kodata")); err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: dir, Repo: reg.Host + "/app", BaseImage: base}
	build := func(what string) Image {
		t.Helper()
		imgs, err := Images(ctx, o, []Target{{Ref: "ko://./cmd/hello"}})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return imgs[0]
	}
	build("first")
	if again := build("again"); !again.Reused {
		t.Fatalf("no change: %+v, want reused", again)
	}
	os.WriteFile(filepath.Join(dir, "assets/a.txt"), []byte("two"), 0o644)
	// (Whether ko then copies the new file depends on where the link is;
	// the skip cache must not decide for it.)
	if img := build("kodata changed behind a link"); img.Reused {
		t.Errorf("after a change behind kodata's link: %+v, want rebuilt, not reused", img)
	}
	t.Setenv("GOFLAGS", "-ldflags=-X=main.version=two")
	if img := build("GOFLAGS ldflags"); img.Reused {
		t.Errorf("after GOFLAGS changed the link flags: %+v, want rebuilt", img)
	}
}

// No go command: Images fails before it reads .ko.yaml, lists a package or
// touches a registry, with a config error (exit 2) that names the fix for
// GitHub Actions and for other CI systems.
func TestImagesNoGo(t *testing.T) {
	t.Parallel()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("registry called without a go command: %s %s", r.Method, r.URL)
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	defer reg.Close()
	dir := writeModule(t, map[string]string{"cmd/hello/main.go": helloMain + "\nconst tag = \"\"\n"})
	var looked []string
	o := Options{Dir: dir, Repo: strings.TrimPrefix(reg.URL, "http://") + "/app", BaseImage: strings.TrimPrefix(reg.URL, "http://") + "/base:latest",
		LookPath: func(file string) (string, error) {
			looked = append(looked, file)
			return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
		}}
	_, err := Images(context.Background(), o, []Target{{Ref: "ko://./cmd/hello", Steps: []string{"p/hello"}}})
	assertNoGo(t, err)
	if diff := cmp.Diff([]string{"go"}, looked); diff != "" {
		t.Errorf("looked up (-want +got):\n%s", diff)
	}
}

// The default lookup is the process's PATH (not parallel: it sets PATH).
func TestImagesNoGoOnPATH(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := writeModule(t, map[string]string{"cmd/hello/main.go": helloMain + "\nconst tag = \"\"\n"})
	_, err := Images(context.Background(), Options{Dir: dir, Repo: "127.0.0.1:1/app"}, []Target{{Ref: "ko://./cmd/hello"}})
	assertNoGo(t, err)
}

func assertNoGo(t *testing.T, err error) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ConfigError (exit 2), got %T: %v", err, err)
	}
	for _, w := range []string{"no go command on PATH", "actions/setup-go", "go-version-file: go.mod", "install Go", "ghcr.io/kf-run/kf-run"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q:\n%v", w, err)
		}
	}
}

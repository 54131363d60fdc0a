package build

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

func TestRewrite(t *testing.T) {
	t.Parallel()
	s, err := pipelinespec.Load("../../examples/ko/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// ko:// in an argument is data, not an image: it must stay.
	prep := s.Pipeline["deploymentSpec"].(map[string]any)["executors"].(map[string]any)["exec-prep"].(map[string]any)["container"].(map[string]any)
	prep["args"] = append(prep["args"].([]any), "ko://github.com/kf-run/kf-run/examples/components/train")
	before := s.Clone()

	if diff := cmp.Diff([]Target{
		{Ref: prepRef, Steps: []string{"ko-demo/prep"}},
		{Ref: trainRef, Steps: []string{"ko-demo/train"}},
	}, Targets("ko-demo", s)); diff != "" {
		t.Errorf("Targets (-want +got):\n%s", diff)
	}
	digests := map[string]string{
		prepRef:  "reg.example/kf/prep@sha256:" + repeat("a"),
		trainRef: "reg.example/kf/train@sha256:" + repeat("b"),
	}
	got, err := Rewrite(s, digests)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{digests[prepRef], digests[trainRef]}, got.Images()); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	for _, task := range got.Tasks {
		if IsRef(task.Image) {
			t.Errorf("task %s still has %s", task.Name, task.Image)
		}
	}
	args := got.Pipeline["deploymentSpec"].(map[string]any)["executors"].(map[string]any)["exec-prep"].(map[string]any)["container"].(map[string]any)["args"].([]any)
	if args[len(args)-1] != trainRef {
		t.Errorf("the ko:// argument was changed: %v", args)
	}
	if !reflect.DeepEqual(before.Pipeline, s.Pipeline) {
		t.Error("Rewrite changed its input")
	}
	// Everything but the two images is the same.
	back := got.Clone()
	for name, ref := range map[string]string{"exec-prep": prepRef, "exec-train": trainRef} {
		back.Pipeline["deploymentSpec"].(map[string]any)["executors"].(map[string]any)[name].(map[string]any)["container"].(map[string]any)["image"] = ref
	}
	if diff := cmp.Diff(s.Pipeline, back.Pipeline); diff != "" {
		t.Errorf("more than the images changed (-want +got):\n%s", diff)
	}

	if _, err := Rewrite(s, map[string]string{prepRef: digests[prepRef]}); err == nil {
		t.Error("Rewrite with a missing digest: no error")
	}
}

func repeat(c string) string {
	out := ""
	for range 64 {
		out += c
	}
	return out
}

func TestLoadKoConfig(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{".ko.yaml": `
defaultBaseImage: reg.example/base:1
baseImageOverrides:
  Example.com/App/cmd/X: reg.example/other:2
defaultPlatforms: linux/amd64,linux/arm64
defaultFlags: -tags netgo
defaultLdflags: ["-s", "-w"]
defaultEnv: [GOEXPERIMENT=loopvar]
someFutureKey: true
builds:
- id: x
  dir: .
  main: ./cmd/x
  env: [CGO_ENABLED=1]
`})
	c, err := loadKoConfig(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultBaseImage != "reg.example/base:1" || c.BaseImageOverrides["example.com/app/cmd/x"] != "reg.example/other:2" {
		t.Errorf("bases: %+v", c)
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, splitPlatforms(c.DefaultPlatforms)); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"-tags", "netgo"}, []string(c.DefaultFlags)); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	if len(c.Builds) != 1 || c.Builds[0].Main != "./cmd/x" || c.Builds[0].Env[0] != "CGO_ENABLED=1" {
		t.Errorf("builds: %+v", c.Builds)
	}
	// KO_CONFIG_PATH may name the file or its directory; none at all is fine.
	if c2, err := loadKoConfig(t.TempDir(), dir); err != nil || c2.DefaultBaseImage != c.DefaultBaseImage {
		t.Errorf("KO_CONFIG_PATH=dir: %+v %v", c2, err)
	}
	if c3, err := loadKoConfig(t.TempDir(), ""); err != nil || c3.DefaultBaseImage != "" {
		t.Errorf("no .ko.yaml: %+v %v", c3, err)
	}
	if _, err := loadKoConfig(dir, dir+"/missing.yaml"); err == nil {
		t.Error("KO_CONFIG_PATH to a missing file: no error")
	}
}

func TestKoLogFilter(t *testing.T) {
	t.Parallel()
	var got []string
	f := koLogFilter(func(s string) { got = append(got, s) })
	for _, m := range []string{"Building x for linux/amd64", "git is in a dirty state\nPlease check\n M a.go", "git is in a dirty state\nPlease check\n M a.go", "Published y"} {
		f(m)
	}
	want := []string{"ko: Building x for linux/amd64", "ko: git is in a dirty state", "ko: Published y"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNaming(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ip := "example.com/app/cmd/hello"
	for naming, want := range map[Naming]string{
		NamingMD5:      "reg.example/ns/hello-a60355639e70c972f171c1cc04b2df15",
		NamingBase:     "reg.example/ns/hello",
		NamingPreserve: "reg.example/ns/example.com/app/cmd/hello",
		NamingBare:     "reg.example/ns",
	} {
		s, err := newSession(t.Context(), Options{Dir: dir, Repo: "reg.example/ns/", Naming: naming}, func(string, ...any) {})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.namer(s.repo, ip); got != want {
			t.Errorf("naming %q: %s, want %s", naming, got, want)
		}
	}
	if _, err := newSession(t.Context(), Options{Dir: dir, Repo: "reg.example/ns", Naming: "short"}, func(string, ...any) {}); err == nil {
		t.Error("unknown naming: no error")
	}
	if _, err := newSession(t.Context(), Options{Dir: dir, Repo: "ko.local"}, func(string, ...any) {}); err == nil {
		t.Error("ko.local: no error")
	}
}

package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
)

func TestImagesSettings(t *testing.T) {
	t.Parallel()
	info := ci.Info{SHA: "0123456789abcdef", ShortSHA: "0123456"}
	env := map[string]string{
		"KO_DOCKER_REPO": "ghcr.io/acme/ml", "KO_DEFAULTBASEIMAGE": "reg/base:1", "KO_DEFAULTPLATFORMS": "linux/amd64,linux/arm64",
		"SOURCE_DATE_EPOCH": "1700000000", "KF_RUN_REGISTRY_USERNAME": "u", "KF_RUN_REGISTRY_PASSWORD": "p", "KO_CONFIG_PATH": "ko/",
	}
	getenv := func(k string) string { return env[k] }
	cfg := &config.Config{Path: "ci/kf-run.yaml"}
	got, err := images(cfg, getenv, info)
	if err != nil {
		t.Fatal(err)
	}
	want := Images{Dir: "ci", KoConfig: "ko/", Repo: "ghcr.io/acme/ml", BaseImage: "reg/base:1", Platforms: []string{"linux/amd64,linux/arm64"},
		Tags: []string{"latest", "0123456789abcdef"}, CreationTime: time.Unix(1700000000, 0).UTC(), Username: "u", Password: "p"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("from env (-want +got):\n%s", diff)
	}

	// kf-run.yaml wins over ko's variables.
	cfg.Images = config.Images{
		Repo: config.Text{Value: "reg.example/ml"}, BaseImage: config.Text{Value: "reg/other:2"},
		Platforms: []config.Text{{Value: "linux/arm64"}}, Tags: []config.Text{{Value: "v-{{ .Git.ShortSHA }}"}},
		Bare: true, SBOM: true, Insecure: true, Build: []config.Text{{Value: "ko://x/cmd/y"}},
	}
	got, err = images(cfg, getenv, info)
	if err != nil {
		t.Fatal(err)
	}
	want = Images{Dir: "ci", KoConfig: "ko/", Repo: "reg.example/ml", BaseImage: "reg/other:2", Platforms: []string{"linux/arm64"}, Naming: "bare",
		SBOM: true, Insecure: true, Tags: []string{"v-0123456"}, CreationTime: time.Unix(1700000000, 0).UTC(), Username: "u", Password: "p", Extra: []string{"ko://x/cmd/y"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("from kf-run.yaml (-want +got):\n%s", diff)
	}

	env["SOURCE_DATE_EPOCH"] = "yesterday"
	if _, err := images(cfg, getenv, info); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad epoch: %v", err)
	}
}

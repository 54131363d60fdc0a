package plan

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
)

// images resolves how ko:// images are built. kf-run.yaml wins over ko's
// environment variables, which the ko CLI users already set:
// images.repo > KO_DOCKER_REPO; images.base_image > KO_DEFAULTBASEIMAGE >
// .ko.yaml defaultBaseImage; images.platforms > KO_DEFAULTPLATFORMS >
// .ko.yaml defaultPlatforms.
//
// ImageSettings is the same resolution for commands that build no plan
// (kf-run doctor).
func ImageSettings(cfg *config.Config, getenv func(string) string, info ci.Info) (Images, error) {
	return images(cfg, getenv, info)
}

func images(cfg *config.Config, getenv func(string) string, info ci.Info) (Images, error) {
	im := cfg.Images
	out := Images{
		Dir:       ".",
		KoConfig:  getenv("KO_CONFIG_PATH"),
		Repo:      cmp.Or(im.Repo.Value, getenv("KO_DOCKER_REPO")),
		BaseImage: cmp.Or(im.BaseImage.Value, getenv("KO_DEFAULTBASEIMAGE")),
		SBOM:      im.SBOM,
		Insecure:  im.Insecure,
		Username:  getenv("KF_RUN_REGISTRY_USERNAME"),
		Password:  getenv("KF_RUN_REGISTRY_PASSWORD"),
	}
	if cfg.Path != "(flags)" {
		out.Dir = filepath.Dir(cfg.Path)
	}
	for _, p := range im.Platforms {
		out.Platforms = append(out.Platforms, p.Value)
	}
	if len(out.Platforms) == 0 && getenv("KO_DEFAULTPLATFORMS") != "" {
		out.Platforms = []string{getenv("KO_DEFAULTPLATFORMS")}
	}
	switch {
	case im.Bare:
		out.Naming = "bare"
	case im.PreserveImportPath:
		out.Naming = "preserve"
	case im.BaseImportPath:
		out.Naming = "base"
	}
	vars := VarsFrom(info)
	for _, t := range im.Tags {
		v, err := cfg.Render(t, vars)
		if err != nil {
			return out, err
		}
		if v != "" {
			out.Tags = append(out.Tags, v)
		}
	}
	if len(im.Tags) == 0 {
		out.Tags = []string{"latest"}
		if info.SHA != "" {
			out.Tags = append(out.Tags, info.SHA)
		}
	}
	for _, b := range im.Build {
		out.Extra = append(out.Extra, b.Value)
	}
	var err error
	if out.CreationTime, err = epoch(getenv, "SOURCE_DATE_EPOCH"); err != nil {
		return out, err
	}
	if out.KoDataCreationTime, err = epoch(getenv, "KO_DATA_DATE_EPOCH"); err != nil {
		return out, err
	}
	return out, nil
}

func epoch(getenv func(string) string, name string) (time.Time, error) {
	v := getenv(name)
	if v == "" {
		return time.Time{}, nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q: want seconds since 1970-01-01 UTC", name, v)
	}
	return time.Unix(s, 0).UTC(), nil
}

package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	kobuild "github.com/google/ko/pkg/build"
	"gopkg.in/yaml.v3"
)

// DefaultBaseImage is ko's default base image, used when neither Options
// nor .ko.yaml name one.
const DefaultBaseImage = "cgr.dev/chainguard/static:latest"

// koConfig is the part of ko's .ko.yaml that kf-run honours
// (https://ko.build/configuration/). Keys are read as ko documents them.
type koConfig struct {
	Path               string              `yaml:"-"`
	DefaultBaseImage   string              `yaml:"defaultBaseImage"`
	BaseImageOverrides map[string]string   `yaml:"baseImageOverrides"`
	DefaultPlatforms   kobuild.StringArray `yaml:"defaultPlatforms"`
	DefaultEnv         kobuild.StringArray `yaml:"defaultEnv"`
	DefaultFlags       kobuild.FlagArray   `yaml:"defaultFlags"`
	DefaultLdflags     kobuild.StringArray `yaml:"defaultLdflags"`
	Builds             []kobuild.Config    `yaml:"builds"`
}

// loadKoConfig reads .ko.yaml (or .ko.yml) in dir, or the file or directory
// given as override (KO_CONFIG_PATH). No file is no error.
func loadKoConfig(dir, override string) (*koConfig, error) {
	var candidates []string
	if override != "" {
		fi, err := os.Stat(override)
		if err != nil {
			return nil, fmt.Errorf("KO_CONFIG_PATH: %w", err)
		}
		if fi.IsDir() {
			candidates = []string{filepath.Join(override, ".ko.yaml")}
		} else {
			candidates = []string{override}
		}
	} else {
		candidates = []string{filepath.Join(dir, ".ko.yaml"), filepath.Join(dir, ".ko.yml")}
	}
	c := &koConfig{}
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && override == "" {
			continue
		}
		if err != nil {
			return nil, err
		}
		// Not strict: ko ignores keys it does not know, and so do we.
		if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %v", p, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		c.Path = p
		// viper lower-cases keys; ko matches import paths lower-cased.
		lower := make(map[string]string, len(c.BaseImageOverrides))
		for k, v := range c.BaseImageOverrides {
			lower[strings.ToLower(k)] = v
		}
		c.BaseImageOverrides = lower
		break
	}
	return c, nil
}

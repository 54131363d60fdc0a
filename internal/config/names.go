package config

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNamesFile bounds what PipelineNames reads: shell completion runs it on
// each tab, in whatever directory the shell is in.
const maxNamesFile = 1 << 20

// PipelineNames are the names in pipelines[].name of the config file at
// path, for shell completion. Unlike Load it is a plain YAML read: it
// expands no ${VAR} (so it needs no secrets), checks nothing else and runs
// no compile: command. A name that holds a ${VAR} is left out, since only
// the job's environment says what it is. A missing file is an error that
// wraps fs.ErrNotExist.
func PipelineNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxNamesFile+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(data) > maxNamesFile {
		return nil, &Error{File: path, Msg: "over 1 MiB: too large to read its pipeline names"}
	}
	var doc struct {
		Pipelines []struct {
			Name string `yaml:"name"`
		} `yaml:"pipelines"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(path, err)
	}
	var names []string
	for _, p := range doc.Pipelines {
		if p.Name != "" && !strings.Contains(p.Name, "${") && !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	return names, nil
}

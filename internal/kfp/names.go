package kfp

import (
	"fmt"
	"strings"
)

// NameKind is what a name names, for its length limit.
type NameKind string

// The kinds of names kf-run sends.
const (
	ExperimentName NameKind = "experiment"
	PipelineName   NameKind = "pipeline"
	VersionName    NameKind = "pipeline version"
)

// The longest names KFP 2.15 and later accept (validation/length.go,
// commit 2af42c323f), in bytes, as KFP counts them. Older servers take
// longer ones; kf-run holds every server to these, so a config that works
// on one KFP works on the next.
const (
	MaxExperimentName = 128
	// MaxPipelineName is one less than KFP's 128: uploading a pipeline
	// makes its first version under the pipeline's name, and a version
	// name (a varchar(127) column) holds 127.
	MaxPipelineName = 127
	MaxVersionName  = 127
)

// Max is the longest name of kind k, in bytes.
func (k NameKind) Max() int {
	switch k {
	case ExperimentName:
		return MaxExperimentName
	case PipelineName:
		return MaxPipelineName
	}
	return MaxVersionName
}

// CheckName refuses a name KFP would refuse: empty, or longer than k.Max().
func CheckName(k NameKind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", k)
	case len(name) > k.Max():
		shown := name
		if len(shown) > 40 {
			shown = strings.ToValidUTF8(shown[:40], "") + "…"
		}
		return fmt.Errorf("%s name %q is %d bytes long; KFP 2.15 and later accept at most %d: shorten it", k, shown, len(name), k.Max())
	}
	return nil
}

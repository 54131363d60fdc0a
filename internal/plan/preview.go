package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/kfp"
)

// Preview is set when kf-run runs a pull request's previews: the config
// has a preview: block and the CI event is a pull request (a GitLab merge
// request pipeline).
type Preview struct {
	PR int
	// Key is the line prefix every preview run of the pull request has in
	// its description (and every pipeline version uploaded for it):
	// "kf-run-preview: <hash of repository and number>.". Runs have no
	// labels up to KFP 2.17; KFP's IS_SUBSTRING filter finds the line.
	Key string
}

// PipelinePreview is a pipeline's part of a preview.
type PipelinePreview struct {
	// Line is the line written into the run's description: the pull
	// request's key and a hash of the pipeline (repository, config,
	// pipeline name, comment key: a matrix job's legs do not supersede
	// each other).
	Line string
	// Supersede terminates the pipeline's older unfinished runs in the
	// pull request once this one is created.
	Supersede bool

	// Written by the preview stage, after submit.
	// Earlier are the pipeline's other runs in the pull request, newest
	// first (at most MaxEarlier), and ExperimentURL links to them all.
	Earlier       []EarlierRun
	MoreEarlier   int
	ExperimentURL string
	// Reopened is set when the experiment was archived (a cleaned-up pull
	// request that was reopened) and kf-run unarchived it.
	Reopened bool
}

// MaxEarlier bounds the earlier runs a report lists.
const MaxEarlier = 10

// EarlierRun is an earlier run of a pipeline in the same pull request.
type EarlierRun struct {
	ID, Name, URL string
	State         kfp.RunState
	Created       time.Time
	// Superseded is set when this invocation terminated it.
	Superseded bool
}

// PreviewLine starts the description line of a preview run. It holds no
// LIKE wildcard ('_', '%'), so KFP's IS_SUBSTRING needs no escaping.
const PreviewLine = "kf-run-preview: "

// PreviewKey is the key of pull request pr of repo (see Preview.Key).
func PreviewKey(repo string, pr int) string {
	return PreviewLine + hash12("pr", repo, strconv.Itoa(pr)) + "."
}

func hash12(parts ...string) string { return Digest(6, parts...) }

// Digest is the first n bytes of the sha256 of parts joined by NUL, in
// hex: the ids kf-run writes into descriptions and searches for (hex has
// no SQL LIKE wildcard).
func Digest(n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:n])
}

// PreviewOf returns the pull request key in a description, or "".
func PreviewOf(description string) string {
	for line := range strings.Lines(description) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, PreviewLine) {
			if i := strings.IndexByte(line, '.'); i > 0 {
				return line[:i+1]
			}
		}
	}
	return ""
}

// HasLine reports whether description has line as one of its lines.
func HasLine(description, line string) bool {
	for l := range strings.Lines(description) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// AllowForksVar, set to true in the job's environment, lets a fork's pull
// request through where the job has the base repository's secrets. It is
// read from the environment, which the workflow sets (pull_request_target
// runs the workflow of the default branch), never from kf-run.yaml: on
// such a job that file is the fork's own, and the fork could allow itself.
const AllowForksVar = "KF_RUN_ALLOW_FORKS"

// CheckFork refuses a fork's pull request where the job has the base
// repository's secrets (GitHub pull_request_target, a GitLab fork MR
// pipeline run in the parent project), unless AllowForksVar is true: the
// fork's pipeline and its compile: commands would run on the team's
// cluster with the team's credentials.
func CheckFork(info ci.Info, getenv func(string) string) error {
	if !info.ForkWithSecrets {
		return nil
	}
	if v := getenv(AllowForksVar); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("%s=%q: want true or false", AllowForksVar, v)}
		}
		if allow {
			return nil
		}
	}
	where, how := "a pull_request_target workflow", "the workflow's env"
	if info.Provider == ci.GitLab {
		where, how = "a merge request pipeline run in the parent project", "a CI/CD variable of the project"
	}
	return &UsageError{Err: fmt.Errorf("refusing to run the head of pull request #%d from the fork %s: %s has this repository's secrets, "+
		"and the fork's pipeline (and any compile: command) would run on your cluster with your credentials. Nothing was submitted. "+
		"Run fork pull requests on pull_request (no secrets), or, after reviewing the change, set %s=true in %s "+
		"(not in kf-run.yaml: here that file is the fork's)",
		info.PR, cmp.Or(info.ForkHead, "a fork"), where, AllowForksVar, how)}
}

// previewOf is what a pipeline entry's preview changes, for pipeline().
type previewOf struct {
	// top are the top-level preview parameters: applied when the spec
	// declares them (used records which were), under own.
	top  map[string]config.Value
	own  map[string]config.Value
	used map[string]bool
}

// previewEntry returns entry e as a preview runs it: the pull request's
// experiment, the preview run name, and the preview parameters (in pv).
func previewEntry(cfg *config.Config, e config.Pipeline, used map[string]bool) (config.Pipeline, *previewOf) {
	top := cfg.Preview
	if top == nil {
		top = &config.Preview{}
	}
	e.Experiment = top.Experiment
	if e.Experiment.Value == "" {
		e.Experiment = config.Text{Value: config.DefaultPreviewExperiment}
	}
	pv := &previewOf{top: top.Parameters, used: used}
	run := top.RunName
	if own := e.Preview; own != nil {
		pv.own = own.Parameters
		run = cmp.Or(own.RunName, run)
	}
	if run.Value != "" {
		e.RunName = run
	}
	return e, pv
}

// apply sets the preview parameters the spec declares.
func (pv *previewOf) apply(params map[string]any, declared func(string) bool) {
	if pv == nil {
		return
	}
	for k, v := range pv.top {
		if declared(k) {
			params[k] = v.V
			pv.used[k] = true
		}
	}
	for k, v := range pv.own {
		params[k] = v.V
	}
}

// pipelinePreview is pipeline pl's preview settings and description line.
func pipelinePreview(cfg *config.Config, e config.Pipeline, pr *Preview, info ci.Info, commentKey string) *PipelinePreview {
	supersede := true
	if cfg.Preview != nil && cfg.Preview.Supersede != nil {
		supersede = *cfg.Preview.Supersede
	}
	if e.Preview != nil && e.Preview.Supersede != nil {
		supersede = *e.Preview.Supersede
	}
	return &PipelinePreview{
		Line:      pr.Key + hash12("pipeline", info.Repo, cfg.Path, e.Name.Value, commentKey),
		Supersede: supersede,
	}
}

// PreviewExperiment is the experiment of pull request pr's previews:
// preview.experiment (default pr-<number>) rendered with .PR.Number = pr
// and the other variables of info. cfg may be nil (no config file).
func PreviewExperiment(cfg *config.Config, info ci.Info, pr int) (string, error) {
	if cfg == nil {
		cfg = &config.Config{Path: "(flags)"}
	}
	t := config.Text{Value: config.DefaultPreviewExperiment}
	if cfg.Preview != nil && cfg.Preview.Experiment.Value != "" {
		t = cfg.Preview.Experiment
	}
	info.PR = pr
	name, err := cfg.RenderName("preview.experiment", t, VarsFrom(info), emptyVar)
	if err != nil {
		return "", err
	}
	return name, kfp.CheckName(kfp.ExperimentName, name)
}

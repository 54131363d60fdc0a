package plan

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

// Flags are the command-line choices that shape a plan. Flags win over
// KF_RUN_* environment variables, which win over the config file.
type Flags struct {
	// Pipelines picks config entries by name (--pipeline); empty means all.
	Pipelines []string
	// Spec runs one compiled spec without a config file (--spec).
	Spec      string
	Host      string
	Namespace string
	// KubeContext reaches KFP through this kubeconfig context (--kube-context).
	KubeContext string
	Experiment  string
	RunName     string
	Params      []string // k=v
	NoWait      bool
	Follow      bool // print step logs while waiting (--follow)
	Timeout     time.Duration
	NoComment   bool
	// CommentKey tells matrix legs' PR comments apart (--comment-key;
	// KF_RUN_COMMENT_KEY): every leg of a matrix job has the same job name.
	CommentKey string
	// SummaryFile writes the markdown report there too (--summary-file).
	SummaryFile string
}

// Input is everything New reads.
type Input struct {
	Config *config.Config // nil with --spec
	Flags  Flags
	CI     ci.Info
	// Getenv reads kf-run's own KF_RUN_* variables.
	Getenv func(string) string
	// Offline plans for validation only: no KFP host is needed.
	Offline bool
}

// Vars is what templates in kf-run.yaml can use: {{ .Git.ShortSHA }},
// {{ .Git.Branch }}, {{ .PR.Number }}, {{ .CI.JobURL }}, {{ .Pipeline }}.
type Vars struct {
	Git struct{ SHA, ShortSHA, Branch, Tag string }
	PR  struct{ Number int }
	CI  struct{ Provider, Repo, Event, Job, Workflow, JobURL string }
	// Pipeline is the entry's name.
	Pipeline string
}

// VarsFrom collects the template variables from the CI facts.
func VarsFrom(info ci.Info) Vars {
	var v Vars
	v.Git.SHA, v.Git.ShortSHA, v.Git.Branch, v.Git.Tag = info.SHA, info.ShortSHA, info.Branch, info.Tag
	v.PR.Number = info.PR
	v.CI.Provider, v.CI.Repo, v.CI.Event, v.CI.Job, v.CI.Workflow, v.CI.JobURL = string(info.Provider), info.Repo, info.Event, info.Job, info.Workflow, info.JobURL
	return v
}

// UsageError is a problem with the flags or config: nothing was submitted,
// and the exit code is 2. Its text never shows a secret: a parameter given
// as ${API_KEY} that fails its type check is named, its value masked.
type UsageError struct {
	Err     error
	Secrets []string
}

func (e *UsageError) Error() string { return config.Redact(e.Err.Error(), e.Secrets) }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// New builds the plan: it loads and checks every selected spec and types
// every parameter. It does no network I/O.
func New(in Input) (*Plan, error) {
	p, err := build(in)
	if err == nil {
		return p, nil
	}
	ue := &UsageError{Err: err}
	if in.Config != nil {
		ue.Secrets = in.Config.Secrets
	}
	if p != nil {
		ue.Secrets = append(ue.Secrets, p.Secrets...)
	}
	return p, ue
}

func build(in Input) (*Plan, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	f := in.Flags
	p := &Plan{CI: in.CI, Wait: !f.NoWait, Follow: f.Follow, CancelOnInterrupt: true, Comment: !f.NoComment, SummaryFile: f.SummaryFile,
		CommentKey: cmp.Or(f.CommentKey, getenv("KF_RUN_COMMENT_KEY"))}
	cfg := in.Config
	if cfg == nil {
		if f.Spec == "" {
			return nil, errors.New("nothing to run: give --spec FILE, or --config FILE (default kf-run.yaml)")
		}
		cfg = &config.Config{Path: "(flags)", Pipelines: []config.Pipeline{{Spec: config.Text{Value: f.Spec}}}}
	} else if f.Spec != "" {
		return nil, errors.New("--spec and a config file exclude each other: drop --spec, or run without --config")
	}

	if !in.Offline {
		if err := CheckFork(in.CI, getenv); err != nil {
			return nil, err
		}
	}
	if cfg.Previews() && in.CI.PR > 0 {
		p.Preview = &Preview{PR: in.CI.PR, Key: PreviewKey(in.CI.Repo, in.CI.PR)}
	}

	// Target and credentials: flags > env > file.
	var err error
	if p.Target, p.Auth, err = Connection(cfg, f, getenv, in.Offline); err != nil {
		return nil, err
	}
	if n := CleanHost(&p.Target); n != nil {
		p.Notes = append(p.Notes, *n)
	}
	for _, u := range cfg.Unset {
		p.Unset = append(p.Unset, fmt.Sprintf("%s (%s:%d)", u.Name, cfg.Path, u.Line))
	}
	p.Secrets = append(append(p.Secrets, cfg.Secrets...), p.Auth.Secrets()...)
	if in.CI.Token != "" {
		p.Secrets = append(p.Secrets, in.CI.Token)
	}
	p.Follow = p.Follow || cfg.Follow
	if cfg.Defaults.CancelOnInterrupt != nil {
		p.CancelOnInterrupt = *cfg.Defaults.CancelOnInterrupt
	}
	if cfg.Report.PRComment != nil && !*cfg.Report.PRComment {
		p.Comment = false
	}
	imgs, err := images(cfg, getenv, in.CI)
	if err != nil {
		return nil, err
	}
	p.Images = imgs
	if imgs.Password != "" {
		p.Secrets = append(p.Secrets, imgs.Password)
	}

	var names []string
	for _, e := range cfg.Pipelines {
		names = append(names, e.Name.Value)
	}
	for _, want := range f.Pipelines {
		if !slices.Contains(names, want) {
			return nil, fmt.Errorf("--pipeline %q: no such pipeline in %s (have: %s)", want, cfg.Path, strings.Join(names, ", "))
		}
	}
	params, err := parseParamFlags(f.Params)
	if err != nil {
		return nil, err
	}
	used, previewUsed := map[string]bool{}, map[string]bool{}
	var errs []error
	for _, e := range cfg.Pipelines {
		if len(f.Pipelines) > 0 && !slices.Contains(f.Pipelines, e.Name.Value) {
			continue
		}
		entry, pv := e, (*previewOf)(nil)
		if p.Preview != nil {
			entry, pv = previewEntry(cfg, e, previewUsed)
		}
		pl, err := pipeline(cfg, entry, f, in.CI, params, used, pv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if p.Preview != nil {
			pl.Preview = pipelinePreview(cfg, e, p.Preview, in.CI, p.CommentKey)
			pl.Description = strings.TrimSpace(pl.Description + "\n" + pl.Preview.Line)
		}
		p.Pipelines = append(p.Pipelines, pl)
	}
	if p.Preview != nil && cfg.Preview != nil && len(errs) == 0 {
		for _, k := range slices.Sorted(maps.Keys(cfg.Preview.Parameters)) {
			if !previewUsed[k] {
				errs = append(errs, &config.Error{File: cfg.Path, Line: cfg.Preview.Parameters[k].Line,
					Msg: fmt.Sprintf("preview.parameters.%s: no selected pipeline has a parameter %q", k, k)})
			}
		}
	}
	if len(errs) == 0 {
		if err := checkDefaultTasks(cfg, p.Pipelines); err != nil {
			errs = append(errs, err)
		}
	}
	for _, kv := range params {
		if !used[kv[0]] && len(errs) == 0 {
			errs = append(errs, fmt.Errorf("--param %s: no selected pipeline has a parameter %q", kv[0], kv[0]))
		}
	}
	return p, errors.Join(errs...)
}

func pipeline(cfg *config.Config, e config.Pipeline, f Flags, info ci.Info, params [][2]string, used map[string]bool, pv *previewOf) (*Pipeline, error) {
	src := cfg.Path
	if e.Line > 0 {
		src = fmt.Sprintf("%s:%d", cfg.Path, e.Line)
	}
	specPath := e.Spec.Value
	if cfg.Path != "(flags)" && !filepath.IsAbs(specPath) {
		specPath = filepath.Join(filepath.Dir(cfg.Path), specPath)
	}
	spec, err := pipelinespec.Load(specPath)
	if err != nil {
		if e.Compile.Value != "" && errors.Is(err, fs.ErrNotExist) {
			// Only --no-compile gets here: a compile that ran checked it.
			return nil, fmt.Errorf("%w (the compile: command at %s:%d writes it: run without --no-compile)", err, cfg.Path, e.Compile.Line)
		}
		return nil, err
	}
	if spec, err = applyPod(cfg, e, spec); err != nil {
		return nil, err
	}
	name := cmp.Or(e.Name.Value, spec.Name)
	pl := &Pipeline{Name: name, Source: src, Spec: spec, Timeout: cmp.Or(f.Timeout, e.Timeout.D, cfg.Defaults.Timeout.D)}
	vars := VarsFrom(info)
	vars.Pipeline = name
	// A name must not render empty, nor with an empty variable in it ("lw
	// " outside a git checkout): that is a config error saying why.
	render := func(key string, t config.Text, def string) (string, error) {
		if t.Value == "" {
			t.Value = def
		}
		return cfg.RenderName(key, t, vars, emptyVar)
	}
	var errs []error
	must := func(s string, err error) string {
		if err != nil {
			errs = append(errs, err)
		}
		return s
	}
	// Each name KFP stores remembers the key it came from, for errors.
	exp := []nameFrom{{f.Experiment, "--experiment", 0}, {must(render("experiment", e.Experiment, "")), "experiment", e.Experiment.Line},
		{must(render("defaults.experiment", cfg.Defaults.Experiment, "")), "defaults.experiment", cfg.Defaults.Experiment.Line}, {"Default", "", 0}}
	expFrom := exp[slices.IndexFunc(exp, func(n nameFrom) bool { return n.value != "" })]
	pl.Experiment = expFrom.value
	pl.RunName = f.RunName
	if pl.RunName == "" {
		pl.RunName = must(render("run_name", e.RunName, defaultRunName(info)))
	}
	pl.Description = must(cfg.Render(cmp.Or(e.Description, config.Text{Value: defaultDescription(info)}), vars))
	pipeFrom := nameFrom{must(render("pipeline_name", e.PipelineName, "")), "pipeline_name", e.PipelineName.Line}
	verFrom := nameFrom{must(render("version", e.Version, "")), "version", e.Version.Line}
	pl.PipelineName, pl.Version = pipeFrom.value, verFrom.value
	if pl.Version != "" && pl.PipelineName == "" {
		pl.PipelineName = name
		pipeFrom = nameFrom{name, "name", e.Name.Line}
		if e.Name.Value == "" {
			pipeFrom.key = "the spec's pipeline name"
		}
	}
	pl.ServiceAccount = cmp.Or(e.ServiceAccount.Value, cfg.Defaults.ServiceAccount.Value)
	pl.PipelineRoot = cmp.Or(e.PipelineRoot.Value, cfg.Defaults.PipelineRoot.Value)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := checkNames(cfg.Path, src, expFrom, pipeFrom, verFrom, pl.PipelineName != ""); err != nil {
		return nil, err
	}

	pl.Parameters = map[string]any{}
	for k, v := range e.Parameters {
		pl.Parameters[k] = v.V
	}
	pv.apply(pl.Parameters, func(k string) bool { return declares(spec, k) })
	for _, kv := range params {
		if !declares(spec, kv[0]) {
			continue
		}
		v, err := spec.ParseParam(kv[0], kv[1])
		if err != nil {
			return nil, fmt.Errorf("--param %s: %w", kv[0], err)
		}
		used[kv[0]] = true
		pl.Parameters[kv[0]] = v
	}
	var unknown []string // from a ${VAR} validate does not have
	for _, k := range e.UnsetParams {
		if !slices.ContainsFunc(params, func(kv [2]string) bool { return kv[0] == k }) {
			unknown = append(unknown, k)
		}
	}
	if err := spec.CheckParams(pl.Parameters, unknown...); err != nil {
		if cfg.Path == "(flags)" {
			return nil, fmt.Errorf("%s: %w (give it with --param NAME=VALUE)", specPath, err)
		}
		return nil, fmt.Errorf("%s: pipeline %q: %w", src, name, err)
	}
	return pl, nil
}

// nameFrom is a rendered name and the config key (or flag) it came from.
type nameFrom struct {
	value string
	key   string // "version", "--experiment"; "" for kf-run's own default
	line  int
}

// checkNames refuses, before anything is sent, the names KFP 2.15 and
// later would refuse (kfp.CheckName), each error at the config key the
// name came from. uploads says whether the pipeline and its version go up.
func checkNames(path, entry string, exp, pipe, ver nameFrom, uploads bool) error {
	check := func(kind kfp.NameKind, n nameFrom) error {
		err := kfp.CheckName(kind, n.value)
		switch {
		case err == nil:
			return nil
		case strings.HasPrefix(n.key, "--"):
			return fmt.Errorf("%s: %w", n.key, err)
		case n.line > 0:
			return &config.Error{File: path, Line: n.line, Msg: fmt.Sprintf("%s: %v", n.key, err)}
		}
		return fmt.Errorf("%s: %s: %w", entry, n.key, err)
	}
	errs := []error{check(kfp.ExperimentName, exp)}
	if uploads {
		errs = append(errs, check(kfp.PipelineName, pipe))
		if ver.value != "" {
			errs = append(errs, check(kfp.VersionName, ver))
		}
	}
	return errors.Join(errs...)
}

func declares(s *pipelinespec.Spec, name string) bool {
	for _, in := range s.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

func parseParamFlags(kvs []string) ([][2]string, error) {
	var out [][2]string
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE", kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// emptyVar says why a template variable is empty here, for the error
// that a name would be blank or lack a part.
func emptyVar(field string) string {
	switch {
	case strings.HasPrefix(field, ".Git.Tag"):
		return "this is not a tag build"
	case strings.HasPrefix(field, ".Git.Branch"):
		return "no branch is checked out (a tag, a detached HEAD) or this is not a git checkout"
	case strings.HasPrefix(field, ".Git."):
		return "no commit is known: this is not a git checkout and no CI variable names one (GITHUB_SHA, CI_COMMIT_SHA)"
	case strings.HasPrefix(field, ".PR."):
		return "this is not a pull or merge request pipeline"
	case strings.HasPrefix(field, ".CI."):
		return "this is not a CI job kf-run knows (GitHub Actions, GitLab CI)"
	}
	return "it is empty here"
}

func defaultRunName(info ci.Info) string {
	parts := []string{"{{ .Pipeline }}"}
	if info.PR > 0 {
		parts = append(parts, "PR #{{ .PR.Number }}")
	} else if info.Branch != "" {
		parts = append(parts, "{{ .Git.Branch }}")
	}
	if info.ShortSHA != "" {
		parts = append(parts, "{{ .Git.ShortSHA }}")
	}
	return strings.Join(parts, " ")
}

func defaultDescription(info ci.Info) string {
	d := "Submitted by kf-run"
	if info.Repo != "" {
		d += " from {{ .CI.Repo }}"
	}
	if info.SHA != "" {
		d += " at {{ .Git.SHA }}"
	}
	if info.JobURL != "" {
		d += " ({{ .CI.JobURL }})"
	}
	return d + "."
}

func texts(m map[string]config.Text) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.Value
	}
	return out
}

// Follow builds the plan of kf-run wait: the connection and the report
// settings as New makes them (the config file is optional: in.Config may
// be nil), and no pipelines, which the command adds for each run it
// follows. It never terminates what it follows: those runs were started
// elsewhere.
func Follow(in Input) (*Plan, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	f := in.Flags
	cfg := in.Config
	if cfg == nil {
		cfg = &config.Config{Path: "(flags)"}
	}
	p := &Plan{CI: in.CI, Wait: true, Follow: f.Follow, Comment: !f.NoComment, SummaryFile: f.SummaryFile,
		CommentKey: cmp.Or(f.CommentKey, getenv("KF_RUN_COMMENT_KEY"))}
	if cfg.Report.PRComment != nil && !*cfg.Report.PRComment {
		p.Comment = false
	}
	var err error
	if p.Target, p.Auth, err = Connection(cfg, f, getenv, false); err != nil {
		return nil, &UsageError{Err: err, Secrets: cfg.Secrets}
	}
	if n := CleanHost(&p.Target); n != nil {
		p.Notes = append(p.Notes, *n)
	}
	p.Secrets = append(append(p.Secrets, cfg.Secrets...), p.Auth.Secrets()...)
	if in.CI.Token != "" {
		p.Secrets = append(p.Secrets, in.CI.Token)
	}
	return p, nil
}

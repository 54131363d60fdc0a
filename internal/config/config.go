// Package config reads kf-run.yaml: the schema, strict loading (an unknown
// key is an error), ${ENV} expansion, and template checks, every problem
// reported with its file:line. It does not read the pipeline specs, look at
// the CI environment or apply defaults that depend on them: that is plan.
// PipelineNames is its one lenient read, for shell completion.
package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	tparse "text/template/parse"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kf-run/kf-run/internal/console"
)

// DefaultFile is the config file kf-run reads when --config is not given.
const DefaultFile = "kf-run.yaml"

// Config is the whole file.
type Config struct {
	Path      string     `yaml:"-"`
	Kubeflow  Kubeflow   `yaml:"kubeflow"`
	Defaults  Defaults   `yaml:"defaults"`
	Report    Report     `yaml:"report"`
	Images    Images     `yaml:"images"`
	Preview   *Preview   `yaml:"preview"`
	Pipelines []Pipeline `yaml:"pipelines"`
	// Follow prints the runs' step logs while waiting (--follow).
	Follow bool `yaml:"follow"`
	// Secrets are the values that came from env into credentials, or from
	// env vars whose names say they are secret. They must be masked.
	Secrets []string `yaml:"-"`
	// secretUses are the places a secret variable was expanded into a
	// pipeline parameter (see checkSecretParameters).
	secretUses []secretUse
	// Unset are the ${VAR}s LoadOffline found unset (read as empty).
	Unset []UnsetVar `yaml:"-"`
}

// Kubeflow says where KFP is and how to authenticate.
type Kubeflow struct {
	Host      Text `yaml:"host"`
	Namespace Text `yaml:"namespace"`
	UIURL     Text `yaml:"ui_url"`
	Auth      Auth `yaml:"auth"`
	// Kubernetes reaches KFP through the Kubernetes API server's service
	// proxy with a kubeconfig context, instead of host.
	Kubernetes Kubernetes `yaml:"kubernetes"`
	TLS        TLS        `yaml:"tls"`
}

// Auth holds credentials: at most one of token, token_file,
// username/password and github_oidc. Give secrets as ${ENV_VAR}, never
// literally.
type Auth struct {
	Token Text `yaml:"token"`
	// TokenFile is re-read when it changes (a projected service-account token).
	TokenFile Text `yaml:"token_file"`
	// Username and Password sign in through Dex for a session cookie.
	Username Text `yaml:"username"`
	Password Text `yaml:"password"`
	// LoginURL is where the login starts (default: host).
	LoginURL   Text            `yaml:"login_url"`
	GitHubOIDC GitHubOIDC      `yaml:"github_oidc"`
	Headers    map[string]Text `yaml:"headers"`
	Cookies    map[string]Text `yaml:"cookies"`
}

// GitHubOIDC sends a GitHub Actions ID token with this audience as bearer.
type GitHubOIDC struct {
	Audience Text `yaml:"audience"`
}

// Kubernetes selects the ml-pipeline service through a kubeconfig context.
type Kubernetes struct {
	Context    Text `yaml:"context"`
	Kubeconfig Text `yaml:"kubeconfig"`
	Service    Text `yaml:"service"`
	Namespace  Text `yaml:"namespace"`
	Port       int  `yaml:"port"`
}

// TLS configures the connection to host.
type TLS struct {
	CAFile             Text `yaml:"ca_file"`
	CertFile           Text `yaml:"cert_file"`
	KeyFile            Text `yaml:"key_file"`
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Defaults apply to every pipeline that does not set its own.
type Defaults struct {
	Experiment        Text     `yaml:"experiment"`
	Timeout           Duration `yaml:"timeout"`
	CancelOnInterrupt *bool    `yaml:"cancel_on_interrupt"`
	ServiceAccount    Text     `yaml:"service_account"`
	// Caching turns KFP's step caching on or off for the run; unset keeps
	// what the pipeline was compiled with.
	Caching      *bool `yaml:"caching"`
	PipelineRoot Text  `yaml:"pipeline_root"`
	Pod          *Pod  `yaml:"pod"`
}

// Images configures how ko:// step images are built and pushed. Unset
// keys fall back to ko's own settings: KO_DOCKER_REPO, .ko.yaml,
// KO_DEFAULTBASEIMAGE.
type Images struct {
	// Repo is the registry repository images go to (default KO_DOCKER_REPO).
	Repo Text `yaml:"repo"`
	// Platforms, e.g. [linux/amd64, linux/arm64] (default: .ko.yaml
	// defaultPlatforms, else linux/amd64).
	Platforms []Text `yaml:"platforms"`
	// BaseImage overrides .ko.yaml's defaultBaseImage.
	BaseImage Text `yaml:"base_image"`
	// SBOM attaches an SPDX SBOM to each image (default false).
	SBOM bool `yaml:"sbom"`
	// Tags are pushed besides the digest; templates like version (default:
	// latest and the commit SHA).
	Tags []Text `yaml:"tags"`
	// Naming, as ko's flags: at most one of these (default
	// <repo>/<name>-<md5 of the import path>).
	Bare               bool `yaml:"bare"`
	PreserveImportPath bool `yaml:"preserve_import_path"`
	BaseImportPath     bool `yaml:"base_import_path"`
	// Insecure allows plain HTTP or unverified TLS to a non-loopback registry.
	Insecure bool `yaml:"insecure"`
	// Build lists extra ko:// images to build and push though no spec's
	// executor names them.
	Build []Text `yaml:"build"`
}

func (im Images) check(path string) error {
	var errs []error
	n := 0
	for _, b := range []bool{im.Bare, im.PreserveImportPath, im.BaseImportPath} {
		if b {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, &Error{File: path, Msg: "images: set at most one of bare, preserve_import_path and base_import_path"})
	}
	for _, t := range im.Tags {
		if _, err := template.New("").Option("missingkey=error").Parse(t.Value); err != nil {
			errs = append(errs, &Error{File: path, Line: t.Line, Msg: fmt.Sprintf("bad template %q: %v", t.Value, err)})
		}
	}
	for _, b := range im.Build {
		if !strings.HasPrefix(b.Value, "ko://") {
			errs = append(errs, &Error{File: path, Line: b.Line, Msg: fmt.Sprintf("images.build: %q is not a ko:// reference", b.Value)})
		}
	}
	return errors.Join(errs...)
}

// Report configures where results go besides the log.
type Report struct {
	// PRComment posts (and updates) one comment per pipeline on pull requests.
	PRComment *bool `yaml:"pr_comment"`
}

// Pipeline is one entry of pipelines:.
type Pipeline struct {
	Line int  `yaml:"-"`
	Name Text `yaml:"name"`
	// Spec is the compiled pipeline package, relative to the config file.
	// With Compile it is the command's output: it need not exist before.
	Spec Text `yaml:"spec"`
	// Compile is a shell command line (sh -c, in the config file's
	// directory) that writes Spec from the pipeline's source before
	// anything reads it; internal/compile runs it.
	Compile Text `yaml:"compile"`
	// PipelineName and Version upload the spec as a pipeline version; both
	// empty runs it inline. Version alone uses Name as the pipeline name.
	PipelineName Text             `yaml:"pipeline_name"`
	Version      Text             `yaml:"version"`
	RunName      Text             `yaml:"run_name"`
	Description  Text             `yaml:"description"`
	Experiment   Text             `yaml:"experiment"`
	Parameters   map[string]Value `yaml:"parameters"`
	// SecretParameters names parameters allowed to take a secret variable
	// (${API_TOKEN}): KFP keeps run parameters in plain text, visible to
	// everyone in the namespace, so kf-run refuses that unless listed.
	SecretParameters []Text   `yaml:"secret_parameters"`
	Timeout          Duration `yaml:"timeout"`
	ServiceAccount   Text     `yaml:"service_account"`
	Caching          *bool    `yaml:"caching"`
	PipelineRoot     Text     `yaml:"pipeline_root"`
	Pod              *Pod     `yaml:"pod"`
	// UnsetParams are the parameters whose value holds a ${VAR} that
	// LoadOffline found unset: their values are not known here.
	UnsetParams []string `yaml:"-"`
	// Schedule makes kf-run schedule sync keep a recurring run of it.
	Schedule *Schedule `yaml:"schedule"`
	// Preview overrides the top-level preview: block for this pipeline.
	Preview *PipelinePreview `yaml:"preview"`
}

// Text is a string with the line it was written on, so later errors (a
// template that fails) can point at it.
type Text struct {
	Value string
	Line  int
}

// UnmarshalYAML takes a scalar.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a string", n.Line)}}
	}
	t.Value, t.Line = n.Value, n.Line
	return nil
}

// Value is a parameter value as written (a YAML scalar, list or map).
type Value struct {
	V    any
	Line int
}

// UnmarshalYAML decodes any YAML value into plain Go values.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	v.Line = n.Line
	return n.Decode(&v.V)
}

// Duration is a Go duration string: 90s, 30m, 2h.
type Duration struct {
	D    time.Duration
	Line int
}

// UnmarshalYAML parses the duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (use e.g. 90s, 30m, 2h)", n.Line, n.Value)}}
	}
	d.D, d.Line = v, n.Line
	return nil
}

// Error is one problem in the config file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and checks the config file at path. getenv resolves ${VAR}.
func Load(path string, getenv func(string) (string, bool)) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("read config: %v (create %s, or run a single spec with --spec FILE --host URL)", err, DefaultFile)}
	}
	return Parse(path, b, getenv)
}

// Parse checks data as the contents of path. Errors found after ${ENV}
// expansion never show a secret value: it is masked as ***.
func Parse(path string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	return parse(path, data, getenv, false)
}

// LoadOffline reads the config file as Load does, for checks that need no
// secrets (kf-run validate): a ${VAR} that is not set reads as empty and
// is listed in Config.Unset instead of failing, and each pipeline's
// parameters that hold one are listed in its UnsetParams.
func LoadOffline(path string, getenv func(string) (string, bool)) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("read config: %v (create %s, or check a single spec with --spec FILE)", err, DefaultFile)}
	}
	return parse(path, b, getenv, true)
}

func parse(path string, data []byte, getenv func(string) (string, bool), offline bool) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: path, Msg: "the file is empty: it needs at least pipelines: [{name, spec}]"}
	}
	c := &Config{Path: path}
	var errs []error
	var unset []UnsetVar
	x := &expander{path: path, getenv: getenv, offline: offline, secrets: &c.Secrets, uses: &c.secretUses, unset: &unset, errs: &errs}
	x.expand(&root, nil)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := c.decode(path, root.Content[0]); err != nil {
		return nil, redactErrors(unsetNote(err, unset), c.Secrets)
	}
	c.Unset = unset
	for _, u := range unset {
		if i := c.entryAt(u.Line); i >= 0 && u.Param != "" && !slices.Contains(c.Pipelines[i].UnsetParams, u.Param) {
			c.Pipelines[i].UnsetParams = append(c.Pipelines[i].UnsetParams, u.Param)
		}
	}
	return c, nil
}

func (c *Config) decode(path string, doc *yaml.Node) error {
	var errs []error
	checkKeys(path, doc, reflect.TypeFor[Config](), "the top level", &errs)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	secrets := c.Secrets
	if err := doc.Decode(c); err != nil {
		return yamlError(path, err)
	}
	c.Path, c.Secrets = path, secrets
	if n := mapValue(doc, "pipelines"); n != nil && n.Kind == yaml.SequenceNode {
		for i := range c.Pipelines {
			if i < len(n.Content) {
				c.Pipelines[i].Line = n.Content[i].Line
			}
		}
	}
	return errors.Join(c.check(), c.Images.check(path))
}

// Redact replaces each secret in s with ***, longest first, for error
// text printed before any console masking is set up.
func Redact(s string, secrets []string) string {
	return console.Redactor(secrets...).Replace(s)
}

// redactErrors masks secrets in the messages of err's *Error values (kept
// as *Error, so callers still see a config error).
func redactErrors(err error, secrets []string) error {
	if len(secrets) == 0 {
		return err
	}
	mask := func(s string) string { return Redact(s, secrets) }
	var one func(error) error
	one = func(err error) error {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, one(e))
			}
			return errors.Join(out...)
		}
		var ce *Error
		if errors.As(err, &ce) {
			c := *ce
			c.Msg = mask(c.Msg)
			return &c
		}
		return errors.New(mask(err.Error()))
	}
	return one(err)
}

// retiredKeys are keys kf-run no longer reads, by path, and what to do
// instead.
var retiredKeys = map[string]string{
	"preview.allow_forks": "preview.allow_forks is no longer read: on a fork's pull request kf-run.yaml is the fork's own file, " +
		"so the fork could allow itself. Remove it; to let fork pull requests through where the job has your secrets, " +
		"set KF_RUN_ALLOW_FORKS=true in the job's environment (the workflow's env: on GitHub, which pull_request_target " +
		"takes from your default branch; a CI/CD variable of the project on GitLab)",
}

// checkKeys reports every mapping key in n that t (a struct with yaml
// tags) does not declare, recursively, with its line.
func checkKeys(path string, n *yaml.Node, t reflect.Type, where string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) && !hasKeys(t) {
		return // a scalar-like type (Text, Value, Duration) checks itself
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := map[string]reflect.StructField{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f
			known = append(known, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			f, ok := fields[k.Value]
			if why, gone := retiredKeys[strings.TrimPrefix(where+"."+k.Value, "the top level.")]; !ok && gone {
				*errs = append(*errs, &Error{File: path, Line: k.Line, Msg: why})
				continue
			}
			if !ok {
				*errs = append(*errs, &Error{File: path, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in %s (known: %s)", k.Value, where, strings.Join(known, ", "))})
				continue
			}
			checkKeys(path, n.Content[i+1], f.Type, strings.TrimPrefix(where+"."+k.Value, "the top level."), errs)
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				checkKeys(path, n.Content[i+1], t.Elem(), where+"."+n.Content[i].Value, errs)
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				checkKeys(path, c, t.Elem(), fmt.Sprintf("%s[%d]", where, i), errs)
			}
		}
	}
}

// hasKeys says whether t is a struct with yaml-tagged fields, whose keys
// checkKeys checks even when it decodes itself (Pod records its lines).
func hasKeys(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			return true
		}
	}
	return false
}

var unmarshalRE = regexp.MustCompile("cannot unmarshal (\\S+) `[^`]*` into (\\S+)")

var lineRE = regexp.MustCompile(`^line (\d+):(.*)$`)

func yamlError(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		e := &Error{File: path, Msg: msg}
		if sub := lineRE.FindStringSubmatch(msg); sub != nil {
			e.Line, _ = strconv.Atoi(sub[1])
			e.Msg = strings.TrimSpace(sub[2])
		}
		return e
	}
	var errs []error
	for _, m := range te.Errors {
		e := &Error{File: path, Msg: m}
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			e.Line, _ = strconv.Atoi(sub[1])
			e.Msg = strings.TrimSpace(sub[2])
		}
		e.Msg = strings.ReplaceAll(e.Msg, "!!", "")
		// yaml.v3 echoes the value (cut to a few characters, which masking
		// could not catch): say what it is instead.
		e.Msg = unmarshalRE.ReplaceAllString(e.Msg, "cannot use a $1 value as a $2")
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

var (
	envRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)
)

// expander replaces ${VAR} and ${VAR:-default} in every scalar; $$ is a
// literal $. Values under kubeflow.auth, and values of variables whose
// names say they are secret, are recorded as secrets. Offline (kf-run
// validate), a variable that is not set is recorded in unset and read as
// empty: validation needs no secrets.
type expander struct {
	path    string
	getenv  func(string) (string, bool)
	offline bool

	secrets *[]string
	uses    *[]secretUse
	unset   *[]UnsetVar
	errs    *[]error
}

// UnsetVar is a ${VAR} that kf-run validate found unset, and where.
type UnsetVar struct {
	Name string
	Line int
	// Param is the pipeline parameter whose value holds it, if any.
	Param string
}

func (x *expander) expand(n *yaml.Node, keys []string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			x.expand(c, keys)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			x.expand(n.Content[i+1], append(keys, n.Content[i].Value))
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		inAuth := len(keys) >= 3 && keys[0] == "kubeflow" && keys[1] == "auth" &&
			(keys[2] == "token" || keys[2] == "password" || keys[2] == "headers" || keys[2] == "cookies")
		inParams := len(keys) >= 3 && keys[0] == "pipelines" && keys[1] == "parameters"
		n.Value = envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			sub := envRE.FindStringSubmatch(m)
			v, ok := x.getenv(sub[1])
			if !ok || v == "" {
				if sub[2] != "" {
					return sub[3]
				}
				if x.offline {
					u := UnsetVar{Name: sub[1], Line: n.Line}
					if inParams {
						u.Param = keys[2]
					}
					*x.unset = append(*x.unset, u)
					return ""
				}
				*x.errs = append(*x.errs, &Error{File: x.path, Line: n.Line, Msg: unsetMsg(sub[1], inAuth || console.SecretName(sub[1]))})
				return ""
			}
			if inAuth || console.SecretName(sub[1]) {
				*x.secrets = append(*x.secrets, v)
			}
			if console.SecretName(sub[1]) && inParams {
				*x.uses = append(*x.uses, secretUse{param: keys[2], variable: sub[1], line: n.Line})
			}
			if console.SecretName(sub[1]) && len(keys) >= 4 && keys[0] == "pipelines" && (keys[1] == "schedule" || keys[1] == "preview") && keys[2] == "parameters" {
				*x.uses = append(*x.uses, secretUse{param: keys[3], variable: sub[1], line: n.Line})
			}
			if console.SecretName(sub[1]) && len(keys) >= 3 && keys[0] == "preview" && keys[1] == "parameters" {
				*x.uses = append(*x.uses, secretUse{param: keys[2], variable: sub[1], line: n.Line, top: true})
			}
			return v
		})
		if n.Tag == "!!str" || n.Style != 0 {
			return
		}
		n.Tag = "" // let the expanded value be retyped (a number from env)
	}
}

// unsetMsg says how to set a variable that is not set. A secret gets no
// default suggested: a default token would be a token in the repository.
func unsetMsg(name string, secret bool) string {
	if secret {
		return fmt.Sprintf("environment variable %s is not set: give the job this secret "+
			"(GitHub: env %s: ${{ secrets.%s }}; GitLab: a masked CI/CD variable). "+
			"Pull requests from forks get no secrets; kf-run validate needs none", name, name, name)
	}
	return fmt.Sprintf("environment variable %s is not set (set it in the CI job, or write ${%s:-default})", name, name)
}

// secretUse is a secret variable expanded into a pipeline parameter.
type secretUse struct {
	param, variable string
	line            int
	top             bool // in the top-level preview.parameters
}

// checkSecretParameters refuses a secret variable in a run parameter: KFP
// stores run parameters in plain text and shows them in its UI and API to
// everyone in the namespace; kf-run's masking covers only its own output.
// A pipeline may accept that per parameter in secret_parameters.
func (c *Config) checkSecretParameters(bad func(line int, format string, a ...any)) {
	for _, u := range c.secretUses {
		if u.top {
			bad(u.line, "preview parameter %s takes ${%s}, a secret, but KFP stores run parameters in plain text, shown in its UI and API to everyone in the namespace: "+
				"give it to the step as a Kubernetes Secret with pod.secrets, or set it in a pipeline's preview.parameters and list it in that pipeline's secret_parameters", u.param, u.variable)
			continue
		}
		i := c.entryAt(u.line)
		if i < 0 {
			continue
		}
		p := c.Pipelines[i]
		_, ok := p.Parameters[u.param]
		if p.Schedule != nil && !ok {
			_, ok = p.Schedule.Parameters[u.param]
		}
		if p.Preview != nil && !ok {
			_, ok = p.Preview.Parameters[u.param]
		}
		if !ok || slices.ContainsFunc(p.SecretParameters, func(t Text) bool { return t.Value == u.param }) {
			continue
		}
		bad(u.line, "parameter %s takes ${%s}, a secret, but KFP stores run parameters in plain text, shown in its UI and API to everyone in the namespace: "+
			"give it to the step as a Kubernetes Secret with pod.secrets (an environment variable in its container), "+
			"or accept this with secret_parameters: [%s]", u.param, u.variable, u.param)
	}
}

// entryAt is the index of the pipeline entry that holds line (a value may
// be a map, on lines of its own), or -1.
func (c *Config) entryAt(line int) int {
	for i := len(c.Pipelines) - 1; i >= 0; i-- {
		if c.Pipelines[i].Line > 0 && line >= c.Pipelines[i].Line {
			return i
		}
	}
	return -1
}

// unsetNote adds to each error on a line that holds an unset variable
// that validate read the variable as empty: the error may be only that.
func unsetNote(err error, unset []UnsetVar) error {
	if len(unset) == 0 {
		return err
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for i, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) || ce.Line == 0 {
			continue
		}
		for _, u := range unset {
			if u.Line == ce.Line {
				note := *ce
				note.Msg += fmt.Sprintf(" (${%s} is not set here and was read as empty)", u.Name)
				errs[i] = &note
				break
			}
		}
	}
	return errors.Join(errs...)
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (c *Config) check() error {
	var errs []error
	bad := func(line int, format string, a ...any) {
		errs = append(errs, &Error{File: c.Path, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	if len(c.Pipelines) == 0 {
		bad(0, "no pipelines: add pipelines: [{name: NAME, spec: path/to/pipeline.yaml}]")
	}
	for _, lit := range []Text{c.Kubeflow.Auth.Token, c.Kubeflow.Auth.Password} {
		if lit.Value != "" && !fromEnv(c.Secrets, lit.Value) {
			bad(lit.Line, "a credential is written literally in the config: use ${ENV_VAR} so the secret stays out of the repository")
		}
	}
	c.Kubeflow.check(bad)
	c.checkSecretParameters(bad)
	c.checkPreview(bad)
	names := map[string]int{}
	for i, p := range c.Pipelines {
		if p.Schedule != nil {
			p.Schedule.check(fmt.Sprintf("pipelines[%d].schedule", i), bad)
		}
		if p.Name.Value == "" {
			bad(p.Line, "pipeline entry has no name")
		} else if first, dup := names[p.Name.Value]; dup {
			bad(p.Name.Line, "pipeline %q is defined twice (first at line %d)", p.Name.Value, first)
		} else {
			names[p.Name.Value] = p.Name.Line
		}
		switch {
		case p.Spec.Value == "" && p.Compile.Value != "":
			bad(p.Compile.Line, "pipeline %q has compile but no spec: set spec to the file the command writes", p.Name.Value)
		case p.Spec.Value == "":
			bad(p.Line, "pipeline %q has no spec: set spec to the compiled pipeline file (YAML or JSON from the KFP SDK)", p.Name.Value)
		}
		if p.Compile.Line > 0 && strings.TrimSpace(p.Compile.Value) == "" {
			bad(p.Compile.Line, "pipeline %q: compile is empty: give the command that writes %s, or drop the key", p.Name.Value, p.Spec.Value)
		}
		for _, t := range []Text{p.Name, p.PipelineName, p.Version, p.RunName, p.Description, p.Experiment} {
			if _, err := template.New("").Option("missingkey=error").Parse(t.Value); err != nil {
				bad(t.Line, "bad template %q: %v", t.Value, err)
			}
		}
	}
	for _, p := range c.pods() {
		for _, name := range slices.Sorted(maps.Keys(p.Tasks)) {
			if t := p.Tasks[name]; t != nil && len(t.Tasks) > 0 {
				bad(t.Lines["tasks"], "tasks: inside tasks.%s: task overrides do not nest", name)
			}
		}
	}
	for _, t := range []Text{c.Defaults.Experiment} {
		if _, err := template.New("").Parse(t.Value); err != nil {
			bad(t.Line, "bad template %q: %v", t.Value, err)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].(*Error).Line < errs[j].(*Error).Line })
	return errors.Join(errs...)
}

// check refuses credential modes that exclude each other.
func (k Kubeflow) check(bad func(int, string, ...any)) {
	a := k.Auth
	var set []string
	line := 0
	for _, m := range []struct {
		name string
		t    Text
	}{
		{"token", a.Token}, {"token_file", a.TokenFile}, {"username", a.Username},
		{"github_oidc", a.GitHubOIDC.Audience}, {"kubernetes", firstText(k.Kubernetes.Context, k.Kubernetes.Kubeconfig)},
	} {
		if m.t.Value != "" {
			set = append(set, m.name)
			line = max(line, m.t.Line)
		}
	}
	if len(set) > 1 {
		bad(line, "kubeflow: %s exclude each other: keep one way to authenticate", strings.Join(set, " and "))
	}
	if (a.Username.Value == "") != (a.Password.Value == "") {
		bad(max(a.Username.Line, a.Password.Line), "kubeflow.auth: username and password go together")
	}
	if kc := firstText(k.Kubernetes.Context, k.Kubernetes.Kubeconfig); kc.Value != "" && k.Host.Value != "" {
		bad(kc.Line, "kubeflow: host and kubernetes exclude each other (kubernetes reaches KFP through the API server's service proxy)")
	}
	if (k.TLS.CertFile.Value == "") != (k.TLS.KeyFile.Value == "") {
		bad(max(k.TLS.CertFile.Line, k.TLS.KeyFile.Line), "kubeflow.tls: cert_file and key_file go together")
	}
	if p := k.Kubernetes.Port; p < 0 || p > 65535 {
		bad(0, "kubeflow.kubernetes.port %d is not a port", p)
	}
}

func firstText(ts ...Text) Text {
	for _, t := range ts {
		if t.Value != "" {
			return t
		}
	}
	return Text{}
}

func fromEnv(secrets []string, v string) bool {
	for _, s := range secrets {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// Render executes t as a Go template over vars; errors point at t's line.
func (c *Config) Render(t Text, vars any) (string, error) {
	if !strings.Contains(t.Value, "{{") {
		return t.Value, nil
	}
	tpl, err := template.New("").Option("missingkey=error").Parse(t.Value)
	if err == nil {
		var b strings.Builder
		if err = tpl.Execute(&b, vars); err == nil {
			return b.String(), nil
		}
	}
	return "", &Error{File: c.Path, Line: t.Line, Msg: fmt.Sprintf("template %q: %v", t.Value, err)}
}

// RenderName renders t, the value of key, as Render does, for a name KFP
// stores (an experiment, a run, a pipeline, a version). A name that
// renders blank, or prints a variable that is empty here (outside
// {{ if }}, {{ with }} and {{ range }}, where the template handles it),
// is an error at t's line saying which variable and why (whyEmpty).
func (c *Config) RenderName(key string, t Text, vars any, whyEmpty func(field string) string) (string, error) {
	out, err := c.Render(t, vars)
	if err != nil || !strings.Contains(t.Value, "{{") {
		return out, err
	}
	tpl, err := template.New("").Parse(t.Value)
	if err != nil {
		return out, nil // Render parsed it
	}
	bad := func(format string, a ...any) error {
		return &Error{File: c.Path, Line: t.Line, Msg: key + ": " + fmt.Sprintf(format, a...)}
	}
	for _, n := range tpl.Root.Nodes {
		a, ok := n.(*tparse.ActionNode)
		if !ok || len(a.Pipe.Decl) > 0 || len(a.Pipe.Cmds) != 1 || len(a.Pipe.Cmds[0].Args) != 1 {
			continue
		}
		f, ok := a.Pipe.Cmds[0].Args[0].(*tparse.FieldNode)
		if !ok {
			continue
		}
		if v, ok := field(vars, f.Ident); ok && v.IsZero() {
			name := "." + strings.Join(f.Ident, ".")
			return "", bad("template %q: {{ %s }} is empty: %s. Write {{ with %s }}…{{ else }}…{{ end }} for a fallback", t.Value, name, whyEmpty(name), name)
		}
	}
	if strings.TrimSpace(out) == "" {
		return "", bad("template %q renders empty", t.Value)
	}
	return out, nil
}

// field follows a template's field chain (Git, ShortSHA) through structs.
func field(v any, idents []string) (reflect.Value, bool) {
	r := reflect.ValueOf(v)
	for _, id := range idents {
		for r.Kind() == reflect.Pointer {
			r = r.Elem()
		}
		if r.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		if r = r.FieldByName(id); !r.IsValid() {
			return reflect.Value{}, false
		}
	}
	return r, true
}

package build

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	kobuild "github.com/google/ko/pkg/build"
	"github.com/google/ko/pkg/publish"
	"golang.org/x/sync/errgroup"
)

// KoVersion is the ko library version kf-run builds with; it is part of the
// skip-cache key.
const KoVersion = "v0.18.1"

// Scheme prefixes the image references this package builds.
const Scheme = "ko://"

// Naming says how an import path becomes a repository under Options.Repo,
// as the ko CLI's flags do.
type Naming string

const (
	NamingMD5      Naming = ""         // <repo>/<base>-<md5(importpath)>, ko's default
	NamingBase     Naming = "base"     // <repo>/<base> (ko --base-import-paths)
	NamingPreserve Naming = "preserve" // <repo>/<importpath> (ko --preserve-import-paths)
	NamingBare     Naming = "bare"     // <repo> (ko --bare): every image shares it
)

// Options is everything a build needs, resolved by the caller from
// kf-run.yaml and the environment.
type Options struct {
	// Dir is where go runs (inside the module that holds the packages) and
	// where .ko.yaml is looked for.
	Dir string
	// KoConfig is KO_CONFIG_PATH: a .ko.yaml file, or a directory with one.
	KoConfig string
	// Repo is where images go (images.repo or KO_DOCKER_REPO).
	Repo string
	// Platforms, e.g. linux/amd64; empty: .ko.yaml defaultPlatforms, else
	// linux/amd64. "all" takes every platform of the base image.
	Platforms []string
	// BaseImage overrides .ko.yaml's defaultBaseImage (images.base_image or
	// KO_DEFAULTBASEIMAGE). baseImageOverrides still apply.
	BaseImage string
	Naming    Naming
	// SBOM attaches an SPDX SBOM to each image, as the ko CLI does by default.
	SBOM bool
	// Tags are pushed besides the digest; empty means "latest".
	Tags []string
	// Insecure allows plain HTTP and unverified TLS for Repo and the base
	// images. Loopback registries (localhost, 127.0.0.1) never need it.
	Insecure bool
	// CreationTime and KoDataCreationTime (SOURCE_DATE_EPOCH,
	// KO_DATA_DATE_EPOCH); zero keeps ko's reproducible zero time.
	CreationTime, KoDataCreationTime time.Time
	// Jobs bounds concurrent builds; 0 means GOMAXPROCS.
	Jobs int
	Auth Auth
	// Transport for registry calls; nil: go-containerregistry's default.
	Transport http.RoundTripper
	// UserAgent, e.g. "kf-run/v1.2.3"; also the SBOM's tool version.
	UserAgent string
	// NoSkip disables the skip cache: every image is built (ko still
	// pushes nothing that the registry has).
	NoSkip bool
	// Log receives progress lines, including ko's own. Nil: discard.
	Log func(string)
	// LookPath finds the go command before anything is built; nil:
	// exec.LookPath (the process's PATH, as `go list` and ko use it).
	LookPath func(file string) (string, error)
}

// Target is one image to build: a ko:// reference and the steps that use
// it, for messages ("train/trainer").
type Target struct {
	Ref   string
	Steps []string
}

// Image is a built (or found) image.
type Image struct {
	Ref        string // as written, ko://...
	ImportPath string
	Digest     string // registry/repo@sha256:...
	// Reused is true when the skip cache found the image: nothing was built.
	Reused bool
}

// ConfigError is a bad reference or build setting: nothing was built, and
// the user has to change the spec or the config.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// StepError is a failed build or push of one image, named by its steps.
type StepError struct {
	Ref   string
	Steps []string
	// Compiler holds the go compiler's output when the build failed to compile.
	Compiler string
	Err      error
}

func (e *StepError) Error() string {
	who := e.Ref
	if len(e.Steps) > 0 {
		who += " (step " + strings.Join(e.Steps, ", ") + ")"
	}
	if e.Compiler != "" {
		return "compile " + who + ":\n" + e.Compiler
	}
	return "build " + who + ": " + e.Err.Error()
}
func (e *StepError) Unwrap() error { return e.Err }

// IsRef reports whether an image reference is one this package builds.
func IsRef(image string) bool { return strings.HasPrefix(image, Scheme) }

// Images builds and pushes every target's image once and returns them in
// target order (duplicates share one result). Any error means some image is
// missing: nothing should be submitted.
func Images(ctx context.Context, o Options, targets []Target) ([]Image, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			o.Log(fmt.Sprintf(format, args...))
		}
	}
	if err := checkGo(o.LookPath); err != nil {
		return nil, err
	}
	defer routeLog(koLogFilter(o.Log))()
	if vars := IgnoredEnv(os.Environ()); len(vars) > 0 {
		// ko's go build starts from the process environment, after its
		// own GOOS/GOARCH: the program must drop these (see IgnoredEnv).
		return nil, fmt.Errorf("the environment sets %s, which would override the platforms ko builds for: the caller must drop them first (build.IgnoredEnv)", strings.Join(vars, ", "))
	}

	s, err := newSession(ctx, o, logf)
	if err != nil {
		return nil, err
	}

	// Dedupe and check: one go list for every distinct reference.
	var paths []string
	steps := map[string][]string{}
	for _, t := range targets {
		if !IsRef(t.Ref) {
			return nil, &ConfigError{Err: fmt.Errorf("%s: not a %s reference", t.Ref, Scheme)}
		}
		p := strings.TrimPrefix(t.Ref, Scheme)
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
		steps[p] = append(steps[p], t.Steps...)
	}
	infos, err := checkRefs(ctx, s.dir, paths)
	if err != nil {
		return nil, err
	}
	ips := map[string]string{}
	for p, in := range infos {
		ips[p] = in.ImportPath
		s.pkgDirs[in.ImportPath] = in.Dir
	}
	var unique []string
	stepsByIP := map[string][]string{}
	for _, p := range paths {
		ip := ips[p]
		if !slices.Contains(unique, ip) {
			unique = append(unique, ip)
		}
		stepsByIP[ip] = append(stepsByIP[ip], steps[p]...)
	}
	if o.Naming == NamingBare && len(unique) > 1 {
		logf("warning: images.bare puts %d images in one repository %s; their tags overwrite each other (the pinned digests stay right)", len(unique), s.repo)
	}

	keys := s.keys(ctx, unique)

	built := map[string]Image{}
	var mu sync.Mutex
	var errs []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs)
	for _, ip := range unique {
		g.Go(func() error {
			img, err := s.image(gctx, ip, keys[ip])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, s.stepError(Scheme+ip, stepsByIP[ip], err))
				return nil // the others go on: report every broken step at once
			}
			built[ip] = img
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	out := make([]Image, len(targets))
	for i, t := range targets {
		img := built[ips[strings.TrimPrefix(t.Ref, Scheme)]]
		img.Ref = t.Ref
		out[i] = img
	}
	return out, nil
}

// checkGo fails before anything is built (and so before anything is
// submitted) when there is no go command: ko:// images are compiled by the
// job's own Go toolchain, which kf-run does not carry. It is a
// *ConfigError (exit 2) because the fix is in the job's setup, and retrying
// the same job cannot help.
func checkGo(lookPath func(string) (string, error)) error {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if _, err := lookPath("go"); err != nil {
		return &ConfigError{Err: fmt.Errorf("ko:// images are built with the job's Go toolchain, and there is no go command on PATH (%v): "+
			"on GitHub Actions add a step `uses: actions/setup-go` with `go-version-file: go.mod` before kf-run; "+
			"elsewhere install Go, or run kf-run in its image ghcr.io/kf-run/kf-run, which has Go", err)}
	}
	return nil
}

// IgnoredEnv lists the variables of environ (KEY=VALUE) that would change
// what ko builds for: ko's go build takes the process environment after its
// own GOOS/GOARCH, so a job's GOOS=windows would build every image for
// Windows. Platforms come from images.platforms or .ko.yaml, and cgo stays
// off unless .ko.yaml's env sets CGO_ENABLED. ko reads only the process
// environment, so the program (not this package) drops them before
// calling Images; CGO_ENABLED=0 is harmless and not listed.
func IgnoredEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(targetEnvVars, k) && (k != "CGO_ENABLED" || v != "0") {
			out = append(out, k)
		}
	}
	return out
}

// session is one Images call's resolved settings and ko objects.
type session struct {
	o         Options
	dir       string
	repo      string
	platforms []platform
	all       bool // Platforms "all": the skip cache is off
	ko        *koConfig
	builds    map[string]kobuild.Config // by import path
	baseRef   string
	kc        *keychain
	ropt      []remote.Option
	nopt      []name.Option
	namer     publish.Namer
	tags      []string
	jobs      int
	builder   kobuild.Interface
	publisher publish.Interface
	logf      func(string, ...any)

	pkgDirs map[string]string // import path -> package directory

	baseMu sync.Mutex
	bases  map[string]*baseEntry
}

type baseEntry struct {
	once sync.Once
	ref  name.Reference
	res  kobuild.Result
	dig  v1.Hash
	err  error
}

func newSession(ctx context.Context, o Options, logf func(string, ...any)) (*session, error) {
	dir, err := filepath.Abs(cmp.Or(o.Dir, "."))
	if err != nil {
		return nil, err
	}
	s := &session{o: o, dir: dir, logf: logf, bases: map[string]*baseEntry{}, pkgDirs: map[string]string{}}
	if s.ko, err = loadKoConfig(dir, o.KoConfig); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf(".ko.yaml: %w", err)}
	}
	s.repo = strings.TrimSuffix(o.Repo, "/")
	if s.repo == "" {
		return nil, &ConfigError{Err: errors.New("no image repository for ko:// images: set images.repo in kf-run.yaml or KO_DOCKER_REPO (e.g. ghcr.io/OWNER/REPO)")}
	}
	if s.repo == "ko.local" || s.repo == "kind.local" || strings.HasPrefix(s.repo, "ko.local/") || strings.HasPrefix(s.repo, "kind.local/") {
		return nil, &ConfigError{Err: fmt.Errorf("image repository %q: kf-run pushes to a registry the KFP cluster can pull from; ko.local and kind.local are not supported", s.repo)}
	}
	if o.Insecure {
		s.nopt = append(s.nopt, name.Insecure)
	}
	repoRef, err := name.NewRepository(s.repo, s.nopt...)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("image repository %q: %v", s.repo, err)}
	}
	plats := splitPlatforms(o.Platforms)
	if len(plats) == 0 {
		plats = splitPlatforms(s.ko.DefaultPlatforms)
	}
	if len(plats) == 0 {
		plats = []string{"linux/amd64"}
	}
	for _, p := range plats {
		if p == "all" {
			s.all = true
			continue
		}
		pp, err := parsePlatform(p)
		if err != nil {
			return nil, &ConfigError{Err: err}
		}
		if !slices.Contains(s.platforms, pp) {
			s.platforms = append(s.platforms, pp)
		}
	}
	if s.all && len(s.platforms) > 0 {
		return nil, &ConfigError{Err: errors.New(`platforms: "all" cannot be combined with other platforms`)}
	}
	s.baseRef = cmp.Or(o.BaseImage, s.ko.DefaultBaseImage, DefaultBaseImage)
	for _, b := range append([]string{s.baseRef}, values(s.ko.BaseImageOverrides)...) {
		if _, err := name.ParseReference(b, s.nopt...); err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("base image %q: %v", b, err)}
		}
	}
	if s.builds, err = s.resolveBuilds(ctx); err != nil {
		return nil, err
	}

	auth := o.Auth
	if auth.Registry == "" {
		auth.Registry = repoRef.RegistryStr()
	}
	s.kc = newKeychain(auth)
	if o.Insecure && o.Transport == nil {
		// Unverified TLS for our own calls (base images, skip-cache HEADs);
		// publish.Insecure does the same for the pushes.
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only when images.insecure asks
		o.Transport = t
	}
	s.ropt = []remote.Option{remote.WithAuthFromKeychain(s.kc), remote.WithUserAgent(cmp.Or(o.UserAgent, "kf-run"))}
	if o.Transport != nil {
		s.ropt = append(s.ropt, remote.WithTransport(o.Transport))
	}
	switch o.Naming {
	case NamingMD5:
		s.namer = func(repo, ip string) string {
			h := md5.Sum([]byte(ip))
			return path.Join(repo, path.Base(ip)+"-"+hex.EncodeToString(h[:]))
		}
	case NamingBase:
		s.namer = func(repo, ip string) string { return path.Join(repo, path.Base(ip)) }
	case NamingPreserve:
		s.namer = func(repo, ip string) string { return path.Join(repo, ip) }
	case NamingBare:
		s.namer = func(repo, _ string) string { return repo }
	default:
		return nil, &ConfigError{Err: fmt.Errorf("image naming %q: want md5 (default), base, preserve or bare", o.Naming)}
	}
	s.tags = o.Tags
	if len(s.tags) == 0 {
		s.tags = []string{"latest"}
	}
	for _, t := range s.tags {
		if _, err := name.NewTag(s.repo+":"+t, s.nopt...); err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("image tag %q: %v", t, err)}
		}
	}
	s.jobs = o.Jobs
	if s.jobs <= 0 {
		s.jobs = runtime.GOMAXPROCS(0)
	}

	bopts := []kobuild.Option{
		kobuild.WithBaseImages(s.base),
		kobuild.WithTrimpath(true),
		kobuild.WithJobs(s.jobs),
		kobuild.WithConfig(s.builds),
	}
	if s.all {
		bopts = append(bopts, kobuild.WithPlatforms("all"))
	} else {
		var ps []string
		for _, p := range s.platforms {
			ps = append(ps, p.String())
		}
		bopts = append(bopts, kobuild.WithPlatforms(ps...))
	}
	if o.SBOM {
		bopts = append(bopts, kobuild.WithSPDX(cmp.Or(strings.TrimPrefix(o.UserAgent, "kf-run/"), "(none)")))
	} else {
		bopts = append(bopts, kobuild.WithDisabledSBOM())
	}
	if !o.CreationTime.IsZero() {
		bopts = append(bopts, kobuild.WithCreationTime(v1.Time{Time: o.CreationTime}))
	}
	if !o.KoDataCreationTime.IsZero() {
		bopts = append(bopts, kobuild.WithKoDataCreationTime(v1.Time{Time: o.KoDataCreationTime}))
	}
	if len(s.ko.DefaultEnv) > 0 {
		bopts = append(bopts, kobuild.WithDefaultEnv(s.ko.DefaultEnv))
	}
	if len(s.ko.DefaultFlags) > 0 {
		bopts = append(bopts, kobuild.WithDefaultFlags(s.ko.DefaultFlags))
	}
	if len(s.ko.DefaultLdflags) > 0 {
		bopts = append(bopts, kobuild.WithDefaultLdflags(s.ko.DefaultLdflags))
	}
	// The builder's ctx is used for base image fetches for its whole life.
	b, err := kobuild.NewGobuilds(ctx, dir, s.builds, bopts...)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	if s.builder, err = kobuild.NewCaching(b); err != nil {
		return nil, err
	}

	popts := []publish.Option{
		publish.WithAuthFromKeychain(s.kc),
		publish.WithNamer(s.namer),
		publish.WithUserAgent(cmp.Or(o.UserAgent, "kf-run")),
		publish.WithJobs(s.jobs),
	}
	if o.Transport != nil {
		popts = append(popts, publish.WithTransport(o.Transport))
	}
	// Insecure clones the transport, so it goes last.
	popts = append(popts, publish.WithTags(s.tags), publish.Insecure(o.Insecure))
	pub, err := publish.NewDefault(s.repo, popts...)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	if s.publisher, err = publish.NewCaching(pub); err != nil {
		return nil, err
	}
	return s, nil
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// resolveBuilds maps .ko.yaml builds[] (dir + main) to import paths, with
// one go list per build, as ko does when it loads the file.
func (s *session) resolveBuilds(ctx context.Context) (map[string]kobuild.Config, error) {
	out := map[string]kobuild.Config{}
	for i, c := range s.ko.Builds {
		if c.ID == "" {
			c.ID = fmt.Sprintf("#%d", i)
		}
		c.Dir, c.Main = cmp.Or(c.Dir, "."), cmp.Or(c.Main, ".")
		base := filepath.Join(s.dir, c.Dir)
		main := c.Main
		if fi, err := os.Stat(filepath.Join(base, main)); err == nil && fi.Mode().IsRegular() {
			main = filepath.Dir(main)
		}
		infos, err := goListJSON(ctx, base, []string{"./" + filepath.ToSlash(filepath.Clean(main))})
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("%s: builds[%d]: %v", s.ko.Path, i, err)}
		}
		if infos[0].Error != nil || infos[0].ImportPath == "" {
			msg := "no package"
			if infos[0].Error != nil {
				msg = oneLine(infos[0].Error.Err)
			}
			return nil, &ConfigError{Err: fmt.Errorf("%s: builds[%d] (dir %q, main %q): %s", s.ko.Path, i, c.Dir, c.Main, msg)}
		}
		out[infos[0].ImportPath] = c
	}
	return out, nil
}

// base is ko's GetBase: the override for the import path, else the default
// base, fetched once per reference with our keychain.
func (s *session) base(ctx context.Context, ip string) (name.Reference, kobuild.Result, error) {
	e := s.baseFor(ctx, ip)
	return e.ref, e.res, e.err
}

func (s *session) baseFor(ctx context.Context, ip string) *baseEntry {
	ip = strings.TrimPrefix(ip, Scheme)
	ref := s.baseRef
	if o, ok := s.ko.BaseImageOverrides[strings.ToLower(ip)]; ok && o != "" {
		ref = o
	}
	s.baseMu.Lock()
	e, ok := s.bases[ref]
	if !ok {
		e = &baseEntry{}
		s.bases[ref] = e
	}
	s.baseMu.Unlock()
	e.once.Do(func() {
		r, err := name.ParseReference(ref, s.nopt...)
		if err != nil {
			e.err = err
			return
		}
		desc, err := remote.Get(r, append(s.ropt, remote.WithContext(ctx))...)
		if err != nil {
			e.err = fmt.Errorf("fetch base image %s: %w", ref, s.kc.explain(err, r.Context().RegistryStr()))
			return
		}
		e.dig = desc.Digest
		if desc.MediaType.IsIndex() {
			e.res, e.err = desc.ImageIndex()
		} else {
			e.res, e.err = desc.Image()
		}
		if e.err == nil {
			e.ref = r
			s.logf("using base %s@%s", ref, desc.Digest)
		}
	})
	return e
}

// config is the env, flags and ldflags ko v0.18.1 builds ip with: its
// builds[] entry's, env and ldflags falling back to the defaults. ko appends
// -trimpath to the entry's flags before that fallback, so defaultFlags never
// apply (gobuild.go configForImportPath); mirrored here so the cache warm-up
// compiles exactly what ko then links.
func (s *session) config(ip string) (env, flags, ldflags []string) {
	c := s.builds[ip]
	env, ldflags = c.Env, c.Ldflags
	flags = append(slices.Clone([]string(c.Flags)), "-trimpath")
	if len(env) == 0 {
		env = s.ko.DefaultEnv
	}
	if len(ldflags) == 0 {
		ldflags = s.ko.DefaultLdflags
	}
	return env, flags, ldflags
}

// image returns the pushed image for ip: found by its skip-cache key, or
// built and published.
func (s *session) image(ctx context.Context, ip, key string) (Image, error) {
	repo := s.namer(s.repo, strings.ToLower(ip))
	if key != "" {
		if d, ok := s.lookup(ctx, repo, key); ok {
			if err := s.retag(ctx, repo, d); err != nil {
				return Image{}, err
			}
			s.logf("%s%s unchanged: %s@%s", Scheme, ip, repo, d)
			return Image{ImportPath: ip, Digest: repo + "@" + d.String(), Reused: true}, nil
		}
	}
	res, err := s.builder.Build(ctx, Scheme+ip)
	if err != nil {
		return Image{}, err
	}
	ref, err := s.publisher.Publish(ctx, res, Scheme+ip)
	if err != nil {
		return Image{}, s.kc.explain(err, "")
	}
	d, err := res.Digest()
	if err != nil {
		return Image{}, err
	}
	if key != "" {
		// Record the inputs, so the next run with none changed skips the build.
		tag, err := name.NewTag(repo+":"+skipTag(key), s.nopt...)
		if err == nil {
			err = remote.Tag(tag, res, append(s.ropt, remote.WithContext(ctx))...)
		}
		if err != nil {
			return Image{}, s.kc.explain(fmt.Errorf("tag %s: %w", tag, err), "")
		}
	}
	// Always repo@sha256:..., whatever tags were pushed.
	return Image{ImportPath: ip, Digest: ref.Context().Digest(d.String()).String()}, nil
}

// stepError names the failed image's steps and pulls out compiler output.
func (s *session) stepError(ref string, steps []string, err error) error {
	e := &StepError{Ref: ref, Steps: steps, Err: err}
	msg := err.Error()
	if i := strings.Index(msg, "go build: exit status"); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			e.Compiler = strings.TrimSpace(msg[i+j+2:])
		}
	}
	return e
}

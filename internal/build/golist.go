package build

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// targetEnvVars select what `go build` compiles for. ko appends the process
// environment after its own GOOS/GOARCH, so any of these set in the process
// would win over the platform asked for (an "amd64" image with an arm64
// binary); Images removes them.
var targetEnvVars = []string{"GOOS", "GOARCH", "GOARM", "GOARM64", "GOAMD64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM", "CGO_ENABLED"}

// goEnv is the environment for go commands: the process's, without the
// target variables.
func goEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(targetEnvVars, k) {
			env = append(env, kv)
		}
	}
	return env
}

// pkgInfo is what `go list` says about one reference.
type pkgInfo struct {
	ImportPath string
	Name       string
	Dir        string
	Error      *struct{ Err string }
}

// checkRefs runs one `go list -e` over every reference (import paths or
// ./relative paths, without ko://) in dir and returns the canonical import
// path of each. Packages that do not exist or are not main are usage errors.
func checkRefs(ctx context.Context, dir string, paths []string) (map[string]pkgInfo, error) {
	infos, err := goListJSON(ctx, dir, paths)
	if err != nil {
		return nil, err
	}
	out := map[string]pkgInfo{}
	var errs []error
	for i, p := range paths {
		in := infos[i]
		switch {
		case in.Error != nil:
			errs = append(errs, fmt.Errorf("ko://%s: package not found: %s", p, oneLine(in.Error.Err)))
		case in.Name == "":
			errs = append(errs, fmt.Errorf("ko://%s: package not found in %s", p, dir))
		case in.Name != "main":
			errs = append(errs, fmt.Errorf("ko://%s: not a main package (it is package %s): a step image needs a command", p, in.Name))
		default:
			out[p] = in
		}
	}
	if len(errs) > 0 {
		return nil, &ConfigError{Err: errors.Join(errs...)}
	}
	return out, nil
}

// goListJSON lists paths in dir, one result per path in order. go list
// prints packages in argument order but only once each, so when two
// arguments name one package it falls back to one call per argument.
func goListJSON(ctx context.Context, dir string, paths []string) ([]pkgInfo, error) {
	for _, p := range paths {
		if strings.Contains(p, "...") || strings.HasPrefix(p, "-") {
			return nil, &ConfigError{Err: fmt.Errorf("ko://%s: not a package path (patterns and flags are not allowed)", p)}
		}
	}
	run := func(args []string) ([]pkgInfo, error) {
		cmd := exec.CommandContext(ctx, "go", append([]string{"list", "-e", "-json=ImportPath,Name,Dir,Error"}, args...)...)
		cmd.Dir, cmd.Env = dir, goEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list in %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
		}
		var infos []pkgInfo
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var in pkgInfo
			if err := dec.Decode(&in); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("go list: %w", err)
			}
			infos = append(infos, in)
		}
		return infos, nil
	}
	infos, err := run(paths)
	if err != nil || len(infos) == len(paths) {
		return infos, err
	}
	infos = infos[:0]
	for _, p := range paths {
		one, err := run([]string{p})
		if err != nil {
			return nil, err
		}
		if len(one) != 1 {
			return nil, fmt.Errorf("go list %s: %d packages", p, len(one))
		}
		infos = append(infos, one[0])
	}
	return infos, nil
}

// buildIDs compiles (without linking) every package the import paths need,
// for one platform, flags and env, and returns each package's BuildID
// (which changes with its source, its dependencies, the toolchain and the
// flags) and each root's dependencies. This is also the cache warm-up: after
// it, concurrent `go build`s only link, instead of each compiling the
// standard library at the same time.
func buildIDs(ctx context.Context, dir string, p platform, flags, env []string, ips []string) (ids map[string]string, deps map[string][]string, err error) {
	args := append([]string{"list", "-e", "-export", "-deps"}, flags...)
	args = append(args, "-f", "{{.ImportPath}}\t{{.BuildID}}\t{{if not .DepOnly}}{{join .Deps \" \"}}{{end}}")
	args = append(args, ips...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(goEnv(), p.env()...), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	ids, deps = map[string]string{}, map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 {
			continue
		}
		ids[f[0]] = f[1]
		if slices.Contains(ips, f[0]) {
			deps[f[0]] = strings.Fields(f[2])
		}
	}
	if runErr != nil {
		// A compile error: the ko build reports it properly, per image.
		return ids, deps, fmt.Errorf("go list -export: %v: %s", runErr, strings.TrimSpace(stderr.String()))
	}
	return ids, deps, nil
}

// linkEnv is what `go env` says of the settings that change a binary
// without changing any compiled package's BuildID (-ldflags in GOFLAGS,
// from the environment or the go env file), and of GOEXPERIMENT.
func linkEnv(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOFLAGS", "GOEXPERIMENT")
	cmd.Dir, cmd.Env = dir, goEnv()
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// gitState is what `go build` stamps into a binary from git: the commit and
// whether the tree is dirty. Empty outside a git checkout.
func gitState(ctx context.Context, dir string) string {
	head := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
	head.Dir = dir
	h, err := head.Output()
	if err != nil {
		return ""
	}
	status := exec.CommandContext(ctx, "git", "status", "--porcelain")
	status.Dir = dir
	s, _ := status.Output()
	return fmt.Sprintf("%s dirty=%t", strings.TrimSpace(string(h)), len(bytes.TrimSpace(s)) > 0)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

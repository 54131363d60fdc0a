// Package build turns the ko:// executor images of pipeline specs into
// pushed, digest-pinned images, with github.com/google/ko used as a library
// (build.NewGobuilds + build.NewCaching, publish.NewDefault +
// publish.NewCaching), never shelled out.
//
// Images first checks that there is a go command (the job's Go toolchain
// compiles the images; without it the error says how to get one), then
// checks every reference with one `go list` (not found, not a
// main package), dedupes them, warms the Go build cache once per platform,
// and then builds and pushes with a bound on parallelism. An input-keyed
// skip cache (a "kfrun-<sha256>" tag per image, checked with one manifest
// HEAD) makes a run with no source change push nothing and build nothing.
// Rewrite pins a Spec's executor images to the results; ko:// anywhere else
// in the spec (arguments, for example) is left alone.
//
// It reads ko's .ko.yaml itself (defaultBaseImage, baseImageOverrides,
// defaultPlatforms, defaultEnv/Flags/Ldflags, builds) but no environment
// variable: the caller resolves KO_DOCKER_REPO, KO_DEFAULTBASEIMAGE,
// SOURCE_DATE_EPOCH and friends into Options. The exceptions are those ko
// and go-containerregistry read on their own (DOCKER_CONFIG for the docker
// keychain, GITHUB_TOKEN for ghcr.io, KOCACHE, KO_GO_PATH) and the
// environment `go build` inherits, from which Images removes GOOS, GOARCH,
// CGO_ENABLED and the other target variables so they cannot override the
// platforms asked for.
//
// It does not read kf-run.yaml, submit anything, or talk to KFP.
package build

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kf-run/kf-run/internal/build"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/plan"
)

// buildAll is the build stage: it builds and pushes every ko:// image of
// the selected pipelines (and images.build) with ko, then pins each spec's
// executor images to the pushed digests. On any error nothing was rewritten,
// and the caller submits nothing.
func buildAll(ctx context.Context, p *plan.Plan, out *console.Console) error {
	var targets []build.Target
	for _, pl := range p.Pipelines {
		targets = append(targets, build.Targets(pl.Name, pl.Spec)...)
	}
	for _, ref := range p.Images.Extra {
		targets = append(targets, build.Target{Ref: ref, Steps: []string{"images.build"}})
	}
	if len(targets) == 0 {
		return nil
	}
	end := out.Group("Build images with ko")
	defer end()
	// ko builds from this process's environment: the program, which owns
	// it, drops what would change the target platform.
	for _, k := range build.IgnoredEnv(os.Environ()) {
		out.Printf("ignoring %s=%s from the environment: platforms come from images.platforms or .ko.yaml, and cgo stays off unless .ko.yaml's env sets CGO_ENABLED", k, os.Getenv(k))
		os.Unsetenv(k)
	}
	imgs, err := build.Images(ctx, buildOptions(p.Images, out), targets)
	if err != nil {
		reportBuildError(out, err)
		return err
	}
	digests := map[string]string{}
	reused := map[string]bool{}
	for _, im := range imgs {
		if _, seen := digests[im.Ref]; !seen {
			p.Images.Built = append(p.Images.Built, plan.BuiltImage{Ref: im.Ref, Digest: im.Digest, Reused: im.Reused})
		}
		digests[im.Ref], reused[im.Ref] = im.Digest, im.Reused
	}
	for _, pl := range p.Pipelines {
		refs := build.Refs(pl.Spec)
		if len(refs) == 0 {
			continue
		}
		s, err := build.Rewrite(pl.Spec, digests)
		if err != nil {
			out.Errorf("build "+pl.Name, "%v", err)
			return err
		}
		pl.Spec = s
		for _, ref := range refs {
			pl.Images = append(pl.Images, plan.BuiltImage{Ref: ref, Digest: digests[ref], Reused: reused[ref]})
		}
	}
	for _, b := range p.Images.Built {
		note := ""
		if b.Reused {
			note = " (unchanged, not rebuilt)"
		}
		out.Printf("%s → %s%s", b.Ref, b.Digest, note)
	}
	return nil
}

func buildOptions(im plan.Images, out *console.Console) build.Options {
	return build.Options{
		Dir:                im.Dir,
		KoConfig:           im.KoConfig,
		Repo:               im.Repo,
		Platforms:          im.Platforms,
		BaseImage:          im.BaseImage,
		Naming:             build.Naming(im.Naming),
		SBOM:               im.SBOM,
		Tags:               im.Tags,
		Insecure:           im.Insecure,
		CreationTime:       im.CreationTime,
		KoDataCreationTime: im.KoDataCreationTime,
		Auth:               build.Auth{Username: im.Username, Password: im.Password, Source: "KF_RUN_REGISTRY_USERNAME/PASSWORD"},
		UserAgent:          "kf-run/" + version,
		Log:                func(s string) { out.Printf("%s", s) },
	}
}

// reportBuildError prints each failed image under its steps' names, with
// the compiler's output as is (fenced: it is text kf-run did not write).
func reportBuildError(out *console.Console, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var se *build.StepError
		if !errors.As(e, &se) {
			out.Errorf("build images", "%v", e)
			continue
		}
		title := "build " + se.Ref
		if len(se.Steps) > 0 {
			title = "build " + strings.Join(se.Steps, ", ")
		}
		if se.Compiler == "" {
			out.Errorf(title, "%v", se)
			continue
		}
		out.Errorf(title, "%s does not compile", se.Ref)
		out.Untrusted(fmt.Sprintf("go build %s", strings.TrimPrefix(se.Ref, build.Scheme)), strings.Split(se.Compiler, "\n"))
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/build"
	"github.com/kf-run/kf-run/internal/ci"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

func doctorCommand() command {
	return command{
		name:  "doctor",
		usage: "kf-run doctor [--config FILE] [--host URL] [--namespace NS] [--kube-context CTX]",
		about: `Checks the connection to Kubeflow without submitting anything: which mode
the settings select, whether KFP answers (and which KFP release it
names), whether it accepts the credentials, whether the identity may use
the namespace, and, when an image repository is configured, whether
kf-run may push to it. It prints what works and what to fix. The config
file is optional (flags and KF_RUN_* env suffice); its pipelines are not
read.`,
		env: append(connectEnv(), "KO_DOCKER_REPO", "KF_RUN_REGISTRY_USERNAME"),
		exits: `Exit codes:
  0  every check passed
  1  a check failed (the line that says FAIL says what to fix)
  2  the settings are wrong (a config error, two modes at once)`,
		flags: func() *flag.FlagSet { return new(doctorOptions).flagSet() },
		run:   doctorCmd,
	}
}

// doctorOptions are kf-run doctor's flags.
type doctorOptions struct{ c commonFlags }

func (d *doctorOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.StringVar(&d.c.config, "config", "", "config `FILE` (default kf-run.yaml when present)")
	d.c.registerTarget(fs, true)
	return fs
}

// doctorCmd runs the checks in order and stops at the first that fails,
// since each needs the one before.
func doctorCmd(ctx context.Context, args []string, e env) int {
	var opt doctorOptions
	if _, code, ok := doctorCommand().parse(opt.flagSet(), args, e, 0); !ok {
		return code
	}
	c := opt.c
	info, _ := ci.FromEnv(ci.Env{Getenv: e.getenv, ReadFile: e.readFile})
	out := console.New(e.stdout, info.Provider, false)
	cfg, err := doctorConfig(c.config, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run doctor: %v\n", err)
		return exitUsage
	}
	out.Mask(cfg.Secrets...)
	target, settings, err := plan.Connection(cfg, c.Flags, e.getenv, false)
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run doctor: %v\n", err)
		return exitUsage
	}
	out.Mask(settings.Secrets()...)
	if n := plan.CleanHost(&target); n != nil {
		out.Printf("warn  host       %s", n.Msg)
	}
	p := &plan.Plan{Target: target, Auth: settings}
	client, conn, err := connect(p, out, e)
	if err != nil {
		out.Printf("FAIL  settings   %v", err)
		return exitUsage
	}
	out.Printf("ok    settings   %s mode: %s", conn.Mode, conn.Describe)
	out.Printf("      host       %s", conn.Host)
	if target.Namespace != "" {
		out.Printf("      namespace  %s", target.Namespace)
	}

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	srv, err := client.Server(ctx)
	multi, known := srv.MultiUser, err == nil
	var ae *kfp.APIError
	switch {
	case err == nil:
		out.Printf("ok    reach      KFP answers (multi-user: %t)", multi)
		doctorVersion(out, srv)
	case errors.As(err, &ae) && ae.Err == nil && (ae.HTTPStatus == http.StatusUnauthorized || ae.HTTPStatus == http.StatusForbidden || (ae.HTTPStatus >= 300 && ae.HTTPStatus < 400)):
		// A front answered; whether KFP is behind it is for the next check.
		out.Printf("ok    reach      %s answers (HTTP %d before KFP)", conn.Host, ae.HTTPStatus)
	default:
		out.Printf("FAIL  reach      %v", err)
		return exitError
	}
	if multi || !known {
		if a := auth.HostAdvice(conn.Host, target.Namespace, conn.Mode); a != "" {
			out.Printf("warn  host       %s", a)
		}
	}
	if multi && target.Namespace == "" {
		out.Printf("FAIL  namespace  KFP is multi-user: set kubeflow.namespace, KF_RUN_NAMESPACE or --namespace to your Kubeflow profile namespace")
		return exitError
	}

	// Read-only: look an experiment up in the namespace.
	_, err = client.FindExperiment(ctx, "kf-run-doctor")
	switch {
	case err == nil:
		who := "the server does not say who it saw"
		if conn.Identity != "" {
			who = "as " + conn.Identity
		}
		out.Printf("ok    auth       credentials accepted (%s)", who)
		if conn.SessionCookies != nil {
			out.Printf("      session    cookie %s", sessionKind(conn.SessionCookies()))
		}
		if target.Namespace != "" {
			out.Printf("ok    access     may list experiments in namespace %s", target.Namespace)
		} else {
			out.Printf("ok    access     may list experiments")
		}
		if !known {
			// A front refused healthz before the credentials were
			// checked; with them it may answer now.
			if srv, err := client.Server(ctx); err == nil {
				doctorVersion(out, srv)
			}
		}
	case errors.As(err, &ae) && (ae.HTTPStatus == http.StatusForbidden || ae.GRPCCode == kfp.CodePermissionDenied):
		out.Printf("ok    auth       credentials accepted")
		out.Printf("FAIL  access     %v", err)
		return exitError
	case errors.As(err, &ae) && ae.HTTPStatus == http.StatusBadRequest:
		out.Printf("FAIL  namespace  %v", err)
		return exitError
	default:
		out.Printf("FAIL  auth       %v", err)
		return exitError
	}
	if code := doctorRegistry(ctx, cfg, info, out, e); code != exitOK {
		return code
	}
	out.Printf("All checks passed: kf-run can submit to %s.", conn.Host)
	return exitOK
}

// doctorVersion prints the KFP release the server names, and what kf-run
// makes of one it does not know.
func doctorVersion(out *console.Console, srv kfp.Server) {
	line := "KFP " + srv.String()
	if c := srv.ShortCommit(); c != "" {
		line += " (commit " + c + ")"
	}
	if c := srv.Caveat(); c != "" {
		line += "; " + c
	}
	out.Printf("      version    %s", line)
}

// doctorRegistry checks push access to the image repository, when one is
// configured (images.repo or KO_DOCKER_REPO): ko:// images go there.
func doctorRegistry(ctx context.Context, cfg *config.Config, info ci.Info, out *console.Console, e env) int {
	im, err := plan.ImageSettings(cfg, e.getenv, info)
	if err != nil {
		out.Printf("FAIL  images     %v", err)
		return exitUsage
	}
	if im.Repo == "" {
		return exitOK
	}
	out.Mask(im.Password)
	src, err := build.CheckPush(ctx, buildOptions(im, out))
	if err != nil {
		out.Printf("FAIL  registry   %v", err)
		return exitError
	}
	if src == "" {
		src = "anonymous"
	}
	out.Printf("ok    registry   may push to %s (credentials: %s)", im.Repo, src)
	return exitOK
}

// doctorConfig loads the config file when there is one. Without one, the
// connection comes from flags and env alone.
func doctorConfig(path string, e env) (*config.Config, error) {
	explicit := path != ""
	if !explicit {
		path = config.DefaultFile
	}
	if _, err := os.Stat(path); err != nil && !explicit {
		return &config.Config{Path: "(no config file)"}, nil
	}
	cfg, err := config.Load(path, e.lookupEnv)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// sessionKind names the login front by its session cookie.
func sessionKind(names []string) string {
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "oauth2_proxy"):
			return n + " (oauth2-proxy, Kubeflow 1.9 and later)"
		case strings.HasPrefix(n, "authservice_session"):
			return n + " (oidc-authservice, Kubeflow 1.8 and earlier)"
		}
	}
	return strings.Join(names, ", ")
}

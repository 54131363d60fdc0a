// Command kfp-sandbox serves Kubeflow Pipelines' own API server (KFP 2.0.5)
// with fake Kubernetes, plus a loopback OCI registry, for kf-run's
// end-to-end tests and demo. See sandbox/README.md.
//
// On ready it prints exactly two lines to stdout,
//
//	KFP_URL=http://127.0.0.1:PORT[/prefix]
//	REGISTRY=127.0.0.1:PORT2
//
// logs to stderr, and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kf-run/kf-run/sandbox"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kfp-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o sandbox.Options
	allow := mapFlag{}
	tokens := mapFlag{}
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:0", "`address` to serve the KFP API and the control API on")
	fs.BoolVar(&o.MultiUser, "multi-user", false, "run KFP in multi-user mode (MULTIUSER=true)")
	profile := fs.String("kfp-profile", "2.0", "the KFP server `version` to stand for: 2.0, 2.5, 2.17 or next (2.17 with the task API of KFP PR #13986)")
	fs.StringVar(&o.Prefix, "prefix", "", "serve KFP under this `path` prefix, e.g. /pipeline as behind Kubeflow")
	fs.DurationVar(&o.StepDuration, "step-duration", 300*time.Millisecond, "simulated `duration` of each run step")
	fs.StringVar(&o.RegistryUser, "registry-user", "", "basic-auth `user` for the registry (default: no auth)")
	fs.StringVar(&o.RegistryPassword, "registry-password", "", "basic-auth `password` for the registry")
	fs.StringVar(&o.UserIDHeader, "userid-header", "kubeflow-userid", "`header` carrying the user identity (KUBEFLOW_USERID_HEADER)")
	fs.Var(allow, "allow", "`USER=ns1,ns2` may act in these namespaces (* = all); repeatable; default: everyone everywhere")
	fs.Var(tokens, "token", "`TOKEN=USER`: a valid bearer token and its user; repeatable; default: any token is user \"test\"")
	clock := fs.String("clock", "real", "`real` or manual: a manual clock stands still until POST /_sandbox/clock/advance?by=D moves it")
	clockStart := fs.String("clock-start", "", "with --clock manual, the `time` (RFC 3339) the clock starts at; default: now, to the second")
	verbose := fs.Bool("verbose", false, "log sandbox activity at debug level")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kfp-sandbox: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	o.Profile = sandbox.Profile(*profile)
	switch *clock {
	case "real":
		if *clockStart != "" {
			fmt.Fprintln(stderr, "kfp-sandbox: --clock-start needs --clock manual")
			return 2
		}
	case "manual":
		start := time.Now().UTC().Truncate(time.Second)
		if *clockStart != "" {
			t, err := time.Parse(time.RFC3339, *clockStart)
			if err != nil {
				fmt.Fprintf(stderr, "kfp-sandbox: --clock-start: %v\n", err)
				return 2
			}
			start = t
		}
		o.Clock = sandbox.NewManualClock(start)
	default:
		fmt.Fprintf(stderr, "kfp-sandbox: --clock must be real or manual, not %q\n", *clock)
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if len(allow) > 0 {
		o.Allow = map[string][]string{}
		for u, ns := range allow {
			o.Allow[u] = strings.Split(ns, ",")
		}
	}
	if len(tokens) > 0 {
		o.Tokens = tokens
	}
	// KFP logs through glog, which registered its flags on flag.CommandLine
	// and would otherwise write files into the temp dir.
	if err := flag.CommandLine.Set("logtostderr", "true"); err != nil {
		fmt.Fprintf(stderr, "kfp-sandbox: configure glog: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sb, err := sandbox.Start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "kfp-sandbox: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "KFP_URL=%s\nREGISTRY=%s\n", sb.URL(), sb.RegistryAddr())
	<-ctx.Done()
	o.Logger.Info("kfp-sandbox: shutting down")
	sb.Close()
	return 0
}

// mapFlag collects repeated KEY=VALUE flags.
type mapFlag map[string]string

func (m mapFlag) String() string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

func (m mapFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	m[k] = v
	return nil
}

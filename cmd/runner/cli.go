package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// command is one of kf-run's commands: what its --help says (its usage
// lines, what it does, the environment variables it reads and the exit
// codes it can return), its flags and how to run it. Each command has its
// own, so no help lists a flag or a code that does not apply.
type command struct {
	name  string // as typed: "run", "schedule sync"
	usage string // the usage lines, without "Usage: "
	about string // what it does, a paragraph or two
	env   []string
	exits string
	// flags makes the command's flag set, bound to fresh variables, without
	// running anything: what its --help lists, and what a tool that must
	// know the flags (shell completion) reads. nil: it takes no flags.
	flags func() *flag.FlagSet
	// args are the words its first argument can be, for shell completion.
	args []string
	// run runs it with the arguments after its first word.
	run func(ctx context.Context, args []string, e env) int
}

// commands are kf-run's commands, in the order its help lists them: what
// run dispatches on and shell completion offers, so a command is in this
// one list or nowhere.
func commands() []command {
	return []command{
		runCommand(), waitCommand(), validateCommand(), doctorCommand(), stopCommand(),
		scheduleCommand(), cleanupCommand(), completionCommand(), versionCommand(),
	}
}

// envDoc says what an environment variable kf-run reads is for.
func envDoc(name string) string {
	switch name {
	case "KF_RUN_HOST":
		return "KFP API URL (kubeflow.host)"
	case "KF_RUN_UI_URL":
		return "KFP UI address for run links, when the host is the API server (kubeflow.ui_url)"
	case "KF_RUN_NAMESPACE":
		return "Kubeflow profile namespace on multi-user Kubeflow (kubeflow.namespace)"
	case "KF_RUN_TOKEN":
		return "bearer token (kubeflow.auth.token)"
	case "KF_RUN_TOKEN_FILE":
		return "file holding the bearer token, re-read when it changes (kubeflow.auth.token_file)"
	case "KF_RUN_USERNAME":
		return "Dex username for Kubeflow's login form (kubeflow.auth.username)"
	case "KF_RUN_PASSWORD":
		return "Dex password (kubeflow.auth.password)"
	case "KF_RUN_LOGIN_URL":
		return "login page, when it is not the host's (kubeflow.auth.login_url)"
	case "KF_RUN_OIDC_AUDIENCE":
		return "sign in with the CI job's OIDC token for this audience (kubeflow.auth.oidc_audience)"
	case "KF_RUN_KUBE_CONTEXT":
		return "reach KFP through this kubeconfig context (kubeflow.kubernetes.context)"
	case "KF_RUN_KUBECONFIG":
		return "kubeconfig file (then KUBECONFIG)"
	case "KF_RUN_KUBE_SERVICE":
		return "KFP's API service, with KF_RUN_KUBE_NAMESPACE and KF_RUN_KUBE_PORT (default kubeflow/ml-pipeline:8888)"
	case "KF_RUN_CA_FILE":
		return "CA bundle for KFP's TLS certificate (kubeflow.tls.ca_file)"
	case "KF_RUN_CLIENT_CERT":
		return "client certificate, with KF_RUN_CLIENT_KEY (kubeflow.tls)"
	case "KF_RUN_INSECURE_SKIP_VERIFY":
		return "skip TLS verification (kubeflow.tls.insecure_skip_verify)"
	case "KO_DOCKER_REPO":
		return "registry repository for ko:// images (images.repo)"
	case "KF_RUN_REGISTRY_USERNAME":
		return "registry login, with KF_RUN_REGISTRY_PASSWORD (else the docker config)"
	case "KF_RUN_COMMENT_KEY":
		return "tells the PR comments of a matrix job's legs apart (--comment-key)"
	case "KF_RUN_STATE_FILE":
		return "where kf-run run records its runs for kf-run stop (default .kf-run/runs.jsonl)"
	case "KF_RUN_DOTENV":
		return "write KF_RUN_ID, KF_RUN_URL, KF_RUN_STATE to this GitLab dotenv report"
	case "KF_RUN_ANNOTATIONS":
		return "write links to the runs to this GitLab annotations report"
	case "GITHUB_TOKEN":
		return "token for the pull request comment on GitHub (pull-requests: write)"
	case "KF_RUN_GITLAB_TOKEN":
		return "token for the merge request note on GitLab (Reporter or higher)"
	}
	return ""
}

// connectEnv are the variables that say where KFP is and how to sign in.
func connectEnv() []string {
	return []string{"KF_RUN_HOST", "KF_RUN_UI_URL", "KF_RUN_NAMESPACE", "KF_RUN_TOKEN", "KF_RUN_TOKEN_FILE",
		"KF_RUN_USERNAME", "KF_RUN_PASSWORD", "KF_RUN_LOGIN_URL", "KF_RUN_OIDC_AUDIENCE", "KF_RUN_KUBE_CONTEXT",
		"KF_RUN_KUBECONFIG", "KF_RUN_KUBE_SERVICE", "KF_RUN_CA_FILE", "KF_RUN_CLIENT_CERT", "KF_RUN_INSECURE_SKIP_VERIFY"}
}

// reportEnv are the variables that shape the reports on CI.
func reportEnv() []string {
	return []string{"GITHUB_TOKEN", "KF_RUN_GITLAB_TOKEN", "KF_RUN_COMMENT_KEY", "KF_RUN_DOTENV", "KF_RUN_ANNOTATIONS"}
}

// help renders the whole --help text of c with the flags of fs.
func (c command) help(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n\n%s\n", strings.ReplaceAll(c.usage, "\n", "\n       "), c.about)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			b.WriteString("\nFlags:\n")
			first = false
		}
		kind, usage := flag.UnquoteUsage(f)
		if kind != "" {
			kind = " " + kind
		}
		fmt.Fprintf(&b, "  --%s%s\n      %s\n", f.Name, kind, usage)
	})
	if len(c.env) > 0 {
		b.WriteString("\nEnvironment (flags win over these, which win over kf-run.yaml):\n")
		w := 0
		for _, k := range c.env {
			w = max(w, len(k))
		}
		for _, k := range c.env {
			fmt.Fprintf(&b, "  %-*s  %s\n", w, k, envDoc(k))
		}
	}
	if c.exits != "" {
		fmt.Fprintf(&b, "\n%s\n", c.exits)
	}
	return b.String()
}

// parse reads the flags of c from args, before or after its arguments
// ("kf-run wait RUN_ID --timeout 5m"), and returns the arguments. maxArgs
// < 0 allows any number. --help prints the help on stdout (exit 0); a
// wrong flag prints one line saying what is wrong and where the help is
// (exit 2), not the whole usage.
func (c command) parse(fs *flag.FlagSet, args []string, e env, maxArgs int) (pos []string, code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(e.stdout, c.help(fs))
				return nil, exitOK, false
			}
			fmt.Fprintf(e.stderr, "kf-run %s: %s\nRun 'kf-run %s --help' for its flags.\n", c.name, flagError(err), c.name)
			return nil, exitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if maxArgs >= 0 && len(pos) > maxArgs {
		fmt.Fprintf(e.stderr, "kf-run %s: unexpected argument %q\nRun 'kf-run %s --help' for its usage.\n", c.name, pos[maxArgs], c.name)
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// flagError words the flag package's errors the way kf-run writes flags:
// with two dashes.
func flagError(err error) string {
	s := err.Error()
	s = strings.Replace(s, "for flag -", "for --", 1)
	s = strings.Replace(s, "flag provided but not defined: -", "unknown flag --", 1)
	s = strings.Replace(s, "flag needs an argument: -", "flag needs a value: --", 1)
	return s
}

// duration is a flag.Value for a time.Duration whose error says what a
// duration looks like: "10" alone is not one.
type duration struct{ d *time.Duration }

func (d duration) String() string {
	if d.d == nil || *d.d == 0 {
		return ""
	}
	return d.d.String()
}

func (d duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration with a unit, e.g. 90s, 30m, 2h")
	}
	if v < 0 {
		return fmt.Errorf("want a positive duration, e.g. 30m")
	}
	*d.d = v
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

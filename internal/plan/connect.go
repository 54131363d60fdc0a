package plan

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/config"
	"github.com/kf-run/kf-run/internal/kfp"
)

// EnvVars are the environment variables kf-run reads for the connection,
// documented in the README ("Connecting to Kubeflow").
var EnvVars = []string{
	"KF_RUN_HOST", "KF_RUN_NAMESPACE", "KF_RUN_UI_URL",
	"KF_RUN_TOKEN", "KF_RUN_TOKEN_FILE", "KF_RUN_USERNAME", "KF_RUN_PASSWORD", "KF_RUN_LOGIN_URL",
	"KF_RUN_OIDC_AUDIENCE", "KF_RUN_KUBE_CONTEXT", "KF_RUN_KUBECONFIG", "KF_RUN_KUBE_SERVICE",
	"KF_RUN_KUBE_NAMESPACE", "KF_RUN_KUBE_PORT", "KF_RUN_CA_FILE", "KF_RUN_CLIENT_CERT",
	"KF_RUN_CLIENT_KEY", "KF_RUN_INSECURE_SKIP_VERIFY",
}

// Connection resolves where KFP is and how to authenticate, from flags >
// KF_RUN_* env > the config file. Offline (validate) needs no host.
func Connection(cfg *config.Config, f Flags, getenv func(string) string, offline bool) (kfp.Target, auth.Settings, error) {
	k := cfg.Kubeflow
	host, creds, err := credentials(f, getenv, cfg)
	if err != nil {
		return kfp.Target{}, creds, err
	}
	t := kfp.Target{
		Host:      host,
		Namespace: cmp.Or(f.Namespace, getenv("KF_RUN_NAMESPACE"), k.Namespace.Value),
		UIURL:     cmp.Or(getenv("KF_RUN_UI_URL"), k.UIURL.Value),
	}
	if t.Host == "" && !offline && !creds.InCluster && !creds.Kube.Set() {
		if cfg.Path == "(flags)" {
			return t, creds, fmt.Errorf("no KFP host: give --host URL, e.g. https://kubeflow.example.com/pipeline (or set KF_RUN_HOST), or --kube-context CTX to go through a kubeconfig context")
		}
		return t, creds, fmt.Errorf("no KFP host: set kubeflow.host in %s, KF_RUN_HOST or --host (or kubeflow.kubernetes.context, KF_RUN_KUBE_CONTEXT or --kube-context)", cfg.Path)
	}
	// Credentials in the URL would be printed with it and never sent.
	for _, u := range []string{t.Host, t.UIURL} {
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			return kfp.Target{}, creds, fmt.Errorf("the KFP URL %s carries credentials, which kf-run does not use: drop them, and set kubeflow.auth (a token, or username/password from ${ENV})", pu.Redacted())
		}
	}
	return t, creds, nil
}

// credentials picks how to reach and authenticate to KFP. The connection
// (a host, or a kubeconfig context) and the credential mode (token, token
// file, username/password, GitHub OIDC) each come from the highest level
// that sets one: flags, then KF_RUN_* env, then the config file. Two modes
// on one level are an error; so is a credential beside a kubeconfig context
// (the context brings its own). With nothing configured inside a pod
// (KUBERNETES_SERVICE_HOST), the pod's service-account token is used.
func credentials(f Flags, getenv func(string) string, cfg *config.Config) (host string, s auth.Settings, err error) {
	k := cfg.Kubeflow
	a := k.Auth
	file := func(key string) string { return cfg.Path + " kubeflow." + key }

	type mode struct {
		name, from string
		set        func(*auth.Settings)
	}
	var env, fromFile []mode
	if v := getenv("KF_RUN_TOKEN"); v != "" {
		env = append(env, mode{"token", "env KF_RUN_TOKEN", func(s *auth.Settings) { s.Token = v }})
	}
	if v := getenv("KF_RUN_TOKEN_FILE"); v != "" {
		env = append(env, mode{"token file", "env KF_RUN_TOKEN_FILE", func(s *auth.Settings) { s.TokenFile = homePath(v) }})
	}
	if u, p := getenv("KF_RUN_USERNAME"), getenv("KF_RUN_PASSWORD"); u != "" || p != "" {
		if u == "" || p == "" {
			return "", s, fmt.Errorf("KF_RUN_USERNAME and KF_RUN_PASSWORD go together: set both")
		}
		env = append(env, mode{"username/password", "env KF_RUN_USERNAME/KF_RUN_PASSWORD", func(s *auth.Settings) { s.Username, s.Password = u, p }})
	}
	if v := getenv("KF_RUN_OIDC_AUDIENCE"); v != "" {
		env = append(env, mode{"GitHub OIDC", "env KF_RUN_OIDC_AUDIENCE", func(s *auth.Settings) { s.OIDCAudience = v }})
	}
	if a.Token.Value != "" {
		fromFile = append(fromFile, mode{"token", file("auth.token"), func(s *auth.Settings) { s.Token = a.Token.Value }})
	}
	if a.TokenFile.Value != "" {
		fromFile = append(fromFile, mode{"token file", file("auth.token_file"), func(s *auth.Settings) { s.TokenFile = cfgPath(cfg, a.TokenFile.Value) }})
	}
	if a.Username.Value != "" {
		fromFile = append(fromFile, mode{"username/password", file("auth.username"), func(s *auth.Settings) { s.Username, s.Password = a.Username.Value, a.Password.Value }})
	}
	if a.GitHubOIDC.Audience.Value != "" {
		fromFile = append(fromFile, mode{"GitHub OIDC", file("auth.github_oidc"), func(s *auth.Settings) { s.OIDCAudience = a.GitHubOIDC.Audience.Value }})
	}

	// The connection: host or kubeconfig context, highest level wins.
	kubeEnv := getenv("KF_RUN_KUBE_CONTEXT") != "" || getenv("KF_RUN_KUBECONFIG") != ""
	kubeFile := k.Kubernetes.Context.Value != "" || k.Kubernetes.Kubeconfig.Value != ""
	useKube := false
	switch {
	case f.KubeContext != "" && f.Host != "":
		return "", s, fmt.Errorf("--host and --kube-context exclude each other")
	case f.KubeContext != "":
		useKube = true
	case f.Host != "":
		host = f.Host
	case getenv("KF_RUN_HOST") != "" && kubeEnv:
		return "", s, fmt.Errorf("KF_RUN_HOST and KF_RUN_KUBE_CONTEXT/KF_RUN_KUBECONFIG exclude each other: the context reaches KFP through the Kubernetes API server")
	case getenv("KF_RUN_HOST") != "":
		host = getenv("KF_RUN_HOST")
	case kubeEnv:
		useKube = true
	case k.Host.Value != "":
		host = k.Host.Value // config.check refuses host beside kubernetes
	case kubeFile:
		useKube = true
	}
	if useKube {
		s.Kube = auth.Kube{
			Context:    cmp.Or(f.KubeContext, getenv("KF_RUN_KUBE_CONTEXT"), k.Kubernetes.Context.Value),
			Kubeconfig: cmp.Or(homePath(getenv("KF_RUN_KUBECONFIG")), cfgPath(cfg, k.Kubernetes.Kubeconfig.Value)),
			Service:    cmp.Or(getenv("KF_RUN_KUBE_SERVICE"), k.Kubernetes.Service.Value),
			Namespace:  cmp.Or(getenv("KF_RUN_KUBE_NAMESPACE"), k.Kubernetes.Namespace.Value),
			Port:       k.Kubernetes.Port,
		}
		if v := getenv("KF_RUN_KUBE_PORT"); v != "" {
			if s.Kube.Port, err = strconv.Atoi(v); err != nil || s.Kube.Port <= 0 || s.Kube.Port > 65535 {
				return "", s, fmt.Errorf("KF_RUN_KUBE_PORT=%q is not a port", v)
			}
		}
		s.From = "kubeconfig"
	}

	// The credential mode: the highest level that sets one.
	for _, level := range [][]mode{env, fromFile} {
		if len(level) == 0 {
			continue
		}
		if len(level) > 1 {
			var names []string
			for _, m := range level {
				names = append(names, m.from)
			}
			return "", s, fmt.Errorf("%s exclude each other: keep one way to authenticate", strings.Join(names, " and "))
		}
		if useKube {
			return "", s, fmt.Errorf("%s is set, but KFP is reached through a kubeconfig context, which brings its own credentials: drop one", level[0].from)
		}
		level[0].set(&s)
		s.From = level[0].from
		break
	}
	s.LoginURL = cmp.Or(getenv("KF_RUN_LOGIN_URL"), a.LoginURL.Value)
	s.Headers, s.Cookies = texts(a.Headers), texts(a.Cookies)
	if s.OIDCAudience != "" {
		s.OIDCRequestURL, s.OIDCRequestToken = getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	}
	s.TLS = auth.TLS{
		CAFile:   cmp.Or(homePath(getenv("KF_RUN_CA_FILE")), cfgPath(cfg, k.TLS.CAFile.Value)),
		CertFile: cmp.Or(homePath(getenv("KF_RUN_CLIENT_CERT")), cfgPath(cfg, k.TLS.CertFile.Value)),
		KeyFile:  cmp.Or(homePath(getenv("KF_RUN_CLIENT_KEY")), cfgPath(cfg, k.TLS.KeyFile.Value)),
	}
	s.TLS.InsecureSkipVerify = k.TLS.InsecureSkipVerify
	if v := getenv("KF_RUN_INSECURE_SKIP_VERIFY"); v != "" {
		if s.TLS.InsecureSkipVerify, err = strconv.ParseBool(v); err != nil {
			return "", s, fmt.Errorf("KF_RUN_INSECURE_SKIP_VERIFY=%q: want true or false", v)
		}
	}
	// The pod's own token goes only to KFP inside the cluster (or wherever
	// KF_PIPELINES_SA_TOKEN_PATH says it is meant for), never to a host
	// outside it by accident.
	if s.Mode() == auth.ModeNone && len(s.Headers)+len(s.Cookies) == 0 && getenv("KUBERNETES_SERVICE_HOST") != "" &&
		(host == "" || clusterLocal(host) || getenv("KF_PIPELINES_SA_TOKEN_PATH") != "") {
		s.InCluster = true
		s.From = "in cluster"
	}
	return host, s, nil
}

// clusterLocal reports whether host names a Kubernetes service: a bare
// name, or one under .svc or .cluster.local. An IP address never does: a
// private address may as well be a VPN or office host, and a pod cannot
// learn its cluster's service CIDR; such a host gets the pod's token only
// through KF_PIPELINES_SA_TOKEN_PATH or token_file, said on purpose.
func clusterLocal(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if net.ParseIP(h) != nil {
		return false
	}
	return h != "" && (!strings.Contains(h, ".") || strings.HasSuffix(h, ".svc") || strings.HasSuffix(h, ".cluster.local"))
}

// homePath expands a leading ~/ to the user's home directory.
func homePath(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, rest)
		}
	}
	return p
}

// cfgPath resolves a file named in kf-run.yaml as spec is resolved: a
// relative path is relative to the config file's directory; ~/ is home.
func cfgPath(cfg *config.Config, p string) string {
	p = homePath(p)
	if p == "" || filepath.IsAbs(p) || cfg == nil || cfg.Path == "" || strings.HasPrefix(cfg.Path, "(") {
		return p
	}
	return filepath.Join(filepath.Dir(cfg.Path), p)
}

// CleanHost trims what a KFP address copied from the browser carries and
// the API does not serve: the UI's page (#/pipelines), its query (?ns=…)
// and the central dashboard's frame (/_/pipeline). It returns a note when
// it changed the host, for the command to say once; the links kf-run
// prints would be broken otherwise.
func CleanHost(t *kfp.Target) *Note {
	u, err := url.Parse(t.Host)
	if err != nil || u.Host == "" || (u.Fragment == "" && u.RawQuery == "" && !strings.Contains(u.Path, "/_/") && !strings.HasSuffix(t.Host, "#")) {
		return nil
	}
	was := u.Redacted()
	u.Fragment, u.RawFragment, u.RawQuery, u.ForceQuery = "", "", "", false
	u.Path = strings.TrimRight(strings.Replace(u.Path, "/_/", "/", 1), "/")
	u.RawPath = ""
	t.Host = u.String()
	return &Note{Key: "kubeflow.host", Msg: fmt.Sprintf("%s is an address of the KFP UI in a browser: kf-run uses %s (set that to silence this)", was, t.Host)}
}

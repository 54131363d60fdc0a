// Package auth turns the configured Kubeflow credentials into an
// http.RoundTripper that authenticates every attempt: a bearer token, a token
// file re-read when it rotates, a Dex login session renewed when it expires,
// a GitHub Actions OIDC token re-minted before it expires, extra headers and
// cookies, or a kubeconfig context reached through the Kubernetes API
// server's service proxy with client-go's own transport. It also applies the
// TLS settings and the proxy environment.
//
// It does not choose what to call: the KFP client (internal/kfp) sends its
// requests through the transport, and its retries go through it again, so a
// refreshed credential is used on the next attempt.
package auth

import (
	"net"

	"k8s.io/client-go/rest"

	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kf-run/kf-run/internal/console"
)

// Mode is how kf-run reaches and authenticates to KFP.
type Mode string

const (
	ModeNone       Mode = "none"        // no credentials (standalone KFP), maybe headers/cookies
	ModeToken      Mode = "token"       // a bearer token
	ModeTokenFile  Mode = "token-file"  // a bearer token read from a file, re-read when it changes
	ModeInCluster  Mode = "in-cluster"  // the pod's service-account (or projected) token file
	ModeLogin      Mode = "login"       // username/password through Dex, a session cookie
	ModeGitHubOIDC Mode = "github-oidc" // an ID token minted by GitHub Actions
	ModeKube       Mode = "kubeconfig"  // the Kubernetes API server's service proxy
)

// Settings are the credential settings as configured. Every credential
// value is a secret.
type Settings struct {
	Token     string
	TokenFile string
	Username  string
	Password  string
	// LoginURL is where the Dex login starts (default: the KFP host).
	LoginURL string
	// OIDCAudience asks for a GitHub Actions ID token with this audience.
	OIDCAudience string
	// OIDCRequestURL and OIDCRequestToken are ACTIONS_ID_TOKEN_REQUEST_URL
	// and ACTIONS_ID_TOKEN_REQUEST_TOKEN, set by the runner with
	// "permissions: id-token: write".
	OIDCRequestURL, OIDCRequestToken string
	// InCluster uses the pod's token when nothing else is configured.
	InCluster bool
	Kube      Kube
	Headers   map[string]string
	Cookies   map[string]string
	TLS       TLS
	// From says where the credential was configured, for messages:
	// "env KF_RUN_TOKEN", "kf-run.yaml kubeflow.auth.token".
	From string
}

// Kube selects the ml-pipeline service through a kubeconfig context.
type Kube struct {
	Kubeconfig string // default: KUBECONFIG, then ~/.kube/config (client-go's rules)
	Context    string
	Service    string // default ml-pipeline
	Namespace  string // default kubeflow
	Port       int    // default 8888
}

// Set reports whether a kubeconfig context is configured.
func (k Kube) Set() bool { return k.Context != "" || k.Kubeconfig != "" }

// TLS configures the connection to KFP (or to the Kubernetes API server in
// kubeconfig mode, which has its own TLS settings in the kubeconfig).
type TLS struct {
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
}

// Mode is the credential mode these settings select.
func (s Settings) Mode() Mode {
	switch {
	case s.Kube.Set():
		return ModeKube
	case s.Token != "":
		return ModeToken
	case s.TokenFile != "":
		return ModeTokenFile
	case s.Username != "" || s.Password != "":
		return ModeLogin
	case s.OIDCAudience != "":
		return ModeGitHubOIDC
	case s.InCluster:
		return ModeInCluster
	}
	return ModeNone
}

// Secrets lists the configured credential values, for masking: the
// token, password and OIDC request token, and the headers and cookies whose
// names are secret words (console.SecretName). Any other header (X-Team:
// ml) is no secret unless its value came from the environment, which the
// config records on its own.
func (s Settings) Secrets() []string {
	var out []string
	for _, v := range []string{s.Token, s.Password, s.OIDCRequestToken} {
		if v != "" {
			out = append(out, v)
		}
	}
	for _, m := range []map[string]string{s.Headers, s.Cookies} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if v := m[k]; v != "" && console.SecretName(k) {
				out = append(out, v)
			}
		}
	}
	return out
}

// Options are the run-time hooks of Connect.
type Options struct {
	// Base is the transport under the credentials. Default: a clone of
	// http.DefaultTransport (HTTPS_PROXY, NO_PROXY) with the TLS settings.
	Base http.RoundTripper
	// OnSecret is called with every credential obtained at run time (a
	// token read from a file, a minted ID token, a session cookie) before
	// it is sent, so it can be masked.
	OnSecret func(string)
	// Warn receives warnings (insecure TLS).
	Warn func(string)
	// Now is the clock for token expiry. Default time.Now.
	Now func() time.Time
	// ReadFile and Getenv are the outside world (tests). Defaults os.ReadFile
	// and os.Getenv.
	ReadFile func(string) ([]byte, error)
	Getenv   func(string) string
}

// Conn is a resolved connection: where KFP is and how each attempt is
// authenticated.
type Conn struct {
	// Host is the KFP API base URL (in kubeconfig mode, the service proxy's).
	Host      string
	Transport http.RoundTripper
	Mode      Mode
	// Describe says which credential is used and where it came from,
	// without any secret: "bearer token from env KF_RUN_TOKEN".
	Describe string
	// Identity is the user name when kf-run knows it (a login, a kube user).
	Identity string
	// SessionCookies names the cookies of the last login (login mode).
	SessionCookies func() []string
	// Kube reaches the cluster's Kubernetes API, when kf-run can (a
	// kubeconfig context, or in cluster): pod logs are read with it when
	// KFP's log routes fail. Nil otherwise.
	Kube *rest.Config
}

// Where the in-cluster tokens are: a projected token for KFP (Kubeflow's
// convention, audience pipelines.kubeflow.org), else the service account's.
const (
	ProjectedTokenPath      = "/var/run/secrets/kubeflow/pipelines/token"
	ServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	// InClusterHost is KFP's API service as seen from a pod.
	InClusterHost = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
)

// Connect resolves s for the KFP host. It reads local files (CA bundle,
// client certificate, kubeconfig, in-cluster token) but contacts nothing:
// a login or an ID token is fetched on the first request.
func Connect(host string, s Settings, o Options) (*Conn, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.OnSecret == nil {
		o.OnSecret = func(string) {}
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	mode := s.Mode()
	if mode == ModeKube {
		if s.TLS != (TLS{}) {
			return nil, errors.New("kubeflow.tls does not apply to a kubeconfig context: its cluster entry has the TLS settings")
		}
		c, err := connectKube(host, s, o)
		if err != nil {
			return nil, err
		}
		if len(s.Headers)+len(s.Cookies) > 0 {
			c.Transport = &extra{next: c.Transport, headers: s.Headers, cookies: s.Cookies}
			c.Describe += ", plus the configured headers/cookies"
		}
		return c, nil
	}
	base := o.Base
	if base == nil {
		tr, err := baseTransport(s.TLS, o)
		if err != nil {
			return nil, err
		}
		base = tr
	}
	from := ""
	if s.From != "" {
		from = " from " + s.From
	}
	c := &Conn{Host: host, Mode: mode}
	var rt http.RoundTripper
	switch mode {
	case ModeToken:
		rt = &bearer{next: base, token: func(context.Context, bool) (string, error) { return s.Token, nil }}
		c.Describe = "bearer token" + from
	case ModeTokenFile, ModeInCluster:
		path := s.TokenFile
		if mode == ModeInCluster {
			path = inClusterToken(o)
			if path == "" {
				if p := o.Getenv("KF_PIPELINES_SA_TOKEN_PATH"); p != "" {
					return nil, errors.New("KF_PIPELINES_SA_TOKEN_PATH=" + p + " cannot be read: fix the path, or unset it to use the pod's service-account token inside the cluster")
				}
				return nil, errors.New("in cluster (KUBERNETES_SERVICE_HOST is set) but no service-account token at " + ServiceAccountTokenPath + ": set kubeflow.auth.token_file, KF_RUN_TOKEN_FILE or KF_RUN_TOKEN")
			}
			if host == "" {
				c.Host = InClusterHost
			}
		}
		f := &tokenFile{path: path, read: o.ReadFile, onSecret: o.OnSecret}
		rt = &bearer{next: base, token: f.get}
		c.Describe = "bearer token read from " + path + from
		if mode == ModeInCluster {
			c.Kube = inClusterKube(o)
			c.Describe = "the pod's service-account token " + path + " (in cluster, nothing else configured)"
		}
	case ModeLogin:
		if s.Username == "" || s.Password == "" {
			return nil, errors.New("username/password login needs both: set kubeflow.auth.username and password (or KF_RUN_USERNAME and KF_RUN_PASSWORD)")
		}
		l, err := newLogin(host, s, base, o)
		if err != nil {
			return nil, err
		}
		rt = l
		c.SessionCookies = l.SessionCookies
		c.Describe = fmt.Sprintf("Dex login as %s%s (session cookie)", s.Username, from)
		c.Identity = s.Username
	case ModeGitHubOIDC:
		if s.OIDCRequestURL == "" || s.OIDCRequestToken == "" {
			return nil, errors.New("GitHub OIDC: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: give the job `permissions: id-token: write` (not available to pull requests from forks)")
		}
		// The ID-token endpoint gets a transport of its own: the KFP
		// connection's TLS settings (a private CA, a client certificate,
		// insecure_skip_verify) are not for the Actions runtime.
		m := newOIDCMinter(s.OIDCRequestURL, s.OIDCRequestToken, s.OIDCAudience, o.Now, o.OnSecret)
		rt = &bearer{next: base, token: m.get}
		c.Describe = fmt.Sprintf("GitHub Actions OIDC ID token, audience %q%s", s.OIDCAudience, from)
	default:
		rt = base
		c.Describe = "no credentials"
		if len(s.Headers)+len(s.Cookies) > 0 {
			c.Describe = "only the configured headers/cookies"
		}
	}
	if len(s.Headers)+len(s.Cookies) > 0 {
		rt = &extra{next: rt, headers: s.Headers, cookies: s.Cookies}
		if mode != ModeNone {
			c.Describe += ", plus the configured headers/cookies"
		}
	}
	if c.Host == "" {
		return nil, errors.New("no KFP host: set kubeflow.host, KF_RUN_HOST or --host (or kubeflow.kubernetes.context to go through the Kubernetes API server)")
	}
	c.Transport = rt
	return c, nil
}

// inClusterKube is the pod's own way to its cluster's API server (as
// client-go's rest.InClusterConfig, through o): the service-account token
// and CA, nil when the pod has none.
func inClusterKube(o Options) *rest.Config {
	host, port := o.Getenv("KUBERNETES_SERVICE_HOST"), o.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil
	}
	if _, err := o.ReadFile(ServiceAccountTokenPath); err != nil {
		return nil
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		BearerTokenFile: ServiceAccountTokenPath,
		TLSClientConfig: rest.TLSClientConfig{CAFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"},
	}
}

// inClusterToken is the pod's token for KFP. KF_PIPELINES_SA_TOKEN_PATH,
// when set, is the only choice: it is what lets the token go to a host
// outside the cluster, so falling back to the pod's Kubernetes API token
// would send that one there.
func inClusterToken(o Options) string {
	paths := []string{ProjectedTokenPath, ServiceAccountTokenPath}
	if p := o.Getenv("KF_PIPELINES_SA_TOKEN_PATH"); p != "" {
		paths = []string{p}
	}
	for _, p := range paths {
		if _, err := o.ReadFile(p); err == nil {
			return p
		}
	}
	return ""
}

// permanent marks an error that a retry cannot fix (a refused login, an
// ID-token request the runner refused); kfp does not retry it.
type permanent struct{ error }

func (p permanent) Permanent() bool { return true }
func (p permanent) Unwrap() error   { return p.error }

// extra adds the configured headers and cookies to every attempt.
type extra struct {
	next    http.RoundTripper
	headers map[string]string
	cookies map[string]string
}

func (e *extra) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range e.headers {
		r.Header.Set(k, v)
	}
	for k, v := range e.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	return e.next.RoundTrip(r)
}

// bearer sets Authorization from token on every attempt. When the server
// answers 401, it asks for a fresh token once and replays the request.
type bearer struct {
	next http.RoundTripper
	// token gets the bearer token; ctx is the request's, so a slow source
	// never outlives the request.
	token func(ctx context.Context, refresh bool) (string, error)
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := b.token(r.Context(), false)
	if err != nil {
		return nil, err
	}
	res, err := b.send(r, tok, false)
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		return res, err
	}
	fresh, err := b.token(r.Context(), true)
	if err != nil || fresh == tok || !replayable(r) {
		return res, nil
	}
	drain(res)
	return b.send(r, fresh, true)
}

func (b *bearer) send(r *http.Request, tok string, again bool) (*http.Response, error) {
	r2, err := rewind(r, again)
	if err != nil {
		return nil, err
	}
	r2.Header.Set("Authorization", "Bearer "+tok)
	return b.next.RoundTrip(r2)
}

// replayable reports whether r's body can be sent again.
func replayable(r *http.Request) bool {
	return r.Body == nil || r.Body == http.NoBody || r.GetBody != nil
}

// rewind clones r; again gives the clone a fresh body, for a replay.
func rewind(r *http.Request, again bool) (*http.Request, error) {
	r2 := r.Clone(r.Context())
	if again && r.GetBody != nil && r.Body != nil && r.Body != http.NoBody {
		b, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		r2.Body = b
	}
	return r2, nil
}

func drain(res *http.Response) {
	if res != nil && res.Body != nil {
		_ = res.Body.Close()
	}
}

// tokenFile is a token on disk (a projected service-account token rotates
// about hourly): it is re-read on every attempt, and on a 401.
type tokenFile struct {
	path     string
	read     func(string) ([]byte, error)
	onSecret func(string)
}

func (f *tokenFile) get(context.Context, bool) (string, error) {
	b, err := f.read(f.path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", f.path)
	}
	f.onSecret(tok)
	return tok, nil
}

package auth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/auth/authtest"
	"github.com/kf-run/kf-run/internal/kfp"
)

// upstream is a KFP stand-in that records what each request carried.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
	// status, when set, answers instead of 200 (by call number, from 0).
	status func(n int, h http.Header) int
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		n := len(u.seen)
		h := r.Header.Clone()
		h.Set("X-Body", string(body))
		h.Set("X-Path", r.URL.Path)
		u.seen = append(u.seen, h)
		st := u.status
		u.mu.Unlock()
		code := http.StatusOK
		if st != nil {
			code = st(n, r.Header)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) headers() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen...)
}

func do(t *testing.T, c *auth.Conn, method, path, body string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.Host+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		b := []byte(body)
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	req.Header.Set("Accept", "application/json")
	res, err := (&http.Client{Transport: c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

type secrets struct {
	mu sync.Mutex
	v  []string
}

func (s *secrets) add(v string) { s.mu.Lock(); s.v = append(s.v, v); s.mu.Unlock() }
func (s *secrets) has(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.v {
		if x == v {
			return true
		}
	}
	return false
}

func TestModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    auth.Settings
		mode auth.Mode
	}{
		{auth.Settings{}, auth.ModeNone},
		{auth.Settings{Headers: map[string]string{"a": "b"}}, auth.ModeNone},
		{auth.Settings{Token: "t"}, auth.ModeToken},
		{auth.Settings{TokenFile: "f"}, auth.ModeTokenFile},
		{auth.Settings{Username: "u", Password: "p"}, auth.ModeLogin},
		{auth.Settings{OIDCAudience: "a"}, auth.ModeGitHubOIDC},
		{auth.Settings{Kube: auth.Kube{Context: "c"}}, auth.ModeKube},
		{auth.Settings{InCluster: true}, auth.ModeInCluster},
	}
	for _, tt := range tests {
		if got := tt.s.Mode(); got != tt.mode {
			t.Errorf("%+v: mode %s, want %s", tt.s, got, tt.mode)
		}
	}
}

func TestTokenHeadersCookies(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	c, err := auth.Connect(up.URL, auth.Settings{Token: "tok-1", Headers: map[string]string{"X-Team": "ml"}, Cookies: map[string]string{"iap": "c-1"}, From: "env KF_RUN_TOKEN"}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != auth.ModeToken || !strings.Contains(c.Describe, "env KF_RUN_TOKEN") || strings.Contains(c.Describe, "tok-1") {
		t.Errorf("mode %s, describe %q", c.Mode, c.Describe)
	}
	do(t, c, "GET", "/apis/v2beta1/healthz", "")
	h := up.headers()[0]
	if h.Get("Authorization") != "Bearer tok-1" || h.Get("X-Team") != "ml" || !strings.Contains(h.Get("Cookie"), "iap=c-1") {
		t.Errorf("headers: %v", h)
	}
}

// A projected token rotates on disk: every attempt reads the current one,
// and a 401 makes kf-run read it again and replay, body included.
func TestTokenFileRotates(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	path := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	var got secrets
	c, err := auth.Connect(up.URL, auth.Settings{TokenFile: path}, auth.Options{OnSecret: got.add})
	if err != nil {
		t.Fatal(err)
	}
	do(t, c, "GET", "/a", "")
	write("second")
	do(t, c, "GET", "/b", "")
	up.mu.Lock()
	up.status = func(n int, h http.Header) int {
		if h.Get("Authorization") == "Bearer second" {
			write("third") // the kubelet rotated it meanwhile
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}
	up.mu.Unlock()
	if res := do(t, c, "POST", "/c", `{"x":1}`); res.StatusCode != 200 {
		t.Fatalf("after rotation: HTTP %d", res.StatusCode)
	}
	var auths []string
	for _, h := range up.headers() {
		auths = append(auths, h.Get("Authorization")+" "+h.Get("X-Body"))
	}
	want := []string{"Bearer first ", "Bearer second ", `Bearer second {"x":1}`, `Bearer third {"x":1}`}
	if strings.Join(auths, "|") != strings.Join(want, "|") {
		t.Errorf("sent %q, want %q", auths, want)
	}
	if !got.has("first") || !got.has("third") {
		t.Errorf("tokens read from the file were not reported for masking: %v", got.v)
	}
}

func TestInCluster(t *testing.T) {
	t.Parallel()
	files := map[string]string{auth.ServiceAccountTokenPath: "sa-token"}
	read := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, os.ErrNotExist
	}
	c, err := auth.Connect("", auth.Settings{InCluster: true}, auth.Options{ReadFile: read, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != auth.InClusterHost || !strings.Contains(c.Describe, auth.ServiceAccountTokenPath) {
		t.Errorf("host %s, describe %q", c.Host, c.Describe)
	}
	if c.Kube != nil {
		t.Errorf("Kubernetes API without KUBERNETES_SERVICE_HOST: %+v", c.Kube)
	}
	// The pod's way to its API server, for reading pod logs.
	kenv := func(k string) string {
		return map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}[k]
	}
	c, err = auth.Connect("", auth.Settings{InCluster: true}, auth.Options{ReadFile: read, Getenv: kenv})
	if err != nil || c.Kube == nil || c.Kube.Host != "https://10.0.0.1:443" || c.Kube.BearerTokenFile != auth.ServiceAccountTokenPath {
		t.Errorf("in-cluster Kubernetes API = %+v, %v", c.Kube, err)
	}
	files[auth.ProjectedTokenPath] = "projected"
	c, _ = auth.Connect("http://kfp:8888", auth.Settings{InCluster: true}, auth.Options{ReadFile: read, Getenv: func(string) string { return "" }})
	if c.Host != "http://kfp:8888" || !strings.Contains(c.Describe, auth.ProjectedTokenPath) {
		t.Errorf("projected token not preferred: host %s, describe %q", c.Host, c.Describe)
	}
	_, err = auth.Connect("", auth.Settings{InCluster: true}, auth.Options{ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist }})
	if err == nil || !strings.Contains(err.Error(), "KF_RUN_TOKEN") {
		t.Errorf("no token in cluster: %v", err)
	}
	// KF_PIPELINES_SA_TOKEN_PATH lets the token go outside the cluster:
	// when it cannot be read, the pod's Kubernetes API token must not go
	// there in its place.
	env := func(k string) string { return map[string]string{"KF_PIPELINES_SA_TOKEN_PATH": "/missing"}[k] }
	_, err = auth.Connect("https://kfp.example.com", auth.Settings{InCluster: true}, auth.Options{ReadFile: read, Getenv: env})
	if err == nil || !strings.Contains(err.Error(), "KF_PIPELINES_SA_TOKEN_PATH=/missing cannot be read") {
		t.Errorf("unreadable KF_PIPELINES_SA_TOKEN_PATH: %v, want an error, no fallback", err)
	}
}

// Both Kubeflow login fronts: the first request signs in through Dex's
// form and approval; when the session ends mid-way, kf-run signs in again
// and the request goes through once.
func TestLogin(t *testing.T) {
	t.Parallel()
	for _, gen := range []authtest.Generation{authtest.AuthService, authtest.OAuth2Proxy} {
		t.Run(string(gen), func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t)
			f := authtest.NewFront(authtest.FrontOptions{Generation: gen, Upstream: up.URL, Users: map[string]string{"alice@example.com": "pw-alice"}, SessionRequests: 2})
			defer f.Close()
			var got secrets
			c, err := auth.Connect(f.URL+"/pipeline", auth.Settings{Username: "alice@example.com", Password: "pw-alice"}, auth.Options{OnSecret: got.add})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if res := do(t, c, "POST", "/pipeline/apis/v2beta1/runs", `{"n":1}`); res.StatusCode != 200 {
					t.Fatalf("request %d: HTTP %d", i, res.StatusCode)
				}
			}
			posts := 0
			for _, h := range up.headers() { // also the page the login lands on
				if h.Get("kubeflow-userid") != "alice@example.com" {
					t.Errorf("upstream got %v", h)
				}
				if h.Get("X-Body") == `{"n":1}` {
					posts++
				}
			}
			if posts != 5 {
				t.Errorf("upstream got %d POSTs with their body, want 5", posts)
			}
			if f.Logins() < 3 {
				t.Errorf("%d logins, want at least 3 (sessions last 2 requests)", f.Logins())
			}
			for _, s := range f.Sessions() {
				if !got.has(s) {
					t.Errorf("session cookie not reported for masking")
				}
			}
		})
	}
}

func TestLoginWrongPassword(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	f := authtest.NewFront(authtest.FrontOptions{Generation: authtest.OAuth2Proxy, Upstream: up.URL, Users: map[string]string{"alice@example.com": "pw-alice"}})
	defer f.Close()
	c, err := auth.Connect(f.URL+"/pipeline", auth.Settings{Username: "alice@example.com", Password: "nope"}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", c.Host+"/apis/v2beta1/healthz", nil)
	_, err = c.Transport.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "wrong username or password") || strings.Contains(err.Error(), "nope") {
		t.Errorf("err = %v", err)
	}
	// No Dex form on the way: say so.
	c, _ = auth.Connect(up.URL, auth.Settings{Username: "a", Password: "b"}, auth.Options{})
	req, _ = http.NewRequest("GET", c.Host+"/x", nil)
	if _, err = c.Transport.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "no Dex login form") {
		t.Errorf("err = %v", err)
	}
}

// GitHub OIDC: the ID token is minted with the audience, reported for
// masking, reused while fresh and minted again near its expiry.
func TestGitHubOIDC(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := authtest.NewGitHubOIDC("repo:acme/ml:ref:refs/heads/main", 10*time.Minute)
	defer g.Close()
	now := time.Now()
	var got secrets
	c, err := auth.Connect(up.URL, auth.Settings{OIDCAudience: "pipelines.kubeflow.org", OIDCRequestURL: g.RequestURL, OIDCRequestToken: g.RequestToken}, auth.Options{OnSecret: got.add, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	do(t, c, "GET", "/a", "")
	do(t, c, "GET", "/b", "")
	if n := len(g.Minted()); n != 1 {
		t.Errorf("minted %d tokens for two requests, want 1", n)
	}
	now = now.Add(9*time.Minute + 30*time.Second) // within a minute of exp
	do(t, c, "GET", "/c", "")
	m := g.Minted()
	if len(m) != 2 {
		t.Fatalf("minted %d, want 2", len(m))
	}
	hs := up.headers()
	for i, want := range []string{m[0], m[0], m[1]} {
		if hs[i].Get("Authorization") != "Bearer "+want {
			t.Errorf("request %d sent the wrong token", i)
		}
		if sub, ok := g.Verify(want, "pipelines.kubeflow.org"); !ok || sub != "repo:acme/ml:ref:refs/heads/main" {
			t.Errorf("token %d does not verify for the audience", i)
		}
	}
	if !got.has(m[0]) || !got.has(m[1]) {
		t.Error("minted tokens not reported for masking")
	}
	_, err = auth.Connect(up.URL, auth.Settings{OIDCAudience: "a"}, auth.Options{})
	if err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("without the runtime vars: %v", err)
	}
	bad, _ := auth.Connect(up.URL, auth.Settings{OIDCAudience: "a", OIDCRequestURL: g.RequestURL, OIDCRequestToken: "wrong"}, auth.Options{})
	req, _ := http.NewRequest("GET", up.URL, nil)
	if _, err := bad.Transport.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad request token: %v", err)
	}
}

// A kubeconfig context reaches the service through the API server's
// service proxy, with client-go's transport: a token, or a client cert.
func TestKubeconfig(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	k := authtest.NewKubeAPI(up.URL, "kubeflow/ml-pipeline:8888")
	defer k.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path, user string
	}{
		{"token", k.KubeconfigToken(dir), "system:serviceaccount:ci:kf-run"},
		{"cert", k.KubeconfigCert(dir, "ci-bot"), "ci-bot"},
		{"exec plugin", k.KubeconfigExec(dir), "system:serviceaccount:ci:kf-run"},
	} {
		var got secrets
		c, err := auth.Connect("", auth.Settings{Kube: auth.Kube{Kubeconfig: tc.path, Context: "kf"}, Headers: map[string]string{"kubeflow-userid": "alice@example.com"}}, auth.Options{OnSecret: got.add})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := k.URL + "/api/v1/namespaces/kubeflow/services/ml-pipeline:8888/proxy"; c.Host != want {
			t.Errorf("%s: host %s, want %s", tc.name, c.Host, want)
		}
		if res := do(t, c, "GET", "/apis/v2beta1/healthz", ""); res.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d", tc.name, res.StatusCode)
		}
		users := k.Users()
		if users[len(users)-1] != tc.user {
			t.Errorf("%s: API server saw %q", tc.name, users[len(users)-1])
		}
		hs := up.headers()
		last := hs[len(hs)-1]
		if last.Get("X-Path") != "/apis/v2beta1/healthz" || last.Get("Authorization") != "" || last.Get("kubeflow-userid") != "alice@example.com" {
			t.Errorf("%s: upstream got %v", tc.name, last)
		}
		if tc.name == "token" && !got.has(k.Token) {
			t.Error("the kubeconfig token was not reported for masking")
		}
	}
	if _, err := auth.Connect("", auth.Settings{Kube: auth.Kube{Kubeconfig: k.KubeconfigToken(dir), Context: "nope"}}, auth.Options{}); err == nil || !strings.Contains(err.Error(), `no context "nope"`) {
		t.Errorf("unknown context: %v", err)
	}
	if _, err := auth.Connect("", auth.Settings{Kube: auth.Kube{Context: "kf"}, TLS: auth.TLS{CAFile: "/ca"}}, auth.Options{}); err == nil {
		t.Error("kubeflow.tls with a context: no error")
	}
	if _, err := auth.Connect("http://x", auth.Settings{Kube: auth.Kube{Context: "kf"}}, auth.Options{}); err == nil {
		t.Error("host and context together: no error")
	}
}

// TLS: a custom CA bundle and a client certificate; insecure only when
// asked, and with a warning.
func TestTLS(t *testing.T) {
	t.Parallel()
	k := authtest.NewKubeAPI("http://127.0.0.1:1", "kubeflow/ml-pipeline:8888") // just a TLS server
	defer k.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	os.WriteFile(caFile, k.CA.PEM, 0o600)
	crt, key := k.CA.Issue("tls-user", false)
	os.WriteFile(filepath.Join(dir, "c.crt"), crt, 0o600)
	os.WriteFile(filepath.Join(dir, "c.key"), key, 0o600)

	get := func(s auth.Settings, o auth.Options) (int, error) {
		c, err := auth.Connect(k.URL, s, o)
		if err != nil {
			return 0, err
		}
		req, _ := http.NewRequest("GET", k.URL+"/api/v1/namespaces/kubeflow/services/ml-pipeline:8888/proxy/x", nil)
		res, err := c.Transport.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if _, err := get(auth.Settings{}, auth.Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA accepted: %v", err)
	}
	if code, err := get(auth.Settings{TLS: auth.TLS{CAFile: caFile}}, auth.Options{}); err != nil || code != 401 {
		t.Errorf("CA bundle: %d %v", code, err)
	}
	// With the client cert the API server knows the user (then fails upstream: 502).
	if code, err := get(auth.Settings{TLS: auth.TLS{CAFile: caFile, CertFile: filepath.Join(dir, "c.crt"), KeyFile: filepath.Join(dir, "c.key")}}, auth.Options{}); err != nil || code != 502 {
		t.Errorf("client cert: %d %v", code, err)
	}
	var warned []string
	if code, err := get(auth.Settings{TLS: auth.TLS{InsecureSkipVerify: true}}, auth.Options{Warn: func(s string) { warned = append(warned, s) }}); err != nil || code != 401 {
		t.Errorf("insecure: %d %v", code, err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "insecure_skip_verify") {
		t.Errorf("no loud warning: %q", warned)
	}
	if _, err := get(auth.Settings{TLS: auth.TLS{CertFile: "x"}}, auth.Options{}); err == nil {
		t.Error("cert without key accepted")
	}
}

func TestHint(t *testing.T) {
	t.Parallel()
	c := &auth.Conn{Host: "https://kf.example.com", Mode: auth.ModeToken, Describe: "bearer token from env KF_RUN_TOKEN"}
	tests := []struct {
		e         kfp.APIError
		namespace string
		want      string
	}{
		{kfp.APIError{HTTPStatus: 400, GRPCCode: 3, Message: "An experiment cannot have an empty namespace in multi-user mode"}, "", "set kubeflow.namespace"},
		{kfp.APIError{HTTPStatus: 400, GRPCCode: 3, Message: "bad filter"}, "", ""},
		{kfp.APIError{HTTPStatus: 401, GRPCCode: 16, Message: "User identity is empty"}, "ns", "bearer token from env KF_RUN_TOKEN, and the server saw no user"},
		{kfp.APIError{HTTPStatus: 403, GRPCCode: 7, Message: "User 'bob@x.io' is not authorized"}, "team-b", `user "bob@x.io" (as the server saw it) may not act in team-b`},
		{kfp.APIError{HTTPStatus: 302, Location: "/dex/auth"}, "", "kf-run sent bearer token"},
		{kfp.APIError{HTTPStatus: 404, Message: "404 page not found"}, "team-b", "does not end in /pipeline"},
		{kfp.APIError{HTTPStatus: 404, GRPCCode: 5, Message: "run not found"}, "", ""},
	}
	for _, tt := range tests {
		got := c.Hint(tt.namespace)(&tt.e)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%+v: hint %q, want %q", tt.e, got, tt.want)
		}
	}
}

// A GitHub OIDC mint that hangs never holds a request past its context:
// neither the request that mints nor one waiting for the mint's lock, so
// stopping runs after SIGINT is not held up by the ID-token endpoint.
func TestGitHubOIDCMintFollowsContext(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	hit, release := make(chan struct{}, 4), make(chan struct{})
	defer close(release)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	c, err := auth.Connect(up.URL, auth.Settings{OIDCAudience: "a", OIDCRequestURL: slow.URL + "/token?x=1", OIDCRequestToken: "req-token"}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	call := func(ctx context.Context) <-chan error {
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", up.URL+"/x", nil)
			_, err := c.Transport.RoundTrip(req)
			done <- err
		}()
		return done
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	a := call(ctxA)
	<-hit // A holds the mint, the endpoint hangs
	ctxB, cancelB := context.WithCancel(context.Background())
	b := call(ctxB)
	cancelB()
	if err := <-b; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting request: %v, want context.Canceled", err)
	}
	cancelA()
	if err := <-a; !errors.Is(err, context.Canceled) {
		t.Errorf("minting request: %v, want context.Canceled", err)
	}
}

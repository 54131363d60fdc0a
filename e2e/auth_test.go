package e2e

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kf-run/kf-run/internal/auth/authtest"
)

// The multi-user sandbox every auth test but kubeconfig's uses: KFP behind
// /pipeline, two bearer tokens, alice and the GitHub workflow may act in
// team-a, mallory nowhere.
const (
	alice    = "alice@example.com"
	ghSub    = "repo:acme/ml:ref:refs/heads/main"
	aliceTok = "alice-token-8f2e1c"
	malTok   = "mallory-token-77aa01"
)

func startMultiUser(t *testing.T) *sandbox {
	t.Helper()
	s, err := start(context.Background(), "--step-duration", "40ms", "--multi-user", "--prefix", "/pipeline",
		"--token", aliceTok+"="+alice, "--token", malTok+"=mallory@example.com",
		"--allow", alice+"=team-a", "--allow", ghSub+"=team-a", "--allow", "e2e@example.com=*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// noLeak fails if any secret appears in the output (other than in the
// ::add-mask:: command that hides it) or in the files (summary, outputs).
func noLeak(t *testing.T, r result, files []string, secrets ...string) {
	t.Helper()
	var text []string
	for _, l := range strings.Split(r.stdout+"\n"+r.stderr, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			text = append(text, l)
		}
	}
	all := strings.Join(text, "\n")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			all += "\n" + string(b)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("a secret (%d chars, starts %q) leaked:\n%s", len(s), s[:min(4, len(s))], r)
		}
	}
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Against the multi-user sandbox directly: identities by header, bearer
// token and token file; a forbidden user, a missing namespace and no
// identity fail with the fix named; doctor says the same without
// submitting.
func TestAuthSandboxDirect(t *testing.T) {
	t.Parallel()
	s := startMultiUser(t)
	spec := example(t, "train/pipeline.yaml")
	tokFile := writeFile(t, filepath.Join(t.TempDir(), "token"), aliceTok+"\n")
	headerCfg := func(dir string) string {
		return writeFile(t, filepath.Join(dir, "kf-run.yaml"), `kubeflow:
  host: `+s.URL+`
  namespace: team-a
  auth:
    headers:
      kubeflow-userid: ${KF_USERID}
pipelines:
  - name: train
    spec: `+spec+`
    parameters: {dataset: gs://e2e/x.csv}
`)
	}
	tests := []struct {
		name   string
		env    []string
		args   []string
		config bool
		code   int
		doctor int
		want   []string
	}{
		{name: "header", env: []string{"KF_USERID=" + alice}, config: true, code: 0, doctor: 0, want: []string{"only the configured headers/cookies"}},
		{name: "bearer", env: []string{"KF_RUN_TOKEN=" + aliceTok}, args: []string{"--namespace", "team-a"}, code: 0, doctor: 0, want: []string{"bearer token from env KF_RUN_TOKEN"}},
		{name: "token file", env: []string{"KF_RUN_TOKEN_FILE=" + tokFile}, args: []string{"--namespace", "team-a"}, code: 0, doctor: 0, want: []string{"read from " + tokFile}},
		{name: "in cluster", env: []string{"KUBERNETES_SERVICE_HOST=10.0.0.1", "KF_PIPELINES_SA_TOKEN_PATH=" + tokFile}, args: []string{"--namespace", "team-a"}, code: 0, doctor: 0, want: []string{"in-cluster"}},
		{name: "forbidden", env: []string{"KF_RUN_TOKEN=" + malTok}, args: []string{"--namespace", "team-a"}, code: 1, doctor: 1, want: []string{`user "mallory@example.com"`, "contributor", "bearer token from env KF_RUN_TOKEN"}},
		{name: "no namespace", env: []string{"KF_RUN_TOKEN=" + aliceTok}, code: 2, doctor: 1, want: []string{"set kubeflow.namespace, KF_RUN_NAMESPACE or --namespace"}},
		{name: "no identity", args: []string{"--namespace", "team-a"}, code: 1, doctor: 1, want: []string{"server saw no user", "Set a credential"}},
		{name: "two modes", env: []string{"KF_RUN_TOKEN=" + aliceTok, "KF_RUN_TOKEN_FILE=" + tokFile}, args: []string{"--namespace", "team-a"}, code: 2, doctor: 2, want: []string{"exclude each other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			name := uniq(t, "auth")
			args := []string{"run", "--run-name", name, "--experiment", "auth"}
			dargs := []string{"doctor"}
			if tt.config {
				headerCfg(dir)
			} else {
				args = append(args, "--spec", spec, "--host", s.URL, "--param", "dataset=x")
				dargs = append(dargs, "--host", s.URL)
			}
			r := kfRun(context.Background(), t, dir, tt.env, append(args, tt.args...)...)
			d := kfRun(context.Background(), t, dir, tt.env, append(dargs, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("run: exit %d, want %d:\n%s", r.code, tt.code, r)
			}
			if d.code != tt.doctor {
				t.Errorf("doctor: exit %d, want %d:\n%s", d.code, tt.doctor, d)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout+r.stderr, w) && tt.code != 0 {
					t.Errorf("run output lacks %q:\n%s", w, r)
				}
				if !strings.Contains(d.stdout+d.stderr, w) {
					t.Errorf("doctor output lacks %q:\n%s", w, d)
				}
			}
			if tt.code == 0 {
				if runs := s.runsNamed(t, name, "&namespace=team-a"); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
					t.Errorf("runs: %+v", runs)
				}
				if !strings.Contains(d.stdout, "All checks passed") {
					t.Errorf("doctor:\n%s", d)
				}
			}
			noLeak(t, r, nil, aliceTok, malTok)
			noLeak(t, d, nil, aliceTok, malTok)
		})
	}
}

// Username/password through a Dex login front of either generation, in
// front of the multi-user sandbox. Sessions last three requests, so the
// cookie expires in the middle of the wait and kf-run signs in again.
func TestAuthDexLogin(t *testing.T) {
	t.Parallel()
	s := startMultiUser(t)
	spec := example(t, "train/pipeline.yaml")
	for _, gen := range []authtest.Generation{authtest.AuthService, authtest.OAuth2Proxy} {
		t.Run(string(gen), func(t *testing.T) {
			t.Parallel()
			const pass = "dex-pass-5b7d9e"
			f := authtest.NewFront(authtest.FrontOptions{Generation: gen, Upstream: s.Root, Users: map[string]string{alice: pass}, SessionRequests: 3})
			defer f.Close()
			dir := t.TempDir()
			summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
			name := uniq(t, "dex")
			env := append(githubEnv(summary, output), "KF_RUN_HOST="+f.URL+"/pipeline", "KF_RUN_NAMESPACE=team-a", "KF_RUN_USERNAME="+alice, "KF_RUN_PASSWORD="+pass)
			r := kfRun(context.Background(), t, dir, env, "run", "--spec", spec, "--param", "dataset=x", "--run-name", name, "--experiment", "dex")
			if r.code != 0 {
				t.Fatalf("want exit 0:\n%s", r)
			}
			if runs := s.runsNamed(t, name, "&namespace=team-a"); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
				t.Errorf("runs: %+v", runs)
			}
			if f.Logins() < 2 {
				t.Errorf("%d logins: the session did not expire and get renewed mid-wait", f.Logins())
			}
			if !strings.HasPrefix(r.stderr, "::add-mask::"+pass+"\n") {
				t.Errorf("the password is not masked first:\n%s", r)
			}
			d := kfRun(context.Background(), t, dir, env, "doctor")
			cookie := map[authtest.Generation]string{authtest.AuthService: "authservice_session (oidc-authservice", authtest.OAuth2Proxy: "oauth2_proxy_kubeflow (oauth2-proxy"}[gen]
			if d.code != 0 || !strings.Contains(d.stdout, "as "+alice) || !strings.Contains(d.stdout, cookie) {
				t.Errorf("doctor: want exit 0 and the user:\n%s", d)
			}
			noLeak(t, r, []string{summary, output}, append(f.Sessions(), pass)...)
			noLeak(t, d, nil, append(f.Sessions(), pass)...)

			bad := kfRun(context.Background(), t, dir, append(env, "KF_RUN_PASSWORD=wrong-pass-1"), "doctor")
			if bad.code != 1 || !strings.Contains(bad.stdout, "wrong username or password") {
				t.Errorf("wrong password: want exit 1 and why:\n%s", bad)
			}
			noLeak(t, bad, nil, "wrong-pass-1")
		})
	}
}

func githubEnv(summary, output string) []string {
	return []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef",
		"GITHUB_REF=refs/heads/main", "GITHUB_RUN_ID=42", "GITHUB_SERVER_URL=https://github.example.com",
		"GITHUB_EVENT_NAME=push", "GITHUB_STEP_SUMMARY=" + summary, "GITHUB_OUTPUT=" + output,
	}
}

// Keyless from GitHub Actions: kf-run mints an ID token with the audience
// from the runtime's endpoint, the edge verifies it and passes its subject
// as the user; tokens that live under a minute are minted per request.
func TestAuthGitHubOIDC(t *testing.T) {
	t.Parallel()
	s := startMultiUser(t)
	const aud = "pipelines.kubeflow.org"
	g := authtest.NewGitHubOIDC(ghSub, 50*time.Second)
	defer g.Close()
	f := authtest.NewFront(authtest.FrontOptions{Generation: authtest.OAuth2Proxy, Upstream: s.Root,
		Bearer: func(tok string) (string, bool) { return g.Verify(tok, aud) }})
	defer f.Close()
	dir := t.TempDir()
	summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
	name := uniq(t, "oidc")
	env := append(githubEnv(summary, output), "KF_RUN_HOST="+f.URL+"/pipeline", "KF_RUN_NAMESPACE=team-a", "KF_RUN_OIDC_AUDIENCE="+aud,
		"ACTIONS_ID_TOKEN_REQUEST_URL="+g.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN="+g.RequestToken)
	r := kfRun(context.Background(), t, dir, env, "run", "--spec", example(t, "train/pipeline.yaml"), "--param", "dataset=x", "--run-name", name, "--experiment", "oidc")
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	if runs := s.runsNamed(t, name, "&namespace=team-a"); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
		t.Errorf("runs: %+v", runs)
	}
	minted := g.Minted()
	if len(minted) < 2 {
		t.Errorf("minted %d ID tokens: short-lived tokens were not re-minted", len(minted))
	}
	for _, m := range minted {
		if !strings.Contains(r.stderr, "::add-mask::"+m+"\n") {
			t.Errorf("a minted token was not masked:\n%s", r)
			break
		}
	}
	noLeak(t, r, []string{summary, output}, append(minted, g.RequestToken)...)

	// Without id-token: write, the runtime variables are missing.
	var noPerm []string
	for _, e := range env {
		if !strings.HasPrefix(e, "ACTIONS_ID_TOKEN_REQUEST") {
			noPerm = append(noPerm, e)
		}
	}
	d := kfRun(context.Background(), t, dir, noPerm, "doctor")
	if d.code != 2 || !strings.Contains(d.stdout+d.stderr, "id-token: write") {
		t.Errorf("doctor without the runtime variables: want exit 2 and the permission:\n%s", d)
	}
}

// A kubeconfig context reaches ml-pipeline through the Kubernetes API
// server's service proxy (a loopback HTTPS server in front of the
// standalone sandbox), with a token, a client certificate and an exec
// credential plugin.
func TestAuthKubeconfig(t *testing.T) {
	t.Parallel()
	k := authtest.NewKubeAPI(shared.URL, "kubeflow/ml-pipeline:8888")
	defer k.Close()
	spec := example(t, "train/pipeline.yaml")
	dir := t.TempDir()
	tests := []struct {
		name, user string
		env        []string
		args       []string
	}{
		{"token", "system:serviceaccount:ci:kf-run", []string{"KF_RUN_KUBECONFIG=" + k.KubeconfigToken(dir), "KF_RUN_KUBE_CONTEXT=kf"}, nil},
		{"client cert", "ci-bot", []string{"KUBECONFIG=" + k.KubeconfigCert(dir, "ci-bot")}, []string{"--kube-context", "kf"}},
		{"exec plugin", "system:serviceaccount:ci:kf-run", []string{"KF_RUN_KUBECONFIG=" + k.KubeconfigExec(dir), "KF_RUN_KUBE_CONTEXT=kf"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := uniq(t, "kube")
			r := kfRun(context.Background(), t, t.TempDir(), tt.env, append([]string{"run", "--spec", spec, "--param", "dataset=x", "--run-name", name, "--experiment", "kube"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("want exit 0:\n%s", r)
			}
			if runs := shared.runsNamed(t, name, ""); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
				t.Errorf("runs: %+v", runs)
			}
			if !strings.Contains(r.stderr, "/api/v1/namespaces/kubeflow/services/ml-pipeline:8888/proxy") {
				t.Errorf("the service proxy is not the host:\n%s", r)
			}
			// The proxy reaches the API server, which serves no UI: no dead
			// run link (nor the API server's proxy URL in a report), and
			// one word on ui_url instead.
			if strings.Contains(r.stderr, "/proxy/#/runs/details/") || strings.Count(r.stderr, "Set kubeflow.ui_url") != 1 {
				t.Errorf("want no run link and one ui_url advice:\n%s", r)
			}
			users := k.Users()
			if len(users) == 0 || users[len(users)-1] != tt.user {
				t.Errorf("API server saw %v, want %s", users, tt.user)
			}
			d := kfRun(context.Background(), t, t.TempDir(), tt.env, append([]string{"doctor"}, tt.args...)...)
			if d.code != 0 || !strings.Contains(d.stdout, "kubeconfig context \"kf\"") {
				t.Errorf("doctor:\n%s", d)
			}
			key, _ := os.ReadFile(filepath.Join(dir, "client.key"))
			noLeak(t, r, nil, k.Token, strings.TrimSpace(string(key)))
			noLeak(t, d, nil, k.Token)
		})
	}
	// An unknown context: a settings error.
	d := kfRun(context.Background(), t, t.TempDir(), []string{"KF_RUN_KUBECONFIG=" + k.KubeconfigToken(dir), "KF_RUN_KUBE_CONTEXT=nope"}, "doctor")
	if d.code != 2 || !strings.Contains(d.stdout+d.stderr, `no context "nope"`) {
		t.Errorf("unknown context: want exit 2:\n%s", d)
	}
}

// A pull request whose pipeline fails and whose step log prints the
// credentials: the comment, the summary, the outputs and the log show
// neither the bearer token nor the Dex password nor the session cookie.
func TestAuthSecretsStayOutOfReports(t *testing.T) {
	t.Parallel()
	s := startMultiUser(t)
	const pass = "report-pass-0c1d2e"
	f := authtest.NewFront(authtest.FrontOptions{Generation: authtest.AuthService, Upstream: s.Root, Users: map[string]string{alice: pass}})
	defer f.Close()
	gh := &fakeGitHub{t: t}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	event := writeFile(t, filepath.Join(dir, "event.json"), `{"number":7,"pull_request":{"number":7,"head":{"sha":"feedfacefeedfacefeedfacefeedfacefeedface","ref":"feature","repo":{"full_name":"acme/ml"}}}}`)
	summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "out")
	name := uniq(t, "leak")
	// The step's log and the failure message echo the password.
	s.call(t, "POST", "/_sandbox/scripts", map[string]any{"run_name": name, "tasks": map[string]any{
		"ingest": map[string]any{"outcome": "fail", "message": "login with " + pass + " failed", "log": []string{"password=" + pass, "token " + aliceTok}},
	}}, nil)
	env := []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/ml", "GITHUB_SHA=0000000000000000000000000000000000000000",
		"GITHUB_REF=refs/pull/7/merge", "GITHUB_HEAD_REF=feature", "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" + event,
		"GITHUB_RUN_ID=99", "GITHUB_JOB=train", "GITHUB_WORKFLOW=ci", "GITHUB_API_URL=" + srv.URL, "GITHUB_TOKEN=ghs_e2etoken",
		"GITHUB_STEP_SUMMARY=" + summary, "GITHUB_OUTPUT=" + output,
		"KF_RUN_HOST=" + f.URL + "/pipeline", "KF_RUN_NAMESPACE=team-a", "KF_RUN_USERNAME=" + alice, "KF_RUN_PASSWORD=" + pass,
		// Not sent (a login is configured), but a secret all the same.
		"KF_FAKE_TOKEN=" + aliceTok,
	}
	cfg := writeFile(t, filepath.Join(dir, "kf-run.yaml"), `kubeflow:
  auth:
    headers: {X-Unused-Token: "${KF_FAKE_TOKEN}"}
pipelines:
  - name: train
    spec: `+example(t, "train/pipeline.yaml")+`
    run_name: `+name+`
    parameters: {dataset: x}
`)
	r := kfRun(context.Background(), t, dir, env, "run", "--config", cfg)
	if r.code != 3 {
		t.Fatalf("want exit 3 (the run failed):\n%s", r)
	}
	gh.mu.Lock()
	var bodies []string
	for _, c := range gh.comments {
		bodies = append(bodies, c["body"].(string))
	}
	gh.mu.Unlock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], "FAILED") {
		t.Fatalf("want one comment about the failed run: %q", bodies)
	}
	comment := writeFile(t, filepath.Join(dir, "comment.md"), strings.Join(bodies, "\n"))
	noLeak(t, r, []string{summary, output, comment}, append(f.Sessions(), pass, aliceTok, "ghs_e2etoken")...)
}

// KFP over HTTPS with a private CA: refused without the bundle, accepted
// with KF_RUN_CA_FILE, and with insecure_skip_verify only after a warning.
func TestAuthTLS(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA()
	crt, key := ca.Issue("kfp", true)
	cert, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	up, _ := url.Parse(shared.URL)
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(up))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := writeFile(t, filepath.Join(dir, "ca.pem"), string(ca.PEM))
	spec := example(t, "train/pipeline.yaml")
	tests := []struct {
		name string
		env  []string
		code int
		want string
	}{
		{"unknown CA", nil, 1, "signed by an unknown authority"},
		{"CA bundle", []string{"KF_RUN_CA_FILE=" + caFile}, 0, "SUCCEEDED"},
		{"insecure", []string{"KF_RUN_INSECURE_SKIP_VERIFY=true"}, 0, "TLS verification is OFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := kfRun(context.Background(), t, t.TempDir(), tt.env, "run", "--spec", spec, "--host", srv.URL, "--param", "dataset=x", "--run-name", uniq(t, "tls"), "--experiment", "tls")
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("want exit %d and %q:\n%s", tt.code, tt.want, r)
			}
		})
	}
}

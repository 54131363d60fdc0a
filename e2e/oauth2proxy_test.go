package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kf-run/kf-run/internal/auth/authtest"
)

// The oauth2-proxy Kubeflow 1.9 puts in front of KFP, the real one,
// installed once by the test itself into a cache directory of its own
// (never the user's GOBIN, where it would shadow or replace their tools).
const oauth2ProxyModule = "github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6"

var (
	oauth2ProxyOnce sync.Once
	oauth2ProxyPath string
	oauth2ProxyErr  error
)

func oauth2Proxy(t *testing.T) string {
	t.Helper()
	oauth2ProxyOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		gobin := filepath.Join(cache, "kf-run-e2e", "oauth2-proxy-v7.15.6")
		p := filepath.Join(gobin, "oauth2-proxy")
		// go install leaves --version "undefined"; the build info has the module version.
		if v, err := exec.Command("go", "version", "-m", p).Output(); err == nil && strings.Contains(string(v), "v7.15.6") {
			oauth2ProxyPath = p
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: go install %s (about a minute, once; cached in %s)\n", oauth2ProxyModule, gobin)
		cmd := exec.Command("go", "install", oauth2ProxyModule)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "CGO_ENABLED=0")
		cmd.Dir = os.TempDir() // outside this module: its own go.mod decides the versions
		if b, err := cmd.CombinedOutput(); err != nil {
			oauth2ProxyErr = fmt.Errorf("go install %s: %v\n%s", oauth2ProxyModule, err, b)
			return
		}
		oauth2ProxyPath = p
	})
	if oauth2ProxyErr != nil {
		t.Fatal(oauth2ProxyErr)
	}
	return oauth2ProxyPath
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startOAuth2Proxy runs oauth2-proxy as Kubeflow 1.9 configures it:
// provider Dex (the front's issuer), cookie oauth2_proxy_kubeflow, JWT
// bearer tokens from extra issuers skip the login, the user goes upstream
// in X-Forwarded-Email.
func startOAuth2Proxy(t *testing.T, upstream, issuer string, cookieExpire time.Duration, extraJWT string) string {
	t.Helper()
	bin := oauth2Proxy(t)
	addr := freePort(t)
	base := "http://" + addr
	args := []string{
		"--http-address=" + addr, "--upstream=" + upstream + "/",
		"--provider=oidc", "--oidc-issuer-url=" + issuer, "--client-id=kubeflow-oidc-authservice",
		"--client-secret=pUBnBOY80SnXgjibTYM9ZWNzY2xreNGQok", "--redirect-url=" + base + "/oauth2/callback",
		"--cookie-secret=0123456789abcdef0123456789abcdef", "--cookie-secure=false", "--cookie-name=oauth2_proxy_kubeflow",
		"--cookie-expire=" + cookieExpire.String(), "--email-domain=*", "--skip-provider-button=true",
		"--scope=openid profile email groups", "--skip-jwt-bearer-tokens=true",
	}
	if extraJWT != "" {
		args = append(args, "--extra-jwt-issuers="+extraJWT)
	}
	cmd := exec.Command(bin, args...)
	var logs lockedWriter
	var buf strings.Builder
	logs.w = &buf
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("oauth2-proxy log:\n%s", buf.String())
			logs.mu.Unlock()
		}
	})
	for {
		res, err := http.Get(base + "/ping")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
		if cmd.ProcessState != nil {
			t.Fatalf("oauth2-proxy exited")
		}
		select {
		case <-t.Context().Done():
			t.Fatal("oauth2-proxy never answered /ping")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runsAs lists the runs named name in namespace, with identity header h.
func runsAs(t *testing.T, s *sandbox, header, user, name, namespace string) []apiRun {
	t.Helper()
	f, _ := json.Marshal(map[string]any{"predicates": []any{map[string]any{"key": "display_name", "operation": "EQUALS", "string_value": name}}})
	req, _ := http.NewRequest("GET", s.URL+"/apis/v2beta1/runs?namespace="+namespace+"&filter="+url.QueryEscape(url.QueryEscape(string(f))), nil)
	req.Header.Set(header, user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Runs []apiRun `json:"runs"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("list runs: HTTP %d, %v", res.StatusCode, err)
	}
	return out.Runs
}

// The real oauth2-proxy in front of the multi-user sandbox, both paths of
// Kubeflow 1.9: (a) keyless, a GitHub Actions ID token verified against
// its issuer's JWKS (--skip-jwt-bearer-tokens --extra-jwt-issuers); (b) the
// browser flow through Dex's login form, with cookies that expire during
// the wait, so kf-run signs in again.
func TestAuthRealOAuth2Proxy(t *testing.T) {
	t.Parallel()
	oauth2Proxy(t)
	const aud = "pipelines.kubeflow.org"
	const pass = "o2p-pass-31c9d4"
	s, err := start(context.Background(), "--step-duration", "500ms", "--multi-user", "--prefix", "/pipeline", "--userid-header", "X-Forwarded-Email",
		"--allow", alice+"=team-a", "--allow", ghSub+"=team-a", "--allow", "e2e@example.com=*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	dex := authtest.NewFront(authtest.FrontOptions{Generation: authtest.OAuth2Proxy, Users: map[string]string{alice: pass}})
	t.Cleanup(dex.Close)
	g := authtest.NewGitHubOIDC(ghSub, 50*time.Second)
	t.Cleanup(g.Close)
	proxy := startOAuth2Proxy(t, s.Root, dex.Issuer(), time.Second, g.Issuer+"="+aud)
	spec := example(t, "train/pipeline.yaml")

	t.Run("github oidc", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
		name := uniq(t, "o2p-oidc")
		env := append(githubEnv(summary, output), "KF_RUN_HOST="+proxy+"/pipeline", "KF_RUN_NAMESPACE=team-a", "KF_RUN_OIDC_AUDIENCE="+aud,
			"ACTIONS_ID_TOKEN_REQUEST_URL="+g.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN="+g.RequestToken)
		r := kfRun(context.Background(), t, dir, env, "run", "--spec", spec, "--param", "dataset=x", "--run-name", name, "--experiment", "o2p")
		if r.code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		if runs := runsAs(t, s, "X-Forwarded-Email", "e2e@example.com", name, "team-a"); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
			t.Errorf("runs: %+v", runs)
		}
		noLeak(t, r, []string{summary, output}, append(g.Minted(), g.RequestToken)...)
		// A token for another audience is refused by oauth2-proxy itself.
		d := kfRun(context.Background(), t, dir, append(env, "KF_RUN_OIDC_AUDIENCE=someone-else"), "doctor")
		if d.code != 1 {
			t.Errorf("doctor with the wrong audience: want exit 1:\n%s", d)
		}
	})
	t.Run("dex login", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
		name := uniq(t, "o2p-dex")
		env := append(githubEnv(summary, output), "KF_RUN_HOST="+proxy+"/pipeline", "KF_RUN_NAMESPACE=team-a", "KF_RUN_USERNAME="+alice, "KF_RUN_PASSWORD="+pass)
		r := kfRun(context.Background(), t, dir, env, "run", "--spec", spec, "--param", "dataset=x", "--run-name", name, "--experiment", "o2p")
		if r.code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		if runs := runsAs(t, s, "X-Forwarded-Email", "e2e@example.com", name, "team-a"); len(runs) != 1 || runs[0].State != "SUCCEEDED" {
			t.Errorf("runs: %+v", runs)
		}
		// The run takes 2 s of sandbox steps after the first login; the
		// cookie lasts 1 s, so the last polls needed a second login.
		if dex.Logins() < 2 {
			t.Errorf("%d logins through oauth2-proxy, want at least 2 (cookie expiry mid-wait)", dex.Logins())
		}
		noLeak(t, r, []string{summary, output}, append(dex.Sessions(), pass)...)
		if strings.Contains(r.stdout+r.stderr, "oauth2_proxy_kubeflow=") {
			t.Errorf("a session cookie leaked:\n%s", r)
		}
	})
}

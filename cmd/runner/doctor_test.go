package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

func TestDoctor(t *testing.T) {
	t.Parallel()
	kfp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/healthz"):
			_, _ = w.Write([]byte(`{"commit_sha":"1f2e3d4c5b6a7988", "tag_name":"2.17.0", "multi_user":true}`))
		case r.Header.Get("Authorization") != "Bearer good-token-1":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":16,"message":"User identity is empty in the request header"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(kfp.Close)
	open := httptest.NewServer(registry.New())
	t.Cleanup(open.Close)
	reg := registry.New()
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "registry-pass-1" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(locked.Close)
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	good := func(more ...string) map[string]string {
		m := map[string]string{"KF_RUN_TOKEN": "good-token-1"}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"help", nil, []string{"--help"}, 0, "Exit codes:\n  0  every check passed"},
		{"no host", nil, nil, 2, "no KFP host"},
		{"two modes", map[string]string{"KF_RUN_TOKEN": "a", "KF_RUN_TOKEN_FILE": "/t"}, []string{"--host", kfp.URL}, 2, "exclude each other"},
		{"bad config", nil, []string{"--config", "/nonexistent/kf-run.yaml"}, 2, "read config"},
		{"no namespace", map[string]string{"KF_RUN_TOKEN": "good-token-1"}, []string{"--host", kfp.URL}, 1, "FAIL  namespace"},
		{"no identity", nil, []string{"--host", kfp.URL, "--namespace", "ns"}, 1, "Set a credential"},
		{"all good", map[string]string{"KF_RUN_TOKEN": "good-token-1"}, []string{"--host", kfp.URL, "--namespace", "ns"}, 0, "All checks passed"},
		{"version", map[string]string{"KF_RUN_TOKEN": "good-token-1"}, []string{"--host", kfp.URL, "--namespace", "ns"}, 0, "ok    reach      KFP answers (multi-user: true)\n      version    KFP 2.17.0 (commit 1f2e3d4c5b6a)\n"},
		{"unreachable", nil, []string{"--host", "http://127.0.0.1:1", "--namespace", "ns"}, 1, "FAIL  reach"},
		{"registry ok", good("KO_DOCKER_REPO", host(open)+"/ml"), []string{"--host", kfp.URL, "--namespace", "ns"}, 0, "ok    registry   may push to " + host(open) + "/ml (credentials: anonymous)"},
		{"registry login", good("KO_DOCKER_REPO", host(locked)+"/ml", "KF_RUN_REGISTRY_USERNAME", "ci", "KF_RUN_REGISTRY_PASSWORD", "registry-pass-1"), []string{"--host", kfp.URL, "--namespace", "ns"}, 0, "ok    registry"},
		{"registry denied", good("KO_DOCKER_REPO", host(locked)+"/ml", "KF_RUN_REGISTRY_USERNAME", "ci", "KF_RUN_REGISTRY_PASSWORD", "wrong-pass-2"), []string{"--host", kfp.URL, "--namespace", "ns"}, 1, "FAIL  registry   registry " + host(locked) + " denied access with the credentials from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, stdout, stderr := testEnv(tt.vars)
			e.kfpOptions.RetryMax = -1
			code := run(context.Background(), append([]string{"doctor"}, tt.args...), e)
			out := stdout.String() + stderr.String()
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tt.code, tt.want, out)
			}
			if strings.Contains(out, "good-token-1") || strings.Contains(out, "registry-pass-1") || strings.Contains(out, "wrong-pass-2") {
				t.Errorf("the token leaked:\n%s", out)
			}
		})
	}
}

// A release kf-run does not know, or none, is said so, with what kf-run
// makes of it.
func TestDoctorUnknownRelease(t *testing.T) {
	t.Parallel()
	for tag, want := range map[string]string{
		"unknown": `      version    KFP unknown (healthz tag_name "unknown"); kf-run does what works on every KFP from 2.0 to 2.17`,
		"2.19.1":  "      version    KFP 2.19.1; newer than the newest KFP kf-run was checked against (2.17)",
	} {
		kfp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if strings.HasSuffix(r.URL.Path, "/healthz") {
				_, _ = w.Write([]byte(`{"commit_sha":"unknown","tag_name":"` + tag + `","multi_user":false}`))
				return
			}
			_, _ = w.Write([]byte(`{}`))
		}))
		t.Cleanup(kfp.Close)
		e, stdout, stderr := testEnv(nil)
		e.kfpOptions.RetryMax = -1
		code := run(context.Background(), []string{"doctor", "--host", kfp.URL}, e)
		out := stdout.String() + stderr.String()
		if code != 0 || !strings.Contains(out, want+"\n") {
			t.Errorf("%s: exit %d, want 0 with %q:\n%s", tag, code, want, out)
		}
	}
}

// A front that refused healthz before KFP saw the credentials is asked
// again once they were accepted.
func TestDoctorVersionAfterAuth(t *testing.T) {
	t.Parallel()
	var healthz atomic.Int32
	kfp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/healthz") && healthz.Add(1) == 1 {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"code":7,"message":"RBAC: access denied"}`))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/healthz") {
			_, _ = w.Write([]byte(`{"tag_name":"2.5.0","multi_user":false}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(kfp.Close)
	e, stdout, stderr := testEnv(map[string]string{"KF_RUN_TOKEN": "good-token-1"})
	e.kfpOptions.RetryMax = -1
	code := run(context.Background(), []string{"doctor", "--host", kfp.URL}, e)
	out := stdout.String() + stderr.String()
	if want := "ok    access     may list experiments\n      version    KFP 2.5.0\n"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 0 with %q:\n%s", code, want, out)
	}
}

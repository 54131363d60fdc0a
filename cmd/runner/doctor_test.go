package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDoctor(t *testing.T) {
	t.Parallel()
	kfp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/healthz"):
			_, _ = w.Write([]byte(`{"multi_user":true}`))
		case r.Header.Get("Authorization") != "Bearer good-token-1":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":16,"message":"User identity is empty in the request header"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(kfp.Close)
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"help", nil, []string{"--help"}, 0, "Exit codes: 0 every check passed"},
		{"no host", nil, nil, 2, "no KFP host"},
		{"two modes", map[string]string{"KF_RUN_TOKEN": "a", "KF_RUN_TOKEN_FILE": "/t"}, []string{"--host", kfp.URL}, 2, "exclude each other"},
		{"bad config", nil, []string{"--config", "/nonexistent/kf-run.yaml"}, 2, "read config"},
		{"no namespace", map[string]string{"KF_RUN_TOKEN": "good-token-1"}, []string{"--host", kfp.URL}, 1, "FAIL  namespace"},
		{"no identity", nil, []string{"--host", kfp.URL, "--namespace", "ns"}, 1, "Set a credential"},
		{"all good", map[string]string{"KF_RUN_TOKEN": "good-token-1"}, []string{"--host", kfp.URL, "--namespace", "ns"}, 0, "All checks passed"},
		{"unreachable", nil, []string{"--host", "http://127.0.0.1:1", "--namespace", "ns"}, 1, "FAIL  reach"},
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
			if strings.Contains(out, "good-token-1") {
				t.Errorf("the token leaked:\n%s", out)
			}
		})
	}
}

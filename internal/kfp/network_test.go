package kfp

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A server that cannot be reached is named by scheme and host, never by
// the request URL with its doubly encoded filter, with the cause in words.
func TestUnreachableErrorsAreReadable(t *testing.T) {
	t.Parallel()
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	tests := []struct {
		name, host string
		want       []string
	}{
		{"refused", refused, []string{"cannot reach " + refused + ": connection refused"}},
		{"dns", "http://kfp.invalid", []string{"cannot reach http://kfp.invalid:", "DNS"}},
		{"unknown CA", tlsSrv.URL, []string{"cannot reach " + tlsSrv.URL + ": TLS: the server's certificate is signed by an unknown authority", "kubeflow.tls.ca_file"}},
		{"TLS to plain HTTP", strings.Replace(plain.URL, "http://", "https://", 1), []string{"TLS: the server does not speak TLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(Target{Host: tt.host}, Options{RetryMax: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.FindExperiment(context.Background(), "Default")
			if err == nil || !IsUnreachable(err) {
				t.Fatalf("err = %v, want unreachable", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "filter=") || strings.Contains(msg, "%25") {
				t.Errorf("the request URL leaked into %q", msg)
			}
		})
	}
}

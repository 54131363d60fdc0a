package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/config"
)

// The connection and the credential mode each come from the highest level
// that sets one: flags, env, file.
func TestConnection(t *testing.T) {
	t.Parallel()
	file := func(kubeflow string) *config.Config {
		c, err := config.Parse("kf-run.yaml", []byte("kubeflow:\n"+kubeflow+"pipelines: [{name: p, spec: x.yaml}]\n"), func(k string) (string, bool) {
			v, ok := map[string]string{"PW": "pw", "TOK": "ftok", "USER": "u@x.io"}[k]
			return v, ok
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name  string
		cfg   *config.Config
		flags Flags
		env   map[string]string
		host  string
		want  auth.Settings
		err   string
	}{
		{name: "file token", cfg: file("  host: https://kf/pipeline\n  auth: {token: \"${TOK}\"}\n"),
			host: "https://kf/pipeline", want: auth.Settings{Token: "ftok", From: "kf-run.yaml kubeflow.auth.token"}},
		{name: "env token over file login", cfg: file("  host: https://kf/pipeline\n  auth: {username: \"${USER}\", password: \"${PW}\"}\n"),
			env:  map[string]string{"KF_RUN_TOKEN": "etok", "KF_RUN_HOST": "https://other/pipeline"},
			host: "https://other/pipeline", want: auth.Settings{Token: "etok", From: "env KF_RUN_TOKEN"}},
		{name: "flag host over env", cfg: file("  host: https://kf/pipeline\n"), flags: Flags{Host: "http://flag"},
			env: map[string]string{"KF_RUN_HOST": "http://env"}, host: "http://flag"},
		{name: "file login", cfg: file("  host: https://kf/pipeline\n  auth: {username: \"${USER}\", password: \"${PW}\", login_url: https://kf/}\n"),
			host: "https://kf/pipeline", want: auth.Settings{Username: "u@x.io", Password: "pw", LoginURL: "https://kf/", From: "kf-run.yaml kubeflow.auth.username"}},
		{name: "oidc from env with the runtime", cfg: file("  host: https://kf/pipeline\n"),
			env:  map[string]string{"KF_RUN_OIDC_AUDIENCE": "aud", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh/x?a=1", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt"},
			host: "https://kf/pipeline", want: auth.Settings{OIDCAudience: "aud", OIDCRequestURL: "https://gh/x?a=1", OIDCRequestToken: "rt", From: "env KF_RUN_OIDC_AUDIENCE"}},
		{name: "env kube context over file host", cfg: file("  host: https://kf/pipeline\n  kubernetes: {service: kfp, port: 80}\n"),
			env:  map[string]string{"KF_RUN_KUBE_CONTEXT": "prod"},
			want: auth.Settings{Kube: auth.Kube{Context: "prod", Service: "kfp", Port: 80}, From: "kubeconfig"}},
		{name: "flag host over file kube", cfg: file("  kubernetes: {context: prod}\n"), flags: Flags{Host: "http://h"}, host: "http://h"},
		{name: "tls from env and file", cfg: file("  host: https://kf/pipeline\n  tls: {ca_file: /ca.pem, insecure_skip_verify: true}\n"),
			env:  map[string]string{"KF_RUN_CLIENT_CERT": "/c", "KF_RUN_CLIENT_KEY": "/k", "KF_RUN_INSECURE_SKIP_VERIFY": "false"},
			host: "https://kf/pipeline", want: auth.Settings{TLS: auth.TLS{CAFile: "/ca.pem", CertFile: "/c", KeyFile: "/k"}}},
		{name: "in cluster when nothing else", cfg: file(""), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			want: auth.Settings{InCluster: true, From: "in cluster"}},
		{name: "in cluster to the service", cfg: file("  host: http://ml-pipeline.kubeflow.svc.cluster.local:8888\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://ml-pipeline.kubeflow.svc.cluster.local:8888", want: auth.Settings{InCluster: true, From: "in cluster"}},
		{name: "pod token never to an outside host", cfg: file("  host: https://kfp.example.com\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "https://kfp.example.com"},
		// A private address may be a VPN or office host as well as a
		// cluster IP: only names say "inside the cluster".
		{name: "pod token never to a private IP", cfg: file("  host: http://10.96.0.12:8888\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://10.96.0.12:8888"},
		{name: "pod token never to a private IPv6 address", cfg: file("  host: http://[fd00::12]:8888\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://[fd00::12]:8888"},
		{name: "pod token to a bare service name", cfg: file("  host: http://ml-pipeline:8888\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://ml-pipeline:8888", want: auth.Settings{InCluster: true, From: "in cluster"}},
		{name: "pod token to a .svc name", cfg: file("  host: http://ml-pipeline.kubeflow.svc:8888\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://ml-pipeline.kubeflow.svc:8888", want: auth.Settings{InCluster: true, From: "in cluster"}},
		{name: "pod token never to a public IP", cfg: file("  host: http://[2001:4860:4860::8888]:8888\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://[2001:4860:4860::8888]:8888"},
		{name: "unless the token path is given", cfg: file("  host: https://kfp.example.com\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KF_PIPELINES_SA_TOKEN_PATH": "/t"},
			host: "https://kfp.example.com", want: auth.Settings{InCluster: true, From: "in cluster"}},
		{name: "not in cluster with a header", cfg: file("  host: http://h\n  auth: {headers: {kubeflow-userid: a@x.io}}\n"), env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			host: "http://h", want: auth.Settings{Headers: map[string]string{"kubeflow-userid": "a@x.io"}}},
		{name: "two env modes", cfg: file("  host: http://h\n"), env: map[string]string{"KF_RUN_TOKEN": "a", "KF_RUN_USERNAME": "u", "KF_RUN_PASSWORD": "p"}, err: "exclude each other"},
		{name: "username alone", cfg: file("  host: http://h\n"), env: map[string]string{"KF_RUN_USERNAME": "u"}, err: "go together"},
		{name: "token beside kube", cfg: file("  kubernetes: {context: prod}\n"), env: map[string]string{"KF_RUN_TOKEN": "a"}, err: "brings its own credentials"},
		{name: "env host and env kube", cfg: file(""), env: map[string]string{"KF_RUN_HOST": "http://h", "KF_RUN_KUBE_CONTEXT": "c"}, err: "exclude each other"},
		{name: "no host", cfg: file(""), err: "no KFP host"},
		{name: "bad port", cfg: file("  kubernetes: {context: c}\n"), env: map[string]string{"KF_RUN_KUBE_PORT": "http"}, err: "not a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target, s, err := Connection(tt.cfg, tt.flags, func(k string) string { return tt.env[k] }, false)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if target.Host != tt.host {
				t.Errorf("host %q, want %q", target.Host, tt.host)
			}
			if diff := cmp.Diff(tt.want, s); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigRefusesTwoModes(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"  auth: {token: \"${TOK}\", username: u, password: \"${PW}\"}\n": "token and username exclude each other",
		"  host: http://h\n  kubernetes: {context: c}\n":                  "host and kubernetes exclude each other",
		"  auth: {password: \"literal\"}\n":                               "written literally",
		"  tls: {cert_file: /c}\n":                                        "cert_file and key_file go together",
	} {
		_, err := config.Parse("kf-run.yaml", []byte("kubeflow:\n"+src+"pipelines: [{name: p, spec: x.yaml}]\n"), func(k string) (string, bool) {
			v, ok := map[string]string{"PW": "pw", "TOK": "t"}[k]
			return v, ok
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", src, err, want)
		}
	}
}

func TestConnectionRefusesCredentialsInURL(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Path: "kf-run.yaml"}
	_, _, err := Connection(cfg, Flags{Host: "http://alice:S3CRET-pass@127.0.0.1:1/pipeline"}, func(string) string { return "" }, false)
	if err == nil || strings.Contains(err.Error(), "S3CRET-pass") || !strings.Contains(err.Error(), "carries credentials") {
		t.Errorf("Connection error = %v, want a refusal that does not show the password", err)
	}
}

func TestCredentialFilesResolveLikeSpec(t *testing.T) {
	t.Parallel()
	home, _ := os.UserHomeDir()
	cfg := &config.Config{Path: "ci/kf-run.yaml"}
	for in, want := range map[string]string{
		"certs/ca.pem": filepath.Join("ci", "certs", "ca.pem"),
		"/etc/ca.pem":  "/etc/ca.pem",
		"~/.kube/prod": filepath.Join(home, ".kube", "prod"),
		"":             "",
	} {
		if got := cfgPath(cfg, in); got != want {
			t.Errorf("cfgPath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cfgPath(&config.Config{Path: "(no config file)"}, "ca.pem"); got != "ca.pem" {
		t.Errorf("without a config file: %q", got)
	}
}

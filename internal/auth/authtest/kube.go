package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// CA issues certificates for loopback TLS servers and clients.
type CA struct {
	PEM  []byte
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed CA.
func NewCA() *CA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kf-run test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key}
}

// Issue makes a certificate for cn (a client) or for 127.0.0.1 (server).
func (ca *CA) Issue(cn string, server bool) (certPEM, keyPEM []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"kubeflow-users"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		panic(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// KubeAPI is a Kubernetes API server that serves only the service proxy,
// /api/v1/namespaces/NS/services/NAME:PORT/proxy/..., over TLS, for one
// service, forwarding to Upstream. It authenticates as the API server
// does: a bearer token, or a client certificate from its CA (the user is
// the CN); unauthenticated requests get a 401 Status.
type KubeAPI struct {
	URL string
	CA  *CA
	// Token is the one valid bearer token.
	Token string

	srv      *httptest.Server
	prefix   string
	upstream *url.URL
	pods     *url.URL // where /api/v1/namespaces/NS/pods... go; nil: 404

	mu      sync.Mutex
	users   []string // who each proxied request was authenticated as
	proxied []string // each proxied request: "GET /apis/v2beta1/runs"
}

// NewKubeAPI serves service (namespace/name:port) in front of upstream.
func NewKubeAPI(upstream, service string) *KubeAPI {
	ns, svc, _ := strings.Cut(service, "/")
	up, err := url.Parse(upstream)
	if err != nil {
		panic(err)
	}
	k := &KubeAPI{CA: NewCA(), Token: "kube-token-" + randID(), prefix: "/api/v1/namespaces/" + ns + "/services/" + svc + "/proxy", upstream: up}
	certPEM, keyPEM := k.CA.Issue("kube-apiserver", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.CA.PEM)
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	k.srv.StartTLS()
	k.URL = k.srv.URL
	return k
}

// ServePods forwards the pods API (/api/v1/namespaces/NS/pods...) and the
// Argo workflows API (/apis/argoproj.io/...) to upstream, a server that
// answers them (kfp-sandbox does, for its runs). Streams (watches, log
// follows) are passed on as they come.
func (k *KubeAPI) ServePods(upstream string) {
	u, err := url.Parse(upstream)
	if err != nil {
		panic(err)
	}
	k.mu.Lock()
	k.pods = u
	k.mu.Unlock()
}

// Close stops the server.
func (k *KubeAPI) Close() { k.srv.Close() }

// Users lists who each proxied request was authenticated as.
func (k *KubeAPI) Users() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.users...)
}

// Proxied lists each request proxied to the service, as "METHOD /path"
// (the path under the service).
func (k *KubeAPI) Proxied() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.proxied...)
}

func (k *KubeAPI) serve(w http.ResponseWriter, r *http.Request) {
	user := ""
	switch {
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		user = r.TLS.PeerCertificates[0].Subject.CommonName
	case r.Header.Get("Authorization") == "Bearer "+k.Token:
		user = "system:serviceaccount:ci:kf-run"
	}
	if user == "" {
		status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	k.mu.Lock()
	pods := k.pods
	k.mu.Unlock()
	ns, core := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/")
	_, res, _ := strings.Cut(ns, "/")
	argo := strings.HasPrefix(r.URL.Path, "/apis/argoproj.io/")
	if pods != nil && r.Method == http.MethodGet && (argo || core) {
		if argo || res == "pods" || strings.HasPrefix(res, "pods/") {
			r.Header.Del("Authorization")
			rp := &httputil.ReverseProxy{Rewrite: func(p *httputil.ProxyRequest) {
				p.SetURL(pods)
				p.Out.URL.Path = r.URL.Path
				p.Out.URL.RawPath = ""
				p.Out.Host = pods.Host
			}}
			rp.ServeHTTP(w, r)
			return
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, k.prefix)
	if !ok {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("the server could not find the requested resource %s", r.URL.Path))
		return
	}
	k.mu.Lock()
	k.users = append(k.users, user)
	k.proxied = append(k.proxied, r.Method+" /"+strings.TrimPrefix(rest, "/"))
	k.mu.Unlock()
	// The authentication filter drops the credentials before proxying.
	r.Header.Del("Authorization")
	rp := &httputil.ReverseProxy{Rewrite: func(p *httputil.ProxyRequest) {
		p.SetURL(k.upstream)
		p.Out.URL.Path = strings.TrimRight(k.upstream.Path, "/") + "/" + strings.TrimPrefix(rest, "/")
		p.Out.URL.RawPath = ""
		p.Out.Host = k.upstream.Host
	}}
	rp.ServeHTTP(w, r)
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, msg, reason, code)
}

// KubeconfigToken writes a kubeconfig whose context "kf" authenticates
// with the bearer token, and returns its path.
func (k *KubeAPI) KubeconfigToken(dir string) string {
	return k.write(dir, "token.kubeconfig", fmt.Sprintf("    token: %s\n", k.Token))
}

// KubeconfigCert writes a kubeconfig whose context "kf" authenticates
// with a client certificate for user cn (files beside it).
func (k *KubeAPI) KubeconfigCert(dir, cn string) string {
	c, key := k.CA.Issue(cn, false)
	must(os.WriteFile(dir+"/client.crt", c, 0o600))
	must(os.WriteFile(dir+"/client.key", key, 0o600))
	return k.write(dir, "cert.kubeconfig", fmt.Sprintf("    client-certificate: %s/client.crt\n    client-key: %s/client.key\n", dir, dir))
}

// KubeconfigExec writes a kubeconfig whose context "kf" gets the token
// from an exec credential plugin (a shell script, as gke-gcloud-auth-plugin
// or aws eks get-token would be).
func (k *KubeAPI) KubeconfigExec(dir string) string {
	plugin := dir + "/credential-plugin.sh"
	must(os.WriteFile(plugin, []byte(`#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"`+k.Token+`"}}'
`), 0o700))
	return k.write(dir, "exec.kubeconfig", fmt.Sprintf(`    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: Never
`, plugin))
}

func (k *KubeAPI) write(dir, name, user string) string {
	must(os.WriteFile(dir+"/ca.crt", k.CA.PEM, 0o600))
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: loop
  cluster:
    server: %s
    certificate-authority: %s/ca.crt
users:
- name: ci
  user:
%scontexts:
- name: kf
  context: {cluster: loop, user: ci}
- name: other
  context: {cluster: loop, user: ci}
current-context: other
`, k.URL, dir, user)
	p := dir + "/" + name
	must(os.WriteFile(p, []byte(cfg), 0o600))
	return p
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

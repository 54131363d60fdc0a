package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
)

// baseTransport is http.DefaultTransport (proxy from HTTPS_PROXY/NO_PROXY)
// with the configured CA bundle, client certificate and, only when asked,
// no verification at all.
func baseTransport(t TLS, o Options) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	if t == (TLS{}) {
		return tr, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := o.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s has no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("a client certificate needs both cert_file and key_file")
	}
	if t.CertFile != "" {
		certPEM, err := o.ReadFile(t.CertFile)
		if err != nil {
			return nil, fmt.Errorf("read client certificate: %w", err)
		}
		keyPEM, err := o.ReadFile(t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("read client key: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s: %w", t.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.InsecureSkipVerify {
		o.Warn("TLS verification is OFF (insecure_skip_verify): anyone on the network path can read the credentials kf-run sends. Set tls.ca_file instead.")
		cfg.InsecureSkipVerify = true
	}
	tr.TLSClientConfig = cfg
	return tr, nil
}

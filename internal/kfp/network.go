package kfp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// unreachable says, for a failure to get any answer, which server could not
// be reached and why, in words: the request URL (with KFP's doubly encoded
// list filter) is left out. ok is false for other errors.
func unreachable(err error) (server, why string, ok bool) {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "", "", false
	}
	if u, perr := url.Parse(ue.URL); perr == nil {
		server = u.Scheme + "://" + u.Host
	}
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		why = "the host name " + dns.Name + " is not known (DNS): check kubeflow.host"
	case errors.As(err, &dns):
		why = "looking up " + dns.Name + " failed (DNS): " + dns.Err
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused (is the server up, and the port right?)"
	case errors.As(err, &unknownCA), errors.As(err, &verify) && errors.As(verify.Err, &unknownCA):
		why = "TLS: the server's certificate is signed by an unknown authority: set kubeflow.tls.ca_file to its CA"
	case errors.As(err, &hostErr):
		why = "TLS: the certificate is not for this host name (" + hostErr.Error() + ")"
	case errors.As(err, &invalid):
		why = "TLS: the server's certificate is not valid (" + invalid.Error() + ")"
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		why = "TLS: the server does not speak TLS there: use http://, or the TLS port"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		why = "no answer in time (timeout): a firewall, a proxy (HTTPS_PROXY, NO_PROXY) or a stuck server"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		why = "the connection was cut (by the server or a proxy in between)"
	case errors.As(err, &verify):
		why = "TLS: " + verify.Err.Error()
	default:
		why = ue.Err.Error()
	}
	return server, why, true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

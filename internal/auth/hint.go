package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/kf-run/kf-run/internal/kfp"
)

var userRE = regexp.MustCompile(`User '([^']*)'`)

// Hint returns what to tell the user about a KFP error that is about
// identity or the namespace: the fix, and which credential kf-run sent.
// It is kfp.Options.Hint.
func (c *Conn) Hint(namespace string) func(*kfp.APIError) string {
	return func(e *kfp.APIError) string {
		sent := "kf-run sent " + c.Describe
		switch {
		case e.Err != nil:
			return ""
		case e.HTTPStatus == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "namespace") && namespace == "":
			return "This KFP is multi-user: set kubeflow.namespace, KF_RUN_NAMESPACE or --namespace to your Kubeflow profile namespace"
		case e.HTTPStatus == http.StatusUnauthorized || e.GRPCCode == kfp.CodeUnauthenticated:
			return sent + ", and the server saw no user. " + c.fixIdentity()
		case e.HTTPStatus == http.StatusForbidden || e.GRPCCode == kfp.CodePermissionDenied:
			who := "the identity kf-run sent"
			if m := userRE.FindStringSubmatch(e.Message); m != nil {
				who = fmt.Sprintf("user %q (as the server saw it)", m[1])
			}
			ns := namespace
			if ns == "" {
				ns = "the namespace"
			}
			return fmt.Sprintf("%s; %s may not act in %s: have the profile's owner add it as a contributor, or use a credential of a user who is one", sent, who, ns)
		case e.HTTPStatus >= 300 && e.HTTPStatus < 400:
			return sent + ". " + c.fixIdentity()
		case e.HTTPStatus == http.StatusOK:
			return "The host answered with a web page, not KFP's API: " + c.hostFix(namespace)
		case e.HTTPStatus == http.StatusNotFound && e.GRPCCode == 0:
			// KFP's own 404s carry grpc code 5; this is a path nobody serves.
			return "The host has no KFP API there: " + c.hostFix(namespace)
		}
		return ""
	}
}

func (c *Conn) hostFix(namespace string) string {
	if a := HostAdvice(c.Host, namespace, c.Mode); a != "" {
		return a
	}
	return "check kubeflow.host (behind Kubeflow's gateway it is https://HOST/pipeline; standalone KFP, the ml-pipeline service's URL)"
}

func (c *Conn) fixIdentity() string {
	switch c.Mode {
	case ModeNone:
		return "Set a credential: kubeflow.auth.token (KF_RUN_TOKEN), token_file, username/password (KF_RUN_USERNAME/KF_RUN_PASSWORD), github_oidc (KF_RUN_OIDC_AUDIENCE), or a kubeconfig context"
	case ModeToken, ModeTokenFile, ModeInCluster:
		return "Check that the token is valid, not expired, and has an audience the Kubeflow gateway accepts (pipelines.kubeflow.org for service-account tokens)"
	case ModeLogin:
		return "The session cookie was not accepted after a fresh login: check login_url and that the front is Dex's login"
	case ModeGitHubOIDC:
		return "The Kubeflow gateway must trust issuer https://token.actions.githubusercontent.com with this audience (an Istio RequestAuthentication jwtRule, or oauth2-proxy --extra-jwt-issuers), and map sub to the user"
	case ModeKube:
		return "The API server's service proxy passes no user to KFP: on multi-user KFP add kubeflow.auth.headers {kubeflow-userid: USER}, or reach KFP through the Kubeflow gateway"
	}
	return ""
}

// HostAdvice says what is odd about host for a namespace, or "".
func HostAdvice(host, namespace string, mode Mode) string {
	if mode == ModeKube {
		return ""
	}
	u, err := url.Parse(host)
	if err != nil {
		return ""
	}
	if namespace != "" && !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/pipeline") {
		return fmt.Sprintf("multi-user Kubeflow serves KFP at https://HOST/pipeline, and kubeflow.host %s does not end in /pipeline (fine for a port-forward to ml-pipeline:8888)", u.Redacted())
	}
	return ""
}

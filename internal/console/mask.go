package console

import (
	"cmp"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// What kf-run masks is decided by one rule, here: a value is secret when
// it came from the environment under kubeflow.auth, when it is a
// credential kf-run obtained (a token read from a file, a minted ID token,
// a session cookie), or when the name it goes by (an environment variable,
// a header, a cookie) is a secret word; and it is masked only when it is
// long enough to be a credential at all.

// secretWordRE matches the names whose values are credentials.
var secretWordRE = regexp.MustCompile(`(?i)(TOKEN|PASSWORD|PASSWD|SECRET|KEY|COOKIE|CREDENTIAL|AUTH|SESSION)`)

// SecretName reports whether a variable, header or cookie named name holds
// a credential by its name (KFP_TOKEN, Authorization, X-Api-Key,
// oauth2_proxy_kubeflow, authservice_session).
func SecretName(name string) bool { return secretWordRE.MatchString(name) }

// minSecretLen is the shortest value worth masking: a shorter one is no
// credential, and replacing it everywhere would garble the log ("ml" in
// ghcr.io/acme/ml, "en" of a lang cookie).
const minSecretLen = 4

// Maskable reports whether v is long enough to be masked.
func Maskable(v string) bool { return len(strings.TrimSpace(v)) >= minSecretLen }

// Redactor returns a replacer that turns each Maskable value into ***,
// together with each trimmed line of a multi-line value and the value's
// JSON- and URL-escaped forms, as the GitHub runner's secret masker does
// (actions/runner src/Runner.Common/HostContext.cs value encoders).
// Longer values are replaced first, so a secret containing another is
// hidden whole. Report uses it for text that never passes through a Console.
func Redactor(values ...string) *strings.Replacer {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if !Maskable(s) || seen[s] {
			return
		}
		seen[s] = true
		forms = append(forms, s)
	}
	for _, v := range values {
		add(v)
		if strings.ContainsAny(v, "\r\n") {
			for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(strings.TrimSpace(l))
			}
		}
		if j, err := json.Marshal(v); err == nil {
			add(string(j[1 : len(j)-1]))
		}
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
	}
	// Longest first: strings.Replacer picks the first matching old string
	// in argument order at each position.
	slices.SortStableFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	args := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		args = append(args, f, "***")
	}
	return strings.NewReplacer(args...)
}

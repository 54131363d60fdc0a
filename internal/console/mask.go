package console

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Redactor returns a replacer that turns each non-blank value into ***,
// together with each trimmed line of a multi-line value and the value's
// JSON- and URL-escaped forms, as the GitHub runner's secret masker does
// (actions/runner src/Runner.Common/HostContext.cs value encoders).
// Longer values are replaced first, so a secret containing another is
// hidden whole. Report uses it for text that never passes through a Console.
func Redactor(values ...string) *strings.Replacer {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if strings.TrimSpace(s) == "" || seen[s] {
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

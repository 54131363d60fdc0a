package report

import (
	"github.com/kf-run/kf-run/internal/console"

	"fmt"
	"strings"

	"github.com/kf-run/kf-run/internal/plan"
)

// GitLab's dotenv report limits: the file is at most 5 KB, and
// self-managed instances accept 20 variables by default.
// https://docs.gitlab.com/ci/yaml/artifacts_reports/#artifactsreportsdotenv
const (
	dotenvMaxBytes = 5000
	dotenvMaxVars  = 20
)

// Dotenv renders the GitLab dotenv report: KF_RUN_ID, KF_RUN_URL and
// KF_RUN_STATE (the worst state of all pipelines, see Overall) for the
// first pipeline, and KF_RUN_<NAME>_ID, _URL, _STATE
// for each when there are several (names upper-cased, other characters
// _), as far as GitLab's size and count limits allow. Keys are
// [A-Za-z0-9_]; values have whitespace and controls percent-encoded,
// since GitLab allows neither spaces nor newlines; empty values and values
// holding a secret are left out.
func Dotenv(p *plan.Plan) string {
	if len(p.Pipelines) == 0 {
		return ""
	}
	redact := secrets(p)
	var b strings.Builder
	n := 0
	add := func(prefix string, pl *plan.Pipeline, state string) bool {
		var id, u string
		if s := pl.Submission; s != nil {
			id, u = s.RunID, s.RunURL
		}
		var lines []string
		for _, kv := range [][2]string{{"ID", id}, {"URL", u}, {"STATE", state}} {
			v := dotenvValue(kv[1])
			if v == "" || redact.Replace(kv[1]) != kv[1] {
				continue
			}
			lines = append(lines, prefix+kv[0]+"="+v+"\n")
		}
		size := b.Len()
		for _, l := range lines {
			size += len(l)
		}
		if n+len(lines) > dotenvMaxVars || size > dotenvMaxBytes {
			return false
		}
		for _, l := range lines {
			b.WriteString(l)
		}
		n += len(lines)
		return true
	}
	add("KF_RUN_", p.Pipelines[0], Overall(p))
	if len(p.Pipelines) > 1 {
		names := names(p)
		for i, pl := range p.Pipelines {
			if !add("KF_RUN_"+dotenvKey(names[i])+"_", pl, State(p, pl)) {
				break
			}
		}
	}
	return b.String()
}

func dotenvKey(s string) string {
	return strings.NewReplacer(".", "_", "-", "_").Replace(console.SafeName(strings.ToUpper(s)))
}

// dotenvValue percent-encodes spaces and controls, which a dotenv value
// cannot hold (a URL keeps its meaning: a space in one is %20 anyway).
func dotenvValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch <= ' ' || ch == 0x7f {
			fmt.Fprintf(&b, "%%%02X", ch)
		} else {
			b.WriteByte(ch)
		}
	}
	return b.String()
}

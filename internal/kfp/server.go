package kfp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Server is what a KFP API server says about itself in its healthz answer
// (hand-written JSON, not the generated model, which knows only
// multi_user): {commit_sha, tag_name, multi_user} and, from KFP 2.14,
// pipeline_store.
type Server struct {
	// Tag is tag_name as sent: a release ("2.17.0") for KFP's published
	// images, "unknown" for an image built without a tag (KFP's
	// Dockerfile default), anything for a distribution's own build.
	Tag string
	// Release is Tag read as a release; zero when Tag is not one.
	Release Release
	// Commit is commit_sha: the KFP source the server was built from
	// ("unknown" without one). It is the server's text: see ShortCommit.
	Commit    string
	MultiUser bool
	// PipelineStore is where pipelines are kept ("database" or
	// "kubernetes", KFP ≥ 2.14); "" from older servers.
	PipelineStore string
}

// Release is a KFP release number. The zero value is "not known".
type Release struct {
	Major, Minor, Patch int
	// Pre is what follows the number after "-" or "+" ("rc.1", "next").
	Pre string
}

// ParseRelease reads a tag_name such as "2.17.0", "v2.5.0",
// "2.0.0-rc.2" or "2.17.0-next". ok is false for anything else
// ("unknown", "dev", "master", a commit hash).
func ParseRelease(tag string) (r Release, ok bool) {
	s := strings.TrimPrefix(strings.TrimSpace(tag), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s, r.Pre = s[:i], s[i+1:]
		if !plainWord(r.Pre) {
			return Release{}, false
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Release{}, false
	}
	nums := [3]int{}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strings.TrimLeft(p, "0123456789") != "" {
			return Release{}, false
		}
		nums[i] = n
	}
	if nums[0] == 0 {
		return Release{}, false
	}
	r.Major, r.Minor, r.Patch = nums[0], nums[1], nums[2]
	return r, true
}

// plainWord reports whether s is a non-empty run of letters, digits, dots,
// dashes and underscores: what a release suffix or a commit is, and what
// may be printed as it stands.
func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// String is the release as "2.17.0" or "2.17.0-next".
func (r Release) String() string {
	s := fmt.Sprintf("%d.%d.%d", r.Major, r.Minor, r.Patch)
	if r.Pre != "" {
		s += "-" + r.Pre
	}
	return s
}

// Known reports whether the server named a release.
func (s Server) Known() bool { return s.Release.Major > 0 }

// AtLeast reports whether the server is release major.minor or later
// (a pre-release of major.minor counts as major.minor). An unknown
// release is below every release: where behaviour differs, a caller that
// can should do what works on every version, and one that cannot should
// decide for unknown servers itself (see Known).
func (s Server) AtLeast(major, minor int) bool {
	r := s.Release
	if !s.Known() {
		return false
	}
	return r.Major > major || (r.Major == major && r.Minor >= minor)
}

// String is the release ("2.17.0"), or says that it is unknown and what
// the server sent instead (quoted: it is the server's text).
func (s Server) String() string {
	switch {
	case s.Known():
		return s.Release.String()
	case s.Tag == "":
		return "unknown (healthz names no release)"
	}
	return fmt.Sprintf("unknown (healthz tag_name %q)", s.Tag)
}

// ShortCommit is the commit's first 12 characters, or "" when the server
// names none (or sends something that is no commit).
func (s Server) ShortCommit() string {
	if s.Commit == "unknown" || !plainWord(s.Commit) {
		return ""
	}
	return s.Commit[:min(len(s.Commit), 12)]
}

// newestKnownMajor.newestKnownMinor is the newest KFP release this client
// was checked against (KFP's changes up to it are handled).
const newestKnownMajor, newestKnownMinor = 2, 17

// Caveat says what kf-run makes of a release it does not know, or "".
// kf-run looks names up and reads errors in ways that work on every KFP
// from 2.0 to 2.17, so an unknown release changes nothing there.
func (s Server) Caveat() string {
	switch {
	case !s.Known():
		return fmt.Sprintf("kf-run does what works on every KFP from 2.0 to %d.%d", newestKnownMajor, newestKnownMinor)
	case s.AtLeast(newestKnownMajor, newestKnownMinor+1):
		return fmt.Sprintf("newer than the newest KFP kf-run was checked against (%d.%d)", newestKnownMajor, newestKnownMinor)
	}
	return ""
}

// Server reads the server's healthz once per Client and keeps the answer;
// a failed read is not kept, so the next call asks again.
func (c *Client) Server(ctx context.Context) (Server, error) {
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	if c.srv != nil {
		return *c.srv, nil
	}
	var h struct {
		CommitSHA     string `json:"commit_sha"`
		TagName       string `json:"tag_name"`
		MultiUser     bool   `json:"multi_user"`
		PipelineStore string `json:"pipeline_store"`
	}
	if err := c.getJSON(ctx, "GetHealthz", "/apis/v2beta1/healthz", nil, &h); err != nil {
		return Server{}, err
	}
	s := Server{Tag: h.TagName, Commit: h.CommitSHA, MultiUser: h.MultiUser, PipelineStore: h.PipelineStore}
	s.Release, _ = ParseRelease(h.TagName)
	c.srv = &s
	return s, nil
}

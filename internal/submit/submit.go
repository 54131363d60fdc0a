// Package submit puts one planned pipeline on KFP: it makes sure the
// experiment exists, uploads the spec as a pipeline version when one is
// configured (reusing the version on a re-run of the same commit when it
// holds the same spec), and creates the run. It writes the pipeline's Submission and nothing else; it
// does not wait for the run.
package submit

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// API is the part of the KFP client submit uses.
type API interface {
	Target() kfp.Target
	EnsureExperiment(ctx context.Context, name string) (string, error)
	Uploader
	CreateRun(ctx context.Context, r kfp.RunRequest) (kfp.Run, error)
}

// Uploader is the part of the KFP client that puts a spec up as a
// pipeline version (Version): runs and schedules share it.
type Uploader interface {
	FindPipeline(ctx context.Context, name string) (string, error)
	UploadPipeline(ctx context.Context, name, description string, spec []byte) (pipelineID, versionID string, err error)
	FindVersion(ctx context.Context, pipelineID, name string) (kfp.Version, error)
	UploadVersion(ctx context.Context, pipelineID, name, description string, spec []byte) (string, error)
}

// Run submits p and returns what was created. now stamps SubmittedAt.
func Run(ctx context.Context, api API, p *plan.Pipeline, now func() time.Time) (*plan.Submission, error) {
	s := &plan.Submission{ExperimentName: p.Experiment}
	var err error
	if s.ExperimentID, err = api.EnsureExperiment(ctx, p.Experiment); err != nil {
		return nil, fmt.Errorf("experiment %q: %w", p.Experiment, err)
	}
	req := Request(p)
	req.ExperimentID, req.Token = s.ExperimentID, newToken()
	if p.PipelineName != "" {
		if err := Version(ctx, api, p, s); err != nil {
			return nil, err
		}
		req.PipelineID, req.VersionID = s.PipelineID, s.VersionID
	}
	run, err := api.CreateRun(ctx, req)
	if err != nil {
		if m := fanInRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("create run %q: KFP's server could not order the tasks: a task waits on the whole loop %s "+
				"(a fan-in over dsl.ParallelFor: dsl.Collected, or .after() on the loop), which KFP 2.0's server cannot compile. "+
				"Upgrade KFP, or let no task wait on the loop as a whole. KFP said: %w", p.RunName, m[1], err)
		}
		return nil, fmt.Errorf("create run %q: %w", p.RunName, err)
	}
	s.RunID = run.ID
	s.RunURL = api.Target().RunURL(run.ID)
	s.SubmittedAt = now()
	return s, nil
}

// fanInRE finds KFP 2.0's error for a task that depends on a loop as a
// whole: Argo's topological sort of the compiled workflow fails.
var fanInRE = regexp.MustCompile(`sorting failed: invalid dependency (for-loop-\d+)`)

// Request is the run request for p before anything exists at KFP: the
// experiment's, pipeline's and version's IDs are left to Run, which fills
// them in (and the idempotency token). The spec goes inline unless p
// names a pipeline to upload.
func Request(p *plan.Pipeline) kfp.RunRequest {
	req := kfp.RunRequest{
		Name:           p.RunName,
		Description:    p.Description,
		Parameters:     p.Parameters,
		ServiceAccount: p.ServiceAccount,
		PipelineRoot:   p.PipelineRoot,
	}
	if p.PipelineName == "" {
		req.Spec = p.Spec.RunBody()
	}
	return req
}

// VersionName is the version p goes up as: its version, or without one
// the pipeline's name (its first version's).
func VersionName(p *plan.Pipeline) string { return cmp.Or(p.Version, p.PipelineName) }

// Version finds or creates pipeline p.PipelineName and its version
// p.Version (the pipeline's name when unset), and writes their ids and
// names into s. A version that already exists is reused only when it holds the
// same spec (same name, same commit, same content): a re-run of a commit
// can submit another spec (ko:// images rebuilt to new digests, pod
// settings or caching changed through ${ENV}). Otherwise the spec goes up
// as a version whose name ends in its content hash, and s.VersionNote says
// why.
func Version(ctx context.Context, api Uploader, p *plan.Pipeline, s *plan.Submission) error {
	// Without a version the pipeline's first version, named after it, is
	// the one; a later spec goes up under its content name.
	version := VersionName(p)
	s.VersionName = version
	yml, err := p.Spec.YAML()
	if err != nil {
		return fmt.Errorf("pipeline %q: encode spec: %w", p.PipelineName, err)
	}
	hash := contentHash(yml)
	desc := withContent(p.Description, hash)
	id, err := api.FindPipeline(ctx, p.PipelineName)
	if err != nil {
		return fmt.Errorf("find pipeline %q: %w", p.PipelineName, err)
	}
	if id == "" {
		pid, vid, err := api.UploadPipeline(ctx, p.PipelineName, desc, yml)
		if err != nil {
			return fmt.Errorf("upload pipeline %q: %w", p.PipelineName, err)
		}
		id = pid
		if version == p.PipelineName {
			// The first version KFP made on upload is the one asked for.
			s.PipelineID, s.VersionID, s.VersionName = pid, vid, p.PipelineName
			return nil
		}
	}
	s.PipelineID = id
	v, err := api.FindVersion(ctx, id, version)
	if err != nil {
		return fmt.Errorf("find version %q of pipeline %q: %w", version, p.PipelineName, err)
	}
	if v.ID != "" {
		switch held := heldByPreview(p, v.Description); contentOf(v.Description) {
		case hash:
			if held == "" {
				s.VersionID, s.VersionReused = v.ID, true
				return nil
			}
			s.VersionNote = fmt.Sprintf("%q at KFP was uploaded for %s, whose kf-run cleanup --delete-versions deletes it", version, held)
		case "":
			s.VersionNote = fmt.Sprintf("%q at KFP has no content hash (uploaded by an older kf-run or by hand): taken as another spec", version)
		default:
			s.VersionNote = fmt.Sprintf("%q at KFP holds another spec", version)
		}
		if p.Version == "" {
			s.VersionNote += "; without version in kf-run.yaml each spec is named after its content"
		}
		// This spec's own version: reused on a later identical re-run.
		s.VersionName = contentName(version, hash)
		if v, err = api.FindVersion(ctx, id, s.VersionName); err != nil {
			return fmt.Errorf("find version %q of pipeline %q: %w", s.VersionName, p.PipelineName, err)
		}
		if v.ID != "" {
			if held := heldByPreview(p, v.Description); held != "" {
				return fmt.Errorf("pipeline %q: version %q at KFP was uploaded for %s: run again once its kf-run cleanup has deleted it, or change version", p.PipelineName, s.VersionName, held)
			}
			if contentOf(v.Description) != hash {
				return fmt.Errorf("pipeline %q: version %q at KFP does not hold the spec its name says (%s): delete it or change version", p.PipelineName, s.VersionName, hash)
			}
			s.VersionID, s.VersionReused = v.ID, true
			return nil
		}
	}
	if s.VersionID, err = api.UploadVersion(ctx, id, s.VersionName, desc, yml); err != nil {
		return fmt.Errorf("upload version %q of pipeline %q: %w", s.VersionName, p.PipelineName, err)
	}
	return nil
}

// contentKey starts the line of a version's description that holds the
// hash of the spec kf-run uploaded as that version.
const contentKey = "kf-run-content: "

// contentHash is the sha256 of the exact bytes uploaded: what KFP stores
// and runs. Equal bytes are the same pipeline; a spec that differs only in
// encoding (another kf-run release) counts as another, which costs an
// upload but never runs a stale spec.
func contentHash(yml []byte) string {
	sum := sha256.Sum256(yml)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// withContent appends the content line to a description, keeping what it
// says.
func withContent(description, hash string) string {
	return strings.TrimSpace(description + "\n" + contentKey + hash)
}

// contentOf returns the content hash recorded in a version's description,
// or "" when it has none.
func contentOf(description string) string {
	for line := range strings.Lines(description) {
		if h, ok := strings.CutPrefix(strings.TrimSpace(line), contentKey); ok {
			return strings.TrimSpace(h)
		}
	}
	return ""
}

// contentName is the name of version for a spec other than the one KFP
// holds under that name: the name, a dash and the hash's first 8 hex
// digits, the name cut so the whole stays within kfp.MaxVersionName (KFP
// 2.15 and later refuse longer ones).
func contentName(version, hash string) string {
	suffix := "-" + strings.TrimPrefix(hash, "sha256:")[:8]
	if len(version)+len(suffix) > kfp.MaxVersionName {
		version = version[:kfp.MaxVersionName-len(suffix)]
		for !utf8.ValidString(version) {
			version = version[:len(version)-1]
		}
	}
	return version + suffix
}

// newToken makes the idempotency token written into a run's description.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// heldByPreview says whose preview uploaded a version (its description's
// preview line), when that is not p's own pull request: kf-run cleanup
// --delete-versions deletes it when that pull request closes, so nothing
// else may come to depend on it. "" when the version is free to reuse.
func heldByPreview(p *plan.Pipeline, description string) string {
	key := plan.PreviewOf(description)
	if key == "" || (p.Preview != nil && strings.HasPrefix(p.Preview.Line, key)) {
		return ""
	}
	return "another pull request's preview"
}

// Package submit puts one planned pipeline on KFP: it makes sure the
// experiment exists, uploads the spec as a pipeline version when one is
// configured (reusing the version on a re-run of the same commit), and
// creates the run. It writes the pipeline's Submission and nothing else; it
// does not wait for the run.
package submit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
)

// API is the part of the KFP client submit uses.
type API interface {
	Target() kfp.Target
	EnsureExperiment(ctx context.Context, name string) (string, error)
	FindPipeline(ctx context.Context, name string) (string, error)
	UploadPipeline(ctx context.Context, name, description string, spec []byte) (pipelineID, versionID string, err error)
	FindVersion(ctx context.Context, pipelineID, name string) (string, error)
	UploadVersion(ctx context.Context, pipelineID, name, description string, spec []byte) (string, error)
	CreateRun(ctx context.Context, r kfp.RunRequest) (kfp.Run, error)
}

// Run submits p and returns what was created. now stamps SubmittedAt.
func Run(ctx context.Context, api API, p *plan.Pipeline, now func() time.Time) (*plan.Submission, error) {
	s := &plan.Submission{ExperimentName: p.Experiment}
	var err error
	if s.ExperimentID, err = api.EnsureExperiment(ctx, p.Experiment); err != nil {
		return nil, fmt.Errorf("experiment %q: %w", p.Experiment, err)
	}
	req := kfp.RunRequest{
		Name:           p.RunName,
		Description:    p.Description,
		ExperimentID:   s.ExperimentID,
		Parameters:     p.Parameters,
		ServiceAccount: p.ServiceAccount,
		PipelineRoot:   p.PipelineRoot,
		Token:          newToken(),
	}
	if p.PipelineName != "" {
		if err := uploadVersion(ctx, api, p, s); err != nil {
			return nil, err
		}
		req.PipelineID, req.VersionID = s.PipelineID, s.VersionID
	} else {
		req.Spec = p.Spec.RunBody()
	}
	run, err := api.CreateRun(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("create run %q: %w", p.RunName, err)
	}
	s.RunID = run.ID
	s.RunURL = api.Target().RunURL(run.ID)
	s.SubmittedAt = now()
	return s, nil
}

// uploadVersion finds or creates pipeline p.PipelineName and its version
// p.Version. A version that already exists is reused: same name, same commit.
func uploadVersion(ctx context.Context, api API, p *plan.Pipeline, s *plan.Submission) error {
	s.VersionName = p.Version
	yml, err := p.Spec.YAML()
	if err != nil {
		return fmt.Errorf("pipeline %q: encode spec: %w", p.PipelineName, err)
	}
	id, err := api.FindPipeline(ctx, p.PipelineName)
	if err != nil {
		return fmt.Errorf("find pipeline %q: %w", p.PipelineName, err)
	}
	if id == "" {
		pid, vid, err := api.UploadPipeline(ctx, p.PipelineName, p.Description, yml)
		if err != nil {
			return fmt.Errorf("upload pipeline %q: %w", p.PipelineName, err)
		}
		id = pid
		if p.Version == "" || p.Version == p.PipelineName {
			// The first version KFP made on upload is the one asked for.
			s.PipelineID, s.VersionID, s.VersionName = pid, vid, p.PipelineName
			return nil
		}
	}
	s.PipelineID = id
	if p.Version == "" {
		return fmt.Errorf("pipeline %q: set version (e.g. \"{{ .Git.ShortSHA }}\") to upload a new version of an existing pipeline", p.PipelineName)
	}
	vid, err := api.FindVersion(ctx, id, p.Version)
	if err != nil {
		return fmt.Errorf("find version %q of pipeline %q: %w", p.Version, p.PipelineName, err)
	}
	if vid != "" {
		s.VersionID, s.VersionReused = vid, true
		return nil
	}
	if s.VersionID, err = api.UploadVersion(ctx, id, p.Version, p.Description, yml); err != nil {
		return fmt.Errorf("upload version %q of pipeline %q: %w", p.Version, p.PipelineName, err)
	}
	return nil
}

// newToken makes the idempotency token written into a run's description.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

package submit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/pipelinespec"
	"github.com/kf-run/kf-run/internal/plan"
)

// fakeAPI records calls; pipelines and versions it already "has" are
// given up front. It fails the test on calls it has no answer for.
type fakeAPI struct {
	t         *testing.T
	pipelines map[string]string                 // name → id
	versions  map[string]map[string]kfp.Version // pipeline id → name → version
	calls     []string
	uploaded  []string // descriptions of uploaded pipelines and versions
	run       kfp.RunRequest
	createErr error
}

func (f *fakeAPI) Target() kfp.Target { return kfp.Target{Host: "http://kfp"} }

func (f *fakeAPI) EnsureExperiment(_ context.Context, name string) (string, error) {
	f.calls = append(f.calls, "experiment "+name)
	return "exp-1", nil
}

func (f *fakeAPI) FindPipeline(_ context.Context, name string) (string, error) {
	f.calls = append(f.calls, "find pipeline "+name)
	return f.pipelines[name], nil
}

func (f *fakeAPI) UploadPipeline(_ context.Context, name, description string, spec []byte) (string, string, error) {
	f.calls = append(f.calls, "upload pipeline "+name)
	f.uploaded = append(f.uploaded, description)
	if !strings.Contains(string(spec), "pipelineInfo") {
		f.t.Errorf("uploaded spec is not the pipeline: %.80s", spec)
	}
	return "pl-new", "v-first", nil
}

func (f *fakeAPI) FindVersion(_ context.Context, pid, name string) (kfp.Version, error) {
	f.calls = append(f.calls, "find version "+pid+"/"+name)
	return f.versions[pid][name], nil
}

func (f *fakeAPI) UploadVersion(_ context.Context, pid, name, description string, spec []byte) (string, error) {
	f.calls = append(f.calls, "upload version "+pid+"/"+name)
	f.uploaded = append(f.uploaded, description)
	if !strings.Contains(string(spec), "pipelineInfo") {
		f.t.Errorf("uploaded spec is not the pipeline: %.80s", spec)
	}
	return "v-new", nil
}

func (f *fakeAPI) CreateRun(_ context.Context, r kfp.RunRequest) (kfp.Run, error) {
	f.calls = append(f.calls, "create run "+r.Name)
	f.run = r
	if f.createErr != nil {
		return kfp.Run{}, f.createErr
	}
	return kfp.Run{ID: "run-1"}, nil
}

func TestRun(t *testing.T) {
	t.Parallel()
	spec, err := pipelinespec.Load("../../examples/train/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The content line is the sha256 of the exact YAML uploaded.
	yml, err := spec.YAML()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(yml)
	same := "kf-run-content: sha256:" + hex.EncodeToString(sum[:])
	other := "kf-run-content: sha256:" + strings.Repeat("0", 64)
	own := "abc1234-" + hex.EncodeToString(sum[:4]) // this spec's version when abc1234 holds another
	ownOfTrain := "train-" + hex.EncodeToString(sum[:4])
	prLine := plan.PreviewKey("acme/ml", 7) + "0123456789ab"
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	tests := []struct {
		name      string
		pl        plan.Pipeline
		pipelines map[string]string
		versions  map[string]map[string]kfp.Version
		calls     []string
		want      plan.Submission
		wantErr   string
	}{
		{
			name:  "inline",
			pl:    plan.Pipeline{RunName: "r", Experiment: "ci"},
			calls: []string{"experiment ci", "create run r"},
			want:  plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:  "new pipeline, version named after the commit",
			pl:    plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			calls: []string{"experiment ci", "find pipeline train", "upload pipeline train", "find version pl-new/abc1234", "upload version pl-new/abc1234", "create run r"},
			want:  plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-new", VersionID: "v-new", VersionName: "abc1234", RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "same commit and spec again reuses the version",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"abc1234": {ID: "v-1", Description: "acme/ml@abc1234\n" + same}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/abc1234", "create run r"},
			want:      plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-1", VersionName: "abc1234", VersionReused: true, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "same commit, another spec: a version named after the content",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"abc1234": {ID: "v-1", Description: "acme/ml@abc1234\n" + other}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/abc1234", "find version pl-1/" + own, "upload version pl-1/" + own, "create run r"},
			want:      plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-new", VersionName: own, VersionNote: `"abc1234" at KFP holds another spec`, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "same commit, another spec again: its own version is reused",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			pipelines: map[string]string{"train": "pl-1"},
			versions: map[string]map[string]kfp.Version{"pl-1": {
				"abc1234": {ID: "v-1", Description: other},
				own:       {ID: "v-2", Description: "acme/ml@abc1234\n" + same},
			}},
			calls: []string{"experiment ci", "find pipeline train", "find version pl-1/abc1234", "find version pl-1/" + own, "create run r"},
			want:  plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-2", VersionName: own, VersionReused: true, VersionNote: `"abc1234" at KFP holds another spec`, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "a version without a content hash is taken as another spec",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"abc1234": {ID: "v-1", Description: "acme/ml@abc1234"}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/abc1234", "find version pl-1/" + own, "upload version pl-1/" + own, "create run r"},
			want:      plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-new", VersionName: own, VersionNote: `"abc1234" at KFP has no content hash (uploaded by an older kf-run or by hand): taken as another spec`, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "a content-named version holding something else is an error",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"abc1234": {ID: "v-1"}, own: {ID: "v-2", Description: other}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/abc1234", "find version pl-1/" + own},
			wantErr:   `pipeline "train": version "` + own + `" at KFP does not hold the spec its name says`,
		},
		{
			name:      "the pipeline's first version asked for again, same spec",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "train"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"train": {ID: "v-0", Description: same}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/train", "create run r"},
			want:      plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-0", VersionName: "train", VersionReused: true, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "a version a pull request's preview uploaded is not reused outside it",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train", Version: "abc1234"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"abc1234": {ID: "v-1", Description: "acme/ml@abc1234\n" + prLine + "\n" + same}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/abc1234", "find version pl-1/" + own, "upload version pl-1/" + own, "create run r"},
			want: plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-new", VersionName: own,
				VersionNote: `"abc1234" at KFP was uploaded for another pull request's preview, whose kf-run cleanup --delete-versions deletes it`, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "the same pull request's preview reuses its version",
			pl:        plan.Pipeline{RunName: "r", Experiment: "pr-7", PipelineName: "train", Version: "abc1234", Preview: &plan.PipelinePreview{Line: prLine}},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"abc1234": {ID: "v-1", Description: "acme/ml@abc1234\n" + prLine + "\n" + same}}},
			calls:     []string{"experiment pr-7", "find pipeline train", "find version pl-1/abc1234", "create run r"},
			want:      plan.Submission{ExperimentID: "exp-1", ExperimentName: "pr-7", PipelineID: "pl-1", VersionID: "v-1", VersionName: "abc1234", VersionReused: true, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:  "new pipeline without a version runs its first version",
			pl:    plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train"},
			calls: []string{"experiment ci", "find pipeline train", "upload pipeline train", "create run r"},
			want:  plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-new", VersionID: "v-first", VersionName: "train", RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "no version, same spec again: the first version is reused",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"train": {ID: "v-0", Description: same}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/train", "create run r"},
			want:      plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-0", VersionName: "train", VersionReused: true, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
		{
			name:      "no version, another spec: a version named after the content",
			pl:        plan.Pipeline{RunName: "r", Experiment: "ci", PipelineName: "train"},
			pipelines: map[string]string{"train": "pl-1"},
			versions:  map[string]map[string]kfp.Version{"pl-1": {"train": {ID: "v-0", Description: other}}},
			calls:     []string{"experiment ci", "find pipeline train", "find version pl-1/train", "find version pl-1/" + ownOfTrain, "upload version pl-1/" + ownOfTrain, "create run r"},
			want: plan.Submission{ExperimentID: "exp-1", ExperimentName: "ci", PipelineID: "pl-1", VersionID: "v-new", VersionName: ownOfTrain,
				VersionNote: `"train" at KFP holds another spec; without version in kf-run.yaml each spec is named after its content`, RunID: "run-1", RunURL: "http://kfp/#/runs/details/run-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{t: t, pipelines: tt.pipelines, versions: tt.versions}
			pl := tt.pl
			pl.Spec = spec
			pl.Parameters = map[string]any{"dataset": "x"}
			pl.Description = "acme/ml@abc1234"
			s, err := Run(context.Background(), api, &pl, now)
			if diff := cmp.Diff(tt.calls, api.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.SubmittedAt = now()
			if diff := cmp.Diff(tt.want, *s); diff != "" {
				t.Errorf("submission (-want +got):\n%s", diff)
			}
			if api.run.Token == "" || api.run.ExperimentID != "exp-1" || api.run.Parameters["dataset"] != "x" {
				t.Errorf("run request = %+v", api.run)
			}
			// What goes up keeps the description and says what it holds.
			for _, d := range api.uploaded {
				if d != "acme/ml@abc1234\n"+same {
					t.Errorf("uploaded with description %q, want the configured one and %q", d, same)
				}
			}
			if (api.run.Spec == nil) == (tt.pl.PipelineName == "") {
				t.Errorf("inline spec sent = %v, want %v", api.run.Spec != nil, tt.pl.PipelineName == "")
			}
		})
	}
}

func TestRunError(t *testing.T) {
	t.Parallel()
	spec, _ := pipelinespec.Load("../../examples/train/pipeline.yaml")
	api := &fakeAPI{t: t, createErr: &kfp.APIError{Op: "CreateRun", HTTPStatus: 400, GRPCCode: 3, Message: "bad"}}
	_, err := Run(context.Background(), api, &plan.Pipeline{RunName: "r", Experiment: "ci", Spec: spec}, time.Now)
	var ae *kfp.APIError
	if !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), `create run "r": CreateRun: HTTP 400`) {
		t.Errorf("error = %v", err)
	}
}

// KFP 2.0's refusal of a fan-in over a loop is explained, and KFP's own
// words kept.
func TestRunErrorFanIn(t *testing.T) {
	t.Parallel()
	spec, _ := pipelinespec.Load("../../examples/train/pipeline.yaml")
	kfpSays := "Failed to create a new run: InternalServerError: Failed to validate workflow for (): templates.entrypoint sorting failed: invalid dependency for-loop-2"
	api := &fakeAPI{t: t, createErr: &kfp.APIError{Op: "CreateRun", HTTPStatus: 500, GRPCCode: 13, Message: kfpSays}}
	_, err := Run(context.Background(), api, &plan.Pipeline{RunName: "r", Experiment: "ci", Spec: spec}, time.Now)
	var ae *kfp.APIError
	if !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), `create run "r": KFP's server could not order the tasks: a task waits on the whole loop for-loop-2 (a fan-in over dsl.ParallelFor`) ||
		!strings.Contains(err.Error(), "KFP said: CreateRun") || !strings.Contains(err.Error(), "invalid dependency for-loop-2") {
		t.Errorf("error = %v", err)
	}
}

func TestContentName(t *testing.T) {
	t.Parallel()
	hash := "sha256:1a2b3c4d" + strings.Repeat("e", 56)
	tests := []struct{ version, want string }{
		{"abc1234", "abc1234-1a2b3c4d"},
		// The longest version name a config may give (kfp.MaxVersionName)
		// still leaves room for the hash: KFP 2.15 and later refuse a
		// version name over 127 bytes.
		{strings.Repeat("v", 127), strings.Repeat("v", 118) + "-1a2b3c4d"},
		{strings.Repeat("v", 118), strings.Repeat("v", 118) + "-1a2b3c4d"},
		// Cut on a character, not inside one.
		{strings.Repeat("v", 117) + "é" + "tail", strings.Repeat("v", 117) + "-1a2b3c4d"},
	}
	for _, tt := range tests {
		got := contentName(tt.version, hash)
		if got != tt.want || kfp.CheckName(kfp.VersionName, got) != nil || !utf8.ValidString(got) {
			t.Errorf("contentName(%.20q…) = %q (%d bytes), want %q", tt.version, got, len(got), tt.want)
		}
	}
}

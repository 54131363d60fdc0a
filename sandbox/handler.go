package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"runtime/debug"
	"strings"

	"gopkg.in/yaml.v3"
)

// handler routes the server root: the control API, then KFP traffic behind
// the request log and faults.
func (s *Sandbox) handler() http.Handler {
	root := http.NewServeMux()
	root.Handle("/_sandbox/", s.control())
	root.Handle("/", s.faultAndLog(http.HandlerFunc(s.serveKFP)))
	return root
}

func (s *Sandbox) serveKFP(w http.ResponseWriter, r *http.Request) {
	if s.serveProfileRoutes(w, r) {
		return
	}
	p := r.URL.Path
	if s.opts.Prefix != "" {
		rest, ok := strings.CutPrefix(p, s.opts.Prefix)
		if !ok || !strings.HasPrefix(rest, "/") {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = rest, ""
		r = r2
	}
	if !strings.HasPrefix(r.URL.Path, "/apis/") {
		http.NotFound(w, r)
		return
	}
	if isUpload(r) {
		if msg := checkUploadYAML(r); msg != "" {
			s.log.Warn("sandbox: rejected unparsable pipeline upload", "path", r.URL.Path, "err", msg)
			writeUploadError(w, http.StatusBadRequest, msg)
			return
		}
	}
	if isManifestCreate(r) {
		if msg := checkManifestYAML(r); msg != "" {
			s.log.Warn("sandbox: rejected unparsable pipeline manifest", "path", r.URL.Path, "err", msg)
			s.gatewayError(w, http.StatusBadRequest, 3, msg)
			return
		}
	}
	s.api.wrap(s.guard(s.kfp.handler)).ServeHTTP(w, r)
}

// isManifestCreate matches the v1beta1 creates that carry a pipeline as a
// YAML string (pipeline_spec.pipeline_manifest or workflow_manifest).
func isManifestCreate(r *http.Request) bool {
	return r.Method == http.MethodPost &&
		(r.URL.Path == "/apis/v1beta1/runs" || r.URL.Path == "/apis/v1beta1/jobs")
}

// checkManifestYAML is checkUploadYAML for those strings. r.Body is restored.
func checkManifestYAML(r *http.Request) string {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var req struct {
		PipelineSpec struct {
			PipelineManifest string `json:"pipeline_manifest"`
			WorkflowManifest string `json:"workflow_manifest"`
		} `json:"pipeline_spec"`
	}
	if json.Unmarshal(body, &req) != nil {
		return "" // KFP reports its own error
	}
	for field, doc := range map[string]string{
		"pipeline_spec.pipeline_manifest": req.PipelineSpec.PipelineManifest,
		"pipeline_spec.workflow_manifest": req.PipelineSpec.WorkflowManifest,
	} {
		if err := parseAllYAML([]byte(doc)); err != nil {
			return fmt.Sprintf("Invalid input error: kfp-sandbox rejected %s because it is not valid YAML "+
				"(KFP 2.0.5 would spin forever on it): %v", field, err)
		}
	}
	return ""
}

// parseAllYAML decodes every document with yaml.v3, the library whose
// decoder KFP 2.0.5's template parser calls in a loop that never ends on a
// syntax error (backend/src/apiserver/template: "if value == nil { continue }").
func parseAllYAML(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// guard runs a KFP request under the sandbox lock, with a watchdog: if the
// handler (or the wait for the lock) takes longer than Options.Watchdog the
// client gets a 500 saying so, instead of hanging. A handler goroutine that
// spins cannot be stopped; its late response is dropped.
func (s *Sandbox) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.Watchdog)
		defer cancel()
		what := r.Method + " " + r.URL.Path
		bw := &bufferedWriter{header: http.Header{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if !s.acquire(ctx, what) {
				bw.noLock = true
				return
			}
			defer s.release()
			if ctx.Err() != nil {
				bw.noLock = true
				return
			}
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("sandbox: KFP handler panicked", "request", what, "panic", p, "stack", string(debug.Stack()))
					bw.header, bw.body, bw.status = http.Header{}, bytes.Buffer{}, 0
					writeGatewayError(bw, http.StatusInternalServerError, 13, fmt.Sprintf("kfp-sandbox: KFP handler panicked: %v", p))
				}
			}()
			next.ServeHTTP(bw, r.WithContext(ctx))
			s.discoverLocked()
			if bw.status == http.StatusOK {
				s.afterLocked(r)
			}
		}()
		select {
		case <-done:
			if !bw.noLock {
				bw.flushTo(w)
				return
			}
		case <-ctx.Done():
		}
		if r.Context().Err() != nil {
			return // the client went away
		}
		msg := fmt.Sprintf("kfp-sandbox watchdog: %s did not finish within %s; the sandbox lock is held by %s. "+
			"KFP 2.0.5 spins forever on some malformed pipeline files; restart the sandbox if this persists",
			what, s.opts.Watchdog, s.lockHolder())
		s.log.Error(msg)
		writeGatewayError(w, http.StatusInternalServerError, 13, msg)
	})
}

// bufferedWriter holds a KFP response until the handler is done, so the
// watchdog can answer instead.
type bufferedWriter struct {
	header http.Header
	body   bytes.Buffer
	status int
	noLock bool
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}

// writeGatewayError answers in grpc-gateway v1's error shape.
func writeGatewayError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": msg, "code": code, "message": msg, "details": []any{}})
}

// writeUploadError answers in the upload handlers' own error shape.
func writeUploadError(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error_message": msg, "error_details": msg})
}

func isUpload(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	return strings.HasSuffix(r.URL.Path, "/pipelines/upload") || strings.HasSuffix(r.URL.Path, "/pipelines/upload_version")
}

// maxUpload bounds what the sandbox buffers; KFP's own limit is 32 MiB.
const maxUpload = 64 << 20

// checkUploadYAML parses an uploaded YAML or JSON pipeline file with yaml.v3
// before KFP sees it, because KFP 2.0.5 loops forever on some malformed
// YAML. It returns an error message, or "" to let KFP handle the request
// (including every error KFP reports itself). r.Body is restored.
func checkUploadYAML(r *http.Request) string {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	probe := r.Clone(r.Context())
	probe.Body = io.NopCloser(bytes.NewReader(body))
	if err := probe.ParseMultipartForm(32 << 20); err != nil {
		return ""
	}
	defer probe.MultipartForm.RemoveAll()
	f, h, err := probe.FormFile("uploadfile")
	if err != nil {
		return ""
	}
	defer f.Close()
	switch strings.ToLower(path.Ext(h.Filename)) {
	case ".yaml", ".yml", ".json":
	default:
		return ""
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	if err := parseAllYAML(data); err != nil {
		return fmt.Sprintf("Failed to read a pipeline spec file: Invalid input error: "+
			"kfp-sandbox rejected %s because it is not valid YAML (KFP 2.0.5 would spin forever on it): %v", h.Filename, err)
	}
	return ""
}

// podLogs serves GET /k8s/pod/logs as KFP's UI server does: the raw main
// container log of a task's pod, by pod name, per profile (logs.go).
func (s *Sandbox) podLogs(w http.ResponseWriter, r *http.Request) {
	s.podLogsUI(w, r)
}

// Workflow returns the Argo workflow KFP compiled for a run, with the status
// the sandbox last reported, as JSON.
func (s *Sandbox) Workflow(runID string) ([]byte, error) {
	r, release, err := s.runLocked("workflow of run", runID)
	if err != nil {
		return nil, err
	}
	defer release()
	return json.Marshal(r.wf)
}

// control serves the /_sandbox/ API. It bypasses faults and the request log.
func (s *Sandbox) control() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /_sandbox/scripts", func(w http.ResponseWriter, r *http.Request) {
		var sc Script
		if !decode(w, r, &sc) {
			return
		}
		s.Script(sc)
		writeJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("DELETE /_sandbox/scripts", func(w http.ResponseWriter, r *http.Request) {
		s.ClearScripts()
		writeJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("GET /_sandbox/runs/{id}/workflow", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.Workflow(r.PathValue("id"))
		if err != nil {
			controlError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	m.HandleFunc("POST /_sandbox/runs/{id}/advance", func(w http.ResponseWriter, r *http.Request) {
		var a Advance
		if !decode(w, r, &a) {
			return
		}
		if err := s.AdvanceRun(r.PathValue("id"), a); err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("POST /_sandbox/runs/{id}/gc", s.gcControl)
	m.HandleFunc("GET /_sandbox/clock", s.clockControl)
	m.HandleFunc("POST /_sandbox/clock/advance", s.advanceClockControl)
	m.HandleFunc("POST /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if !decode(w, r, &f) {
			return
		}
		if err := s.faults.Add(f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("DELETE /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		s.faults.Clear()
		writeJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("GET /_sandbox/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	m.HandleFunc("DELETE /_sandbox/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ClearRequests()
		writeJSON(w, http.StatusOK, struct{}{})
	})
	return m
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return false
	}
	return true
}

func controlError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, ErrUnknownRun) {
		status = http.StatusNotFound
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

package sandbox

// The API layer of a KFP profile: what a newer KFP API server answers
// differently from the 2.0.5 code that runs underneath. It wraps the KFP
// handler (uploads, healthz and the grpc-gateway routes) and rewrites
// requests and answers; KFP 2.0.5 still does the work. Profile 2.0 does not
// go through it at all.
//
// Every rule names the KFP commit that made the change and the first KFP
// release with it; sandbox/README.md ("API layer") lists them per profile.
//
//   - healthz: tag_name is the profile's release (2.5: the 2.0.5 bytes;
//     2.17: encoding/json, and v2beta1 adds "pipeline_store").
//   - uploads: duplicates are 409 application/json from 2.1 (96eb87c3eb);
//     2.15 sanitizes the messages (fedc25e3f7) and answers invalid input
//     with 400 (39297f0143); 2.15 limits name lengths (2af42c323f).
//   - experiments carry last_run_created_at from 2.4 (db8669c33e).
//   - grpc-gateway v2 from 2.14 (cc35187dff, 000a111396): error bodies
//     without "error", JSON routing errors, strict request parsing.
//   - pipelines and versions get a unique name beside display_name from
//     2.14 (ea20731060).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	apiv2beta1 "github.com/kubeflow/pipelines/backend/api/v2beta1/go_client"
	"github.com/kubeflow/pipelines/backend/src/apiserver/common"
	"github.com/kubeflow/pipelines/backend/src/apiserver/server"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Each predicate is one KFP change, switched on from the first profile
// whose release contains it.

// uploadConflicts: a duplicate upload is 409 with a JSON content type, and
// every create error of an upload is application/json (KFP 96eb87c3eb,
// #10546, released in 2.1.0).
func (p Profile) uploadConflicts() bool { return p.atLeast(Profile25) }

// lastRunCreatedAt: v2beta1 experiments carry last_run_created_at, the
// creation time of the last run created in them (KFP db8669c33e, #11163,
// released in 2.4.0).
func (p Profile) lastRunCreatedAt() bool { return p.atLeast(Profile25) }

// gatewayV2: grpc-gateway v2 with KFP's CustomMarshaler (KFP cc35187dff,
// #12067, and 000a111396, #12101, both released in 2.14.0): error bodies
// are google.rpc.Status without "error", routing errors are JSON, and JSON
// request bodies are parsed by protojson with DiscardUnknown false.
func (p Profile) gatewayV2() bool { return p.atLeast(Profile217) }

// pipelineNames: pipelines and pipeline versions have a unique name and a
// free display_name (KFP ea20731060, #11952, released in 2.14.0).
func (p Profile) pipelineNames() bool { return p.atLeast(Profile217) }

// nameLimits: experiment and pipeline names longer than 128 bytes and
// version names longer than 127 are refused (KFP 2af42c323f, #12013,
// released in 2.15.0).
func (p Profile) nameLimits() bool { return p.atLeast(Profile217) }

// sanitizedUploads: upload errors carry fixed messages (KFP fedc25e3f7,
// #12295, released in 2.15.0), and invalid input found while creating is a
// 400 with KFP's external message (KFP 39297f0143, #13137, in 2.17.0).
func (p Profile) sanitizedUploads() bool { return p.atLeast(Profile217) }

// jsonHealthz: healthz is encoding/json of a struct, so no spaces, and
// v1beta1 has no pipeline_store (KFP 5df07c9e5f, #13094, in 2.17.0).
func (p Profile) jsonHealthz() bool { return p.atLeast(Profile217) }

// The v2beta1 message names the layer looks at.
const (
	v2pkg                = "kubeflow.pipelines.backend.api.v2beta1."
	v2Pipeline           = v2pkg + "Pipeline"
	v2PipelineVersion    = v2pkg + "PipelineVersion"
	v2ListPipelines      = v2pkg + "ListPipelinesResponse"
	v2ListVersions       = v2pkg + "ListPipelineVersionsResponse"
	v2Experiment         = v2pkg + "Experiment"
	v2ListExperiments    = v2pkg + "ListExperimentsResponse"
	v1pkg                = "api."
	maxPipelineNameLen   = 128 // KFP 2af42c323f: validation.LengthSpecs, Pipeline.Name and Experiment.Name
	maxVersionNameLen    = 127 // KFP 2af42c323f: validation.LengthSpecs, PipelineVersion.Name
	innerListPageSize    = 200 // KFP's largest page (list_request_util.go maxPageSize)
	defaultListPageSize  = 20  // KFP's default page (list_request_util.go defaultPageSize)
	epochTimestamp       = "1970-01-01T00:00:00Z"
	pipelineStoreDefault = "database" // KFP ea20731060: healthz pipeline_store without Kubernetes storage
)

// apiLayer holds what the layer keeps per sandbox.
type apiLayer struct {
	profile Profile
	routes  []gwRoute
	added   map[protoreflect.FullName]map[string]bool // see fieldsAddedBy217

	// pipelinesMu orders pipeline and version creates (which record display
	// names after KFP answered) before the reads that show them.
	pipelinesMu sync.RWMutex

	mu              sync.Mutex
	pipelineDisplay map[string]string // pipeline ID → display name, only where it differs from the name
	versionDisplay  map[string]string // pipeline version ID → display name, likewise
	lastRun         map[string]string // experiment ID → created_at of the last run created in it
}

func newAPILayer(p Profile) *apiLayer {
	return &apiLayer{
		profile:         p,
		routes:          gatewayRoutes(),
		added:           fieldsAddedBy217(),
		pipelineDisplay: map[string]string{},
		versionDisplay:  map[string]string{},
		lastRun:         map[string]string{},
	}
}

// wrap puts the layer in front of the KFP handler. Profile 2.0 is KFP
// 2.0.5 itself: next, untouched.
func (a *apiLayer) wrap(next http.Handler) http.Handler {
	if a.profile == Profile20 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/apis/v1beta1/healthz" || p == "/apis/v2beta1/healthz":
			a.healthz(w, r, next)
		case isUpload(r):
			a.upload(w, r, next)
		default:
			a.gateway(w, r, next)
		}
	})
}

// gatewayError answers with the sandbox's own error in the gateway shape of
// the profile.
func (s *Sandbox) gatewayError(w http.ResponseWriter, status, code int, msg string) {
	if s.opts.Profile.gatewayV2() {
		writeStatusV2(w, status, code, msg, nil)
		return
	}
	writeGatewayError(w, status, code, msg)
}

// writeStatusV2 writes a google.rpc.Status as grpc-gateway v2's
// DefaultHTTPErrorHandler does with KFP's CustomMarshaler (proto names,
// unset fields omitted): {"code","message","details"}, no "error".
func writeStatusV2(w http.ResponseWriter, status, code int, msg string, details []json.RawMessage) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.Header().Del("X-Content-Type-Options")
	if code == 16 { // Unauthenticated: grpc-gateway v2 also sets WWW-Authenticate
		w.Header().Set("WWW-Authenticate", msg)
	}
	w.WriteHeader(status)
	w.Write(mustJSON(struct {
		Code    int               `json:"code,omitempty"`
		Message string            `json:"message,omitempty"`
		Details []json.RawMessage `json:"details,omitempty"`
	}{code, msg, details}))
}

// serveInner runs one request through the KFP handler and keeps the answer.
func serveInner(next http.Handler, r *http.Request) *bufferedWriter {
	bw := &bufferedWriter{header: http.Header{}}
	next.ServeHTTP(bw, r)
	if bw.status == 0 {
		bw.status = http.StatusOK
	}
	return bw
}

// setBody replaces a kept answer's body.
func (b *bufferedWriter) setBody(p []byte) {
	b.body.Reset()
	b.body.Write(p)
	b.header.Del("Content-Length")
}

// ---- healthz ----

// healthz answers KFP's healthz with the profile's release as tag_name.
// viper's TAG_NAME is process-wide, so the answer is rewritten here.
func (a *apiLayer) healthz(w http.ResponseWriter, r *http.Request, next http.Handler) {
	bw := serveInner(next, r)
	var h struct {
		CommitSHA string `json:"commit_sha"`
		MultiUser bool   `json:"multi_user"`
	}
	if bw.status != http.StatusOK || json.Unmarshal(bw.body.Bytes(), &h) != nil {
		bw.flushTo(w)
		return
	}
	if a.profile.jsonHealthz() {
		// KFP 5df07c9e5f: writeJSONResponse(newHealthzResponse(...)), with
		// pipeline_store only on v2beta1 (added by KFP ea20731060).
		store := ""
		if strings.HasPrefix(r.URL.Path, "/apis/v2beta1/") {
			store = pipelineStoreDefault
		}
		bw.setBody(mustJSON(struct {
			CommitSHA     string `json:"commit_sha"`
			TagName       string `json:"tag_name"`
			MultiUser     bool   `json:"multi_user"`
			PipelineStore string `json:"pipeline_store,omitempty"`
		}{h.CommitSHA, a.profile.Tag(), h.MultiUser, store}))
	} else {
		// KFP 2.1 to 2.13 still build the bytes by hand, as 2.0.5 does.
		bw.setBody(fmt.Appendf(nil, `{"commit_sha":"%s", "tag_name":"%s", "multi_user":%t}`, h.CommitSHA, a.profile.Tag(), h.MultiUser))
	}
	bw.flushTo(w)
}

// ---- uploads ----

// upload applies the profile to POST .../pipelines/upload and
// .../upload_version (both API versions: KFP serves them with one handler).
func (a *apiLayer) upload(w http.ResponseWriter, r *http.Request, next http.Handler) {
	isVersion := strings.HasSuffix(r.URL.Path, "/upload_version")
	v2 := strings.HasPrefix(r.URL.Path, "/apis/v2beta1/")
	q := r.URL.Query()
	name, display := q.Get("name"), q.Get("display_name")
	if a.profile.pipelineNames() {
		// KFP ea20731060: the unique name is ?name, else ?display_name, else
		// the file name (buildPipelineName); the display name is
		// ?display_name, else the name. KFP 2.0.5 ignores ?display_name, so
		// it gets the name it has to store.
		if name == "" && display != "" {
			q.Set("name", display)
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
			name = display
		}
	}
	if a.profile.nameLimits() {
		if msg := a.uploadNameTooLong(r, name, isVersion); msg != "" {
			// KFP 2af42c323f: validation.ValidateFieldLength's error through
			// http.Error, so text/plain, unlike every other upload error.
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
	}
	if a.profile.pipelineNames() {
		a.pipelinesMu.Lock()
		defer a.pipelinesMu.Unlock()
	}
	bw := serveInner(next, r)
	if bw.status != http.StatusOK {
		a.uploadError(bw, isVersion)
		bw.flushTo(w)
		return
	}
	if a.profile.pipelineNames() {
		if display != "" && display != name {
			a.recordUpload(next, r, bw.body.Bytes(), v2, isVersion, display)
		}
		if v2 {
			kind := v2Pipeline
			if isVersion {
				kind = v2PipelineVersion
			}
			if b, ok := a.rewriteMessage(bw.body.Bytes(), protoreflect.FullName(kind)); ok {
				bw.setBody(b)
			}
		}
	}
	bw.flushTo(w)
}

// uploadNameTooLong is KFP 2af42c323f's check of the name an upload would
// store. KFP makes it after reading the file (and, for a version, after
// checking pipelineid), so a request that fails those is left to KFP.
func (a *apiLayer) uploadNameTooLong(r *http.Request, name string, isVersion bool) string {
	limit, field := maxPipelineNameLen, "Pipeline.Name"
	if isVersion {
		limit, field = maxVersionNameLen, "PipelineVersion.Name"
	}
	if name != "" && len(name) <= limit {
		return ""
	}
	file, data, ok := uploadFile(r)
	if !ok {
		return ""
	}
	if name == "" {
		name = file
	}
	if len(name) <= limit {
		return ""
	}
	if _, err := server.ReadPipelineFile(file, bytes.NewReader(data), common.MaxFileLength); err != nil {
		return ""
	}
	if isVersion && r.URL.Query().Get("pipelineid") == "" {
		return ""
	}
	return fmt.Sprintf("Invalid input error: %s length cannot exceed %d", field, limit)
}

// uploadFile reads the uploadfile part of a multipart request. r.Body is
// restored.
func uploadFile(r *http.Request) (name string, data []byte, ok bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return "", nil, false
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return "", nil, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return "", nil, false
		}
		if part.FormName() == server.FormFileKey && part.FileName() != "" {
			data, err := io.ReadAll(part)
			return part.FileName(), data, err == nil
		}
	}
}

// recordUpload remembers the display name of what an upload created: the
// version of upload_version, or the pipeline and its one version.
func (a *apiLayer) recordUpload(next http.Handler, r *http.Request, answer []byte, v2, isVersion bool, display string) {
	o, ok := parseJSONObject(answer)
	if !ok {
		return
	}
	switch {
	case isVersion && v2:
		a.setDisplay(a.versionDisplay, o.str("pipeline_version_id"), display)
	case isVersion:
		a.setDisplay(a.versionDisplay, o.str("id"), display)
	default:
		id := o.str("pipeline_id")
		if !v2 {
			id = o.str("id")
		}
		a.setDisplay(a.pipelineDisplay, id, display)
		a.recordVersionsOf(next, r, id, display)
	}
}

// recordVersionsOf gives the versions of a pipeline just created (there is
// one) a display name. KFP 2.0.5's answers do not carry the version ID.
func (a *apiLayer) recordVersionsOf(next http.Handler, r *http.Request, pipelineID, display string) {
	if pipelineID == "" {
		return
	}
	bw := serveInner(next, innerGet(r, "/apis/v2beta1/pipelines/"+url.PathEscape(pipelineID)+"/versions", nil))
	if bw.status != http.StatusOK {
		return
	}
	o, _ := parseJSONObject(bw.body.Bytes())
	for _, v := range o.objects("pipeline_versions") {
		a.setDisplay(a.versionDisplay, v.str("pipeline_version_id"), display)
	}
}

func (a *apiLayer) setDisplay(m map[string]string, id, display string) {
	if id == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	m[id] = display
}

// uploadError turns KFP 2.0.5's upload error into the profile's. KFP 2.0.5
// answers every error as {"error_message","error_details"} without a
// content type (so net/http sniffs text/plain), and every create error as
// 500.
func (a *apiLayer) uploadError(bw *bufferedWriter, isVersion bool) {
	var e struct {
		Message string `json:"error_message"`
		Details string `json:"error_details"`
	}
	if json.Unmarshal(bw.body.Bytes(), &e) != nil || e.Message == "" {
		return
	}
	create := "Failed to create a pipeline and a pipeline version" // uploadPipeline's wrap of the create error
	if isVersion {
		create = "Failed to create a pipeline version"
	}
	status, msg, details := bw.status, e.Message, e.Details
	if a.profile.uploadConflicts() && bw.status == http.StatusInternalServerError && strings.HasPrefix(e.Message, create+": ") {
		// KFP 96eb87c3eb sets the content type before the create, and turns
		// AlreadyExists into 409 with its own wrap.
		bw.header.Set("Content-Type", "application/json")
		cause := strings.TrimPrefix(e.Message, create+": ")
		switch {
		case strings.Contains(cause, "Already exist error: "):
			status = http.StatusConflict
			msg = create + ". The pipeline already exists.: " + cause
			details = msg
			if a.profile.sanitizedUploads() {
				msg, details = create, create // KFP fedc25e3f7
			}
		case a.profile.sanitizedUploads() && invalidInput(cause) != "":
			// KFP 39297f0143: codes.InvalidArgument → 400 with the
			// external message.
			status = http.StatusBadRequest
			msg = invalidInput(cause)
			details = msg
		case a.profile.sanitizedUploads():
			msg, details = create, create // KFP fedc25e3f7
		}
	} else if a.profile.sanitizedUploads() {
		// KFP fedc25e3f7: the errors before the create keep their status
		// and lose everything but a fixed message.
		if s := sanitizedUploadMessage(e.Message, isVersion); s != "" {
			msg, details = s, s
		}
	}
	if status == bw.status && msg == e.Message && details == e.Details {
		return
	}
	bw.status = status
	bw.setBody(mustJSON(struct {
		Message string `json:"error_message,omitempty"`
		Details string `json:"error_details,omitempty"`
	}{msg, details}))
}

// invalidInput is the external message of an InvalidArgument error in a
// KFP 2.0.5 error text, or "". A wrap into an internal error is Internal.
func invalidInput(cause string) string {
	if strings.Contains(cause, "InternalServerError: ") {
		return ""
	}
	for _, marker := range []string{"Invalid input error: ", "InvalidInputError: "} {
		if _, ext, ok := strings.Cut(cause, marker); ok {
			return ext
		}
	}
	return ""
}

// sanitizedUploadMessage is KFP 2.15's fixed message (fedc25e3f7) for a
// KFP 2.0.5 upload error raised before the create, or "".
func sanitizedUploadMessage(msg string, isVersion bool) string {
	if isVersion {
		if strings.HasPrefix(msg, "Failed to create a pipeline version due to ") {
			return "Failed to create a pipeline version"
		}
		return ""
	}
	for prefix, fixed := range map[string]string{
		"Failed to read pipeline from file":                      "Failed to read pipeline from file",
		"Failed to read a pipeline spec file":                    "Failed to read a pipeline spec file",
		"Failed to create a pipeline due to authorization error": "Failed to create a pipeline",
	} {
		if strings.HasPrefix(msg, prefix) {
			return fixed
		}
	}
	return ""
}

// ---- grpc-gateway routes ----

// gateway applies the profile to a request for grpc-gateway (every /apis/
// path but uploads and healthz).
func (a *apiLayer) gateway(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rt := a.route(r.Method, r.URL.Path)
	var display string // the display name a pipeline create asks for
	if rt != nil && rt.body != nil && a.profile.gatewayV2() {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			if err := a.strictParse(rt.body, body); err != nil {
				// The generated v2 handlers: status.Errorf(codes.InvalidArgument, "%v", err).
				writeStatusV2(w, http.StatusBadRequest, 3, err.Error(), nil)
				return
			}
			var req any
			if decodeJSON(body, &req) {
				if msg := a.createNameTooLong(rt, req); msg != "" {
					writeStatusV2(w, http.StatusInternalServerError, 13, msg, []json.RawMessage{internalDetail()})
					return
				}
				var newBody []byte
				display, newBody = a.pipelineCreate(rt, req)
				if newBody != nil {
					r = r.Clone(r.Context())
					r.Body = io.NopCloser(bytes.NewReader(newBody))
					r.ContentLength = int64(len(newBody))
					r.Header.Del("Content-Length")
				}
			}
		}
	}
	if rt != nil && a.profile.pipelineNames() && (rt.out == v2ListPipelines || rt.out == v2ListVersions) && r.Method == http.MethodGet {
		a.pipelinesMu.RLock()
		defer a.pipelinesMu.RUnlock()
		if a.listByDisplayName(w, r, next, rt) {
			return
		}
	} else if rt != nil && a.profile.pipelineNames() && (rt.out == v2Pipeline || rt.out == v2PipelineVersion) {
		if r.Method == http.MethodGet {
			a.pipelinesMu.RLock()
			defer a.pipelinesMu.RUnlock()
		} else {
			a.pipelinesMu.Lock()
			defer a.pipelinesMu.Unlock()
		}
	}
	bw := serveInner(next, r)
	if a.profile.gatewayV2() {
		toStatusV2(bw)
	}
	if rt != nil && bw.status == http.StatusOK {
		a.afterOK(next, r, rt, bw, display)
	}
	bw.flushTo(w)
}

// afterOK records what a successful call changed and rewrites its answer.
func (a *apiLayer) afterOK(next http.Handler, r *http.Request, rt *gwRoute, bw *bufferedWriter, display string) {
	switch rt.name {
	case v2pkg + "RunService.CreateRun", v1pkg + "RunService.CreateRunV1":
		if a.profile.lastRunCreatedAt() {
			a.recordRun(bw.body.Bytes())
		}
	case v2pkg + "PipelineService.DeletePipeline", v2pkg + "PipelineService.DeletePipelineVersion",
		v1pkg + "PipelineService.DeletePipelineV1", v1pkg + "PipelineService.DeletePipelineVersionV1":
		a.forget(r.URL.Path)
	case v2pkg + "PipelineService.CreatePipeline", v2pkg + "PipelineService.CreatePipelineAndVersion":
		if display != "" {
			o, _ := parseJSONObject(bw.body.Bytes())
			a.setDisplay(a.pipelineDisplay, o.str("pipeline_id"), display)
			if rt.name == v2pkg+"PipelineService.CreatePipelineAndVersion" {
				a.recordVersionsOf(next, r, o.str("pipeline_id"), display)
			}
		}
	case v2pkg + "PipelineService.CreatePipelineVersion":
		if display != "" {
			o, _ := parseJSONObject(bw.body.Bytes())
			a.setDisplay(a.versionDisplay, o.str("pipeline_version_id"), display)
		}
	}
	if b, ok := a.rewriteMessage(bw.body.Bytes(), rt.out); ok {
		bw.setBody(b)
	}
}

// toStatusV2 rewrites a grpc-gateway v1 error answer into v2's: the body
// loses "error" (KFP cc35187dff), and the routing errors v1 writes with
// http.Error become JSON statuses (v2's DefaultRoutingErrorHandler:
// 404 → NotFound, 405 → Unimplemented, i.e. 501).
func toStatusV2(bw *bufferedWriter) {
	if bw.status < 400 {
		return
	}
	if strings.HasPrefix(bw.header.Get("Content-Type"), "text/plain") {
		switch string(bw.body.Bytes()) {
		case "Not Found\n":
			rewriteStatusV2(bw, http.StatusNotFound, 5, "Not Found", nil)
		case "Method Not Allowed\n":
			rewriteStatusV2(bw, http.StatusNotImplemented, 12, "Method Not Allowed", nil)
		}
		return
	}
	var e struct {
		Error   *string           `json:"error"`
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
	}
	if json.Unmarshal(bw.body.Bytes(), &e) != nil || e.Error == nil {
		return
	}
	status := bw.status
	if e.Code == 1 { // Canceled: v2's HTTPStatusFromCode says 499, v1's 408
		status = 499
	}
	rewriteStatusV2(bw, status, e.Code, e.Message, e.Details)
}

func rewriteStatusV2(bw *bufferedWriter, status, code int, msg string, details []json.RawMessage) {
	bw.status, bw.body = 0, bytes.Buffer{}
	writeStatusV2(bw, status, code, msg, details)
}

// internalDetail is the detail KFP's UserError adds to an Internal error.
func internalDetail() json.RawMessage {
	return mustJSON(map[string]any{"@type": "type.googleapis.com/google.rpc.Status", "code": 13, "message": "Internal Server Error"})
}

// ---- strict request parsing (gatewayV2) ----

// strictParse parses a request body as grpc-gateway v2 does with KFP's
// CustomMarshaler: one JSON value (an empty body is accepted, as the
// generated handlers accept io.EOF), then protojson into the route's body
// message with unknown fields refused. The messages are KFP 2.0.5's, so the
// fields KFP 2.17 added are dropped first, and only when present, so error
// positions stay right otherwise.
func (a *apiLayer) strictParse(md protoreflect.MessageDescriptor, body []byte) error {
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	var req any
	if decodeJSON(raw, &req) && a.dropAdded(md, req) {
		raw = mustJSON(req)
	}
	var msg proto.Message
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		msg = mt.New().Interface()
	} else {
		msg = dynamicpb.NewMessage(md)
	}
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(raw, msg)
}

// fieldsAddedBy217 lists the fields of request messages that KFP 2.17.0's
// v2beta1 protos have and 2.0.5's lack (git diff 2.0.5 2.17.0 --
// backend/api/v2beta1/*.proto); v1beta1's are unchanged. Strict parsing
// accepts them; KFP 2.0.5 underneath ignores them (the layer maps name).
func fieldsAddedBy217() map[protoreflect.FullName]map[string]bool {
	added := map[protoreflect.FullName][]string{
		v2Pipeline:             {"name", "tags"},        // ea20731060 (#11952); b5cb3c752e (#12999)
		v2PipelineVersion:      {"name", "tags"},        // likewise
		v2Experiment:           {"last_run_created_at"}, // db8669c33e (#11163)
		v2pkg + "Run":          {"plugins_input", "plugins_output"},
		v2pkg + "RecurringRun": {"plugins_input"},
	}
	out := map[protoreflect.FullName]map[string]bool{}
	for m, fields := range added {
		out[m] = map[string]bool{}
		for _, f := range fields {
			out[m][f] = true
			out[m][jsonCamel(f)] = true // protojson also accepts the lowerCamel name
		}
	}
	return out
}

// jsonCamel is protoc's json_name of a field name.
func jsonCamel(s string) string {
	var b strings.Builder
	up := false
	for _, c := range s {
		if c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteRune(c)
	}
	return b.String()
}

// dropAdded removes the fields of fieldsAddedBy217 from a decoded body of
// message md, in nested KFP messages too, and reports whether it did.
func (a *apiLayer) dropAdded(md protoreflect.MessageDescriptor, v any) bool {
	obj, ok := v.(map[string]any)
	if !ok || !strings.HasPrefix(string(md.FullName()), v2pkg) && !strings.HasPrefix(string(md.FullName()), v1pkg) {
		return false
	}
	dropped := false
	for k, val := range obj {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByTextName(k)
		}
		if fd == nil {
			if a.added[md.FullName()][k] {
				delete(obj, k)
				dropped = true
			}
			continue
		}
		if fd.Message() == nil {
			continue
		}
		switch {
		case fd.IsMap():
			if vd := fd.MapValue(); vd.Message() != nil {
				if m, ok := val.(map[string]any); ok {
					for _, x := range m {
						dropped = a.dropAdded(vd.Message(), x) || dropped
					}
				}
			}
		case fd.IsList():
			if l, ok := val.([]any); ok {
				for _, x := range l {
					dropped = a.dropAdded(fd.Message(), x) || dropped
				}
			}
		default:
			dropped = a.dropAdded(fd.Message(), val) || dropped
		}
	}
	return dropped
}

// ---- name lengths (nameLimits) ----

// createNameTooLong is KFP 2af42c323f's length check of a JSON create. It
// runs in KFP's toModel* converters, which wrap it into an
// InternalServerError: so unlike the uploads' plain 400 it is a 500, code
// 13, with the error chain KFP 2.17.0's servers build.
func (a *apiLayer) createNameTooLong(rt *gwRoute, req any) string {
	if !a.profile.nameLimits() {
		return ""
	}
	obj, _ := req.(map[string]any)
	var name, model, convert, wrap string
	limit := maxPipelineNameLen
	switch rt.name {
	case v2pkg + "ExperimentService.CreateExperiment":
		name, model = field(obj, "display_name"), "Experiment"
		convert, wrap = "API experiment to model experiment", "[ExperimentServer]: Failed to create a experiment due to conversion error"
	case v1pkg + "ExperimentService.CreateExperimentV1":
		name, model = field(obj, "name"), "Experiment"
		convert, wrap = "API experiment to model experiment", "[ExperimentServer]: Failed to create a v1beta1 experiment due to conversion error"
	case v2pkg + "PipelineService.CreatePipeline":
		name, model = firstOf(field(obj, "name"), field(obj, "display_name")), "Pipeline"
		convert, wrap = "API pipeline to model pipeline", "Failed to create a pipeline as pipeline conversion failed"
	case v2pkg + "PipelineService.CreatePipelineAndVersion":
		p, _ := fieldValue(obj, "pipeline").(map[string]any)
		name, model = firstOf(field(p, "name"), field(p, "display_name")), "Pipeline"
		convert, wrap = "API pipeline to model pipeline", "Failed to create a pipeline due to pipeline conversion error"
	case v1pkg + "PipelineService.CreatePipelineV1":
		name, model = field(obj, "name"), "Pipeline"
		convert, wrap = "API pipeline to model pipeline", "Failed to create a pipeline (v1beta1) due to pipeline conversion error"
	case v2pkg + "PipelineService.CreatePipelineVersion":
		// After CreatePipelineVersion's fail-fast checks, left to KFP.
		pkg, _ := fieldValue(obj, "package_url").(map[string]any)
		if field(pkg, "pipeline_url") == "" || field(obj, "pipeline_id") == "" {
			return ""
		}
		name, model, limit = firstOf(field(obj, "name"), field(obj, "display_name")), "PipelineVersion", maxVersionNameLen
		convert, wrap = "API pipeline version to model pipeline version", "Failed to create a pipeline version due to conversion error"
	case v1pkg + "PipelineService.CreatePipelineVersionV1":
		pkg, _ := fieldValue(obj, "package_url").(map[string]any)
		if field(pkg, "pipeline_url") == "" {
			return ""
		}
		name, model, limit = field(obj, "name"), "PipelineVersion", maxVersionNameLen
		convert, wrap = "API pipeline version to model pipeline version", "Failed to create a pipeline version (v1beta1) due to conversion error"
	default:
		return ""
	}
	if len(name) <= limit {
		return ""
	}
	return fmt.Sprintf("%s: InternalServerError: Failed to convert %s: Invalid input error: %s.Name length cannot exceed %d",
		wrap, convert, model, limit)
}

// field reads a string field of a decoded JSON message by its proto name
// or its lowerCamel JSON name, as protojson does.
func field(obj map[string]any, protoName string) string {
	s, _ := fieldValue(obj, protoName).(string)
	return s
}

func fieldValue(obj map[string]any, protoName string) any {
	if v, ok := obj[protoName]; ok {
		return v
	}
	return obj[jsonCamel(protoName)]
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// ---- name and display_name (pipelineNames) ----

// pipelineCreate maps a v2beta1 pipeline or version create of KFP 2.14 to
// KFP 2.0.5: the unique name is name, else display_name (toModelPipeline);
// KFP 2.0.5 stores display_name as the name. It returns the display name to
// record when it differs from the name, and the body for KFP 2.0.5 (nil:
// unchanged).
func (a *apiLayer) pipelineCreate(rt *gwRoute, req any) (string, []byte) {
	if !a.profile.pipelineNames() {
		return "", nil
	}
	obj, _ := req.(map[string]any)
	target := obj
	switch rt.name {
	case v2pkg + "PipelineService.CreatePipeline", v2pkg + "PipelineService.CreatePipelineVersion":
	case v2pkg + "PipelineService.CreatePipelineAndVersion":
		target, _ = fieldValue(obj, "pipeline").(map[string]any)
	default:
		return "", nil
	}
	name, display := field(target, "name"), field(target, "display_name")
	if name == "" {
		return "", nil // display_name is the name, as in KFP 2.0.5
	}
	delete(target, "name")
	delete(target, "displayName")
	target["display_name"] = name
	if display == name {
		display = ""
	}
	return display, mustJSON(obj)
}

// rewriteMessage gives the pipelines and versions of an answer their KFP
// 2.14 name and display_name, and the experiments their
// last_run_created_at. ok is false when nothing changed.
func (a *apiLayer) rewriteMessage(body []byte, kind protoreflect.FullName) ([]byte, bool) {
	list := ""
	switch kind {
	case v2ListPipelines:
		list, kind = "pipelines", v2Pipeline
	case v2ListVersions:
		list, kind = "pipeline_versions", v2PipelineVersion
	case v2ListExperiments:
		list, kind = "experiments", v2Experiment
	}
	switch kind {
	case v2Pipeline, v2PipelineVersion:
		if !a.profile.pipelineNames() {
			return nil, false
		}
	case v2Experiment:
		if !a.profile.lastRunCreatedAt() {
			return nil, false
		}
	default:
		return nil, false
	}
	o, ok := parseJSONObject(body)
	if !ok {
		return nil, false
	}
	if list == "" {
		a.rewriteObject(&o, kind)
		return o.encode(), true
	}
	items := o.objects(list)
	if len(items) == 0 {
		return nil, false
	}
	raw := make([]json.RawMessage, len(items))
	for i := range items {
		a.rewriteObject(&items[i], kind)
		raw[i] = items[i].encode()
	}
	o.set(list, mustJSON(raw))
	return o.encode(), true
}

// rewriteObject rewrites one pipeline, version or experiment.
func (a *apiLayer) rewriteObject(o *jsonObject, kind protoreflect.FullName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch kind {
	case v2Experiment:
		// KFP db8669c33e: toApiExperiment always sets the timestamp, so an
		// experiment without runs says 1970.
		last, ok := a.lastRun[o.str("experiment_id")]
		if !ok {
			last = epochTimestamp
		}
		o.set("last_run_created_at", mustJSON(last))
	case v2Pipeline, v2PipelineVersion:
		// KFP ea20731060: name is what KFP 2.0.5 calls display_name; proto
		// order puts it right after display_name.
		name := o.str("display_name")
		if name == "" {
			return
		}
		id, m := o.str("pipeline_id"), a.pipelineDisplay
		if kind == v2PipelineVersion {
			id, m = o.str("pipeline_version_id"), a.versionDisplay
		}
		if d, ok := m[id]; ok {
			o.set("display_name", mustJSON(d))
		}
		o.setAfter("display_name", "name", mustJSON(name))
	}
}

// forget drops the display name of a deleted pipeline or version.
func (a *apiLayer) forget(path string) {
	id := path[strings.LastIndex(path, "/")+1:]
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pipelineDisplay, id)
	delete(a.versionDisplay, id)
}

// recordRun remembers a new run's creation time for its experiment
// (KFP db8669c33e: ResourceManager.CreateRun → SetLastRunTimestamp).
func (a *apiLayer) recordRun(answer []byte) {
	o, ok := parseJSONObject(answer)
	if !ok {
		return
	}
	exp, created := o.str("experiment_id"), o.str("created_at")
	if run, ok := parseJSONObject(o.get("run")); ok { // v1beta1 RunDetail
		created = run.str("created_at")
		var refs []struct {
			Key struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"key"`
		}
		json.Unmarshal(run.get("resource_references"), &refs)
		for _, ref := range refs {
			if ref.Key.Type == "EXPERIMENT" {
				exp = ref.Key.ID
			}
		}
	}
	if exp == "" || created == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastRun[exp] = created
}

// listByDisplayName serves a v2beta1 list of pipelines or versions whose
// filter or sort_by uses display_name, which KFP 2.14 maps to the new
// DisplayName column and KFP 2.0.5 to the unique name. It lists through KFP
// without those parts, filters and sorts here, and pages the result with
// its own page token. It reports false, having written nothing, when KFP
// 2.0.5 can answer by itself: no display name differs from its name, or
// the request is one KFP should judge (bad filter, page size or token).
func (a *apiLayer) listByDisplayName(w http.ResponseWriter, r *http.Request, next http.Handler, rt *gwRoute) bool {
	displays := a.pipelineDisplay
	listKey, idKey, kind := "pipelines", "pipeline_id", protoreflect.FullName(v2Pipeline)
	if rt.out == v2ListVersions {
		displays, listKey, idKey, kind = a.versionDisplay, "pipeline_versions", "pipeline_version_id", v2PipelineVersion
	}
	a.mu.Lock()
	differ := len(displays) > 0
	a.mu.Unlock()
	q := r.URL.Query()
	offset, ownToken := decodeListToken(q.Get("page_token"))
	if !differ && !ownToken || q.Get("page_token") != "" && !ownToken {
		return false
	}
	var filter apiv2beta1.Filter
	if f := q.Get("filter"); f != "" {
		// KFP's parseAPIFilter unescapes the value once more.
		dec, err := url.QueryUnescape(f)
		if err != nil || protojson.Unmarshal([]byte(dec), &filter) != nil {
			return false
		}
	}
	var own, rest []*apiv2beta1.Predicate
	for _, p := range filter.GetPredicates() {
		if p.GetKey() != "display_name" {
			rest = append(rest, p)
			continue
		}
		switch p.GetValue().(type) {
		case *apiv2beta1.Predicate_StringValue, *apiv2beta1.Predicate_StringValues_:
			own = append(own, p)
		default:
			return false
		}
	}
	sortBy := strings.Fields(q.Get("sort_by"))
	sortDisplay := len(sortBy) > 0 && sortBy[0] == "display_name"
	desc := sortDisplay && len(sortBy) == 2 && sortBy[1] == "desc"
	if len(own) == 0 && !sortDisplay || sortDisplay && (len(sortBy) > 2 || len(sortBy) == 2 && sortBy[1] != "asc" && !desc) {
		return false
	}
	pageSize := defaultListPageSize
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return false
		}
		if n > 0 {
			pageSize = min(n, innerListPageSize)
		}
	}

	inner := url.Values{}
	for k, v := range q {
		inner[k] = v
	}
	inner.Del("filter")
	inner.Del("page_token")
	if sortDisplay {
		inner.Del("sort_by")
	}
	if len(rest) > 0 {
		filter.Predicates = rest
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&filter)
		if err != nil {
			return false
		}
		inner.Set("filter", url.QueryEscape(string(b)))
	}
	inner.Set("page_size", strconv.Itoa(innerListPageSize))
	var items []jsonObject
	for {
		bw := serveInner(next, innerGet(r, r.URL.Path, inner))
		if bw.status != http.StatusOK {
			toStatusV2(bw)
			bw.flushTo(w)
			return true
		}
		o, _ := parseJSONObject(bw.body.Bytes())
		items = append(items, o.objects(listKey)...)
		tok := o.str("next_page_token")
		if tok == "" {
			break
		}
		inner.Set("page_token", tok)
	}

	a.mu.Lock()
	shown := func(o jsonObject) string {
		if d, ok := displays[o.str(idKey)]; ok {
			return d
		}
		return o.str("display_name")
	}
	var kept []jsonObject
	var keys []string
	for _, o := range items {
		d := shown(o)
		if matchAll(own, d) {
			kept = append(kept, o)
			keys = append(keys, d)
		}
	}
	a.mu.Unlock()
	if sortDisplay {
		// KFP sorts by the field, then by the ID, both the same way.
		idx := make([]int, len(kept))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(x, y int) bool {
			i, j := idx[x], idx[y]
			if keys[i] != keys[j] {
				return (keys[i] < keys[j]) != desc
			}
			return (kept[i].str(idKey) < kept[j].str(idKey)) != desc
		})
		sorted := make([]jsonObject, len(kept))
		for n, i := range idx {
			sorted[n] = kept[i]
		}
		kept = sorted
	}

	var out jsonObject
	if offset < len(kept) {
		page := kept[offset:min(offset+pageSize, len(kept))]
		raw := make([]json.RawMessage, len(page))
		for i := range page {
			a.rewriteObject(&page[i], kind)
			raw[i] = page[i].encode()
		}
		out.set(listKey, mustJSON(raw))
	}
	if len(kept) > 0 {
		out.set("total_size", mustJSON(len(kept)))
	}
	if offset+pageSize < len(kept) {
		out.set("next_page_token", mustJSON(encodeListToken(offset+pageSize)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out.encode())
	return true
}

// matchAll applies display_name predicates as the sandbox's database
// (sqlite) applies them to a name: = and comparisons are byte-wise,
// IS_SUBSTRING (LIKE) ignores ASCII case.
func matchAll(preds []*apiv2beta1.Predicate, s string) bool {
	for _, p := range preds {
		v := p.GetStringValue()
		ok := false
		switch p.GetOperation() {
		case apiv2beta1.Predicate_EQUALS:
			ok = s == v
		case apiv2beta1.Predicate_NOT_EQUALS:
			ok = s != v
		case apiv2beta1.Predicate_GREATER_THAN:
			ok = s > v
		case apiv2beta1.Predicate_GREATER_THAN_EQUALS:
			ok = s >= v
		case apiv2beta1.Predicate_LESS_THAN:
			ok = s < v
		case apiv2beta1.Predicate_LESS_THAN_EQUALS:
			ok = s <= v
		case apiv2beta1.Predicate_IN:
			for _, x := range p.GetStringValues().GetValues() {
				ok = ok || s == x
			}
		case apiv2beta1.Predicate_IS_SUBSTRING:
			ok = strings.Contains(asciiLower(s), asciiLower(v))
		}
		if !ok {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// The layer's own page token: base64 of {"kfp_sandbox_offset":N}.
func encodeListToken(offset int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"kfp_sandbox_offset":%d}`, offset))
}

func decodeListToken(tok string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	var t struct {
		Offset *int `json:"kfp_sandbox_offset"`
	}
	if json.Unmarshal(b, &t) != nil || t.Offset == nil || *t.Offset < 0 {
		return 0, false
	}
	return *t.Offset, true
}

// innerGet is a GET of path with query q (nil: none) for the KFP handler,
// with r's identity headers.
func innerGet(r *http.Request, path string, q url.Values) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodGet
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = path, "", ""
	if q != nil {
		r2.URL.RawQuery = q.Encode()
	}
	r2.Body, r2.ContentLength = http.NoBody, 0
	r2.Header.Del("Content-Type")
	r2.Header.Del("Content-Length")
	return r2
}

// ---- the gateway's routes, from the protos' google.api.http options ----

// gwRoute is one HTTP binding of a KFP service method.
type gwRoute struct {
	name   protoreflect.FullName // the method, e.g. api.RunService.CreateRunV1
	method string
	segs   []string // literal segments; "" for a {variable}
	verb   string   // the ":verb" suffix, if any
	body   protoreflect.MessageDescriptor
	out    protoreflect.FullName
}

// gatewayRoutes reads the HTTP bindings of every v1beta1 and v2beta1 KFP
// service from the go_client's descriptors, which is what grpc-gateway
// generated its handlers from.
func gatewayRoutes() []gwRoute {
	var routes []gwRoute
	for _, pkg := range []protoreflect.FullName{"api", "kubeflow.pipelines.backend.api.v2beta1"} {
		protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
			if !strings.HasPrefix(fd.Path(), "backend/api/") {
				return true
			}
			for i := 0; i < fd.Services().Len(); i++ {
				methods := fd.Services().Get(i).Methods()
				for j := 0; j < methods.Len(); j++ {
					if rt, ok := newRoute(methods.Get(j)); ok {
						routes = append(routes, rt)
					}
				}
			}
			return true
		})
	}
	return routes
}

func newRoute(m protoreflect.MethodDescriptor) (gwRoute, bool) {
	rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return gwRoute{}, false
	}
	rt := gwRoute{name: m.FullName(), out: m.Output().FullName()}
	var tmpl string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		rt.method, tmpl = http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		rt.method, tmpl = http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		rt.method, tmpl = http.MethodPut, p.Put
	case *annotations.HttpRule_Delete:
		rt.method, tmpl = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		rt.method, tmpl = http.MethodPatch, p.Patch
	default:
		return gwRoute{}, false
	}
	switch b := rule.GetBody(); b {
	case "":
	case "*":
		rt.body = m.Input()
	default:
		if fd := m.Input().Fields().ByName(protoreflect.Name(b)); fd != nil && fd.Message() != nil {
			rt.body = fd.Message()
		}
	}
	if i := strings.LastIndex(tmpl, ":"); i > strings.LastIndex(tmpl, "}") {
		tmpl, rt.verb = tmpl[:i], tmpl[i+1:]
	}
	for _, s := range strings.Split(strings.TrimPrefix(tmpl, "/"), "/") {
		if strings.HasPrefix(s, "{") {
			s = ""
		}
		rt.segs = append(rt.segs, s)
	}
	return rt, true
}

// route finds the binding grpc-gateway would call for a request, or nil.
func (a *apiLayer) route(method, path string) *gwRoute {
	comps := strings.Split(strings.TrimPrefix(path, "/"), "/")
	last := comps[len(comps)-1]
	verb := ""
	if i := strings.LastIndex(last, ":"); i > 0 {
		comps[len(comps)-1], verb = last[:i], last[i+1:]
	}
	for i := range a.routes {
		rt := &a.routes[i]
		if rt.method != method || rt.verb != verb || len(rt.segs) != len(comps) {
			continue
		}
		ok := true
		for j, s := range rt.segs {
			if s != "" && s != comps[j] || s == "" && comps[j] == "" {
				ok = false
				break
			}
		}
		if ok {
			return rt
		}
	}
	return nil
}

// ---- JSON helpers ----

// jsonObject is a JSON object that keeps its key order, so rewritten
// answers keep KFP's field order (jsonField, parseObject and marshalObject
// are profile next's, tasks_next.go).
type jsonObject []jsonField

func parseJSONObject(b []byte) (jsonObject, bool) {
	fields, _, err := parseObject(b)
	return jsonObject(fields), err == nil
}

func (o jsonObject) get(k string) json.RawMessage {
	for _, f := range o {
		if f.key == k {
			return f.val
		}
	}
	return nil
}

// str is a string field, or "".
func (o jsonObject) str(k string) string {
	var s string
	json.Unmarshal(o.get(k), &s)
	return s
}

// objects is an array field of objects.
func (o jsonObject) objects(k string) []jsonObject {
	var raw []json.RawMessage
	json.Unmarshal(o.get(k), &raw)
	var out []jsonObject
	for _, r := range raw {
		if x, ok := parseJSONObject(r); ok {
			out = append(out, x)
		}
	}
	return out
}

// set replaces a field, or appends it.
func (o *jsonObject) set(k string, v json.RawMessage) {
	for i := range *o {
		if (*o)[i].key == k {
			(*o)[i].val = v
			return
		}
	}
	*o = append(*o, jsonField{k, v})
}

// setAfter replaces a field, or inserts it after another (or at the end).
func (o *jsonObject) setAfter(after, k string, v json.RawMessage) {
	if o.get(k) != nil {
		o.set(k, v)
		return
	}
	for i := range *o {
		if (*o)[i].key == after {
			*o = append((*o)[:i+1], append(jsonObject{{k, v}}, (*o)[i+1:]...)...)
			return
		}
	}
	o.set(k, v)
}

func (o jsonObject) encode() []byte { return marshalObject(o) }

// decodeJSON decodes one JSON value, keeping numbers as written.
func decodeJSON(b []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v) == nil
}

// mustJSON encodes a value that always encodes (strings, maps of them,
// raw messages), without HTML escapes, as protojson writes.
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("kfp-sandbox: encoding %T: %v", v, err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

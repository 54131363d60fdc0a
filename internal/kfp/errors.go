package kfp

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
)

// gRPC codes KFP maps to HTTP statuses, for callers that branch on them.
const (
	CodeInvalidArgument  = 3
	CodeNotFound         = 5
	CodeAlreadyExists    = 6
	CodePermissionDenied = 7
	// CodeAborted is what KFP's NewBadRequestError answers (HTTP 409,
	// like CodeAlreadyExists): not a duplicate.
	CodeAborted         = 10
	CodeUnauthenticated = 16
)

// APIError is any failed KFP call: an answer that is not a 200 with JSON,
// or a transport failure (Err set, HTTPStatus 0).
type APIError struct {
	Op         string // the API operation, e.g. CreateRun
	HTTPStatus int
	GRPCCode   int
	Message    string
	Location   string // for redirects
	Err        error
	// Hint says what to do about it, when the caller knows (Options.Hint).
	Hint string
}

func (e *APIError) Error() string {
	if e.Hint != "" {
		return e.base() + ". " + e.Hint
	}
	return e.base()
}

func (e *APIError) base() string {
	switch {
	case e.Err != nil:
		if server, why, ok := unreachable(e.Err); ok {
			return fmt.Sprintf("%s: cannot reach %s: %s", e.Op, server, why)
		}
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	case e.HTTPStatus >= 300 && e.HTTPStatus < 400:
		return fmt.Sprintf("%s: HTTP %d redirect to %s: login required (the server sent kf-run to a sign-in page; set a token or username/password)", e.Op, e.HTTPStatus, e.Location)
	case e.GRPCCode != 0:
		return fmt.Sprintf("%s: HTTP %d (grpc %d): %s", e.Op, e.HTTPStatus, e.GRPCCode, e.Message)
	default:
		return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.HTTPStatus, e.Message)
	}
}

func (e *APIError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is a failure to get any answer from
// the server (refused, DNS, TLS, timeout, reset), as opposed to an error
// the server answered with.
func IsUnreachable(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Err == nil {
		return false
	}
	_, _, ok := unreachable(ae.Err)
	return ok
}

// IsNotFound reports whether err is KFP saying the object does not exist:
// HTTP 404, or gRPC code NotFound.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.HTTPStatus == http.StatusNotFound || ae.GRPCCode == CodeNotFound)
}

// IsAlreadyExists reports whether err is KFP saying that what was to be
// created exists already. KFP's versions say so differently:
//   - the gRPC calls (experiments, runs): HTTP 409 with code 6; 409 with
//     code 10 (Aborted) is KFP's "bad request", not a duplicate;
//   - the upload handlers, KFP 2.0.x: HTTP 500 text/plain with JSON
//     {"error_message": "... Already exist error: ..."};
//   - the upload handlers, KFP ≥ 2.1 (kubeflow/pipelines#10546): HTTP 409
//     application/json {"error_message","error_details"}, no code, and
//     from 2.15 only "Failed to create a pipeline version".
func IsAlreadyExists(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Err != nil {
		return false
	}
	switch {
	case ae.GRPCCode == CodeAlreadyExists:
		return true
	case ae.GRPCCode != 0:
		return false
	case ae.HTTPStatus == http.StatusConflict:
		return true
	}
	return ae.HTTPStatus == http.StatusInternalServerError && strings.Contains(strings.ToLower(ae.Message), "already exist")
}

// ambiguous reports whether a failed create may nevertheless have created
// something: the request may have reached the server but the answer was lost.
func ambiguous(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.Err != nil {
		return true // timeout, reset: we cannot know
	}
	switch ae.HTTPStatus {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// mayCommitLate reports whether a lost create may still be going on at
// KFP: the gateway gave up (504) or the attempt timed out or was cut while
// KFP worked. Then what it makes can appear seconds later. A 502 or 503
// means KFP did not answer at all: what is not there at once is not
// coming.
func mayCommitLate(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Err != nil || ae.HTTPStatus == http.StatusGatewayTimeout
}

func newAPIError(op string, status int, contentType, location string, body io.Reader) *APIError {
	e := &APIError{Op: op, HTTPStatus: status, Location: location}
	var b []byte
	if body != nil {
		b, _ = io.ReadAll(io.LimitReader(body, 64<<10))
	}
	// The shapes of KFP's error answers, by where they come from:
	//   - grpc-gateway v1 (KFP ≤ 2.13): {"error","code","message","details"};
	//   - grpc-gateway v2 (KFP ≥ 2.14, kubeflow/pipelines#12067): the
	//     same without "error";
	//   - the upload handlers: {"error_message","error_details"}, sent
	//     as text/plain by KFP 2.0.x (the Content-Type is sniffed);
	//   - http.Error, plain text (KFP ≥ 2.15: a name too long, a
	//     namespace required): "Invalid input error: Pipeline.Name
	//     length cannot exceed 128".
	var gw struct {
		Code         int    `json:"code"`
		Message      string `json:"message"`
		Error        string `json:"error"`
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal(b, &gw) == nil {
		e.GRPCCode = gw.Code
		e.Message = squeeze(cmp.Or(gw.Message, gw.Error, gw.ErrorMessage))
	}
	if e.Message == "" {
		txt := strings.TrimSpace(string(b))
		if len(txt) > 300 {
			txt = txt[:300] + "…"
		}
		switch {
		case status == http.StatusOK:
			e.Message = fmt.Sprintf("unexpected Content-Type %q (a login page or proxy answered instead of KFP)", contentType)
		case txt == "":
			e.Message = http.StatusText(status)
		default:
			e.Message = squeeze(txt)
		}
	}
	if strings.Contains(e.Message, "length cannot exceed") {
		e.Hint = "KFP 2.15 and later limit lengths (experiment and pipeline names 128 bytes, version names 127, namespaces 63): shorten the one the message names"
	}
	return e
}

// squeeze drops the repeats KFP's wrapping leaves in a message ("Failed to
// create a pipeline version: Failed to create a pipeline version: ...").
func squeeze(msg string) string {
	parts := strings.Split(msg, ": ")
	out := parts[:0]
	for _, p := range parts {
		if len(out) > 0 && out[len(out)-1] == p {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

func jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}

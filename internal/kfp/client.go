// Package kfp is kf-run's client for the Kubeflow Pipelines v2beta1 REST API.
//
// It wraps KFP's generated go_http_client (pinned to KFP 2.0.5's generator)
// thinly, and no other package sees the generated types. The wrapper adds
// what the generated client lacks, each gap measured against KFP's own server
// code (see the README's "KFP client" notes):
//   - one error type, *APIError, for every non-200 or non-JSON answer (the
//     generated client loses status and message for experiments and uploads,
//     and panics on a 2xx other than 200);
//   - retries through go-retryablehttp that never repeat a request which may
//     have created something (KFP has no idempotency key): creates are
//     reconciled by a token in the description before any retry;
//   - credentials on every attempt, redirects to a login page reported as
//     such, no debug dumps of the bearer token, no zero timestamps sent.
//
// It does not choose what to submit or how long to wait: that is submit and wait.
package kfp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/experiment_client/experiment_service"
	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/pipeline_upload_client/pipeline_upload_service"
	"github.com/kubeflow/pipelines/backend/api/v2beta1/go_http_client/run_client/run_service"
)

// Options tune a Client. The zero value is fine for production.
type Options struct {
	// Transport carries every attempt, inside the retry loop: it
	// authenticates each one (internal/auth makes it from the configured
	// credentials, so a refreshed token is used on the next attempt) and
	// owns TLS and proxies. Default: a clone of http.DefaultTransport
	// (HTTPS_PROXY, NO_PROXY), no credentials.
	Transport http.RoundTripper
	// AttemptTimeout bounds one HTTP attempt, so a hung attempt is retried
	// (reads only) instead of waiting forever. Default 60s.
	AttemptTimeout time.Duration
	// RetryMax is the number of retries after the first attempt. Default 4;
	// negative means none.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the jittered exponential backoff.
	// Defaults 500ms and 15s.
	RetryWaitMin, RetryWaitMax time.Duration
	// ReconcileFor is how long a create whose answer was lost to a 504, an
	// attempt timeout or a reset keeps looking for what it made, with
	// backoff, before it creates again: a gateway's 504 usually means KFP
	// is still creating (making the Argo workflow), so a single look at
	// once finds nothing. (After a 502 or 503 it looks once.) Default 30s;
	// negative means one look.
	ReconcileFor time.Duration
	// Now and Sleep are the clock of the create reconcile loop (tests
	// inject a fake one). Sleep returns early with ctx's error. Defaults:
	// the real clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives one debug line per retry. Default: discard.
	Logger *slog.Logger
	// Pods reads task logs from Kubernetes directly when kf-run can reach
	// the cluster (StepLog's last path). Nil: no cluster access.
	Pods PodLogReader
	// Hint, when set, says what to do about an error (APIError.Hint): which
	// credential was sent, which setting fixes it. Only the caller knows.
	Hint func(*APIError) string
	// UserAgent names kf-run to the server (its access logs, a gateway's
	// rules), e.g. "kf-run/v1.2.3". Default "kf-run".
	UserAgent string
}

// Client talks to one KFP API server. It is safe for concurrent use.
type Client struct {
	target      Target
	base        *url.URL
	http        *http.Client // retrying client with auth, for non-generated calls
	runs        *run_service.Client
	experiments *experiment_service.Client
	uploads     *pipeline_upload_service.Client
	log         *slog.Logger
	hint        func(*APIError) string
	pods        PodLogReader
	// retryWait is the first pause between attempts of a create, and
	// between looks for a create whose answer was lost.
	retryWait time.Duration
	// reconcileFor bounds the looks for a lost create (Options.ReconcileFor).
	reconcileFor time.Duration
	now          func() time.Time
	sleep        func(context.Context, time.Duration) error

	// srv is the server's healthz answer, read once (Server).
	srvMu sync.Mutex
	srv   *Server
}

// New makes a Client for t. It does no I/O.
func New(t Target, o Options) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(t.Host, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("KFP host %q is not an http(s) URL: set kubeflow.host to e.g. https://kubeflow.example.com/pipeline", t.Host)
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = 60 * time.Second
	}
	switch {
	case o.RetryMax == 0:
		o.RetryMax = 4
	case o.RetryMax < 0:
		o.RetryMax = 0
	}
	if o.RetryWaitMin == 0 {
		o.RetryWaitMin = 500 * time.Millisecond
	}
	if o.RetryWaitMax == 0 {
		o.RetryWaitMax = 15 * time.Second
	}
	switch {
	case o.ReconcileFor == 0:
		o.ReconcileFor = 30 * time.Second
	case o.ReconcileFor < 0:
		o.ReconcileFor = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}

	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport:     userAgent{next: o.Transport, ua: cmp.Or(o.UserAgent, "kf-run")},
		Timeout:       o.AttemptTimeout,
		CheckRedirect: noRedirect,
	}
	rc.RetryMax = o.RetryMax
	rc.RetryWaitMin, rc.RetryWaitMax = o.RetryWaitMin, o.RetryWaitMax
	rc.CheckRetry = checkRetry
	rc.Backoff = backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.Logger = nil
	log := o.Logger
	rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, attempt int) {
		if attempt > 0 {
			log.Debug("retrying KFP request", "method", r.Method, "path", r.URL.Path, "attempt", attempt+1)
		}
	}
	hc := rc.StandardClient()
	hc.CheckRedirect = noRedirect

	rt := httptransport.NewWithClient(base.Host, cmp.Or(base.Path, "/"), []string{base.Scheme}, hc)
	// DEBUG/SWAGGER_DEBUG would dump the bearer token to stderr. (Not
	// SetDebug: it also writes a package global of go-openapi.)
	rt.Debug = false
	rt.Consumers["*/*"] = runtime.ByteStreamConsumer()
	rt.Producers[runtime.JSONMime] = runtime.ProducerFunc(produceJSON)
	tr := errorTransport{next: rt, hint: o.Hint}

	return &Client{
		target:       t,
		base:         base,
		http:         hc,
		runs:         run_service.New(tr, strfmt.Default),
		experiments:  experiment_service.New(tr, strfmt.Default),
		uploads:      pipeline_upload_service.New(tr, strfmt.Default),
		log:          log,
		hint:         o.Hint,
		pods:         o.Pods,
		retryWait:    o.RetryWaitMin,
		reconcileFor: o.ReconcileFor,
		now:          o.Now,
		sleep:        o.Sleep,
	}, nil
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Target is the server this client talks to.
func (c *Client) Target() Target { return c.target }

// unsafeKey marks a request that may create something on the server.
type unsafeKey struct{}

// mayCreate marks ctx's requests as not safe to repeat blindly: after a
// response was possibly lost they are not retried, the caller reconciles.
func mayCreate(ctx context.Context) context.Context {
	return context.WithValue(ctx, unsafeKey{}, true)
}

// checkRetry retries what surely did no harm: for reads, connection
// failures, 429, 502, 503 and 504; for creates, only a failed dial and 429
// (a 502/503 can come from a gateway after KFP got the request: the
// create's own reconcile loop handles those). It never retries 500: KFP
// answers 500 for errors that will not go away (an unknown pipeline
// version, a duplicate name).
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	unsafe, _ := ctx.Value(unsafeKey{}).(bool)
	if err != nil {
		// The transport says when trying again cannot help (a refused login).
		var p interface{ Permanent() bool }
		if errors.As(err, &p) && p.Permanent() {
			return false, nil
		}
		if unsafe {
			var op *net.OpError
			return errors.As(err, &op) && op.Op == "dial", nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return !unsafe, nil
	}
	return false, nil
}

// backoff is exponential with full jitter between min and max, and honours
// Retry-After on 429 and 503 (capped at max).
func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			d := time.Duration(s) * time.Second
			return min(d, hi)
		}
	}
	d := lo << uint(min(attempt, 20))
	if d > hi || d <= 0 {
		d = hi
	}
	// Jitter keeps many CI jobs hitting one server from retrying in step.
	return lo/2 + time.Duration(jitter(int64(d-lo/2)))
}

// errorTransport turns every answer that is not a 200 with a JSON body into
// an *APIError, before the generated readers see it.
type errorTransport struct {
	next runtime.ClientTransport
	hint func(*APIError) string
}

func (t errorTransport) Submit(op *runtime.ClientOperation) (any, error) {
	orig := op.Reader
	id := op.ID
	op.Reader = runtime.ClientResponseReaderFunc(func(r runtime.ClientResponse, c runtime.Consumer) (any, error) {
		ct := r.GetHeader("Content-Type")
		if r.Code() != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
			return nil, newAPIError(id, r.Code(), ct, r.GetHeader("Location"), r.Body())
		}
		return orig.ReadResponse(r, c)
	})
	res, err := t.next.Submit(op)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = &APIError{Op: id, Err: err}
		}
		return nil, withHint(ae, t.hint)
	}
	return res, nil
}

func withHint(ae *APIError, hint func(*APIError) string) *APIError {
	if hint != nil && ae.Hint == "" {
		ae.Hint = hint(ae)
	}
	return ae
}

// produceJSON encodes request bodies without the zero timestamps the
// generated models always carry (KFP stores 0001-01-01 as given: a recurring
// run with such an end time never fires).
func produceJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil { // not an object: send as is
		_, err = w.Write(b)
		return err
	}
	dropZeroTimes(m)
	return json.NewEncoder(w).Encode(m)
}

func dropZeroTimes(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if (strings.HasSuffix(k, "_at") || strings.HasSuffix(k, "_time")) && strings.HasPrefix(v, "0001-01-01") {
				delete(m, k)
			}
		case map[string]any:
			if k != "pipeline_spec" && k != "runtime_config" {
				dropZeroTimes(v)
			}
		}
	}
}

// userAgent sets the User-Agent of every attempt that has none.
type userAgent struct {
	next http.RoundTripper
	ua   string
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("User-Agent") != "" {
		return u.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind is what an injected fault does to a matching request.
type FaultKind string

const (
	Fault503     FaultKind = "503"      // 503 with a grpc-gateway shaped JSON body (code 14)
	Fault503HTML FaultKind = "503-html" // 503 with an HTML page, as an ingress proxy sends it
	Fault429     FaultKind = "429"      // 429 with Retry-After
	FaultLatency FaultKind = "latency"  // wait Delay, then serve normally
	FaultReset   FaultKind = "reset"    // TCP reset, no response
	FaultHang    FaultKind = "hang"     // never answer until the client gives up
	// FaultLostAnswer serves the request (KFP creates what was asked), then
	// answers 504 as a gateway that timed out would: the client cannot tell
	// whether anything was created.
	FaultLostAnswer FaultKind = "504-after"
	// FaultLateCommit answers a gateway's 504 at once, and serves the
	// request (KFP creates what was asked) Delay later, as KFP does when
	// the gateway gives up while it is still making the Argo workflow: a
	// look for the thing right after the 504 finds nothing.
	FaultLateCommit FaultKind = "504-late"
)

// Fault injects failures into matching requests, in a middleware in front of
// KFP's handlers and the sandbox lock. Control requests (/_sandbox/) are
// never faulted.
type Fault struct {
	Method     string    `json:"method,omitempty"`      // empty = any
	Path       string    `json:"path,omitempty"`        // Go regexp on the URL path; empty = any
	Times      int       `json:"times,omitempty"`       // how many requests to fault; 0 = forever
	Fraction   float64   `json:"fraction,omitempty"`    // probability per matching request; 0 = 1
	Kind       FaultKind `json:"kind"`                  //
	Delay      Duration  `json:"delay,omitempty"`       // latency, 504-late: how long
	RetryAfter int       `json:"retry_after,omitempty"` // 429: Retry-After seconds (default 1)
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

type activeFault struct {
	Fault
	re   *regexp.Regexp
	left int // remaining when Times > 0
}

// Faults is the sandbox's fault table. Safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	faults []*activeFault
	rand   func() float64
}

// Add validates and installs a fault. Later faults are checked first.
func (f *Faults) Add(ft Fault) error {
	switch ft.Kind {
	case Fault503, Fault503HTML, Fault429, FaultLatency, FaultReset, FaultHang, FaultLostAnswer:
	case FaultLateCommit:
		if ft.Delay <= 0 {
			return fmt.Errorf("fault kind 504-late: set delay (e.g. \"3s\"), how long after the 504 KFP commits the request")
		}
	default:
		return fmt.Errorf("fault kind %q: want 503, 503-html, 429, latency, reset, hang, 504-after or 504-late", ft.Kind)
	}
	if ft.Fraction < 0 || ft.Fraction > 1 {
		return fmt.Errorf("fault fraction %v: want 0..1", ft.Fraction)
	}
	if ft.Times < 0 {
		return fmt.Errorf("fault times %d: want >= 0", ft.Times)
	}
	re, err := regexp.Compile(ft.Path)
	if err != nil {
		return fmt.Errorf("fault path: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &activeFault{Fault: ft, re: re, left: ft.Times})
	return nil
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Len is the number of faults installed and not used up.
func (f *Faults) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.faults)
}

// pick returns the fault to apply to r, consuming one of its times.
func (f *Faults) pick(r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.faults) - 1; i >= 0; i-- {
		a := f.faults[i]
		if a.Method != "" && !strings.EqualFold(a.Method, r.Method) {
			continue
		}
		if !a.re.MatchString(r.URL.Path) {
			continue
		}
		if a.Fraction > 0 && a.Fraction < 1 && f.rand() >= a.Fraction {
			continue
		}
		if a.Times > 0 {
			a.left--
			if a.left <= 0 {
				f.faults = append(f.faults[:i], f.faults[i+1:]...)
			}
		}
		ft := a.Fault
		return &ft
	}
	return nil
}

// Request is one entry of the request log.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Status int    `json:"status"`          // 0 when the connection was reset or abandoned
	Fault  string `json:"fault"`           // the injected fault kind, or ""
	Agent  string `json:"agent,omitempty"` // the User-Agent, to tell clients apart (benchmarks)
}

type requestLog struct {
	mu   sync.Mutex
	reqs []Request
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
}

func (l *requestLog) list() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request{}, l.reqs...)
}

func (l *requestLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController flush streams (watches, log follows).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// faultAndLog is the outermost middleware for KFP traffic: it records the
// request and applies a matching fault before anything else runs.
func (s *Sandbox) faultAndLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Agent: r.UserAgent()}
		ft := s.faults.pick(r)
		if ft != nil {
			entry.Fault = string(ft.Kind)
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			entry.Status = sw.status
			s.requests.add(entry)
		}()
		if ft == nil {
			next.ServeHTTP(sw, r)
			return
		}
		s.log.Info("sandbox: injecting fault", "kind", ft.Kind, "method", r.Method, "path", r.URL.Path)
		switch ft.Kind {
		case Fault503:
			sw.Header().Set("Content-Type", "application/json")
			sw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(sw, `{"error":"sandbox fault: service unavailable","code":14,"message":"sandbox fault: service unavailable","details":[]}`)
		case Fault503HTML:
			sw.Header().Set("Content-Type", "text/html")
			sw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(sw, "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		case Fault429:
			ra := ft.RetryAfter
			if ra <= 0 {
				ra = 1
			}
			sw.Header().Set("Retry-After", strconv.Itoa(ra))
			sw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			sw.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(sw, "Too Many Requests\n")
		case FaultLatency:
			t := time.NewTimer(time.Duration(ft.Delay))
			defer t.Stop()
			select {
			case <-t.C:
				next.ServeHTTP(sw, r)
			case <-r.Context().Done():
			case <-s.closing:
			}
		case FaultLostAnswer:
			next.ServeHTTP(&discardWriter{header: http.Header{}}, r)
			writeGateway504(sw)
		case FaultLateCommit:
			late, err := detach(r)
			if err != nil {
				// Nothing will be committed: a bare 504, as a gateway whose
				// upstream never got the request sends it.
				s.log.Warn("sandbox: 504-late could not keep the request", "err", err)
			}
			writeGateway504(sw)
			if late != nil {
				go s.serveLate(next, late, time.Duration(ft.Delay))
			}
		case FaultReset:
			reset(w)
		case FaultHang:
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
		}
	})
}

// writeGateway504 is an ingress proxy's answer when its upstream is too slow.
func writeGateway504(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusGatewayTimeout)
	fmt.Fprint(w, "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>\r\n")
}

// detach copies r, body included, so that it can be served after its
// handler returned: by then the server has closed r's body and cancelled
// its context.
func detach(r *http.Request) (*http.Request, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", r.Method, r.URL.Path, err)
	}
	late := r.Clone(context.WithoutCancel(r.Context()))
	late.Body = io.NopCloser(bytes.NewReader(body))
	late.ContentLength = int64(len(body))
	return late, nil
}

// serveLate serves r to KFP after delay, unless the sandbox closes first.
// Its answer goes nowhere: the client already got its 504. KFP's lock
// orders it against Close.
func (s *Sandbox) serveLate(next http.Handler, r *http.Request, delay time.Duration) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closing:
		return
	}
	s.log.Info("sandbox: committing a request answered 504 earlier", "method", r.Method, "path", r.URL.Path, "delay", delay)
	next.ServeHTTP(&discardWriter{header: http.Header{}}, r)
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// discardWriter takes a KFP answer that the client must never see.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// Package sandbox runs Kubeflow Pipelines' own API server (KFP 2.0.5) in a Go
// process, with KFP's fake Kubernetes and Argo clients and an in-memory
// database, so kf-run can be tested and demonstrated without a cluster.
//
// Runs progress the way they do in a cluster: the Argo workflow KFP compiled
// gets an Argo-like status (see sim.go) that is reported through KFP's report
// server, as the persistence agent does. Outcomes can be scripted per run and
// task. A loopback OCI registry holds images runs may use, faults can be
// injected in front of the API, and every API request is logged.
//
// It deliberately does not run containers, evaluate conditions, talk to
// MLMD or object storage, or simulate the KFP UI beyond its pod-log route.
// KFP's globals (viper config, glog) are process-wide: a process holds
// sandboxes of one mode (single- or multi-user) only.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Clock is the sandbox's time source, for KFP's timestamps and the runs'
// schedules.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options configure a sandbox. The zero value is a single-user sandbox on a
// random loopback port.
type Options struct {
	Listen       string        // address for the API; default 127.0.0.1:0
	MultiUser    bool          // KFP's MULTIUSER mode
	Profile      Profile       // the KFP version to stand for; default 2.0 (see Profile)
	Prefix       string        // serve KFP under this path, e.g. /pipeline
	StepDuration time.Duration // time per simulated step; default 300ms
	Tick         time.Duration // how often runs advance and schedules are synced; default StepDuration/3, < 0 = only on Tick()
	Clock        Clock         // default: the real clock; a *ManualClock turns the tick off (see AdvanceClock)
	Namespace    string        // KFP's own namespace (POD_NAMESPACE); default kubeflow
	UserIDHeader string        // KUBEFLOW_USERID_HEADER; default kubeflow-userid

	// Allow maps a user to the namespaces they may act in ("*" = all). Nil
	// allows everyone everywhere, as KFP's stock fake does.
	Allow map[string][]string
	// Tokens maps bearer tokens to users. Empty accepts any token as user
	// "test", as KFP's stock fake does.
	Tokens map[string]string

	RegistryUser, RegistryPassword string // basic auth for the registry; empty = none

	Watchdog time.Duration // longest a KFP request may take; default 20s
	Logger   *slog.Logger  // default: discard
}

// ErrUnknownRun is returned for a run ID the sandbox has no workflow for.
var ErrUnknownRun = errors.New("no workflow for this run")

// Sandbox is a running KFP API server with its registry.
type Sandbox struct {
	opts       Options
	clock      Clock
	log        *slog.Logger
	agentToken string

	kfp      *kfp
	api      *apiLayer // the profile's API differences (profile_api.go)
	registry *ociRegistry
	faults   *Faults
	requests *requestLog

	lock     *bigLock           // kfpLock, or a test's own
	runs     map[string]*runSim // by workflow name
	byRunID  map[string]*runSim
	syncErrs map[string]string // the last error syncing each schedule (schedule.go)
	kubeRV   int64             // the Kubernetes resourceVersion of the last workflow change (workflows.go)
	changed  chan struct{}     // closed and replaced after every tick and change: wakes watches and log follows

	scriptMu sync.Mutex
	scripts  []Script

	ln      net.Listener
	srv     *http.Server
	url     string
	closing chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// Start starts a sandbox and serves it until Close or ctx is done.
func Start(ctx context.Context, o Options) (*Sandbox, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.StepDuration <= 0 {
		o.StepDuration = 300 * time.Millisecond
	}
	if o.Tick == 0 {
		o.Tick = o.StepDuration / 3
	}
	if o.Namespace == "" {
		o.Namespace = "kubeflow"
	}
	if o.UserIDHeader == "" {
		o.UserIDHeader = "kubeflow-userid"
	}
	if o.Watchdog <= 0 {
		o.Watchdog = 20 * time.Second
	}
	if o.Prefix != "" {
		o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	}
	profile, err := ParseProfile(string(o.Profile))
	if err != nil {
		return nil, err
	}
	o.Profile = profile
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if _, manual := o.Clock.(*ManualClock); manual {
		// Nothing happens between two AdvanceClock calls.
		o.Tick = -1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{
		opts: o, clock: o.Clock, log: o.Logger,
		agentToken: "sandbox-agent-" + uuid.NewString(),
		api:        newAPILayer(profile),
		faults:     &Faults{rand: randFloat},
		requests:   &requestLog{},
		lock:       kfpLock,
		runs:       map[string]*runSim{},
		byRunID:    map[string]*runSim{},
		syncErrs:   map[string]string{},
		changed:    make(chan struct{}),
		closing:    make(chan struct{}),
	}
	errLog := slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	if s.registry, err = startRegistry(o.RegistryUser, o.RegistryPassword, log.New(io.Discard, "", 0)); err != nil {
		return nil, err
	}
	// Under the lock: newKFP writes KFP's process-wide viper keys, which
	// other sandboxes' handlers read under the same lock.
	if !s.acquire(ctx, "start") {
		s.registry.close()
		return nil, fmt.Errorf("sandbox start: %w", ctx.Err())
	}
	s.kfp, err = newKFP(&o, timeAdapter{o.Clock}, s.agentToken)
	s.release()
	if err != nil {
		s.registry.close()
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", o.Listen); err != nil {
		s.kfp.close()
		s.registry.close()
		return nil, fmt.Errorf("sandbox listen %s: %w", o.Listen, err)
	}
	s.url = "http://" + s.ln.Addr().String() + o.Prefix
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox: serve", "err", err)
		}
	}()
	if o.Tick > 0 {
		s.wg.Add(1)
		go s.loop(o.Tick)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.closing:
		}
	}()
	s.log.Info("sandbox: serving", "url", s.url, "registry", s.registry.addr, "multi_user", o.MultiUser, "kfp_profile", o.Profile)
	return s, nil
}

// URL is the KFP API base URL, prefix included (http://127.0.0.1:PORT/pipeline).
func (s *Sandbox) URL() string { return s.url }

// ControlURL is the server root, where /_sandbox/ and /k8s/pod/logs live.
func (s *Sandbox) ControlURL() string { return "http://" + s.ln.Addr().String() }

// RegistryAddr is the loopback registry's host:port.
func (s *Sandbox) RegistryAddr() string { return s.registry.addr }

// Faults is the fault table.
func (s *Sandbox) Faults() *Faults { return s.faults }

// Requests returns the request log (KFP traffic only, not /_sandbox/).
func (s *Sandbox) Requests() []Request { return s.requests.list() }

// ClearRequests empties the request log.
func (s *Sandbox) ClearRequests() { s.requests.clear() }

// Close stops serving and releases everything. Hung requests are cut.
func (s *Sandbox) Close() error {
	s.once.Do(func() {
		close(s.closing)
		s.srv.Close()
		s.wg.Wait()
		s.registry.close()
		// Wait for KFP handlers still running, but not for one that spins.
		select {
		case s.lock.ch <- struct{}{}:
			s.kfp.close()
			s.release()
		case <-time.After(s.opts.Watchdog):
			s.log.Error("sandbox: a KFP handler still holds the lock; leaving KFP's database open", "holder", s.lockHolder())
		}
	})
	return nil
}

func (s *Sandbox) loop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			if s.acquire(context.Background(), "advance") {
				s.tickLocked()
				s.release()
			}
		}
	}
}

// bigLock serialises every call into KFP and every advance. A channel, so
// waiting for it can time out.
type bigLock struct {
	ch     chan struct{}
	mu     sync.Mutex
	holder string // what holds the lock, for the watchdog's message
	at     time.Time
}

func newBigLock() *bigLock { return &bigLock{ch: make(chan struct{}, 1)} }

// kfpLock is shared by every sandbox in the process, because the state it
// guards is partly process-wide: KFP's fakes are per sandbox, but Argo's
// workflow validation (run on every create) uses a package-level counter,
// and KFP reads viper on every request.
var kfpLock = newBigLock()

// acquire takes the lock, giving up when ctx is done or the sandbox
// closes.
func (s *Sandbox) acquire(ctx context.Context, what string) bool {
	select {
	case s.lock.ch <- struct{}{}:
		s.lock.mu.Lock()
		s.lock.holder, s.lock.at = what, time.Now()
		s.lock.mu.Unlock()
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

func (s *Sandbox) release() { <-s.lock.ch }

// lockHolder describes what holds the lock and for how long.
func (s *Sandbox) lockHolder() string {
	s.lock.mu.Lock()
	defer s.lock.mu.Unlock()
	return fmt.Sprintf("%s (for %s)", s.lock.holder, time.Since(s.lock.at).Round(time.Millisecond))
}

func randFloat() float64 { return rand.Float64() }

type timeAdapter struct{ c Clock }

func (t timeAdapter) Now() time.Time { return t.c.Now() }

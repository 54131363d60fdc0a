// Package livelog prints the log lines of runs' steps while they run, each
// after a [pipeline/task] tag, with a line when a step starts and ends.
// With access to the cluster's Kubernetes API it follows each executor
// pod's log stream (client-go, with timestamps, reconnecting from the last
// line's time so that no line is lost or printed twice); without, it reads
// the step's log through KFP's log routes every few seconds and prints the
// lines it has not printed. A log that cannot be read is a notice, never a
// failure, and never holds the wait up.
//
// It does not find out what runs or which steps exist: the wait loop hands
// it each view of a run (Update).
package livelog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kf-run/kf-run/internal/kfp"
)

// Kube follows pod logs through the Kubernetes API.
type Kube interface {
	FindPod(ctx context.Context, namespace, workflow, nodeID string, names []string) (string, error)
	Stream(ctx context.Context, namespace, pod string, since time.Time) (io.ReadCloser, error)
	Ended(ctx context.Context, namespace, pod string) (bool, error)
}

// Poller reads a step's log through KFP (kfp.Client.StepLog).
type Poller interface {
	StepLog(ctx context.Context, run kfp.Run, s kfp.Step, minor int, limit int64) (kfp.StepLog, error)
}

// Options configure Logs. Print and Notice are required.
type Options struct {
	Kube      Kube   // nil: no cluster access, poll
	Namespace string // where the runs' pods are
	Poll      Poller
	Minor     int           // the server's KFP 2.x minor (-1 unknown): which pod names to try
	Every     time.Duration // how often a step's log is read without Kube (default 3s)
	MaxLines  int           // lines printed per step (default 20000); the rest are counted
	// Print writes lines after a tag; colour tells tags apart.
	Print func(tag string, colour int, lines []string)
	// Notice says why a log could not be followed.
	Notice func(msg string)
}

// maxFollowers bounds the steps followed at once; the others wait.
const maxFollowers = 32

// Logs follows the steps of every run it is told about.
type Logs struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	steps   map[string]*step
	colours map[string]int
}

type step struct {
	tag    string
	colour int
	run    kfp.Run
	s      kfp.Step
	ended  chan struct{} // closed when KFP says the step ended
	closed bool
}

// New starts following nothing yet; Close ends it.
func New(ctx context.Context, o Options) *Logs {
	if o.Every <= 0 {
		o.Every = 3 * time.Second
	}
	if o.MaxLines <= 0 {
		o.MaxLines = 20000
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Logs{o: o, ctx: ctx, cancel: cancel, sem: make(chan struct{}, maxFollowers), steps: map[string]*step{}, colours: map[string]int{}}
}

// Update takes a view of pipeline's run: a step seen for the first time is
// followed from the start of its log; a step that ended is let go once its
// log is printed.
func (l *Logs) Update(pipeline string, run kfp.Run) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range run.Steps() {
		key := run.ID + "\x00" + strings.Join(s.Path, "\x00")
		st, ok := l.steps[key]
		if !ok {
			if s.State == kfp.StateUnspecified || s.State == kfp.StatePending {
				continue
			}
			tag := "[" + pipeline + "/" + strings.Join(s.Path, "/") + "]"
			if _, ok := l.colours[tag]; !ok {
				l.colours[tag] = len(l.colours)
			}
			st = &step{tag: tag, colour: l.colours[tag], ended: make(chan struct{})}
			l.steps[key] = st
			st.run, st.s = run, s
			l.wg.Add(1)
			go l.follow(st)
		}
		st.run, st.s = run, s
		if s.State.IsTerminal() && !st.closed {
			st.closed = true
			close(st.ended)
		}
	}
}

// Close waits until every followed step's log is printed, or ctx is done;
// then it stops the rest.
func (l *Logs) Close(ctx context.Context) {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	l.mu.Lock()
	for _, st := range l.steps {
		if !st.closed {
			st.closed = true
			close(st.ended) // the run is over: no step goes on
		}
	}
	l.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		l.cancel()
		<-done
	}
	l.cancel()
}

func (l *Logs) view(st *step) (kfp.Run, kfp.Step) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return st.run, st.s
}

func (l *Logs) follow(st *step) {
	defer l.wg.Done()
	select {
	case l.sem <- struct{}{}:
	case <-l.ctx.Done():
		return
	}
	defer func() { <-l.sem }()
	p := &printer{l: l, st: st}
	_, s := l.view(st)
	p.note("started")
	var err error
	if l.o.Kube != nil {
		err = l.stream(st, p)
	} else {
		err = l.poll(st, p)
	}
	if err != nil && l.ctx.Err() == nil {
		l.o.Notice(fmt.Sprintf("%s log not followed: %v", st.tag, err))
	}
	select {
	case <-st.ended:
	case <-l.ctx.Done():
	}
	_, s = l.view(st)
	if p.dropped > 0 {
		p.note(fmt.Sprintf("%d more log lines not shown (at most %d a task)", p.dropped, l.o.MaxLines))
	}
	end := "ended " + string(s.State)
	if !s.Start.IsZero() && s.End.After(s.Start) {
		end += " after " + s.End.Sub(s.Start).Round(time.Second).String()
	}
	p.note(end)
}

// printer prints a step's lines up to the cap.
type printer struct {
	l       *Logs
	st      *step
	printed int
	dropped int
}

func (p *printer) lines(ls []string) {
	room := p.l.o.MaxLines - p.printed
	if len(ls) > room {
		p.dropped += len(ls) - max(room, 0)
		ls = ls[:max(room, 0)]
	}
	if len(ls) > 0 {
		p.printed += len(ls)
		p.l.o.Print(p.st.tag, p.st.colour, ls)
	}
}

func (p *printer) note(s string) { p.l.o.Print(p.st.tag, p.st.colour, []string{"--- " + s}) }

// stream follows the executor pod's log. After a drop it reconnects from
// the last line's time (whole seconds), skipping the lines already
// printed: those before that time, and as many at it as were printed.
func (l *Logs) stream(st *step, p *printer) error {
	_, s := l.view(st)
	ns := l.o.Namespace
	pod, err := l.o.Kube.FindPod(l.ctx, ns, s.Pod.Workflow, s.Pod.NodeID, s.Pod.PodNames(l.o.Minor))
	for tries := 0; err != nil; tries++ {
		// The pod may not be listed yet when KFP already shows the task.
		if tries == 5 || sleep(l.ctx, time.Second) != nil {
			return err
		}
		pod, err = l.o.Kube.FindPod(l.ctx, ns, s.Pod.Workflow, s.Pod.NodeID, s.Pod.PodNames(l.o.Minor))
	}
	var last time.Time // the time of the last line printed
	atLast := 0        // lines printed with that time
	drops := 0
	for {
		rc, err := l.o.Kube.Stream(l.ctx, ns, pod, last.Truncate(time.Second))
		if err != nil {
			return err
		}
		skip := atLast
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var batch []string
		for sc.Scan() {
			ts, text, ok := strings.Cut(sc.Text(), " ")
			t, perr := time.Parse(time.RFC3339Nano, ts)
			if !ok || perr != nil {
				p.lines([]string{sc.Text()})
				continue
			}
			switch {
			case t.Before(last):
				continue
			case t.Equal(last) && skip > 0:
				skip--
				continue
			case t.Equal(last):
				atLast++
			default:
				last, atLast = t, 1
			}
			batch = append(batch[:0], text)
			p.lines(batch) // at once: the line is live
		}
		serr := sc.Err()
		rc.Close()
		if l.ctx.Err() != nil {
			return nil
		}
		ended, err := l.o.Kube.Ended(l.ctx, ns, pod)
		if err == nil && ended {
			return nil
		}
		drops++
		if drops > 10 {
			return errors.Join(errors.New("the log stream keeps dropping"), serr, err)
		}
		if sleep(l.ctx, time.Duration(drops)*500*time.Millisecond) != nil {
			return nil
		}
	}
}

// poll reads the step's whole log through KFP every Every and prints the
// lines not printed yet, until the step ended and its log was read once
// more.
func (l *Logs) poll(st *step, p *printer) error {
	seen := 0
	var lastErr error
	for {
		ended := false
		select {
		case <-st.ended:
			ended = true
		default:
		}
		run, s := l.view(st)
		ctx, cancel := context.WithTimeout(l.ctx, 30*time.Second)
		lg, err := l.o.Poll.StepLog(ctx, run, s, l.o.Minor, 32<<20)
		cancel()
		if err == nil {
			lastErr = nil
			ls := strings.Split(strings.TrimSuffix(lg.Text, "\n"), "\n")
			if lg.Text == "" {
				ls = nil
			}
			if len(ls) > seen {
				p.lines(ls[seen:])
				seen = len(ls)
			}
		} else {
			lastErr = err
		}
		if ended || l.ctx.Err() != nil {
			return lastErr
		}
		select {
		case <-st.ended:
		case <-l.ctx.Done():
			return nil
		case <-time.After(l.o.Every):
		}
	}
}

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

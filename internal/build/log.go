package build

import (
	"io"
	"log"
	"strings"
	"sync"
)

// ko logs through the standard library's global logger ("Building ...",
// "Publishing ...", git warnings). While any Images call runs, that logger
// writes to every running call's Log function instead of stderr; this is
// the one piece of process-global state here, forced by ko.
var logRoute struct {
	mu     sync.Mutex
	sinks  map[*func(string)]struct{}
	saved  io.Writer
	flags  int
	prefix string
}

type routeWriter struct{}

func (routeWriter) Write(b []byte) (int, error) {
	msg := strings.TrimRight(string(b), "\n")
	logRoute.mu.Lock()
	defer logRoute.mu.Unlock()
	for f := range logRoute.sinks {
		(*f)(msg)
	}
	return len(b), nil
}

// routeLog sends ko's log lines to f until the returned func is called.
func routeLog(f func(string)) (restore func()) {
	logRoute.mu.Lock()
	defer logRoute.mu.Unlock()
	if logRoute.sinks == nil {
		logRoute.sinks = map[*func(string)]struct{}{}
	}
	if len(logRoute.sinks) == 0 {
		logRoute.saved, logRoute.flags, logRoute.prefix = log.Writer(), log.Flags(), log.Prefix()
		log.SetOutput(routeWriter{})
		log.SetFlags(0)
		log.SetPrefix("")
	}
	key := &f
	logRoute.sinks[key] = struct{}{}
	return func() {
		logRoute.mu.Lock()
		defer logRoute.mu.Unlock()
		delete(logRoute.sinks, key)
		if len(logRoute.sinks) == 0 {
			log.SetOutput(logRoute.saved)
			log.SetFlags(logRoute.flags)
			log.SetPrefix(logRoute.prefix)
		}
	}
}

// koLogFilter prefixes ko's lines with "ko: " and keeps only the first line
// of ko's git notes ("git is in a dirty state" with the file list, "no
// tags"), once per build: ko repeats them for every image and platform.
func koLogFilter(log func(string)) func(string) {
	if log == nil {
		return func(string) {}
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(msg string) {
		first, _, _ := strings.Cut(msg, "\n")
		if strings.HasPrefix(first, "git ") {
			mu.Lock()
			dup := seen[first]
			seen[first] = true
			mu.Unlock()
			if dup {
				return
			}
			msg = first
		}
		log("ko: " + msg)
	}
}

// Command kf-run takes compiled Kubeflow Pipelines from a repository to a
// finished, reported run, from a CI job. This file only wires the stages:
// flags → plan → submit → wait → report, and maps the outcome to an exit code.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, lookupEnv: os.LookupEnv, readFile: os.ReadFile,
		isTerminal: isTerminal,
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether w is a terminal: asked of the very stream a
// live status line would be drawn on, so "kf-run run | tee log" gets plain
// lines even when stderr is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

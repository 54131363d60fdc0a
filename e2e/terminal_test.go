//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the master end (read what the program
// draws) and the terminal end (given to the program).
func openPTY(t *testing.T) (master, term *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// The live status line is drawn only where it goes: progress is on
// stderr. With stderr a terminal, the status line is there and stdout
// (piped: "kf-run run | tee result") gets only the result; with stderr
// piped ("kf-run run 2>log") it gets plain lines, whatever stdout is.
func TestStatusLineFollowsItsStream(t *testing.T) {
	t.Parallel()
	for _, stderrTTY := range []bool{false, true} {
		t.Run(fmt.Sprintf("stderr terminal %v", stderrTTY), func(t *testing.T) {
			t.Parallel()
			master, term := openPTY(t)
			drawn := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(master); drawn <- b }()
			name := uniq(t, "tty")
			cmd := exec.Command(kfRunBin, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=xterm"}
			var piped bytes.Buffer
			if stderrTTY {
				cmd.Stdout, cmd.Stderr = &piped, term
			} else {
				cmd.Stdout, cmd.Stderr = term, &piped
			}
			if err := cmd.Run(); err != nil {
				t.Fatalf("kf-run: %v\n%s", err, piped.String())
			}
			term.Close() // the master reads EOF (EIO) once no end is open
			tty := string(<-drawn)
			if stderrTTY {
				if !strings.Contains(tty, "tasks done") {
					t.Errorf("no status line on the terminal:\n%q", tty)
				}
				// stdout is the result alone: one line, the pipeline's.
				if lines := strings.Split(strings.TrimSpace(piped.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "train-demo\tSUCCEEDED\t") {
					t.Errorf("stdout is not the result alone:\n%q", piped.String())
				}
				return
			}
			if strings.Contains(piped.String(), "\x1b[") || strings.Contains(piped.String(), "tasks done") {
				t.Errorf("piped stderr has the terminal's status line:\n%q", piped.String())
			}
			if !strings.Contains(piped.String(), "run SUCCEEDED") {
				t.Errorf("piped stderr lacks the progress lines:\n%s", piped.String())
			}
			if !strings.Contains(tty, "train-demo\tSUCCEEDED\t") || strings.Contains(tty, "Submit to") {
				t.Errorf("the terminal on stdout has more than the result:\n%q", tty)
			}
		})
	}
}

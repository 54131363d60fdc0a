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

// The live status line is drawn only where it goes: with stdout piped
// ("kf-run run | tee log") and stderr a terminal, stdout gets plain lines;
// with stdout a terminal, the status line is there.
func TestStatusLineFollowsItsStream(t *testing.T) {
	t.Parallel()
	for _, stdoutTTY := range []bool{false, true} {
		t.Run(fmt.Sprintf("stdout terminal %v", stdoutTTY), func(t *testing.T) {
			t.Parallel()
			master, term := openPTY(t)
			drawn := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(master); drawn <- b }()
			name := uniq(t, "tty")
			cmd := exec.Command(kfRunBin, withSpec(exampleArgs(name), example(t, "train/pipeline.yaml"))...)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=xterm"}
			var piped bytes.Buffer
			if stdoutTTY {
				cmd.Stdout, cmd.Stderr = term, &piped
			} else {
				cmd.Stdout, cmd.Stderr = &piped, term
			}
			if err := cmd.Run(); err != nil {
				t.Fatalf("kf-run: %v\n%s", err, piped.String())
			}
			term.Close() // the master reads EOF (EIO) once no end is open
			tty := string(<-drawn)
			if stdoutTTY {
				if !strings.Contains(tty, "tasks done") {
					t.Errorf("no status line on the terminal:\n%q", tty)
				}
				return
			}
			if strings.Contains(piped.String(), "\x1b[") || strings.Contains(piped.String(), "tasks done") {
				t.Errorf("piped stdout has the terminal's status line:\n%q", piped.String())
			}
			if !strings.Contains(piped.String(), "run SUCCEEDED") {
				t.Errorf("piped stdout lacks the progress lines:\n%s", piped.String())
			}
		})
	}
}

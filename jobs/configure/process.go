package configure

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Line is one line of configuration output for the deployment's log.
type Line struct {
	Level   string // debug, info, warn, error
	Message string
}

// Sink receives log lines; it must not block for long.
type Sink func(Line)

// killGrace is how long a process group gets between SIGTERM and SIGKILL.
var killGrace = 3 * time.Second

// runGroup runs cmd in a process group of its own and feeds each line of its
// stdout and stderr to the given functions. When ctx ends, the whole group (ssh
// children, ansible workers) gets SIGTERM, then SIGKILL; when cmd returns, any
// member still alive is killed, so nothing it started outlives it.
func runGroup(ctx context.Context, cmd *exec.Cmd, stdout, stderr func(string)) error {
	// Its own group, so a cancel reaches ssh children too; and it dies with the
	// service (a crash must not leave a playbook running that no run follows).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	pgid := cmd.Process.Pid
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); scanLines(outR, stdout) }()
	go func() { defer wg.Done(); scanLines(errR, stderr) }()

	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(killGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	wg.Wait() // the pipes close when every writer in the group is gone or killed
	err = cmd.Wait()
	close(done)
	<-killed
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // members that closed their output but live on
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// scanLines calls fn for each line of r (long lines are cut, never lost whole).
func scanLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			if len(line) > 8000 {
				line = line[:8000] + "…"
			}
			fn(trimEOL(line))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fn("(output lost: " + err.Error() + ")")
			}
			io.Copy(io.Discard, r)
			return
		}
	}
}

func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

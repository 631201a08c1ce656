package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// How Terraform runs. Every Terraform a run starts is the leader of a process
// group of its own, which its providers and provisioners (later Ansible, ssh)
// join: ending a run's processes is one signal to the group, and nothing it
// started is left behind.
//
// Commands that change infrastructure (apply, destroy, refresh) run detached,
// in a session of their own and without a death signal, writing their -json
// output to a file in the workdir: a crash or restart of the service never kills
// them halfway through creating cloud resources. The engine follows that file
// as it grows; a restarted service finds the process again (by PID and start
// time, recorded on the run), waits for it, reads the rest of the file and
// ingests the state it wrote.

// streamDir holds, inside a workdir, the output files of a run's processes.
const streamDir = ".orchestrator"

// stateFile is where the local backend keeps a workdir's state.
const stateFile = "terraform.tfstate"

// reservedEnv names what a target's credentials may not set: our own settings
// and anything that changes how Terraform reads its command line or logs.
func reservedEnv(k string) bool {
	switch k {
	case "CHECKPOINT_DISABLE", "HOME", "PATH", "TMPDIR":
		return true
	}
	return strings.HasPrefix(k, "TF_")
}

// terraformEnv is the explicit environment Terraform runs with: never the
// service's own; target credentials only as environment variables.
func (e *Engine) terraformEnv(dir string, creds map[string]string) ([]string, error) {
	env := map[string]string{
		"CHECKPOINT_DISABLE": "1",
		"TF_CLI_CONFIG_FILE": e.tc.CLIConfig,
		"TF_IN_AUTOMATION":   "1",
		// Remote backends persist state at most this often during an apply (20 s
		// is the shortest Terraform accepts); the local backend we use writes the
		// state file after every resource anyway, and the engine copies it into
		// the store while the run goes on.
		"TF_STATE_PERSIST_INTERVAL": "20",
		"HOME":                      filepath.Join(dir, ".home"),
		"PATH":                      "/usr/local/bin:/usr/bin:/bin",
		"TMPDIR":                    os.TempDir(),
	}
	for k, v := range creds {
		if reservedEnv(k) {
			return nil, fmt.Errorf("target credential %q cannot be passed to Terraform (TF_* and %s are set by the orchestrator)", k, "HOME, PATH, TMPDIR")
		}
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// runTerraform runs a short Terraform command (init, show, plan) to its end in
// its own process group, its output to stdout (nil: discarded). When ctx ends
// the group is interrupted, and killed after the kill grace; whatever of the
// group is left when Terraform exits is killed too.
func (e *Engine) runTerraform(ctx context.Context, dir string, env []string, stdout io.Writer, args ...string) error {
	cmd := exec.Command(e.tc.Terraform, args...)
	cmd.Dir, cmd.Env = dir, env
	if stdout == nil {
		stdout = io.Discard
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &capped{w: &stderr, n: 64 << 10}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A provider that outlives Terraform keeps the output pipes open: stop
	// waiting for them shortly after Terraform itself exits.
	cmd.WaitDelay = 5 * time.Second
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start terraform %s: %w", args[0], err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = signalGroup(pgid, syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(e.cfg.KillGrace):
			_ = signalGroup(pgid, syscall.SIGKILL)
			err = <-done
		}
	}
	endGroup(pgid, 500*time.Millisecond)
	if ctx.Err() != nil {
		return fmt.Errorf("terraform %s: %w", args[0], ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("terraform %s: %w\n%s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// endGroup waits up to grace for what is left of a process group to exit, then
// kills it and waits (briefly) until the kernel has ended every member.
func endGroup(pgid int, grace time.Duration) {
	deadline := time.Now().Add(grace)
	killed := false
	for len(groupMembers(pgid)) > 0 {
		if time.Now().After(deadline) {
			if killed {
				return
			}
			_ = signalGroup(pgid, syscall.SIGKILL)
			killed, deadline = true, time.Now().Add(2*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// capped writes at most n bytes to w and drops the rest.
type capped struct {
	w io.Writer
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if c.n > 0 {
		k := min(len(p), c.n)
		c.n -= k
		_, _ = c.w.Write(p[:k])
	}
	return len(p), nil
}

// tfProcess is a detached Terraform process: one this service process started
// (its exit status is known), or one a previous service process started and this
// one found again (only its output tells how it ended).
type tfProcess struct {
	pid      int
	identity string
	child    bool
	exited   chan struct{} // closed once it has ended
	exitCode int           // for a child, after exited; -1 when unknown
	// interrupted makes the interrupt a single SIGINT: a second one makes
	// Terraform abort at once without saving its state.
	interrupted atomic.Bool
}

// startTerraform starts a detached Terraform in dir: a session of its own, no
// death signal, stdin from /dev/null, its output in files of the workdir.
func (e *Engine) startTerraform(dir string, env []string, stream, stderr string, args ...string) (*tfProcess, error) {
	out, err := os.OpenFile(filepath.Join(dir, stream), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create terraform output file: %w", err)
	}
	defer out.Close()
	errf, err := os.OpenFile(filepath.Join(dir, stderr), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create terraform error file: %w", err)
	}
	defer errf.Close()
	cmd := exec.Command(e.tc.Terraform, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start terraform %s: %w", args[0], err)
	}
	p := &tfProcess{pid: cmd.Process.Pid, child: true, exited: make(chan struct{}), exitCode: -1}
	// Read before Wait can reap it: until then even a finished child is in /proc.
	p.identity, _ = processIdentity(p.pid)
	go func() {
		err := cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			p.exitCode = 0
		case errors.As(err, &exitErr):
			p.exitCode = exitErr.ExitCode() // -1 when killed by a signal
		}
		close(p.exited)
	}()
	return p, nil
}

// attachTerraform follows a detached Terraform started by a previous process of
// the service. It is not our child: its end is noticed by polling /proc.
func attachTerraform(pid int, identity string) *tfProcess {
	p := &tfProcess{pid: pid, identity: identity, exited: make(chan struct{}), exitCode: -1}
	go func() {
		for processAlive(pid, identity) {
			time.Sleep(200 * time.Millisecond)
		}
		close(p.exited)
	}()
	return p
}

// interrupt asks Terraform to stop gracefully: it finishes the operations under
// way, saves its state and exits. The whole group gets SIGINT, as from a
// terminal (providers ignore it; provisioners stop).
func (p *tfProcess) interrupt() {
	if p != nil && !p.interrupted.Swap(true) {
		_ = signalGroup(p.pid, syscall.SIGINT)
	}
}

// kill ends the whole group at once.
func (p *tfProcess) kill() {
	if p != nil {
		_ = signalGroup(p.pid, syscall.SIGKILL)
	}
}

// alive reports whether the process has not ended yet.
func (p *tfProcess) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

package jobs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// What /proc says of processes: the engine uses it to recognise a Terraform it
// started before a crash (a PID alone may have been reused), to tell whether it
// still runs, and to find every process left in a workdir. Linux only, like the
// rest of the service.

// procInfo is one process as /proc shows it.
type procInfo struct {
	PID   int
	PGID  int
	SID   int
	State byte   // R, S, D, Z, ...
	Start string // start time in clock ticks after boot
	Comm  string
	Cwd   string // filled by processesUnder
}

// readProc reads /proc/<pid>/stat.
func readProc(pid int) (procInfo, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	// The command name is in parentheses and may itself hold spaces or ')'.
	s := string(raw)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return procInfo{}, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	f := strings.Fields(s[close+1:])
	// f[0] is field 3 (state); pgrp is field 5, session 6, starttime 22.
	if len(f) < 20 || len(f[0]) == 0 {
		return procInfo{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	p := procInfo{PID: pid, State: f[0][0], Start: f[19], Comm: s[open+1 : close]}
	p.PGID, _ = strconv.Atoi(f[2])
	p.SID, _ = strconv.Atoi(f[3])
	return p, nil
}

var (
	bootOnce sync.Once
	bootID   string
)

// thisBoot identifies the running kernel: a process identity from another boot
// never matches.
func thisBoot() string {
	bootOnce.Do(func() {
		raw, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
		bootID = strings.TrimSpace(string(raw))
	})
	return bootID
}

// processIdentity is what tells a process apart from a later one with the same
// PID: the boot and its start time.
func processIdentity(pid int) (string, error) {
	p, err := readProc(pid)
	if err != nil {
		return "", err
	}
	return thisBoot() + "/" + p.Start, nil
}

// processAlive reports whether the process with this PID and identity still
// runs (a zombie has ended).
func processAlive(pid int, identity string) bool {
	if pid <= 0 {
		return false
	}
	p, err := readProc(pid)
	if err != nil || p.State == 'Z' || p.State == 'X' {
		return false
	}
	return identity == "" || thisBoot()+"/"+p.Start == identity
}

// allProcesses lists every process /proc shows, skipping ones that vanish.
func allProcesses() []procInfo {
	entries, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// groupMembers lists the live processes of a process group.
func groupMembers(pgid int) []procInfo {
	var out []procInfo
	for _, p := range allProcesses() {
		if p.PGID == pgid && p.State != 'Z' && p.State != 'X' {
			out = append(out, p)
		}
	}
	return out
}

// processesUnder lists the live processes whose working directory is dir or
// below it: Terraform, its providers and provisioners all run in the workdir.
func processesUnder(dir string) []procInfo {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	var out []procInfo
	for _, p := range allProcesses() {
		if p.State == 'Z' || p.State == 'X' || p.PID == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.PID))
		if err != nil {
			continue
		}
		if cwd == dir || strings.HasPrefix(cwd, dir+string(filepath.Separator)) {
			p.Cwd = cwd
			out = append(out, p)
		}
	}
	return out
}

// signalGroup sends sig to every process of a group; a group that is already
// gone is not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s to process group %d: %w", sig, pgid, err)
	}
	return nil
}

// killProcessesUnder kills every process working in dir or below, with its
// process group.
func killProcessesUnder(dir string) {
	for _, p := range processesUnder(dir) {
		if p.PGID > 1 && p.PGID != syscall.Getpgrp() {
			_ = signalGroup(p.PGID, syscall.SIGKILL)
		} else {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
}

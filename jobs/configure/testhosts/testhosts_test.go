package testhosts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The hosts answer SSH with the pool's key, each has its own /srv, the hidden
// host is reachable only through the bastion, and everything is gone after Close.
func TestPool_HostsAnswerSSHAndHiddenOnlyThroughBastion(t *testing.T) {
	p := New(t, Spec{Direct: []string{"a"}, Bastion: "bastion", Hidden: []string{"hidden"}})
	key := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(key, p.PrivateKey, 0o600); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	base := []string{"-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile=" + known, "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"}
	run := func(args ...string) (string, error) {
		out, err := exec.Command("ssh", append(append([]string{}, base...), args...)...).CombinedOutput()
		return string(out), err
	}
	a := p.Hosts["a"]
	if out, err := run("root@"+a.Addr, "echo hello > /srv/mark; cat /srv/mark"); err != nil || strings.TrimSpace(out) != "hello" {
		t.Fatalf("ssh to a: %v %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(a.Srv, "mark")); err != nil || string(b) != "hello\n" {
		t.Fatalf("a's /srv is not its private directory: %v %q", err, b)
	}
	if _, err := os.Stat("/srv/mark"); err == nil {
		t.Fatalf("a's /srv leaked into this machine's /srv")
	}
	hidden := p.Hosts["hidden"]
	if p.Listening("hidden", 22) != true {
		t.Fatalf("hidden host's sshd is not reachable from the bastion")
	}
	// Never probe the hidden address from here: without a route of ours it would
	// leave the machine. The routing table must simply not know it.
	if out, _ := exec.Command("ip", "-4", "route", "get", hidden.Addr).Output(); strings.Contains(string(out), "dev ot") {
		t.Fatalf("this namespace routes to the hidden host through a test link: %s", out)
	}
	jump := "ProxyCommand=ssh " + strings.Join(base, " ") + " -W %h:%p root@" + p.Hosts["bastion"].Addr
	if out, err := run("-o", jump, "root@"+hidden.Addr, "hostname -I"); err != nil || !strings.Contains(out, hidden.Addr) {
		t.Fatalf("ssh to hidden through the bastion: %v %s", err, out)
	}
	names := append([]string{}, p.netns...)
	p.Close()
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, ns := range names {
		if strings.Contains(string(out), ns) {
			t.Fatalf("namespace %s left after Close", ns)
		}
	}
}

// An unkeyed host lets in only the keys Authorize gave it; Ranges and Near
// say where the addresses are.
func TestPool_UnkeyedHostsTakeAuthorizedKeys(t *testing.T) {
	p := New(t, Spec{Bastion: "bastion", Hidden: []string{"hidden"}, Unkeyed: true})
	key := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(key, p.PrivateKey, 0o600); err != nil {
		t.Fatal(err)
	}
	b := p.Hosts["bastion"]
	ssh := func() error {
		return exec.Command("ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "root@"+b.Addr, "true").Run()
	}
	if ssh() == nil {
		t.Fatal("an unkeyed host let the pool's key in")
	}
	if err := p.Authorize("bastion", p.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := ssh(); err != nil {
		t.Fatalf("the authorized key was refused: %v", err)
	}
	if err := p.Authorize("bastion", "two\nlines"); err == nil {
		t.Fatal("a key with a newline was written")
	}
	direct, hidden := p.Ranges()
	in := func(addr, cidr string) bool { return strings.HasPrefix(addr, strings.TrimSuffix(cidr, "0/24")) }
	h := p.Hosts["hidden"]
	if !in(b.Addr, direct) || !in(h.Addr, hidden) || !in(h.Near, hidden) || h.Near == h.Addr {
		t.Fatalf("ranges %s %s, bastion %s, hidden %s (near %s)", direct, hidden, b.Addr, h.Addr, h.Near)
	}
}

// A namespace left by a process that died is removed by the next New.
func TestCleanLeftovers_RemovesNamespacesOfDeadProcesses(t *testing.T) {
	Require(t)
	// A pid that cannot be alive: above the kernel's pid_max.
	ns := prefix + "99999999x7-stale"
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	CleanLeftovers()
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), ns) {
		t.Fatalf("stale namespace %s was not removed", ns)
	}
}

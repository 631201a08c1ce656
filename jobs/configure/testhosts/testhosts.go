// Package testhosts gives tests real machines to configure over SSH without a
// cloud: each host is a Linux network namespace with its own address (a veth
// pair) running its own sshd, and some hosts are reachable only through a
// bastion namespace. The hosts share this machine's filesystem except /srv,
// which is private to each host, so a playbook that writes /srv/www on two hosts
// writes two different directories.
//
// It needs root, `ip`, `unshare` and Debian's openssh-server; New fails the test
// (never skips it) when they are missing. Everything it creates is removed when
// the test ends, and leftovers of a test process that died are removed when the
// next one starts. It never touches an address outside the ranges it assigned to
// its own namespaces.
package testhosts

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// prefix starts the name of every namespace this package creates, followed by
// the creating process's pid so leftovers of dead processes can be told apart.
const prefix = "orct"

// Ranges gives the /24 networks a pool's direct and hidden hosts have their
// addresses in (10.250.N.0/24 and 10.251.N.0/24).
func (p *Pool) Ranges() (direct, hidden string) {
	return fmt.Sprintf("10.250.%d.0/24", p.slot), fmt.Sprintf("10.251.%d.0/24", p.slot)
}

// Spec says which hosts to create.
type Spec struct {
	// Direct hosts are reachable from this machine's own network namespace.
	Direct []string
	// Bastion, when set, is a direct host that also reaches the Hidden hosts.
	Bastion string
	// Hidden hosts are reachable only through the bastion.
	Hidden []string
	// Unkeyed hosts start with no authorized key (the pool's key included):
	// only what Authorize adds logs in, as on a cloud server whose keys come
	// from cloud-init.
	Unkeyed bool
}

// Host is one test host.
type Host struct {
	Name      string
	Namespace string
	Addr      string // IPv4 address its sshd listens on (port 22)
	// Near is the address of the other end of its link: this machine's for a
	// direct host, the bastion's (its address on the hidden side) for a hidden one.
	Near string
	Port int
	// Bastion is the name of the host to jump through, "" for direct hosts.
	Bastion string
	// Srv is the directory this host sees as /srv.
	Srv string
	// AuthorizedKeys is the file of keys its sshd accepts (for every user).
	AuthorizedKeys string

	sshd *exec.Cmd
}

// Pool is a set of running test hosts.
type Pool struct {
	Hosts map[string]*Host
	// User is the account to log in as (the tests run as root).
	User string
	// PrivateKey is the OpenSSH private key every host accepts (PEM).
	PrivateKey []byte
	// PublicKey is its authorized_keys line.
	PublicKey string
	dir       string
	netns     []string
	unkeyed   bool
	slot      int
}

// Require fails the test when the tools the hosts need are missing.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("testhosts needs root (network namespaces); run the tests as root")
	}
	for _, bin := range []string{"ip", "unshare", "/usr/sbin/sshd", "ssh", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("testhosts needs %s: install it with `make prerequisites` (apt-get install openssh-server curl iproute2)", bin)
		}
	}
}

// New starts the hosts of spec; they are removed when the test ends.
func New(t testing.TB, spec Spec) *Pool {
	t.Helper()
	Require(t)
	CleanLeftovers()
	p := &Pool{Hosts: map[string]*Host{}, User: "root", dir: t.TempDir(), unkeyed: spec.Unkeyed}
	t.Cleanup(p.Close)
	if err := p.makeKey(); err != nil {
		t.Fatalf("testhosts: %v", err)
	}
	if err := p.start(spec); err != nil {
		t.Fatalf("testhosts: %v", err)
	}
	return p
}

func (p *Pool) makeKey() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "testhosts")
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	p.PrivateKey = pem.EncodeToMemory(block)
	p.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	return nil
}

// Authorize adds public keys (authorized_keys lines) to what a host's sshd
// accepts.
func (p *Pool) Authorize(host string, keys ...string) error {
	h := p.Hosts[host]
	if h == nil {
		return fmt.Errorf("no host %s", host)
	}
	f, err := os.OpenFile(h.AuthorizedKeys, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, "\n\r") {
			return fmt.Errorf("not one authorized_keys line: %q", k)
		}
		if _, err := fmt.Fprintln(f, k); err != nil {
			return err
		}
	}
	return nil
}

// start creates the namespaces and links under a machine-wide lock (other test
// processes pick their address ranges at the same time), then the sshds.
func (p *Pool) start(spec Spec) error {
	unlock, err := lockFile(filepath.Join(os.TempDir(), "orchestrator-testhosts.lock"))
	if err != nil {
		return err
	}
	slot, err := freeSlot()
	if err != nil {
		unlock()
		return err
	}
	p.slot = slot
	tag := fmt.Sprintf("%s%dx%d", prefix, os.Getpid(), slot)
	i := 0
	link := func(name, from, behind string, base string) (*Host, error) {
		i++
		h := &Host{Name: name, Namespace: fmt.Sprintf("%s-%s", tag, name), Port: 22, Bastion: behind}
		near, far := fmt.Sprintf("ot%da%d", slot, i), fmt.Sprintf("ot%db%d", slot, i)
		nearAddr := fmt.Sprintf("%s.%d", base, 4*i+1)
		h.Addr, h.Near = fmt.Sprintf("%s.%d", base, 4*i+2), nearAddr
		steps := [][]string{{"netns", "add", h.Namespace}}
		p.netns = append(p.netns, h.Namespace)
		inFrom := func(args ...string) []string {
			if from == "" {
				return args
			}
			return append([]string{"-n", from}, args...)
		}
		steps = append(steps,
			inFrom("link", "add", near, "type", "veth", "peer", "name", far, "netns", h.Namespace),
			inFrom("addr", "add", nearAddr+"/30", "dev", near),
			inFrom("link", "set", near, "up"),
			[]string{"-n", h.Namespace, "addr", "add", h.Addr + "/30", "dev", far},
			[]string{"-n", h.Namespace, "link", "set", far, "up"},
			[]string{"-n", h.Namespace, "link", "set", "lo", "up"},
		)
		for _, s := range steps {
			if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
			}
		}
		p.Hosts[name] = h
		return h, nil
	}
	direct := append([]string{}, spec.Direct...)
	if spec.Bastion != "" {
		direct = append(direct, spec.Bastion)
	}
	for _, name := range direct {
		if _, err := link(name, "", "", fmt.Sprintf("10.250.%d", slot)); err != nil {
			unlock()
			return err
		}
	}
	for _, name := range spec.Hidden {
		if spec.Bastion == "" {
			unlock()
			return fmt.Errorf("hidden host %s needs a bastion", name)
		}
		if _, err := link(name, p.Hosts[spec.Bastion].Namespace, spec.Bastion, fmt.Sprintf("10.251.%d", slot)); err != nil {
			unlock()
			return err
		}
	}
	unlock()
	for _, name := range append(direct, spec.Hidden...) {
		if err := p.startSSHD(p.Hosts[name]); err != nil {
			return err
		}
	}
	for _, name := range append(direct, spec.Hidden...) {
		if err := p.waitSSHD(p.Hosts[name]); err != nil {
			return err
		}
	}
	return nil
}

// startSSHD runs sshd inside the host's namespace, in a mount namespace of its
// own where the host's private directory is /srv.
func (p *Pool) startSSHD(h *Host) error {
	dir := filepath.Join(p.dir, h.Name)
	h.Srv = filepath.Join(dir, "srv")
	if err := os.MkdirAll(h.Srv, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		return err
	}
	h.AuthorizedKeys = filepath.Join(dir, "authorized_keys")
	keys := p.PublicKey + "\n"
	if p.unkeyed {
		keys = ""
	}
	if err := os.WriteFile(h.AuthorizedKeys, []byte(keys), 0o600); err != nil {
		return err
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	cfg := fmt.Sprintf(`ListenAddress %s
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
Subsystem sftp internal-sftp
MaxStartups 100:30:200
MaxSessions 50
LogLevel ERROR
`, h.Addr, h.Port, hostKey, h.AuthorizedKeys)
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", h.Namespace, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount --bind "$1" /srv && exec /usr/sbin/sshd -D -e -f "$2"`, "sh", h.Srv, cfgPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd of %s: %w", h.Name, err)
	}
	h.sshd = cmd
	return nil
}

// waitSSHD waits until the host's sshd accepts connections (from the bastion
// for hidden hosts).
func (p *Pool) waitSSHD(h *Host) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ns := ""
		if h.Bastion != "" {
			ns = p.Hosts[h.Bastion].Namespace
		}
		if probe(ns, h.Addr, h.Port) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("sshd of %s did not answer on %s:%d within 30s", h.Name, h.Addr, h.Port)
}

// probe says whether addr:port accepts TCP, from namespace ns ("" = this one).
func probe(ns, addr string, port int) bool {
	if ns == "" {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	return exec.Command("ip", "netns", "exec", ns, "bash", "-c",
		fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", addr, port)).Run() == nil
}

// HTTPGet fetches http://host:port/path as seen from the host's network (through
// its bastion's namespace for hidden hosts), with curl.
func (p *Pool) HTTPGet(host string, port int, path string) (string, error) {
	h := p.Hosts[host]
	if h == nil {
		return "", fmt.Errorf("no host %s", host)
	}
	url := fmt.Sprintf("http://%s/%s", net.JoinHostPort(h.Addr, strconv.Itoa(port)), strings.TrimPrefix(path, "/"))
	args := []string{"-sS", "--max-time", "5", "--fail", url}
	var cmd *exec.Cmd
	if h.Bastion != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", p.Hosts[h.Bastion].Namespace, "curl"}, args...)...)
	} else {
		cmd = exec.Command("curl", args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("GET %s: %v: %s", url, err, out)
	}
	return string(out), nil
}

// Listening says whether something accepts TCP on the host's port.
func (p *Pool) Listening(host string, port int) bool {
	h := p.Hosts[host]
	ns := ""
	if h.Bastion != "" {
		ns = p.Hosts[h.Bastion].Namespace
	}
	return probe(ns, h.Addr, port)
}

// Close stops every sshd and process left in the namespaces and removes them.
func (p *Pool) Close() {
	for _, h := range p.Hosts {
		if h.sshd != nil && h.sshd.Process != nil {
			_ = syscall.Kill(-h.sshd.Process.Pid, syscall.SIGKILL)
			_, _ = h.sshd.Process.Wait()
		}
	}
	for i := len(p.netns) - 1; i >= 0; i-- {
		removeNamespace(p.netns[i])
	}
	p.netns = nil
}

// removeNamespace kills what still runs in a namespace (servers a playbook
// started) and deletes it; its veth pairs go with it.
func removeNamespace(ns string) {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
}

// CleanLeftovers removes the namespaces of test processes that are gone (a
// test that crashed or was killed never ran its cleanup).
func CleanLeftovers() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		rest := strings.TrimPrefix(f[0], prefix)
		pidText, _, ok := strings.Cut(rest, "x")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil {
			continue
		}
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // its process is alive: not ours to remove
		}
		removeNamespace(f[0])
	}
}

// freeSlot picks an address range (10.250.N.0/24 direct, 10.251.N.0/24 behind
// bastions) no live namespace of ours uses; the caller holds the lock.
func freeSlot() (int, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		return 0, fmt.Errorf("ip addr: %w", err)
	}
	used := string(out)
	for n := 1; n < 255; n++ {
		if !strings.Contains(used, fmt.Sprintf(" 10.250.%d.", n)) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free test address range in 10.250.0.0/16")
}

// lockFile takes an exclusive lock on path, across processes.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

package configure

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Host is a machine the configuration runs on, reached over SSH.
type Host struct {
	// Alias names the host in the ssh configuration and the Ansible inventory
	// (e.g. "web-0" for instance 0 of node web).
	Alias string
	Addr  string
	Port  int
	User  string
	// Key is the private key to log in with (the deployment's, or a pool host's).
	Key []byte
	// Jump is the host to go through when Addr is not reachable directly (the
	// deployment's node with a public address, or the target's bastion).
	Jump *Host
}

var (
	aliasRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	userRe  = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
	dnsRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
)

// Alias turns a node name and instance index into a host alias ssh and Ansible accept.
func Alias(node string, index int) string {
	var b strings.Builder
	for _, r := range node {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_.-")
	if s == "" {
		s = "host"
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return fmt.Sprintf("%s-%d", s, index)
}

// check refuses values that could change the meaning of the ssh configuration
// written from them (they come from Terraform state and admin input).
func (h *Host) check() error {
	if !aliasRe.MatchString(h.Alias) {
		return fmt.Errorf("host alias %q is not a plain name", h.Alias)
	}
	if _, err := netip.ParseAddr(h.Addr); err != nil && !dnsRe.MatchString(h.Addr) {
		return fmt.Errorf("host %s: address %q is neither an IP address nor a host name", h.Alias, h.Addr)
	}
	if h.Port < 1 || h.Port > 65535 {
		return fmt.Errorf("host %s: port %d is out of range", h.Alias, h.Port)
	}
	if !userRe.MatchString(h.User) {
		return fmt.Errorf("host %s: user %q is not a valid account name", h.Alias, h.User)
	}
	if len(h.Key) == 0 {
		return fmt.Errorf("host %s: no private key", h.Alias)
	}
	return nil
}

// Session is the SSH material of one configuration run, in a private directory:
// the keys, an ssh_config naming every host (and its jump host), and the
// deployment's known_hosts. ssh and Ansible both read the same ssh_config.
type Session struct {
	Dir        string
	ConfigPath string
	KnownPath  string
	hosts      map[string]*Host
	// ConnectTimeout bounds one TCP connection attempt.
	ConnectTimeout time.Duration
}

// NewSession writes the ssh configuration for hosts into dir (created 0700).
// known holds the host keys recorded on earlier contacts: a host whose key
// changed is refused, a host never seen is recorded on first contact.
func NewSession(dir string, hosts []*Host, known []byte) (*Session, error) {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, fmt.Errorf("ssh session dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Session{Dir: dir, ConfigPath: filepath.Join(dir, "ssh_config"), KnownPath: filepath.Join(dir, "known_hosts"),
		hosts: map[string]*Host{}, ConnectTimeout: 10 * time.Second}
	if err := os.WriteFile(s.KnownPath, known, 0o600); err != nil {
		return nil, err
	}
	var all []*Host
	var add func(h *Host) error
	add = func(h *Host) error {
		if prev, ok := s.hosts[h.Alias]; ok {
			if prev.Addr != h.Addr || prev.Port != h.Port {
				return fmt.Errorf("two hosts are named %s", h.Alias)
			}
			return nil
		}
		if err := h.check(); err != nil {
			return err
		}
		if h.Jump != nil {
			if err := add(h.Jump); err != nil {
				return err
			}
		}
		s.hosts[h.Alias] = h
		all = append(all, h)
		return nil
	}
	for _, h := range hosts {
		if err := add(h); err != nil {
			return nil, err
		}
	}
	var cfg strings.Builder
	for _, h := range all {
		keyPath := filepath.Join(dir, "keys", h.Alias)
		if err := os.WriteFile(keyPath, h.Key, 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(&cfg, "Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %q\n  IdentitiesOnly yes\n",
			h.Alias, h.Addr, h.Port, h.User, keyPath)
		fmt.Fprintf(&cfg, "  UserKnownHostsFile %q\n  StrictHostKeyChecking accept-new\n  HashKnownHosts no\n  BatchMode yes\n", s.KnownPath)
		fmt.Fprintf(&cfg, "  ConnectTimeout %d\n  ServerAliveInterval 15\n  ServerAliveCountMax 4\n", int(s.ConnectTimeout.Seconds()))
		// No connection sharing: a ControlPersist master would leave the run's
		// process group and outlive a cancel.
		cfg.WriteString("  ControlMaster no\n  ControlPath none\n  LogLevel ERROR\n  ForwardAgent no\n  SetEnv LC_ALL=C.UTF-8\n")
		if h.Jump != nil {
			fmt.Fprintf(&cfg, "  ProxyJump %s\n", h.Jump.Alias)
		}
		cfg.WriteString("\n")
	}
	if err := os.WriteFile(s.ConfigPath, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// KnownHosts returns the host keys as recorded now, for the store.
func (s *Session) KnownHosts() ([]byte, error) { return os.ReadFile(s.KnownPath) }

// Close removes the session's directory (keys included).
func (s *Session) Close() error { return os.RemoveAll(s.Dir) }

// env is the explicit environment of every ssh and Ansible process: never the
// service's own (it may hold credentials).
func (s *Session) env(extra ...string) []string {
	return append([]string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + s.Dir,
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
	}, extra...)
}

// sshCommand is ssh to a host alias with the session's configuration.
func (s *Session) sshCommand(alias string, remote ...string) *exec.Cmd {
	args := append([]string{"-F", s.ConfigPath, alias, "--"}, remote...)
	cmd := exec.Command("ssh", args...)
	cmd.Env = s.env()
	return cmd
}

// ErrHostKeyChanged is returned when a host answers with another key than the
// one recorded on first contact.
type ErrHostKeyChanged struct{ Host string }

func (e *ErrHostKeyChanged) Error() string {
	return fmt.Sprintf("host %s answered with a host key that differs from the one recorded on first contact: refusing to connect (if the server was rebuilt, reconfigure after an update that replaces it)", e.Host)
}

// WaitSSH waits until the host (and its jump host) accepts the session's key,
// up to timeout, logging each failed attempt. A changed host key stops at once.
func (s *Session) WaitSSH(ctx context.Context, alias string, timeout time.Duration, sink Sink) error {
	h := s.hosts[alias]
	if h == nil {
		return fmt.Errorf("no host %s in this session", alias)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	via := ""
	if h.Jump != nil {
		via = " through " + h.Jump.Alias
	}
	sink(Line{Level: "info", Message: fmt.Sprintf("waiting for SSH on %s (%s@%s:%d%s), up to %s", alias, h.User, h.Addr, h.Port, via, timeout)})
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var out strings.Builder
		cmd := s.sshCommand(alias, "true")
		err := runGroup(ctx, cmd, func(l string) {}, func(l string) { out.WriteString(l + "\n") })
		if err == nil {
			sink(Line{Level: "info", Message: fmt.Sprintf("SSH on %s answered after %s (attempt %d)", alias, time.Since(start).Round(time.Millisecond), attempt)})
			return nil
		}
		msg := strings.TrimSpace(out.String())
		if strings.Contains(msg, "REMOTE HOST IDENTIFICATION HAS CHANGED") || strings.Contains(msg, "Host key verification failed") {
			return &ErrHostKeyChanged{Host: alias}
		}
		if ctx.Err() != nil {
			if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("SSH on %s did not answer within %s (%d attempts; last: %s)", alias, timeout, attempt, lastLine(msg))
		}
		sink(Line{Level: "debug", Message: fmt.Sprintf("SSH on %s not ready (attempt %d): %s", alias, attempt, lastLine(msg))})
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		if delay < 5*time.Second {
			delay *= 2
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no answer"
	}
	return s
}

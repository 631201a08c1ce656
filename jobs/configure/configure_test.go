package configure

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"orchestrator/jobs/configure/testhosts"
)

// logSink collects lines for assertions.
type logSink struct {
	mu    sync.Mutex
	lines []Line
}

func (l *logSink) sink(line Line) { l.mu.Lock(); l.lines = append(l.lines, line); l.mu.Unlock() }

func (l *logSink) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, x := range l.lines {
		b.WriteString(x.Level + " " + x.Message + "\n")
	}
	return b.String()
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sessionFor makes a session with every pool host, hidden ones behind the bastion.
func sessionFor(t *testing.T, p *testhosts.Pool, known []byte) *Session {
	t.Helper()
	hosts := map[string]*Host{}
	for name, h := range p.Hosts {
		hosts[name] = &Host{Alias: name + "-0", Addr: h.Addr, Port: h.Port, User: p.User, Key: p.PrivateKey}
	}
	var list []*Host
	for name, h := range p.Hosts {
		if h.Bastion != "" {
			hosts[name].Jump = hosts[h.Bastion]
		}
		list = append(list, hosts[name])
	}
	s, err := NewSession(filepath.Join(t.TempDir(), "ssh"), list, known)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const webPlaybook = `---
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: make the web root
      file:
        path: /srv/www
        state: directory
    - name: write the page
      copy:
        dest: /srv/www/index.html
        content: "{{ page_text }}\n"
    - name: stop the server of an earlier run
      shell: "test -f /srv/www.pid && kill $(cat /srv/www.pid) || true"
    - name: start the web server
      shell: setsid -f sh -c 'echo $$ > /srv/www.pid; exec python3 -m http.server "$0" --directory /srv/www' {{ port }} >/dev/null 2>&1
    - name: wait for the port
      wait_for:
        port: "{{ port }}"
        timeout: 20
`

// One pool, several behaviours in sequence (sshd hosts are the expensive part).
func TestSession_OverRealSSH(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatal(err)
	}
	p := testhosts.New(t, testhosts.Spec{Direct: []string{"web"}, Bastion: "bastion", Hidden: []string{"inner"}})
	s := sessionFor(t, p, nil)
	ctx := context.Background()
	var logs logSink

	// Waiting goes through the bastion for the hidden host and records both keys.
	if err := s.WaitSSH(ctx, "inner-0", 30*time.Second, logs.sink); err != nil {
		t.Fatalf("wait for inner: %v\n%s", err, logs.text())
	}
	if err := s.WaitSSH(ctx, "web-0", 30*time.Second, logs.sink); err != nil {
		t.Fatalf("wait for web: %v", err)
	}
	known, _ := s.KnownHosts()
	for _, h := range p.Hosts {
		if !strings.Contains(string(known), h.Addr+" ssh-ed25519 ") {
			t.Fatalf("host key of %s (%s) not recorded:\n%s", h.Name, h.Addr, known)
		}
	}
	if !strings.Contains(logs.text(), "through bastion-0") {
		t.Fatalf("the wait does not say it goes through the bastion:\n%s", logs.text())
	}

	t.Run("script with inputs as environment, secrets hidden", func(t *testing.T) {
		var logs logSink
		red := NewRedactor("s3cr3t-token-value")
		script := "mkdir -p /srv/www && printf '%s\\n' \"$GREETING\" > /srv/www/script.txt\necho \"token is $TOKEN\"\necho \"quote test: $GREETING\"\n"
		env := map[string]string{"GREETING": `it's "$(rm -rf /)" & ok`, "TOKEN": "s3cr3t-token-value"}
		if err := s.RunScript(ctx, "inner-0", []byte(script), env, red, logs.sink); err != nil {
			t.Fatalf("script: %v\n%s", err, logs.text())
		}
		got, err := os.ReadFile(filepath.Join(p.Hosts["inner"].Srv, "www", "script.txt"))
		if err != nil || string(got) != env["GREETING"]+"\n" {
			t.Fatalf("the script did not write the input verbatim on inner: %v %q", err, got)
		}
		text := logs.text()
		if strings.Contains(text, "s3cr3t-token-value") || !strings.Contains(text, "token is ***") {
			t.Fatalf("secret not hidden in the logs:\n%s", text)
		}
		err = s.RunScript(ctx, "inner-0", []byte("echo about to fail\nexit 3\n"), nil, red, logs.sink)
		var se *ScriptError
		if !errors.As(err, &se) || !strings.Contains(se.Error(), "about to fail") {
			t.Fatalf("failing script: want a ScriptError with its output, got %v", err)
		}
	})

	t.Run("playbook serves a page on the port from its input", func(t *testing.T) {
		var logs logSink
		pb := writeFile(t, filepath.Join(t.TempDir(), "web.yml"), webPlaybook)
		vars := map[string]any{"port": 8181, "page_text": "hello from ansible {{ not_a_template }}"}
		if err := s.RunPlaybook(ctx, Playbook{Alias: "web-0", Path: pb, Vars: vars}, nil, logs.sink); err != nil {
			t.Fatalf("playbook: %v\n%s", err, logs.text())
		}
		page, err := p.HTTPGet("web", 8181, "/")
		if err != nil || !strings.Contains(page, "hello from ansible") {
			t.Fatalf("GET the page: %v %q\n%s", err, page, logs.text())
		}
		for _, want := range []string{"changed: write the page", "ok: wait for the port", "play: "} {
			if !strings.Contains(logs.text(), want) {
				t.Fatalf("logs miss %q:\n%s", want, logs.text())
			}
		}
	})

	t.Run("failed task is named with its output", func(t *testing.T) {
		var logs logSink
		pb := writeFile(t, filepath.Join(t.TempDir(), "fail.yml"), `---
- hosts: all
  gather_facts: false
  tasks:
    - name: fine
      command: "true"
    - name: check the version
      shell: echo "version {{ wanted }} is not available" >&2; exit 2
`)
		err := s.RunPlaybook(ctx, Playbook{Alias: "web-0", Path: pb, Vars: map[string]any{"wanted": "9.9"}}, nil, logs.sink)
		var te *TaskError
		if !errors.As(err, &te) || te.Task != "check the version" || !strings.Contains(te.Message, "version 9.9 is not available") {
			t.Fatalf("want the failed task with its output, got %v\n%s", err, logs.text())
		}
		if !strings.Contains(logs.text(), "error failed: check the version") {
			t.Fatalf("no error line for the task:\n%s", logs.text())
		}
	})

	t.Run("cancel kills every process of the run", func(t *testing.T) {
		var logs logSink
		pb := writeFile(t, filepath.Join(t.TempDir(), "slow.yml"), `---
- hosts: all
  gather_facts: false
  tasks:
    - name: long task
      command: sleep 120
`)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.RunPlaybook(ctx, Playbook{Alias: "inner-0", Path: pb}, nil, logs.sink) }()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(logs.text(), "task started: long task") || len(processesMentioning(s.Dir)) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the task never started:\n%s", logs.text())
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // ssh to the bastion and the host are up
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want a cancelled error, got %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the run did not stop within 20s of the cancel")
		}
		if left := processesMentioning(s.Dir); len(left) > 0 {
			t.Fatalf("processes left after cancel: %v", left)
		}
	})

	t.Run("a changed host key is refused", func(t *testing.T) {
		known, _ := s.KnownHosts()
		forged := strings.ReplaceAll(string(known), p.Hosts["web"].Addr+" ssh-ed25519 ", p.Hosts["web"].Addr+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBad")
		// keep it parseable: replace the whole key of web with another valid one
		other := sessionFor(t, p, []byte(forgeKey(t, forged, p.Hosts["web"].Addr)))
		var logs logSink
		err := other.WaitSSH(ctx, "web-0", 20*time.Second, logs.sink)
		var changed *ErrHostKeyChanged
		if !errors.As(err, &changed) {
			t.Fatalf("want ErrHostKeyChanged, got %v\n%s", err, logs.text())
		}
	})
}

// forgeKey replaces addr's recorded key with a freshly generated one.
func forgeKey(t *testing.T, known, addr string) string {
	t.Helper()
	kp, err := NewKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(known, "\n") {
		if strings.HasPrefix(l, addr+" ") {
			l = addr + " " + kp.Public
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// processesMentioning lists the command lines of processes that name dir.
func processesMentioning(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' || pid == itoa(self) {
			continue
		}
		b, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dir) {
			out = append(out, pid+": "+cmd)
		}
	}
	return out
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Replace(string(rune(0)), "\x00", "", 1)) + fmtInt(n)
}

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

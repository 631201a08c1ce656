package configure

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestRewriteHosts(t *testing.T) {
	cases := []struct {
		name, in, want, err string
	}{
		{"localhost and connection local", "- hosts: localhost\n  connection: local\n  roles: [x]\n", "- hosts: web-0\n  roles: [x]\n", ""},
		{"connection ssh kept", "- hosts: all\n  connection: ssh\n  tasks: []\n", "- hosts: web-0\n  connection: ssh\n  tasks: []\n", ""},
		{"no hosts gets one", "- tasks: []\n", "- hosts: web-0\n  tasks: []\n", ""},
		{"import kept", "- import_playbook: other.yml\n- hosts: x\n", "- import_playbook: other.yml\n- hosts: web-0\n", ""},
		{"not a list", "hosts: all\n", "", "a playbook is a list of plays"},
		{"not yaml", "- [\n", "", "not YAML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := RewriteHosts([]byte(c.in), "web-0")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want error %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			_ = yaml.Unmarshal(out, &got)
			_ = yaml.Unmarshal([]byte(c.want), &want)
			if gy, _ := yaml.Marshal(got); string(gy) != string(mustYAML(want)) {
				t.Fatalf("got\n%s\nwant\n%s", out, c.want)
			}
		})
	}
}

func mustYAML(v any) []byte { b, _ := yaml.Marshal(v); return b }

// Every string input is tagged !unsafe so Ansible never templates it; numbers,
// booleans and structure stay as they are.
func TestUnsafeVars(t *testing.T) {
	out, err := unsafeVars(map[string]any{"port": 8080, "on": true, "text": "{{ lookup('pipe','id') }}",
		"list": []any{"a", 1}, "map": map[string]any{"k": "v\n'\""}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`"port": 8080`, `"on": true`, `"text": !unsafe "{{ lookup('pipe','id') }}"`, `[!unsafe "a", 1]`, `"k": !unsafe "v\n'\""`} {
		if !strings.Contains(s, want) {
			t.Fatalf("missing %q in\n%s", want, s)
		}
	}
}

func TestParseEvent_LevelsAndRedaction(t *testing.T) {
	red := NewRedactor("hunter2-secret")
	cases := []struct {
		raw, level, msg string
		failed          bool
	}{
		{`{"event":"result","status":"changed","task":"copy","host":"h-0","msg":"wrote hunter2-secret"}`, "info", "changed: copy: wrote ***", false},
		{`{"event":"result","status":"failed","task":"boom","host":"h-0","stderr":"no such file"}`, "error", "failed: boom: no such file", true},
		{`{"event":"result","status":"unreachable","task":"t","host":"h-0","msg":"ssh: connect refused"}`, "error", "unreachable: t: ssh: connect refused", true},
		{`{"event":"result","status":"ignored","task":"t","host":"h-0","msg":"x"}`, "warn", "ignored", false},
		{`{"event":"task","task":"install"}`, "debug", "task started: install", false},
		{`plain output hunter2-secret`, "info", "plain output ***", false},
	}
	for _, c := range cases {
		line, te := parseEvent(c.raw, red)
		if line.Level != c.level || !strings.Contains(line.Message, c.msg) || (te != nil) != c.failed {
			t.Errorf("%s: got %+v %v", c.raw, line, te)
		}
	}
}

func TestRedactor_HidesKeysLineByLine(t *testing.T) {
	kp, err := NewKeyPair("deployment-x")
	if err != nil {
		t.Fatal(err)
	}
	red := NewRedactor(string(kp.Private))
	lines := strings.Split(string(kp.Private), "\n")
	if got := red.Hide("leak: " + lines[1]); strings.Contains(got, lines[1]) {
		t.Fatalf("a line of the private key was not hidden: %s", got)
	}
	if got := red.Hide("abc"); got != "abc" {
		t.Fatalf("ordinary text changed: %s", got)
	}
	if err := CheckPrivateKey(kp.Private); err != nil {
		t.Fatalf("generated key refused: %v", err)
	}
	if err := CheckPrivateKey([]byte("nope")); err == nil {
		t.Fatal("garbage accepted as a key")
	}
}

func TestHostCheck_RefusesValuesThatWouldChangeTheSSHConfig(t *testing.T) {
	bad := []*Host{
		{Alias: "a b", Addr: "10.0.0.1", Port: 22, User: "root", Key: []byte("k")},
		{Alias: "a", Addr: "10.0.0.1\n  ProxyCommand x", Port: 22, User: "root", Key: []byte("k")},
		{Alias: "a", Addr: "10.0.0.1", Port: 0, User: "root", Key: []byte("k")},
		{Alias: "a", Addr: "10.0.0.1", Port: 22, User: "root -o x", Key: []byte("k")},
		{Alias: "a", Addr: "10.0.0.1", Port: 22, User: "root"},
	}
	for _, h := range bad {
		if _, err := NewSession(t.TempDir(), []*Host{h}, nil); err == nil {
			t.Errorf("accepted %+v", h)
		}
	}
	if got := Alias("my web/server", 2); got != "my_web_server-2" {
		t.Fatalf("Alias = %s", got)
	}
}

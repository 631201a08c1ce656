package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// cli runs the client binary against a service, as a user would from a shell.
type cli struct {
	t    *testing.T
	url  string
	home string
}

func (c *cli) run(stdin string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + c.home, "XDG_CONFIG_HOME=" + filepath.Join(c.home, ".config"), "ORCHESTRATOR_URL=" + c.url}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return string(out), code
}

// ok runs a command that must succeed and returns its output.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, code := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("orchestrator %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

var (
	nanos     = regexp.MustCompile(`\d\d:\d\d:\d\d\.\d`)
	secondsRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestQuickstartWithTheCLI walks the README's quickstart with the CLI binary
// against a real service: login, catalog, deploy and wait, follow logs, stop a
// VM, update in place, a failing deployment, delete.
func TestQuickstartWithTheCLI(t *testing.T) {
	svc := startService(t, t.TempDir())
	c := &cli{t: t, url: svc.url, home: t.TempDir()}

	// Usage errors are exit code 2; API errors exit code 1 with the API's message.
	if _, code := c.run("", "deploy"); code != 2 {
		t.Fatalf("usage error: exit %d", code)
	}
	out, code := c.run("", "whoami")
	if code != 1 || !strings.Contains(out, "authentication required") {
		t.Fatalf("anonymous whoami: %d %s", code, out)
	}
	out, code = c.run("wrong-password\n", "login", "-u", "admin", "--password-stdin")
	if code != 1 || !strings.Contains(out, "wrong username or password") {
		t.Fatalf("bad login: %d %s", code, out)
	}

	out, code = c.run("admin-secret-pw\n", "login", "-u", "admin", "--password-stdin")
	if code != 0 || !strings.Contains(out, "Logged in") {
		t.Fatalf("login: %d %s", code, out)
	}
	creds := filepath.Join(c.home, ".config", "orchestrator", "credentials.json")
	if st, err := os.Stat(creds); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", err, st)
	}
	if out := c.ok("whoami"); !strings.Contains(out, "admin (admin)") {
		t.Fatalf("whoami: %s", out)
	}

	// The catalog holds the examples.
	out = c.ok("templates", "list")
	for _, ex := range []string{"single-vm", "vm-with-volume", "private-network", "cluster", "web-server"} {
		if !strings.Contains(out, ex) {
			t.Fatalf("templates list lacks %s:\n%s", ex, out)
		}
	}
	if out := c.ok("templates", "show", "single-vm"); !strings.Contains(out, "num_cpus") || !strings.Contains(out, "in_range") {
		t.Fatalf("templates show: %s", out)
	}

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	keyFile := filepath.Join(c.home, "id.pub")
	os.WriteFile(keyFile, append(ssh.MarshalAuthorizedKey(key)[:len(ssh.MarshalAuthorizedKey(key))-1], []byte(" me@laptop\n")...), 0o644)
	if out := c.ok("ssh-key", "add", keyFile); !strings.Contains(out, "SHA256:") {
		t.Fatalf("ssh-key add: %s", out)
	}

	// Deploy and wait: logs stream, the deployment completes.
	out = c.ok("deploy", "single-vm", "--input", "num_cpus=2", "--input", "mem_size=4 GB", "--description", "quickstart", "--wait")
	if !strings.Contains(out, "CREATE_COMPLETE") || !strings.Contains(out, "Apply complete") {
		t.Fatalf("deploy --wait:\n%s", out)
	}
	id := uuidRE.FindString(out)
	if out := c.ok("deployments", "list"); !strings.Contains(out, id) || !strings.Contains(out, "CREATE_COMPLETE") {
		t.Fatalf("deployments list:\n%s", out)
	} else if nanos.MatchString(out) || !secondsRE.MatchString(out) {
		t.Fatalf("deployments list shows timestamps to the second:\n%s", out)
	}
	// Owners by username.
	svc.api("POST", "/api/v1/users", "", map[string]string{"username": "bob", "password": "password-bob"}, 201)
	if out := c.ok("deployments", "owners", id, "add", "bob"); !strings.Contains(out, "bob") {
		t.Fatalf("owners add by username:\n%s", out)
	}
	if out := c.ok("deployments", "owners", id, "rm", "bob"); strings.Contains(out, "bob") {
		t.Fatalf("owners rm by username:\n%s", out)
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(c.ok("deployments", "list", "-o", "json")), &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("-o json: %v", err)
	}
	if out := c.ok("outputs", id); !strings.Contains(out, "public_ip") || !strings.Contains(out, "172.24.4.") {
		t.Fatalf("outputs:\n%s", out)
	}
	if out := c.ok("resources", "list", id); !strings.Contains(out, "vm[0]") || !strings.Contains(out, "STARTED") {
		t.Fatalf("resources list:\n%s", out)
	}

	// Stop the VM.
	c.ok("resources", "stop", id, "vm", "--wait")
	if out := c.ok("resources", "list", id); !strings.Contains(out, "STOPPED") {
		t.Fatalf("after stop:\n%s", out)
	}
	c.ok("resources", "start", id, "vm[0]", "--wait")

	// Update in place.
	out = c.ok("deployments", "update", id, "--input", "num_cpus=4", "--wait")
	if !strings.Contains(out, "UPDATE_COMPLETE") {
		t.Fatalf("update:\n%s", out)
	}
	if out := c.ok("logs", id); !strings.Contains(out, "update run") || !strings.Contains(out, "orchestrator") {
		t.Fatalf("logs:\n%s", out)
	}
	var state map[string]any
	if err := json.Unmarshal([]byte(c.ok("state", id)), &state); err != nil || state["values"] == nil {
		t.Fatalf("state: %v", err)
	}

	// A failing deployment is a non-zero exit with Terraform's reason.
	out, code = c.run("", "deploy", "vm-with-volume", "--input", "volume_size=5000 GB", "--wait")
	if code != 1 || !strings.Contains(out, "CREATE_FAILED") || !strings.Contains(out, "quota") {
		t.Fatalf("failing deploy: exit %d\n%s", code, out)
	}
	// Invalid inputs are refused before anything runs, naming the input.
	out, code = c.run("", "deploy", "single-vm", "--input", "num_cpus=99")
	if code != 1 || !strings.Contains(out, "inputs.num_cpus") {
		t.Fatalf("invalid input: exit %d\n%s", code, out)
	}

	// Delete; the logs stay.
	out = c.ok("deployments", "delete", id, "--wait")
	if !strings.Contains(out, "DELETE_COMPLETE") {
		t.Fatalf("delete:\n%s", out)
	}
	if out := c.ok("logs", id); !strings.Contains(out, "Destruction complete") {
		t.Fatalf("logs after delete:\n%s", out)
	}
	if out := c.ok("outputs", id); !strings.Contains(out, "HISTORY") {
		t.Fatalf("outputs after delete are not marked as history:\n%s", out)
	}
}

// `serve --help` names each flag's argument by its type, and a generated
// password never starts with a character a shell or a flag parser reads as an
// option.
func TestServeHelpAndGeneratedPasswords(t *testing.T) {
	out, err := exec.Command(binary(t), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("serve --help: %v\n%s", err, out)
	}
	for _, want := range []string{"-tools-dir string", "-max-nodes int", "-login-max-failures int", "-client-ip-header string"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("serve --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "-tools-dir make") {
		t.Fatalf("serve --help reads backquotes as an argument name:\n%s", out)
	}
	for i := 0; i < 2000; i++ {
		p, err := newPassword(24)
		if err != nil || len(p) != 24 || !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(p) {
			t.Fatalf("password %q, %v", p, err)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The client commands talk to the REST API. Settings: --url (ORCHESTRATOR_URL,
// default http://127.0.0.1:8080), the token from ORCHESTRATOR_TOKEN or from
// `login` (stored in the user's config dir, mode 0600), -o json for raw output.

func init() {
	for name, f := range map[string]func(*client, []string) error{
		"login": cmdLogin, "whoami": cmdWhoami, "ssh-key": cmdSSHKey, "templates": cmdTemplates, "deploy": cmdDeploy,
		"deployments": cmdDeployments, "resources": cmdResources, "logs": cmdLogs, "outputs": cmdOutputs, "state": cmdState,
	} {
		f := f
		extraCommands[name] = func(args []string) int { return runClient(f, args) }
	}
	clientUsage = `
Client (--url or ORCHESTRATOR_URL; -o json for JSON output):
  login -u USER [--password-stdin]      log in and store the token
  whoami                                show your account
  ssh-key add FILE|KEY [--name N] | list | rm ID
  templates list | show ID | add --name N --version V FILE | rm ID
  deploy TEMPLATE_OR_FILE [--input k=v ...] [--target T] [--description D] [--wait]
  deployments list [--status S] | show ID | update ID [--input k=v] [--template FILE] [--redeploy] [--wait]
              | delete ID [--hard] [--force] [--wait] | reset ID | owners ID [add USER_ID | rm USER_ID]
  resources list ID | start|stop|reboot ID RESOURCE [--wait]
  logs ID [-f]                          print (or follow) a deployment's logs
  outputs ID                            a deployment's outputs
  state ID                              the terraform show view of its state
`
}

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

type client struct {
	base   string
	token  string
	json   bool
	http   *http.Client
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	tty    bool
}

func runClient(cmd func(*client, []string) error, args []string) int {
	c := &client{base: os.Getenv("ORCHESTRATOR_URL"), token: os.Getenv("ORCHESTRATOR_TOKEN"), http: &http.Client{Timeout: 5 * time.Minute},
		stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, tty: isTerminal(os.Stdout)}
	// Global flags may come anywhere.
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--url" && i+1 < len(args):
			c.base = args[i+1]
			i++
		case strings.HasPrefix(a, "--url="):
			c.base = strings.TrimPrefix(a, "--url=")
		case (a == "-o" || a == "--output") && i+1 < len(args):
			c.json = args[i+1] == "json"
			i++
		case a == "-o=json" || a == "--output=json":
			c.json = true
		default:
			rest = append(rest, a)
		}
	}
	if c.base == "" {
		c.base = "http://127.0.0.1:8080"
	}
	c.base = strings.TrimRight(c.base, "/")
	if c.token == "" {
		c.token = loadToken(c.base)
	}
	if err := cmd(c, rest); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(c.stderr, "orchestrator:", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintln(c.stderr, "orchestrator:", err)
		return exitFailed
	}
	return exitOK
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// call sends a request and decodes a JSON answer into out (when not nil). A non-2xx
// answer becomes an error with the API's message and details.
func (c *client) call(method, path string, body any, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.base, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		var ae apiError
		if json.Unmarshal(data, &ae) == nil && ae.Error.Message != "" {
			msg := fmt.Sprintf("%s (%d %s)", ae.Error.Message, res.StatusCode, ae.Error.Code)
			for _, d := range ae.Error.Details {
				switch {
				case d.Field != "" && d.Field != "template" && d.Field != "content":
					msg += fmt.Sprintf("\n  %s: %s", d.Field, d.Message)
				case d.Line > 0:
					msg += fmt.Sprintf("\n  line %d:%d: %s", d.Line, d.Column, d.Message)
				case d.Field != "":
					msg += fmt.Sprintf("\n  %s: %s", d.Field, d.Message)
				}
			}
			return data, &exitError{code: exitFailed, msg: msg}
		}
		return data, &exitError{code: exitFailed, msg: fmt.Sprintf("%s %s: HTTP %d", method, path, res.StatusCode)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return data, fmt.Errorf("unexpected answer from %s: %w", path, err)
		}
	}
	return data, nil
}

// print writes raw JSON with -o json, else calls human.
func (c *client) print(raw []byte, human func()) {
	if c.json {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			enc := json.NewEncoder(c.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(v)
			return
		}
		c.stdout.Write(raw)
		return
	}
	human()
}

func configFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "orchestrator", "credentials.json"), nil
}

// loadToken reads the token `login` stored for this service URL.
func loadToken(base string) string {
	p, err := configFile()
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	tokens := map[string]string{}
	_ = json.Unmarshal(data, &tokens)
	return tokens[base]
}

// saveToken stores a token for a service URL, readable by the user only.
func saveToken(base, token string) (string, error) {
	p, err := configFile()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	tokens := map[string]string{}
	if data, err := os.ReadFile(p); err == nil {
		_ = json.Unmarshal(data, &tokens)
	}
	tokens[base] = token
	data, _ := json.MarshalIndent(tokens, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// flags splits a command's arguments into positional ones and --name[=value]
// options; bool options take no value.
type flags struct {
	pos    []string
	values map[string][]string
}

func parseFlags(args []string, bools ...string) (*flags, error) {
	isBool := map[string]bool{}
	for _, b := range bools {
		isBool[b] = true
	}
	f := &flags{values: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			f.pos = append(f.pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			f.values[k] = append(f.values[k], v)
			continue
		}
		if isBool[name] {
			f.values[name] = append(f.values[name], "true")
			continue
		}
		if i+1 >= len(args) {
			return nil, usageErr("%s needs a value", a)
		}
		f.values[name] = append(f.values[name], args[i+1])
		i++
	}
	return f, nil
}

func (f *flags) get(name string) string {
	if v := f.values[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (f *flags) has(name string) bool { return len(f.values[name]) > 0 }

func cmdLogin(c *client, args []string) error {
	f, err := parseFlags(args, "password-stdin")
	if err != nil {
		return err
	}
	user := f.get("u")
	if user == "" {
		user = f.get("username")
	}
	if user == "" {
		return usageErr("usage: orchestrator login -u USER [--password-stdin]")
	}
	var password string
	if f.has("password-stdin") {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
	} else {
		if password, err = readPassword(c.stderr, "Password for "+user+": "); err != nil {
			return err
		}
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	c.token = ""
	if _, err := c.call("POST", "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &out); err != nil {
		return err
	}
	p, err := saveToken(c.base, out.Token)
	if err != nil {
		return fmt.Errorf("store the token: %w", err)
	}
	fmt.Fprintf(c.stdout, "Logged in to %s as %s (token stored in %s, valid until %s)\n", c.base, user, p, out.ExpiresAt)
	return nil
}

func cmdWhoami(c *client, args []string) error {
	var u struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		IsAdmin  bool   `json:"is_admin"`
		SSHKeys  []any  `json:"ssh_keys"`
	}
	raw, err := c.call("GET", "/api/v1/users/me", nil, &u)
	if err != nil {
		return err
	}
	c.print(raw, func() {
		role := "user"
		if u.IsAdmin {
			role = "admin"
		}
		fmt.Fprintf(c.stdout, "%s (%s) id=%s name=%q email=%q ssh_keys=%d\n", u.Username, role, u.ID, u.Name, u.Email, len(u.SSHKeys))
	})
	return nil
}

func cmdSSHKey(c *client, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: orchestrator ssh-key add FILE|KEY [--name N] | list | rm ID")
	}
	f, err := parseFlags(args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		if len(f.pos) != 1 {
			return usageErr("usage: orchestrator ssh-key add FILE|KEY [--name N]")
		}
		key := f.pos[0]
		if data, err := os.ReadFile(key); err == nil {
			key = strings.TrimSpace(string(data))
		}
		body := map[string]string{"public_key": key}
		if n := f.get("name"); n != "" {
			body["name"] = n
		}
		var k map[string]any
		raw, err := c.call("POST", "/api/v1/users/me/ssh-keys", body, &k)
		if err != nil {
			return err
		}
		c.print(raw, func() { fmt.Fprintf(c.stdout, "added %s %s (%s)\n", k["id"], k["fingerprint"], k["name"]) })
	case "list":
		var list struct{ Items []map[string]any }
		raw, err := c.call("GET", "/api/v1/users/me/ssh-keys", nil, &list)
		if err != nil {
			return err
		}
		c.print(raw, func() {
			w := newTable(c.stdout, "ID", "NAME", "FINGERPRINT")
			for _, k := range list.Items {
				w.row(k["id"], k["name"], k["fingerprint"])
			}
			w.flush()
		})
	case "rm":
		if len(f.pos) != 1 {
			return usageErr("usage: orchestrator ssh-key rm ID")
		}
		if _, err := c.call("DELETE", "/api/v1/users/me/ssh-keys/"+url.PathEscape(f.pos[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "removed", f.pos[0])
	default:
		return usageErr("unknown ssh-key command %q", args[0])
	}
	return nil
}

package configure

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed ansible/orchestrator.py
var callbackPlugin []byte

// TaskError is an Ansible task that failed: the node's status_reason names it.
type TaskError struct {
	Host    string
	Task    string
	Message string
}

func (e *TaskError) Error() string {
	msg := fmt.Sprintf("task %q failed on %s", e.Task, e.Host)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Playbook is one playbook run against one host.
type Playbook struct {
	Alias string
	// Path is the playbook as resolved (a mapped directory or the fetch cache);
	// it is never changed: a rewritten copy runs in its place.
	Path string
	// Vars are the operation's inputs, passed as extra vars from a JSON file.
	Vars map[string]any
	// RolesPath is where the deployment's Galaxy roles are installed.
	RolesPath string
}

// ansibleConfig writes the run's ansible.cfg: our callback, the session's ssh
// configuration, no connection sharing (nothing may outlive the run), and
// pipelining so a task is one ssh connection.
func (s *Session) ansibleConfig(rolesPath string) (string, error) {
	plugins := filepath.Join(s.Dir, "callback_plugins")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(plugins, "orchestrator.py"), callbackPlugin, 0o600); err != nil {
		return "", err
	}
	if rolesPath == "" {
		rolesPath = filepath.Join(s.Dir, "roles")
	}
	cfg := fmt.Sprintf(`[defaults]
stdout_callback = orchestrator
callback_plugins = %s
roles_path = %s
local_tmp = %s
retry_files_enabled = False
interpreter_python = auto_silent
host_key_checking = True
nocows = 1
forks = 5
timeout = 30
deprecation_warnings = False
collections_path = %s

[ssh_connection]
ssh_args = -F %s
pipelining = True
`, plugins, rolesPath, filepath.Join(s.Dir, "tmp"), filepath.Join(s.Dir, "collections"), s.ConfigPath)
	path := filepath.Join(s.Dir, "ansible.cfg")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// RunPlaybook runs a playbook against one host of the session. Each play's
// hosts become that host (as Infrastructure Manager does: catalog playbooks say
// `hosts: localhost` and `connection: local`, written to run on the VM itself).
// Inputs travel as extra vars in a JSON file, never on the command line and
// never inside the YAML. Every task result becomes a log line; the first failed
// task is returned as a *TaskError.
func (s *Session) RunPlaybook(ctx context.Context, pb Playbook, red *Redactor, sink Sink) error {
	if s.hosts[pb.Alias] == nil {
		return fmt.Errorf("no host %s in this session", pb.Alias)
	}
	stage, err := os.MkdirTemp(s.Dir, "playbook-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	staged, err := StagePlaybook(pb.Path, pb.Alias, stage)
	if err != nil {
		return err
	}
	cfgPath, err := s.ansibleConfig(pb.RolesPath)
	if err != nil {
		return err
	}
	inventory := filepath.Join(stage, "inventory.ini")
	if err := os.WriteFile(inventory, []byte(pb.Alias+"\n"), 0o600); err != nil {
		return err
	}
	vars := pb.Vars
	if vars == nil {
		vars = map[string]any{}
	}
	varsYAML, err := unsafeVars(vars)
	if err != nil {
		return fmt.Errorf("encode the operation's inputs: %w", err)
	}
	varsPath := filepath.Join(stage, "extra-vars.yml")
	if err := os.WriteFile(varsPath, varsYAML, 0o600); err != nil {
		return err
	}
	cmd := exec.Command("ansible-playbook", "-i", inventory, "-e", "@"+varsPath, staged)
	cmd.Dir = stage
	cmd.Env = s.env("ANSIBLE_CONFIG="+cfgPath, "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_NOCOLOR=1", "PYTHONUNBUFFERED=1")
	var failed *TaskError
	var stderrTail []string
	err = runGroup(ctx, cmd, func(l string) {
		line, te := parseEvent(l, red)
		if te != nil && failed == nil {
			failed = te
		}
		if line.Message != "" {
			sink(line)
		}
	}, func(l string) {
		l = red.Hide(strings.TrimSpace(l))
		if l == "" {
			return
		}
		level := "warn"
		if strings.HasPrefix(l, "ERROR!") {
			level = "error"
		}
		stderrTail = append(stderrTail, l)
		if len(stderrTail) > 5 {
			stderrTail = stderrTail[1:]
		}
		sink(Line{Level: level, Message: l})
	})
	if failed != nil {
		return failed
	}
	if err != nil {
		if len(stderrTail) > 0 && ctx.Err() == nil {
			return fmt.Errorf("ansible-playbook %s: %w: %s", filepath.Base(pb.Path), err, strings.Join(stderrTail, " | "))
		}
		return fmt.Errorf("ansible-playbook %s: %w", filepath.Base(pb.Path), err)
	}
	return nil
}

// unsafeVars encodes the inputs for `-e @file`: the JSON data model, written by
// a YAML encoder (never by text interpolation) so that every string can carry
// Ansible's !unsafe tag. Ansible templates extra vars: without the tag an input
// such as "{{ lookup('pipe', 'id') }}" would run a command on this host.
func unsafeVars(vars map[string]any) ([]byte, error) {
	raw, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	var node yaml.Node
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	var mark func(n *yaml.Node)
	mark = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				mark(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				mark(n.Content[i])
			}
		case yaml.ScalarNode:
			if n.Tag == "!!str" {
				n.Tag, n.Style = "!unsafe", yaml.DoubleQuotedStyle
			}
		}
	}
	mark(&node)
	return yaml.Marshal(&node)
}

// event is one line of our callback plugin.
type event struct {
	Event   string         `json:"event"`
	Name    string         `json:"name"`
	Task    string         `json:"task"`
	Host    string         `json:"host"`
	Status  string         `json:"status"`
	Changed bool           `json:"changed"`
	Handler bool           `json:"handler"`
	Msg     string         `json:"msg"`
	Stdout  string         `json:"stdout"`
	Stderr  string         `json:"stderr"`
	ModOut  string         `json:"module_stdout"`
	ModErr  string         `json:"module_stderr"`
	Reason  string         `json:"reason"`
	Hosts   map[string]any `json:"hosts"`
}

// parseEvent turns a callback line into a log line, and a failed task into a TaskError.
func parseEvent(raw string, red *Redactor) (Line, *TaskError) {
	var ev event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil || ev.Event == "" {
		return Line{Level: "info", Message: red.Hide(raw)}, nil // a print from a plugin or module
	}
	switch ev.Event {
	case "play":
		return Line{Level: "info", Message: "play: " + red.Hide(ev.Name)}, nil
	case "task":
		return Line{Level: "debug", Message: "task started: " + red.Hide(ev.Task)}, nil
	case "recap":
		b, _ := json.Marshal(ev.Hosts)
		return Line{Level: "info", Message: "recap: " + red.Hide(string(b))}, nil
	case "result":
	default:
		return Line{}, nil
	}
	detail := []string{}
	for _, part := range []string{ev.Msg, ev.Reason, ev.Stdout, ev.Stderr, ev.ModErr, ev.ModOut} {
		if p := strings.TrimSpace(part); p != "" {
			detail = append(detail, p)
		}
	}
	text := red.Hide(strings.Join(detail, " | "))
	msg := fmt.Sprintf("%s: %s", ev.Status, red.Hide(ev.Task))
	if text != "" {
		msg += ": " + text
	}
	switch ev.Status {
	case "failed", "unreachable":
		return Line{Level: "error", Message: msg}, &TaskError{Host: ev.Host, Task: red.Hide(ev.Task), Message: clip(text, 500)}
	case "ignored":
		return Line{Level: "warn", Message: msg + " (ignored)"}, nil
	default:
		return Line{Level: "info", Message: msg}, nil
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// StagePlaybook writes a copy of the playbook at src, its plays' hosts set to
// alias, into stage, beside links to everything next to the original (its
// templates/, files/, tasks/), so relative paths in the playbook still resolve.
func StagePlaybook(src, alias, stage string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("read playbook: %w", err)
	}
	out, err := RewriteHosts(data, alias)
	if err != nil {
		return "", fmt.Errorf("playbook %s: %w", filepath.Base(src), err)
	}
	dir := filepath.Dir(src)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(src) {
			continue
		}
		if err := os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(stage, e.Name())); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	path := filepath.Join(stage, "orchestrator-"+filepath.Base(src))
	return path, os.WriteFile(path, out, 0o600)
}

// RewriteHosts sets every play's hosts to alias and drops `connection: local`
// (the play was written to run on the host itself; here it runs over SSH).
// Plays that import other playbooks are kept as they are.
func RewriteHosts(data []byte, alias string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("a playbook is a list of plays")
	}
	for i, play := range doc.Content[0].Content {
		if play.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("play %d (line %d) is not a mapping", i+1, play.Line)
		}
		if mapHas(play, "import_playbook") || mapHas(play, "ansible.builtin.import_playbook") {
			continue
		}
		var kept []*yaml.Node
		hostsSet := false
		for j := 0; j+1 < len(play.Content); j += 2 {
			k, v := play.Content[j], play.Content[j+1]
			switch k.Value {
			case "hosts":
				v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: alias}
				hostsSet = true
			case "connection":
				if v.Value == "local" {
					continue
				}
			}
			kept = append(kept, k, v)
		}
		if !hostsSet {
			kept = append([]*yaml.Node{{Kind: yaml.ScalarNode, Value: "hosts"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: alias}}, kept...)
		}
		play.Content = kept
	}
	return yaml.Marshal(&doc)
}

func mapHas(m *yaml.Node, key string) bool {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key {
			return true
		}
	}
	return false
}

// Available says whether ansible-playbook and ansible-galaxy can run here.
func Available() error {
	for _, bin := range []string{"ansible-playbook", "ansible-galaxy"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed (Debian: apt-get install ansible-core)", bin)
		}
	}
	return nil
}

// SyntaxCheck runs ansible-playbook --syntax-check on a playbook, locally, with
// nothing to connect to (the local target's check of software nodes).
func SyntaxCheck(ctx context.Context, dir, path, rolesPath string) error {
	s := &Session{Dir: dir, ConfigPath: filepath.Join(dir, "ssh_config")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(s.ConfigPath, nil, 0o600); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(dir, "check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	staged, err := StagePlaybook(path, "simulated-0", stage)
	if err != nil {
		return err
	}
	cfgPath, err := s.ansibleConfig(rolesPath)
	if err != nil {
		return err
	}
	cmd := exec.Command("ansible-playbook", "--syntax-check", "-i", "simulated-0,", staged)
	cmd.Dir = stage
	cmd.Env = s.env("ANSIBLE_CONFIG="+cfgPath, "ANSIBLE_NOCOLOR=1")
	var lines []string
	collect := func(l string) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	if err := runGroup(ctx, cmd, collect, collect); err != nil {
		return fmt.Errorf("%s: %s", filepath.Base(path), clip(strings.Join(lines, " "), 1000))
	}
	return nil
}

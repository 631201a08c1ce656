package configure

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ScriptError is a script that exited non-zero: its last output lines say why.
type ScriptError struct {
	Host string
	Err  error
	Tail []string
}

func (e *ScriptError) Error() string {
	msg := fmt.Sprintf("script on %s failed: %v", e.Host, e.Err)
	if len(e.Tail) > 0 {
		msg += ": " + strings.Join(e.Tail, " | ")
	}
	return msg
}

// RunScript runs a shell script on a host over SSH with inputs as environment
// variables. Script and variables travel on ssh's standard input, never on a
// command line (where `ps` would show them); values are single-quoted so the
// remote shell never interprets them. Every output line goes to sink, through
// the redactor.
func (s *Session) RunScript(ctx context.Context, alias string, script []byte, env map[string]string, red *Redactor, sink Sink) error {
	if s.hosts[alias] == nil {
		return fmt.Errorf("no host %s in this session", alias)
	}
	var in bytes.Buffer
	names := make([]string, 0, len(env))
	for k := range env {
		if !envNameRe.MatchString(k) {
			return fmt.Errorf("input %q cannot be an environment variable name", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	in.WriteString("set -e\n")
	for _, k := range names {
		fmt.Fprintf(&in, "export %s=%s\n", k, shellQuote(env[k]))
	}
	// The script runs in its own bash, fed from a here-document whose end marker
	// cannot occur in it; set -e above only guards the exports.
	marker := "ORCHESTRATOR_SCRIPT_END"
	for bytes.Contains(script, []byte(marker)) {
		marker += "_"
	}
	fmt.Fprintf(&in, "set +e\nbash -s <<'%s'\n%s\n%s\n", marker, script, marker)
	cmd := s.sshCommand(alias, "bash", "-s")
	cmd.Stdin = &in
	var tail []string
	keep := func(l string) {
		tail = append(tail, l)
		if len(tail) > 5 {
			tail = tail[1:]
		}
	}
	err := runGroup(ctx, cmd,
		func(l string) { l = red.Hide(l); keep(l); sink(Line{Level: "info", Message: l}) },
		func(l string) { l = red.Hide(l); keep(l); sink(Line{Level: "warn", Message: l}) })
	if err != nil {
		return &ScriptError{Host: alias, Err: err, Tail: tail}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell: nothing inside is interpreted.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

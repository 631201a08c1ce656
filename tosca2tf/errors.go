package tosca2tf

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a TOSCA file.
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func (p Pos) String() string {
	file := p.File
	if file == "" {
		file = "<template>"
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
}

// Kind classifies an error, so callers (and the corpus report) can count failures
// by reason.
type Kind string

// Error kinds.
const (
	KindSyntax      Kind = "syntax"  // not YAML, or the wrong YAML shape
	KindVersion     Kind = "version" // unsupported tosca_definitions_version
	KindImport      Kind = "import"  // an import that cannot be resolved
	KindUnknownType Kind = "unknown_type"
	KindUnknownName Kind = "unknown_name" // a property, capability, requirement, node or input that does not exist
	KindValue       Kind = "value"        // a value of the wrong type
	KindConstraint  Kind = "constraint"   // a value outside its constraints
	KindMissing     Kind = "missing"      // a required property or input without value
	KindFunction    Kind = "function"     // a malformed or unresolvable function call
	KindRequirement Kind = "requirement"  // a requirement that cannot be satisfied
	KindUnsupported Kind = "unsupported"  // valid TOSCA this orchestrator cannot deploy
	KindCycle       Kind = "cycle"
)

// Error is one problem in a template, at a position.
type Error struct {
	Pos     Pos    `json:"pos"`
	Kind    Kind   `json:"kind"`
	Message string `json:"message"`
	// Field is set for problems with deployment inputs ("inputs.num_cpus").
	Field string `json:"field,omitempty"`
	// Node is the node template the problem is about, when there is one.
	Node string `json:"node,omitempty"`
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Message }

// Errors is a list of problems; it is an error when not empty.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	out := append(Errors(nil), es...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return out
}

// diag collects errors and warnings while parsing or translating; it never stops
// at the first problem, so a user sees everything wrong at once.
type diag struct {
	errs  Errors
	warns Errors
	seen  map[string]bool
}

func (d *diag) errorf(pos Pos, kind Kind, format string, args ...any) {
	d.add(&d.errs, &Error{Pos: pos, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

func (d *diag) warnf(pos Pos, kind Kind, format string, args ...any) {
	d.add(&d.warns, &Error{Pos: pos, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// nodeErrorf and nodeWarnf are errorf and warnf about one node template: the
// node's name travels with the message, for the API and the logs.
func (d *diag) nodeErrorf(node string, pos Pos, kind Kind, format string, args ...any) {
	d.add(&d.errs, &Error{Pos: pos, Kind: kind, Node: node, Message: fmt.Sprintf(format, args...)})
}

func (d *diag) nodeWarnf(node string, pos Pos, kind Kind, format string, args ...any) {
	d.add(&d.warns, &Error{Pos: pos, Kind: kind, Node: node, Message: fmt.Sprintf(format, args...)})
}

func (d *diag) add(list *Errors, e *Error) {
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	key := e.Error()
	if d.seen[key] { // one message per place, even when reached twice
		return
	}
	d.seen[key] = true
	*list = append(*list, e)
}

func (d *diag) failed() bool { return len(d.errs) > 0 }

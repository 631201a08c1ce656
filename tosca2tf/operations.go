package tosca2tf

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// typeOps keeps a type's or node template's interfaces and artifacts as
// written, for the configuration plan.
type typeOps struct {
	interfaces *yaml.Node
	artifacts  *yaml.Node
	file       string
}

// Operation is one lifecycle operation of a software node: what to run
// (Implementation, an Ansible playbook or a shell script) and its inputs, whose
// functions are evaluated after the apply (runtime.go).
type Operation struct {
	Interface      string // short name: "Standard", "Configure"
	Name           string // "create", "configure", "start", "stop", "delete"
	Implementation string
	// ImplementationType is the artifact type when the implementation names one
	// of the node's artifacts, or the implementation's own type.
	ImplementationType string
	Dependencies       []string
	Inputs             map[string]Expr
	// InputNames lists Inputs in the order written (reproducible runs and logs).
	InputNames []string
	// Pos is where the implementation is written (the operation's key when none is).
	Pos Pos
}

// Key is "Standard.create".
func (o *Operation) Key() string { return o.Interface + "." + o.Name }

// Kind says how the implementation runs: "ansible" (a playbook), "script" (a
// shell script over SSH), or "" (not runnable here).
func (o *Operation) Kind() string {
	t := strings.ToLower(o.ImplementationType)
	switch {
	case strings.HasSuffix(t, "ansible"), strings.HasSuffix(t, "ansible.playbook"):
		return "ansible"
	case strings.HasSuffix(t, "implementation.bash"), strings.HasSuffix(t, "implementation.sh"):
		return "script"
	}
	p := strings.ToLower(strings.SplitN(o.Implementation, "?", 2)[0])
	switch path.Ext(p) {
	case ".yml", ".yaml":
		return "ansible"
	case ".sh", ".bash":
		return "script"
	}
	return ""
}

// ConfigNode is a software node and what configuring it means.
type ConfigNode struct {
	Name string
	Type string
	// Host is the Compute the node runs on (through any chain of HostedOn).
	Host string
	// Operations are the node's operations by key ("Standard.create").
	Operations map[string]*Operation
	// Roles are the node's Ansible Galaxy role artifacts ("indigo-dc.docker,v2.1.3").
	Roles []string
	// DependsOn are the software nodes that must be configured first (the
	// targets of its requirements, its host when that is software too).
	DependsOn []string
	Pos       Pos
}

// Lifecycle orders: what a create runs, and what a delete runs.
var (
	CreateOperations = []string{"Standard.create", "Standard.configure", "Standard.start"}
	DeleteOperations = []string{"Standard.stop", "Standard.delete"}
)

// Steps are the operations a node has among keys, in that order.
func (n *ConfigNode) Steps(keys []string) []*Operation {
	var out []*Operation
	for _, k := range keys {
		if op := n.Operations[k]; op != nil && op.Implementation != "" {
			out = append(out, op)
		}
	}
	return out
}

// interfaceShort maps interface type names to the short names templates use.
func interfaceShort(name string) string {
	switch name {
	case "tosca.interfaces.node.lifecycle.Standard", "tosca:Standard":
		return "Standard"
	case "tosca.interfaces.relationship.Configure", "tosca:Configure":
		return "Configure"
	}
	return name
}

// Configuration lists the template's software nodes (nodes hosted, directly or
// not, on a Compute) with their operations merged from their type's ancestry
// and the template, in an order where every node comes after those it depends
// on (ties by name). It never fails on what it cannot run: CheckConfiguration
// says that.
func (t *Template) Configuration() []*ConfigNode {
	var out []*ConfigNode
	byName := map[string]*ConfigNode{}
	for _, n := range t.Nodes {
		host := t.computeHost(n)
		if host == "" || host == n.Name {
			continue
		}
		cn := &ConfigNode{Name: n.Name, Type: n.Type, Host: host, Operations: map[string]*Operation{}, Pos: n.Pos}
		arts := map[string]artifactDef{}
		anc := t.Types.ancestry(NodeType, n.Type)
		for i := len(anc) - 1; i >= 0; i-- { // root first: descendants override
			readArtifactDefs(anc[i].ops, arts)
			readInterfaces(anc[i].ops, cn.Operations)
		}
		for name, a := range n.Artifacts {
			arts[name] = artifactDef{Type: a.Type, File: a.File}
		}
		readInterfaces(n.ops, cn.Operations)
		for _, op := range cn.Operations {
			if a, ok := arts[op.Implementation]; ok { // the implementation names an artifact
				op.Implementation, op.ImplementationType = a.File, a.Type
			}
		}
		names := make([]string, 0, len(arts))
		for name := range arts {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if a := arts[name]; strings.HasSuffix(strings.ToLower(a.Type), "ansiblegalaxy.role") && a.File != "" {
				cn.Roles = append(cn.Roles, a.File)
			}
		}
		out = append(out, cn)
		byName[n.Name] = cn
	}
	for _, cn := range out {
		n := t.Node(cn.Name)
		seen := map[string]bool{}
		for _, r := range n.Requirements {
			if r.Node != "" && byName[r.Node] != nil && r.Node != cn.Name && !seen[r.Node] {
				seen[r.Node] = true
				cn.DependsOn = append(cn.DependsOn, r.Node)
			}
		}
		sort.Strings(cn.DependsOn)
	}
	return orderConfig(out, byName)
}

// orderConfig sorts nodes so that dependencies come first; nodes in a cycle
// (which the validator refuses elsewhere) keep their place at the end.
func orderConfig(nodes []*ConfigNode, byName map[string]*ConfigNode) []*ConfigNode {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	done := map[string]bool{}
	var out []*ConfigNode
	for len(out) < len(nodes) {
		progress := false
		for _, n := range nodes {
			if done[n.Name] {
				continue
			}
			ready := true
			for _, d := range n.DependsOn {
				if !done[d] && byName[d] != nil {
					ready = false
				}
			}
			if ready {
				done[n.Name] = true
				out = append(out, n)
				progress = true
			}
		}
		if !progress {
			for _, n := range nodes {
				if !done[n.Name] {
					done[n.Name] = true
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// computeHost follows a node's host chain to the Compute it runs on ("" for
// nodes that run on no Compute; the node itself for a Compute).
func (t *Template) computeHost(n *NodeTemplate) string {
	seen := map[string]bool{}
	for n != nil && !seen[n.Name] {
		seen[n.Name] = true
		if t.Types.IsA(NodeType, n.Type, "tosca.nodes.Compute") {
			return n.Name
		}
		if n.Host == "" {
			return ""
		}
		n = t.Node(n.Host)
	}
	return ""
}

type artifactDef struct{ Type, File string }

// readArtifactDefs reads a type's artifacts (name: file, or name: {file, type}).
func readArtifactDefs(o typeOps, into map[string]artifactDef) {
	es, ok := entries(o.artifacts)
	if !ok || o.artifacts == nil {
		return
	}
	for _, e := range es {
		if s, ok := scalarString(e.Value); ok {
			into[e.Key] = artifactDef{File: s}
			continue
		}
		fields, _ := entries(e.Value)
		var a artifactDef
		for _, f := range fields {
			switch f.Key {
			case "file":
				a.File, _ = scalarString(f.Value)
			case "type":
				a.Type, _ = scalarString(f.Value)
			}
		}
		into[e.Key] = a
	}
}

// readInterfaces merges interface definitions or assignments into ops: an
// operation written later replaces the implementation and adds to the inputs.
func readInterfaces(o typeOps, ops map[string]*Operation) {
	es, ok := entries(o.interfaces)
	if !ok || o.interfaces == nil {
		return
	}
	p := &parser{}
	for _, iface := range es {
		name := interfaceShort(iface.Key)
		body, _ := entries(iface.Value)
		var shared []entry // interface-level inputs
		for _, e := range body {
			if e.Key == "inputs" {
				shared, _ = entries(e.Value)
			}
		}
		for _, e := range body {
			switch e.Key {
			case "type", "inputs", "description", "notifications", "derived_from":
				continue
			case "operations": // TOSCA 1.3 writes operations under this key
				inner, _ := entries(e.Value)
				for _, op := range inner {
					readOperation(p, o.file, name, op, shared, ops)
				}
				continue
			}
			readOperation(p, o.file, name, e, shared, ops)
		}
	}
}

func readOperation(p *parser, file, iface string, e entry, shared []entry, ops map[string]*Operation) {
	key := iface + "." + e.Key
	op := ops[key]
	if op == nil {
		op = &Operation{Interface: iface, Name: e.Key, Inputs: map[string]Expr{}}
		ops[key] = op
	} else { // a copy, so a template's assignment never changes its type's definition
		c := *op
		c.Inputs = map[string]Expr{}
		for k, v := range op.Inputs {
			c.Inputs[k] = v
		}
		c.InputNames = append([]string{}, op.InputNames...)
		op = &c
		ops[key] = op
	}
	if op.Pos.Line == 0 {
		op.Pos = posOf(file, e.KeyN)
	}
	addInput := func(in entry) {
		v := in.Value
		// A TOSCA 1.3 input definition {type, default|value}: its value.
		if fields, ok := entries(v); ok && v.Kind == yaml.MappingNode && hasKey(fields, "type") {
			v = nil
			for _, f := range fields {
				if f.Key == "value" || (f.Key == "default" && v == nil) {
					v = f.Value
				}
			}
			if v == nil {
				return
			}
		}
		if _, seen := op.Inputs[in.Key]; !seen {
			op.InputNames = append(op.InputNames, in.Key)
		}
		op.Inputs[in.Key] = p.expr(v, file)
	}
	for _, in := range shared {
		addInput(in)
	}
	if s, ok := scalarString(e.Value); ok {
		op.Implementation, op.ImplementationType, op.Dependencies = s, "", nil
		op.Pos = posOf(file, e.Value)
		return
	}
	fields, _ := entries(e.Value)
	for _, f := range fields {
		switch f.Key {
		case "implementation":
			op.Pos = posOf(file, f.Value)
			if s, ok := scalarString(f.Value); ok {
				op.Implementation, op.ImplementationType, op.Dependencies = s, "", nil
				continue
			}
			impl, _ := entries(f.Value)
			op.Dependencies = nil
			for _, i := range impl {
				switch i.Key {
				case "primary":
					if s, ok := scalarString(i.Value); ok {
						op.Implementation = s
					} else {
						pf, _ := entries(i.Value)
						for _, x := range pf {
							switch x.Key {
							case "file":
								op.Implementation, _ = scalarString(x.Value)
							case "type":
								op.ImplementationType, _ = scalarString(x.Value)
							}
						}
					}
				case "dependencies":
					op.Dependencies = stringList(i.Value)
				}
			}
		case "inputs":
			ins, _ := entries(f.Value)
			for _, in := range ins {
				addInput(in)
			}
		}
	}
}

func hasKey(es []entry, key string) bool {
	for _, e := range es {
		if e.Key == key {
			return true
		}
	}
	return false
}

// CheckConfiguration says, for every operation a deployment would run, whether
// its implementation can be run and resolved: resolve returns nil when the
// reference (a playbook, script or Galaxy role) can be found. Problems name the
// node, the operation and the line.
func (t *Template) CheckConfiguration(resolve func(ref string, role bool) error) Errors {
	var errs Errors
	for _, n := range t.Configuration() {
		for _, op := range n.Steps(append(append([]string{}, CreateOperations...), DeleteOperations...)) {
			if op.Kind() == "" {
				errs = append(errs, &Error{Pos: op.Pos, Kind: KindUnsupported, Message: fmt.Sprintf(
					"node %q operation %s: implementation %q is neither an Ansible playbook (.yml, .yaml) nor a shell script (.sh)", n.Name, op.Key(), op.Implementation)})
				continue
			}
			if err := resolve(op.Implementation, false); err != nil {
				errs = append(errs, &Error{Pos: op.Pos, Kind: KindImport, Message: fmt.Sprintf("node %q operation %s: %v", n.Name, op.Key(), err)})
			}
			for _, dep := range op.Dependencies {
				if err := resolve(dep, false); err != nil {
					errs = append(errs, &Error{Pos: op.Pos, Kind: KindImport, Message: fmt.Sprintf("node %q operation %s dependency: %v", n.Name, op.Key(), err)})
				}
			}
		}
		if len(n.Steps(CreateOperations)) > 0 {
			for _, r := range n.Roles {
				if err := resolve(r, true); err != nil {
					errs = append(errs, &Error{Pos: n.Pos, Kind: KindImport, Message: fmt.Sprintf("node %q Galaxy role: %v", n.Name, err)})
				}
			}
		}
	}
	return errs
}

package tosca2tf

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Runtime evaluates TOSCA functions after the infrastructure exists: the
// configuration phase uses it for operation inputs, with attributes read from
// the Terraform state (the resources' orc_resource attributes).
type Runtime struct {
	T *Template
	// Inputs are the deployment's input values, defaults filled in.
	Inputs map[string]any
	// Instances are the attributes of each node's instances, by node name and
	// instance index (computes: private_address, public_address, ...).
	Instances map[string][]map[string]any
	// Sensitive collects the values of sensitive inputs an evaluation used, for
	// the redactor.
	Sensitive []string
}

// attributeAliases are the TOSCA attribute names that our modules report
// under another name.
var attributeAliases = map[string]string{"ip_address": "private_address"}

// Eval evaluates e for node self running on its host's instance.
func (rt *Runtime) Eval(self string, instance int, e Expr) (any, error) {
	switch x := e.(type) {
	case nil:
		return nil, nil
	case *Lit:
		return x.Value, nil
	case *ListExpr:
		out := make([]any, 0, len(x.Items))
		for _, it := range x.Items {
			v, err := rt.Eval(self, instance, it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *MapExpr:
		out := map[string]any{}
		for _, k := range x.Keys {
			v, err := rt.Eval(self, instance, x.Items[k])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case *Call:
		v, err := rt.call(self, instance, x)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", x.Pos.Line, x.Func, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func (rt *Runtime) args(self string, instance int, c *Call) ([]any, error) {
	out := make([]any, 0, len(c.Args))
	for _, a := range c.Args {
		v, err := rt.Eval(self, instance, a)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (rt *Runtime) call(self string, instance int, c *Call) (any, error) {
	args, err := rt.args(self, instance, c)
	if err != nil {
		return nil, err
	}
	switch c.Func {
	case "get_input":
		if len(args) == 0 {
			return nil, fmt.Errorf("needs an input name")
		}
		name := fmt.Sprint(args[0])
		if l, ok := args[0].([]any); ok && len(l) > 0 { // get_input: [name, path...]
			name, args = fmt.Sprint(l[0]), append([]any{l[0]}, l[1:]...)
		}
		v, ok := rt.Inputs[name]
		if !ok {
			return nil, fmt.Errorf("no input %q", name)
		}
		if in := rt.T.Input(name); in != nil && in.Schema.Type == "string" && isSensitive(in) {
			rt.Sensitive = append(rt.Sensitive, fmt.Sprint(v))
		}
		return walk(v, args[1:])
	case "get_property":
		if len(args) < 2 {
			return nil, fmt.Errorf("needs an entity and a property name")
		}
		node, err := rt.entity(self, fmt.Sprint(args[0]))
		if err != nil {
			return nil, err
		}
		return rt.property(node, instance, fmt.Sprint(args[1]), args[2:])
	case "get_attribute":
		if len(args) < 2 {
			return nil, fmt.Errorf("needs an entity and an attribute name")
		}
		ref := fmt.Sprint(args[0])
		node, err := rt.entity(self, ref)
		if err != nil {
			return nil, err
		}
		return rt.attribute(node, instance, ref == "SELF" || ref == "HOST", fmt.Sprint(args[1]), args[2:])
	case "concat":
		var b strings.Builder
		for _, a := range args {
			if a == nil {
				return nil, fmt.Errorf("a part of the concatenation has no value")
			}
			b.WriteString(text(a))
		}
		return b.String(), nil
	case "join":
		if len(args) == 0 {
			return nil, fmt.Errorf("needs a list")
		}
		list, _ := args[0].([]any)
		sep := ""
		if len(args) > 1 {
			sep = text(args[1])
		}
		parts := make([]string, 0, len(list))
		for _, p := range list {
			parts = append(parts, text(p))
		}
		return strings.Join(parts, sep), nil
	case "token":
		if len(args) != 3 {
			return nil, fmt.Errorf("needs a string, separators and an index")
		}
		idx, err := strconv.Atoi(text(args[2]))
		if err != nil {
			return nil, fmt.Errorf("index %v is not a number", args[2])
		}
		parts := strings.FieldsFunc(text(args[0]), func(r rune) bool { return strings.ContainsRune(text(args[1]), r) })
		if idx < 0 || idx >= len(parts) {
			return nil, fmt.Errorf("index %d is out of range (%d tokens)", idx, len(parts))
		}
		return parts[idx], nil
	case "get_artifact":
		// [entity, artifact]: the artifact's file as the template names it (the
		// playbook fetches it; nothing is copied to the host beforehand).
		if len(args) < 2 {
			return nil, fmt.Errorf("needs an entity and an artifact name")
		}
		node, err := rt.entity(self, fmt.Sprint(args[0]))
		if err != nil {
			return nil, err
		}
		if a, ok := node.Artifacts[fmt.Sprint(args[1])]; ok {
			return a.File, nil
		}
		return nil, fmt.Errorf("node %q has no artifact %q", node.Name, args[1])
	}
	return nil, fmt.Errorf("%s is not supported in operation inputs", c.Func)
}

func isSensitive(in *Input) bool {
	// The parser keeps no "sensitive" flag on inputs yet: names that say secret do.
	n := strings.ToLower(in.Name)
	for _, w := range []string{"password", "secret", "token", "passwd", "private_key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// entity resolves SELF, HOST or a node name.
func (rt *Runtime) entity(self, ref string) (*NodeTemplate, error) {
	n := rt.T.Node(self)
	switch ref {
	case "SELF":
	case "HOST":
		if n == nil || n.Host == "" {
			return nil, fmt.Errorf("node %q has no host", self)
		}
		n = rt.T.Node(n.Host)
	case "SOURCE", "TARGET":
		return nil, fmt.Errorf("%s is only meaningful in relationship operations", ref)
	default:
		n = rt.T.Node(ref)
	}
	if n == nil {
		return nil, fmt.Errorf("no node %q", ref)
	}
	return n, nil
}

// property is a node's property (its template's value, else its type's
// default), or a property of one of its capabilities.
func (rt *Runtime) property(n *NodeTemplate, instance int, name string, path []any) (any, error) {
	if e, ok := n.Properties[name]; ok {
		v, err := rt.Eval(n.Name, instance, e)
		if err != nil {
			return nil, err
		}
		return walk(v, path)
	}
	if def := rt.T.Types.Properties(NodeType, n.Type)[name]; def != nil {
		var v any
		if def.Default != nil {
			v, _ = plain(def.Default)
		}
		return walk(v, path)
	}
	// [SELF, requirement, property]: a property of the requirement's target.
	if len(path) > 0 {
		for _, r := range n.Requirements {
			if r.Name == name && r.Node != "" {
				if target := rt.T.Node(r.Node); target != nil {
					return rt.property(target, instance, text(path[0]), path[1:])
				}
			}
		}
	}
	if c, ok := n.Capabilities[name]; ok && len(path) > 0 {
		if e, ok := c.Properties[fmt.Sprint(path[0])]; ok {
			v, err := rt.Eval(n.Name, instance, e)
			if err != nil {
				return nil, err
			}
			return walk(v, path[1:])
		}
		return nil, nil
	}
	if name == "type" && len(path) == 0 { // INDIGO's [SELF, lrms, type]: the node's type
		return n.Type, nil
	}
	return nil, fmt.Errorf("node %q has no property %q", n.Name, name)
}

// attribute is a node's runtime attribute: from its instances (the one the
// operation runs on when reached through SELF or HOST, else every instance, a
// list when there are several), falling back to its properties.
func (rt *Runtime) attribute(n *NodeTemplate, instance int, local bool, name string, path []any) (any, error) {
	insts := rt.Instances[n.Name]
	key := name
	if a, ok := attributeAliases[name]; ok {
		key = a
	}
	pick := func(attrs map[string]any) (any, bool) {
		switch name {
		case "tosca_name":
			return n.Name, true
		case "tosca_id":
			v, ok := attrs["cloud_id"]
			return v, ok
		}
		v, ok := attrs[key]
		return v, ok
	}
	if len(insts) > 0 {
		var v any
		found := false
		if local || len(insts) == 1 {
			i := instance
			if i >= len(insts) || !local {
				i = 0
			}
			v, found = pick(insts[i])
		} else {
			list := make([]any, 0, len(insts))
			for _, attrs := range insts {
				x, ok := pick(attrs)
				found = found || ok
				list = append(list, x)
			}
			v = list
		}
		if found {
			return walkIndex(v, path)
		}
	}
	if _, ok := n.Properties[name]; ok || rt.T.Types.Properties(NodeType, n.Type)[name] != nil {
		return rt.property(n, instance, name, path)
	}
	// [SELF, requirement, attribute]: an attribute of the requirement's target.
	if len(path) > 0 {
		for _, r := range n.Requirements {
			if r.Name == name && r.Node != "" {
				if target := rt.T.Node(r.Node); target != nil {
					return rt.attribute(target, instance, false, text(path[0]), path[1:])
				}
			}
		}
	}
	if len(insts) == 0 {
		return nil, fmt.Errorf("node %q has no instances with attributes yet", n.Name)
	}
	return nil, fmt.Errorf("node %q has no attribute %q", n.Name, name)
}

// walkIndex follows a path into an attribute; an index into a single value
// (INDIGO's [HOST, private_address, 0] on a host with one address) is the value.
func walkIndex(v any, path []any) (any, error) {
	if len(path) > 0 {
		if _, isList := v.([]any); !isList {
			if i, err := strconv.Atoi(text(path[0])); err == nil && i == 0 {
				return walk(v, path[1:])
			}
		}
	}
	return walk(v, path)
}

// walk follows list indexes and map keys.
func walk(v any, path []any) (any, error) {
	for _, p := range path {
		switch x := v.(type) {
		case []any:
			i, err := strconv.Atoi(text(p))
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("index %v is out of range (%d entries)", p, len(x))
			}
			v = x[i]
		case map[string]any:
			v = x[text(p)]
		default:
			return nil, fmt.Errorf("cannot take %v of a %T", p, v)
		}
	}
	return v, nil
}

// text is a value as it appears inside a string.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// OperationInputs evaluates an operation's inputs for node self on its host's
// instance; a failure names the input.
func (rt *Runtime) OperationInputs(self string, instance int, op *Operation) (map[string]any, error) {
	out := map[string]any{}
	names := append([]string{}, op.InputNames...)
	sort.Strings(names)
	for _, k := range names {
		v, err := rt.Eval(self, instance, op.Inputs[k])
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

package tosca2tf

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// tfv is a value on its way into Terraform: either known at translation time
// (lit) or a Terraform expression (expr), or both (an input: its value is known
// and its expression is var.x).
type tfv struct {
	val       any    // normalized value, when known
	known     bool   // val is meaningful
	expr      string // HCL expression; "" for a pure literal
	sensitive bool   // derived from a sensitive input
	// nullable says the expression may be null when Terraform evaluates it (an
	// attribute a target may not report): functions that cannot take a null
	// guard against it.
	nullable bool
	// list says the expression is a list of one value per instance.
	list bool
}

func literal(v any) tfv { return tfv{val: v, known: true} }

// render returns the value as it goes into main.tf.json: a "${...}" string for
// expressions, an escaped literal otherwise.
func (v tfv) render() any {
	if v.expr != "" {
		return "${" + v.expr + "}"
	}
	return escapeLiterals(jsonish(v.val))
}

// hcl returns the value as an HCL expression (for use inside other expressions).
func (v tfv) hcl() string {
	if v.expr != "" {
		return v.expr
	}
	return hclLiteral(jsonish(v.val))
}

// evalCtx is where a function is evaluated: the node whose property holds it,
// and the source and target of a relationship.
type evalCtx struct {
	self, source, target *NodeTemplate
	// module is the module whose arguments are being built: its own attributes
	// cannot be among them.
	module string
	depth  int
}

// errUnresolvable marks values that will not exist: attributes only a
// configuration step could know, attributes of nodes that are only recorded, an
// index past the end of a list, a null inside a concatenation. Where they are
// used they become null (or unset) with a warning, never a failure inside
// Terraform.
type errUnresolvable struct{ msg string }

func (e *errUnresolvable) Error() string { return e.msg }

func unresolvable(format string, args ...any) error {
	return &errUnresolvable{fmt.Sprintf(format, args...)}
}

// asUnresolvable reports whether err is (or wraps) an errUnresolvable.
func asUnresolvable(err error) (*errUnresolvable, bool) {
	var u *errUnresolvable
	if err != nil && errors.As(err, &u) {
		return u, true
	}
	return nil, false
}

// eval turns an expression into a tfv.
func (tr *translator) eval(c evalCtx, e Expr) (tfv, error) {
	if c.depth > 32 {
		return tfv{}, fmt.Errorf("functions refer to each other in a loop")
	}
	c.depth++
	switch x := e.(type) {
	case *Lit:
		return literal(x.Value), nil
	case *ListExpr:
		vals := make([]tfv, len(x.Items))
		allKnown, anyExpr := true, false
		for i, item := range x.Items {
			v, err := tr.eval(c, item)
			if err != nil {
				return tfv{}, err
			}
			vals[i] = v
			allKnown = allKnown && v.known
			anyExpr = anyExpr || v.expr != ""
		}
		out := tfv{known: allKnown}
		parts := make([]string, len(vals))
		list := make([]any, len(vals))
		for i, v := range vals {
			parts[i], list[i] = v.hcl(), v.val
			out.sensitive = out.sensitive || v.sensitive
		}
		if allKnown {
			out.val = list
		}
		if anyExpr {
			out.expr = "[" + strings.Join(parts, ", ") + "]"
		}
		return out, nil
	case *MapExpr:
		out := tfv{known: true}
		m := map[string]any{}
		parts := []string{}
		anyExpr := false
		for _, k := range x.Keys {
			v, err := tr.eval(c, x.Items[k])
			if err != nil {
				return tfv{}, err
			}
			out.known = out.known && v.known
			out.sensitive = out.sensitive || v.sensitive
			anyExpr = anyExpr || v.expr != ""
			m[k] = v.val
			parts = append(parts, hclString(k)+" = "+v.hcl())
		}
		if out.known {
			out.val = m
		}
		if anyExpr {
			out.expr = "{" + strings.Join(parts, ", ") + "}"
		}
		return out, nil
	case *Call:
		return tr.call(c, x)
	}
	return tfv{}, fmt.Errorf("unknown expression")
}

func (tr *translator) call(c evalCtx, x *Call) (tfv, error) {
	switch x.Func {
	case "get_input":
		return tr.getInput(x)
	case "get_property":
		return tr.getProperty(c, x)
	case "get_attribute":
		return tr.getAttribute(c, x)
	case "concat":
		return tr.concat(c, x.Args)
	case "join":
		return tr.join(c, x)
	case "token":
		return tr.token(c, x)
	}
	return tfv{}, &errUnresolvable{fmt.Sprintf("%s is only known during configuration, which orchestrator does not run", x.Func)}
}

func (tr *translator) getInput(x *Call) (tfv, error) {
	args := x.Args
	if l, ok := args[0].(*ListExpr); ok { // get_input: [name, key, ...] written as a nested list
		args = l.Items
	}
	name, _ := litString(args[0])
	in := tr.t.inputs[name]
	if in == nil {
		return tfv{}, fmt.Errorf("get_input names unknown input %q", name)
	}
	v := tfv{val: tr.inputs[name], known: true, expr: "var." + tr.inputVar(name), sensitive: sensitiveName(name)}
	if len(args) == 1 && len(x.Args) > 1 { // get_input: [name, key] as plain list args
		args = x.Args
	}
	for _, a := range args[1:] {
		var err error
		if v, err = index(v, a); err != nil {
			return tfv{}, fmt.Errorf("get_input %s: %w", name, err)
		}
	}
	return v, nil
}

// index selects a key or element of a value (nested get_input/get_property paths).
func index(v tfv, a Expr) (tfv, error) {
	l, ok := a.(*Lit)
	if !ok {
		return tfv{}, fmt.Errorf("path elements must be literal")
	}
	out := tfv{sensitive: v.sensitive, nullable: v.nullable}
	if v.known && v.val == nil {
		return tfv{}, unresolvable("the value is null, so it has no element %v", l.Value)
	}
	switch k := l.Value.(type) {
	case int64:
		if list, ok := v.val.([]any); ok && v.known {
			if k < 0 || int(k) >= len(list) {
				return tfv{}, unresolvable("index %d is out of range (the list has %d elements)", k, len(list))
			}
			out.val, out.known = list[k], true
		}
		if v.expr != "" {
			out.expr = fmt.Sprintf("%s[%d]", v.expr, k)
		}
	case string:
		if m, ok := v.val.(map[string]any); ok && v.known {
			item, has := m[k]
			if !has {
				return tfv{}, unresolvable("the map has no key %q", k)
			}
			out.val, out.known = item, true
		}
		if v.expr != "" {
			out.expr = fmt.Sprintf("%s[%s]", v.expr, hclString(k))
		}
	default:
		return tfv{}, fmt.Errorf("path elements must be names or indexes")
	}
	return out, nil
}

// entity resolves SELF, SOURCE, TARGET, HOST or a node name.
func (tr *translator) entity(c evalCtx, name string) (*NodeTemplate, error) {
	switch name {
	case selfEntity:
		if c.self == nil {
			return nil, fmt.Errorf("SELF has no meaning here")
		}
		return c.self, nil
	case sourceEntity:
		if c.source == nil {
			return nil, fmt.Errorf("SOURCE is only meaningful in a relationship")
		}
		return c.source, nil
	case targetEntity:
		if c.target == nil {
			return nil, fmt.Errorf("TARGET is only meaningful in a relationship")
		}
		return c.target, nil
	case hostEntity:
		if c.self == nil || c.self.Host == "" {
			return nil, fmt.Errorf("HOST: the node has no host requirement")
		}
		return tr.t.nodes[c.self.Host], nil
	}
	n := tr.t.nodes[name]
	if n == nil {
		return nil, fmt.Errorf("unknown node %q", name)
	}
	return n, nil
}

func (tr *translator) getProperty(c evalCtx, x *Call) (tfv, error) {
	entityName, _ := litString(x.Args[0])
	node, err := tr.entity(c, entityName)
	if err != nil {
		return tfv{}, fmt.Errorf("get_property: %w", err)
	}
	rest := x.Args[1:]
	first, _ := litString(rest[0])
	var expr Expr
	var def *PropertyDef
	inner := evalCtx{self: node, module: c.module, depth: c.depth}
	if ca, capDef := node.Capabilities[first], tr.reg.Capabilities(node.Type)[first]; capDef != nil && len(rest) > 1 {
		prop, _ := litString(rest[1])
		if ca != nil {
			expr = ca.Properties[prop]
		}
		def = tr.capabilityProperties(capDef)[prop]
		if def == nil {
			return tfv{}, fmt.Errorf("get_property: capability %q of %q has no property %q", first, node.Name, prop)
		}
		rest = rest[2:]
	} else if req := requirementNamed(node, first); req != nil && len(rest) > 1 && req.Node != "" {
		// A property of the requirement's target node (or of its relationship).
		target := tr.t.nodes[req.Node]
		prop, _ := litString(rest[1])
		if rel, ok := req.RelProperties[prop]; ok {
			expr = rel
		} else if v, ok := target.Properties[prop]; ok {
			expr, inner = v, evalCtx{self: target, module: c.module, depth: c.depth}
		} else {
			def = tr.reg.Properties(NodeType, target.Type)[prop]
		}
		rest = rest[2:]
	} else {
		expr = node.Properties[first]
		def = tr.reg.Properties(NodeType, node.Type)[first]
		if expr == nil && def == nil {
			return tfv{}, fmt.Errorf("get_property: node %q has no property %q", node.Name, first)
		}
		rest = rest[1:]
	}
	var v tfv
	switch {
	case expr != nil:
		if v, err = tr.eval(inner, expr); err != nil {
			return tfv{}, err
		}
	case def != nil && def.Default != nil:
		raw, _ := plain(def.Default)
		v = literal(raw)
	default:
		v = literal(nil)
	}
	for _, a := range rest {
		if v, err = index(v, a); err != nil {
			return tfv{}, fmt.Errorf("get_property: %w", err)
		}
	}
	return v, nil
}

func requirementNamed(n *NodeTemplate, name string) *RequirementAssignment {
	for _, r := range n.Requirements {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// attributeOutputs maps TOSCA attributes to module outputs, per module kind.
var attributeOutputs = map[string]map[string]string{
	"compute": {"private_address": "private_address", "public_address": "public_address", "networks": "networks",
		"ip_address": "private_address", "tosca_id": "id", "tosca_name": "name", "state": "power_state", "ports": "networks"},
	"block_storage":  {"volume_id": "id", "tosca_id": "id", "size": "size_gb"},
	"network":        {"network_id": "id", "tosca_id": "id", "network_name": "name", "cidr": "cidr"},
	"port":           {"ip_address": "ip_address", "tosca_id": "id", "mac_address": "mac_address"},
	"object_storage": {"tosca_id": "id", "name": "name"},
}

func (tr *translator) getAttribute(c evalCtx, x *Call) (tfv, error) {
	entityName, _ := litString(x.Args[0])
	node, err := tr.entity(c, entityName)
	if err != nil {
		return tfv{}, fmt.Errorf("get_attribute: %w", err)
	}
	rest := x.Args[1:]
	name, _ := litString(rest[0])
	// [node, capability, attribute]: the endpoint's ip_address is the node's address.
	if len(rest) > 1 {
		if _, isCap := tr.reg.Capabilities(node.Type)[name]; isCap {
			attr, _ := litString(rest[1])
			if attr != "ip_address" {
				return tfv{}, unresolvable("attribute %q of capability %q of %q is not reported by the %s target", attr, name, node.Name, tr.target)
			}
			name, rest = "public_address", rest[1:]
			if !tr.isPublic(tr.hostNode(node)) {
				name = "private_address"
			}
		}
	}
	info := tr.nodes[node.Name]
	if info == nil {
		return tfv{}, fmt.Errorf("get_attribute: node %q is not deployed", node.Name)
	}
	// A software node's addresses are its host's.
	if info.Kind == kindSoftware {
		if name != "private_address" && name != "public_address" && name != "ip_address" {
			return tfv{}, unresolvable("attribute %q of software node %q is only known after configuration, which orchestrator does not run", name, node.Name)
		}
		info = tr.nodes[info.Host]
	}
	if info.Kind == kindRecorded {
		return tfv{}, unresolvable("node %q is recorded, not deployed, so its attribute %q is null", node.Name, name)
	}
	output, ok := attributeOutputs[info.Kind][name]
	if !ok {
		return tfv{}, unresolvable("attribute %q of %q is not reported by the %s target", name, node.Name, tr.target)
	}
	if info.Kind == "compute" && output == "public_address" && !tr.isPublic(info.node) {
		return tfv{}, unresolvable("%q has no public address (it asks for none: no PUBLIC endpoint and no public network)", info.node.Name)
	}
	if c.module != "" && info.ident == c.module {
		return tfv{}, unresolvable("%q refers to its own attribute %q, which exists only once %q is created", node.Name, name, node.Name)
	}
	// Every module output reached here has a value once the module is applied
	// (a public address only when asked for, checked above).
	mod := "module." + info.ident
	v := tfv{expr: fmt.Sprintf("%s[0].%s", mod, output)}
	if info.scalable {
		v.expr, v.list = fmt.Sprintf("%s[*].%s", mod, output), true
	}
	if len(rest) > 1 {
		l, ok := rest[1].(*Lit)
		i := int64(toInt(l.Value, -1))
		if !ok || i < 0 {
			return tfv{}, fmt.Errorf("get_attribute: index must be a whole number")
		}
		v.list = false
		switch {
		case info.scalable:
			if n, known := info.count.val.(int64); known && info.count.known && i >= n {
				return tfv{}, unresolvable("%q has %d instances, so it has no instance %d", info.node.Name, n, i)
			}
			v.expr = fmt.Sprintf("%s[%d].%s", mod, i, output)
		case output == "networks":
			v.expr = fmt.Sprintf("%s[0].%s[%d]", mod, output, i)
		case i != 0:
			// INDIGO templates index addresses: a server has one, at index 0.
			return tfv{}, unresolvable("%q of %q has one value, so it has no element %d", name, node.Name, i)
		}
	}
	return v, nil
}

// hostNode is the Compute that stands for a node's addresses: its host for
// software, the node itself otherwise.
func (tr *translator) hostNode(n *NodeTemplate) *NodeTemplate {
	if info := tr.nodes[n.Name]; info != nil && info.Kind == kindSoftware {
		return tr.nodes[info.Host].node
	}
	return n
}

func (tr *translator) concat(c evalCtx, args []Expr) (tfv, error) {
	var parts []tfv
	allLit := true
	for i, a := range args {
		v, err := tr.eval(c, a)
		if err != nil {
			return tfv{}, err
		}
		if v.known && v.val == nil {
			return tfv{}, unresolvable("concat: part %d is null", i+1)
		}
		if v.list {
			return tfv{}, unresolvable("concat: part %d is a list (one value per instance of a scaled node), not text; index it", i+1)
		}
		if _, isList := v.val.([]any); v.known && isList {
			return tfv{}, unresolvable("concat: part %d is a list, not text", i+1)
		}
		parts = append(parts, v)
		allLit = allLit && v.expr == ""
	}
	out := tfv{}
	var text strings.Builder
	hcl := make([]string, len(parts))
	var guards []string
	known := true
	for i, p := range parts {
		out.sensitive = out.sensitive || p.sensitive
		known = known && p.known
		if p.known {
			text.WriteString(scalarText(jsonish(p.val)))
		}
		hcl[i] = p.hcl()
		if p.nullable && p.expr != "" {
			guards = append(guards, p.expr)
		}
	}
	if known {
		out.val, out.known = text.String(), true
	}
	if !allLit {
		out.expr = `join("", [` + strings.Join(hcl, ", ") + `])`
		out.expr = guardNull(out.expr, guards)
	}
	return out, nil
}

// guardNull makes expr null, instead of a failure inside Terraform, when one of
// the values it needs is null.
func guardNull(expr string, values []string) string {
	if len(values) == 0 {
		return expr
	}
	return fmt.Sprintf("anytrue([for v in [%s] : v == null]) ? null : %s", strings.Join(values, ", "), expr)
}

func (tr *translator) join(c evalCtx, x *Call) (tfv, error) {
	list, err := tr.eval(c, x.Args[0])
	if err != nil {
		return tfv{}, err
	}
	delim := literal("")
	if len(x.Args) > 1 {
		if delim, err = tr.eval(c, x.Args[1]); err != nil {
			return tfv{}, err
		}
	}
	if list.known && list.val == nil {
		return tfv{}, unresolvable("join: the list is null")
	}
	out := tfv{sensitive: list.sensitive || delim.sensitive}
	if items, ok := list.val.([]any); ok && list.known && delim.known {
		strs := make([]string, len(items))
		for i, it := range items {
			if it == nil {
				return tfv{}, unresolvable("join: element %d is null", i)
			}
			strs[i] = scalarText(jsonish(it))
		}
		out.val, out.known = strings.Join(strs, scalarText(delim.val)), true
	}
	if list.expr != "" || delim.expr != "" {
		out.expr = fmt.Sprintf("join(%s, %s)", delim.hcl(), list.hcl())
		if list.nullable && list.expr != "" {
			out.expr = fmt.Sprintf("%s == null || anytrue([for v in %s : v == null]) ? null : %s", list.expr, list.expr, out.expr)
		}
	}
	return out, nil
}

func (tr *translator) token(c evalCtx, x *Call) (tfv, error) {
	s, err := tr.eval(c, x.Args[0])
	if err != nil {
		return tfv{}, err
	}
	seps, _ := litString(x.Args[1])
	idx := toInt(x.Args[2].(*Lit).Value, 0)
	out := tfv{sensitive: s.sensitive}
	if s.known {
		fields := strings.FieldsFunc(scalarText(jsonish(s.val)), func(r rune) bool { return strings.ContainsRune(seps, r) })
		if idx < len(fields) {
			out.val, out.known = fields[idx], true
		}
	}
	if s.known && s.val == nil {
		return tfv{}, unresolvable("token: the string is null")
	}
	if s.expr != "" {
		// A string with fewer tokens (or a null one) gives null, not a failure.
		class := "[^" + regexp.QuoteMeta(seps) + "]+"
		out.expr = fmt.Sprintf("try(regexall(%s, %s)[%d], null)", hclString(class), s.expr, idx)
		out.nullable = true
	}
	if !out.known && out.expr == "" {
		return tfv{}, unresolvable("token: %q has no token %d", scalarText(s.val), idx)
	}
	return out, nil
}

// sensitiveName guesses secrets by name, so Terraform redacts them in plans,
// state views and outputs.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "secret", "token", "private_key", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

package tosca2tf

import (
	"fmt"
	"strings"
)

// Normative type names the validator and translator reason about.
const (
	nodeRoot      = "tosca.nodes.Root"
	nodeCompute   = "tosca.nodes.Compute"
	nodeBlock     = "tosca.nodes.BlockStorage"
	nodeObject    = "tosca.nodes.ObjectStorage"
	nodeNetwork   = "tosca.nodes.network.Network"
	nodePort      = "tosca.nodes.network.Port"
	nodeSoftware  = "tosca.nodes.SoftwareComponent"
	relHostedOn   = "tosca.relationships.HostedOn"
	relAttachesTo = "tosca.relationships.AttachesTo"
	relBindsTo    = "tosca.relationships.network.BindsTo"
	relLinksTo    = "tosca.relationships.network.LinksTo"
	relDependsOn  = "tosca.relationships.DependsOn"
	capEndpoint   = "tosca.capabilities.Endpoint"
	policyRoot    = "tosca.policies.Root"
	selfEntity    = "SELF"
	sourceEntity  = "SOURCE"
	targetEntity  = "TARGET"
	hostEntity    = "HOST"
)

// validate checks a parsed template's references and literal values.
func (p *parser) validate(t *Template) {
	for _, n := range t.Nodes {
		p.validateNode(t, n)
	}
	for _, n := range t.Nodes {
		p.findHost(t, n)
	}
	for _, r := range t.Relationships {
		for _, name := range names(r.Properties) {
			props := p.reg.Properties(RelationshipType, r.Type)
			def, ok := props[name]
			if !ok {
				p.d.errorf(r.Properties[name].exprPos(), KindUnknownName, "relationship type %s has no property %q", r.Type, name)
				continue
			}
			p.checkExpr(t, nil, r.Properties[name], &def.Schema, "property "+name)
		}
	}
	for _, o := range t.Outputs {
		p.checkExpr(t, nil, o.Value, nil, "output "+o.Name)
	}
	for _, g := range t.Groups {
		if p.reg.Lookup(GroupType, g.Type) == nil {
			p.d.errorf(g.Pos, KindUnknownType, "group %q has unknown type %q", g.Name, g.Type)
		}
		for _, m := range g.Members {
			if t.nodes[m] == nil {
				p.d.errorf(g.Pos, KindUnknownName, "group %q names unknown node %q", g.Name, m)
			}
		}
	}
	for _, pol := range t.Policies {
		if p.reg.Lookup(PolicyType, pol.Type) == nil {
			p.d.errorf(pol.Pos, KindUnknownType, "policy %q has unknown type %q", pol.Name, pol.Type)
			continue
		}
		for _, target := range pol.Targets {
			if t.nodes[target] == nil && !groupNamed(t, target) {
				p.d.errorf(pol.Pos, KindUnknownName, "policy %q targets unknown node or group %q", pol.Name, target)
			}
		}
		p.d.warnf(pol.Pos, KindUnsupported, "policy %q (%s) is recorded but not enforced by orchestrator", pol.Name, p.reg.canonical(PolicyType, pol.Type))
	}
}

func groupNamed(t *Template, name string) bool {
	for _, g := range t.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

func (p *parser) validateNode(t *Template, n *NodeTemplate) {
	td := p.reg.Lookup(NodeType, n.Type)
	if td == nil {
		p.d.errorf(n.TypePos, KindUnknownType, "node %q has unknown type %q", n.Name, n.Type)
		return
	}
	n.Type = td.Name
	props := p.reg.Properties(NodeType, n.Type)
	for _, name := range names(n.Properties) {
		def, ok := props[name]
		if !ok {
			p.d.errorf(n.Properties[name].exprPos(), KindUnknownName, "node %q: type %s has no property %q", n.Name, n.Type, name)
			continue
		}
		p.checkExpr(t, n, n.Properties[name], &def.Schema, fmt.Sprintf("node %q property %q", n.Name, name))
	}
	for _, name := range names(props) {
		def := props[name]
		if _, ok := n.Properties[name]; ok || !def.Required || def.Default != nil {
			continue
		}
		p.d.errorf(n.Pos, KindMissing, "node %q lacks required property %q of type %s", n.Name, name, n.Type)
	}
	caps := p.reg.Capabilities(n.Type)
	for _, capName := range names(n.Capabilities) {
		ca := n.Capabilities[capName]
		def, ok := caps[capName]
		if !ok {
			p.d.errorf(ca.Pos, KindUnknownName, "node %q: type %s has no capability %q", n.Name, n.Type, capName)
			continue
		}
		capProps := p.capabilityProperties(def)
		for _, name := range names(ca.Properties) {
			pd, ok := capProps[name]
			if !ok {
				p.d.errorf(ca.Properties[name].exprPos(), KindUnknownName, "node %q: capability %q (%s) has no property %q", n.Name, capName, def.Type, name)
				continue
			}
			p.checkExpr(t, n, ca.Properties[name], &pd.Schema, fmt.Sprintf("node %q capability %q property %q", n.Name, capName, name))
		}
	}
	for _, r := range n.Requirements {
		p.validateRequirement(t, n, r)
	}
}

// capabilityProperties returns a capability's properties: its type's, refined by
// the node type's definition.
func (p *parser) capabilityProperties(def *CapabilityDef) map[string]*PropertyDef {
	out := p.reg.Properties(CapabilityType, def.Type)
	for name, pd := range def.Properties {
		out[name] = mergeProperty(out[name], pd)
	}
	return out
}

func (p *parser) validateRequirement(t *Template, n *NodeTemplate, r *RequirementAssignment) {
	def := p.reg.requirement(n.Type, r.Name)
	if def == nil {
		if r.Relationship == "" && r.Capability == "" {
			p.d.errorf(r.Pos, KindUnknownName, "node %q: type %s has no requirement %q", n.Name, n.Type, r.Name)
			return
		}
		// Not declared by the type, but the template says what it means.
		p.d.nodeWarnf(n.Name, r.Pos, KindRequirement, "node %q: type %s declares no requirement %q; using the relationship given", n.Name, n.Type, r.Name)
		def = &RequirementDef{Name: r.Name, Relationship: r.Relationship, Capability: r.Capability}
	}
	if r.Relationship == "" {
		r.Relationship = def.Relationship
	}
	if r.Relationship != "" {
		if rt, ok := t.Relationships[r.Relationship]; ok {
			if r.RelProperties == nil {
				r.RelProperties = rt.Properties
			}
			r.Relationship = rt.Type
		} else if c := p.reg.canonical(RelationshipType, r.Relationship); c != "" {
			r.Relationship = c
		} else {
			p.d.errorf(r.Pos, KindUnknownType, "node %q requirement %q: unknown relationship %q", n.Name, r.Name, r.Relationship)
			return
		}
		relProps := p.reg.Properties(RelationshipType, r.Relationship)
		for _, name := range names(r.RelProperties) {
			pd, ok := relProps[name]
			if !ok {
				p.d.errorf(r.RelProperties[name].exprPos(), KindUnknownName, "relationship %s has no property %q", r.Relationship, name)
				continue
			}
			p.checkExpr(t, n, r.RelProperties[name], &pd.Schema, fmt.Sprintf("node %q requirement %q property %q", n.Name, r.Name, name))
		}
	}
	if r.Capability == "" {
		r.Capability = def.Capability
	}
	if r.Node != "" && t.nodes[r.Node] == nil {
		if nt := p.reg.Lookup(NodeType, r.Node); nt != nil {
			// TOSCA 1.3: the short form may name a node type; pick a template of it.
			r.NodeType, r.Node = nt.Name, ""
		} else {
			p.d.errorf(r.Pos, KindUnknownName, "node %q requirement %q names unknown node %q", n.Name, r.Name, r.Node)
			return
		}
	}
	if r.Node == "" {
		p.bindAbstract(t, n, r, def)
		return
	}
	target := t.nodes[r.Node]
	targetType := p.reg.canonical(NodeType, target.Type)
	if targetType == "" {
		return // reported with the target node
	}
	if def.Node != "" && p.reg.Lookup(NodeType, def.Node) != nil && !p.reg.IsA(NodeType, targetType, def.Node) {
		// Type libraries in the wild are not always consistent (INDIGO's Docker
		// runtime is no Container.Runtime): say so, but follow the template.
		p.d.nodeWarnf(n.Name, r.Pos, KindRequirement, "node %q requirement %q expects a %s, but %q is a %s", n.Name, r.Name, def.Node, r.Node, targetType)
	}
}

// bindAbstract satisfies a requirement that names no node template (only a node
// type, a capability or a node_filter) with the first template that fits, in
// template order. Filters are not evaluated: a node_filter requirement stays
// abstract, and the translator refuses it where it matters.
func (p *parser) bindAbstract(t *Template, n *NodeTemplate, r *RequirementAssignment, def *RequirementDef) {
	want := r.NodeType
	if want == "" && !r.NodeFilter {
		want = p.reg.canonical(NodeType, def.Node)
	}
	if want == "" || want == nodeRoot {
		return
	}
	for _, cand := range t.Nodes {
		if cand == n {
			continue
		}
		if p.reg.IsA(NodeType, cand.Type, want) {
			r.Node = cand.Name
			p.d.nodeWarnf(n.Name, r.Pos, KindRequirement, "node %q requirement %q names no node: using %q, the first %s", n.Name, r.Name, cand.Name, want)
			return
		}
	}
	if r.NodeType != "" {
		p.d.errorf(r.Pos, KindRequirement, "node %q requirement %q asks for a %s, and the template has none", n.Name, r.Name, r.NodeType)
	}
}

// findHost follows a node's host requirement (a HostedOn relationship).
func (p *parser) findHost(t *Template, n *NodeTemplate) {
	for _, r := range n.Requirements {
		if r.Node != "" && (r.Name == "host" || (r.Relationship != "" && p.reg.IsA(RelationshipType, r.Relationship, relHostedOn))) {
			n.Host = r.Node
			return
		}
	}
}

// checkExpr checks a value against a schema when it is literal, and the
// references of the functions inside it.
func (p *parser) checkExpr(t *Template, self *NodeTemplate, e Expr, s *Schema, what string) {
	switch x := e.(type) {
	case *Lit:
		if s == nil || x.Value == nil {
			return
		}
		if _, err := p.vc.check(x.Value, s, ""); err != nil {
			kind := KindValue
			if strings.Contains(err.Error(), "must") || strings.Contains(err.Error(), "not one of") || strings.Contains(err.Error(), "does not match") {
				kind = KindConstraint
			}
			p.d.errorf(x.Pos, kind, "%s: %s", what, err.Error())
		}
	case *ListExpr:
		var entry *Schema
		if s != nil && s.Type == tList {
			entry = s.EntrySchema
		}
		for _, item := range x.Items {
			p.checkExpr(t, self, item, entry, what)
		}
	case *MapExpr:
		var entry *Schema
		if s != nil && s.Type == tMap {
			entry = s.EntrySchema
		}
		for _, k := range x.Keys {
			p.checkExpr(t, self, x.Items[k], entry, what)
		}
	case *Call:
		p.checkCall(t, self, x, what)
	}
}

func litString(e Expr) (string, bool) {
	l, ok := e.(*Lit)
	if !ok {
		return "", false
	}
	switch v := l.Value.(type) {
	case string:
		return v, true
	case int64, float64:
		return scalarText(v), true
	}
	return "", false
}

func (p *parser) checkCall(t *Template, self *NodeTemplate, c *Call, what string) {
	bad := func(format string, args ...any) {
		p.d.errorf(c.Pos, KindFunction, "%s: %s", what, fmt.Sprintf(format, args...))
	}
	switch c.Func {
	case "get_input":
		name, ok := litString(c.Args[0])
		if !ok {
			bad("get_input takes an input name")
			return
		}
		if t.inputs[name] == nil {
			bad("get_input names unknown input %q", name)
		}
	case "get_property", "get_attribute":
		if len(c.Args) < 2 {
			bad("%s takes [entity, name, ...]", c.Func)
			return
		}
		entity, ok := litString(c.Args[0])
		if !ok {
			bad("%s: the entity must be SELF, SOURCE, TARGET, HOST or a node name", c.Func)
			return
		}
		switch entity {
		case selfEntity, sourceEntity, targetEntity, hostEntity:
			if self == nil && entity != sourceEntity && entity != targetEntity {
				bad("%s: %s has no meaning here; name a node", c.Func, entity)
			}
		default:
			if t.nodes[entity] == nil {
				bad("%s names unknown node %q", c.Func, entity)
			}
		}
		for _, a := range c.Args[1:] {
			if _, ok := a.(*Lit); !ok {
				bad("%s arguments must be literal names or indexes", c.Func)
			}
		}
	case "concat":
		for _, a := range c.Args {
			p.checkExpr(t, self, a, nil, what)
		}
	case "join":
		if len(c.Args) < 1 || len(c.Args) > 4 {
			bad("join takes [list, delimiter?, prefix?, suffix?]")
			return
		}
		for _, a := range c.Args {
			p.checkExpr(t, self, a, nil, what)
		}
	case "token":
		if len(c.Args) != 3 {
			bad("token takes [string, separators, index]")
			return
		}
		p.checkExpr(t, self, c.Args[0], nil, what)
		if _, ok := litString(c.Args[1]); !ok {
			bad("token separators must be a literal string")
		}
		if l, ok := c.Args[2].(*Lit); !ok || toInt(l.Value, -1) < 0 {
			bad("token index must be a whole number")
		}
	}
}

package tosca2tf

import (
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TypeKind is the section a type is declared in.
type TypeKind string

// Type kinds.
const (
	NodeType         TypeKind = "node_types"
	CapabilityType   TypeKind = "capability_types"
	RelationshipType TypeKind = "relationship_types"
	DataType         TypeKind = "data_types"
	ArtifactType     TypeKind = "artifact_types"
	InterfaceType    TypeKind = "interface_types"
	PolicyType       TypeKind = "policy_types"
	GroupType        TypeKind = "group_types"
)

var typeKinds = []TypeKind{DataType, ArtifactType, CapabilityType, InterfaceType, RelationshipType, NodeType, GroupType, PolicyType}

// shortPrefix is the namespace part TOSCA lets templates omit ("Compute" for
// tosca.nodes.Compute, "tosca:Compute" likewise).
var shortPrefix = map[TypeKind]string{
	NodeType: "tosca.nodes.", CapabilityType: "tosca.capabilities.", RelationshipType: "tosca.relationships.",
	DataType: "tosca.datatypes.", ArtifactType: "tosca.artifacts.", InterfaceType: "tosca.interfaces.",
	PolicyType: "tosca.policies.", GroupType: "tosca.groups.",
}

// Schema is the type of a value: a primitive, a data type, or a list or map of them.
type Schema struct {
	Type        string
	EntrySchema *Schema
	KeySchema   *Schema
	Constraints []*Constraint
	Pos         Pos
}

// PropertyDef defines a property or attribute of a type.
type PropertyDef struct {
	Name        string
	Schema      Schema
	Required    bool
	Default     *yaml.Node
	Description string
	Pos         Pos
}

// CapabilityDef defines a capability of a node type.
type CapabilityDef struct {
	Name             string
	Type             string
	Properties       map[string]*PropertyDef // refinements of the capability type's properties
	ValidSourceTypes []string
	Pos              Pos
}

// RequirementDef defines a requirement of a node type.
type RequirementDef struct {
	Name         string
	Capability   string
	Node         string
	Relationship string
	Lower, Upper int // occurrences; Upper < 0 is UNBOUNDED
	Pos          Pos
}

// TypeDef is one type as declared, before inheritance is applied.
type TypeDef struct {
	Name         string
	Kind         TypeKind
	DerivedFrom  string
	Description  string
	Properties   map[string]*PropertyDef
	Attributes   map[string]*PropertyDef
	Capabilities map[string]*CapabilityDef
	Requirements []*RequirementDef
	// Constraints and entry schema of a data type derived from a primitive.
	Constraints      []*Constraint
	EntrySchema      *Schema
	ValidTargetTypes []string
	Pos              Pos
	builtin          bool
}

// Registry holds every type a template can use: the normative ones and those it
// declares or imports.
type Registry struct {
	types map[TypeKind]map[string]*TypeDef
	// short maps the normative types' last name segments ("PortSpec") to their
	// full names, where the segment is unique within its kind. It is built once
	// for the built-in types and shared, read-only, by every clone.
	short map[TypeKind]map[string]string
}

func newRegistry() *Registry {
	r := &Registry{types: map[TypeKind]map[string]*TypeDef{}}
	for _, k := range typeKinds {
		r.types[k] = map[string]*TypeDef{}
	}
	return r
}

func (r *Registry) clone() *Registry {
	c := newRegistry()
	for k, m := range r.types {
		for n, t := range m {
			c.types[k][n] = t
		}
	}
	c.short = r.short
	return c
}

// indexShortNames records the last name segment of every type, where it is
// unique within its kind (the TOSCA shorthand names: PortSpec for
// tosca.datatypes.network.PortSpec, Network for tosca.nodes.network.Network).
func (r *Registry) indexShortNames() {
	r.short = map[TypeKind]map[string]string{}
	for kind, m := range r.types {
		count := map[string]int{}
		full := map[string]string{}
		for name := range m {
			seg := name[strings.LastIndex(name, ".")+1:]
			count[seg]++
			full[seg] = name
		}
		r.short[kind] = map[string]string{}
		for seg, n := range count {
			if n == 1 {
				r.short[kind][seg] = full[seg]
			}
		}
	}
}

// Lookup finds a type by full name, short name ("Compute", "PortSpec") or
// prefixed name ("tosca:Compute").
func (r *Registry) Lookup(kind TypeKind, name string) *TypeDef {
	m := r.types[kind]
	if t, ok := m[name]; ok {
		return t
	}
	short := strings.TrimPrefix(name, "tosca:")
	if t, ok := m[shortPrefix[kind]+short]; ok {
		return t
	}
	if full, ok := r.short[kind][short]; ok && !strings.Contains(short, ".") {
		return m[full]
	}
	return nil
}

// canonical returns the full name a type reference resolves to, or "".
func (r *Registry) canonical(kind TypeKind, name string) string {
	if t := r.Lookup(kind, name); t != nil {
		return t.Name
	}
	return ""
}

// ancestry lists a type and its ancestors, nearest first. Cycles end the walk.
func (r *Registry) ancestry(kind TypeKind, name string) []*TypeDef {
	var out []*TypeDef
	seen := map[string]bool{}
	for t := r.Lookup(kind, name); t != nil && !seen[t.Name]; t = r.Lookup(kind, t.DerivedFrom) {
		seen[t.Name] = true
		out = append(out, t)
		if t.DerivedFrom == "" {
			break
		}
	}
	return out
}

// IsA reports whether a type is, or derives from, ancestor.
func (r *Registry) IsA(kind TypeKind, name, ancestor string) bool {
	want := r.canonical(kind, ancestor)
	if want == "" {
		want = ancestor
	}
	for _, t := range r.ancestry(kind, name) {
		if t.Name == want {
			return true
		}
	}
	return false
}

// Properties returns a type's properties with inheritance applied (a derived
// type's definition of a name replaces its ancestor's).
func (r *Registry) Properties(kind TypeKind, name string) map[string]*PropertyDef {
	out := map[string]*PropertyDef{}
	chain := r.ancestry(kind, name)
	for i := len(chain) - 1; i >= 0; i-- {
		for n, p := range chain[i].Properties {
			out[n] = mergeProperty(out[n], p)
		}
	}
	return out
}

// mergeProperty lets a refinement that omits the type keep its ancestor's type.
func mergeProperty(base, p *PropertyDef) *PropertyDef {
	if base == nil || p.Schema.Type != "" {
		return p
	}
	c := *p
	c.Schema.Type, c.Schema.EntrySchema, c.Schema.KeySchema = base.Schema.Type, base.Schema.EntrySchema, base.Schema.KeySchema
	c.Schema.Constraints = append(append([]*Constraint(nil), base.Schema.Constraints...), p.Schema.Constraints...)
	return &c
}

// Attributes returns a type's attributes with inheritance applied.
func (r *Registry) Attributes(kind TypeKind, name string) map[string]*PropertyDef {
	out := map[string]*PropertyDef{}
	chain := r.ancestry(kind, name)
	for i := len(chain) - 1; i >= 0; i-- {
		for n, p := range chain[i].Attributes {
			out[n] = mergeProperty(out[n], p)
		}
	}
	return out
}

// Capabilities returns a node type's capabilities with inheritance applied.
func (r *Registry) Capabilities(name string) map[string]*CapabilityDef {
	out := map[string]*CapabilityDef{}
	chain := r.ancestry(NodeType, name)
	for i := len(chain) - 1; i >= 0; i-- {
		for n, c := range chain[i].Capabilities {
			if prev, ok := out[n]; ok && c.Type == "" {
				cc := *c
				cc.Type = prev.Type
				c = &cc
			}
			out[n] = c
		}
	}
	return out
}

// Requirements returns a node type's requirements with inheritance applied,
// ancestors' first, a redefinition replacing the ancestor's in place.
func (r *Registry) Requirements(name string) []*RequirementDef {
	var out []*RequirementDef
	index := map[string]int{}
	chain := r.ancestry(NodeType, name)
	for i := len(chain) - 1; i >= 0; i-- {
		for _, q := range chain[i].Requirements {
			if at, ok := index[q.Name]; ok {
				prev := out[at]
				qq := *q
				if qq.Capability == "" {
					qq.Capability = prev.Capability
				}
				if qq.Node == "" {
					qq.Node = prev.Node
				}
				if qq.Relationship == "" {
					qq.Relationship = prev.Relationship
				}
				out[at] = &qq
				continue
			}
			index[q.Name] = len(out)
			out = append(out, q)
		}
	}
	return out
}

// requirement returns a node type's requirement definition by name.
func (r *Registry) requirement(nodeType, name string) *RequirementDef {
	for _, q := range r.Requirements(nodeType) {
		if q.Name == name {
			return q
		}
	}
	return nil
}

// names returns the sorted keys of a map, for deterministic iteration.
func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

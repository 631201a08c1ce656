package tosca2tf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Source is a template to parse.
type Source struct {
	// Name is shown in error positions: a file path or a catalog name.
	Name    string
	Content []byte
	// Path is the file's path on disk, for local imports (needs Resolver.AllowLocal).
	Path string
}

// MaxTemplateBytes bounds a template and each file it imports.
const MaxTemplateBytes = 1 << 20

// supportedVersions are the tosca_definitions_version values we read.
var supportedVersions = map[string]bool{
	"tosca_simple_yaml_1_0": true, "tosca_simple_yaml_1_1": true, "tosca_simple_yaml_1_2": true, "tosca_simple_yaml_1_3": true,
}

// topKeys are the keys a service template or type file may have.
var topKeys = map[string]bool{
	"tosca_definitions_version": true, "tosca_default_namespace": true, "template_name": true, "template_author": true,
	"template_version": true, "metadata": true, "description": true, "dsl_definitions": true, "repositories": true,
	"imports": true, "topology_template": true, "namespace": true,
}

// Parse reads a TOSCA service template, resolves its imports and types, and
// validates it. The error, when not nil, is Errors with every problem found.
func Parse(ctx context.Context, src Source, r *Resolver) (*Template, error) {
	if r == nil {
		r = &Resolver{}
	}
	p := &parser{ctx: ctx, resolver: r, reg: normativeTypes().clone(), loaded: map[string]bool{}, repos: map[string]string{}}
	p.vc = valueChecker{reg: p.reg}
	t := p.parse(src)
	if p.d.failed() {
		return nil, p.d.errs.sorted()
	}
	t.Warnings = p.d.warns.sorted()
	return t, nil
}

type parser struct {
	ctx      context.Context
	d        diag
	reg      *Registry
	resolver *Resolver
	vc       valueChecker
	loaded   map[string]bool
	repos    map[string]string
	depth    int
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// document decodes YAML into its root node, turning decoder errors into positioned ones.
func (p *parser) document(file string, data []byte) *yaml.Node {
	if len(data) > MaxTemplateBytes {
		p.d.errorf(Pos{File: file, Line: 1, Column: 1}, KindSyntax, "file is %d bytes, more than the limit of %d", len(data), MaxTemplateBytes)
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.d.errorf(Pos{File: file, Line: 1, Column: 1}, KindSyntax, "the file is empty")
			return nil
		}
		pos := Pos{File: file, Line: 1, Column: 1}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
		}
		p.d.errorf(pos, KindSyntax, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	if len(doc.Content) == 0 {
		p.d.errorf(Pos{File: file, Line: 1, Column: 1}, KindSyntax, "the file is empty")
		return nil
	}
	if err := checkExpansion(&doc); err != nil {
		pos := Pos{File: file, Line: 1, Column: 1}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
		}
		p.d.errorf(pos, KindSyntax, "YAML aliases: %s", strings.SplitN(err.Error(), ": ", 2)[1])
		return nil
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.d.errorf(posOf(file, root), KindSyntax, "a TOSCA file must be a YAML mapping")
		return nil
	}
	return root
}

func (p *parser) parse(src Source) *Template {
	file := src.Name
	t := &Template{File: file, Relationships: map[string]*RelationshipTemplate{}, Types: p.reg,
		inputs: map[string]*Input{}, nodes: map[string]*NodeTemplate{}, Metadata: map[string]any{}}
	root := p.document(file, src.Content)
	if root == nil {
		return t
	}
	t.Version = p.readDefinitions(root, file, location{Path: src.Path})
	es, _ := entries(root)
	for _, e := range es {
		switch e.Key {
		case "description":
			t.Description, _ = scalarString(e.Value)
		case "metadata":
			if m, err := plain(e.Value); err == nil {
				if mm, ok := m.(map[string]any); ok {
					t.Metadata = mm
				}
			}
		case "template_name", "template_author", "template_version":
			s, _ := scalarString(e.Value)
			t.Metadata[e.Key] = s
		case "topology_template":
			p.readTopology(t, e.Value, file)
		}
	}
	if t.Version != "" && len(t.Nodes) == 0 && !p.d.failed() {
		p.d.errorf(posOf(file, root), KindMissing, "the template has no node_templates: there is nothing to deploy")
	}
	if !p.d.failed() {
		p.validate(t)
	}
	return t
}

// readDefinitions reads the version, imports and type sections of a file (the
// template itself or an imported one) and returns the version.
func (p *parser) readDefinitions(root *yaml.Node, file string, loc location) string {
	es, _ := entries(root)
	version := ""
	for _, e := range es {
		if e.Key == "tosca_definitions_version" {
			version, _ = scalarString(e.Value)
			if !supportedVersions[version] {
				p.d.errorf(posOf(file, e.Value), KindVersion, "unsupported tosca_definitions_version %q (supported: tosca_simple_yaml_1_0 to 1_3)", version)
				return ""
			}
		}
	}
	if version == "" {
		p.d.errorf(posOf(file, root), KindVersion, "missing tosca_definitions_version")
		return ""
	}
	for _, e := range es {
		if e.Key == "repositories" {
			p.readRepositories(e.Value, file)
		}
	}
	for _, e := range es {
		if e.Key == "imports" {
			p.readImports(e.Value, file, loc)
		}
	}
	for _, e := range es {
		if _, isType := shortPrefix[TypeKind(e.Key)]; isType {
			p.readTypes(TypeKind(e.Key), e.Value, file)
			continue
		}
		if !topKeys[e.Key] {
			p.d.errorf(posOf(file, e.KeyN), KindSyntax, "unknown top-level key %q", e.Key)
		}
	}
	return version
}

func (p *parser) readRepositories(n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "repositories must be a mapping")
		return
	}
	for _, e := range es {
		if s, ok := scalarString(e.Value); ok {
			p.repos[e.Key] = s
			continue
		}
		fields, _ := entries(e.Value)
		for _, f := range fields {
			if f.Key == "url" {
				p.repos[e.Key], _ = scalarString(f.Value)
			}
		}
		if p.repos[e.Key] == "" {
			p.d.errorf(posOf(file, e.Value), KindSyntax, "repository %q has no url", e.Key)
		}
	}
}

// readImports resolves and reads every import, depth first, each file once.
func (p *parser) readImports(n *yaml.Node, file string, from location) {
	list, ok := items(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "imports must be a list")
		return
	}
	for _, item := range list {
		ref, repo, at := importRef(item)
		if ref == "" {
			p.d.errorf(posOf(file, item), KindSyntax, "an import needs a file (a string, or a mapping with file:)")
			continue
		}
		if repo != "" {
			base, ok := p.repos[repo]
			if !ok {
				p.d.errorf(posOf(file, at), KindImport, "import %q names unknown repository %q", ref, repo)
				continue
			}
			ref = strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(ref, "/")
		}
		res, err := p.resolver.resolve(p.ctx, ref, from)
		if err != nil {
			p.d.errorf(posOf(file, at), KindImport, "%s", err.Error())
			continue
		}
		if res.note != "" {
			p.d.warnf(posOf(file, at), KindImport, "%s", res.note)
		}
		loc, data := res.loc, res.data
		if p.loaded[loc.String()] {
			continue
		}
		p.loaded[loc.String()] = true
		if p.depth > 20 {
			p.d.errorf(posOf(file, at), KindImport, "imports nest deeper than 20 files")
			continue
		}
		p.depth++
		name := loc.String()
		if root := p.document(name, data); root != nil {
			p.readDefinitions(root, name, loc)
		}
		p.depth--
	}
}

// importRef reads the forms an import takes: "file", {name: "file"},
// {name: {file:, repository:}}, {file:, repository:}.
func importRef(n *yaml.Node) (ref, repo string, at *yaml.Node) {
	if s, ok := scalarString(n); ok {
		return s, "", n
	}
	es, ok := entries(n)
	if !ok {
		return "", "", n
	}
	fileOf := func(fields []entry) (string, string, *yaml.Node) {
		var f, r string
		var at *yaml.Node
		for _, x := range fields {
			switch x.Key {
			case "file":
				f, _ = scalarString(x.Value)
				at = x.Value
			case "repository":
				r, _ = scalarString(x.Value)
			}
		}
		return f, r, at
	}
	if f, r, at := fileOf(es); f != "" {
		return f, r, at
	}
	if len(es) == 1 {
		if s, ok := scalarString(es[0].Value); ok {
			return s, "", es[0].Value
		}
		if inner, ok := entries(es[0].Value); ok {
			return fileOf(inner)
		}
	}
	return "", "", n
}

// readTypes reads one types section. A type declared again replaces the earlier
// declaration: type libraries such as INDIGO's restate normative types.
func (p *parser) readTypes(kind TypeKind, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "%s must be a mapping", kind)
		return
	}
	for _, e := range es {
		t := p.readType(kind, e.Key, e.Value, file)
		t.Pos = posOf(file, e.KeyN)
		if prev, ok := p.reg.types[kind][t.Name]; ok && !prev.builtin && prev.Pos.File == t.Pos.File {
			p.d.errorf(t.Pos, KindSyntax, "type %s is declared twice in this file (also at %s)", t.Name, prev.Pos)
			continue
		}
		p.reg.types[kind][t.Name] = t
	}
}

func (p *parser) readType(kind TypeKind, name string, n *yaml.Node, file string) *TypeDef {
	t := &TypeDef{Name: name, Kind: kind}
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "type %s must be a mapping", name)
		return t
	}
	for _, e := range es {
		switch e.Key {
		case "derived_from":
			t.DerivedFrom, _ = scalarString(e.Value)
		case "description":
			t.Description, _ = scalarString(e.Value)
		case "properties":
			t.Properties = p.readPropertyDefs(e.Value, file, true)
		case "attributes":
			t.Attributes = p.readPropertyDefs(e.Value, file, false)
		case "capabilities":
			t.Capabilities = p.readCapabilityDefs(e.Value, file)
		case "requirements":
			t.Requirements = p.readRequirementDefs(e.Value, file)
		case "constraints":
			t.Constraints = p.readConstraints(e.Value, file)
		case "entry_schema":
			t.EntrySchema = p.readSchema(e.Value, file)
		case "valid_target_types":
			t.ValidTargetTypes = stringList(e.Value)
		}
	}
	return t
}

func stringList(n *yaml.Node) []string {
	var out []string
	if s, ok := scalarString(n); ok && s != "" {
		return []string{s}
	}
	list, _ := items(n)
	for _, item := range list {
		if s, ok := scalarString(item); ok {
			out = append(out, s)
		}
	}
	return out
}

// readPropertyDefs reads property (or attribute) definitions. Properties are
// required unless they say otherwise; attributes never are.
func (p *parser) readPropertyDefs(n *yaml.Node, file string, properties bool) map[string]*PropertyDef {
	return p.readDefs(n, file, properties, false)
}

// readDefs reads definitions; refinements (a capability's properties inside a node
// type) may also be plain values, which real templates write.
func (p *parser) readDefs(n *yaml.Node, file string, properties, refinements bool) map[string]*PropertyDef {
	out := map[string]*PropertyDef{}
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "expected a mapping of definitions")
		return out
	}
	for _, e := range es {
		def := &PropertyDef{Name: e.Key, Required: properties, Pos: posOf(file, e.KeyN)}
		fields, ok := entries(e.Value)
		if !ok {
			if !refinements {
				p.d.errorf(posOf(file, e.Value), KindSyntax, "definition of %q must be a mapping", e.Key)
				continue
			}
			// A refinement written as a value ("port: 80") sets the default.
			def.Default, def.Required = e.Value, false
			out[e.Key] = def
			continue
		}
		for _, f := range fields {
			switch f.Key {
			case "type":
				def.Schema.Type, _ = scalarString(f.Value)
				def.Schema.Pos = posOf(file, f.Value)
			case "description":
				def.Description, _ = scalarString(f.Value)
			case "required":
				b, ok := yamlBool(f.Value)
				if !ok {
					p.d.errorf(posOf(file, f.Value), KindValue, "required must be a boolean")
				}
				def.Required = b
			case "default":
				if !isNull(f.Value) {
					def.Default = f.Value
				}
			case "constraints":
				def.Schema.Constraints = p.readConstraints(f.Value, file)
			case "entry_schema":
				def.Schema.EntrySchema = p.readSchema(f.Value, file)
			case "key_schema":
				def.Schema.KeySchema = p.readSchema(f.Value, file)
			}
		}
		out[e.Key] = def
	}
	return out
}

// readSchema reads an entry_schema: a type name or {type, entry_schema, constraints}.
func (p *parser) readSchema(n *yaml.Node, file string) *Schema {
	s := &Schema{Pos: posOf(file, n)}
	if name, ok := scalarString(n); ok {
		s.Type = name
		return s
	}
	fields, _ := entries(n)
	for _, f := range fields {
		switch f.Key {
		case "type":
			s.Type, _ = scalarString(f.Value)
		case "entry_schema":
			s.EntrySchema = p.readSchema(f.Value, file)
		case "key_schema":
			s.KeySchema = p.readSchema(f.Value, file)
		case "constraints":
			s.Constraints = p.readConstraints(f.Value, file)
		}
	}
	return s
}

// readConstraints reads a constraints list; arguments are normalized later,
// against the constrained value's type.
func (p *parser) readConstraints(n *yaml.Node, file string) []*Constraint {
	list, ok := items(n)
	if es, isMap := entries(n); !ok && isMap {
		// Production templates write constraints as one mapping of operators
		// ({valid_values: [...]}): read it as the list it means, and say so.
		p.d.warnf(posOf(file, n), KindSyntax, "constraints should be a list of one-operator mappings (- valid_values: [...]); this mapping is read as such a list")
		for _, e := range es {
			list = append(list, &yaml.Node{Kind: yaml.MappingNode, Line: e.KeyN.Line, Column: e.KeyN.Column, Content: []*yaml.Node{e.KeyN, e.Value}})
		}
		ok = true
	}
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "constraints must be a list")
		return nil
	}
	var out []*Constraint
	for _, item := range list {
		es, ok := entries(item)
		if !ok || len(es) != 1 {
			p.d.errorf(posOf(file, item), KindSyntax, "a constraint is a mapping with one operator")
			continue
		}
		op := es[0].Key
		if alias, ok := opAlias[op]; ok {
			op = alias
		}
		want, known := constraintOps[op]
		if !known {
			p.d.errorf(posOf(file, es[0].KeyN), KindSyntax, "unknown constraint operator %q", es[0].Key)
			continue
		}
		c := &Constraint{Op: op, Pos: posOf(file, es[0].KeyN)}
		raw, err := plain(es[0].Value)
		if err != nil {
			p.d.errorf(c.Pos, KindValue, "%s: %s", op, err.Error())
			continue
		}
		switch {
		case want == 1:
			c.Raw = []any{raw}
		default:
			list, ok := raw.([]any)
			if !ok || (want == 2 && len(list) != 2) {
				p.d.errorf(c.Pos, KindSyntax, "%s takes a list%s", op, map[bool]string{true: " of two values"}[want == 2])
				continue
			}
			c.Raw = list
		}
		if op == "pattern" {
			s, _ := raw.(string)
			re, err := regexp.Compile(`^(?:` + s + `)$`)
			if err != nil {
				p.d.errorf(c.Pos, KindSyntax, "pattern %q is not a valid regular expression: %s", s, err.Error())
				continue
			}
			c.re = re
		}
		if op == "length" || op == "min_length" || op == "max_length" {
			if _, err := (valueChecker{}).checkType(c.Raw[0], &Schema{Type: tInteger}, ""); err != nil {
				p.d.errorf(c.Pos, KindValue, "%s takes a whole number", op)
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

func (p *parser) readCapabilityDefs(n *yaml.Node, file string) map[string]*CapabilityDef {
	out := map[string]*CapabilityDef{}
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "capabilities must be a mapping")
		return out
	}
	for _, e := range es {
		c := &CapabilityDef{Name: e.Key, Pos: posOf(file, e.KeyN)}
		if s, ok := scalarString(e.Value); ok { // short form: the type
			c.Type = s
			out[e.Key] = c
			continue
		}
		fields, _ := entries(e.Value)
		for _, f := range fields {
			switch f.Key {
			case "type":
				c.Type, _ = scalarString(f.Value)
			case "properties":
				c.Properties = p.readDefs(f.Value, file, true, true)
			case "valid_source_types":
				c.ValidSourceTypes = stringList(f.Value)
			}
		}
		out[e.Key] = c
	}
	return out
}

func (p *parser) readRequirementDefs(n *yaml.Node, file string) []*RequirementDef {
	var out []*RequirementDef
	list, ok := items(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "requirements must be a list")
		return nil
	}
	for _, item := range list {
		es, ok := entries(item)
		if !ok || len(es) != 1 {
			p.d.errorf(posOf(file, item), KindSyntax, "a requirement definition is a mapping with one name")
			continue
		}
		q := &RequirementDef{Name: es[0].Key, Lower: 1, Upper: 1, Pos: posOf(file, es[0].KeyN)}
		if s, ok := scalarString(es[0].Value); ok {
			q.Capability = s
			out = append(out, q)
			continue
		}
		fields, _ := entries(es[0].Value)
		for _, f := range fields {
			switch f.Key {
			case "capability":
				q.Capability, _ = scalarString(f.Value)
			case "node":
				q.Node, _ = scalarString(f.Value)
			case "relationship":
				if s, ok := scalarString(f.Value); ok {
					q.Relationship = s
				} else if rf, ok := entries(f.Value); ok {
					for _, x := range rf {
						if x.Key == "type" {
							q.Relationship, _ = scalarString(x.Value)
						}
					}
				}
			case "occurrences":
				if occ, err := plain(f.Value); err == nil {
					if l, ok := occ.([]any); ok && len(l) == 2 {
						q.Lower = toInt(l[0], 1)
						q.Upper = toInt(l[1], -1)
					}
				}
			}
		}
		out = append(out, q)
	}
	return out
}

func toInt(v any, def int) int {
	switch t := v.(type) {
	case int64:
		return int(t)
	case float64:
		return int(t)
	case string:
		if t == "UNBOUNDED" {
			return -1
		}
	}
	return def
}

// readTopology reads the topology_template section.
func (p *parser) readTopology(t *Template, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "topology_template must be a mapping")
		return
	}
	for _, e := range es {
		switch e.Key {
		case "description":
			if t.Description == "" {
				t.Description, _ = scalarString(e.Value)
			}
		case "inputs":
			p.readInputs(t, e.Value, file)
		case "node_templates":
			p.readNodes(t, e.Value, file)
		case "relationship_templates":
			p.readRelationshipTemplates(t, e.Value, file)
		case "outputs":
			p.readOutputs(t, e.Value, file)
		case "groups":
			p.readGroups(t, e.Value, file)
		case "policies":
			p.readPolicies(t, e.Value, file)
		case "substitution_mappings", "workflows":
			p.d.warnf(posOf(file, e.KeyN), KindUnsupported, "%s are ignored: orchestrator deploys the topology as it is", e.Key)
		default:
			p.d.errorf(posOf(file, e.KeyN), KindSyntax, "unknown key %q in topology_template", e.Key)
		}
	}
}

func (p *parser) readInputs(t *Template, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "inputs must be a mapping")
		return
	}
	defs := p.readPropertyDefs(n, file, true)
	for _, e := range es {
		def, ok := defs[e.Key]
		if !ok {
			continue
		}
		in := &Input{Name: e.Key, Schema: def.Schema, Description: def.Description, Required: def.Required, Pos: def.Pos}
		if in.Schema.Type == "" {
			p.d.errorf(def.Pos, KindMissing, "input %q has no type", e.Key)
			continue
		}
		if !p.knownValueType(in.Schema.Type) {
			p.d.errorf(def.Schema.Pos, KindUnknownType, "input %q has unknown type %q", e.Key, in.Schema.Type)
			continue
		}
		if def.Default != nil {
			raw, err := plain(def.Default)
			if err == nil {
				raw, err = p.vc.check(asWritten(raw, def.Default, &in.Schema), &in.Schema, "")
			}
			if err != nil {
				p.d.errorf(posOf(file, def.Default), KindConstraint, "default of input %q: %s", e.Key, err.Error())
				continue
			}
			in.Default, in.HasDefault = raw, true
		}
		t.Inputs = append(t.Inputs, in)
		t.inputs[in.Name] = in
	}
}

// knownValueType reports whether a property type exists: a primitive or a data type.
func (p *parser) knownValueType(name string) bool {
	return primitives[name] || p.reg.Lookup(DataType, name) != nil
}

func (p *parser) readNodes(t *Template, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "node_templates must be a mapping")
		return
	}
	for _, e := range es {
		node := &NodeTemplate{Name: e.Key, Pos: posOf(file, e.KeyN), Properties: map[string]Expr{}, Attributes: map[string]Expr{},
			Capabilities: map[string]*CapabilityAssignment{}, Artifacts: map[string]*Artifact{}, Interfaces: map[string]any{},
			KeyPos: map[string]Pos{}}
		fields, ok := entries(e.Value)
		if !ok {
			p.d.errorf(posOf(file, e.Value), KindSyntax, "node template %q must be a mapping", e.Key)
			continue
		}
		for _, f := range fields {
			node.KeyPos[f.Key] = posOf(file, f.KeyN)
			switch f.Key {
			case "type":
				node.Type, _ = scalarString(f.Value)
				node.TypePos = posOf(file, f.Value)
			case "description":
				node.Description, _ = scalarString(f.Value)
			case "properties":
				node.Properties = p.readAssignments(f.Value, file)
			case "attributes":
				node.Attributes = p.readAssignments(f.Value, file)
			case "capabilities":
				p.readCapabilityAssignments(node, f.Value, file)
			case "requirements":
				p.readRequirementAssignments(node, f.Value, file)
			case "artifacts":
				p.readArtifacts(node, f.Value, file)
			case "interfaces":
				if v, err := plain(f.Value); err == nil {
					if m, ok := v.(map[string]any); ok {
						node.Interfaces = m
					}
				}
			case "directives":
				node.Directives = stringList(f.Value)
				if len(node.Directives) > 0 {
					p.d.nodeWarnf(e.Key, posOf(file, f.KeyN), KindUnsupported, "node %q: directives (%s) are not honoured; the node is deployed as written here", e.Key, strings.Join(node.Directives, ", "))
				}
			case "metadata":
			case "copy", "node_filter":
				// Neither is honoured: say so rather than deploy something else quietly.
				what := map[string]string{"copy": "copying another node template", "node_filter": "a node_filter (selecting an existing node)"}[f.Key]
				p.d.nodeWarnf(e.Key, posOf(file, f.KeyN), KindUnsupported, "node %q: %s is not supported; the node is deployed as written here", e.Key, what)
			default:
				p.d.errorf(posOf(file, f.KeyN), KindSyntax, "unknown key %q in node template %q", f.Key, e.Key)
			}
		}
		if node.Type == "" {
			p.d.errorf(node.Pos, KindMissing, "node template %q has no type", e.Key)
			continue
		}
		t.Nodes = append(t.Nodes, node)
		t.nodes[node.Name] = node
	}
}

// readAssignments reads property or attribute values.
func (p *parser) readAssignments(n *yaml.Node, file string) map[string]Expr {
	out := map[string]Expr{}
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "expected a mapping of values")
		return out
	}
	for _, e := range es {
		out[e.Key] = p.expr(e.Value, file)
	}
	return out
}

// expr reads a value, recognizing function calls ({get_input: x}).
func (p *parser) expr(n *yaml.Node, file string) Expr {
	n = resolveAlias(n)
	pos := posOf(file, n)
	switch n.Kind {
	case yaml.MappingNode:
		es, _ := entries(n)
		if len(es) == 1 && functions[es[0].Key] {
			call := &Call{Func: es[0].Key, Pos: pos}
			if args, ok := items(es[0].Value); ok && !isNull(es[0].Value) {
				for _, a := range args {
					call.Args = append(call.Args, p.expr(a, file))
				}
			} else {
				call.Args = []Expr{p.expr(es[0].Value, file)}
			}
			return call
		}
		m := &MapExpr{Items: map[string]Expr{}, Pos: pos}
		hasCall := false
		for _, e := range es {
			v := p.expr(e.Value, file)
			if _, lit := v.(*Lit); !lit {
				hasCall = true
			}
			m.Keys = append(m.Keys, e.Key)
			m.Items[e.Key] = v
		}
		if hasCall {
			return m
		}
	case yaml.SequenceNode:
		l := &ListExpr{Pos: pos}
		hasCall := false
		for _, c := range n.Content {
			v := p.expr(c, file)
			if _, lit := v.(*Lit); !lit {
				hasCall = true
			}
			l.Items = append(l.Items, v)
		}
		if hasCall {
			return l
		}
	}
	v, err := plain(n)
	if err != nil {
		p.d.errorf(pos, KindValue, "%s", err.Error())
	}
	return &Lit{Value: v, Node: n, Pos: pos}
}

func (p *parser) readCapabilityAssignments(node *NodeTemplate, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "capabilities must be a mapping")
		return
	}
	for _, e := range es {
		c := &CapabilityAssignment{Properties: map[string]Expr{}, Pos: posOf(file, e.KeyN)}
		fields, ok := entries(e.Value)
		if !ok {
			p.d.errorf(posOf(file, e.Value), KindSyntax, "capability %q must be a mapping", e.Key)
			continue
		}
		for _, f := range fields {
			switch f.Key {
			case "properties":
				c.Properties = p.readAssignments(f.Value, file)
			case "attributes":
				p.d.nodeWarnf(node.Name, posOf(file, f.KeyN), KindUnsupported, "node %q capability %q: attribute values are ignored: the target reports attributes, a template cannot set them", node.Name, e.Key)
			case "occurrences":
			default:
				p.d.errorf(posOf(file, f.KeyN), KindSyntax, "unknown key %q in capability %q", f.Key, e.Key)
			}
		}
		node.Capabilities[e.Key] = c
	}
}

func (p *parser) readRequirementAssignments(node *NodeTemplate, n *yaml.Node, file string) {
	list, ok := items(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "requirements must be a list")
		return
	}
	for _, item := range list {
		es, ok := entries(item)
		if !ok || len(es) != 1 {
			p.d.errorf(posOf(file, item), KindSyntax, "a requirement is a mapping with one name")
			continue
		}
		r := &RequirementAssignment{Name: es[0].Key, Pos: posOf(file, es[0].KeyN)}
		if s, ok := scalarString(es[0].Value); ok { // short form: the target node
			r.Node = s
			node.Requirements = append(node.Requirements, r)
			continue
		}
		fields, ok := entries(es[0].Value)
		if !ok {
			p.d.errorf(posOf(file, es[0].Value), KindSyntax, "requirement %q must name a node or be a mapping", r.Name)
			continue
		}
		for _, f := range fields {
			switch f.Key {
			case "node":
				r.Node, _ = scalarString(f.Value)
			case "capability":
				r.Capability, _ = scalarString(f.Value)
			case "relationship":
				if s, ok := scalarString(f.Value); ok {
					r.Relationship = s
					continue
				}
				rel, _ := entries(f.Value)
				for _, x := range rel {
					switch x.Key {
					case "type":
						r.Relationship, _ = scalarString(x.Value)
					case "properties":
						r.RelProperties = p.readAssignments(x.Value, file)
					case "interfaces":
						p.d.nodeWarnf(node.Name, posOf(file, x.KeyN), KindUnsupported, "node %q requirement %q: relationship interface operations are not run: orchestrator runs no configuration tool", node.Name, r.Name)
					}
				}
			case "node_filter":
				r.NodeFilter = true
			case "occurrences", "description", "metadata":
			default:
				p.d.errorf(posOf(file, f.KeyN), KindSyntax, "unknown key %q in requirement %q", f.Key, r.Name)
			}
		}
		node.Requirements = append(node.Requirements, r)
	}
}

func (p *parser) readArtifacts(node *NodeTemplate, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "artifacts must be a mapping")
		return
	}
	for _, e := range es {
		a := &Artifact{Name: e.Key}
		if s, ok := scalarString(e.Value); ok {
			a.File = s
		} else if v, err := plain(e.Value); err == nil {
			if m, ok := v.(map[string]any); ok {
				a.Type, _ = m["type"].(string)
				a.File, _ = m["file"].(string)
				a.Repository, _ = m["repository"].(string)
				a.DeployPath, _ = m["deploy_path"].(string)
				a.Description, _ = m["description"].(string)
				a.Properties, _ = m["properties"].(map[string]any)
			}
		}
		node.Artifacts[e.Key] = a
	}
}

func (p *parser) readRelationshipTemplates(t *Template, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "relationship_templates must be a mapping")
		return
	}
	for _, e := range es {
		r := &RelationshipTemplate{Name: e.Key, Pos: posOf(file, e.KeyN), Properties: map[string]Expr{}}
		fields, _ := entries(e.Value)
		for _, f := range fields {
			switch f.Key {
			case "type":
				r.Type, _ = scalarString(f.Value)
			case "properties":
				r.Properties = p.readAssignments(f.Value, file)
			case "interfaces":
				p.d.warnf(posOf(file, f.KeyN), KindUnsupported, "relationship template %q: interface operations are not run: orchestrator runs no configuration tool", r.Name)
			}
		}
		if p.reg.Lookup(RelationshipType, r.Type) == nil {
			p.d.errorf(r.Pos, KindUnknownType, "relationship template %q has unknown type %q", r.Name, r.Type)
			continue
		}
		r.Type = p.reg.canonical(RelationshipType, r.Type)
		t.Relationships[r.Name] = r
	}
}

func (p *parser) readOutputs(t *Template, n *yaml.Node, file string) {
	es, ok := entries(n)
	if !ok {
		p.d.errorf(posOf(file, n), KindSyntax, "outputs must be a mapping")
		return
	}
	for _, e := range es {
		o := &Output{Name: e.Key, Pos: posOf(file, e.KeyN)}
		fields, _ := entries(e.Value)
		for _, f := range fields {
			switch f.Key {
			case "value":
				o.Value = p.expr(f.Value, file)
			case "description":
				o.Description, _ = scalarString(f.Value)
			}
		}
		if o.Value == nil {
			p.d.errorf(o.Pos, KindMissing, "output %q has no value", o.Name)
			continue
		}
		t.Outputs = append(t.Outputs, o)
	}
}

func (p *parser) readGroups(t *Template, n *yaml.Node, file string) {
	es, _ := entries(n)
	for _, e := range es {
		g := &Group{Name: e.Key, Pos: posOf(file, e.KeyN)}
		fields, _ := entries(e.Value)
		for _, f := range fields {
			switch f.Key {
			case "type":
				g.Type, _ = scalarString(f.Value)
			case "members", "targets":
				g.Members = stringList(f.Value)
			case "properties", "interfaces":
				p.d.warnf(posOf(file, f.KeyN), KindUnsupported, "group %q: %s are recorded but not acted on", g.Name, f.Key)
			}
		}
		t.Groups = append(t.Groups, g)
	}
}

// readPolicies reads policies: a list of one-key mappings (1.1+) or a mapping.
func (p *parser) readPolicies(t *Template, n *yaml.Node, file string) {
	var named []entry
	if list, ok := items(n); ok {
		for _, item := range list {
			es, _ := entries(item)
			named = append(named, es...)
		}
	} else {
		named, _ = entries(n)
	}
	for _, e := range named {
		pol := &Policy{Name: e.Key, Pos: posOf(file, e.KeyN)}
		fields, _ := entries(e.Value)
		for _, f := range fields {
			switch f.Key {
			case "type":
				pol.Type, _ = scalarString(f.Value)
			case "targets":
				pol.Targets = stringList(f.Value)
			}
		}
		t.Policies = append(t.Policies, pol)
	}
}

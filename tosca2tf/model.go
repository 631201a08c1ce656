package tosca2tf

import "go.yaml.in/yaml/v3"

// Template is a parsed and validated TOSCA service template.
type Template struct {
	File        string
	Version     string
	Description string
	Metadata    map[string]any
	Inputs      []*Input
	Nodes       []*NodeTemplate
	// Relationships are the named relationship_templates.
	Relationships map[string]*RelationshipTemplate
	Outputs       []*Output
	Groups        []*Group
	Policies      []*Policy
	Types         *Registry
	// Warnings are problems that do not stop a deployment (an unenforced policy,
	// an attribute the target cannot report); they are logged with the deployment.
	Warnings Errors

	inputs map[string]*Input
	nodes  map[string]*NodeTemplate
}

// Input is a topology input.
type Input struct {
	Name        string
	Schema      Schema
	Description string
	Required    bool
	Default     any // normalized; nil when HasDefault is false or the default is null
	HasDefault  bool
	Pos         Pos
}

// NodeTemplate is one node of the topology.
type NodeTemplate struct {
	Name         string
	Type         string // canonical type name
	Description  string
	Properties   map[string]Expr
	Attributes   map[string]Expr
	Capabilities map[string]*CapabilityAssignment
	Requirements []*RequirementAssignment
	Artifacts    map[string]*Artifact
	Interfaces   map[string]any
	Directives   []string
	Pos          Pos
	TypePos      Pos
	// KeyPos is where each key of the node template is written (interfaces, artifacts...).
	KeyPos map[string]Pos
	// Host is the node this one is hosted on (its host requirement), or "".
	Host string
}

// keyPos is where a key of the node template is written, or the node's position.
func (n *NodeTemplate) keyPos(key string) Pos {
	if p, ok := n.KeyPos[key]; ok {
		return p
	}
	return n.Pos
}

// CapabilityAssignment holds the property values a node template gives a capability.
type CapabilityAssignment struct {
	Properties map[string]Expr
	Pos        Pos
}

// RequirementAssignment is one requirement of a node template.
type RequirementAssignment struct {
	Name string
	Node string // target node template; empty for abstract requirements
	// NodeType is set when the template named a node type instead of a template.
	NodeType   string
	Capability string
	// Relationship is a relationship type, or the name of a relationship template.
	Relationship string
	// RelProperties are the properties of an inline relationship.
	RelProperties map[string]Expr
	NodeFilter    bool
	Pos           Pos
}

// RelationshipTemplate is a named relationship_template.
type RelationshipTemplate struct {
	Name       string
	Type       string
	Properties map[string]Expr
	Pos        Pos
}

// Artifact is an artifact of a node template.
type Artifact struct {
	Name        string         `json:"name"`
	Type        string         `json:"type,omitempty"`
	File        string         `json:"file,omitempty"`
	Repository  string         `json:"repository,omitempty"`
	DeployPath  string         `json:"deploy_path,omitempty"`
	Description string         `json:"description,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
}

// Output is a topology output.
type Output struct {
	Name        string
	Description string
	Value       Expr
	Pos         Pos
}

// Group is a topology group (recorded, not acted on).
type Group struct {
	Name    string
	Type    string
	Members []string
	Pos     Pos
}

// Policy is a topology policy (recorded, not enforced: a warning says so).
type Policy struct {
	Name    string
	Type    string
	Targets []string
	Pos     Pos
}

// Node returns a node template by name.
func (t *Template) Node(name string) *NodeTemplate { return t.nodes[name] }

// Input returns an input by name.
func (t *Template) Input(name string) *Input { return t.inputs[name] }

// Expr is a value in a template: a literal, a list or map of values, or a function call.
type Expr interface {
	exprPos() Pos
}

// Lit is a literal value (no function inside).
type Lit struct {
	Value any // plain Go value
	Node  *yaml.Node
	Pos   Pos
}

// ListExpr is a list with at least one function inside.
type ListExpr struct {
	Items []Expr
	Pos   Pos
}

// MapExpr is a map with at least one function inside.
type MapExpr struct {
	Keys  []string
	Items map[string]Expr
	Pos   Pos
}

// Call is a TOSCA function call.
type Call struct {
	Func string
	Args []Expr
	Pos  Pos
}

func (e *Lit) exprPos() Pos      { return e.Pos }
func (e *ListExpr) exprPos() Pos { return e.Pos }
func (e *MapExpr) exprPos() Pos  { return e.Pos }
func (e *Call) exprPos() Pos     { return e.Pos }

// functions are the TOSCA functions the parser recognizes as calls.
var functions = map[string]bool{
	"get_input": true, "get_property": true, "get_attribute": true, "concat": true, "token": true, "join": true,
	"get_operation_output": true, "get_nodes_of_type": true, "get_artifact": true,
}

package tosca2tf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"orchestrator/modules"
)

// Node kinds that are not module kinds.
const (
	// kindSoftware marks nodes hosted on a Compute: they become configuration
	// payload of their host (the host's software module), not modules of their own.
	kindSoftware = "software"
	// kindRecorded marks nodes that get no module: orchestrator-side nodes (an IAM
	// client, a Marathon app...) and INDIGO networks and ports that mean "the
	// target's public or default network". Their attributes are null.
	kindRecorded = "recorded"
)

// Options says what to translate for.
type Options struct {
	Target string // "local" or "openstack"
	// Inputs are the deployment's input values (nil: defaults only).
	Inputs map[string]any
	// Strict refuses nodes that would only be recorded (orchestrator-side nodes
	// such as an IAM client or a Marathon app) instead of accepting them with a
	// warning.
	Strict bool
	// The values below only go into terraform.tfvars.json.
	DeploymentID  string
	TargetConfig  map[string]any
	SSHPublicKeys []string
	// PowerStates says which Compute instances are stopped: node -> instance -> started|stopped.
	PowerStates map[string]map[string]string
}

// NodeInfo says how one node template was translated.
type NodeInfo struct {
	Name      string `json:"name"`
	ToscaType string `json:"tosca_type"`
	// Kind is the module kind, "software" (payload of its host) or "recorded"
	// (no module: see Note).
	Kind   string `json:"kind"`
	Module string `json:"module,omitempty"` // e.g. module.server (instances are module.server[i])
	Ident  string `json:"ident,omitempty"`
	Host   string `json:"host,omitempty"` // the Compute a software node runs on
	// Scalable says the instance count comes from a scalable capability.
	Scalable bool `json:"scalable"`
	// Count is the number of instances when known at translation time, else -1.
	Count    int      `json:"count"`
	Software []string `json:"software,omitempty"` // software nodes a Compute hosts
	PowerVar string   `json:"power_var,omitempty"`
	// Note says what became of a recorded node.
	Note string `json:"note,omitempty"`
	// Pos is where the node template is written.
	Pos Pos `json:"pos"`
}

// Result is a translated deployment.
type Result struct {
	Target   string // the target kind it was translated for
	Main     []byte // main.tf.json
	Vars     []byte // terraform.tfvars.json
	Nodes    []NodeInfo
	Outputs  map[string]string // TOSCA output name -> Terraform output name
	Inputs   map[string]any    // every input's value, defaults filled in (JSON form)
	Warnings Errors
}

// Translate turns a parsed template into a Terraform JSON root module made of our
// modules for the target, plus its variable values. Inputs are checked first.
func Translate(t *Template, opts Options) (*Result, error) {
	if opts.Target != "local" && opts.Target != "openstack" {
		return nil, Errors{{Kind: KindUnsupported, Message: fmt.Sprintf("unknown target kind %q (local or openstack)", opts.Target)}}
	}
	inputs, err := CheckInputs(t, opts.Inputs)
	if err != nil {
		return nil, err
	}
	tr := &translator{t: t, reg: t.Types, target: opts.Target, inputs: inputs, opts: opts,
		vars: newIdentifiers(), mods: newIdentifiers(), outs: newIdentifiers(),
		nodes: map[string]*nodeInfo{}, modules: map[string]map[string]any{}, inputVars: map[string]string{},
		used: map[string]bool{}}
	tr.vc = valueChecker{reg: t.Types}
	tr.d.warns = append(tr.d.warns, t.Warnings...)
	return tr.run()
}

type nodeInfo struct {
	node     *NodeTemplate
	Kind     string
	ident    string
	scalable bool
	count    tfv
	Host     string // software: the Compute it runs on
	software []*NodeTemplate
	deps     []string // requirement targets to order this node after (node names)
	note     string   // recorded: what became of it

	// network: its INDIGO role ("public", "private", "existing") when it gets no
	// module, and the existing network's name.
	role         string
	networkName  tfv
	networkField string // "name" or "id": how Computes name the existing network
	// compute: what classify and the other nodes give it.
	public   bool      // a public address was asked for
	netArg   any       // its network argument ({name} of an existing network), or nil
	netFrom  string    // the node that gave netArg
	ports    []any     // the Port modules bound to it
	volumes  []any     // the volumes it mounts
	swIdent  string    // its software module
	boundTo  *nodeInfo // port: the Compute it is bound to
	portArg  map[string]any
	absorbed bool // recorded, but standing for part of a Compute (a port): its properties are checked
}

type translator struct {
	t       *Template
	reg     *Registry
	vc      valueChecker
	target  string
	opts    Options
	inputs  map[string]any
	d       diag
	vars    *identifiers // variable names
	mods    *identifiers // module names
	outs    *identifiers // output names
	nodes   map[string]*nodeInfo
	order   []*nodeInfo
	modules map[string]map[string]any
	// inputVars maps TOSCA input names to Terraform variable names.
	inputVars map[string]string
	computeN  int
	// used records the assigned values the translation honoured (see honour.go).
	used map[string]bool
}

func (tr *translator) inputVar(name string) string {
	if v, ok := tr.inputVars[name]; ok {
		return v
	}
	v := tr.vars.get(name, "input_")
	tr.inputVars[name] = v
	return v
}

func (tr *translator) errorf(n *NodeTemplate, pos Pos, kind Kind, format string, args ...any) {
	name := ""
	if n != nil {
		name = n.Name
	}
	tr.d.nodeErrorf(name, pos, kind, format, args...)
}

func (tr *translator) warnf(n *NodeTemplate, pos Pos, kind Kind, format string, args ...any) {
	name := ""
	if n != nil {
		name = n.Name
	}
	tr.d.nodeWarnf(name, pos, kind, format, args...)
}

func (tr *translator) run() (*Result, error) {
	for _, in := range tr.t.Inputs {
		tr.inputVar(in.Name)
	}
	tr.classify()
	if tr.d.failed() {
		return nil, tr.d.errs.sorted()
	}
	// Instance counts first: any node's values may index another node's instances.
	for _, info := range tr.order {
		if info.Kind == string(modules.Compute) {
			info.count, info.scalable = tr.instanceCount(info.node)
		}
	}
	tr.networkRoles()
	for _, info := range tr.order {
		if info.Kind != kindSoftware && info.Kind != kindRecorded {
			tr.translateNode(info)
		}
	}
	tr.wireComputes()
	tr.softwareModules()
	tr.dependencies()
	outputs, tfOutputs := tr.outputs()
	tr.checkCycles()
	tr.unhonoured()
	if tr.d.failed() {
		return nil, tr.d.errs.sorted()
	}
	main := tr.rootModule(tfOutputs)
	mainJSON, err := encodeJSON(main)
	if err != nil {
		return nil, fmt.Errorf("encode main.tf.json: %w", err)
	}
	varsJSON, err := encodeJSON(tr.tfvars())
	if err != nil {
		return nil, fmt.Errorf("encode terraform.tfvars.json: %w", err)
	}
	res := &Result{Target: tr.target, Main: mainJSON, Vars: varsJSON, Outputs: outputs,
		Inputs: map[string]any{}, Warnings: tr.d.warns.sorted()}
	for k, v := range tr.inputs {
		res.Inputs[k] = jsonish(v)
	}
	for _, info := range tr.order {
		res.Nodes = append(res.Nodes, tr.nodeInfo(info))
	}
	return res, nil
}

func (tr *translator) nodeInfo(info *nodeInfo) NodeInfo {
	ni := NodeInfo{Name: info.node.Name, ToscaType: info.node.Type, Kind: info.Kind, Host: info.Host, Scalable: info.scalable, Count: -1, Pos: info.node.Pos}
	count := info.count
	switch info.Kind {
	case kindSoftware:
		count = tr.nodes[info.Host].count
	case kindRecorded:
		ni.Count, ni.Note = 0, info.note
		return ni
	}
	if n, ok := count.val.(int64); ok && count.known {
		ni.Count = int(n)
	}
	if info.Kind != kindSoftware {
		ni.Module, ni.Ident = "module."+info.ident, info.ident
	}
	if info.Kind == string(modules.Compute) {
		ni.PowerVar = "orc_power_state_" + info.ident
	}
	for _, s := range info.software {
		ni.Software = append(ni.Software, s.Name)
	}
	return ni
}

// moduleKinds maps normative ancestors to module kinds, most specific first.
var moduleKinds = []struct {
	ancestor string
	kind     modules.Kind
}{
	{nodeCompute, modules.Compute}, {"tosca.nodes.Abstract.Compute", modules.Compute},
	{"tosca.nodes.Storage.BlockStorage", modules.BlockStorage}, {"tosca.nodes.Storage.ObjectStorage", modules.ObjectStorage},
	{nodeNetwork, modules.Network}, {nodePort, modules.Port},
}

// classify decides what each node becomes: a module of a kind, software payload
// of the Compute it is (transitively) hosted on, or a recorded node.
func (tr *translator) classify() {
	for _, n := range tr.t.Nodes {
		info := &nodeInfo{node: n}
		for _, mk := range moduleKinds {
			if tr.reg.IsA(NodeType, n.Type, mk.ancestor) {
				info.Kind = string(mk.kind)
				break
			}
		}
		if info.Kind != "" && !modules.Supports(tr.target, modules.Kind(info.Kind)) {
			tr.errorf(n, n.Pos, KindUnsupported, "node %q (%s) is a %s, which the %s target does not support", n.Name, n.Type, info.Kind, tr.target)
			continue
		}
		tr.nodes[n.Name] = info
		tr.order = append(tr.order, info)
	}
	for _, info := range tr.order {
		n := info.node
		if info.Kind == string(modules.BlockStorage) && tr.storageService(n) {
			// A type library's "volume" with nothing to size it (OneData, GlusterFS)
			// is a storage service its configuration sets up, not a block device.
			if tr.opts.Strict {
				tr.errorf(n, n.TypePos, KindUnsupported, "node %q (%s) is a storage service, not a volume orchestrator can create, and strict mode refuses to only record it", n.Name, n.Type)
				continue
			}
			info.Kind = kindRecorded
			info.note = fmt.Sprintf("a storage service (%s) with no size, volume_id or snapshot_id: set up by configuration, not created as a volume", n.Type)
			tr.warnf(n, n.TypePos, KindUnsupported, "node %q (%s) is recorded but not deployed: it is a storage service with no size, volume_id or snapshot_id, not a volume; its attributes are null (strict mode refuses it)", n.Name, n.Type)
			continue
		}
		if info.Kind != "" {
			info.ident = tr.mods.get(n.Name, "node_")
			continue
		}
		host, why, orchestratorSide := tr.hostCompute(n)
		if host != "" {
			info.Kind, info.Host = kindSoftware, host
			tr.nodes[host].software = append(tr.nodes[host].software, n)
			continue
		}
		td := tr.reg.Lookup(NodeType, n.Type)
		if !orchestratorSide && (td == nil || td.builtin) {
			tr.errorf(n, n.TypePos, KindUnsupported, "node %q of type %s cannot be deployed: %s (orchestrator deploys Compute, BlockStorage, ObjectStorage, network.Network, network.Port and software hosted on a Compute)",
				n.Name, n.Type, why)
			continue
		}
		if tr.opts.Strict {
			tr.errorf(n, n.TypePos, KindUnsupported, "node %q of type %s is not deployed by the %s target (%s), and strict mode refuses to only record it",
				n.Name, n.Type, tr.target, why)
			continue
		}
		info.Kind = kindRecorded
		info.note = fmt.Sprintf("not deployed: %s; an orchestrator-side service (the %s type) that orchestrator records without creating it", why, n.Type)
		tr.warnf(n, n.TypePos, KindUnsupported, "node %q (%s) is recorded but not deployed: %s; its attributes are null (strict mode refuses it)", n.Name, n.Type, why)
	}
}

// storageService reports whether a BlockStorage node of a type library's type
// has nothing that makes it a volume: no size (given or defaulted), volume_id or
// snapshot_id.
func (tr *translator) storageService(n *NodeTemplate) bool {
	td := tr.reg.Lookup(NodeType, n.Type)
	if td == nil || td.builtin {
		return false
	}
	defs := tr.reg.Properties(NodeType, n.Type)
	for _, p := range []string{"size", "volume_id", "snapshot_id"} {
		if _, set := n.Properties[p]; set {
			return false
		}
		if d := defs[p]; d != nil && d.Default != nil {
			return false
		}
	}
	return true
}

// hostCompute follows host requirements to a Compute; it says why when there is
// none, and whether the node sits on an orchestrator-side node (a host that is
// itself not deployable, like a Marathon cluster's Docker runtime).
func (tr *translator) hostCompute(n *NodeTemplate) (host, why string, orchestratorSide bool) {
	seen := map[string]bool{}
	cur := n
	for {
		if cur.Host == "" {
			for _, r := range cur.Requirements {
				if r.Name == "host" && r.Node == "" {
					return "", fmt.Sprintf("its host requirement (line %d) names no node; orchestrator does not pick hosts by node_filter", r.Pos.Line), false
				}
			}
			if cur == n {
				return "", "it is not hosted on anything", false
			}
			td := tr.reg.Lookup(NodeType, cur.Type)
			return "", fmt.Sprintf("it is hosted on %q, which is not hosted on a Compute", cur.Name), td != nil && !td.builtin
		}
		if seen[cur.Host] {
			return "", "its host requirements form a loop", false
		}
		seen[cur.Host] = true
		h := tr.t.nodes[cur.Host]
		if info := tr.nodes[h.Name]; info != nil && info.Kind == string(modules.Compute) {
			return h.Name, "", false
		}
		if info := tr.nodes[h.Name]; info != nil && info.Kind != "" {
			return "", fmt.Sprintf("it is hosted on %q, a %s, not on a Compute", h.Name, info.Kind), false
		}
		cur = h
	}
}

// translateNode builds the module call of one node.
func (tr *translator) translateNode(info *nodeInfo) {
	args := map[string]any{
		"source":        modules.Source(tr.target, modules.Kind(info.Kind)),
		"name":          info.ident + "-${count.index}",
		"deployment_id": "${var.orc_deployment_id}",
		"index":         "${count.index}",
		"target":        "${var.orc_target}",
	}
	if info.count.val == nil && info.count.expr == "" {
		info.count = literal(int64(1))
	}
	switch modules.Kind(info.Kind) {
	case modules.Compute:
		tr.compute(info, args)
	case modules.BlockStorage:
		tr.blockStorage(info, args)
	case modules.Network:
		tr.network(info, args)
	case modules.Port:
		tr.port(info, args)
	case modules.ObjectStorage:
		tr.objectStorage(info, args)
	}
	args["count"] = tr.countArg(info)
	tr.modules[info.ident] = args
}

// MaxInstances bounds the instances of one node: a count of a million is a typo
// or an attack, not a deployment.
const MaxInstances = 100

func (tr *translator) countArg(info *nodeInfo) any {
	if n, ok := info.count.val.(int64); ok && info.count.known && n > MaxInstances {
		tr.errorf(info.node, info.node.Pos, KindConstraint, "node %q asks for %d instances; at most %d are allowed", info.node.Name, n, MaxInstances)
		return 1
	}
	if info.count.expr != "" {
		return info.count.render()
	}
	n, ok := info.count.val.(int64)
	if !ok || n < 0 {
		tr.errorf(info.node, info.node.Pos, KindValue, "node %q: the instance count must be a whole number of 0 or more, got %s", info.node.Name, describe(jsonish(info.count.val)))
		return 1
	}
	return n
}

// The where of a used value: a node property, a capability's, a requirement's.
const propWhere = ""

func usedKey(node, where, name string) string { return node + "\x00" + where + "\x00" + name }

// use records that the translation honours an assigned value.
func (tr *translator) use(n *NodeTemplate, where, name string) {
	tr.used[usedKey(n.Name, where, name)] = true
}

// prop evaluates a property (or its type's default) and checks it against its
// definition with the actual input values. ok is false when unset, null, or only
// known at run time in a way the target cannot take (then with a warning).
func (tr *translator) prop(n *NodeTemplate, props map[string]Expr, defs map[string]*PropertyDef, name, what string, self evalCtx) (tfv, bool) {
	e, set := props[name]
	def := defs[name]
	if !set {
		if def == nil || def.Default == nil {
			return tfv{}, false
		}
		raw, _ := plain(def.Default)
		e = &Lit{Value: raw, Node: def.Default, Pos: def.Pos}
	}
	if lit, ok := e.(*Lit); ok && def != nil {
		e = &Lit{Value: asWritten(lit.Value, lit.Node, &def.Schema), Node: lit.Node, Pos: lit.Pos}
	}
	v, err := tr.eval(self, e)
	if unres, ok := asUnresolvable(err); ok {
		tr.warnf(n, e.exprPos(), KindUnsupported, "node %q %s: %s; it is left unset", n.Name, what, unres.msg)
		return tfv{}, false
	}
	if err != nil {
		tr.errorf(n, e.exprPos(), KindFunction, "node %q %s: %s", n.Name, what, err.Error())
		return tfv{}, false
	}
	if v.known && v.val == nil {
		return tfv{}, false
	}
	if def != nil && v.known && def.Schema.Type != "" {
		norm, err := tr.vc.check(v.val, &def.Schema, "")
		if err != nil {
			tr.errorf(n, e.exprPos(), KindConstraint, "node %q %s: %s", n.Name, what, err.Error())
			return tfv{}, false
		}
		v.val = norm
	}
	return v, true
}

// capProp reads (and marks honoured) a property of a node's capability.
func (tr *translator) capProp(n *NodeTemplate, capName, name string) (tfv, bool) {
	tr.use(n, capName, name)
	return tr.peekCapProp(n, capName, name)
}

// peekCapProp reads a capability property without marking it honoured.
func (tr *translator) peekCapProp(n *NodeTemplate, capName, name string) (tfv, bool) {
	def := tr.reg.Capabilities(n.Type)[capName]
	if def == nil {
		return tfv{}, false
	}
	props := map[string]Expr{}
	if ca := n.Capabilities[capName]; ca != nil {
		props = ca.Properties
	}
	return tr.prop(n, props, tr.capabilityProperties(def), name, fmt.Sprintf("capability %s property %s", capName, name), tr.selfCtx(n))
}

func (tr *translator) capabilityProperties(def *CapabilityDef) map[string]*PropertyDef {
	out := tr.reg.Properties(CapabilityType, def.Type)
	for name, pd := range def.Properties {
		out[name] = mergeProperty(out[name], pd)
	}
	return out
}

// nodeProp reads (and marks honoured) a node property.
func (tr *translator) nodeProp(n *NodeTemplate, name string) (tfv, bool) {
	tr.use(n, propWhere, name)
	return tr.peekProp(n, name)
}

// peekProp reads a node property without marking it honoured.
func (tr *translator) peekProp(n *NodeTemplate, name string) (tfv, bool) {
	return tr.prop(n, n.Properties, tr.reg.Properties(NodeType, n.Type), name, "property "+name, tr.selfCtx(n))
}

// selfCtx evaluates a node's own values: a reference to its own module's
// attributes cannot be an argument of that module.
func (tr *translator) selfCtx(n *NodeTemplate) evalCtx {
	c := evalCtx{self: n}
	if info := tr.nodes[n.Name]; info != nil && info.Kind != kindSoftware {
		c.module = info.ident
	}
	return c
}

// sizeArg converts a scalar-unit.size to a whole number of unit, rounded up. For
// GiB (disks, volumes) decimal sizes count in the cloud's GB: clouds size disks
// in GiB and call them GB, so "20 GB" is 20, never 19; a size in binary units
// converts exactly. Input-fed sizes are converted here too, from their value.
func (tr *translator) sizeArg(n *NodeTemplate, v tfv, unit string, what string) any {
	if !v.known {
		tr.errorf(n, n.Pos, KindValue, "node %q %s: a size must be known when the template is translated (a value or an input), not computed at run time", n.Name, what)
		return nil
	}
	var sc ScalarUnit
	switch s := v.val.(type) {
	case ScalarUnit:
		sc = s
	case string:
		parsed, err := parseScalar(tSize, s)
		if err != nil {
			tr.errorf(n, n.Pos, KindValue, "node %q %s: expected a size such as \"4 GB\", got %s", n.Name, what, describe(s))
			return nil
		}
		sc = parsed
	case int64, float64:
		// A bare number (an input of type scalar-unit.size in tfvars form) is bytes.
		parsed, err := parseScalar(tSize, scalarText(s)+" B")
		if err != nil {
			tr.errorf(n, n.Pos, KindValue, "node %q %s: %s", n.Name, what, err.Error())
			return nil
		}
		sc = parsed
	default:
		tr.errorf(n, n.Pos, KindValue, "node %q %s: expected a size such as \"4 GB\", got %s", n.Name, what, describe(jsonish(v.val)))
		return nil
	}
	if unit == "GiB" {
		return sc.CloudGB()
	}
	return sc.In(tSize, unit)
}

func (tr *translator) objectStorage(info *nodeInfo, args map[string]any) {
	n := info.node
	// A container has one size, its quota: maxsize when given, else size; a
	// size of 0 (the normative default) is no quota.
	for _, name := range []string{"size", "maxsize"} {
		if v, ok := tr.nodeProp(n, name); ok {
			if gb := tr.sizeArg(n, v, "GiB", name); gb != nil && gb != int64(0) {
				args["size_gb"] = gb
			}
		}
	}
	if v, ok := tr.nodeProp(n, "name"); ok {
		args["container_name"] = v.render()
	}
}

func (tr *translator) rootModule(outputs map[string]any) map[string]any {
	providers := map[string]any{}
	for name, req := range modules.Providers(tr.target) {
		providers[name] = map[string]any{"source": req.Source, "version": req.Version}
	}
	variables := map[string]any{
		"orc_deployment_id":   map[string]any{"type": "string", "description": "The orchestrator's deployment id."},
		"orc_target":          map[string]any{"type": "any", "default": map[string]any{}, "description": "The target's non-secret configuration."},
		"orc_ssh_public_keys": map[string]any{"type": "list(string)", "default": []any{}, "description": "The owners' SSH public keys."},
	}
	for _, in := range tr.t.Inputs {
		v := map[string]any{"type": tfType(&in.Schema, tr.reg)}
		desc := in.Description
		if isScalar(in.Schema.Type) {
			desc = strings.TrimSpace(desc + " (" + in.Schema.Type + ", in " + baseUnit[in.Schema.Type] + ")")
		}
		if desc != "" {
			v["description"] = desc
		}
		if sensitiveName(in.Name) {
			v["sensitive"] = true
		}
		variables[tr.inputVar(in.Name)] = v
	}
	for _, info := range tr.order {
		if info.Kind == string(modules.Compute) {
			variables["orc_power_state_"+info.ident] = map[string]any{"type": "map(string)", "default": map[string]any{},
				"description": "Power state of each instance of " + info.ident + " (index -> started|stopped)."}
		}
	}
	root := map[string]any{
		"terraform": map[string]any{"required_version": ">= 1.5.0", "required_providers": providers},
		"variable":  variables,
		"output":    outputs,
	}
	if len(tr.modules) > 0 {
		root["module"] = tr.modules
	}
	if tr.target == "openstack" {
		// Credentials reach the provider through OS_* environment variables only.
		root["provider"] = map[string]any{"openstack": map[string]any{}}
	}
	return root
}

var baseUnit = map[string]string{tSize: "bytes", tTime: "seconds", tFrequency: "hertz", tBitrate: "bits per second"}

func isScalar(t string) bool { return baseUnit[t] != "" }

// tfvars are the values of every variable: inputs and the orchestrator's own.
func (tr *translator) tfvars() map[string]any {
	vars := map[string]any{
		"orc_deployment_id":   tr.opts.DeploymentID,
		"orc_target":          tr.opts.TargetConfig,
		"orc_ssh_public_keys": tr.opts.SSHPublicKeys,
	}
	if len(tr.opts.TargetConfig) == 0 {
		vars["orc_target"] = map[string]any{}
	}
	if tr.opts.SSHPublicKeys == nil {
		vars["orc_ssh_public_keys"] = []string{}
	}
	for name, v := range tr.inputs {
		vars[tr.inputVar(name)] = tfvarValue(v)
	}
	for _, info := range tr.order {
		if info.Kind == string(modules.Compute) {
			states := map[string]string{}
			for k, s := range tr.opts.PowerStates[info.node.Name] {
				states[k] = s
			}
			vars["orc_power_state_"+info.ident] = states
		}
	}
	return vars
}

// encodeJSON writes indented JSON with map keys sorted (deterministic output) and
// without HTML escaping, so ">= 1.5.0" reads as written.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TargetProblem is one thing wrong in a target's configuration.
type TargetProblem struct {
	Key     string // "boot_seconds", or "config" for the whole
	Message string
}

// CheckTargetConfig says what is wrong with a target's configuration for the
// modules of its kind: the rules the modules enforce at plan time, checked when
// the target is saved rather than in every deployment's run.
func CheckTargetConfig(kind string, cfg map[string]any) []TargetProblem {
	var out []TargetProblem
	for _, p := range modules.CheckTargetConfig(kind, cfg) {
		out = append(out, TargetProblem{Key: p.Key, Message: p.Message})
	}
	return out
}

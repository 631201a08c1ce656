package tosca2tf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"orchestrator/modules"
)

// kindSoftware marks nodes hosted on a Compute: they become configuration payload
// of their host, not modules of their own.
const kindSoftware = "software"

// Options says what to translate for.
type Options struct {
	Target string // "local" or "openstack"
	// Inputs are the deployment's input values (nil: defaults only).
	Inputs map[string]any
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
	Kind      string `json:"kind"`             // module kind, or "software"
	Module    string `json:"module,omitempty"` // e.g. module.server (instances are module.server[i])
	Ident     string `json:"ident,omitempty"`
	Host      string `json:"host,omitempty"` // the Compute a software node runs on
	Scalable  bool   `json:"scalable"`
	// Count is the number of instances when known at translation time, else -1.
	Count    int      `json:"count"`
	Software []string `json:"software,omitempty"` // software nodes a Compute hosts
	PowerVar string   `json:"power_var,omitempty"`
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
	if !slices.Contains(modules.Targets(), opts.Target) {
		return nil, Errors{{Kind: KindUnsupported, Message: fmt.Sprintf("unknown target kind %q (%s)", opts.Target, strings.Join(modules.Targets(), ", "))}}
	}
	inputs, err := CheckInputs(t, opts.Inputs)
	if err != nil {
		return nil, err
	}
	tr := &translator{t: t, reg: t.Types, target: opts.Target, inputs: inputs, opts: opts,
		vars: newIdentifiers(), mods: newIdentifiers(), outs: newIdentifiers(),
		nodes: map[string]*nodeInfo{}, modules: map[string]map[string]any{}, inputVars: map[string]string{}}
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
	deps     map[string]bool // module idents this one depends on
	boundTo  *nodeInfo       // port: the Compute it is bound to
	portArg  map[string]any  // port: its entry in the Compute's ports argument
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
}

func (tr *translator) inputVar(name string) string {
	if v, ok := tr.inputVars[name]; ok {
		return v
	}
	v := tr.vars.get(name, "input_")
	tr.inputVars[name] = v
	return v
}

func (tr *translator) errorf(pos Pos, kind Kind, format string, args ...any) {
	tr.d.errorf(pos, kind, format, args...)
}

func (tr *translator) run() (*Result, error) {
	for _, in := range tr.t.Inputs {
		tr.inputVar(in.Name)
	}
	tr.classify()
	if tr.d.failed() {
		return nil, tr.d.errs.sorted()
	}
	for _, info := range tr.order {
		if info.Kind != kindSoftware {
			tr.translateNode(info)
		}
	}
	tr.wirePorts()
	tr.dependencies()
	outputs, tfOutputs := tr.outputs()
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
		ni := NodeInfo{Name: info.node.Name, ToscaType: info.node.Type, Kind: info.Kind, Host: info.Host, Scalable: info.scalable, Count: -1}
		count := info.count
		if info.Kind == kindSoftware {
			count = tr.nodes[info.Host].count
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
		res.Nodes = append(res.Nodes, ni)
	}
	return res, nil
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

// classify decides what each node becomes: a module of a kind, or software
// payload of the Compute it is (transitively) hosted on.
func (tr *translator) classify() {
	for _, n := range tr.t.Nodes {
		info := &nodeInfo{node: n, deps: map[string]bool{}}
		for _, mk := range moduleKinds {
			if tr.reg.IsA(NodeType, n.Type, mk.ancestor) {
				info.Kind = string(mk.kind)
				break
			}
		}
		if info.Kind != "" && !modules.Supports(tr.target, modules.Kind(info.Kind)) {
			tr.errorf(n.Pos, KindUnsupported, "node %q (%s) is a %s, which the %s target does not support", n.Name, n.Type, info.Kind, tr.target)
			continue
		}
		tr.nodes[n.Name] = info
		tr.order = append(tr.order, info)
	}
	for _, info := range tr.order {
		n := info.node
		if info.Kind != "" {
			info.ident = tr.mods.get(n.Name, "node_")
			continue
		}
		host, why := tr.hostCompute(n)
		if host == "" {
			tr.errorf(n.TypePos, KindUnsupported, "node %q of type %s cannot be deployed: %s (orchestrator deploys Compute, BlockStorage, ObjectStorage, network.Network, network.Port and software hosted on a Compute)",
				n.Name, n.Type, why)
			continue
		}
		info.Kind, info.Host = kindSoftware, host
		tr.nodes[host].software = append(tr.nodes[host].software, n)
	}
}

// hostCompute follows host requirements to a Compute; it says why when there is none.
func (tr *translator) hostCompute(n *NodeTemplate) (string, string) {
	seen := map[string]bool{}
	cur := n
	for {
		if cur.Host == "" {
			for _, r := range cur.Requirements {
				if r.Name == "host" && r.Node == "" {
					return "", fmt.Sprintf("its host requirement (line %d) names no node; orchestrator does not pick hosts by node_filter", r.Pos.Line)
				}
			}
			if cur == n {
				return "", "it is not hosted on anything"
			}
			return "", fmt.Sprintf("it is hosted on %q, which is not hosted on a Compute", cur.Name)
		}
		if seen[cur.Host] {
			return "", "its host requirements form a loop"
		}
		seen[cur.Host] = true
		host := tr.t.nodes[cur.Host]
		if info := tr.nodes[host.Name]; info != nil && info.Kind == string(modules.Compute) {
			return host.Name, ""
		}
		cur = host
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
	info.count = literal(int64(1))
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
		tr.errorf(info.node.Pos, KindConstraint, "node %q asks for %d instances; at most %d are allowed", info.node.Name, n, MaxInstances)
		return 1
	}
	if info.count.expr != "" {
		return info.count.render()
	}
	n, ok := info.count.val.(int64)
	if !ok || n < 0 {
		tr.errorf(info.node.Pos, KindValue, "node %q: the instance count must be a whole number of 0 or more, got %s", info.node.Name, describe(jsonish(info.count.val)))
		return 1
	}
	return n
}

// prop evaluates a node property (or its type's default) and checks it against
// its definition with the actual input values. ok is false when unset.
func (tr *translator) prop(n *NodeTemplate, props map[string]Expr, defs map[string]*PropertyDef, name, what string) (tfv, bool) {
	e, set := props[name]
	def := defs[name]
	if !set {
		if def == nil || def.Default == nil {
			return tfv{}, false
		}
		raw, _ := plain(def.Default)
		e = &Lit{Value: raw, Pos: def.Pos}
	}
	v, err := tr.eval(evalCtx{self: n}, e)
	if err != nil {
		tr.errorf(e.exprPos(), KindFunction, "node %q %s: %s", n.Name, what, err.Error())
		return tfv{}, false
	}
	if v.known && v.val == nil {
		return tfv{}, false
	}
	if def != nil && v.known && def.Schema.Type != "" {
		norm, err := tr.vc.check(v.val, &def.Schema, "")
		if err != nil {
			tr.errorf(e.exprPos(), KindConstraint, "node %q %s: %s", n.Name, what, err.Error())
			return tfv{}, false
		}
		v.val = norm
	}
	return v, true
}

// capProp reads a property of a node's capability.
func (tr *translator) capProp(n *NodeTemplate, capName, name string) (tfv, bool) {
	def := tr.reg.Capabilities(n.Type)[capName]
	if def == nil {
		return tfv{}, false
	}
	props := map[string]Expr{}
	if ca := n.Capabilities[capName]; ca != nil {
		props = ca.Properties
	}
	return tr.prop(n, props, tr.capabilityProperties(def), name, fmt.Sprintf("capability %s property %s", capName, name))
}

func (tr *translator) capabilityProperties(def *CapabilityDef) map[string]*PropertyDef {
	out := tr.reg.Properties(CapabilityType, def.Type)
	for name, pd := range def.Properties {
		out[name] = mergeProperty(out[name], pd)
	}
	return out
}

func (tr *translator) nodeProp(n *NodeTemplate, name string) (tfv, bool) {
	return tr.prop(n, n.Properties, tr.reg.Properties(NodeType, n.Type), name, "property "+name)
}

// sizeArg converts a scalar-unit.size to a whole number of unit (MiB, GiB),
// rounded up; an input-fed size converts in Terraform from its bytes.
func (tr *translator) sizeArg(n *NodeTemplate, v tfv, unit string, what string) any {
	if v.known && tr.textInput(v.expr) {
		// A string input used as a size ("1 GB", as INDIGO templates declare
		// memory_size): its variable holds text, not bytes, so the size is
		// converted now (the root module is rendered again when inputs change).
		v.expr = ""
	}
	if v.expr != "" {
		div := map[string]int64{"MiB": 1 << 20, "GiB": 1 << 30}[unit]
		return fmt.Sprintf("${ceil(%s / %d)}", v.expr, div)
	}
	switch s := v.val.(type) {
	case ScalarUnit:
		return s.In(tSize, unit)
	case string:
		sc, err := parseScalar(tSize, s)
		if err == nil {
			return sc.In(tSize, unit)
		}
	}
	tr.errorf(n.Pos, KindValue, "node %q %s: expected a size such as \"4 GB\", got %s", n.Name, what, describe(jsonish(v.val)))
	return nil
}

// textInput reports whether expr is the variable of an input that is not a
// scalar-unit (its value in terraform.tfvars.json is text).
func (tr *translator) textInput(expr string) bool {
	for name, v := range tr.inputVars {
		if expr == "var."+v {
			in := tr.t.inputs[name]
			return in != nil && !isScalar(in.Schema.Type)
		}
	}
	return false
}

func (tr *translator) compute(info *nodeInfo, args map[string]any) {
	n := info.node
	info.count, info.scalable = tr.instanceCount(n)
	if v, ok := tr.capProp(n, "host", "num_cpus"); ok {
		args["num_cpus"] = v.render()
	}
	if v, ok := tr.capProp(n, "host", "mem_size"); ok {
		args["mem_size_mb"] = tr.sizeArg(n, v, "MiB", "host mem_size")
	}
	if v, ok := tr.capProp(n, "host", "disk_size"); ok {
		args["disk_size_gb"] = tr.sizeArg(n, v, "GiB", "host disk_size")
	}
	if v, ok := tr.capProp(n, "host", "num_gpus"); ok {
		args["num_gpus"] = v.render()
	}
	// Explicit flavor and image: node properties, or INDIGO's host.instance_type and os.image.
	for _, src := range []struct{ arg, where, name string }{
		{"flavor", "", "flavor"}, {"flavor", "", "instance_type"}, {"flavor", "host", "instance_type"},
		{"image", "", "image"}, {"image", "os", "image"},
	} {
		var v tfv
		var ok bool
		if src.where == "" {
			v, ok = tr.nodeProp(n, src.name)
		} else {
			v, ok = tr.capProp(n, src.where, src.name)
		}
		if ok && (v.expr != "" || scalarText(jsonish(v.val)) != "") {
			args[src.arg] = v.render()
		}
	}
	os := map[string]any{}
	for _, field := range []string{"distribution", "version", "type", "architecture"} {
		if v, ok := tr.capProp(n, "os", field); ok {
			os[field] = v.render()
		}
	}
	args["os"] = os
	args["public_address"] = tr.isPublic(n)
	args["endpoint_ports"] = tr.endpointPorts(n)
	args["network"] = nil
	args["ports"] = []any{}
	args["address_offset"] = 10 + 256*tr.computeN
	tr.computeN++
	args["power_state"] = fmt.Sprintf(`${lookup(var.orc_power_state_%s, tostring(count.index), "started")}`, info.ident)
	args["ssh_public_keys"] = "${var.orc_ssh_public_keys}"
	args["software"] = tr.softwarePayload(info)
}

// instanceCount reads scalable.count (INDIGO), default_instances or min_instances.
func (tr *translator) instanceCount(n *NodeTemplate) (tfv, bool) {
	ca := n.Capabilities["scalable"]
	if ca == nil {
		return literal(int64(1)), false
	}
	for _, name := range []string{"count", "default_instances", "min_instances"} {
		if _, set := ca.Properties[name]; !set {
			continue
		}
		v, ok := tr.capProp(n, "scalable", name)
		if !ok {
			continue
		}
		if v.known {
			c, err := tr.vc.checkType(v.val, &Schema{Type: tInteger}, "")
			if err != nil {
				tr.errorf(ca.Properties[name].exprPos(), KindValue, "node %q scalable %s: %s", n.Name, name, err.Error())
				return literal(int64(1)), true
			}
			v.val = c
		}
		return v, true
	}
	return literal(int64(1)), false
}

// isPublic reports whether a Compute asks for a public address: an endpoint on the
// PUBLIC network, or a public endpoint type.
func (tr *translator) isPublic(n *NodeTemplate) bool {
	for name, def := range tr.reg.Capabilities(n.Type) {
		if !tr.reg.IsA(CapabilityType, def.Type, capEndpoint) {
			continue
		}
		v, ok := tr.capProp(n, name, "network_name")
		if ok && v.known && strings.EqualFold(scalarText(jsonish(v.val)), "PUBLIC") {
			return true
		}
		if _, assigned := n.Capabilities[name]; assigned && tr.reg.IsA(CapabilityType, def.Type, "tosca.capabilities.Endpoint.Public") {
			return true
		}
	}
	return false
}

// endpointPorts lists the ports a Compute's endpoints open (security group rules).
func (tr *translator) endpointPorts(n *NodeTemplate) []any {
	out := []any{}
	for _, name := range names(n.Capabilities) {
		def := tr.reg.Capabilities(n.Type)[name]
		if def == nil || !tr.reg.IsA(CapabilityType, def.Type, capEndpoint) {
			continue
		}
		if v, ok := tr.capProp(n, name, "ports"); ok && v.known {
			ports, _ := v.val.(map[string]any)
			for _, pname := range names(ports) {
				spec, _ := ports[pname].(map[string]any)
				port := spec["target"]
				if port == nil {
					port = spec["source"]
				}
				proto, _ := spec["protocol"].(string)
				if proto == "" {
					proto = "tcp"
				}
				cidr, _ := spec["remote_cidr"].(string)
				if cidr == "" {
					cidr = "0.0.0.0/0"
				}
				if port != nil {
					out = append(out, map[string]any{"port": jsonish(port), "protocol": escapeTemplate(proto), "cidr": escapeTemplate(cidr)})
				}
			}
		}
		if v, ok := tr.capProp(n, name, "port"); ok && v.known {
			proto := "tcp"
			if p, ok := tr.capProp(n, name, "protocol"); ok && p.known {
				if s := scalarText(jsonish(p.val)); s == "tcp" || s == "udp" {
					proto = s
				}
			}
			out = append(out, map[string]any{"port": jsonish(v.val), "protocol": proto, "cidr": "0.0.0.0/0"})
		}
	}
	return out
}

// softwarePayload records the software a Compute hosts: types, properties and
// artifacts, so that the configuration travels with the server.
func (tr *translator) softwarePayload(info *nodeInfo) []any {
	out := []any{}
	for _, s := range info.software {
		props := map[string]any{}
		defs := tr.reg.Properties(NodeType, s.Type)
		for _, name := range names(defs) {
			v, err := tfv{}, error(nil)
			if e, set := s.Properties[name]; set {
				v, err = tr.eval(evalCtx{self: s}, e)
				var unres *errUnresolvable
				if errors.As(err, &unres) {
					tr.d.warnf(e.exprPos(), KindUnsupported, "node %q property %q: %s; it is recorded as null", s.Name, name, unres.msg)
					props[name] = nil
					continue
				}
				if err != nil {
					tr.errorf(e.exprPos(), KindFunction, "node %q property %q: %s", s.Name, name, err.Error())
					continue
				}
				if v.known && defs[name].Schema.Type != "" && v.val != nil {
					if _, err := tr.vc.check(v.val, &defs[name].Schema, ""); err != nil {
						tr.errorf(e.exprPos(), KindConstraint, "node %q property %q: %s", s.Name, name, err.Error())
						continue
					}
				}
				if v.sensitive {
					v = tfv{expr: "sensitive(" + v.hcl() + ")"}
				}
				props[name] = v.render()
			} else if defs[name].Default != nil {
				raw, _ := plain(defs[name].Default)
				props[name] = escapeLiterals(raw)
			}
		}
		types := []any{}
		for _, t := range tr.reg.ancestry(NodeType, s.Type) {
			types = append(types, t.Name)
		}
		artifacts := []any{}
		for _, name := range names(s.Artifacts) {
			a := s.Artifacts[name]
			artifacts = append(artifacts, escapeLiterals(map[string]any{"name": a.Name, "type": a.Type, "file": a.File, "repository": a.Repository}))
		}
		reqs := map[string]any{}
		for _, r := range s.Requirements {
			if r.Node != "" {
				reqs[escapeTemplate(r.Name)] = escapeTemplate(r.Node)
			}
		}
		out = append(out, map[string]any{
			"name": escapeTemplate(s.Name), "type": s.Type, "types": types, "properties": props,
			"artifacts": artifacts, "requirements": reqs, "interfaces": escapeLiterals(interfaceNames(s.Interfaces)),
		})
	}
	return out
}

func interfaceNames(ifaces map[string]any) []any {
	out := []any{}
	for _, name := range names(ifaces) {
		ops, _ := ifaces[name].(map[string]any)
		for _, op := range names(ops) {
			out = append(out, name+"."+op)
		}
	}
	return out
}

// attachedBy lists the Computes that attach a volume, with their relationship.
func (tr *translator) attachedBy(vol *NodeTemplate) []*NodeTemplate {
	var out []*NodeTemplate
	for _, info := range tr.order {
		if info.Kind != string(modules.Compute) {
			continue
		}
		for _, r := range info.node.Requirements {
			if r.Node == vol.Name && tr.reg.IsA(RelationshipType, r.Relationship, relAttachesTo) {
				out = append(out, info.node)
			}
		}
	}
	return out
}

func (tr *translator) blockStorage(info *nodeInfo, args map[string]any) {
	n := info.node
	if v, ok := tr.nodeProp(n, "size"); ok {
		args["size_gb"] = tr.sizeArg(n, v, "GiB", "size")
	}
	for _, name := range []string{"volume_id", "snapshot_id", "volume_type"} {
		if v, ok := tr.nodeProp(n, name); ok && (v.expr != "" || scalarText(jsonish(v.val)) != "") {
			args[name] = v.render()
		}
	}
	if _, ok := args["size_gb"]; !ok && args["volume_id"] == nil && args["snapshot_id"] == nil {
		tr.errorf(n.Pos, KindMissing, "node %q: a BlockStorage needs a size (or an existing volume_id or snapshot_id)", n.Name)
	}
	// A volume attached to a scaled Compute is scaled with it: one per instance.
	users := tr.attachedBy(n)
	if len(users) > 1 {
		tr.errorf(n.Pos, KindUnsupported, "node %q is attached to %d Computes; a volume attaches to one", n.Name, len(users))
		return
	}
	if len(users) == 1 {
		host := tr.nodes[users[0].Name]
		host.count, host.scalable = tr.instanceCount(users[0])
		info.count, info.scalable = host.count, host.scalable
		tr.attachment(host, info)
	}
}

// attachment adds the module that attaches a volume to its Compute, instance by instance.
func (tr *translator) attachment(compute, volume *nodeInfo) {
	var rel *RequirementAssignment
	for _, r := range compute.node.Requirements {
		if r.Node == volume.node.Name && tr.reg.IsA(RelationshipType, r.Relationship, relAttachesTo) {
			rel = r
		}
	}
	ident := tr.mods.get(compute.node.Name+"_attach_"+volume.node.Name, "attach_")
	args := map[string]any{
		"source":        modules.Source(tr.target, modules.VolumeAttachment),
		"count":         tr.countArg(compute),
		"name":          ident + "-${count.index}",
		"deployment_id": "${var.orc_deployment_id}",
		"index":         "${count.index}",
		"target":        "${var.orc_target}",
		"compute_id":    fmt.Sprintf("${module.%s[count.index].id}", compute.ident),
		"volume_id":     fmt.Sprintf("${module.%s[count.index].id}", volume.ident),
		"device":        nil,
	}
	for _, key := range []string{"location", "device"} {
		if e, ok := rel.RelProperties[key]; ok {
			v, err := tr.eval(evalCtx{self: compute.node, source: compute.node, target: volume.node}, e)
			if err != nil {
				tr.errorf(e.exprPos(), KindFunction, "attachment of %q to %q: %s", volume.node.Name, compute.node.Name, err.Error())
				continue
			}
			args["device"] = v.render()
		}
	}
	tr.modules[ident] = args
}

func (tr *translator) network(info *nodeInfo, args map[string]any) {
	n := info.node
	for _, name := range []string{"network_name", "cidr", "ip_version", "gateway_ip", "start_ip", "end_ip", "dhcp_enabled"} {
		if v, ok := tr.nodeProp(n, name); ok {
			args[name] = v.render()
		}
	}
}

func (tr *translator) port(info *nodeInfo, args map[string]any) {
	n := info.node
	var compute, network *nodeInfo
	for _, r := range n.Requirements {
		target := tr.nodes[r.Node]
		if target == nil {
			continue
		}
		switch {
		case target.Kind == string(modules.Compute) && (r.Name == "binding" || tr.reg.IsA(RelationshipType, r.Relationship, relBindsTo)):
			compute = target
		case target.Kind == string(modules.Network) && (r.Name == "link" || tr.reg.IsA(RelationshipType, r.Relationship, relLinksTo)):
			network = target
		}
	}
	if compute == nil {
		tr.errorf(n.Pos, KindRequirement, "port %q is not bound to a Compute (binding requirement)", n.Name)
		return
	}
	compute.count, compute.scalable = tr.instanceCount(compute.node)
	info.count, info.scalable = compute.count, compute.scalable
	args["network"] = nil
	if network != nil {
		args["network"] = map[string]any{"id": fmt.Sprintf("${module.%s[0].id}", network.ident), "cidr": fmt.Sprintf("${module.%s[0].cidr}", network.ident),
			"subnet_id": fmt.Sprintf("${module.%s[0].subnet_id}", network.ident)}
	}
	for _, name := range []string{"ip_address", "order", "is_default"} {
		if v, ok := tr.nodeProp(n, name); ok {
			args[name] = v.render()
		}
	}
	args["address_offset"] = 10 + 256*tr.computeN
	tr.computeN++
	netID := "null"
	if network != nil {
		netID = fmt.Sprintf("module.%s[0].id", network.ident)
	}
	// The Compute consumes the port (OpenStack attaches instances to ports); wirePorts
	// adds it to the Compute's arguments once every module is built.
	info.boundTo = compute
	info.portArg = map[string]any{
		"id":         fmt.Sprintf("${module.%s[count.index].id}", info.ident),
		"ip_address": fmt.Sprintf("${module.%s[count.index].ip_address}", info.ident),
		"network_id": "${" + netID + "}",
	}
}

// wirePorts gives each Compute the ports bound to it, in template order.
func (tr *translator) wirePorts() {
	for _, info := range tr.order {
		if info.boundTo == nil || info.portArg == nil {
			continue
		}
		if args := tr.modules[info.boundTo.ident]; args != nil {
			args["ports"] = append(args["ports"].([]any), info.portArg)
		}
	}
}

func (tr *translator) objectStorage(info *nodeInfo, args map[string]any) {
	n := info.node
	if v, ok := tr.nodeProp(n, "size"); ok {
		// The normative default is 0 MB: no size, not a quota of nothing.
		if size := tr.sizeArg(n, v, "GiB", "size"); size != int64(0) {
			args["size_gb"] = size
		}
	}
	if v, ok := tr.nodeProp(n, "name"); ok {
		args["container_name"] = v.render()
	}
}

// dependencies turns requirements that are not structural (hosting, attaching,
// binding, linking) into depends_on between modules. Software nodes stand for
// their host. An edge that would close a loop is dropped with a warning.
func (tr *translator) dependencies() {
	for _, info := range tr.order {
		from := tr.moduleOf(info)
		if from == nil {
			continue
		}
		for _, r := range info.node.Requirements {
			target := tr.nodes[r.Node]
			if target == nil || r.Node == info.Host || r.Name == "host" {
				continue
			}
			rel := r.Relationship
			if rel != "" && (tr.reg.IsA(RelationshipType, rel, relHostedOn) || tr.reg.IsA(RelationshipType, rel, relAttachesTo) ||
				tr.reg.IsA(RelationshipType, rel, relBindsTo) || tr.reg.IsA(RelationshipType, rel, relLinksTo)) {
				continue
			}
			to := tr.moduleOf(target)
			if to == nil || to == from {
				continue
			}
			if tr.reaches(to, from) {
				tr.d.warnf(r.Pos, KindCycle, "dependency of %q on %q is dropped: it would make a loop between %s and %s", info.node.Name, r.Node, from.ident, to.ident)
				continue
			}
			from.deps[to.ident] = true
		}
	}
	for _, info := range tr.order {
		if info.Kind == kindSoftware || tr.modules[info.ident] == nil {
			continue
		}
		var deps []string
		for d := range info.deps {
			deps = append(deps, "module."+d)
		}
		if len(deps) > 0 {
			sort.Strings(deps)
			tr.modules[info.ident]["depends_on"] = deps
		}
	}
}

func (tr *translator) moduleOf(info *nodeInfo) *nodeInfo {
	if info.Kind == kindSoftware {
		return tr.nodes[info.Host]
	}
	return info
}

// reaches reports whether a depends (transitively) on b.
func (tr *translator) reaches(a, b *nodeInfo) bool {
	seen := map[string]bool{}
	stack := []*nodeInfo{a}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cur == b {
			return true
		}
		if seen[cur.ident] {
			continue
		}
		seen[cur.ident] = true
		for d := range cur.deps {
			for _, info := range tr.order {
				if info.ident == d && info.Kind != kindSoftware {
					stack = append(stack, info)
				}
			}
		}
	}
	return false
}

// outputs translates TOSCA outputs into Terraform outputs.
func (tr *translator) outputs() (map[string]string, map[string]any) {
	names := map[string]string{}
	tf := map[string]any{}
	for _, o := range tr.t.Outputs {
		id := tr.outs.get(o.Name, "output_")
		v, err := tr.eval(evalCtx{}, o.Value)
		var unres *errUnresolvable
		switch {
		case errors.As(err, &unres):
			tr.d.warnf(o.Pos, KindUnsupported, "output %q: %s; it will be null", o.Name, unres.msg)
			v = literal(nil)
		case err != nil:
			tr.errorf(o.Pos, KindFunction, "output %q: %s", o.Name, err.Error())
			continue
		}
		out := map[string]any{"value": v.render()}
		if o.Description != "" {
			out["description"] = o.Description
		}
		if v.sensitive {
			out["sensitive"] = true
		}
		tf[id] = out
		names[o.Name] = id
	}
	resources := map[string]any{}
	for _, info := range tr.order {
		if info.Kind != kindSoftware && tr.modules[info.ident] != nil {
			resources[info.ident] = fmt.Sprintf("${module.%s[*].orc_resource}", info.ident)
		}
	}
	tf["orc_resources"] = map[string]any{"value": resources, "description": "Every module instance as the orchestrator's resources API shows it."}
	return names, tf
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
		"module":    tr.modules,
		"output":    outputs,
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

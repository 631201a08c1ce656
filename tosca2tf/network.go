package tosca2tf

import (
	"fmt"
	"strings"

	"orchestrator/modules"
)

// Network roles: what a Network node means when it gets no module of its own.
const (
	rolePublic   = "public"   // INDIGO network_type public: the target's external network
	rolePrivate  = "private"  // INDIGO network_type private: the target's default network
	roleExisting = "existing" // network_name (or network_id) without a subnet: a network that exists
)

// subnetProps are the properties that describe a network to create.
var subnetProps = []string{"cidr", "start_ip", "end_ip", "gateway_ip", "ip_version", "dhcp_enabled"}

// networkRoles applies INDIGO's network semantics before modules are built:
// network_type public means "the bound Computes get a floating IP on the
// external network", private means "the target's default network", and a
// network_name (or network_id) without a subnet names an existing network to
// use, not one to create. Those networks, and the Ports linking to them, get no
// module: the Computes bound to them carry what they mean. Other networks are
// created (normative semantics).
func (tr *translator) networkRoles() {
	for _, info := range tr.order {
		if info.Kind != string(modules.Network) {
			continue
		}
		n := info.node
		kind := ""
		if v, ok := tr.peekProp(n, "network_type"); ok && v.known {
			kind = strings.ToLower(scalarText(jsonish(v.val)))
		}
		switch kind {
		case rolePublic:
			tr.use(n, propWhere, "network_type")
			info.Kind, info.role, info.absorbed = kindRecorded, rolePublic, true
			info.note = "INDIGO network_type public: the target's external network; the Computes linked to it get a floating IP"
			continue
		case rolePrivate:
			tr.use(n, propWhere, "network_type")
			info.Kind, info.role, info.absorbed = kindRecorded, rolePrivate, true
			info.note = "INDIGO network_type private: the target's default network; the Computes linked to it sit there"
			continue
		case "isolated":
			tr.use(n, propWhere, "network_type") // honoured by network(): no router
		}
		subnet := false
		for _, p := range subnetProps {
			if _, set := n.Properties[p]; set {
				subnet = true
			}
		}
		if subnet {
			continue
		}
		for _, key := range []string{"network_id", "network_name"} {
			if _, set := n.Properties[key]; !set {
				continue
			}
			v, ok := tr.nodeProp(n, key)
			if !ok {
				continue
			}
			info.Kind, info.role, info.absorbed, info.networkName = kindRecorded, roleExisting, true, v
			// Which field of the Compute's network argument it fills.
			info.networkField = map[string]string{"network_id": "id", "network_name": "name"}[key]
			info.note = fmt.Sprintf("an existing network (%s given, no subnet): the Computes linked to it are attached to it, nothing is created", key)
			tr.use(n, propWhere, "network_name")
			tr.use(n, propWhere, "network_id")
			break
		}
	}
	for _, info := range tr.order {
		if info.Kind != string(modules.Port) {
			continue
		}
		compute, network := tr.portEnds(info.node)
		if network == nil || network.role == "" || compute == nil {
			continue
		}
		n := info.node
		info.Kind, info.absorbed = kindRecorded, true
		tr.use(n, propWhere, "order") // INDIGO orders a Compute's public and private interfaces; both exist either way
		switch network.role {
		case rolePublic:
			compute.public = true
			info.note = fmt.Sprintf("the floating IP of %q on the target's external network", compute.node.Name)
		case rolePrivate:
			info.note = fmt.Sprintf("the interface of %q on the target's default network", compute.node.Name)
		case roleExisting:
			arg := map[string]any{network.networkField: network.networkName.render()}
			if compute.netArg != nil && compute.netFrom != network.node.Name {
				tr.warnf(n, n.Pos, KindUnsupported, "port %q links %q to a second existing network %q; orchestrator attaches a Compute to one existing network (%q), this port is ignored",
					n.Name, compute.node.Name, network.node.Name, compute.netFrom)
				info.note = "ignored: a second existing network for " + compute.node.Name
				continue
			}
			compute.netArg, compute.netFrom = arg, network.node.Name
			info.note = fmt.Sprintf("the interface of %q on the existing network %q", compute.node.Name, network.node.Name)
		}
	}
}

// portEnds finds the Compute a Port is bound to and the Network it links to.
func (tr *translator) portEnds(n *NodeTemplate) (compute, network *nodeInfo) {
	for _, r := range n.Requirements {
		target := tr.nodes[r.Node]
		if target == nil {
			continue
		}
		switch {
		case target.Kind == string(modules.Compute) && (r.Name == "binding" || tr.reg.IsA(RelationshipType, r.Relationship, relBindsTo)):
			compute = target
		case (target.Kind == string(modules.Network) || target.role != "") && (r.Name == "link" || tr.reg.IsA(RelationshipType, r.Relationship, relLinksTo)):
			network = target
		}
	}
	return compute, network
}

func (tr *translator) network(info *nodeInfo, args map[string]any) {
	n := info.node
	for _, name := range []string{"network_name", "cidr", "ip_version", "gateway_ip", "start_ip", "end_ip", "dhcp_enabled"} {
		if v, ok := tr.nodeProp(n, name); ok {
			args[name] = v.render()
		}
	}
	args["external_access"] = true
	if v, ok := tr.peekProp(n, "network_type"); ok && v.known && strings.EqualFold(scalarText(jsonish(v.val)), "isolated") {
		args["external_access"] = false
	}
}

func (tr *translator) port(info *nodeInfo, args map[string]any) {
	n := info.node
	compute, network := tr.portEnds(n)
	if compute == nil {
		tr.errorf(n, n.Pos, KindRequirement, "port %q is not bound to a Compute (binding requirement)", n.Name)
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
	// The Compute consumes the port (OpenStack attaches instances to ports);
	// wireComputes adds it to the Compute's arguments once every module is built.
	info.boundTo = compute
	info.portArg = map[string]any{
		"id":         fmt.Sprintf("${module.%s[count.index].id}", info.ident),
		"ip_address": fmt.Sprintf("${module.%s[count.index].ip_address}", info.ident),
		"network_id": "${" + netID + "}",
	}
}

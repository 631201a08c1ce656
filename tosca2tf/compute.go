package tosca2tf

import (
	"fmt"
	"regexp"
	"strings"

	"orchestrator/modules"
)

// compute builds the arguments of a Compute's module.
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
	args["public_address"] = info.public || tr.isPublic(n)
	args["endpoint_ports"] = tr.endpointPorts(n)
	args["network"] = info.netArg
	args["ports"] = []any{}
	args["volumes"] = []any{}
	args["address_offset"] = 10 + 256*tr.computeN
	tr.computeN++
	args["power_state"] = fmt.Sprintf(`${lookup(var.orc_power_state_%s, tostring(count.index), "started")}`, info.ident)
	args["ssh_public_keys"] = "${var.orc_ssh_public_keys}"
	args["users"] = tr.users(n)
	args["tags"] = map[string]any{}
	if v, ok := tr.nodeProp(n, "tags"); ok {
		args["tags"] = v.render()
	}
	software := []any{}
	for _, s := range info.software {
		software = append(software, map[string]any{"name": escapeTemplate(s.Name), "type": s.Type})
	}
	args["software"] = software
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
				tr.errorf(n, ca.Properties[name].exprPos(), KindValue, "node %q scalable %s: %s", n.Name, name, err.Error())
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
	if info := tr.nodes[n.Name]; info != nil && info.public {
		return true
	}
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
		} else {
			// The protocol of an endpoint without a port opens nothing.
			tr.use(n, name, "protocol")
		}
	}
	return out
}

var (
	userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	sshKeyRE   = regexp.MustCompile(`^(ssh-|ecdsa-|sk-)[^ ]+ [A-Za-z0-9+/=]+`)
)

// users turns INDIGO's os_users (tosca.datatypes.indigo.User) into the accounts
// the compute module creates with cloud-init.
func (tr *translator) users(n *NodeTemplate) []any {
	out := []any{}
	e, set := n.Properties["os_users"]
	v, ok := tr.nodeProp(n, "os_users")
	if !ok {
		return out
	}
	list, isList := v.val.([]any)
	if !v.known || !isList {
		tr.warnf(n, n.Pos, KindUnsupported, "node %q property os_users: accounts must be known when the template is translated; none are created", n.Name)
		return out
	}
	pos := n.Pos
	if set {
		pos = e.exprPos()
	}
	for i, item := range list {
		u, _ := jsonish(item).(map[string]any)
		name, _ := u["os_user_name"].(string)
		if !userNameRE.MatchString(name) || name == "root" || name == "default" {
			tr.errorf(n, pos, KindValue, "node %q os_users[%d]: %s is not a user name orchestrator creates (lowercase letters, digits, _ and -, at most 32, not root)", n.Name, i, describe(u["os_user_name"]))
			continue
		}
		user := map[string]any{"name": name}
		if raw, ok := u["os_user_guid"]; ok && raw != nil {
			uid := toInt(raw, -1)
			if uid < 1000 || uid >= 60000 {
				tr.errorf(n, pos, KindValue, "node %q os_users[%d] %s: os_user_guid must be from 1000 to 59999, got %s", n.Name, i, name, describe(raw))
				continue
			}
			user["uid"] = uid
		}
		if sudo, ok := u["os_user_add_to_sudoers"].(bool); ok {
			user["sudo"] = sudo
		}
		if key, ok := u["os_user_ssh_public_key"].(string); ok && key != "" {
			key = strings.TrimSpace(key)
			if !sshKeyRE.MatchString(key) {
				tr.errorf(n, pos, KindValue, "node %q os_users[%d] %s: os_user_ssh_public_key is not an OpenSSH public key", n.Name, i, name)
				continue
			}
			user["ssh_public_key"] = escapeTemplate(key)
		}
		out = append(out, user)
	}
	return out
}

// wireComputes gives each Compute the Port modules bound to it (in template
// order) and the volumes it mounts, once every module is built.
func (tr *translator) wireComputes() {
	for _, info := range tr.order {
		if info.boundTo == nil || info.portArg == nil {
			continue
		}
		info.boundTo.ports = append(info.boundTo.ports, info.portArg)
	}
	for _, info := range tr.order {
		if info.Kind != string(modules.Compute) || tr.modules[info.ident] == nil {
			continue
		}
		args := tr.modules[info.ident]
		if len(info.ports) > 0 {
			args["ports"] = info.ports
		}
		if len(info.volumes) > 0 {
			args["volumes"] = info.volumes
		}
	}
}

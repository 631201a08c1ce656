package tosca2tf

import (
	"fmt"

	"orchestrator/modules"
)

// softwareModules gives every Compute that hosts software a software module: the
// payload of its hosted nodes, one instance per Compute instance, after the
// Compute. The payload lives outside the compute module so that a software
// property may refer to its own host's attributes (a dns_name made of the host's
// public address) or to other hosts' without a dependency cycle.
func (tr *translator) softwareModules() {
	for _, info := range tr.order {
		if info.Kind != string(modules.Compute) || len(info.software) == 0 || tr.modules[info.ident] == nil {
			continue
		}
		info.swIdent = tr.mods.get(info.node.Name+"_software", "software_")
		tr.modules[info.swIdent] = map[string]any{
			"source":        modules.Source(tr.target, modules.Software),
			"count":         tr.modules[info.ident]["count"],
			"name":          info.swIdent + "-${count.index}",
			"deployment_id": "${var.orc_deployment_id}",
			"index":         "${count.index}",
			"target":        "${var.orc_target}",
			"host_id":       fmt.Sprintf("${module.%s[count.index].id}", info.ident),
			"software":      tr.softwarePayload(info),
		}
	}
}

// softwarePayload records the software a Compute hosts: types, properties with
// their functions evaluated, artifacts, requirements and interface operations.
// Nothing runs them: each node gets a warning saying so.
func (tr *translator) softwarePayload(info *nodeInfo) []any {
	out := []any{}
	for _, s := range info.software {
		props := map[string]any{}
		defs := tr.reg.Properties(NodeType, s.Type)
		for _, name := range names(defs) {
			e, set := s.Properties[name]
			if !set {
				if defs[name].Default != nil {
					raw, _ := plain(defs[name].Default)
					props[name] = escapeLiterals(raw)
				}
				continue
			}
			v, err := tr.eval(evalCtx{self: s}, e)
			if unres, ok := asUnresolvable(err); ok {
				tr.warnf(s, e.exprPos(), KindUnsupported, "node %q property %q: %s; it is recorded as null", s.Name, name, unres.msg)
				props[name] = nil
				continue
			}
			if err != nil {
				tr.errorf(s, e.exprPos(), KindFunction, "node %q property %q: %s", s.Name, name, err.Error())
				continue
			}
			if v.known && defs[name].Schema.Type != "" && v.val != nil {
				if _, err := tr.vc.check(v.val, &defs[name].Schema, ""); err != nil {
					tr.errorf(s, e.exprPos(), KindConstraint, "node %q property %q: %s", s.Name, name, err.Error())
					continue
				}
			}
			if v.sensitive {
				v = tfv{expr: "sensitive(" + v.hcl() + ")"}
			}
			props[name] = v.render()
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
		ops := interfaceNames(s.Interfaces)
		out = append(out, map[string]any{
			"name": escapeTemplate(s.Name), "type": s.Type, "types": types, "properties": props,
			"artifacts": artifacts, "requirements": reqs, "interfaces": escapeLiterals(ops),
		})
		tr.warnf(s, s.Pos, KindUnsupported, "node %q (%s) is recorded as configuration of %q, not configured: orchestrator runs no configuration tool (its interfaces and artifacts are not run)",
			s.Name, s.Type, info.node.Name)
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

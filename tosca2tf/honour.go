package tosca2tf

import (
	"strings"
)

// Never a silent skip: every value a template assigns to a deployed node and the
// translation did not honour (a dns_name, tags on a target without them, a
// gpu_model, an interface operation) gives a warning naming the node and the
// line. The translation marks what it honours as it reads it (tr.use); whatever
// is left unmarked here was ignored.

func (tr *translator) unhonoured() {
	for _, info := range tr.order {
		n := info.node
		switch {
		case info.Kind == kindSoftware:
			continue // recorded whole in the payload; softwarePayload warns once per node
		case info.Kind == kindRecorded && !info.absorbed:
			continue // classify warns once per node
		}
		what := "on the " + tr.target + " target"
		if info.Kind == kindRecorded {
			what = "here (" + info.note + ")"
		}
		for _, name := range names(n.Properties) {
			if !tr.used[usedKey(n.Name, propWhere, name)] {
				tr.warnf(n, n.Properties[name].exprPos(), KindUnsupported, "node %q: property %q is not honoured %s; it is ignored", n.Name, name, what)
			}
		}
		for _, capName := range names(n.Capabilities) {
			ca := n.Capabilities[capName]
			for _, name := range names(ca.Properties) {
				if !tr.used[usedKey(n.Name, capName, name)] {
					tr.warnf(n, ca.Properties[name].exprPos(), KindUnsupported, "node %q: capability %q property %q is not honoured %s; it is ignored", n.Name, capName, name, what)
				}
			}
		}
		for _, r := range n.Requirements {
			for _, name := range names(r.RelProperties) {
				if !tr.used[usedKey(n.Name, relWhere(r), name)] {
					tr.warnf(n, r.RelProperties[name].exprPos(), KindUnsupported, "node %q requirement %q: relationship property %q is not honoured %s; it is ignored", n.Name, r.Name, name, what)
				}
			}
			if r.NodeFilter && r.Node != "" {
				tr.warnf(n, r.Pos, KindUnsupported, "node %q requirement %q: its node_filter is not evaluated; the node named, %q, is used", n.Name, r.Name, r.Node)
			}
		}
		if len(n.Interfaces) > 0 {
			tr.warnf(n, n.keyPos("interfaces"), KindUnsupported, "node %q: interface operations (%s) are not run: orchestrator runs no configuration tool", n.Name, joinAny(interfaceNames(n.Interfaces)))
		}
		if len(n.Artifacts) > 0 {
			tr.warnf(n, n.keyPos("artifacts"), KindUnsupported, "node %q: artifacts (%s) are not deployed %s", n.Name, strings.Join(names(n.Artifacts), ", "), what)
		}
		if len(n.Attributes) > 0 {
			tr.warnf(n, n.keyPos("attributes"), KindUnsupported, "node %q: attribute values (%s) are ignored: the target reports attributes, a template cannot set them", n.Name, strings.Join(names(n.Attributes), ", "))
		}
	}
}

func joinAny(list []any) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i], _ = x.(string)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

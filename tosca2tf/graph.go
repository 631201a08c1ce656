package tosca2tf

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"orchestrator/modules"
)

// The order Terraform applies modules in comes from two things: the references
// between module arguments (a Compute's ports, a payload's host address) and
// depends_on. depends_on is only added where TOSCA asks for an order the
// references do not already give, and never where it would close a loop; a loop
// made by references alone is an error here, before Terraform meets it.

var moduleRefRE = regexp.MustCompile(`module\.([A-Za-z0-9_-]+)`)

// references maps each module to the modules its arguments refer to.
func (tr *translator) references() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for ident, args := range tr.modules {
		refs := map[string]bool{}
		for key, v := range args {
			if key != "depends_on" {
				collectRefs(v, refs)
			}
		}
		out[ident] = refs
	}
	return out
}

func collectRefs(v any, into map[string]bool) {
	switch t := v.(type) {
	case string:
		if strings.Contains(t, "${") {
			for _, m := range moduleRefRE.FindAllStringSubmatch(t, -1) {
				into[m[1]] = true
			}
		}
	case []any:
		for _, x := range t {
			collectRefs(x, into)
		}
	case map[string]any:
		for _, x := range t {
			collectRefs(x, into)
		}
	}
}

// reachable reports whether from reaches to in the graph.
func reachable(g map[string]map[string]bool, from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cur == to {
			return true
		}
		if seen[cur] {
			continue
		}
		seen[cur] = true
		for next := range g[cur] {
			stack = append(stack, next)
		}
	}
	return false
}

// orderUnit is the module that stands for a node in the apply order: its own
// module, or its host's software module for software; "" for recorded nodes.
func (tr *translator) orderUnit(info *nodeInfo) string {
	switch info.Kind {
	case kindSoftware:
		return tr.nodes[info.Host].swIdent
	case kindRecorded:
		return ""
	}
	if tr.modules[info.ident] == nil {
		return ""
	}
	return info.ident
}

// dependencies turns requirements that are not structural (hosting, attaching,
// binding, linking: the references carry those) into depends_on between modules.
func (tr *translator) dependencies() {
	graph := tr.references()
	deps := map[string][]string{}
	for _, info := range tr.order {
		from := tr.orderUnit(info)
		if from == "" {
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
			to := tr.orderUnit(target)
			if to == "" || to == from || reachable(graph, from, to) {
				continue // nothing to wait for, or already after it
			}
			if reachable(graph, to, from) {
				tr.warnf(info.node, r.Pos, KindCycle, "node %q requirement %q: the order after %q is dropped, because %q already comes after %q (the two would wait for each other)",
					info.node.Name, r.Name, r.Node, tr.unitName(to), tr.unitName(from))
				continue
			}
			graph[from][to] = true
			deps[from] = append(deps[from], "module."+to)
		}
	}
	for ident, list := range deps {
		sort.Strings(list)
		tr.modules[ident]["depends_on"] = list
	}
}

// unitName says in TOSCA terms what a module is.
func (tr *translator) unitName(ident string) string {
	for _, info := range tr.order {
		switch ident {
		case info.ident:
			return info.node.Name
		case info.swIdent:
			return "the software on " + info.node.Name
		}
	}
	return ident
}

// checkCycles refuses a configuration whose modules would wait for each other:
// Terraform would only say "Cycle" at plan time.
func (tr *translator) checkCycles() {
	graph := tr.references()
	for ident, args := range tr.modules {
		if list, ok := args["depends_on"].([]string); ok {
			for _, d := range list {
				graph[ident][strings.TrimPrefix(d, "module.")] = true
			}
		}
	}
	for _, ident := range names(graph) {
		for _, next := range names(graph[ident]) {
			if next == ident || reachable(graph, next, ident) {
				node := tr.unitNode(ident)
				tr.errorf(node, node.Pos, KindCycle, "%s and %s refer to each other's attributes, so neither can be created first; break the loop in their properties",
					tr.unitName(ident), tr.unitName(next))
				return
			}
		}
	}
}

func (tr *translator) unitNode(ident string) *NodeTemplate {
	for _, info := range tr.order {
		if info.ident == ident || info.swIdent == ident {
			return info.node
		}
	}
	for _, info := range tr.order {
		if info.Kind == string(modules.Compute) && strings.HasPrefix(ident, info.ident) {
			return info.node
		}
	}
	return tr.t.Nodes[0]
}

// outputs translates TOSCA outputs into Terraform outputs. An output that needs a
// value that will not exist is null, with a warning.
func (tr *translator) outputs() (map[string]string, map[string]any) {
	names := map[string]string{}
	tf := map[string]any{}
	for _, o := range tr.t.Outputs {
		id := tr.outs.get(o.Name, "output_")
		v, err := tr.eval(evalCtx{}, o.Value)
		if unres, ok := asUnresolvable(err); ok {
			tr.warnf(nil, o.Pos, KindUnsupported, "output %q: %s; it will be null", o.Name, unres.msg)
			v = literal(nil)
		} else if err != nil {
			tr.errorf(nil, o.Pos, KindFunction, "output %q: %s", o.Name, err.Error())
			continue
		}
		out := map[string]any{"value": v.render()}
		if o.Description != "" {
			out["description"] = escapeTemplate(o.Description)
		}
		if v.sensitive {
			out["sensitive"] = true
		}
		tf[id] = out
		names[o.Name] = id
	}
	resources := map[string]any{}
	for _, info := range tr.order {
		if info.Kind != kindSoftware && info.Kind != kindRecorded && tr.modules[info.ident] != nil {
			resources[info.ident] = fmt.Sprintf("${module.%s[*].orc_resource}", info.ident)
		}
	}
	tf["orc_resources"] = map[string]any{"value": resources, "description": "Every module instance as the orchestrator's resources API shows it."}
	return names, tf
}

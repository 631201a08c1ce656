package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// markResources shows what a run is about to do on the resources it touches, and
// returns the rows as they were. A create announces the instances it will make.
func (e *Engine) markResources(ctx context.Context, l store.Lease, d *store.Deployment, res *tosca2tf.Result, kind store.RunKind) []*store.Resource {
	prev, err := e.store.Resources.List(ctx, d.ID)
	if err != nil {
		return nil
	}
	switch kind {
	case store.RunDelete:
		_ = e.store.Resources.SetState(ctx, l, d.ID, store.ResDeleting)
	case store.RunCreate:
		if len(prev) > 0 {
			break
		}
		var rows []*store.Resource
		for _, n := range res.Nodes {
			address := hostOf(res, n).Module
			for i := 0; i < n.Count; i++ {
				rows = append(rows, &store.Resource{Node: n.Name, Instance: i, ToscaType: n.ToscaType, Kind: n.Kind,
					Address: fmt.Sprintf("%s[%d]", address, i), State: store.ResCreating, Attributes: map[string]any{}})
			}
		}
		_ = e.store.Resources.Sync(ctx, l, d.ID, rows)
		prev, _ = e.store.Resources.List(ctx, d.ID)
	case store.RunRedeploy, store.RunUpdate:
		_ = e.store.Resources.SetState(ctx, l, d.ID, store.ResConfiguring)
	}
	return prev
}

// hostOf is the node whose module instances stand for n: n itself, or the
// Compute a software node runs on.
func hostOf(res *tosca2tf.Result, n tosca2tf.NodeInfo) tosca2tf.NodeInfo {
	if n.Kind != "software" {
		return n
	}
	for _, h := range res.Nodes {
		if h.Name == n.Host {
			return h
		}
	}
	return n
}

// orcResource is what every module reports of one instance (its orc_resource output).
type orcResource struct {
	CloudID    string         `json:"cloud_id"`
	Kind       string         `json:"kind"`
	Attributes map[string]any `json:"attributes"`
}

// syncResources rebuilds the resources table from a state (the one just saved):
// one row per node instance, software included (on its host's instances), read
// from the state's orc_resources output. After a failed run, instances that
// were expected but are not in that output are ERROR, and so are instances the
// output does not know yet but whose module holds resources in the state (an
// interrupted apply writes resources before it writes outputs): a row is never
// missing for something that may exist. It returns the TOSCA outputs to store.
func (e *Engine) syncResources(ctx context.Context, l store.Lease, d *store.Deployment, res *tosca2tf.Result, state []byte,
	prev []*store.Resource, kind store.RunKind, failed bool) (json.RawMessage, error) {
	st := &tfState{}
	if state != nil {
		var err error
		if st, err = parseState(state); err != nil {
			return nil, err
		}
	}
	instances := map[string][]orcResource{}
	if o, ok := st.Outputs["orc_resources"]; ok {
		if err := json.Unmarshal(o.Value, &instances); err != nil {
			return nil, fmt.Errorf("orc_resources output: %w", err)
		}
	}
	// After a failed run the outputs may be older than the resources: an
	// instance whose module holds nothing any more is gone.
	present := st.moduleInstances()
	var rows []*store.Resource
	seen := map[string]bool{}
	for _, n := range res.Nodes {
		host := hostOf(res, n)
		for i, inst := range instances[host.Ident] {
			if failed && !present[fmt.Sprintf("%s[%d]", host.Module, i)] {
				continue
			}
			row := &store.Resource{Node: n.Name, Instance: i, ToscaType: n.ToscaType, Kind: n.Kind,
				Address: fmt.Sprintf("%s[%d]", host.Module, i), CloudID: inst.CloudID, Attributes: inst.Attributes}
			if row.Attributes == nil {
				row.Attributes = map[string]any{}
			}
			row.State = stateOf(n.Kind, inst.Attributes)
			if n.Kind == "software" {
				row.CloudID = ""
				row.Attributes = map[string]any{"hosted_on": n.Host, "host_cloud_id": inst.CloudID,
					"configured": false, "note": "recorded as configuration payload of its host; orchestrator does not run configuration tools"}
			}
			seen[fmt.Sprintf("%s/%d", n.Name, i)] = true
			rows = append(rows, row)
		}
	}
	if failed && kind != store.RunDelete {
		for _, p := range prev {
			if !seen[fmt.Sprintf("%s/%d", p.Node, p.Instance)] && p.State != store.ResDeleted {
				p.State = store.ResError
				seen[fmt.Sprintf("%s/%d", p.Node, p.Instance)] = true
				rows = append(rows, p)
			}
		}
	}
	if failed {
		// Module instances in the state that the outputs do not show yet.
		for _, n := range res.Nodes {
			host := hostOf(res, n)
			for _, i := range instancesOf(present, host.Module) {
				if seen[fmt.Sprintf("%s/%d", n.Name, i)] {
					continue
				}
				seen[fmt.Sprintf("%s/%d", n.Name, i)] = true
				rows = append(rows, &store.Resource{Node: n.Name, Instance: i, ToscaType: n.ToscaType, Kind: n.Kind,
					Address: fmt.Sprintf("%s[%d]", host.Module, i), State: store.ResError,
					Attributes: map[string]any{"note": "partly created by a run that did not finish: Terraform's state holds some of its resources"}})
			}
		}
	}
	if err := e.store.Resources.Sync(ctx, l, d.ID, rows); err != nil {
		return nil, err
	}
	values := map[string]any{}
	for tosca, tf := range res.Outputs {
		o, ok := st.Outputs[tf]
		switch {
		case !ok:
			values[tosca] = nil
		case o.Sensitive:
			values[tosca] = "(sensitive)"
		default:
			var v any
			if err := json.Unmarshal(o.Value, &v); err == nil {
				values[tosca] = v
			}
		}
	}
	if kind == store.RunDelete && !failed {
		return nil, nil // the last outputs stay as the deployment's history
	}
	raw, err := json.Marshal(values)
	return raw, err
}

// instancesOf returns the indexes of module's instances in a set of module
// instance addresses (module.nodes[3] -> 3), in order.
func instancesOf(set map[string]bool, module string) []int {
	var out []int
	for addr := range set {
		rest, ok := strings.CutPrefix(addr, module+"[")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

// stateOf reads a resource's state from its module's report.
func stateOf(kind string, attrs map[string]any) store.ResourceState {
	switch kind {
	case "compute":
		if attrs["power_state"] == "stopped" {
			return store.ResStopped
		}
		return store.ResStarted
	case "software":
		return store.ResInitial
	}
	return store.ResCreated
}

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"orchestrator/modules"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// hostRequest is what a Compute node asks of a pool host: its host and os
// capabilities as the translator passed them to the compute module.
type hostRequest struct {
	CPUs, MemMB, DiskGB float64
	OS                  map[string]string
	name                string // the module's instance name pattern, "<ident>-${count.index}"
}

func (r hostRequest) String() string {
	var parts []string
	if r.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%g cpus", r.CPUs))
	}
	if r.MemMB > 0 {
		parts = append(parts, fmt.Sprintf("%g MB", r.MemMB))
	}
	if r.DiskGB > 0 {
		parts = append(parts, fmt.Sprintf("%g GB disk", r.DiskGB))
	}
	keys := make([]string, 0, len(r.OS))
	for k := range r.OS {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, "os "+k+" "+r.OS[k])
	}
	if len(parts) == 0 {
		return "any host"
	}
	return strings.Join(parts, ", ")
}

func (r hostRequest) fits(h modules.PoolHost) bool {
	if float64(h.CPUs) < r.CPUs || (r.MemMB > 0 && float64(h.MemMB) < r.MemMB) || (r.DiskGB > 0 && float64(h.DiskGB) < r.DiskGB) {
		return false
	}
	have := map[string]string{"distribution": h.OS.Distribution, "version": h.OS.Version, "type": h.OS.Type, "architecture": h.OS.Architecture}
	for k, v := range r.OS {
		if v != "" && !strings.EqualFold(have[k], v) {
			return false
		}
	}
	return true
}

// hostRequests reads each Compute's request from the generated root module
// (literal values, or variables whose values are in the tfvars).
func hostRequests(res *tosca2tf.Result) (map[string]hostRequest, error) {
	var main struct {
		Module map[string]map[string]any `json:"module"`
	}
	if err := json.Unmarshal(res.Main, &main); err != nil {
		return nil, err
	}
	vars := map[string]any{}
	_ = json.Unmarshal(res.Vars, &vars)
	value := func(v any) any {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "${var.") && strings.HasSuffix(s, "}") {
			return vars[strings.TrimSuffix(strings.TrimPrefix(s, "${var."), "}")]
		}
		return v
	}
	num := func(v any) float64 {
		switch x := value(v).(type) {
		case float64:
			return x
		case string:
			f, _ := strconv.ParseFloat(x, 64)
			return f
		}
		return 0
	}
	out := map[string]hostRequest{}
	for _, n := range res.Nodes {
		if n.Kind != string(modules.Compute) {
			continue
		}
		m := main.Module[n.Ident]
		if m == nil {
			continue
		}
		r := hostRequest{CPUs: num(m["num_cpus"]), MemMB: num(m["mem_size_mb"]), DiskGB: num(m["disk_size_gb"]), OS: map[string]string{}}
		r.name, _ = m["name"].(string)
		if osv, ok := value(m["os"]).(map[string]any); ok {
			for k, v := range osv {
				if s, ok := value(v).(string); ok && s != "" {
					r.OS[k] = s
				}
			}
		}
		out[n.Name] = r
	}
	return out, nil
}

// placeHosts gives every Compute instance of a hostpool deployment a pool
// host (dryRun: says which it would get, writing nothing) and passes the
// allocations to the modules in orc_target.allocations. A template that does
// not fit is refused naming the node and what the pool has.
func (e *Engine) placeHosts(ctx context.Context, d *store.Deployment, target *store.Target, res *tosca2tf.Result, dryRun bool) error {
	if target.Kind != "hostpool" {
		return nil
	}
	pool, err := modules.PoolHosts(targetConfig(target))
	if err != nil {
		return err
	}
	reqs, err := hostRequests(res)
	if err != nil {
		return fmt.Errorf("read the compute requests: %w", err)
	}
	// Smallest hosts first: big ones stay free for nodes that need them.
	sort.SliceStable(pool, func(i, j int) bool {
		if pool[i].CPUs != pool[j].CPUs {
			return pool[i].CPUs < pool[j].CPUs
		}
		return pool[i].MemMB < pool[j].MemMB
	})
	byName := map[string]modules.PoolHost{}
	names := make([]string, 0, len(pool))
	for _, h := range pool {
		byName[h.Name] = h
		names = append(names, h.Name)
	}
	var wants []store.HostWant
	for _, n := range res.Nodes {
		if n.Kind != string(modules.Compute) {
			continue
		}
		if n.Count < 0 {
			return store.Errorf(store.EInvalid, "node %q: on a host pool the number of instances must be known when the deployment is submitted", n.Name).
				WithDetails(store.Detail{Field: "template", Message: "instance count unknown", Extra: map[string]any{"node": n.Name}})
		}
		for i := 0; i < n.Count; i++ {
			wants = append(wants, store.HostWant{Node: n.Name, Instance: i})
		}
	}
	allocs, err := e.store.Allocations.Allocate(ctx, target.Name, d.ID, wants, names, func(w store.HostWant, host string) bool {
		return reqs[w.Node].fits(byName[host])
	}, dryRun)
	var nf *store.NoFitError
	if errors.As(err, &nf) {
		var all, free []string
		for _, h := range pool {
			all = append(all, h.Describe())
		}
		for _, f := range nf.Free {
			free = append(free, byName[f].Describe())
		}
		if len(free) == 0 {
			free = []string{"none"}
		}
		return store.Errorf(store.EInvalid, "node %q instance %d: no free host of pool %s fits (%s); the pool has %d hosts: %s; free now: %s",
			nf.Want.Node, nf.Want.Instance, target.Name, reqs[nf.Want.Node], len(pool), strings.Join(all, "; "), strings.Join(free, "; ")).
			WithDetails(store.Detail{Field: "template", Message: "no pool host fits node " + nf.Want.Node,
				Extra: map[string]any{"node": nf.Want.Node, "pool_hosts": len(pool), "free_hosts": len(nf.Free)}})
	}
	if err != nil {
		return err
	}
	allocations := map[string]any{}
	for _, a := range allocs {
		h := byName[a.Host]
		name := strings.ReplaceAll(reqs[a.Node].name, "${count.index}", strconv.Itoa(a.Instance))
		entry := map[string]any{"name": h.Name, "address": h.Address, "port": h.Port, "user": h.User, "public": h.Public,
			"cpus": h.CPUs, "memory_mb": h.MemMB, "disk_gb": h.DiskGB, "labels": h.Labels,
			"os": map[string]any{"distribution": h.OS.Distribution, "version": h.OS.Version, "type": h.OS.Type, "architecture": h.OS.Architecture}}
		if h.Bastion != nil {
			entry["bastion"] = map[string]any{"address": h.Bastion.Address, "port": h.Bastion.Port, "user": h.Bastion.User}
		}
		allocations[name] = entry
	}
	vars := map[string]any{}
	if err := json.Unmarshal(res.Vars, &vars); err != nil {
		return err
	}
	tgt, _ := vars["orc_target"].(map[string]any)
	if tgt == nil {
		tgt = map[string]any{}
	}
	tgt["allocations"] = allocations
	vars["orc_target"] = tgt
	raw, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return err
	}
	res.Vars = raw
	return nil
}

// releaseHosts gives back a deployment's pool hosts after its destroy.
func (e *Engine) releaseHosts(ctx context.Context, d *store.Deployment, logs *logWriter) {
	n, err := e.store.Allocations.Release(ctx, d.ID)
	if err != nil {
		logs.add(store.LevelError, store.SourceOrchestrator, "", "release pool hosts: "+err.Error())
		return
	}
	if n > 0 {
		logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("released %d pool host(s)", n))
	}
}

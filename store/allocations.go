package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Allocation is a pool host given to one instance of a deployment's node.
type Allocation struct {
	Target       string    `json:"target"`
	Host         string    `json:"host"`
	DeploymentID string    `json:"deployment_id"`
	Node         string    `json:"node"`
	Instance     int       `json:"instance"`
	CreatedAt    time.Time `json:"created_at"`
}

// HostWant is an instance that needs a pool host.
type HostWant struct {
	Node     string
	Instance int
}

// NoFitError says no free host of the pool fits an instance; the caller
// describes the pool (the store knows host names only).
type NoFitError struct {
	Want HostWant
	Free []string // the hosts no deployment holds
}

func (e *NoFitError) Error() string {
	return fmt.Sprintf("no free pool host fits node %q instance %d", e.Want.Node, e.Want.Instance)
}

// Allocations hands out hostpool targets' hosts. The engine allocates before a
// run's Terraform and releases after a successful destroy; nothing else writes.
type Allocations struct{ s *Store }

// Allocate gives every want a host of target, in one transaction: an instance
// keeps the host it already has (while the host is still in hosts), instances
// the deployment no longer wants give theirs back, and new ones take the first
// host in hosts that no deployment holds and that fits says suits them (the
// caller orders hosts by preference). The unique (target, host) key makes the
// allocation exclusive across deployments whatever runs at the same time.
//
// With dryRun nothing is written: the answer says what an allocation would give
// (submission checks it, so a template that cannot fit is refused at once).
func (r *Allocations) Allocate(ctx context.Context, target, deploymentID string, wants []HostWant, hosts []string,
	fits func(w HostWant, host string) bool, dryRun bool) ([]Allocation, error) {
	var out []Allocation
	errDryRun := errors.New("dry run")
	err := r.s.tx(ctx, func(tx *txn) error {
		out = nil
		rows, err := tx.QueryContext(ctx, "SELECT host, deployment_id, node, instance FROM host_allocations WHERE target = ?", target)
		if err != nil {
			return fmt.Errorf("read allocations: %w", err)
		}
		taken := map[string]bool{}
		mine := map[HostWant]string{}
		for rows.Next() {
			var host, dep, node string
			var inst int
			if err := rows.Scan(&host, &dep, &node, &inst); err != nil {
				rows.Close()
				return err
			}
			taken[host] = true
			if dep == deploymentID {
				mine[HostWant{node, inst}] = host
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		inPool := map[string]bool{}
		for _, h := range hosts {
			inPool[h] = true
		}
		wanted := map[HostWant]bool{}
		for _, w := range wants {
			wanted[w] = true
		}
		// Give back what is no longer wanted, or no longer in the pool.
		for w, host := range mine {
			if !wanted[w] || !inPool[host] {
				if dryRun {
					delete(taken, host)
					delete(mine, w)
					continue
				}
				if _, err := tx.ExecContext(ctx, "DELETE FROM host_allocations WHERE target = ? AND host = ?", target, host); err != nil {
					return err
				}
				delete(taken, host)
				delete(mine, w)
			}
		}
		now := fmtTime(r.s.Now())
		for _, w := range wants {
			if host, ok := mine[w]; ok {
				out = append(out, Allocation{Target: target, Host: host, DeploymentID: deploymentID, Node: w.Node, Instance: w.Instance})
				continue
			}
			chosen := ""
			for _, h := range hosts {
				if !taken[h] && fits(w, h) {
					chosen = h
					break
				}
			}
			if chosen == "" {
				var free []string
				for _, h := range hosts {
					if !taken[h] {
						free = append(free, h)
					}
				}
				return &NoFitError{Want: w, Free: free}
			}
			if dryRun {
				taken[chosen] = true
				out = append(out, Allocation{Target: target, Host: chosen, DeploymentID: deploymentID, Node: w.Node, Instance: w.Instance})
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO host_allocations (target, host, deployment_id, node, instance, created_at)
				VALUES (?, ?, ?, ?, ?, ?)`, target, chosen, deploymentID, w.Node, w.Instance, now); err != nil {
				if isUniqueViolation(err) {
					return Errorf(EConflict, "pool host %s of target %s was taken at the same time; retry", chosen, target)
				}
				return fmt.Errorf("allocate %s: %w", chosen, err)
			}
			taken[chosen] = true
			out = append(out, Allocation{Target: target, Host: chosen, DeploymentID: deploymentID, Node: w.Node, Instance: w.Instance})
		}
		if dryRun {
			return errDryRun // roll back
		}
		return nil
	})
	if err == errDryRun {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].Instance < out[j].Instance
	})
	return out, nil
}

// Release gives back every host a deployment holds.
func (r *Allocations) Release(ctx context.Context, deploymentID string) (int, error) {
	res, err := r.s.db.ExecContext(ctx, "DELETE FROM host_allocations WHERE deployment_id = ?", deploymentID)
	if err != nil {
		return 0, fmt.Errorf("release hosts of %s: %w", deploymentID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// List returns a deployment's allocations (deploymentID "") or a target's (target "").
func (r *Allocations) List(ctx context.Context, target, deploymentID string) ([]Allocation, error) {
	rows, err := r.s.db.QueryContext(ctx, `SELECT target, host, deployment_id, node, instance, created_at FROM host_allocations
		WHERE (? = '' OR target = ?) AND (? = '' OR deployment_id = ?) ORDER BY target, host`, target, target, deploymentID, deploymentID)
	if err != nil {
		return nil, fmt.Errorf("list allocations: %w", err)
	}
	defer rows.Close()
	out := []Allocation{}
	for rows.Next() {
		var a Allocation
		var created string
		if err := rows.Scan(&a.Target, &a.Host, &a.DeploymentID, &a.Node, &a.Instance, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = parseTime(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// allocatedHostsRemoved lists hosts of target that are allocated but absent
// from the new configuration (a target update must not remove them).
func allocatedHostsRemoved(ctx context.Context, tx *txn, target string, config json.RawMessage) ([]string, error) {
	var cfg struct {
		Hosts []struct {
			Name string `json:"name"`
		} `json:"hosts"`
	}
	_ = json.Unmarshal(config, &cfg) // the configuration was checked by its kind's rules before
	keep := map[string]bool{}
	for _, h := range cfg.Hosts {
		keep[h.Name] = true
	}
	rows, err := tx.QueryContext(ctx, "SELECT host FROM host_allocations WHERE target = ? ORDER BY host", target)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gone []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		if !keep[h] {
			gone = append(gone, h)
		}
	}
	return gone, rows.Err()
}

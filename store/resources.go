package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Resource is one TOSCA node instance of a deployment as the cloud has it, rebuilt
// from the Terraform state after every run. Its ID is the orchestrator's and stays
// the same for the same node instance; CloudID changes when the cloud replaces it.
type Resource struct {
	ID           string
	DeploymentID string
	Node         string
	Instance     int
	ToscaType    string
	Kind         string // module kind: compute, block_storage, ...
	Address      string // Terraform address, e.g. module.server[0]
	CloudID      string
	State        ResourceState
	Attributes   map[string]any
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Resources stores a deployment's resources.
type Resources struct{ s *Store }

const resourceColumns = "id, deployment_id, node, instance, tosca_type, kind, address, cloud_id, state, attributes, created_at, updated_at"

func scanResource(row interface{ Scan(...any) error }) (*Resource, error) {
	var r Resource
	var attrs, created, updated string
	if err := row.Scan(&r.ID, &r.DeploymentID, &r.Node, &r.Instance, &r.ToscaType, &r.Kind, &r.Address, &r.CloudID, &r.State,
		&attrs, &created, &updated); err != nil {
		return nil, err
	}
	r.Attributes = map[string]any{}
	if err := json.Unmarshal([]byte(attrs), &r.Attributes); err != nil {
		return nil, fmt.Errorf("attributes of resource %s: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = parseTime(created), parseTime(updated)
	return &r, nil
}

// List returns a deployment's resources by node and instance.
func (q *Resources) List(ctx context.Context, deploymentID string) ([]*Resource, error) {
	rows, err := q.s.db.QueryContext(ctx, "SELECT "+resourceColumns+" FROM resources WHERE deployment_id = ? ORDER BY node, instance", deploymentID)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	defer rows.Close()
	list := []*Resource{}
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("list resources: %w", err)
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// Get returns one resource of a deployment.
func (q *Resources) Get(ctx context.Context, deploymentID, id string) (*Resource, error) {
	r, err := scanResource(q.s.db.QueryRowContext(ctx, "SELECT "+resourceColumns+" FROM resources WHERE deployment_id = ? AND id = ?", deploymentID, id))
	if err != nil {
		return nil, notFound(err, "resource", id)
	}
	return r, nil
}

// Sync replaces what is known of a deployment's resources with what the state
// says: rows for the given node instances are created or updated (keeping their
// ids), and rows for instances no longer present become DELETED. It writes
// while the worker holds its run (l; the zero Lease outside any run).
func (q *Resources) Sync(ctx context.Context, l Lease, deploymentID string, current []*Resource) error {
	now := fmtTime(q.s.Now())
	return q.s.fenced(ctx, l, func(tx *txn) error {
		seen := map[[2]any]bool{}
		for _, r := range current {
			attrs, err := json.Marshal(r.Attributes)
			if err != nil {
				return fmt.Errorf("attributes of %s: %w", r.Address, err)
			}
			seen[[2]any{r.Node, r.Instance}] = true
			var id string
			err = tx.QueryRowContext(ctx, "SELECT id FROM resources WHERE deployment_id = ? AND node = ? AND instance = ?",
				deploymentID, r.Node, r.Instance).Scan(&id)
			switch {
			case err == sql.ErrNoRows:
				r.ID = NewID()
				_, err = tx.ExecContext(ctx, `INSERT INTO resources (id, deployment_id, node, instance, tosca_type, kind, address, cloud_id, state,
					attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					r.ID, deploymentID, r.Node, r.Instance, r.ToscaType, r.Kind, r.Address, r.CloudID, r.State, string(attrs), now, now)
			case err == nil:
				r.ID = id
				_, err = tx.ExecContext(ctx, `UPDATE resources SET tosca_type = ?, kind = ?, address = ?, cloud_id = ?, state = ?, attributes = ?,
					updated_at = ? WHERE id = ?`, r.ToscaType, r.Kind, r.Address, r.CloudID, r.State, string(attrs), now, id)
			}
			if err != nil {
				return fmt.Errorf("sync resource %s: %w", r.Address, err)
			}
		}
		rows, err := tx.QueryContext(ctx, "SELECT id, node, instance FROM resources WHERE deployment_id = ? AND state != 'DELETED'", deploymentID)
		if err != nil {
			return fmt.Errorf("sync resources: %w", err)
		}
		var gone []string
		for rows.Next() {
			var id, node string
			var instance int
			if err := rows.Scan(&id, &node, &instance); err != nil {
				rows.Close()
				return err
			}
			if !seen[[2]any{node, instance}] {
				gone = append(gone, id)
			}
		}
		rows.Close()
		for _, id := range gone {
			if _, err := tx.ExecContext(ctx, "UPDATE resources SET state = 'DELETED', updated_at = ? WHERE id = ?", now, id); err != nil {
				return fmt.Errorf("mark resource %s deleted: %w", id, err)
			}
		}
		return nil
	})
}

// SetState moves resources of a deployment to a state (all of them when ids is
// empty, skipping DELETED ones), while the worker holds its run (l; the zero
// Lease for the API).
func (q *Resources) SetState(ctx context.Context, l Lease, deploymentID string, state ResourceState, ids ...string) error {
	now := fmtTime(q.s.Now())
	return q.s.fenced(ctx, l, func(tx *txn) error {
		if len(ids) == 0 {
			_, err := tx.ExecContext(ctx, "UPDATE resources SET state = ?, updated_at = ? WHERE deployment_id = ? AND state != 'DELETED'",
				state, now, deploymentID)
			if err != nil {
				return fmt.Errorf("set state of resources of %s: %w", deploymentID, err)
			}
			return nil
		}
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, "UPDATE resources SET state = ?, updated_at = ? WHERE deployment_id = ? AND id = ?", state, now, deploymentID, id)
			if err != nil {
				return fmt.Errorf("set state of resource %s: %w", id, err)
			}
			if err := mustAffect(res, "resource", id); err != nil {
				return err
			}
		}
		return nil
	})
}

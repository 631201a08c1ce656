package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// ConfiguredNode is what the configure phase last did on one software node instance.
type ConfiguredNode struct {
	Node       string
	Instance   int
	State      ResourceState
	Digest     string
	Attributes map[string]any
}

// Configured records software configuration per node instance and lays it over
// the resources rows (which every run rebuilds from the Terraform state).
type Configured struct{ s *Store }

// Set records a node instance's configuration state and shows it on its
// resource row at once (state, and attributes merged into the row's).
func (r *Configured) Set(ctx context.Context, deploymentID string, c ConfiguredNode) error {
	attrs, err := json.Marshal(c.Attributes)
	if err != nil {
		return err
	}
	now := fmtTime(r.s.Now())
	return r.s.tx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO configured_nodes (deployment_id, node, instance, state, digest, attributes, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment_id, node, instance) DO UPDATE SET
			state = excluded.state, digest = excluded.digest, attributes = excluded.attributes, updated_at = excluded.updated_at`,
			deploymentID, c.Node, c.Instance, c.State, c.Digest, string(attrs), now)
		if err != nil {
			return fmt.Errorf("record configuration of %s[%d]: %w", c.Node, c.Instance, err)
		}
		return overlay(ctx, tx, deploymentID, c, now)
	})
}

// overlay shows a configured node on its resource row, if the row exists.
func overlay(ctx context.Context, tx *txn, deploymentID string, c ConfiguredNode, now string) error {
	var id, raw string
	err := tx.QueryRowContext(ctx, "SELECT id, attributes FROM resources WHERE deployment_id = ? AND node = ? AND instance = ? AND state != 'DELETED'",
		deploymentID, c.Node, c.Instance).Scan(&id, &raw)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	attrs := map[string]any{}
	_ = json.Unmarshal([]byte(raw), &attrs)
	delete(attrs, "note") // "orchestrator does not run configuration tools" no longer holds
	for k, v := range c.Attributes {
		attrs[k] = v
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE resources SET state = ?, attributes = ?, updated_at = ? WHERE id = ?", c.State, string(b), now, id)
	return err
}

// List returns a deployment's configured node instances by "node/instance".
func (r *Configured) List(ctx context.Context, deploymentID string) (map[string]ConfiguredNode, error) {
	rows, err := r.s.db.QueryContext(ctx, "SELECT node, instance, state, digest, attributes FROM configured_nodes WHERE deployment_id = ?", deploymentID)
	if err != nil {
		return nil, fmt.Errorf("list configured nodes: %w", err)
	}
	defer rows.Close()
	out := map[string]ConfiguredNode{}
	for rows.Next() {
		var c ConfiguredNode
		var attrs string
		if err := rows.Scan(&c.Node, &c.Instance, &c.State, &c.Digest, &attrs); err != nil {
			return nil, err
		}
		c.Attributes = map[string]any{}
		_ = json.Unmarshal([]byte(attrs), &c.Attributes)
		out[fmt.Sprintf("%s/%d", c.Node, c.Instance)] = c
	}
	return out, rows.Err()
}

// Restore lays every recorded configuration over the resources rows again
// (after a run rebuilt them from the state); instances that no longer exist
// are forgotten.
func (r *Configured) Restore(ctx context.Context, deploymentID string) error {
	list, err := r.List(ctx, deploymentID)
	if err != nil {
		return err
	}
	now := fmtTime(r.s.Now())
	return r.s.tx(ctx, func(tx *txn) error {
		for _, c := range list {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM resources WHERE deployment_id = ? AND node = ? AND instance = ? AND state != 'DELETED'",
				deploymentID, c.Node, c.Instance).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				if _, err := tx.ExecContext(ctx, "DELETE FROM configured_nodes WHERE deployment_id = ? AND node = ? AND instance = ?",
					deploymentID, c.Node, c.Instance); err != nil {
					return err
				}
				continue
			}
			if err := overlay(ctx, tx, deploymentID, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Forget drops a deployment's configuration records (after its destroy).
func (r *Configured) Forget(ctx context.Context, deploymentID string) error {
	_, err := r.s.db.ExecContext(ctx, "DELETE FROM configured_nodes WHERE deployment_id = ?", deploymentID)
	return err
}

// ActionReconfigure is the day-2 action that re-runs software configuration.
const ActionReconfigure = "reconfigure"

// actionAllowed says whether a day-2 action may run on the deployment as it is:
// any on a settled deployment; a reconfigure also after a create whose
// configuration failed (its infrastructure exists: retrying the software
// needs no re-provisioning).
func actionAllowed(d *Deployment, p RunParams) bool {
	if d.Status.Settled() {
		return true
	}
	return p.Action == ActionReconfigure && d.Status == CreateFailed && d.Infrastructure
}

// reconfigured is the status a finished reconfigure gives its deployment: a
// failed create or update becomes complete when the reconfigure succeeded; a
// failed reconfigure leaves the status and says why.
func reconfigured(d *Deployment, r *Run, res Result) (Status, string, bool) {
	if r.Kind != RunAction || r.Params.Action != ActionReconfigure {
		return "", "", false
	}
	switch {
	case res.Status == RunSucceeded && (d.Status == CreateFailed || d.Status == UpdateFailed):
		return d.Status.completeAfterFailure(), "", true
	case res.Status == RunFailed && !d.Status.InProgress():
		return d.Status, "reconfigure failed: " + res.Error, d.Status == CreateFailed || d.Status == UpdateFailed
	}
	return "", "", false
}

func (s Status) completeAfterFailure() Status {
	if s == CreateFailed {
		return CreateComplete
	}
	return UpdateComplete
}

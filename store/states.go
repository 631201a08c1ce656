package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// StateVersion is one saved Terraform state of a deployment. Versions are
// append-only and their serial never goes backwards.
type StateVersion struct {
	ID           string
	DeploymentID string
	RunID        string
	Serial       int64
	Lineage      string
	State        []byte
	CreatedAt    time.Time
}

// States stores state versions.
type States struct{ s *Store }

// Add saves a state version, while the worker holds its run (l; the zero
// Lease for a state found outside any run). A state identical in serial and
// lineage to the latest is not saved again (added is false). A lower serial, or
// another lineage once one is recorded, is refused as a conflict: the newer
// stored state is kept.
func (q *States) Add(ctx context.Context, l Lease, v *StateVersion) (added bool, err error) {
	err = q.s.fenced(ctx, l, func(tx *txn) error {
		added = false
		var serial int64
		var lineage string
		err := tx.QueryRowContext(ctx, "SELECT serial, lineage FROM state_versions WHERE deployment_id = ? ORDER BY serial DESC, created_at DESC LIMIT 1",
			v.DeploymentID).Scan(&serial, &lineage)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return fmt.Errorf("latest state of %s: %w", v.DeploymentID, err)
		case lineage != v.Lineage:
			return Errorf(EConflict, "state lineage %s differs from the stored %s", v.Lineage, lineage)
		case v.Serial < serial:
			return Errorf(EConflict, "state serial %d is older than the stored %d", v.Serial, serial)
		case v.Serial == serial:
			return nil
		}
		v.ID, v.CreatedAt = NewID(), q.s.Now()
		_, err = tx.ExecContext(ctx, `INSERT INTO state_versions (id, deployment_id, run_id, serial, lineage, state, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, v.ID, v.DeploymentID, nullIfEmpty(v.RunID), v.Serial, v.Lineage, v.State, fmtTime(v.CreatedAt))
		if err != nil {
			return fmt.Errorf("save state of %s: %w", v.DeploymentID, err)
		}
		added = true
		return nil
	})
	return added, err
}

// Latest returns the newest state version of a deployment.
func (q *States) Latest(ctx context.Context, deploymentID string) (*StateVersion, error) {
	var v StateVersion
	var runID sql.NullString
	var created string
	err := q.s.db.QueryRowContext(ctx, `SELECT id, deployment_id, run_id, serial, lineage, state, created_at FROM state_versions
		WHERE deployment_id = ? ORDER BY serial DESC, created_at DESC LIMIT 1`, deploymentID).
		Scan(&v.ID, &v.DeploymentID, &runID, &v.Serial, &v.Lineage, &v.State, &created)
	if err != nil {
		return nil, notFound(err, "state of deployment", deploymentID)
	}
	v.RunID, v.CreatedAt = runID.String, parseTime(created)
	return &v, nil
}

// Count returns how many state versions a deployment has.
func (q *States) Count(ctx context.Context, deploymentID string) (int, error) {
	var n int
	if err := q.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM state_versions WHERE deployment_id = ?", deploymentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count states of %s: %w", deploymentID, err)
	}
	return n, nil
}

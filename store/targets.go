package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Target is an IaaS where deployments run. Its credentials are sealed at rest, read
// back only by the engine (Targets.Credentials), and never returned by the API.
type Target struct {
	Name        string
	Kind        string // "local", "openstack" or "hostpool"
	Description string
	Config      json.RawMessage
	// HasCredentials says whether credentials are stored (their values never leave the store but to Terraform).
	HasCredentials bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	sealed         []byte
}

// Targets stores targets. Everyone reads names and kinds; only admins change them.
type Targets struct{ s *Store }

const targetColumns = "name, kind, description, config, credentials, created_at, updated_at"

func scanTarget(row interface{ Scan(...any) error }) (*Target, error) {
	var t Target
	var config, created, updated string
	if err := row.Scan(&t.Name, &t.Kind, &t.Description, &config, &t.sealed, &created, &updated); err != nil {
		return nil, err
	}
	t.HasCredentials = len(t.sealed) > 0
	t.Config = json.RawMessage(config)
	t.CreatedAt, t.UpdatedAt = parseTime(created), parseTime(updated)
	return &t, nil
}

// Create adds a target with its credentials (sealed); a taken name is a conflict.
func (r *Targets) Create(ctx context.Context, t *Target, creds map[string]string) error {
	now := r.s.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	sealed, err := r.s.seal(creds)
	if err != nil {
		return fmt.Errorf("create target: %w", err)
	}
	t.sealed, t.HasCredentials = sealed, len(sealed) > 0
	_, err = r.s.db.ExecContext(ctx, `INSERT INTO targets (name, kind, description, config, credentials, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.Name, t.Kind, t.Description, jsonOr(t.Config, "{}"), sealed, fmtTime(now), fmtTime(now))
	if isUniqueViolation(err) {
		return Errorf(EConflict, "target %q already exists", t.Name).WithDetails(Detail{Field: "name", Message: "duplicate"})
	}
	if err != nil {
		return fmt.Errorf("create target: %w", err)
	}
	return nil
}

// Get returns one target.
func (r *Targets) Get(ctx context.Context, name string) (*Target, error) {
	t, err := scanTarget(r.s.db.QueryRowContext(ctx, "SELECT "+targetColumns+" FROM targets WHERE name = ?", name))
	if err != nil {
		return nil, notFound(err, "target", name)
	}
	return t, nil
}

// List returns every target by name.
func (r *Targets) List(ctx context.Context) ([]*Target, error) {
	rows, err := r.s.db.QueryContext(ctx, "SELECT "+targetColumns+" FROM targets ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	defer rows.Close()
	list := []*Target{}
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return nil, fmt.Errorf("list targets: %w", err)
		}
		list = append(list, t)
	}
	return list, rows.Err()
}

// TargetUpdate holds the fields an admin may change; nil means unchanged.
type TargetUpdate struct {
	Description *string
	Config      json.RawMessage
	// Credentials replace the stored ones when not nil (an empty map clears them).
	Credentials map[string]string
}

// Update changes a target.
func (r *Targets) Update(ctx context.Context, name string, up TargetUpdate) (*Target, error) {
	err := r.s.tx(ctx, func(tx *txn) error {
		t, err := scanTarget(tx.QueryRowContext(ctx, "SELECT "+targetColumns+" FROM targets WHERE name = ?", name))
		if err != nil {
			return notFound(err, "target", name)
		}
		if up.Description != nil {
			t.Description = *up.Description
		}
		if up.Config != nil {
			t.Config = up.Config
			if t.Kind == "hostpool" {
				gone, err := allocatedHostsRemoved(ctx, tx, name, t.Config)
				if err != nil {
					return err
				}
				if len(gone) > 0 {
					return Errorf(EConflict, "pool hosts %v of target %q are allocated to deployments: delete those deployments before removing the hosts", gone, name).
						WithDetails(Detail{Field: "config.hosts", Message: "allocated hosts removed"})
				}
			}
		}
		if up.Credentials != nil {
			if t.sealed, err = r.s.seal(up.Credentials); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE targets SET description = ?, config = ?, credentials = ?, updated_at = ? WHERE name = ?",
			t.Description, jsonOr(t.Config, "{}"), t.sealed, fmtTime(r.s.Now()), name)
		return err
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "update target %s", name)
	}
	return r.Get(ctx, name)
}

// Delete removes a target; while deployments that are not deleted use it, it is a conflict.
func (r *Targets) Delete(ctx context.Context, name string) error {
	return r.s.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM deployments WHERE target = ? AND deleted_at IS NULL", name).Scan(&n); err != nil {
			return fmt.Errorf("delete target %s: %w", name, err)
		}
		if n > 0 {
			return Errorf(EConflict, "target %q is used by %d deployment(s)", name, n)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM targets WHERE name = ?", name)
		if err != nil {
			return fmt.Errorf("delete target %s: %w", name, err)
		}
		return mustAffect(res, "target", name)
	})
}

// Credentials unseals a target's credentials, for the engine to pass to Terraform
// as environment variables. Nothing else calls it.
func (r *Targets) Credentials(ctx context.Context, name string) (map[string]string, error) {
	t, err := r.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return r.s.unseal(t.sealed)
}

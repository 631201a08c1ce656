package store

import (
	"context"
	"fmt"
	"time"
)

// SSHKey is an OpenSSH public key a user registered; Compute nodes on real targets
// get their owners' keys.
type SSHKey struct {
	ID          string
	UserID      string
	Name        string
	PublicKey   string
	Fingerprint string
	CreatedAt   time.Time
}

// SSHKeys stores users' public keys. A user manages their own keys only.
type SSHKeys struct{ s *Store }

// Add stores a key; the same key twice for one user is a conflict.
func (r *SSHKeys) Add(ctx context.Context, k *SSHKey) error {
	k.ID = NewID()
	k.CreatedAt = r.s.Now()
	_, err := r.s.db.ExecContext(ctx, `INSERT INTO ssh_keys (id, user_id, name, public_key, fingerprint, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, k.ID, k.UserID, k.Name, k.PublicKey, k.Fingerprint, fmtTime(k.CreatedAt))
	if isUniqueViolation(err) {
		return Errorf(EConflict, "this key (%s) is already registered", k.Fingerprint).
			WithDetails(Detail{Field: "public_key", Message: "duplicate key"})
	}
	if err != nil {
		return fmt.Errorf("add ssh key: %w", err)
	}
	return nil
}

// List returns a user's keys, oldest first.
func (r *SSHKeys) List(ctx context.Context, userID string) ([]SSHKey, error) {
	rows, err := r.s.db.QueryContext(ctx, `SELECT id, user_id, name, public_key, fingerprint, created_at
		FROM ssh_keys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list ssh keys: %w", err)
	}
	defer rows.Close()
	keys := []SSHKey{}
	for rows.Next() {
		var k SSHKey
		var created string
		if err := rows.Scan(&k.ID, &k.UserID, &k.Name, &k.PublicKey, &k.Fingerprint, &created); err != nil {
			return nil, fmt.Errorf("list ssh keys: %w", err)
		}
		k.CreatedAt = parseTime(created)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// Delete removes one of the user's keys; someone else's key is not found.
func (r *SSHKeys) Delete(ctx context.Context, userID, id string) error {
	res, err := r.s.db.ExecContext(ctx, "DELETE FROM ssh_keys WHERE id = ? AND user_id = ?", id, userID)
	if err != nil {
		return fmt.Errorf("delete ssh key: %w", err)
	}
	return mustAffect(res, "ssh key", id)
}

// replaceSSHKeys makes keys the user's whole key set, in tx.
func replaceSSHKeys(ctx context.Context, tx *txn, s *Store, userID string, keys []SSHKey) error {
	keep := map[string]bool{}
	for _, k := range keys {
		if keep[k.Fingerprint] {
			return Errorf(EInvalid, "the key %s is listed twice", k.Fingerprint).
				WithDetails(Detail{Field: "ssh_public_keys", Message: "duplicate key"})
		}
		keep[k.Fingerprint] = true
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, fingerprint FROM ssh_keys WHERE user_id = ?", userID)
	if err != nil {
		return fmt.Errorf("list ssh keys: %w", err)
	}
	have := map[string]string{} // fingerprint -> id
	for rows.Next() {
		var id, fp string
		if err := rows.Scan(&id, &fp); err != nil {
			rows.Close()
			return fmt.Errorf("list ssh keys: %w", err)
		}
		have[fp] = id
	}
	rows.Close()
	for fp, id := range have {
		if !keep[fp] {
			if _, err := tx.ExecContext(ctx, "DELETE FROM ssh_keys WHERE id = ?", id); err != nil {
				return fmt.Errorf("remove ssh key: %w", err)
			}
		}
	}
	now := fmtTime(s.Now())
	for _, k := range keys {
		if _, ok := have[k.Fingerprint]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ssh_keys (id, user_id, name, public_key, fingerprint, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, NewID(), userID, k.Name, k.PublicKey, k.Fingerprint, now); err != nil {
			return fmt.Errorf("add ssh key: %w", err)
		}
	}
	return nil
}

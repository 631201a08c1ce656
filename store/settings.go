package store

import (
	"context"
	"fmt"
)

// CheckServiceKey records the fingerprint of the service's key the first time
// the database is used, and refuses another key afterwards: every replica
// sharing the database must sign sessions and seal credentials with the same
// key, or a session signed by one would be refused by the next, and credentials
// sealed by one unreadable by the others.
func (s *Store) CheckServiceKey(ctx context.Context, fingerprint string) error {
	var stored string
	err := s.tx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES ('service_key', ?) ON CONFLICT (name) DO NOTHING",
			fingerprint); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = 'service_key'").Scan(&stored)
	})
	if err != nil {
		return fmt.Errorf("check the service key: %w", err)
	}
	if stored != fingerprint {
		return fmt.Errorf("the service key differs from the one this database was set up with (fingerprint %s, this key %s): "+
			"every replica must be given the same key", stored, fingerprint)
	}
	return nil
}

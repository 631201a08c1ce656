package store

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// db is the database handle every query goes through. It counts writes: the
// store's generation changes after every committed write, so a cache of
// anything read from the store stays exact by checking it (see Generation).
type db struct {
	*sql.DB
	gen atomic.Uint64
}

// ExecContext runs a statement and, when it succeeded, moves the generation on.
func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := d.DB.ExecContext(ctx, query, args...)
	if err == nil {
		d.gen.Add(1)
	}
	return res, err
}

// Generation changes after every write committed through this store (a
// transaction, or a single statement). A reader that takes the generation
// before reading and finds it unchanged later knows that what it read is still
// what the database holds: the service's response caches rely on it. Writes of
// other processes are not seen; the service is the database's only writer.
func (s *Store) Generation() uint64 { return s.db.gen.Load() }

// changed moves the generation on after a write that did not go through
// ExecContext or tx (an UPDATE ... RETURNING read with QueryRowContext).
func (s *Store) changed() { s.db.gen.Add(1) }

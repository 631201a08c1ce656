package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Lease is a worker's hold on a running run: the run and the token the worker
// got when it claimed or took over the run. Tokens only grow: every worker that
// takes a run gets a greater one, so a worker that lost the run (it paused, its
// replica was cut off, another replica took the run over) holds a token that
// no longer matches. Every write a worker makes for its run passes its lease
// and is refused when the lease is lost: status, resources, state versions,
// logs, outputs, progress. A Lease with a zero Token holds nothing: writes of
// the API, and of recovery for a run that already ended, pass one.
type Lease struct {
	RunID string
	Token int64
}

// ErrLeaseLost is in the chain of every error a write with a lost lease returns.
var ErrLeaseLost = errors.New("lease lost")

// IsLeaseLost reports whether err says the writer's lease on its run is lost.
func IsLeaseLost(err error) bool { return errors.Is(err, ErrLeaseLost) }

func leaseLost(l Lease) *Error {
	return &Error{Code: EConflict, Message: fmt.Sprintf("run %s is no longer held with lease %d", l.RunID, l.Token), cause: ErrLeaseLost}
}

// checkLease fails unless the run is running under the lease. It keeps the
// run's row from changing until the transaction ends (a takeover waits), so
// what the transaction writes happens while the lease holds.
func checkLease(ctx context.Context, tx *txn, l Lease) error {
	if l.Token == 0 {
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM runs WHERE id = ? AND status = 'running' AND lease_token = ?"+tx.d.forShare(),
		l.RunID, l.Token).Scan(&n)
	if err == sql.ErrNoRows {
		return leaseLost(l)
	}
	if err != nil {
		return fmt.Errorf("check the lease on run %s: %w", l.RunID, err)
	}
	return nil
}

// fenced runs fn in a transaction that holds while the lease does.
func (s *Store) fenced(ctx context.Context, l Lease, fn func(*txn) error) error {
	return s.tx(ctx, func(tx *txn) error {
		if err := checkLease(ctx, tx, l); err != nil {
			return err
		}
		return fn(tx)
	})
}

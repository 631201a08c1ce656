package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"
)

// txn is a transaction speaking the store's dialect. It remembers whether it
// wrote anything (the generation moves only then) and the notifications to send
// when it commits.
type txn struct {
	*sql.Tx
	d     *dialect
	wrote bool
	notes []note
}

type note struct {
	topic   Topic
	payload string
}

// ExecContext runs a statement in the transaction.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if isWrite(query) {
		t.wrote = true
	}
	return t.Tx.ExecContext(ctx, t.d.rebind(query), t.d.args(args)...)
}

// QueryContext runs a query in the transaction.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if isWrite(query) {
		t.wrote = true
	}
	return t.Tx.QueryContext(ctx, t.d.rebind(query), t.d.args(args)...)
}

// QueryRowContext runs a query returning one row (an UPDATE ... RETURNING too).
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if isWrite(query) {
		t.wrote = true
	}
	return t.Tx.QueryRowContext(ctx, t.d.rebind(query), t.d.args(args)...)
}

// PrepareContext prepares a statement for the transaction.
func (t *txn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if isWrite(query) {
		t.wrote = true
	}
	return t.Tx.PrepareContext(ctx, t.d.rebind(query))
}

// notify sends a notification to every process of the service once the
// transaction commits (and never when it does not).
func (t *txn) notify(topic Topic, payload string) {
	for _, n := range t.notes {
		if n.topic == topic && n.payload == payload {
			return
		}
	}
	t.notes = append(t.notes, note{topic, payload})
}

// maxTxAttempts bounds how often a transaction that lost to another one
// (PostgreSQL detected a deadlock or a serialization failure) runs again.
const maxTxAttempts = 8

// tx runs fn in a transaction, committing when fn returns nil. On PostgreSQL a
// transaction that lost a deadlock to another one runs again from the start: fn
// must only read and write through tx and set its results anew on every run.
func (s *Store) tx(ctx context.Context, fn func(*txn) error) error {
	for attempt := 1; ; attempt++ {
		err := s.txOnce(ctx, fn)
		if err == nil || !isRetryable(err) || attempt == maxTxAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt)*time.Millisecond + rand.N(5*time.Millisecond))
	}
}

func (s *Store) txOnce(ctx context.Context, fn func(*txn) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	t := &txn{Tx: sqlTx, d: s.db.d}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if s.db.d.pg() {
		// NOTIFY is transactional: delivered to every listener at commit.
		for _, n := range t.notes {
			if _, err := sqlTx.ExecContext(ctx, "SELECT pg_notify($1, $2)", string(n.topic), n.payload); err != nil {
				sqlTx.Rollback()
				return fmt.Errorf("notify %s: %w", n.topic, err)
			}
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if t.wrote {
		s.db.bump()
	}
	for _, n := range t.notes {
		if !s.db.d.pg() || n.topic == topicCounts {
			s.events.dispatch(n.topic, n.payload)
		}
	}
	return nil
}

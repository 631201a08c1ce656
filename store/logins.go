package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// LoginLimits say when failed logins lock an account or a client out.
type LoginLimits struct {
	// AccountFailures locks one account on one client after that many failures in Window.
	AccountFailures int
	// ClientAccounts locks a client for every account it has not logged in to before
	// once it failed on that many distinct accounts in Window (password spraying).
	ClientAccounts int
	Window         time.Duration
	Lockout        time.Duration
	// KnownFor is how long a successful login keeps a client known for an account.
	KnownFor time.Duration
}

// Logins throttles password logins. Counters live in the database so a restart
// forgives nothing and every replica sees them. The rules are per (account,
// client) and per client across accounts: failures of one account never lock
// another account out, and a client-wide lock spares accounts that logged in from
// that client before.
type Logins struct{ s *Store }

const (
	lockAccount = "account"
	lockClient  = "client"
)

// Blocked returns how long a login of account from client must wait, or 0.
func (q *Logins) Blocked(ctx context.Context, lim LoginLimits, account, client string) (time.Duration, error) {
	account = strings.ToLower(account)
	now := q.s.Now()
	var until sql.NullString
	err := q.s.db.QueryRowContext(ctx, `SELECT MAX(until) FROM login_locks WHERE until > ? AND (
		(scope = 'account' AND account = ? AND client = ?)
		OR (scope = 'client' AND client = ? AND NOT EXISTS (
			SELECT 1 FROM login_known_clients k WHERE k.account = ? AND k.client = ? AND k.at > ?)))`,
		fmtTime(now), account, client, client, account, client, fmtTime(now.Add(-lim.KnownFor))).Scan(&until)
	if err != nil {
		return 0, fmt.Errorf("check login locks: %w", err)
	}
	if !until.Valid {
		return 0, nil
	}
	return parseTime(until.String).Sub(now), nil
}

// Failed records a failed login and locks what crossed its limit.
func (q *Logins) Failed(ctx context.Context, lim LoginLimits, account, client string) error {
	account = strings.ToLower(account)
	return q.s.tx(ctx, func(tx *txn) error {
		now := q.s.Now()
		since := fmtTime(now.Add(-lim.Window))
		// Old failures count for nothing: drop them as we go, so the table stays small.
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE at <= ?", since); err != nil {
			return fmt.Errorf("forget old login failures: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_locks WHERE until <= ?", fmtTime(now)); err != nil {
			return fmt.Errorf("forget old login locks: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO login_failures (account, client, at) VALUES (?, ?, ?)",
			account, client, fmtTime(now)); err != nil {
			return fmt.Errorf("record login failure: %w", err)
		}
		var pair, accounts int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM login_failures WHERE account = ? AND client = ? AND at > ?",
			account, client, since).Scan(&pair); err != nil {
			return fmt.Errorf("count login failures: %w", err)
		}
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(DISTINCT account) FROM login_failures WHERE client = ? AND at > ?",
			client, since).Scan(&accounts); err != nil {
			return fmt.Errorf("count login failures: %w", err)
		}
		until := fmtTime(now.Add(lim.Lockout))
		lock := func(scope, account string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO login_locks (scope, account, client, until) VALUES (?, ?, ?, ?)
				ON CONFLICT (scope, account, client) DO UPDATE SET until = excluded.until`, scope, account, client, until)
			if err != nil {
				return fmt.Errorf("lock logins: %w", err)
			}
			return nil
		}
		if pair >= lim.AccountFailures {
			if err := lock(lockAccount, account); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE account = ? AND client = ?", account, client); err != nil {
				return fmt.Errorf("reset login failures: %w", err)
			}
		}
		if accounts >= lim.ClientAccounts {
			if err := lock(lockClient, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// Succeeded forgets the account's failures from client and remembers the client
// as one the account uses.
func (q *Logins) Succeeded(ctx context.Context, account, client string) error {
	account = strings.ToLower(account)
	return q.s.tx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE account = ? AND client = ?", account, client); err != nil {
			return fmt.Errorf("reset login failures: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO login_known_clients (account, client, at) VALUES (?, ?, ?)
			ON CONFLICT (account, client) DO UPDATE SET at = excluded.at`, account, client, fmtTime(q.s.Now()))
		if err != nil {
			return fmt.Errorf("remember login client: %w", err)
		}
		return nil
	})
}

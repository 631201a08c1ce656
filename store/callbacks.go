package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// CallbackState is where the delivery of one callback is.
type CallbackState string

// Callback states.
const (
	CallbackPending   CallbackState = "pending"
	CallbackDelivered CallbackState = "delivered"
	CallbackFailed    CallbackState = "failed" // given up: refused, or out of attempts
	// CallbackSuperseded was not delivered because the deployment reached a
	// newer final status first: receivers want the deployment as it is.
	CallbackSuperseded CallbackState = "superseded"
)

// Callback is one notification owed to a deployment's callback URL: the
// deployment reached a final status. Rows are written by the status move itself
// (setStatus), so a final status is never missed; the server delivers them.
type Callback struct {
	ID            string
	DeploymentID  string
	URL           string
	Status        Status // the final status reached
	StatusReason  string
	State         CallbackState
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	FinishedAt    *time.Time
}

// Callbacks is the outbox of deployment callbacks.
type Callbacks struct{ s *Store }

const callbackColumns = `id, deployment_id, url, status, status_reason, state, attempts, next_attempt_at, last_error, created_at, finished_at`

func scanCallback(row interface{ Scan(...any) error }) (*Callback, error) {
	var c Callback
	var next, created string
	var finished sql.NullString
	if err := row.Scan(&c.ID, &c.DeploymentID, &c.URL, &c.Status, &c.StatusReason, &c.State, &c.Attempts, &next,
		&c.LastError, &created, &finished); err != nil {
		return nil, err
	}
	c.NextAttemptAt, c.CreatedAt, c.FinishedAt = parseTime(next), parseTime(created), parseTimePtr(finished)
	return &c, nil
}

// queueCallback owes d's callback its new final status; it runs inside the
// transaction that moved the status. Older callbacks of d not delivered yet are
// superseded, unless one is being delivered right now (leased): that one ends
// first, and this one waits for it, so a receiver never sees statuses go back.
func queueCallback(ctx context.Context, tx *txn, s *Store, d *Deployment) error {
	now := fmtTime(s.Now())
	// Replicas queue at once on PostgreSQL: a sequence numbers them there.
	next := "(SELECT COALESCE(MAX(seq), 0) + 1 FROM callbacks)"
	if tx.d.pg() {
		next = "nextval('callback_seq')"
	}
	if _, err := tx.ExecContext(ctx, `UPDATE callbacks SET state = 'superseded', last_error = ?, finished_at = ?
		WHERE deployment_id = ? AND state = 'pending' AND (lease_until IS NULL OR lease_until < ?)`,
		"the deployment reached "+string(d.Status)+" before this was delivered", now, d.ID, now); err != nil {
		return fmt.Errorf("supersede callbacks of %s: %w", d.ID, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO callbacks (id, seq, deployment_id, url, status, status_reason, state, next_attempt_at, created_at)
		VALUES (?, `+next+`, ?, ?, ?, ?, 'pending', ?, ?)`,
		NewID(), d.ID, d.Callback, d.Status, d.StatusReason, now, now)
	if err != nil {
		return fmt.Errorf("queue callback of %s: %w", d.ID, err)
	}
	return nil
}

// Claim leases up to limit due callbacks for lease: pending ones whose next
// attempt time has come, that no live lease holds (another replica may be
// delivering them), and that no older pending callback of the same deployment
// precedes (a deployment's callbacks go out in order). Claiming counts as an
// attempt, so a dispatcher that dies mid-delivery still uses one up.
func (q *Callbacks) Claim(ctx context.Context, limit int, lease time.Duration) ([]*Callback, error) {
	var out []*Callback
	err := q.s.tx(ctx, func(tx *txn) error {
		now := q.s.Now()
		rows, err := tx.QueryContext(ctx, "SELECT "+callbackColumns+` FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= ?
			AND (c.lease_until IS NULL OR c.lease_until < ?)
			AND NOT EXISTS (SELECT 1 FROM callbacks o WHERE o.deployment_id = c.deployment_id AND o.state = 'pending' AND o.seq < c.seq)
			ORDER BY c.next_attempt_at, c.seq LIMIT ?`+tx.d.skipLocked(), fmtTime(now), fmtTime(now), limit)
		if err != nil {
			return fmt.Errorf("find due callbacks: %w", err)
		}
		for rows.Next() {
			c, err := scanCallback(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("find due callbacks: %w", err)
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range out {
			c.Attempts++
			if _, err := tx.ExecContext(ctx, "UPDATE callbacks SET attempts = ?, lease_until = ? WHERE id = ?",
				c.Attempts, fmtTime(now.Add(lease)), c.ID); err != nil {
				return fmt.Errorf("lease callback %s: %w", c.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delivered records that the callback's URL accepted it.
func (q *Callbacks) Delivered(ctx context.Context, id string) error {
	return q.finish(ctx, id, CallbackDelivered, "")
}

// Retry records a failed attempt; the callback is due again at next, unless
// the deployment reached a newer final status meanwhile: then it is
// superseded, and Retry says so.
func (q *Callbacks) Retry(ctx context.Context, id, reason string, next time.Time) (superseded bool, err error) {
	err = q.s.tx(ctx, func(tx *txn) error {
		var newer int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM callbacks n, callbacks c WHERE c.id = ? AND n.deployment_id = c.deployment_id
			AND n.seq > c.seq`, id).Scan(&newer); err != nil {
			return fmt.Errorf("retry callback %s: %w", id, err)
		}
		superseded = newer > 0
		var res sql.Result
		var err error
		if superseded {
			res, err = tx.ExecContext(ctx, `UPDATE callbacks SET state = 'superseded', last_error = ?, finished_at = ?, lease_until = NULL
				WHERE id = ?`, truncateText(reason, 1000), fmtTime(q.s.Now()), id)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE callbacks SET state = 'pending', last_error = ?, next_attempt_at = ?, lease_until = NULL
				WHERE id = ?`, truncateText(reason, 1000), fmtTime(next), id)
		}
		if err != nil {
			return fmt.Errorf("record callback %s: %w", id, err)
		}
		return mustAffect(res, "callback", id)
	})
	return superseded, err
}

// Fail gives up on a callback (refused, or out of attempts).
func (q *Callbacks) Fail(ctx context.Context, id, reason string) error {
	return q.finish(ctx, id, CallbackFailed, reason)
}

func (q *Callbacks) finish(ctx context.Context, id string, state CallbackState, reason string) error {
	res, err := q.s.db.ExecContext(ctx, `UPDATE callbacks SET state = ?, last_error = ?, finished_at = ?, lease_until = NULL
		WHERE id = ?`, state, truncateText(reason, 1000), fmtTime(q.s.Now()), id)
	if err != nil {
		return fmt.Errorf("record callback %s: %w", id, err)
	}
	return mustAffect(res, "callback", id)
}

// List returns a deployment's callbacks, oldest first.
func (q *Callbacks) List(ctx context.Context, deploymentID string) ([]*Callback, error) {
	rows, err := q.s.db.QueryContext(ctx, "SELECT "+callbackColumns+" FROM callbacks WHERE deployment_id = ? ORDER BY seq", deploymentID)
	if err != nil {
		return nil, fmt.Errorf("list callbacks of %s: %w", deploymentID, err)
	}
	defer rows.Close()
	list := []*Callback{}
	for rows.Next() {
		c, err := scanCallback(rows)
		if err != nil {
			return nil, fmt.Errorf("list callbacks of %s: %w", deploymentID, err)
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// truncateText bounds an error text kept in a row.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

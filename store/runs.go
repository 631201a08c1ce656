package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Run is one Terraform job on a deployment. Runs of one deployment execute one at
// a time in the order they were queued.
type Run struct {
	ID              string
	Seq             int64
	DeploymentID    string
	Kind            RunKind
	Status          RunStatus
	Params          RunParams
	Worker          string
	Error           string
	CancelRequested bool
	CreatedBy       string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	HeartbeatAt     *time.Time
	// Process is the Terraform process the run started last.
	Process Process
	// Attempts counts the workers that took the run: the one that claimed it,
	// and each one that took it over after its worker was gone.
	Attempts int
	// LeaseToken is the token of the worker holding the run (see Lease); it
	// grows with every worker that takes the run.
	LeaseToken int64
	// LeaseUntil is when the holder's lease expires unless its heartbeat
	// pushes it on; only then may another worker take the run over.
	LeaseUntil *time.Time
}

// Lease is the hold on the run of the worker that claimed or took it.
func (r *Run) Lease() Lease { return Lease{RunID: r.ID, Token: r.LeaseToken} }

// Process is the Terraform process a run started last: enough for another
// service process (after a crash or a restart) to find it, follow its output
// and wait for it. It runs on the host of the replica whose worker started it
// (the run's Worker names it): no other replica can see it.
type Process struct {
	PID int // 0 when no process is known yet
	// Identity is the boot and start time of PID, so that a reused PID is never
	// taken for the process.
	Identity string
	Step     string // what it does: apply, destroy, refresh, ...
	// Stream is the file (relative to the workdir) its -json output goes to; it
	// is recorded before the process starts, so that a crash right after the
	// start still leaves a trace to look for.
	Stream string
	// Offset is how many bytes of Stream are stored as log lines.
	Offset int64
}

// RunParams says what an action run does.
type RunParams struct {
	Action     string `json:"action,omitempty"`      // start, stop, reboot
	ResourceID string `json:"resource_id,omitempty"` // the resource acted on
	Node       string `json:"node,omitempty"`
	Instance   int    `json:"instance,omitempty"`
}

// Runs is the run queue.
type Runs struct{ s *Store }

const runColumns = `id, seq, deployment_id, kind, status, params, worker, error, cancel_requested, COALESCE(created_by, ''),
	created_at, started_at, finished_at, heartbeat_at, process_pid, process_identity, process_step, process_stream, stream_offset, attempts,
	lease_token, lease_until`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var params, created string
	var started, finished, heartbeat, leaseUntil sql.NullString
	if err := row.Scan(&r.ID, &r.Seq, &r.DeploymentID, &r.Kind, &r.Status, &params, &r.Worker, &r.Error, &r.CancelRequested,
		&r.CreatedBy, &created, &started, &finished, &heartbeat, &r.Process.PID, &r.Process.Identity, &r.Process.Step, &r.Process.Stream,
		&r.Process.Offset, &r.Attempts, &r.LeaseToken, &leaseUntil); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
		return nil, fmt.Errorf("params of run %s: %w", r.ID, err)
	}
	r.CreatedAt = parseTime(created)
	r.StartedAt, r.FinishedAt, r.HeartbeatAt = parseTimePtr(started), parseTimePtr(finished), parseTimePtr(heartbeat)
	r.LeaseUntil = parseTimePtr(leaseUntil)
	return &r, nil
}

// insertRun queues a run and wakes the workers of every replica once the
// transaction commits.
func insertRun(ctx context.Context, tx *txn, s *Store, deploymentID string, kind RunKind, params RunParams, createdBy string) (*Run, error) {
	r := &Run{ID: NewID(), DeploymentID: deploymentID, Kind: kind, Status: RunQueued, Params: params, CreatedBy: createdBy, CreatedAt: s.Now()}
	// SQLite's transactions are serial; PostgreSQL's replicas enqueue at once.
	next := "SELECT COALESCE(MAX(seq), 0) + 1 FROM runs"
	if tx.d.pg() {
		next = "SELECT nextval('run_seq')"
	}
	if err := tx.QueryRowContext(ctx, next).Scan(&r.Seq); err != nil {
		return nil, fmt.Errorf("next run seq: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, seq, deployment_id, kind, status, params, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Seq, deploymentID, kind, r.Status, mustJSON(params), nullIfEmpty(createdBy), fmtTime(r.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("insert run: %w", err)
	}
	tx.notify(TopicRuns, "")
	return r, nil
}

// Get returns one run.
func (q *Runs) Get(ctx context.Context, id string) (*Run, error) {
	r, err := scanRun(q.s.db.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "run", id)
	}
	return r, nil
}

// List returns a page of a deployment's runs, newest first.
func (q *Runs) List(ctx context.Context, deploymentID string, p Page) ([]*Run, Total, error) {
	var n int
	if err := q.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM runs WHERE deployment_id = ?", deploymentID).Scan(&n); err != nil {
		return nil, Total{}, fmt.Errorf("count runs: %w", err)
	}
	list, err := q.query(ctx, "WHERE deployment_id = ? ORDER BY seq DESC LIMIT ? OFFSET ?", deploymentID, p.limit(), p.offset())
	return list, totalOf(n, p), err
}

func (q *Runs) query(ctx context.Context, tail string, args ...any) ([]*Run, error) {
	rows, err := q.s.db.QueryContext(ctx, "SELECT "+runColumns+" FROM runs "+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	list := []*Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// Claim gives a worker the oldest queued run whose deployment has no running run
// and no older queued run, marks it running under a new lease of leaseFor, and
// moves its deployment to the run's in-progress status if the run was queued
// behind another. A run whose status move became illegal meanwhile (an update
// behind a failed create) fails at once with the reason, and the next candidate
// is tried. It returns nil when nothing is ready.
//
// Replicas claim from the same queue at once: on PostgreSQL the candidate is
// locked with FOR UPDATE SKIP LOCKED (a run another claimer holds is passed
// over), and the unique index runs_one_running keeps a second run of a
// deployment from ever running, whatever the interleaving.
func (q *Runs) Claim(ctx context.Context, worker string, leaseFor time.Duration) (*Run, error) {
	for tries := 0; ; tries++ {
		var claimed *Run
		retry := false
		err := q.s.tx(ctx, func(tx *txn) error {
			claimed, retry = nil, false
			r, err := scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+` FROM runs r WHERE r.status = 'queued'
				AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.deployment_id = r.deployment_id AND x.status = 'running')
				AND NOT EXISTS (SELECT 1 FROM runs y WHERE y.deployment_id = r.deployment_id AND y.status = 'queued' AND y.seq < r.seq)
				ORDER BY r.seq LIMIT 1`+tx.d.skipLocked()))
			if err == sql.ErrNoRows {
				return nil
			}
			if err != nil {
				return fmt.Errorf("claim run: %w", err)
			}
			d, err := getDeployment(ctx, tx, r.DeploymentID)
			if err != nil {
				return err
			}
			now := q.s.Now()
			if refusal := startable(d, r); refusal != "" {
				_, err := tx.ExecContext(ctx, "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?", refusal, fmtTime(now), r.ID)
				retry = true
				return err
			}
			if next := r.Kind.inProgress(); next != "" && d.Status != next {
				if err := setStatus(ctx, tx, q.s, d, next, ""); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "UPDATE deployments SET progress_done = 0, progress_planned = 0 WHERE id = ?", d.ID); err != nil {
					return err
				}
			}
			until := now.Add(leaseFor)
			if err := tx.QueryRowContext(ctx, `UPDATE runs SET status = 'running', worker = ?, started_at = ?, heartbeat_at = ?,
				lease_until = ?, lease_token = lease_token + 1, attempts = attempts + 1 WHERE id = ? AND status = 'queued' RETURNING lease_token`,
				worker, fmtTime(now), fmtTime(now), fmtTime(until), r.ID).Scan(&r.LeaseToken); err != nil {
				return fmt.Errorf("claim run %s: %w", r.ID, err)
			}
			r.Status, r.Worker, r.Attempts = RunRunning, worker, r.Attempts+1
			r.StartedAt, r.HeartbeatAt, r.LeaseUntil = &now, &now, &until
			claimed = r
			return nil
		})
		if isUniqueViolation(err, "runs_one_running") && tries < 5 {
			continue // another replica started a run of this deployment first
		}
		if err != nil || !retry {
			return claimed, err
		}
	}
}

// startable says why a queued run cannot start on the deployment as it is now, or "".
func startable(d *Deployment, r *Run) string {
	if r.Kind == RunAction {
		if !actionAllowed(d, r.Params) {
			return fmt.Sprintf("action refused: deployment is %s", d.Status)
		}
		return ""
	}
	next := r.Kind.inProgress()
	if d.Status == next {
		return "" // queued on an idle deployment: the status moved at enqueue
	}
	if err := Transition(d.Status, next); err != nil {
		return fmt.Sprintf("%s refused: deployment is %s", r.Kind, d.Status)
	}
	return ""
}

// Heartbeat renews a worker's lease on its run for leaseFor more. It returns
// whether cancellation was requested; a lost lease (the run finished, was reset,
// or was taken over) is a conflict that IsLeaseLost recognizes.
func (q *Runs) Heartbeat(ctx context.Context, l Lease, leaseFor time.Duration) (cancel bool, err error) {
	now := q.s.Now()
	err = q.s.db.QueryRowContext(ctx, `UPDATE runs SET heartbeat_at = ?, lease_until = ? WHERE id = ? AND status = 'running' AND lease_token = ?
		RETURNING cancel_requested`, fmtTime(now), fmtTime(now.Add(leaseFor)), l.RunID, l.Token).Scan(&cancel)
	if err == sql.ErrNoRows {
		return true, leaseLost(l)
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat run %s: %w", l.RunID, err)
	}
	q.s.changed()
	return cancel, nil
}

// Handover says who takes a running run over from whom.
type Handover struct {
	// From is the lease the run must still be held with: of two workers
	// taking the same run over, one wins.
	From Lease
	// To is the new worker; it gets a new lease of For.
	To  string
	For time.Duration
	// Expired takes the run only if its lease has expired: another replica
	// may still hold it. A replica taking back the runs of its own previous
	// process (it knows that one is gone) does not ask for it.
	Expired bool
}

// Takeover gives a running run to another worker when the worker holding it is
// gone (its process crashed or was restarted, its replica stopped renewing the
// lease). It succeeds only while the run is still running under h.From, and
// only after that lease expired when h.Expired; the attempt is counted and the
// new holder gets a new, greater token: the old one can write nothing more.
func (q *Runs) Takeover(ctx context.Context, h Handover) (*Run, error) {
	now := q.s.Now()
	cond := ""
	args := []any{h.To, fmtTime(now), fmtTime(now.Add(h.For)), h.From.RunID, h.From.Token}
	if h.Expired {
		cond = " AND (lease_until IS NULL OR lease_until < ?)"
		args = append(args, fmtTime(now))
	}
	res, err := q.s.db.ExecContext(ctx, `UPDATE runs SET worker = ?, heartbeat_at = ?, lease_until = ?, lease_token = lease_token + 1,
		attempts = attempts + 1 WHERE id = ? AND status = 'running' AND lease_token = ?`+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("take over run %s: %w", h.From.RunID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, Errorf(EConflict, "run %s is no longer running with lease %d, or its lease has not expired", h.From.RunID, h.From.Token)
	}
	return q.Get(ctx, h.From.RunID)
}

// SetProcess records the Terraform process a run's worker starts (PID 0: about
// to start, its stream file chosen). The stream offset starts again at zero.
func (q *Runs) SetProcess(ctx context.Context, l Lease, p Process) error {
	res, err := q.s.db.ExecContext(ctx, `UPDATE runs SET process_pid = ?, process_identity = ?, process_step = ?, process_stream = ?,
		stream_offset = ? WHERE id = ? AND status = 'running' AND lease_token = ?`, p.PID, p.Identity, p.Step, p.Stream, p.Offset, l.RunID, l.Token)
	if err != nil {
		return fmt.Errorf("record the process of run %s: %w", l.RunID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return leaseLost(l)
	}
	return nil
}

// AppendStream stores log lines of a run together with how far its process
// stream has been read, in one transaction: after a crash, reading resumes
// exactly after the last stored line, never losing or repeating one.
func (q *Runs) AppendStream(ctx context.Context, l Lease, offset int64, lines ...*LogLine) error {
	cond, args := " AND status = 'running' AND lease_token = ?", []any{offset, l.RunID, l.Token}
	if l.Token == 0 {
		cond, args = "", args[:2] // a run that already ended, read on by recovery
	}
	err := q.s.tx(ctx, func(tx *txn) error {
		var deploymentID string
		err := tx.QueryRowContext(ctx, `UPDATE runs SET stream_offset = ? WHERE id = ?`+cond+` RETURNING deployment_id`, args...).Scan(&deploymentID)
		if err == sql.ErrNoRows {
			return leaseLost(l)
		}
		if err != nil {
			return err
		}
		return appendLines(ctx, tx, q.s, deploymentID, lines)
	})
	if err != nil {
		return wrapUnlessStoreError(err, "append the stream of run %s", l.RunID)
	}
	return nil
}

// AppendLog stores log lines a worker writes for its run (its own steps).
func (q *Runs) AppendLog(ctx context.Context, l Lease, deploymentID string, lines ...*LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := q.s.fenced(ctx, l, func(tx *txn) error { return appendLines(ctx, tx, q.s, deploymentID, lines) })
	if err != nil {
		return wrapUnlessStoreError(err, "append logs of run %s", l.RunID)
	}
	return nil
}

// Result is how a run ended.
type Result struct {
	Status RunStatus // succeeded, failed or cancelled
	Error  string
	// Outputs replaces the deployment's outputs when not nil.
	Outputs json.RawMessage
	// Lease, when set, is the lease the run must still be held with: a run
	// taken over by another worker is not finished by the one that lost it.
	Lease Lease
}

// Finish records the end of a running run and moves its deployment to the
// matching complete or failed status (actions leave the status alone). A
// successful delete marks the deployment deleted and its infrastructure gone.
// A run's outcome is recorded exactly once: the update is conditional on the
// run still running (and held under res.Lease when set), so whatever the order of
// finish, cancel, timeout, reset and stalled detection, only the first one
// counts; the others are conflicts that change nothing.
func (q *Runs) Finish(ctx context.Context, id string, res Result) error {
	return q.s.tx(ctx, func(tx *txn) error {
		r, err := scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
		if err != nil {
			return notFound(err, "run", id)
		}
		now := q.s.Now()
		cond, args := "", []any{res.Status, res.Error, fmtTime(now), id}
		if res.Lease.Token != 0 {
			cond, args = " AND lease_token = ?", append(args, res.Lease.Token)
		}
		upd, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`+cond, args...)
		if err != nil {
			return fmt.Errorf("finish run %s: %w", id, err)
		}
		if n, _ := upd.RowsAffected(); n == 0 {
			if res.Lease.Token != 0 {
				// Finished or taken over by another worker: either way
				// this worker lost it.
				lost := leaseLost(res.Lease)
				lost.Message = fmt.Sprintf("run %s is %s by %s, no longer running under lease %d", id, r.Status, r.Worker, res.Lease.Token)
				return lost
			}
			if r.Status != RunRunning {
				return Errorf(EConflict, "run %s is %s, not running", id, r.Status)
			}
			return Errorf(EConflict, "run %s is still running", id)
		}
		// The next run of the deployment may start; its followers see the end.
		tx.notify(TopicRuns, "")
		tx.notify(TopicLogs, r.DeploymentID)
		d, err := getDeployment(ctx, tx, r.DeploymentID)
		if err != nil {
			return err
		}
		if res.Outputs != nil {
			if _, err := tx.ExecContext(ctx, "UPDATE deployments SET outputs = ? WHERE id = ?", string(res.Outputs), d.ID); err != nil {
				return err
			}
		}
		if next, reason, ok := reconfigured(d, r, res); ok {
			if next == d.Status { // a failed reconfigure: the reason changes
				_, err := tx.ExecContext(ctx, "UPDATE deployments SET status_reason = ? WHERE id = ?", reason, d.ID)
				return err
			}
			return setStatus(ctx, tx, q.s, d, next, reason)
		}
		if r.Kind == RunAction || !d.Status.InProgress() {
			return nil
		}
		reason := res.Error
		next := d.Status.Failed()
		if res.Status == RunSucceeded {
			next, reason = d.Status.Complete(), ""
		} else if res.Status == RunCancelled && reason == "" {
			reason = "run cancelled"
		}
		if err := setStatus(ctx, tx, q.s, d, next, reason); err != nil {
			return err
		}
		if next == DeleteComplete {
			_, err := tx.ExecContext(ctx, "UPDATE deployments SET deleted_at = ?, infrastructure = 0 WHERE id = ?", fmtTime(now), d.ID)
			return err
		}
		return nil
	})
}

// Cancel cancels a queued run at once, or asks the worker of a running run to stop
// (the engine interrupts Terraform). A finished run is a conflict.
func (q *Runs) Cancel(ctx context.Context, id, reason string) (*Run, error) {
	err := q.s.tx(ctx, func(tx *txn) error {
		r, err := scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
		if err != nil {
			return notFound(err, "run", id)
		}
		switch r.Status {
		case RunQueued:
			if _, err := tx.ExecContext(ctx, "UPDATE runs SET status = 'cancelled', error = ?, finished_at = ? WHERE id = ?",
				reason, fmtTime(q.s.Now()), id); err != nil {
				return fmt.Errorf("cancel run %s: %w", id, err)
			}
			// The status moved at enqueue; with nothing else left to run, end it.
			d, err := getDeployment(ctx, tx, r.DeploymentID)
			if err != nil {
				return err
			}
			active, err := activeRuns(ctx, tx, d.ID)
			if err != nil {
				return err
			}
			if active == 0 && d.Status.InProgress() && r.Kind != RunAction {
				return setStatus(ctx, tx, q.s, d, d.Status.Failed(), reason)
			}
			return nil
		case RunRunning:
			// The worker holding it hears at once, on whichever replica.
			tx.notify(TopicCancel, id)
			_, err := tx.ExecContext(ctx, "UPDATE runs SET cancel_requested = 1 WHERE id = ?", id)
			return err
		}
		return Errorf(EConflict, "run %s already ended (%s)", id, r.Status)
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "cancel run %s", id)
	}
	return q.Get(ctx, id)
}

// Running returns every running run, of every worker of every replica.
func (q *Runs) Running(ctx context.Context) ([]*Run, error) {
	return q.query(ctx, "WHERE status = 'running' ORDER BY seq")
}

// Stalled returns running runs whose lease expired before now.
func (q *Runs) Stalled(ctx context.Context, now time.Time) ([]*Run, error) {
	return q.query(ctx, "WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?) ORDER BY seq", fmtTime(now))
}

// Active returns the queued and running runs of a deployment, oldest first.
func (q *Runs) Active(ctx context.Context, deploymentID string) ([]*Run, error) {
	return q.query(ctx, "WHERE deployment_id = ? AND status IN ('queued', 'running') ORDER BY seq", deploymentID)
}

// QueueDepth counts queued runs.
func (q *Runs) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := q.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM runs WHERE status = 'queued'").Scan(&n); err != nil {
		return 0, fmt.Errorf("count queued runs: %w", err)
	}
	return n, nil
}

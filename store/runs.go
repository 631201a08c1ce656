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
}

// Process is the Terraform process a run started last: enough for another
// service process (after a crash or a restart) to find it, follow its output
// and wait for it. The run's lease is its worker and heartbeat: the worker
// named on the run holds it while its heartbeat is fresh.
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
	created_at, started_at, finished_at, heartbeat_at, process_pid, process_identity, process_step, process_stream, stream_offset, attempts`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var params, created string
	var started, finished, heartbeat sql.NullString
	if err := row.Scan(&r.ID, &r.Seq, &r.DeploymentID, &r.Kind, &r.Status, &params, &r.Worker, &r.Error, &r.CancelRequested,
		&r.CreatedBy, &created, &started, &finished, &heartbeat, &r.Process.PID, &r.Process.Identity, &r.Process.Step, &r.Process.Stream,
		&r.Process.Offset, &r.Attempts); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
		return nil, fmt.Errorf("params of run %s: %w", r.ID, err)
	}
	r.CreatedAt = parseTime(created)
	r.StartedAt, r.FinishedAt, r.HeartbeatAt = parseTimePtr(started), parseTimePtr(finished), parseTimePtr(heartbeat)
	return &r, nil
}

func insertRun(ctx context.Context, tx *sql.Tx, s *Store, deploymentID string, kind RunKind, params RunParams, createdBy string) (*Run, error) {
	r := &Run{ID: NewID(), DeploymentID: deploymentID, Kind: kind, Status: RunQueued, Params: params, CreatedBy: createdBy, CreatedAt: s.Now()}
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").Scan(&r.Seq); err != nil {
		return nil, fmt.Errorf("next run seq: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, seq, deployment_id, kind, status, params, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Seq, deploymentID, kind, r.Status, mustJSON(params), nullIfEmpty(createdBy), fmtTime(r.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("insert run: %w", err)
	}
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
// and no older queued run, marks it running, and moves its deployment to the run's
// in-progress status if the run was queued behind another. A run whose status move
// became illegal meanwhile (an update behind a failed create) fails at once with
// the reason, and the next candidate is tried. It returns nil when nothing is ready.
func (q *Runs) Claim(ctx context.Context, worker string) (*Run, error) {
	for {
		var claimed *Run
		retry := false
		err := q.s.tx(ctx, func(tx *sql.Tx) error {
			r, err := scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+` FROM runs r WHERE r.status = 'queued'
				AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.deployment_id = r.deployment_id AND x.status = 'running')
				AND NOT EXISTS (SELECT 1 FROM runs y WHERE y.deployment_id = r.deployment_id AND y.status = 'queued' AND y.seq < r.seq)
				ORDER BY r.seq LIMIT 1`))
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
			now := fmtTime(q.s.Now())
			if refusal := startable(d, r); refusal != "" {
				_, err := tx.ExecContext(ctx, "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?", refusal, now, r.ID)
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
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'running', worker = ?, started_at = ?, heartbeat_at = ?,
				attempts = attempts + 1 WHERE id = ? AND status = 'queued'`, worker, now, now, r.ID); err != nil {
				return fmt.Errorf("claim run %s: %w", r.ID, err)
			}
			r.Status, r.Worker, r.Attempts = RunRunning, worker, r.Attempts+1
			t := q.s.Now()
			r.StartedAt, r.HeartbeatAt = &t, &t
			claimed = r
			return nil
		})
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

// Heartbeat renews the lease of the worker on the run. It returns whether
// cancellation was requested; a run the worker no longer holds (finished, reset,
// or taken over) is a conflict.
func (q *Runs) Heartbeat(ctx context.Context, id, worker string) (cancel bool, err error) {
	err = q.s.db.QueryRowContext(ctx, `UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running' AND worker = ?
		RETURNING cancel_requested`, fmtTime(q.s.Now()), id, worker).Scan(&cancel)
	if err == sql.ErrNoRows {
		return true, Errorf(EConflict, "run %s is no longer held by %s", id, worker)
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat run %s: %w", id, err)
	}
	q.s.changed()
	return cancel, nil
}

// Takeover gives a running run to another worker when the worker named on it
// is gone (its process crashed or was restarted). It succeeds only while the
// run is still running and still held by from, so two processes never both
// take it; the attempt is counted and the lease starts fresh.
func (q *Runs) Takeover(ctx context.Context, id, from, to string) (*Run, error) {
	res, err := q.s.db.ExecContext(ctx, `UPDATE runs SET worker = ?, heartbeat_at = ?, attempts = attempts + 1
		WHERE id = ? AND status = 'running' AND worker = ?`, to, fmtTime(q.s.Now()), id, from)
	if err != nil {
		return nil, fmt.Errorf("take over run %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, Errorf(EConflict, "run %s is no longer running on %s", id, from)
	}
	return q.Get(ctx, id)
}

// SetProcess records the Terraform process a run's worker starts (PID 0: about
// to start, its stream file chosen). The stream offset starts again at zero.
// Only the worker holding the run may.
func (q *Runs) SetProcess(ctx context.Context, id, worker string, p Process) error {
	res, err := q.s.db.ExecContext(ctx, `UPDATE runs SET process_pid = ?, process_identity = ?, process_step = ?, process_stream = ?,
		stream_offset = ? WHERE id = ? AND status = 'running' AND worker = ?`, p.PID, p.Identity, p.Step, p.Stream, p.Offset, id, worker)
	if err != nil {
		return fmt.Errorf("record the process of run %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Errorf(EConflict, "run %s is no longer held by %s", id, worker)
	}
	return nil
}

// AppendStream stores log lines of a run together with how far its process
// stream has been read, in one transaction: after a crash, reading resumes
// exactly after the last stored line, never losing or repeating one.
func (q *Runs) AppendStream(ctx context.Context, id string, offset int64, lines ...*LogLine) error {
	var deploymentID string
	err := q.s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "UPDATE runs SET stream_offset = ? WHERE id = ? RETURNING deployment_id", offset, id).
			Scan(&deploymentID); err != nil {
			return notFound(err, "run", id)
		}
		return appendLines(ctx, tx, q.s, deploymentID, lines)
	})
	if err != nil {
		return wrapUnlessStoreError(err, "append the stream of run %s", id)
	}
	if len(lines) > 0 {
		q.s.counts.forget(deploymentID) // filtered log totals of this deployment changed
		logNotify(deploymentID)
	}
	return nil
}

// Result is how a run ended.
type Result struct {
	Status RunStatus // succeeded, failed or cancelled
	Error  string
	// Outputs replaces the deployment's outputs when not nil.
	Outputs json.RawMessage
	// Worker, when set, is the worker that must still hold the run: a run
	// taken over by another worker is not finished by the one that lost it.
	Worker string
}

// Finish records the end of a running run and moves its deployment to the
// matching complete or failed status (actions leave the status alone). A
// successful delete marks the deployment deleted and its infrastructure gone.
// A run's outcome is recorded exactly once: the update is conditional on the
// run still running (and held by res.Worker when set), so whatever the order of
// finish, cancel, timeout, reset and stalled detection, only the first one
// counts; the others are conflicts that change nothing.
func (q *Runs) Finish(ctx context.Context, id string, res Result) error {
	return q.s.tx(ctx, func(tx *sql.Tx) error {
		r, err := scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
		if err != nil {
			return notFound(err, "run", id)
		}
		now := q.s.Now()
		upd, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'
			AND (? = '' OR worker = ?)`, res.Status, res.Error, fmtTime(now), id, res.Worker, res.Worker)
		if err != nil {
			return fmt.Errorf("finish run %s: %w", id, err)
		}
		if n, _ := upd.RowsAffected(); n == 0 {
			if r.Status != RunRunning {
				return Errorf(EConflict, "run %s is %s, not running", id, r.Status)
			}
			return Errorf(EConflict, "run %s is held by %s, not %s", id, r.Worker, res.Worker)
		}
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
	err := q.s.tx(ctx, func(tx *sql.Tx) error {
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

// Running returns every running run (on startup, all of them are orphans).
func (q *Runs) Running(ctx context.Context) ([]*Run, error) {
	return q.query(ctx, "WHERE status = 'running' ORDER BY seq")
}

// Stalled returns running runs whose last heartbeat is older than before.
func (q *Runs) Stalled(ctx context.Context, before time.Time) ([]*Run, error) {
	return q.query(ctx, "WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?) ORDER BY seq", fmtTime(before))
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

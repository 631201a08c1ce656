package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Job is a background job of the service itself, such as a log purge: queued by
// an admin or a schedule, run by the engine in short transactions, followed
// through the API while it works.
type Job struct {
	ID          string          `json:"id"`
	Kind        JobKind         `json:"kind"`
	Status      JobStatus       `json:"status"`
	Params      json.RawMessage `json:"params"`
	Progress    json.RawMessage `json:"progress"`
	Error       string          `json:"error"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	HeartbeatAt *time.Time      `json:"-"`
	Worker      string          `json:"-"`
}

// JobKind says what a job does.
type JobKind string

// JobStatus is where a job is.
type JobStatus string

// Job kinds and statuses.
const (
	JobLogPurge JobKind = "log_purge"

	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
)

// Jobs stores the service's background jobs. Only admins see them.
type Jobs struct{ s *Store }

const jobColumns = `id, kind, status, params, progress, error, worker, COALESCE(created_by, ''), created_at, started_at, finished_at, heartbeat_at`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	var params, progress, created string
	var started, finished, heartbeat sql.NullString
	if err := row.Scan(&j.ID, &j.Kind, &j.Status, &params, &progress, &j.Error, &j.Worker, &j.CreatedBy, &created,
		&started, &finished, &heartbeat); err != nil {
		return nil, err
	}
	j.Params, j.Progress = json.RawMessage(params), json.RawMessage(progress)
	j.CreatedAt = parseTime(created)
	j.StartedAt, j.FinishedAt, j.HeartbeatAt = parseTimePtr(started), parseTimePtr(finished), parseTimePtr(heartbeat)
	return &j, nil
}

// Create queues a job.
func (q *Jobs) Create(ctx context.Context, kind JobKind, params any, createdBy string) (*Job, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("job params: %w", err)
	}
	j := &Job{ID: NewID(), Kind: kind, Status: JobQueued, Params: raw, Progress: json.RawMessage("{}"), CreatedBy: createdBy, CreatedAt: q.s.Now()}
	err = q.s.tx(ctx, func(tx *txn) error {
		tx.notify(TopicJobs, "") // whichever replica runs jobs hears it
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, kind, status, params, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			j.ID, j.Kind, j.Status, string(raw), nullIfEmpty(createdBy), fmtTime(j.CreatedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create job: %w", err)
	}
	return j, nil
}

// Get returns one job.
func (q *Jobs) Get(ctx context.Context, id string) (*Job, error) {
	j, err := scanJob(q.s.db.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "job", id)
	}
	return j, nil
}

// List returns a page of jobs, newest first.
func (q *Jobs) List(ctx context.Context, p Page) ([]*Job, Total, error) {
	var n int
	if err := q.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM jobs").Scan(&n); err != nil {
		return nil, Total{}, fmt.Errorf("count jobs: %w", err)
	}
	rows, err := q.s.db.QueryContext(ctx, "SELECT "+jobColumns+" FROM jobs ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", p.limit(), p.offset())
	if err != nil {
		return nil, Total{}, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	list := []*Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, Total{}, fmt.Errorf("list jobs: %w", err)
		}
		list = append(list, j)
	}
	return list, totalOf(n, p), rows.Err()
}

// Claim gives a worker the oldest queued job, or a running one whose heartbeat
// is older than staleBefore (its worker died: jobs are idempotent and restart),
// marked running; nil when there is none.
func (q *Jobs) Claim(ctx context.Context, worker string, staleBefore time.Time) (*Job, error) {
	var claimed *Job
	err := q.s.tx(ctx, func(tx *txn) error {
		claimed = nil
		j, err := scanJob(tx.QueryRowContext(ctx, "SELECT "+jobColumns+` FROM jobs
			WHERE status = 'queued' OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?))
			ORDER BY created_at LIMIT 1`+tx.d.skipLocked(), fmtTime(staleBefore)))
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim job: %w", err)
		}
		now := q.s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'running', worker = ?, started_at = COALESCE(started_at, ?),
			heartbeat_at = ? WHERE id = ?`, worker, fmtTime(now), fmtTime(now), j.ID); err != nil {
			return fmt.Errorf("claim job %s: %w", j.ID, err)
		}
		j.Status, j.Worker, j.HeartbeatAt = JobRunning, worker, &now
		if j.StartedAt == nil {
			j.StartedAt = &now
		}
		claimed = j
		return nil
	})
	return claimed, err
}

// Progress records how far a running job got (and that its worker is alive).
func (q *Jobs) Progress(ctx context.Context, id string, progress any) error {
	raw, err := json.Marshal(progress)
	if err != nil {
		return fmt.Errorf("job progress: %w", err)
	}
	_, err = q.s.db.ExecContext(ctx, "UPDATE jobs SET progress = ?, heartbeat_at = ? WHERE id = ? AND status = 'running'",
		string(raw), fmtTime(q.s.Now()), id)
	if err != nil {
		return fmt.Errorf("record progress of job %s: %w", id, err)
	}
	return nil
}

// Finish records how a running job ended, with its last progress.
func (q *Jobs) Finish(ctx context.Context, id string, progress any, jobErr error) error {
	raw, err := json.Marshal(progress)
	if err != nil {
		return fmt.Errorf("job progress: %w", err)
	}
	status, msg := JobSucceeded, ""
	if jobErr != nil {
		status, msg = JobFailed, jobErr.Error()
	}
	_, err = q.s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, progress = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`,
		status, string(raw), msg, fmtTime(q.s.Now()), id)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

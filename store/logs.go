package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"
)

// LogLine is one line of a deployment's log: from Terraform's JSON stream, from the
// orchestrator's own steps, or from the translator. Lines are append-only and
// numbered per deployment, so a follower resumes after the last seq it saw.
type LogLine struct {
	DeploymentID string    `json:"-"`
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	Level        string    `json:"level"`  // debug, info, warn, error
	Source       string    `json:"source"` // terraform, orchestrator, tosca2tf
	RunID        string    `json:"run_id"`
	Resource     string    `json:"resource"`
	Message      string    `json:"message"`
}

// Log levels and sources.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"

	SourceTerraform    = "terraform"
	SourceOrchestrator = "orchestrator"
	SourceTranslator   = "tosca2tf"
)

// LogLevels and LogSources list the valid values, for validating filters.
var (
	LogLevels  = []string{LevelDebug, LevelInfo, LevelWarn, LevelError}
	LogSources = []string{SourceTerraform, SourceOrchestrator, SourceTranslator}
)

// Logs stores log lines and wakes followers when lines arrive.
type Logs struct {
	s *Store
}

// logWaiters wakes followers of a deployment's log; one channel per deployment is
// closed (and replaced) on every append.
var logWaiters = struct {
	sync.Mutex
	ch map[string]chan struct{}
}{ch: map[string]chan struct{}{}}

func logSignal(deploymentID string) chan struct{} {
	logWaiters.Lock()
	defer logWaiters.Unlock()
	ch, ok := logWaiters.ch[deploymentID]
	if !ok {
		ch = make(chan struct{})
		logWaiters.ch[deploymentID] = ch
	}
	return ch
}

func logNotify(deploymentID string) {
	logWaiters.Lock()
	defer logWaiters.Unlock()
	if ch, ok := logWaiters.ch[deploymentID]; ok {
		close(ch)
		delete(logWaiters.ch, deploymentID)
	}
}

// Append numbers and stores lines of one deployment, in one transaction.
func (q *Logs) Append(ctx context.Context, deploymentID string, lines ...*LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := q.s.tx(ctx, func(tx *sql.Tx) error { return appendLines(ctx, tx, q.s, deploymentID, lines) })
	if err != nil {
		return wrapUnlessStoreError(err, "append logs of %s", deploymentID)
	}
	logNotify(deploymentID)
	return nil
}

// appendLines numbers and inserts lines inside a transaction; the caller wakes
// followers (logNotify) once it commits.
func appendLines(ctx context.Context, tx *sql.Tx, s *Store, deploymentID string, lines []*LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	var last int64
	if err := tx.QueryRowContext(ctx, "UPDATE deployments SET log_seq = log_seq + ? WHERE id = ? RETURNING log_seq",
		len(lines), deploymentID).Scan(&last); err != nil {
		return notFound(err, "deployment", deploymentID)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO log_lines (deployment_id, seq, time, level, source, run_id, resource, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	first := last - int64(len(lines)) + 1
	for i, l := range lines {
		l.DeploymentID, l.Seq = deploymentID, first+int64(i)
		if l.Time.IsZero() {
			l.Time = s.Now()
		}
		if _, err := stmt.ExecContext(ctx, deploymentID, l.Seq, fmtTime(l.Time), l.Level, l.Source, l.RunID, l.Resource, l.Message); err != nil {
			return err
		}
	}
	return nil
}

// LogFilter narrows a log listing. Zero values do not filter.
type LogFilter struct {
	Since    *time.Time
	Until    *time.Time
	Level    string // this level and above
	Source   string
	RunID    string
	AfterSeq int64 // lines with a greater seq only (resuming a follower)
}

func levelsFrom(level string) []string {
	for i, l := range LogLevels {
		if l == level {
			return LogLevels[i:]
		}
	}
	return LogLevels
}

// List returns a page of a deployment's log in seq order.
func (q *Logs) List(ctx context.Context, deploymentID string, f LogFilter, p Page) ([]*LogLine, Total, error) {
	where, args := []string{"deployment_id = ?"}, []any{deploymentID}
	if f.Since != nil {
		where = append(where, "time >= ?")
		args = append(args, fmtTime(*f.Since))
	}
	if f.Until != nil {
		where = append(where, "time < ?")
		args = append(args, fmtTime(*f.Until))
	}
	if f.Level != "" {
		lv := levelsFrom(f.Level)
		where = append(where, "level IN ("+strings.TrimSuffix(strings.Repeat("?,", len(lv)), ",")+")")
		for _, l := range lv {
			args = append(args, l)
		}
	}
	if f.Source != "" {
		where = append(where, "source = ?")
		args = append(args, f.Source)
	}
	if f.RunID != "" {
		where = append(where, "run_id = ?")
		args = append(args, f.RunID)
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	cond := strings.Join(where, " AND ")
	var n int
	if err := q.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_lines WHERE "+cond, args...).Scan(&n); err != nil {
		return nil, Total{}, fmt.Errorf("count logs: %w", err)
	}
	rows, err := q.s.db.QueryContext(ctx, `SELECT seq, time, level, source, run_id, resource, message FROM log_lines WHERE `+cond+
		" ORDER BY seq LIMIT ? OFFSET ?", append(args, p.limit(), p.offset())...)
	if err != nil {
		return nil, Total{}, fmt.Errorf("list logs: %w", err)
	}
	defer rows.Close()
	lines := []*LogLine{}
	for rows.Next() {
		l := &LogLine{DeploymentID: deploymentID}
		var t string
		if err := rows.Scan(&l.Seq, &t, &l.Level, &l.Source, &l.RunID, &l.Resource, &l.Message); err != nil {
			return nil, Total{}, fmt.Errorf("list logs: %w", err)
		}
		l.Time = parseTime(t)
		lines = append(lines, l)
	}
	return lines, totalOf(n, p), rows.Err()
}

// Wait blocks until the deployment's log has a line after afterSeq, or ctx ends.
// Followers call it between reads instead of polling.
func (q *Logs) Wait(ctx context.Context, deploymentID string, afterSeq int64) error {
	ch := logSignal(deploymentID) // take the channel before reading, so no append is missed
	var last int64
	if err := q.s.db.QueryRowContext(ctx, "SELECT log_seq FROM deployments WHERE id = ?", deploymentID).Scan(&last); err != nil {
		return notFound(err, "deployment", deploymentID)
	}
	if last > afterSeq {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Purge deletes log lines older than before, batch lines per transaction so the
// database stays responsive, and returns how many went.
func (q *Logs) Purge(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 5000
	}
	var total int64
	for {
		res, err := q.s.db.ExecContext(ctx, `DELETE FROM log_lines WHERE (deployment_id, seq) IN
			(SELECT deployment_id, seq FROM log_lines WHERE time < ? LIMIT ?)`, fmtTime(before), batch)
		if err != nil {
			return total, fmt.Errorf("purge logs: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("purge logs: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// LastSeq returns the sequence number of a deployment's newest log line.
func (q *Logs) LastSeq(ctx context.Context, deploymentID string) (int64, error) {
	var last int64
	if err := q.s.db.QueryRowContext(ctx, "SELECT log_seq FROM deployments WHERE id = ?", deploymentID).Scan(&last); err != nil {
		return 0, notFound(err, "deployment", deploymentID)
	}
	return last, nil
}

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
	// SourceConfiguration is software configuration: Ansible task results and
	// script output, with the software node as the resource.
	SourceConfiguration = "configuration"
)

// LogLevels and LogSources list the valid values, for validating filters.
var (
	LogLevels  = []string{LevelDebug, LevelInfo, LevelWarn, LevelError}
	LogSources = []string{SourceTerraform, SourceOrchestrator, SourceTranslator, SourceConfiguration}
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

// logNotifyAll wakes every follower (notifications may have been missed).
func logNotifyAll() {
	logWaiters.Lock()
	defer logWaiters.Unlock()
	for id, ch := range logWaiters.ch {
		close(ch)
		delete(logWaiters.ch, id)
	}
}

// Append numbers and stores lines of one deployment, in one transaction.
func (q *Logs) Append(ctx context.Context, deploymentID string, lines ...*LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := q.s.tx(ctx, func(tx *txn) error { return appendLines(ctx, tx, q.s, deploymentID, lines) })
	if err != nil {
		return wrapUnlessStoreError(err, "append logs of %s", deploymentID)
	}
	return nil
}

// appendLines numbers and inserts lines inside a transaction. The numbers come
// from the deployment's row, locked until the commit: appends of one
// deployment commit in the order of their numbers, so a follower reading
// "after seq N" never misses a line that commits later with a smaller one. The
// commit wakes the deployment's followers on every replica, and drops the
// cached totals of its filtered log pages.
func appendLines(ctx context.Context, tx *txn, s *Store, deploymentID string, lines []*LogLine) error {
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
	tx.notify(TopicLogs, deploymentID)
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

// Next returns up to limit lines after f.AfterSeq matching f, in seq order,
// without counting: what a follower reads between waits.
func (q *Logs) Next(ctx context.Context, deploymentID string, f LogFilter, limit int) ([]*LogLine, error) {
	cond, args := logCondition(deploymentID, f)
	return q.query(ctx, deploymentID, "WHERE "+cond+" ORDER BY seq LIMIT ?", append(args, limit)...)
}

// List returns a page of a deployment's log in seq order. A deployment's lines
// are numbered without gaps and retention removes only its oldest ones, so an
// unfiltered page is a range of sequence numbers: the last page of a
// million-line log costs what the first does. Filtered pages count (cached, see
// countCache) and skip.
func (q *Logs) List(ctx context.Context, deploymentID string, f LogFilter, p Page) ([]*LogLine, Total, error) {
	if f == (LogFilter{}) {
		return q.listRange(ctx, deploymentID, p)
	}
	cond, args := logCondition(deploymentID, f)
	n, err := q.s.counts.get(ctx, q.s, "SELECT COUNT(*) FROM log_lines WHERE "+cond, args)
	if err != nil {
		return nil, Total{}, fmt.Errorf("count logs: %w", err)
	}
	lines, err := q.query(ctx, deploymentID, "WHERE "+cond+" ORDER BY seq LIMIT ? OFFSET ?", append(args, p.limit(), p.offset())...)
	return lines, totalOf(n, p), err
}

// logCondition is the WHERE clause of a filtered log read.
func logCondition(deploymentID string, f LogFilter) (string, []any) {
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
	return strings.Join(where, " AND "), args
}

// listRange serves an unfiltered page as a sequence range.
func (q *Logs) listRange(ctx context.Context, deploymentID string, p Page) ([]*LogLine, Total, error) {
	var first sql.NullInt64
	var last int64
	err := q.s.db.QueryRowContext(ctx, `SELECT (SELECT MIN(seq) FROM log_lines WHERE deployment_id = d.id), d.log_seq
		FROM deployments d WHERE d.id = ?`, deploymentID).Scan(&first, &last)
	if err != nil {
		return nil, Total{}, notFound(err, "deployment", deploymentID)
	}
	if !first.Valid {
		return []*LogLine{}, totalOf(0, p), nil
	}
	from := first.Int64 + int64(p.offset())
	lines, err := q.query(ctx, deploymentID, "WHERE deployment_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
		deploymentID, from, from+int64(p.limit()))
	return lines, totalOf(int(last-first.Int64+1), p), err
}

func (q *Logs) query(ctx context.Context, deploymentID, tail string, args ...any) ([]*LogLine, error) {
	rows, err := q.s.db.QueryContext(ctx, `SELECT seq, time, level, source, run_id, resource, message FROM log_lines `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	defer rows.Close()
	lines := []*LogLine{}
	for rows.Next() {
		l := &LogLine{DeploymentID: deploymentID}
		var t string
		if err := rows.Scan(&l.Seq, &t, &l.Level, &l.Source, &l.RunID, &l.Resource, &l.Message); err != nil {
			return nil, fmt.Errorf("list logs: %w", err)
		}
		l.Time = parseTime(t)
		lines = append(lines, l)
	}
	return lines, rows.Err()
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

// PurgeRange is the oldest part of one deployment's log that a purge deletes:
// sequence numbers From to To, both included.
type PurgeRange struct {
	DeploymentID string
	From, To     int64
}

// Lines is how many lines the range holds.
func (r PurgeRange) Lines() int64 { return r.To - r.From + 1 }

// PurgePlan finds, for every deployment, the prefix of its log up to its newest
// line stamped before before. Retention deletes each deployment's oldest lines
// only, so the rest stays a gapless range (which list pages rely on); a line
// the clock stamped later than a line after it (a clock step back) goes with
// its older neighbours.
func (q *Logs) PurgePlan(ctx context.Context, before time.Time) ([]PurgeRange, error) {
	var plan []PurgeRange
	after := ""
	for {
		rows, err := q.s.db.QueryContext(ctx, `SELECT d.id,
			(SELECT l.seq FROM log_lines l WHERE l.deployment_id = d.id ORDER BY l.seq LIMIT 1),
			(SELECT MAX(l.seq) FROM log_lines l WHERE l.deployment_id = d.id AND l.time < ?)
			FROM deployments d WHERE d.id > ? ORDER BY d.id LIMIT 1000`, fmtTime(before), after)
		if err != nil {
			return nil, fmt.Errorf("plan log purge: %w", err)
		}
		n := 0
		for rows.Next() {
			var id string
			var first, cut sql.NullInt64
			if err := rows.Scan(&id, &first, &cut); err != nil {
				rows.Close()
				return nil, fmt.Errorf("plan log purge: %w", err)
			}
			after, n = id, n+1
			if first.Valid && cut.Valid && cut.Int64 >= first.Int64 {
				plan = append(plan, PurgeRange{DeploymentID: id, From: first.Int64, To: cut.Int64})
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("plan log purge: %w", err)
		}
		if n < 1000 {
			return plan, nil
		}
	}
}

// DeleteRanges deletes the ranges of a purge plan in transactions of about batch
// lines each: a big range is cut in pieces, small ranges of many deployments
// share one transaction. Each transaction is a few key-range deletes, so the
// API's writers wait milliseconds at most. done is called after each
// transaction with the lines it deleted and the ranges it finished.
func (q *Logs) DeleteRanges(ctx context.Context, plan []PurgeRange, batch int64, done func(lines int64, ranges int)) error {
	if batch <= 0 {
		batch = 10000
	}
	type piece struct {
		r        PurgeRange
		finishes bool
	}
	var pending []piece
	var size int64
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		var deleted int64
		finished := 0
		err := q.s.tx(ctx, func(tx *txn) error {
			deleted, finished = 0, 0
			for _, p := range pending {
				res, err := tx.ExecContext(ctx, "DELETE FROM log_lines WHERE deployment_id = ? AND seq >= ? AND seq <= ?",
					p.r.DeploymentID, p.r.From, p.r.To)
				if err != nil {
					return fmt.Errorf("purge logs of %s: %w", p.r.DeploymentID, err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("purge logs of %s: %w", p.r.DeploymentID, err)
				}
				deleted += n
				tx.notify(topicCounts, p.r.DeploymentID)
				if p.finishes {
					finished++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		pending, size = pending[:0], 0
		if done != nil {
			done(deleted, finished)
		}
		return ctx.Err()
	}
	for _, r := range plan {
		for from := r.From; from <= r.To; {
			to := min(from+(batch-size)-1, r.To)
			pending = append(pending, piece{PurgeRange{DeploymentID: r.DeploymentID, From: from, To: to}, to == r.To})
			size += to - from + 1
			from = to + 1
			if size >= batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// Purge deletes every deployment's lines written before before (PurgePlan, then
// DeleteRanges) and returns how many went.
func (q *Logs) Purge(ctx context.Context, before time.Time, batch int64) (int64, error) {
	plan, err := q.PurgePlan(ctx, before)
	if err != nil {
		return 0, err
	}
	var total int64
	err = q.DeleteRanges(ctx, plan, batch, func(n int64, _ int) { total += n })
	return total, err
}

// LastSeq returns the sequence number of a deployment's newest log line.
func (q *Logs) LastSeq(ctx context.Context, deploymentID string) (int64, error) {
	var last int64
	if err := q.s.db.QueryRowContext(ctx, "SELECT log_seq FROM deployments WHERE id = ?", deploymentID).Scan(&last); err != nil {
		return 0, notFound(err, "deployment", deploymentID)
	}
	return last, nil
}

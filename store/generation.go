package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// db is the database handle every query goes through: it speaks the dialect
// (placeholders, arguments) and counts writes. The store's generation changes
// after every committed write, so a cache of anything read from the store
// stays exact by checking it (see Generation).
type db struct {
	*sql.DB
	d *dialect
	// gen is the generation of a database only this process writes (SQLite).
	gen atomic.Uint64
	// genErrs numbers failed generation reads: each one is a value no cache
	// entry has, so a cache misses rather than serves something unchecked.
	genErrs atomic.Uint64
	// reads batches the generation reads of concurrent callers (PostgreSQL).
	reads genReader
}

// genReader shares one database read of the generation among the callers
// waiting for it. A caller never joins a read that started before it asked: it
// waits for the next one, so it always sees every write committed before it
// asked. Under load the database answers one read per round trip, however
// many requests want one.
type genReader struct {
	mu      sync.Mutex
	pending *genRead // the next read, not started yet
	busy    bool     // a goroutine is reading
}

type genRead struct {
	done chan struct{}
	val  uint64
}

func (g *genReader) get(fetch func() uint64) uint64 {
	g.mu.Lock()
	if g.pending == nil {
		g.pending = &genRead{done: make(chan struct{})}
	}
	r := g.pending
	if !g.busy {
		g.busy = true
		go g.loop(fetch)
	}
	g.mu.Unlock()
	<-r.done
	return r.val
}

func (g *genReader) loop(fetch func() uint64) {
	for {
		g.mu.Lock()
		r := g.pending
		g.pending = nil
		if r == nil {
			g.busy = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		r.val = fetch() // starts after every caller waiting for r asked
		close(r.done)
	}
}

// ExecContext runs a statement and, when it changed something, moves the generation on.
func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := d.DB.ExecContext(ctx, d.d.rebind(query), d.d.args(args)...)
	if err == nil && isWrite(query) {
		if n, nerr := res.RowsAffected(); nerr != nil || n > 0 {
			d.bump()
		}
	}
	return res, err
}

// QueryContext runs a query.
func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.d.rebind(query), d.d.args(args)...)
}

// QueryRowContext runs a query that returns one row. A write that returns a
// row (UPDATE ... RETURNING) moves the generation itself (see Store.changed).
func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.d.rebind(query), d.d.args(args)...)
}

// isWrite tells statements that change data from reads.
func isWrite(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "INSERT", "UPDATE", "DELETE":
		return true
	}
	return false
}

// bump moves the generation on after a committed write. On PostgreSQL the
// generation is a sequence every replica moves, taken right after the commit:
// a replica that reads it after this write's commit returned reads a new value.
func (d *db) bump() {
	if !d.d.pg() {
		d.gen.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The commit happened: a failure here leaves other replicas' caches stale
	// until the next write anywhere (the leader also moves it every minute).
	_, _ = d.DB.ExecContext(ctx, "SELECT nextval('store_generation')")
}

// Generation changes after every write committed to the database (a
// transaction, or a single statement). A reader that takes the generation
// before reading and finds it unchanged later knows that what it read is still
// what the database holds: the service's response caches rely on it.
//
// SQLite has one writer, this process, and counts its writes in memory. On
// PostgreSQL every replica writes: the generation is a database sequence that
// each writer moves right after its commit, and reading it costs one round
// trip, shared by the concurrent callers (genReader). The one window where a
// cache may be stale is between a commit and that move (a round trip), or
// longer if the writer dies in it: then until the next write of any replica,
// and at most a minute (the leader moves it every minute).
func (s *Store) Generation() uint64 {
	if !s.db.d.pg() {
		return s.db.gen.Load()
	}
	return s.db.reads.get(s.fetchGeneration)
}

func (s *Store) fetchGeneration() uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int64
	if err := s.db.DB.QueryRowContext(ctx, "SELECT last_value FROM store_generation").Scan(&n); err != nil {
		return 1<<63 | s.db.genErrs.Add(1)
	}
	return uint64(n)
}

// changed moves the generation on after a write that did not go through
// ExecContext or tx (an UPDATE ... RETURNING read with QueryRowContext).
func (s *Store) changed() { s.db.bump() }

// BumpGeneration moves the generation on without a write: the leader does it
// every minute, bounding how long a cache can be stale when a replica died
// between a commit and its own move.
func (s *Store) BumpGeneration() { s.db.bump() }

package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Leadership: the service's singletons (cron jobs, the background job worker)
// run on one replica at a time, the holder of a PostgreSQL advisory lock. The
// lock belongs to a database session: when the leader dies its session ends
// and another replica takes the lock within leaderRetry. A leader that hangs
// (a paused process) keeps its connection open but sends nothing: the server
// ends the session after leaderIdle (idle_session_timeout) and the lock goes
// with it; the leader learns it lost the lock at its next ping. On SQLite the
// one process is always the leader.

// Leader timings: a leader pings its session every leaderPing; a session
// silent for leaderIdle is ended by the server; a replica that is not leader
// tries to become one every leaderRetry.
var (
	leaderPing  = 2 * time.Second
	leaderIdle  = 10 * time.Second
	leaderRetry = 2 * time.Second
)

// Leader is this process's bid for a named leadership.
type Leader struct {
	s    *Store
	name string
	key  int64

	mu      sync.Mutex
	leading bool
	ctx     context.Context // ends when the leadership is lost
	cancel  context.CancelFunc
	watch   []func(bool)
	done    chan struct{}
}

// Campaign bids for the named leadership until ctx ends, and keeps bidding
// when it is lost. Stop it by ending ctx.
func (s *Store) Campaign(ctx context.Context, name string) *Leader {
	l := &Leader{s: s, name: name, key: lockKey("leader/" + name), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.cancel() // not leading yet
	if !s.db.d.pg() {
		l.set(true)
		go func() { <-ctx.Done(); l.set(false); close(l.done) }()
		return l
	}
	go l.run(ctx)
	return l
}

// Leading reports whether this process leads now.
func (l *Leader) Leading() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading
}

// Context ends when the current leadership is lost (it is done already when
// this process does not lead): work done as leader runs under it.
func (l *Leader) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// OnChange calls fn (on the campaign's goroutine) whenever this process starts
// or stops leading, and once now with the current state.
func (l *Leader) OnChange(fn func(leading bool)) {
	l.mu.Lock()
	l.watch = append(l.watch, fn)
	leading := l.leading
	l.mu.Unlock()
	fn(leading)
}

// Done is closed when the campaign has ended (its ctx ended and the lock, if
// held, was released).
func (l *Leader) Done() <-chan struct{} { return l.done }

func (l *Leader) set(leading bool) {
	l.mu.Lock()
	if l.leading == leading {
		l.mu.Unlock()
		return
	}
	l.leading = leading
	if leading {
		l.ctx, l.cancel = context.WithCancel(context.Background())
	} else {
		l.cancel()
	}
	watch := append([]func(bool){}, l.watch...)
	l.mu.Unlock()
	for _, fn := range watch {
		fn(leading)
	}
}

func (l *Leader) run(ctx context.Context) {
	defer close(l.done)
	for ctx.Err() == nil {
		err := l.session(ctx)
		l.set(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.s.log("leader "+l.name+": session lost", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(leaderRetry):
		}
	}
}

// session holds one database session: it tries the lock every leaderRetry and,
// once it holds it, pings every leaderPing until the session fails or ctx ends.
func (l *Leader) session(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, l.s.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET idle_session_timeout = %d", leaderIdle.Milliseconds())); err != nil {
		return err
	}
	for {
		if !l.Leading() {
			var got bool
			if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&got); err != nil {
				return err
			}
			if got {
				l.set(true)
			}
		} else if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			return err
		}
		wait := leaderRetry
		if l.Leading() {
			wait = leaderPing
		}
		select {
		case <-ctx.Done():
			return nil // closing the session releases the lock
		case <-time.After(wait):
		}
	}
}

// Exclusive runs fn while no other process of the service runs an Exclusive
// section of the same name (a PostgreSQL advisory lock; a mutex on SQLite):
// replicas starting together on an empty database bootstrap it once.
func (s *Store) Exclusive(ctx context.Context, name string, fn func() error) error {
	if !s.db.d.pg() {
		s.exclusive.Lock()
		defer s.exclusive.Unlock()
		return fn()
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("exclusive %s: %w", name, err)
	}
	defer conn.Close()
	key := lockKey("exclusive/" + name)
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("exclusive %s: %w", name, err)
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", key)
	return fn()
}

// lockKey names an advisory lock.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("orchestrator/" + name))
	return int64(h.Sum64())
}

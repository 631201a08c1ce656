package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"
)

// countTTL is how long a list's total may be reused. Totals of list pages are
// therefore exact as of at most this long ago (documented in the README): a
// federation's dashboard polling page 1 of 100,000 deployments costs one count
// per TTL, not one per request.
const countTTL = 2 * time.Second

// countCache remembers COUNT(*) results per query and arguments for countTTL,
// and lets concurrent askers of the same count share one query.
type countCache struct {
	mu      sync.Mutex
	entries map[string]*countEntry
}

type countEntry struct {
	done chan struct{} // closed when n and err are set
	n    int
	err  error
	at   time.Time
}

func newCountCache() *countCache { return &countCache{entries: map[string]*countEntry{}} }

// get runs query (a COUNT) unless a fresh enough result for the same query and
// args is known or being computed.
func (c *countCache) get(ctx context.Context, db *sql.DB, query string, args []any) (int, error) {
	key := query + "\x00" + fmt.Sprint(args...)
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok {
		select {
		case <-e.done:
			if e.err != nil || now.Sub(e.at) > countTTL {
				ok = false
			}
		default: // being computed: wait for it
		}
	}
	if !ok {
		e = &countEntry{done: make(chan struct{})}
		c.entries[key] = e
		if len(c.entries) > 10000 {
			c.pruneLocked(now)
		}
		c.mu.Unlock()
		e.err = db.QueryRowContext(ctx, query, args...).Scan(&e.n)
		e.at = time.Now()
		close(e.done)
		return e.n, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.n, e.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// forget drops cached counts whose query mentions table: after a change that
// must show at once (a new deployment in its owner's list).
func (c *countCache) forget(table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.Contains(k, table) {
			delete(c.entries, k)
		}
	}
}

func (c *countCache) pruneLocked(now time.Time) {
	for k, e := range c.entries {
		select {
		case <-e.done:
			if now.Sub(e.at) > countTTL {
				delete(c.entries, k)
			}
		default:
		}
	}
}

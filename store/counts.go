package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// countTTL is how long a list's total may be reused while the database
// changes. Totals of list pages are exact when nothing was written since they
// were counted, and at most this old otherwise (documented in the README): a
// federation's dashboards polling page 1 of 100,000 deployments cost one count
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
	gen  uint64 // the store's generation before counting
}

func newCountCache() *countCache { return &countCache{entries: map[string]*countEntry{}} }

// get runs query (a COUNT) unless a result for the same query and args is
// known (counted at the current generation, or less than countTTL ago) or
// being computed.
func (c *countCache) get(ctx context.Context, s *Store, query string, args []any) (int, error) {
	key := query + "\x00" + fmt.Sprint(args...)
	now, gen := time.Now(), s.Generation()
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok {
		select {
		case <-e.done:
			if e.err != nil || (e.gen != gen && now.Sub(e.at) > countTTL) {
				ok = false
			}
		default: // being computed: wait for it
		}
	}
	if !ok {
		e = &countEntry{done: make(chan struct{}), gen: gen}
		c.entries[key] = e
		if len(c.entries) > 10000 {
			c.pruneLocked(now)
		}
		c.mu.Unlock()
		e.err = s.db.QueryRowContext(ctx, query, args...).Scan(&e.n)
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

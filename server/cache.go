package server

import (
	"encoding/json"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// genCache keeps values read from the store together with the store's
// generation at the time they were read (taken before reading). A value is used
// only while the generation is unchanged, so it is always what the database
// holds: nothing was written since. Under polling by many dashboards this turns
// most list pages and authentications into a map lookup.
type genCache[V any] struct {
	mu      sync.Mutex
	entries map[string]genEntry[V]
	max     int
}

type genEntry[V any] struct {
	gen uint64
	val V
}

func newGenCache[V any](max int) *genCache[V] {
	return &genCache[V]{entries: map[string]genEntry[V]{}, max: max}
}

// get returns the value stored for key at generation gen.
func (c *genCache[V]) get(key string, gen uint64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.gen != gen {
		var zero V
		return zero, false
	}
	return e.val, true
}

// put stores val, read at generation gen.
func (c *genCache[V]) put(key string, gen uint64, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop entries of older generations first, then any: a cache, not a store.
		for k, e := range c.entries {
			if e.gen != gen || len(c.entries) >= c.max {
				delete(c.entries, k)
			}
			if len(c.entries) < c.max*3/4 {
				break
			}
		}
	}
	c.entries[key] = genEntry[V]{gen: gen, val: val}
}

// cachedList answers a GET with a list page from the cache when nothing was
// written since it was rendered for the same caller and query, else renders it
// with compute. Only successful answers are kept. The key holds the caller and
// their admin flag: one user's page never serves another.
func (s *Server) cachedList(c *fiber.Ctx, compute func() (any, error)) error {
	p := principalOf(c)
	role := "user"
	if p.Admin {
		role = "admin"
	}
	key := p.User.ID + "|" + role + "|" + c.Path() + "?" + string(c.Request().URI().QueryString())
	// Read before reading anything: a write meanwhile makes the entry stale,
	// never wrong. The one read while authenticating serves (it came first).
	gen := p.gen
	if gen == 0 {
		gen = s.store.Generation()
	}
	body, ok := s.lists.get(key, gen)
	if !ok {
		v, err := compute()
		if err != nil {
			return err
		}
		if body, err = json.Marshal(v); err != nil {
			return err
		}
		s.lists.put(key, gen, body)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

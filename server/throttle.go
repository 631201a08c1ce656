package server

import (
	"strings"
	"sync"
	"time"
)

// throttle refuses logins for a key (a username, a client address) after too many
// failures in a window, for a lockout period. It lives in memory: a restart
// forgives, which is acceptable for one service process.
type throttle struct {
	max     int
	window  time.Duration
	lockout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
	locked   map[string]time.Time
}

func newThrottle(max int, window, lockout time.Duration, now func() time.Time) *throttle {
	return &throttle{max: max, window: window, lockout: lockout, now: now,
		failures: map[string][]time.Time{}, locked: map[string]time.Time{}}
}

// blocked returns how long the first locked key stays locked, or 0.
func (t *throttle) blocked(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		k = strings.ToLower(k)
		if until, ok := t.locked[k]; ok {
			if now.Before(until) {
				return until.Sub(now)
			}
			delete(t.locked, k)
		}
	}
	return 0
}

// fail records a failed attempt for every key.
func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		k = strings.ToLower(k)
		recent := t.failures[k][:0]
		for _, at := range t.failures[k] {
			if now.Sub(at) < t.window {
				recent = append(recent, at)
			}
		}
		recent = append(recent, now)
		t.failures[k] = recent
		if len(recent) >= t.max {
			t.locked[k] = now.Add(t.lockout)
			delete(t.failures, k)
		}
	}
	if len(t.failures) > 100000 { // a flood of distinct keys must not grow memory forever
		t.failures = map[string][]time.Time{}
	}
}

// succeed forgets the failures of a username after a good login.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, strings.ToLower(key))
}

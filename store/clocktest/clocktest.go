// Package clocktest is the one test clock of the service's tests: time moves only
// when a test says so, and it starts at an epoch the suite can move (set
// ORCHESTRATOR_TEST_EPOCH, RFC 3339, e.g. ten years ahead) to prove that no test
// depends on the calendar date. It is never used by the service binary.
package clocktest

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// EpochEnv names the environment variable that moves every test clock.
const EpochEnv = "ORCHESTRATOR_TEST_EPOCH"

// defaultEpoch is an arbitrary fixed instant: tests must pass with any other.
var defaultEpoch = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// Epoch is where test clocks start: ORCHESTRATOR_TEST_EPOCH when set, else a fixed date.
func Epoch() time.Time {
	v := os.Getenv(EpochEnv)
	if v == "" {
		return defaultEpoch
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(fmt.Sprintf("%s=%q is not an RFC 3339 time: %v", EpochEnv, v, err))
	}
	return t.UTC()
}

// Offset is how far the test epoch is from the wall clock: what a service started
// by a test adds to its clock (serve --clock-offset) to live at the same time.
func Offset() time.Duration { return time.Until(Epoch()) }

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at Epoch().
func New() *Clock { return &Clock{now: Epoch()} }

// Now is the clock's time; pass the method value (clk.Now) where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

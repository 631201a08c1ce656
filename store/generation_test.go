package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent generation reads share database round trips, but a caller never
// gets a value read before it asked: every write committed before the call is
// counted in what it gets.
func TestGenReader_NeverServesAReadStartedBeforeTheCall(t *testing.T) {
	t.Parallel()
	var committed, fetches atomic.Uint64
	fetch := func() uint64 {
		fetches.Add(1)
		v := committed.Load()
		time.Sleep(200 * time.Microsecond) // a round trip: writes commit meanwhile
		return v
	}
	var g genReader
	const callers, calls = 16, 200
	var wg sync.WaitGroup
	var stale atomic.Int64
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < calls; j++ {
				mine := committed.Add(1) // a write committed before the call
				if got := g.get(fetch); got < mine {
					stale.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := stale.Load(); n != 0 {
		t.Fatalf("%d calls got a generation older than a write committed before them", n)
	}
	if f := fetches.Load(); f == 0 || f > callers*calls {
		t.Fatalf("%d fetches for %d calls", f, callers*calls)
	}
	// Idle again: a later call starts a fresh read.
	committed.Add(1)
	if got := g.get(fetch); got != committed.Load() {
		t.Fatalf("an idle reader served %d, want %d", got, committed.Load())
	}
}

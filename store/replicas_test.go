package store

import (
	"context"
	"testing"
	"time"
)

// What one replica writes, another hears of at once. These tests open two
// stores on one PostgreSQL database, as two replicas do (SQLite has one
// process by design, see IsPostgres).

func twoReplicas(t *testing.T) (a, b *Store) {
	t.Helper()
	dsn := newDatabase(t, Postgres)
	a, _ = openTest(t, dsn)
	b, _ = openTest(t, dsn)
	return a, b
}

// A run queued on one replica wakes the other's workers; a cancel asked on
// one reaches the other; a log line written on one wakes the other's followers.
func TestReplicas_HearEachOthersWrites(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	ctx := context.Background()
	runs, cancels := make(chan string, 10), make(chan string, 10)
	b.Subscribe(TopicRuns, func(p string) { runs <- p })
	b.Subscribe(TopicCancel, func(p string) { cancels <- p })
	u := newUser(t, a, "u")
	d, run := newDeployment(t, a, u.ID)
	waitFor := func(ch chan string, what string) string {
		t.Helper()
		select {
		case p := <-ch:
			return p
		case <-time.After(5 * time.Second):
			t.Fatalf("replica b never heard of %s", what)
			return ""
		}
	}
	waitFor(runs, "the queued run")
	claimed, err := b.Runs.Claim(ctx, "b/w0", time.Minute)
	if err != nil || claimed == nil || claimed.ID != run.ID {
		t.Fatalf("b claims the run queued on a: %v %+v", err, claimed)
	}
	if _, err := a.Runs.Cancel(ctx, run.ID, "stop"); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(cancels, "the cancel"); got != run.ID {
		t.Fatalf("cancel of %q, want %s", got, run.ID)
	}
	// A follower on b waits for the line a writes.
	last, _ := b.Logs.LastSeq(ctx, d.ID)
	woke := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		woke <- b.Logs.Wait(wctx, d.ID, last)
	}()
	time.Sleep(50 * time.Millisecond) // let the follower block (the result does not depend on it)
	if err := a.Runs.AppendLog(ctx, claimed.Lease(), d.ID, &LogLine{Level: LevelInfo, Source: SourceTerraform, Message: "from a"}); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatalf("the follower on b did not wake: %v", err)
	}
}

// The generation moves on every replica after a write on any: a cache on b
// checked against it never serves what a changed.
func TestReplicas_GenerationMovesEverywhere(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	before := b.Generation()
	if b.Generation() != before {
		t.Fatal("the generation moved without a write")
	}
	newUser(t, a, "writer")
	if b.Generation() == before {
		t.Fatal("a write on replica a left replica b's generation unchanged")
	}
	n, _ := b.Users.Count(context.Background())
	if n != 1 {
		t.Fatalf("b counts %d users", n)
	}
}

// One replica leads at a time; when the leader's session ends (the replica
// died), another takes over within the retry period.
func TestReplicas_OneLeaderAndFailover(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	actx, stopA := context.WithCancel(context.Background())
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	la, lb := a.Campaign(actx, "test"), b.Campaign(bctx, "test")
	deadline := time.Now().Add(10 * time.Second)
	for !la.Leading() && !lb.Leading() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	leader, other, stop := la, lb, stopA
	if lb.Leading() {
		leader, other, stop = lb, la, stopB
	}
	if !leader.Leading() || other.Leading() {
		t.Fatalf("leading: a=%v b=%v, want exactly one", la.Leading(), lb.Leading())
	}
	lctx := leader.Context()
	stop()
	<-leader.Done()
	if lctx.Err() == nil || leader.Leading() {
		t.Fatal("a stopped leader still leads")
	}
	for deadline := time.Now().Add(10 * time.Second); !other.Leading() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !other.Leading() {
		t.Fatal("nobody took the leadership over")
	}
}

// Every replica must use the same service key.
func TestReplicas_OneServiceKey(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		a, _ := openTest(t, dsn)
		ctx := context.Background()
		if err := a.CheckServiceKey(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		if err := a.CheckServiceKey(ctx, "k1"); err != nil {
			t.Fatalf("the same key again: %v", err)
		}
		if err := a.CheckServiceKey(ctx, "k2"); err == nil {
			t.Fatal("another key was accepted")
		}
	})
}

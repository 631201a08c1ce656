package store

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/store/clocktest"
	"orchestrator/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// databases are the engines the whole store suite runs on.
var databases = []string{SQLite, Postgres}

// eachDatabase runs test once on SQLite and once on PostgreSQL (a throwaway
// cluster, see pgtest), in parallel subtests, each on a database of its own
// named by dsn.
func eachDatabase(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	for _, name := range databases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newDatabase(t, name))
		})
	}
}

// newDatabase returns the address of an empty database of the dialect.
func newDatabase(t *testing.T, dialect string) string {
	t.Helper()
	if dialect == Postgres {
		return pgtest.Database(t)
	}
	return filepath.Join(t.TempDir(), "s.db")
}

func openTest(t *testing.T, dsn string) (*Store, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New()
	s, err := Open(context.Background(), dsn, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

func newUser(t *testing.T, s *Store, name string) *User {
	t.Helper()
	u := &User{Username: name}
	if err := s.Users.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func newDeployment(t *testing.T, s *Store, owner string) (*Deployment, *Run) {
	t.Helper()
	d := &Deployment{Template: "tosca_definitions_version: tosca_simple_yaml_1_3", Target: "local", Owners: []string{owner}}
	run, err := s.Deployments.Create(context.Background(), d, owner)
	if err != nil {
		t.Fatal(err)
	}
	return d, run
}

func TestOpen_MigratesOnceAndReopens(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		dir := "migrations"
		if IsPostgres(dsn) {
			dir = "migrations/postgres"
		}
		files, err := fs.Glob(migrations, dir+"/*.sql")
		if err != nil || len(files) == 0 {
			t.Fatalf("embedded migrations: %v %v", files, err)
		}
		for i := 0; i < 2; i++ {
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatalf("open #%d: %v", i, err)
			}
			var n int
			s.db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n)
			if n != len(files) {
				t.Fatalf("migrations=%d, want %d", n, len(files))
			}
			if !IsPostgres(dsn) {
				var fk int
				var mode string
				s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk)
				s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
				if fk != 1 || mode != "wal" {
					t.Fatalf("foreign_keys=%d journal=%s", fk, mode)
				}
			}
			s.Close()
		}
	})
}

// Every SQLite migration has a PostgreSQL twin of the same name, and the other
// way round: a migration added for one engine only fails here.
func TestMigrations_EachHasATwin(t *testing.T) {
	names := func(pattern string) map[string]bool {
		files, err := fs.Glob(migrations, pattern)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range files {
			out[filepath.Base(f)] = true
		}
		return out
	}
	sqlite, pg := names("migrations/*.sql"), names("migrations/postgres/*.sql")
	for n := range sqlite {
		if !pg[n] {
			t.Errorf("migrations/%s has no PostgreSQL twin in migrations/postgres/", n)
		}
	}
	for n := range pg {
		if !sqlite[n] {
			t.Errorf("migrations/postgres/%s has no SQLite twin in migrations/", n)
		}
	}
}

// A database migrated by a newer binary (it holds a migration this one does
// not know) is refused at open, on both engines: never half-used.
func TestOpen_RefusesANewerSchema(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		if _, err := s.db.ExecContext(context.Background(), "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			"9999_from_the_future", fmtTime(s.Now())); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err := Open(context.Background(), dsn)
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") || !strings.Contains(err.Error(), "9999_from_the_future") {
			t.Fatalf("open a newer schema: %v", err)
		}
	})
}

func TestTransition(t *testing.T) {
	cases := []struct {
		from, to Status
		ok       bool
	}{
		{CreateInProgress, CreateComplete, true},
		{CreateInProgress, CreateFailed, true},
		{CreateInProgress, UpdateInProgress, false},
		{CreateComplete, UpdateInProgress, true},
		{CreateComplete, DeleteInProgress, true},
		{CreateFailed, UpdateInProgress, false},
		{CreateFailed, DeleteInProgress, true},
		{UpdateFailed, UpdateInProgress, true},
		{DeleteInProgress, DeleteComplete, true},
		{DeleteComplete, DeleteInProgress, false},
		{DeleteComplete, UpdateInProgress, false},
		{DeleteFailed, DeleteInProgress, true},
		{Unknown, DeleteInProgress, true},
	}
	for _, tc := range cases {
		err := Transition(tc.from, tc.to)
		if (err == nil) != tc.ok {
			t.Errorf("%s -> %s: err=%v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
		if err != nil && ErrorCode(err) != EConflict {
			t.Errorf("%s -> %s: code %s, want conflict", tc.from, tc.to, ErrorCode(err))
		}
	}
}

func TestRunQueue_OrderAndOneActivePerDeployment(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d1, create1 := newDeployment(t, s, u.ID)
		d2, create2 := newDeployment(t, s, u.ID)
		// An update queued behind the running create waits its turn.
		update1, err := s.Deployments.Enqueue(ctx, d1.ID, Request{Kind: RunUpdate, Behind: true})
		if err != nil {
			t.Fatal(err)
		}
		// Without Behind, a busy deployment refuses with its current status.
		_, err = s.Deployments.Enqueue(ctx, d1.ID, Request{Kind: RunUpdate})
		if ErrorCode(err) != EConflict {
			t.Fatalf("want conflict, got %v", err)
		}
		if e := err.(*Error); e.Details[0].Extra["current_status"] != string(CreateInProgress) {
			t.Fatalf("conflict lacks current status: %+v", e.Details)
		}

		first, _ := s.Runs.Claim(ctx, "w1", time.Minute)
		second, _ := s.Runs.Claim(ctx, "w2", time.Minute)
		third, _ := s.Runs.Claim(ctx, "w3", time.Minute)
		if first.ID != create1.ID || second.ID != create2.ID || third != nil {
			t.Fatalf("claimed %v %v %v; want create1, create2, nothing (update waits)", first, second, third)
		}
		if err := s.Runs.Finish(ctx, create1.ID, Result{Status: RunSucceeded}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Deployments.Get(ctx, d1.ID)
		if got.Status != CreateComplete {
			t.Fatalf("after create: %s", got.Status)
		}
		next, _ := s.Runs.Claim(ctx, "w1", time.Minute)
		if next == nil || next.ID != update1.ID {
			t.Fatalf("want the update next, got %v", next)
		}
		got, _ = s.Deployments.Get(ctx, d1.ID)
		if got.Status != UpdateInProgress {
			t.Fatalf("a claimed update moves the status: %s", got.Status)
		}
		// A failed create leaves a queued update unstartable: it fails with a reason.
		upd2, _ := s.Deployments.Enqueue(ctx, d2.ID, Request{Kind: RunUpdate, Behind: true})
		s.Runs.Finish(ctx, create2.ID, Result{Status: RunFailed, Error: "boom"})
		if r, _ := s.Runs.Claim(ctx, "w2", time.Minute); r != nil {
			t.Fatalf("claimed %v, want nothing", r)
		}
		r, _ := s.Runs.Get(ctx, upd2.ID)
		if r.Status != RunFailed || r.Error == "" {
			t.Fatalf("update behind failed create: %+v", r)
		}
		got, _ = s.Deployments.Get(ctx, d2.ID)
		if got.Status != CreateFailed || got.StatusReason != "boom" {
			t.Fatalf("d2: %s %q", got.Status, got.StatusReason)
		}
	})
}

func TestCancelQueuedRunFailsIdleDeployment(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, run := newDeployment(t, s, u.ID)
		if _, err := s.Runs.Cancel(ctx, run.ID, "cancelled by u"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Deployments.Get(ctx, d.ID)
		if got.Status != CreateFailed || got.StatusReason != "cancelled by u" {
			t.Fatalf("%s %q", got.Status, got.StatusReason)
		}
		if _, err := s.Runs.Cancel(ctx, run.ID, "again"); ErrorCode(err) != EConflict {
			t.Fatalf("cancel twice: %v", err)
		}
	})
}

func TestResetOnlyWhenNoWorkerHoldsIt(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, _ := newDeployment(t, s, u.ID)
		s.Runs.Claim(ctx, "w1", 10*time.Minute)
		if _, err := s.Deployments.Reset(ctx, d.ID, "reset", clk.Now()); ErrorCode(err) != EConflict {
			t.Fatalf("reset with a live worker: %v", err)
		}
		clk.Advance(11 * time.Minute)
		got, err := s.Deployments.Reset(ctx, d.ID, "reset by admin", clk.Now())
		if err != nil || got.Status != CreateFailed || got.StatusReason != "reset by admin" {
			t.Fatalf("reset: %v %+v", err, got)
		}
		if _, err := s.Deployments.Reset(ctx, d.ID, "again", clk.Now()); ErrorCode(err) != EConflict {
			t.Fatalf("reset a failed deployment: %v", err)
		}
	})
}

func TestStateVersions_SerialNeverGoesBack(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, _ := newDeployment(t, s, u.ID)
		add := func(serial int64, lineage string) (bool, error) {
			return s.States.Add(ctx, Lease{}, &StateVersion{DeploymentID: d.ID, Serial: serial, Lineage: lineage, State: []byte(`{}`)})
		}
		if ok, err := add(3, "L"); !ok || err != nil {
			t.Fatalf("first: %v %v", ok, err)
		}
		if ok, err := add(3, "L"); ok || err != nil {
			t.Fatalf("same serial is not a new version: %v %v", ok, err)
		}
		if _, err := add(2, "L"); ErrorCode(err) != EConflict {
			t.Fatalf("lower serial: %v", err)
		}
		if _, err := add(9, "other"); ErrorCode(err) != EConflict {
			t.Fatalf("other lineage: %v", err)
		}
		add(5, "L")
		latest, _ := s.States.Latest(ctx, d.ID)
		if n, _ := s.States.Count(ctx, d.ID); latest.Serial != 5 || n != 2 {
			t.Fatalf("latest serial %d, count %d", latest.Serial, n)
		}
	})
}

func TestLogs_SeqFiltersWaitAndPurge(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, _ := newDeployment(t, s, u.ID)
		for i := 0; i < 10; i++ {
			level := LevelInfo
			if i%5 == 0 {
				level = LevelError
			}
			if err := s.Logs.Append(ctx, d.ID, &LogLine{Level: level, Source: SourceTerraform, Message: "line"}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(24 * time.Hour)
		}
		all, total, _ := s.Logs.List(ctx, d.ID, LogFilter{}, Page{Size: 100})
		if total.Items != 10 || all[0].Seq != 1 || all[9].Seq != 10 {
			t.Fatalf("seq: %d items, first %d", total.Items, all[0].Seq)
		}
		errs, _, _ := s.Logs.List(ctx, d.ID, LogFilter{Level: LevelWarn}, Page{Size: 100})
		if len(errs) != 2 {
			t.Fatalf("level filter: %d", len(errs))
		}
		after, _, _ := s.Logs.List(ctx, d.ID, LogFilter{AfterSeq: 7}, Page{Size: 100})
		if len(after) != 3 || after[0].Seq != 8 {
			t.Fatalf("after seq: %d", len(after))
		}
		// Wait returns at once when lines exist, and wakes when one arrives.
		if err := s.Logs.Wait(ctx, d.ID, 5); err != nil {
			t.Fatal(err)
		}
		woke := make(chan error, 1)
		go func() { woke <- s.Logs.Wait(ctx, d.ID, 10) }()
		time.Sleep(20 * time.Millisecond) // let the follower block; the assertion below does not depend on timing
		s.Logs.Append(ctx, d.ID, &LogLine{Level: LevelInfo, Source: SourceOrchestrator, Message: "new"})
		if err := <-woke; err != nil {
			t.Fatal(err)
		}
		// Purge lines older than 5 days, in batches of 2.
		n, err := s.Logs.Purge(ctx, clk.Now().Add(-5*24*time.Hour), 2)
		if err != nil || n != 5 { // lines of days 0..4
			t.Fatalf("purged %d, %v", n, err)
		}
		left, total, _ := s.Logs.List(ctx, d.ID, LogFilter{}, Page{Size: 100})
		if len(left) != 6 || left[0].Seq != 6 || total.Items != 6 {
			t.Fatalf("left %d (total %d), first seq %d", len(left), total.Items, left[0].Seq)
		}
		// Unfiltered pages are sequence ranges: the last page, and one past it.
		last, total, _ := s.Logs.List(ctx, d.ID, LogFilter{}, Page{Number: 3, Size: 2})
		if len(last) != 2 || last[0].Seq != 10 || last[1].Seq != 11 || total.Pages != 3 {
			t.Fatalf("last page: %d lines from %d, %d pages", len(last), last[0].Seq, total.Pages)
		}
		if past, _, _ := s.Logs.List(ctx, d.ID, LogFilter{}, Page{Number: 4, Size: 2}); len(past) != 0 {
			t.Fatalf("a page past the end has %d lines", len(past))
		}
	})
}

// A line stamped earlier than the line before it (the clock stepped back) is
// purged with its neighbours: what is left of a log stays a gapless range.
func TestLogsPurge_KeepsEachLogGapless(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "alice")
		d, _ := newDeployment(t, s, u.ID)
		start := clk.Now()
		stamps := []time.Duration{0, time.Hour, 2 * time.Hour, 30 * time.Minute, 3 * time.Hour, 4 * time.Hour} // the 4th stepped back
		for _, at := range stamps {
			if err := s.Logs.Append(ctx, d.ID, &LogLine{Time: start.Add(at), Level: LevelInfo, Source: SourceTerraform, Message: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.Logs.Purge(ctx, start.Add(150*time.Minute), 1000) // before 2h30: seqs 1-4 (the 4th is stamped 0h30)
		if err != nil || n != 4 {
			t.Fatalf("purged %d, %v", n, err)
		}
		left, total, _ := s.Logs.List(ctx, d.ID, LogFilter{}, Page{Size: 10})
		if total.Items != 2 || len(left) != 2 || left[0].Seq != 5 || left[1].Seq != 6 {
			t.Fatalf("left: %d lines (total %d)", len(left), total.Items)
		}
	})
}

func TestDeploymentsList_FiltersSortAndVisibility(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
		for i := 0; i < 5; i++ {
			d := &Deployment{Description: "alice's cluster", Labels: map[string]string{"env": "prod"}, Template: "x", Target: "local", Owners: []string{alice.ID}}
			if i%2 == 0 {
				d.Labels = map[string]string{"env": "dev"}
			}
			s.Deployments.Create(ctx, d, alice.ID)
			clk.Advance(time.Minute)
		}
		s.Deployments.Create(ctx, &Deployment{Description: "bob's", Template: "x", Target: "local", Owners: []string{bob.ID}}, bob.ID)
		list, total, _ := s.Deployments.List(ctx, DeploymentFilter{VisibleTo: alice.ID}, nil, Page{Size: 2})
		if total.Items != 5 || total.Pages != 3 || len(list) != 2 || !list[0].CreatedAt.After(list[1].CreatedAt) {
			t.Fatalf("visibility/newest first: %+v", total)
		}
		_, total, _ = s.Deployments.List(ctx, DeploymentFilter{Labels: []LabelFilter{{Key: "env", Value: "dev", HasValue: true}}}, nil, Page{})
		if total.Items != 3 {
			t.Fatalf("label filter: %d", total.Items)
		}
		_, total, _ = s.Deployments.List(ctx, DeploymentFilter{Q: "BOB"}, nil, Page{})
		if total.Items != 1 {
			t.Fatalf("q filter: %d", total.Items)
		}
		asc, _, _ := s.Deployments.List(ctx, DeploymentFilter{}, []SortKey{{Field: "created_at"}}, Page{})
		if !asc[0].CreatedAt.Before(asc[5].CreatedAt) {
			t.Fatal("ascending sort")
		}
		if _, _, err := s.Deployments.List(ctx, DeploymentFilter{}, []SortKey{{Field: "password"}}, Page{}); ErrorCode(err) != EInvalid {
			t.Fatalf("bad sort: %v", err)
		}
	})
}

func TestOwnersAndUserDeletion(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
		d, _ := newDeployment(t, s, alice.ID)
		if err := s.Deployments.RemoveOwner(ctx, d.ID, alice.ID); ErrorCode(err) != EConflict {
			t.Fatalf("removing the last owner: %v", err)
		}
		if _, err := s.Users.Delete(ctx, alice.ID, false, ""); ErrorCode(err) != EConflict {
			t.Fatalf("deleting a sole owner: %v", err)
		}
		if err := s.Deployments.AddOwner(ctx, d.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Users.Delete(ctx, alice.ID, false, ""); err != nil {
			t.Fatalf("deleting a co-owner: %v", err)
		}
		got, _ := s.Deployments.Get(ctx, d.ID)
		if len(got.Owners) != 1 || got.Owners[0] != bob.ID {
			t.Fatalf("owners: %v", got.Owners)
		}
	})
}

// A forced deletion hands the deployments the user owned alone to the admin who
// deletes: no deployment is ever left without an owner.
func TestForcedUserDeletionHandsDeploymentsOver(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		carol, root := newUser(t, s, "carol"), newUser(t, s, "root")
		d1, _ := newDeployment(t, s, carol.ID)
		d2, _ := newDeployment(t, s, carol.ID)
		if err := s.Deployments.AddOwner(ctx, d2.ID, root.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Users.Delete(ctx, carol.ID, true, ""); ErrorCode(err) != EConflict {
			t.Fatalf("a forced deletion with no heir: %v", err)
		}
		inherited, err := s.Users.Delete(ctx, carol.ID, true, root.ID)
		if err != nil || len(inherited) != 1 || inherited[0] != d1.ID {
			t.Fatalf("inherited %v, %v; want [%s]", inherited, err, d1.ID)
		}
		for _, id := range []string{d1.ID, d2.ID} {
			got, _ := s.Deployments.Get(ctx, id)
			if len(got.Owners) != 1 || got.Owners[0] != root.ID {
				t.Fatalf("owners of %s: %v", id, got.Owners)
			}
		}
	})
}

func TestResourcesSyncKeepsIDs(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, _ := newDeployment(t, s, u.ID)
		first := []*Resource{{Node: "vm", Instance: 0, ToscaType: "tosca.nodes.Compute", Kind: "compute", Address: "module.vm[0]", CloudID: "a", State: ResStarted},
			{Node: "vm", Instance: 1, ToscaType: "tosca.nodes.Compute", Kind: "compute", Address: "module.vm[1]", CloudID: "b", State: ResStarted}}
		if err := s.Resources.Sync(ctx, Lease{}, d.ID, first); err != nil {
			t.Fatal(err)
		}
		second := []*Resource{{Node: "vm", Instance: 0, ToscaType: "tosca.nodes.Compute", Kind: "compute", Address: "module.vm[0]", CloudID: "c", State: ResStopped,
			Attributes: map[string]any{"power_state": "stopped"}}}
		if err := s.Resources.Sync(ctx, Lease{}, d.ID, second); err != nil {
			t.Fatal(err)
		}
		list, _ := s.Resources.List(ctx, d.ID)
		if len(list) != 2 || list[0].ID != first[0].ID || list[0].CloudID != "c" || list[1].State != ResDeleted {
			b, _ := json.Marshal(list)
			t.Fatalf("sync: %s", b)
		}
	})
}

// Login counters live in the database: a restart forgives nothing.
func TestLogins_SurviveARestart(t *testing.T) {
	eachDatabase(t, func(t *testing.T, path string) {
		clk := clocktest.New()
		lim := LoginLimits{AccountFailures: 3, ClientAccounts: 10, Window: time.Minute, Lockout: 10 * time.Minute, KnownFor: time.Hour}
		ctx := context.Background()
		s, err := Open(ctx, path, WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if err := s.Logins.Failed(ctx, lim, "Carol", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		s, err = Open(ctx, path, WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wait, err := s.Logins.Blocked(ctx, lim, "carol", "192.0.2.1")
		if err != nil || wait != 10*time.Minute {
			t.Fatalf("after a restart: wait %v, %v; want 10m", wait, err)
		}
		if wait, _ := s.Logins.Blocked(ctx, lim, "carol", "192.0.2.2"); wait != 0 {
			t.Fatalf("another client is locked too: %v", wait)
		}
		clk.Advance(10 * time.Minute)
		if wait, _ := s.Logins.Blocked(ctx, lim, "carol", "192.0.2.1"); wait != 0 {
			t.Fatalf("the lock outlived its lockout: %v", wait)
		}
	})
}

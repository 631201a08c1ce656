package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The outcome of a run is recorded once, by whoever comes first; every later
// attempt (another finish, a stalled detector, a worker that lost the run) is a
// conflict that changes nothing.
func TestFinishRecordsTheOutcomeExactlyOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, run := newDeployment(t, s, u.ID)
		r, _ := s.Runs.Claim(ctx, "w1", time.Minute)
		if r == nil || r.ID != run.ID || r.Attempts != 1 || r.LeaseToken < 1 {
			t.Fatalf("claim: %+v", r)
		}
		results := []Result{
			{Status: RunSucceeded, Lease: r.Lease()},
			{Status: RunFailed, Error: "stalled"},
			{Status: RunCancelled, Error: "cancelled", Lease: r.Lease()},
			{Status: RunFailed, Error: "timed out", Lease: r.Lease()},
		}
		var wg sync.WaitGroup
		errs := make([]error, len(results))
		for i, res := range results {
			wg.Add(1)
			go func(i int, res Result) {
				defer wg.Done()
				errs[i] = s.Runs.Finish(ctx, run.ID, res)
			}(i, res)
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("two outcomes recorded: %v and %v", results[won], results[i])
			case err == nil:
				won = i
			case ErrorCode(err) != EConflict:
				t.Fatalf("finish %d: %v", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no outcome recorded")
		}
		got, _ := s.Runs.Get(ctx, run.ID)
		dep, _ := s.Deployments.Get(ctx, d.ID)
		if got.Status != results[won].Status || got.Error != results[won].Error {
			t.Fatalf("run %s %q, want %+v", got.Status, got.Error, results[won])
		}
		want := map[RunStatus]Status{RunSucceeded: CreateComplete, RunFailed: CreateFailed, RunCancelled: CreateFailed}[got.Status]
		if dep.Status != want {
			t.Fatalf("deployment %s after run %s", dep.Status, got.Status)
		}
	})
}

// A run taken over by a new worker (its old process is gone) can only be
// renewed, recorded and finished by the new worker: the old one's lease token
// is lost, and an unexpired lease cannot be taken when Expired is asked.
func TestTakeoverMovesTheLease(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		_, run := newDeployment(t, s, u.ID)
		old, _ := s.Runs.Claim(ctx, "old", time.Minute)
		p := Process{PID: 4242, Identity: "boot/123", Step: "apply", Stream: ".orchestrator/x-1.jsonl"}
		if err := s.Runs.SetProcess(ctx, old.Lease(), p); err != nil {
			t.Fatal(err)
		}
		h := Handover{From: old.Lease(), To: "new", For: time.Minute, Expired: true}
		if _, err := s.Runs.Takeover(ctx, h); ErrorCode(err) != EConflict {
			t.Fatalf("took over a live lease: %v", err)
		}
		clk.Advance(2 * time.Minute)
		taken, err := s.Runs.Takeover(ctx, h)
		if err != nil || taken.Worker != "new" || taken.Attempts != 2 || taken.LeaseToken <= old.LeaseToken ||
			taken.Process.PID != 4242 || taken.Process.Stream != p.Stream {
			t.Fatalf("takeover: %v %+v", err, taken)
		}
		if _, err := s.Runs.Takeover(ctx, Handover{From: old.Lease(), To: "third", For: time.Minute}); ErrorCode(err) != EConflict {
			t.Fatalf("a second takeover from the old lease: %v", err)
		}
		if _, err := s.Runs.Heartbeat(ctx, old.Lease(), time.Minute); !IsLeaseLost(err) {
			t.Fatalf("heartbeat of the old worker: %v", err)
		}
		if err := s.Runs.SetProcess(ctx, old.Lease(), Process{PID: 1}); !IsLeaseLost(err) {
			t.Fatalf("the old worker records a process: %v", err)
		}
		if err := s.Runs.Finish(ctx, run.ID, Result{Status: RunFailed, Lease: old.Lease()}); !IsLeaseLost(err) {
			t.Fatalf("the old worker finishes the run: %v", err)
		}
		if cancel, err := s.Runs.Heartbeat(ctx, taken.Lease(), time.Minute); err != nil || cancel {
			t.Fatalf("heartbeat of the new worker: %v %v", cancel, err)
		}
		if err := s.Runs.Finish(ctx, run.ID, Result{Status: RunSucceeded, Lease: taken.Lease()}); err != nil {
			t.Fatal(err)
		}
	})
}

// Every write a worker makes for its run is refused once its lease is lost:
// log lines, stream offsets, state versions, resources, progress, generated
// Terraform, power states, the outcome. Nothing of it reaches the database.
func TestFencing_ALostLeaseWritesNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, _ := newDeployment(t, s, u.ID)
		stale, _ := s.Runs.Claim(ctx, "stale", time.Minute)
		l := stale.Lease()
		line := func(msg string) *LogLine {
			return &LogLine{Level: LevelInfo, Source: SourceTerraform, RunID: stale.ID, Message: msg}
		}
		// While it holds the lease, the worker writes.
		if err := s.Runs.AppendStream(ctx, l, 10, line("mine")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.States.Add(ctx, l, &StateVersion{DeploymentID: d.ID, Serial: 1, Lineage: "L", State: []byte(`{"serial":1}`)}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		taken, err := s.Runs.Takeover(ctx, Handover{From: l, To: "survivor", For: time.Minute, Expired: true})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := s.Logs.LastSeq(ctx, d.ID)
		writes := map[string]error{}
		writes["stream"] = s.Runs.AppendStream(ctx, l, 99, line("stale stream"))
		writes["log"] = s.Runs.AppendLog(ctx, l, d.ID, line("stale log"))
		_, writes["state"] = s.States.Add(ctx, l, &StateVersion{DeploymentID: d.ID, Serial: 7, Lineage: "L", State: []byte(`{"serial":7}`)})
		writes["resources"] = s.Resources.Sync(ctx, l, d.ID, []*Resource{{Node: "vm", Kind: "compute", ToscaType: "tosca.nodes.Compute",
			Address: "module.vm[0]", State: ResCreated}})
		writes["resource state"] = s.Resources.SetState(ctx, l, d.ID, ResError)
		writes["progress"] = s.Deployments.SetProgress(ctx, l, d.ID, Progress{Done: 5, Planned: 5})
		writes["terraform"] = s.Deployments.SetGenerated(ctx, l, d.ID, "stale", "stale")
		writes["power"] = s.Deployments.SetPowerStates(ctx, l, d.ID, map[string]map[string]string{"vm": {"0": "stopped"}})
		writes["process"] = s.Runs.SetProcess(ctx, l, Process{PID: 7})
		_, writes["heartbeat"] = s.Runs.Heartbeat(ctx, l, time.Minute)
		writes["finish"] = s.Runs.Finish(ctx, stale.ID, Result{Status: RunSucceeded, Lease: l})
		for what, err := range writes {
			if !IsLeaseLost(err) {
				t.Errorf("%s with a lost lease: %v", what, err)
			}
		}
		after, _ := s.Logs.LastSeq(ctx, d.ID)
		latest, _ := s.States.Latest(ctx, d.ID)
		res, _ := s.Resources.List(ctx, d.ID)
		got, _ := s.Deployments.Get(ctx, d.ID)
		run, _ := s.Runs.Get(ctx, stale.ID)
		if after != before || latest.Serial != 1 || len(res) != 0 || got.Progress.Done != 0 || got.Terraform == "stale" ||
			len(got.PowerStates) != 0 || run.Process.Offset != 10 || run.Status != RunRunning || got.Status != CreateInProgress {
			t.Fatalf("a stale worker changed something: log %d->%d, serial %d, %d resources, progress %+v, power %v, offset %d, run %s, deployment %s",
				before, after, latest.Serial, len(res), got.Progress, got.PowerStates, run.Process.Offset, run.Status, got.Status)
		}
		// The new holder writes.
		if err := s.Runs.AppendLog(ctx, taken.Lease(), d.ID, line("survivor")); err != nil {
			t.Fatal(err)
		}
		if err := s.Runs.Finish(ctx, stale.ID, Result{Status: RunFailed, Error: "stalled", Lease: taken.Lease()}); err != nil {
			t.Fatal(err)
		}
	})
}

// Many workers claiming at once (several replicas' workers on PostgreSQL)
// take every run exactly once, never two runs of one deployment together, and
// the runs of a deployment in their queued order.
func TestClaim_ConcurrentWorkersTakeEachRunOnceInOrder(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		const deployments, perDeployment = 12, 3
		want := map[string][]string{}
		for i := 0; i < deployments; i++ {
			d, create := newDeployment(t, s, u.ID)
			want[d.ID] = []string{create.ID}
			for k := 1; k < perDeployment; k++ {
				r, err := s.Deployments.Enqueue(ctx, d.ID, Request{Kind: RunAction, Params: RunParams{Action: "start"}, Behind: true})
				if err != nil {
					t.Fatal(err)
				}
				want[d.ID] = append(want[d.ID], r.ID)
			}
		}
		var mu sync.Mutex
		got := map[string][]string{}
		running := map[string]string{} // deployment -> run
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				idle := 0
				for idle < 20 {
					r, err := s.Runs.Claim(ctx, fmt.Sprintf("w%d", w), time.Minute)
					if err != nil {
						errs <- err
						return
					}
					if r == nil {
						idle++
						time.Sleep(5 * time.Millisecond)
						continue
					}
					idle = 0
					mu.Lock()
					if other := running[r.DeploymentID]; other != "" {
						errs <- fmt.Errorf("run %s claimed while %s of the same deployment runs", r.ID, other)
					}
					running[r.DeploymentID] = r.ID
					got[r.DeploymentID] = append(got[r.DeploymentID], r.ID)
					mu.Unlock()
					time.Sleep(time.Millisecond)
					mu.Lock()
					delete(running, r.DeploymentID)
					mu.Unlock()
					if err := s.Runs.Finish(ctx, r.ID, Result{Status: RunSucceeded, Lease: r.Lease()}); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for id, runs := range want {
			if fmt.Sprint(got[id]) != fmt.Sprint(runs) {
				t.Errorf("deployment %s: runs taken %v, want each once in order %v", id, got[id], runs)
			}
		}
	})
}

// Log lines of a process stream and the offset read so far are stored together.
func TestAppendStreamStoresLinesAndOffsetTogether(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d, run := newDeployment(t, s, u.ID)
		claimed, _ := s.Runs.Claim(ctx, "w", time.Minute)
		if err := s.Runs.SetProcess(ctx, claimed.Lease(), Process{Stream: "a.jsonl", Offset: 99}); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.Runs.Get(ctx, run.ID); r.Process.Offset != 99 {
			t.Fatalf("offset %d", r.Process.Offset)
		}
		lines := []*LogLine{{Level: LevelInfo, Source: SourceTerraform, RunID: run.ID, Message: "one"},
			{Level: LevelInfo, Source: SourceTerraform, RunID: run.ID, Message: "two"}}
		if err := s.Runs.AppendStream(ctx, claimed.Lease(), 120, lines...); err != nil {
			t.Fatal(err)
		}
		r, _ := s.Runs.Get(ctx, run.ID)
		got, _, _ := s.Logs.List(ctx, d.ID, LogFilter{RunID: run.ID}, Page{Size: 10})
		if r.Process.Offset != 120 || len(got) != 2 || got[1].Message != "two" {
			t.Fatalf("offset %d, lines %v", r.Process.Offset, got)
		}
		if err := s.Runs.AppendStream(ctx, Lease{RunID: "no-such-run", Token: 1}, 1, lines[0]); !IsLeaseLost(err) {
			t.Fatalf("unknown run: %v", err)
		}
	})
}

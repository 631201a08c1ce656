package store

import (
	"context"
	"sync"
	"testing"
)

// The outcome of a run is recorded once, by whoever comes first; every later
// attempt (another finish, a stalled detector, a worker that lost the run) is a
// conflict that changes nothing.
func TestFinishRecordsTheOutcomeExactlyOnce(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := newUser(t, s, "u")
	d, run := newDeployment(t, s, u.ID)
	if r, _ := s.Runs.Claim(ctx, "w1"); r == nil || r.ID != run.ID || r.Attempts != 1 {
		t.Fatalf("claim: %+v", r)
	}
	results := []Result{
		{Status: RunSucceeded, Worker: "w1"},
		{Status: RunFailed, Error: "stalled"},
		{Status: RunCancelled, Error: "cancelled", Worker: "w1"},
		{Status: RunFailed, Error: "timed out", Worker: "w1"},
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
	r, _ := s.Runs.Get(ctx, run.ID)
	got, _ := s.Deployments.Get(ctx, d.ID)
	if r.Status != results[won].Status || r.Error != results[won].Error {
		t.Fatalf("run %s %q, want %+v", r.Status, r.Error, results[won])
	}
	want := map[RunStatus]Status{RunSucceeded: CreateComplete, RunFailed: CreateFailed, RunCancelled: CreateFailed}[r.Status]
	if got.Status != want {
		t.Fatalf("deployment %s after run %s", got.Status, r.Status)
	}
}

// A run taken over by a new worker (its old process is gone) can only be renewed,
// recorded and finished by the new worker.
func TestTakeoverMovesTheLease(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := newUser(t, s, "u")
	_, run := newDeployment(t, s, u.ID)
	s.Runs.Claim(ctx, "old")
	p := Process{PID: 4242, Identity: "boot/123", Step: "apply", Stream: ".orchestrator/x-1.jsonl"}
	if err := s.Runs.SetProcess(ctx, run.ID, "old", p); err != nil {
		t.Fatal(err)
	}
	taken, err := s.Runs.Takeover(ctx, run.ID, "old", "new")
	if err != nil || taken.Worker != "new" || taken.Attempts != 2 || taken.Process.PID != 4242 || taken.Process.Stream != p.Stream {
		t.Fatalf("takeover: %v %+v", err, taken)
	}
	if _, err := s.Runs.Takeover(ctx, run.ID, "old", "third"); ErrorCode(err) != EConflict {
		t.Fatalf("a second takeover from the old worker: %v", err)
	}
	if _, err := s.Runs.Heartbeat(ctx, run.ID, "old"); ErrorCode(err) != EConflict {
		t.Fatalf("heartbeat of the old worker: %v", err)
	}
	if err := s.Runs.SetProcess(ctx, run.ID, "old", Process{PID: 1}); ErrorCode(err) != EConflict {
		t.Fatalf("the old worker records a process: %v", err)
	}
	if err := s.Runs.Finish(ctx, run.ID, Result{Status: RunFailed, Worker: "old"}); ErrorCode(err) != EConflict {
		t.Fatalf("the old worker finishes the run: %v", err)
	}
	if cancel, err := s.Runs.Heartbeat(ctx, run.ID, "new"); err != nil || cancel {
		t.Fatalf("heartbeat of the new worker: %v %v", cancel, err)
	}
	if err := s.Runs.Finish(ctx, run.ID, Result{Status: RunSucceeded, Worker: "new"}); err != nil {
		t.Fatal(err)
	}
}

// Log lines of a process stream and the offset read so far are stored together.
func TestAppendStreamStoresLinesAndOffsetTogether(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := newUser(t, s, "u")
	d, run := newDeployment(t, s, u.ID)
	s.Runs.Claim(ctx, "w")
	if err := s.Runs.SetProcess(ctx, run.ID, "w", Process{Stream: "a.jsonl", Offset: 99}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Runs.Get(ctx, run.ID); r.Process.Offset != 99 {
		t.Fatalf("offset %d", r.Process.Offset)
	}
	lines := []*LogLine{{Level: LevelInfo, Source: SourceTerraform, RunID: run.ID, Message: "one"},
		{Level: LevelInfo, Source: SourceTerraform, RunID: run.ID, Message: "two"}}
	if err := s.Runs.AppendStream(ctx, run.ID, 120, lines...); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Runs.Get(ctx, run.ID)
	got, _, _ := s.Logs.List(ctx, d.ID, LogFilter{RunID: run.ID}, Page{Size: 10})
	if r.Process.Offset != 120 || len(got) != 2 || got[1].Message != "two" {
		t.Fatalf("offset %d, lines %v", r.Process.Offset, got)
	}
	if err := s.Runs.AppendStream(ctx, "no-such-run", 1, lines[0]); !IsNotFound(err) {
		t.Fatalf("unknown run: %v", err)
	}
}

package store

import (
	"context"
	"testing"
	"time"
)

// finishRun claims the deployment's queued run and ends it with status.
func finishRun(t *testing.T, s *Store, status RunStatus, reason string) {
	t.Helper()
	ctx := context.Background()
	run, err := s.Runs.Claim(ctx, "w", time.Minute)
	if err != nil || run == nil {
		t.Fatalf("claim: %v %v", run, err)
	}
	if err := s.Runs.Finish(ctx, run.ID, Result{Status: status, Error: reason}); err != nil {
		t.Fatal(err)
	}
}

func TestCallbacks_QueuedByEveryFinalStatusOnly(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d := &Deployment{Template: "x", Target: "local", Owners: []string{u.ID}, Callback: "https://hooks.example.org/cb", UserGroup: "physics"}
		if _, err := s.Deployments.Create(ctx, d, u.ID); err != nil {
			t.Fatal(err)
		}
		plain, _ := newDeployment(t, s, u.ID) // no callback: nothing is ever owed
		got, _ := s.Deployments.Get(ctx, d.ID)
		if got.Callback != d.Callback || got.UserGroup != "physics" {
			t.Fatalf("stored: %q %q", got.Callback, got.UserGroup)
		}
		if list, _ := s.Callbacks.List(ctx, d.ID); len(list) != 0 {
			t.Fatalf("an in-progress status owes nothing: %d", len(list))
		}

		finishRun(t, s, RunSucceeded, "")  // d: CREATE_COMPLETE
		finishRun(t, s, RunFailed, "boom") // plain: CREATE_FAILED, no callback
		clk.Advance(time.Second)
		// An update changes the URL in the same transaction that queues it.
		if _, err := s.Deployments.Enqueue(ctx, d.ID, Request{Kind: RunUpdate, CreatedBy: u.ID, Change: func(cur *Deployment) error {
			cur.Callback = "https://hooks.example.org/other"
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
		finishRun(t, s, RunFailed, "quota exceeded") // UPDATE_FAILED
		list, err := s.Callbacks.List(ctx, d.ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("callbacks: %d %v", len(list), err)
		}
		// Not delivered before the update ended: superseded by the newer status.
		if list[0].Status != CreateComplete || list[0].URL != "https://hooks.example.org/cb" || list[0].State != CallbackSuperseded {
			t.Fatalf("first: %+v", list[0])
		}
		if list[1].Status != UpdateFailed || list[1].StatusReason != "quota exceeded" || list[1].URL != "https://hooks.example.org/other" ||
			list[1].State != CallbackPending {
			t.Fatalf("second: %+v", list[1])
		}
		if other, _ := s.Callbacks.List(ctx, plain.ID); len(other) != 0 {
			t.Fatalf("a deployment without callback owes %d", len(other))
		}
		f, total, _ := s.Deployments.List(ctx, DeploymentFilter{UserGroup: "physics"}, nil, Page{})
		if total.Items != 1 || f[0].ID != d.ID {
			t.Fatalf("user group filter: %d", total.Items)
		}
	})
}

func TestCallbacks_ClaimLeaseRetryAndGiveUp(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d := &Deployment{Template: "x", Target: "local", Owners: []string{u.ID}, Callback: "https://hooks.example.org/cb"}
		s.Deployments.Create(ctx, d, u.ID)
		finishRun(t, s, RunSucceeded, "")

		due, err := s.Callbacks.Claim(ctx, 10, time.Minute)
		if err != nil || len(due) != 1 || due[0].Attempts != 1 {
			t.Fatalf("claim: %v %+v", err, due)
		}
		// Leased: another dispatcher (another replica) does not get it.
		if again, _ := s.Callbacks.Claim(ctx, 10, time.Minute); len(again) != 0 {
			t.Fatal("a leased callback was claimed twice")
		}
		// A dispatcher that died keeps it only until the lease runs out.
		clk.Advance(61 * time.Second)
		due, _ = s.Callbacks.Claim(ctx, 10, time.Minute)
		if len(due) != 1 || due[0].Attempts != 2 {
			t.Fatalf("after the lease: %+v", due)
		}
		if superseded, err := s.Callbacks.Retry(ctx, due[0].ID, "HTTP 503", clk.Now().Add(30*time.Second)); err != nil || superseded {
			t.Fatal(err, superseded)
		}
		if early, _ := s.Callbacks.Claim(ctx, 10, time.Minute); len(early) != 0 {
			t.Fatal("claimed before its next attempt time")
		}
		clk.Advance(30 * time.Second)
		due, _ = s.Callbacks.Claim(ctx, 10, time.Minute)
		if len(due) != 1 || due[0].Attempts != 3 || due[0].LastError != "HTTP 503" {
			t.Fatalf("retry: %+v", due)
		}
		if err := s.Callbacks.Fail(ctx, due[0].ID, "out of attempts"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if left, _ := s.Callbacks.Claim(ctx, 10, time.Minute); len(left) != 0 {
			t.Fatal("a failed callback is due again")
		}
		list, _ := s.Callbacks.List(ctx, d.ID)
		if list[0].State != CallbackFailed || list[0].FinishedAt == nil {
			t.Fatalf("failed: %+v", list[0])
		}
		if err := s.Callbacks.Delivered(ctx, "nope"); ErrorCode(err) != ENotFound {
			t.Fatalf("unknown callback: %v", err)
		}
	})
}

func TestCallbacks_InOrderAndSuperseded(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, clk := openTest(t, dsn)
		ctx := context.Background()
		u := newUser(t, s, "u")
		d := &Deployment{Template: "x", Target: "local", Owners: []string{u.ID}, Callback: "https://hooks.example.org/cb"}
		s.Deployments.Create(ctx, d, u.ID)
		update := func(status RunStatus) {
			t.Helper()
			if _, err := s.Deployments.Enqueue(ctx, d.ID, Request{Kind: RunUpdate, CreatedBy: u.ID}); err != nil {
				t.Fatal(err)
			}
			finishRun(t, s, status, "")
		}
		finishRun(t, s, RunSucceeded, "") // CREATE_COMPLETE, owed
		// Not sent yet when the next status comes: only the newest is owed.
		update(RunFailed) // UPDATE_FAILED
		list, _ := s.Callbacks.List(ctx, d.ID)
		if len(list) != 2 || list[0].State != CallbackSuperseded || list[1].State != CallbackPending {
			t.Fatalf("superseded: %+v %+v", list[0], list[1])
		}
		// Being sent when the next status comes: the newer one waits for it...
		inflight, _ := s.Callbacks.Claim(ctx, 10, time.Minute)
		if len(inflight) != 1 || inflight[0].Status != UpdateFailed {
			t.Fatalf("claim: %+v", inflight)
		}
		update(RunSucceeded) // UPDATE_COMPLETE
		if due, _ := s.Callbacks.Claim(ctx, 10, time.Minute); len(due) != 0 {
			t.Fatalf("a deployment's newer callback went out before the older one ended: %+v", due)
		}
		// ...and the older one, failing, is not retried: the newer one goes instead.
		if superseded, err := s.Callbacks.Retry(ctx, inflight[0].ID, "HTTP 503", clk.Now()); err != nil || !superseded {
			t.Fatalf("retry of an outdated callback: %v %v", superseded, err)
		}
		due, _ := s.Callbacks.Claim(ctx, 10, time.Minute)
		if len(due) != 1 || due[0].Status != UpdateComplete {
			t.Fatalf("next: %+v", due)
		}
		list, _ = s.Callbacks.List(ctx, d.ID)
		if list[1].State != CallbackSuperseded || list[1].LastError != "HTTP 503" {
			t.Fatalf("after the retry: %+v", list[1])
		}
	})
}

package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"orchestrator/store/pgtest"
)

// BenchmarkPickup measures a run's pick-up latency: from the submit of a
// deployment on one replica (the deployment and its create run in one
// transaction) until a worker of another replica, woken by the notification
// (LISTEN/NOTIFY), has claimed the run (FOR UPDATE SKIP LOCKED). On SQLite the
// one process submits and claims. ms/pickup is the figure to read.
func BenchmarkPickup(b *testing.B) {
	for _, name := range databases {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			dsn := filepath.Join(b.TempDir(), "s.db")
			if name == Postgres {
				dsn = pgtest.Database(b)
			}
			open := func() *Store {
				s, err := Open(ctx, dsn)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}
			submitter, worker := open(), (*Store)(nil)
			if name == Postgres {
				worker = open() // another replica
			} else {
				worker = submitter
			}
			woke := make(chan struct{}, 1)
			worker.Subscribe(TopicRuns, func(string) {
				select {
				case woke <- struct{}{}:
				default:
				}
			})
			u := &User{Username: "u"}
			if err := submitter.Users.Create(ctx, u); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d := &Deployment{Template: "tosca_definitions_version: tosca_simple_yaml_1_3", Target: "local", Owners: []string{u.ID}}
				run, err := submitter.Deployments.Create(ctx, d, u.ID)
				if err != nil {
					b.Fatal(err)
				}
				var claimed *Run
				for claimed == nil {
					select {
					case <-woke:
					case <-time.After(10 * time.Second):
						b.Fatal("the worker was never woken")
					}
					if claimed, err = worker.Runs.Claim(ctx, "other/w0", time.Minute); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if claimed.ID != run.ID {
					b.Fatalf("claimed %s, submitted %s", claimed.ID, run.ID)
				}
				if err := worker.Runs.Finish(ctx, claimed.ID, Result{Status: RunSucceeded, Lease: claimed.Lease()}); err != nil {
					b.Fatal(err)
				}
				// The end of the run notifies too: wait for it, so the next
				// submit's wake-up is its own.
				select {
				case <-woke:
				case <-time.After(10 * time.Second):
					b.Fatal("no notification of the finished run")
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/pickup")
		})
	}
}

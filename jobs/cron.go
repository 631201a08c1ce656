package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedules says when the background jobs run (robfig/cron syntax, e.g. "@every 1m").
type Schedules struct {
	Stalled   string // default "@every 1m"
	Retention string // default "@daily"
	Cleanup   string // default "@hourly"
	// LogRetention is how long log lines are kept.
	LogRetention time.Duration
}

// StartCron schedules stalled-run detection, log retention and workdir cleanup.
// Stop the returned cron to stop them.
//
// Stalled detection and retention are singletons: with several replicas only
// the leader runs them (another replica takes the leadership when the leader
// dies or hangs, see store.Campaign). Workdir cleanup runs on every replica:
// each one's workdirs are on its own disk.
func (e *Engine) StartCron(s Schedules) (*cron.Cron, error) {
	if s.Stalled == "" {
		s.Stalled = "@every 1m"
	}
	if s.Retention == "" {
		s.Retention = "@daily"
	}
	if s.Cleanup == "" {
		s.Cleanup = "@hourly"
	}
	c := cron.New()
	jobs := []struct {
		spec      string
		name      string
		singleton bool
		run       func(ctx context.Context) error
	}{
		{s.Stalled, "stalled", true, func(ctx context.Context) error {
			// Caches of every replica are exact but for a replica that died
			// between a commit and moving the generation: bound that to this period.
			e.store.BumpGeneration()
			_, err := e.DetectStalled(ctx)
			return err
		}},
		{s.Retention, "retention", true, func(ctx context.Context) error {
			if s.LogRetention <= 0 {
				return nil
			}
			// A job, like a manual purge: admins follow it in GET /api/v1/jobs.
			_, err := e.QueuePurge(ctx, e.store.Now().Add(-s.LogRetention), s.LogRetention.String(), "")
			return err
		}},
		{s.Cleanup, "cleanup", false, func(ctx context.Context) error { _, err := e.CleanupWorkdirs(ctx); return err }},
	}
	for _, j := range jobs {
		j := j
		if _, err := c.AddFunc(j.spec, func() {
			parent := context.Background()
			if j.singleton {
				if !e.Leading() {
					return // another replica leads
				}
				parent = e.leader.Context() // ends if the leadership is lost
			}
			ctx, cancel := context.WithTimeout(parent, 10*time.Minute)
			defer cancel()
			if err := j.run(ctx); err != nil && parent.Err() == nil {
				e.log.Error("cron job failed", "job", j.name, "error", err.Error())
			}
		}); err != nil {
			return nil, fmt.Errorf("schedule %s job %q: %w", j.name, j.spec, err)
		}
	}
	c.Start()
	return c, nil
}

// CleanupWorkdirs removes the workdirs of deployments that no longer exist (hard
// deleted). It returns how many it removed.
func (e *Engine) CleanupWorkdirs(ctx context.Context) (int, error) {
	entries, err := os.ReadDir(filepath.Join(e.cfg.DataDir, "work"))
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list workdirs: %w", err)
	}
	existing, err := e.store.Deployments.Existing(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ent := range entries {
		if !ent.IsDir() || existing[ent.Name()] {
			continue
		}
		unlock := e.lock(ent.Name())
		killProcessesUnder(filepath.Join(e.cfg.DataDir, "work", ent.Name()))
		err := os.RemoveAll(filepath.Join(e.cfg.DataDir, "work", ent.Name()))
		unlock()
		if err != nil {
			return n, fmt.Errorf("remove workdir %s: %w", ent.Name(), err)
		}
		n++
	}
	return n, nil
}

// RemoveWorkdir removes one deployment's workdir (after a hard delete).
func (e *Engine) RemoveWorkdir(deploymentID string) error {
	unlock := e.lock(deploymentID)
	defer unlock()
	killProcessesUnder(e.workdir(deploymentID))
	return os.RemoveAll(e.workdir(deploymentID))
}

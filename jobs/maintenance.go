package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"orchestrator/store"
)

// PurgeParams says what a log purge job deletes.
type PurgeParams struct {
	Before time.Time `json:"before"`
	// OlderThan is the period asked for, as the admin or the schedule wrote it.
	OlderThan string `json:"older_than,omitempty"`
}

// PurgeProgress is how far a log purge got.
type PurgeProgress struct {
	Deleted     int64 `json:"deleted"`
	Planned     int64 `json:"planned"`
	Deployments int   `json:"deployments"`
	DoneWith    int   `json:"deployments_done"`
}

// QueuePurge queues a log purge job and wakes the job worker: the caller (an
// admin's request, the retention schedule) follows it with store.Jobs.Get.
func (e *Engine) QueuePurge(ctx context.Context, before time.Time, olderThan, by string) (*store.Job, error) {
	j, err := e.store.Jobs.Create(ctx, store.JobLogPurge, PurgeParams{Before: before.UTC(), OlderThan: olderThan}, by)
	if err != nil {
		return nil, err
	}
	e.wakeJobs()
	return j, nil
}

// jobWorker runs the service's own background jobs one at a time, apart from
// the Terraform workers so a long purge never delays a deployment. Only the
// leading replica runs them; a job whose worker died (or lost the leadership
// and went silent) is taken over once its heartbeat is older than StallAfter.
func (e *Engine) jobWorker(ctx context.Context) {
	defer e.workers.Done()
	for ctx.Err() == nil {
		if !e.Leading() {
			select {
			case <-ctx.Done():
				return
			case <-e.jobWake: // leadership won, or a job queued: look again
			case <-time.After(30 * time.Second):
			}
			continue
		}
		lead := e.leader.Context()
		j, err := e.store.Jobs.Claim(ctx, e.cfg.Name+"/jobs", e.store.Now().Add(-e.cfg.StallAfter))
		if err != nil && ctx.Err() == nil {
			e.log.Error("claim job", "error", err.Error())
		}
		if j == nil {
			select {
			case <-ctx.Done():
				return
			case <-e.jobWake:
			case <-time.After(30 * time.Second): // a safety net: queueing wakes us directly
			}
			continue
		}
		jctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(lead, cancel) // a leader that lost the leadership stops
		e.runJob(jctx, j)
		stop()
		cancel()
	}
}

func (e *Engine) wakeJobs() {
	select {
	case e.jobWake <- struct{}{}:
	default:
	}
}

// runJob runs one claimed job and records its end; bookkeeping gets its own
// short deadlines, so a stopping service still records where the job got.
func (e *Engine) runJob(ctx context.Context, j *store.Job) {
	var progress any
	var err error
	switch j.Kind {
	case store.JobLogPurge:
		progress, err = e.purge(ctx, j)
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if ctx.Err() != nil {
		return // stopping: the job stays running and the next claim restarts it (purges are idempotent)
	}
	bg, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ferr := e.store.Jobs.Finish(bg, j.ID, progress, err); ferr != nil {
		e.log.Error("finish job", "job", j.ID, "error", ferr.Error())
	}
	if err != nil {
		e.log.Error("job failed", "job", j.ID, "kind", string(j.Kind), "error", err.Error())
	} else {
		e.log.Info("job done", "job", j.ID, "kind", string(j.Kind), "progress", progress)
	}
}

// purge deletes every deployment's lines older than the job's cut-off, in short
// transactions, recording progress about once a second.
func (e *Engine) purge(ctx context.Context, j *store.Job) (*PurgeProgress, error) {
	var p PurgeParams
	if err := json.Unmarshal(j.Params, &p); err != nil {
		return nil, fmt.Errorf("job params: %w", err)
	}
	plan, err := e.store.Logs.PurgePlan(ctx, p.Before)
	if err != nil {
		return nil, err
	}
	prog := &PurgeProgress{Deployments: len(plan)}
	for _, r := range plan {
		prog.Planned += r.Lines()
	}
	var mu sync.Mutex
	last := time.Now()
	report := func() {
		mu.Lock()
		snapshot := *prog
		mu.Unlock()
		if err := e.store.Jobs.Progress(ctx, j.ID, snapshot); err != nil && ctx.Err() == nil {
			e.log.Error("job progress", "job", j.ID, "error", err.Error())
		}
	}
	report()
	err = e.store.Logs.DeleteRanges(ctx, plan, purgeBatch, func(n int64, finished int) {
		mu.Lock()
		prog.Deleted += n
		prog.DoneWith += finished
		mu.Unlock()
		if time.Since(last) > time.Second {
			last = time.Now()
			report()
		}
	})
	return prog, err
}

// purgeBatch is the lines one purge transaction deletes: big enough for speed,
// small enough that a writer of the API waits milliseconds at most.
const purgeBatch = 5000

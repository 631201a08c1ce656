// Package jobs is the deployment engine: a pool of workers takes runs from the
// store's queue and drives Terraform (terraform-exec) in one working directory per
// deployment; cron jobs detect stalled work, purge old logs and remove workdirs of
// deployments that are gone. It never talks HTTP; the server only queues runs and
// wakes the engine.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"orchestrator/jobs/toolchain"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// Config tunes the engine.
type Config struct {
	DataDir string // workdirs live in DataDir/work/<deployment id>
	Workers int
	// Heartbeat is how often a worker records that it is alive.
	Heartbeat time.Duration
	// StallAfter is how old a running run's heartbeat may get before the run is stalled.
	StallAfter time.Duration
	// KillGrace is how long Terraform gets to stop after an interrupt before it is killed.
	KillGrace time.Duration
	// RunTimeout bounds one run (the OpenStack provider can wait forever on a silent endpoint).
	RunTimeout time.Duration
	// Resolver resolves URL imports of templates (type libraries).
	Resolver *tosca2tf.Resolver
	// Name identifies this process in runs' worker field.
	Name string
	// Configure tunes software configuration (configure_phase.go).
	Configure ConfigureOptions
}

// Metrics receives the engine's measurements (the server exports them).
type Metrics interface {
	RunFinished(kind store.RunKind, status store.RunStatus, d time.Duration)
	TerraformProcesses(delta int)
}

type noMetrics struct{}

func (noMetrics) RunFinished(store.RunKind, store.RunStatus, time.Duration) {}
func (noMetrics) TerraformProcesses(int)                                    {}

// Engine runs deployments' Terraform jobs.
type Engine struct {
	cfg     Config
	store   *store.Store
	tc      *toolchain.Toolchain
	log     *slog.Logger
	metrics Metrics

	wake    chan struct{}
	jobWake chan struct{} // the service's own background jobs (log purges)
	mu      sync.Mutex
	active  map[string]context.CancelFunc // run id -> interrupt
	wg      sync.WaitGroup
	stop    context.CancelFunc
	stopped atomic.Bool
	// locks serializes work on one deployment's workdir (a run, a state view).
	locks sync.Map // deployment id -> *sync.Mutex
}

// New builds an engine; Start makes it work.
func New(cfg Config, st *store.Store, tc *toolchain.Toolchain, log *slog.Logger, m Metrics) *Engine {
	if cfg.Workers < 1 {
		cfg.Workers = 4
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = 10 * time.Minute
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 30 * time.Second
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = 2 * time.Hour
	}
	if cfg.Resolver == nil {
		cfg.Resolver = &tosca2tf.Resolver{}
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if m == nil {
		m = noMetrics{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Engine{cfg: cfg, store: st, tc: tc, log: log, metrics: m,
		wake: make(chan struct{}, cfg.Workers), jobWake: make(chan struct{}, 1), active: map[string]context.CancelFunc{}}
}

// Start fails the runs a previous process left running (they have no worker any
// more), then starts the workers.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.recoverOrphans(ctx, "the service stopped while this run was running"); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	e.stop = cancel
	for i := 0; i < e.cfg.Workers; i++ {
		e.wg.Add(1)
		go e.worker(ctx, fmt.Sprintf("%s/w%d", e.cfg.Name, i))
	}
	e.wg.Add(1)
	go e.jobWorker(ctx)
	e.Wake()
	return nil
}

// Stop stops taking runs and lets running ones finish during the first half of
// ctx's time; then it interrupts them (Terraform saves its state on SIGINT) and
// waits for them until ctx ends.
func (e *Engine) Stop(ctx context.Context) error {
	if e.stopped.Swap(true) || e.stop == nil {
		return nil
	}
	e.stop()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	patience := 5 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		patience = time.Until(deadline) / 2
	}
	select {
	case <-done:
		return nil
	case <-time.After(patience):
	}
	e.mu.Lock()
	for _, interrupt := range e.active {
		interrupt()
	}
	e.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine stop: %w", ctx.Err())
	}
}

// Wake tells a worker that a run was queued: pick-up takes milliseconds, not a
// polling period.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default: // every worker already has a wake-up pending
	}
}

// Cancel cancels a queued run at once, or interrupts a running one (Terraform gets
// SIGINT, then SIGKILL after the grace period).
func (e *Engine) Cancel(ctx context.Context, runID, reason string) (*store.Run, error) {
	run, err := e.store.Runs.Cancel(ctx, runID, reason)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	interrupt := e.active[runID]
	e.mu.Unlock()
	if interrupt != nil {
		interrupt()
	}
	return run, nil
}

// Holds reports whether this process is running the run right now.
func (e *Engine) Holds(runID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.active[runID]
	return ok
}

func (e *Engine) worker(ctx context.Context, name string) {
	defer e.wg.Done()
	for {
		if ctx.Err() != nil {
			return
		}
		run, err := e.store.Runs.Claim(ctx, name)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("claim run", "worker", name, "error", err.Error())
			}
			run = nil
		}
		if run == nil {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			case <-time.After(5 * time.Second): // a safety net; enqueues wake us directly
			}
			continue
		}
		e.execute(run)
		e.Wake() // the finished run may have unblocked the next one of its deployment
	}
}

// lock serializes work on one deployment's workdir.
func (e *Engine) lock(deploymentID string) func() {
	m, _ := e.locks.LoadOrStore(deploymentID, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// workdir is where a deployment's Terraform runs.
func (e *Engine) workdir(deploymentID string) string {
	return filepath.Join(e.cfg.DataDir, "work", deploymentID)
}

// recoverOrphans fails running runs that no worker of this process holds, and
// in-progress deployments that no run will ever finish, saving whatever state
// their workdirs hold first.
func (e *Engine) recoverOrphans(ctx context.Context, reason string) error {
	runs, err := e.store.Runs.Running(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if e.Holds(r.ID) {
			continue
		}
		e.failStalled(ctx, r, reason)
	}
	return e.failOrphanedDeployments(ctx, reason)
}

// failOrphanedDeployments fails in-progress deployments that no queued or running
// run will ever finish.
func (e *Engine) failOrphanedDeployments(ctx context.Context, reason string) error {
	ids, err := e.store.Deployments.Orphaned(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if failed, err := e.store.Deployments.FailOrphaned(ctx, id, "no run is working on this deployment: "+reason); err != nil {
			e.log.Error("fail orphaned deployment", "deployment", id, "error", err.Error())
		} else if failed {
			e.logLine(ctx, id, "", store.LevelError, "deployment failed: no run is working on it ("+reason+")")
		}
	}
	return nil
}

// failStalled fails a run whose worker is gone, after saving the state its
// workdir may hold (a killed apply can leave resources only the workdir knows).
func (e *Engine) failStalled(ctx context.Context, r *store.Run, reason string) {
	unlock := e.lock(r.DeploymentID)
	defer unlock()
	if err := e.saveWorkdirState(ctx, r.DeploymentID, r.ID); err != nil {
		e.logLine(ctx, r.DeploymentID, r.ID, store.LevelWarn, "could not save the state left by the stalled run: "+err.Error())
	}
	msg := fmt.Sprintf("run stalled: %s", reason)
	if err := e.store.Runs.Finish(ctx, r.ID, store.Result{Status: store.RunFailed, Error: msg}); err != nil {
		if !errors.Is(err, context.Canceled) && store.ErrorCode(err) != store.EConflict {
			e.log.Error("fail stalled run", "run", r.ID, "error", err.Error())
		}
		return
	}
	e.logLine(ctx, r.DeploymentID, r.ID, store.LevelError, msg)
	e.metrics.RunFinished(r.Kind, store.RunFailed, 0)
}

// logLine writes one orchestrator line to a deployment's log.
func (e *Engine) logLine(ctx context.Context, deploymentID, runID, level, msg string) {
	err := e.store.Logs.Append(ctx, deploymentID, &store.LogLine{Level: level, Source: store.SourceOrchestrator, RunID: runID, Message: msg})
	if err != nil && ctx.Err() == nil && !store.IsNotFound(err) {
		e.log.Error("append log", "deployment", deploymentID, "error", err.Error())
	}
}

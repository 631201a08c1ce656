// Package jobs is the deployment engine: a pool of workers takes runs from the
// store's queue and drives Terraform (terraform-exec) in one working directory per
// deployment; cron jobs detect stalled work, purge old logs and remove workdirs of
// deployments that are gone. It never talks HTTP; the server only queues runs and
// wakes the engine.
//
// Several engines (one per replica of the service) may share a PostgreSQL
// store. Each claims runs from the one queue and holds each run it works on
// under a lease (see store.Lease) that its heartbeat renews; every write it
// makes for a run passes that lease, so an engine that lost a run (it paused,
// the run was taken over) changes nothing and interrupts its Terraform. An
// engine only ever sees, follows or kills processes of its own replica, on its
// own disk: a run whose replica went silent is taken over by another replica
// only once its lease has expired, and then ends as stalled with the state
// stored so far. Workdirs are disposable: any replica rebuilds one from the
// store (generated configuration and newest state version). The singletons
// (stalled detection, retention, the background job worker) run on one replica
// at a time, the leader (store.Campaign).
package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"orchestrator/jobs/configure"
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
	// StateEvery is how often the state Terraform writes during a run is copied
	// into the store, so that the store never knows much less than exists.
	StateEvery time.Duration
	// Resolver resolves URL imports of templates (type libraries).
	Resolver *tosca2tf.Resolver
	// Replica names this replica of the service, the same across its restarts
	// and different from every other replica sharing the database (default:
	// the host name and a digest of the data directory). Its processes and
	// workdirs are its own: runs whose worker names it are the ones whose
	// Terraform it may follow after a restart. No "/" in it.
	Replica string
	// Name identifies this process in runs' worker field: the replica and
	// the process id.
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
	// mirror is the provider mirror's fingerprint, part of every init key.
	mirrorOnce sync.Once
	mirror     string

	wake    chan struct{}
	jobWake chan struct{} // the service's own background jobs (log purges)
	mu      sync.Mutex
	active  map[string]*job // run id -> the job working on it
	workers sync.WaitGroup
	jobs    sync.WaitGroup // every job, claimed or recovered
	stop    context.CancelFunc
	stopped bool          // under mu: no new job starts
	quit    chan struct{} // closed by Stop
	// defaultResolver finds the examples' artifacts when no resolver is configured.
	defaultResolverOnce sync.Once
	defaultResolver     *configure.Resolver
	// locks serializes work on one deployment's workdir (a run, a state view).
	locks sync.Map // deployment id -> *sync.Mutex
	// leader says whether this replica runs the singletons now.
	leader *store.Leader
	// unsubscribe ends the engine's subscriptions to the store's notifications.
	unsubscribe []func()
}

// DefaultReplica names a replica by its host and data directory: stable across
// restarts, different for two services on one host.
func DefaultReplica(dataDir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(dataDir))
	return strings.ReplaceAll(host, "/", "-") + "-" + hex.EncodeToString(sum[:4])
}

// replicaOf returns the replica a worker name belongs to.
func replicaOf(worker string) string {
	replica, _, _ := strings.Cut(worker, "/")
	return replica
}

// shared reports whether other replicas may work on the same store (PostgreSQL).
func (e *Engine) shared() bool { return e.store.Dialect() == store.Postgres }

// ours reports whether a run's worker is (or was) of this replica: only then
// are its processes and workdir files here. On SQLite every run is ours: one
// process serves the database.
func (e *Engine) ours(worker string) bool {
	return !e.shared() || replicaOf(worker) == e.cfg.Replica
}

// New builds an engine; Start makes it work.
func New(cfg Config, st *store.Store, tc *toolchain.Toolchain, log *slog.Logger, m Metrics) *Engine {
	if cfg.Workers < 1 {
		cfg.Workers = 4
	}
	// Processes are found by their working directory, which /proc shows absolute.
	if abs, err := filepath.Abs(cfg.DataDir); err == nil {
		cfg.DataDir = abs
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = 10 * time.Minute
	}
	if cfg.Heartbeat <= 0 {
		// Several heartbeats fit in the stall limit, however short it is set.
		cfg.Heartbeat = min(15*time.Second, cfg.StallAfter/5)
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 30 * time.Second
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = 2 * time.Hour
	}
	if cfg.StateEvery <= 0 {
		cfg.StateEvery = 5 * time.Second
	}
	if cfg.Resolver == nil {
		cfg.Resolver = &tosca2tf.Resolver{}
	}
	if cfg.Replica == "" {
		cfg.Replica = DefaultReplica(cfg.DataDir)
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("%s/%d", cfg.Replica, os.Getpid())
	}
	if m == nil {
		m = noMetrics{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Engine{cfg: cfg, store: st, tc: tc, log: log, metrics: m,
		wake: make(chan struct{}, cfg.Workers), jobWake: make(chan struct{}, 1), active: map[string]*job{}, quit: make(chan struct{})}
}

// Start takes over what a previous process of this replica left behind (runs
// it was running, Terraform processes still at work, states newer than the
// store's), then starts the workers and bids for the leadership of the
// singletons.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.recoverAtStart(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stop = cancel
	// Runs queued, jobs queued and cancels asked on any replica wake this one.
	e.unsubscribe = append(e.unsubscribe,
		e.store.Subscribe(store.TopicRuns, func(string) { e.Wake() }),
		e.store.Subscribe(store.TopicJobs, func(string) { e.wakeJobs() }),
		e.store.Subscribe(store.TopicCancel, func(runID string) {
			e.mu.Lock()
			j := e.active[runID]
			e.mu.Unlock()
			if j != nil {
				j.stop(stopCancel)
			}
		}))
	e.leader = e.store.Campaign(ctx, "singletons")
	var led atomic.Bool
	e.leader.OnChange(func(leading bool) {
		switch was := led.Swap(leading); {
		case leading && !was:
			e.log.Info("this replica leads: it runs stalled detection, retention and background jobs", "replica", e.cfg.Replica)
			e.wakeJobs()
		case !leading && was:
			e.log.Warn("this replica no longer leads", "replica", e.cfg.Replica)
		}
	})
	for i := 0; i < e.cfg.Workers; i++ {
		e.workers.Add(1)
		go e.worker(ctx, fmt.Sprintf("%s/w%d", e.cfg.Name, i))
	}
	e.workers.Add(1)
	go e.jobWorker(ctx)
	e.Wake()
	return nil
}

// Leading reports whether this replica runs the singletons now.
func (e *Engine) Leading() bool { return e.leader != nil && e.leader.Leading() }

// Replica names this replica.
func (e *Engine) Replica() string { return e.cfg.Replica }

// Stop shuts the engine down gracefully: it stops taking runs and interrupts
// every running Terraform (SIGINT: it finishes what is under way and saves its
// state), then waits until ctx ends for them to stop and for every run's outcome
// to be recorded. When ctx ends first, each run records what it has (the state
// Terraform wrote so far) without waiting any longer; a Terraform still stopping
// is left to finish, and the next start of the service collects its state.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	close(e.quit)
	for _, u := range e.unsubscribe {
		u()
	}
	for _, j := range e.active {
		j.stop(stopShutdown)
	}
	e.mu.Unlock()
	if e.stop != nil {
		e.stop()
	}
	done := make(chan struct{})
	go func() { e.workers.Wait(); e.jobs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	e.mu.Lock()
	n := len(e.active)
	for _, j := range e.active {
		j.giveUp()
	}
	e.mu.Unlock()
	e.log.Warn("shutdown grace over: recording the runs as they are", "runs", n)
	select {
	case <-done:
		return nil
	case <-time.After(giveUpWait):
		return fmt.Errorf("engine stop: %d runs did not record their outcome in %s", n, giveUpWait)
	}
}

// giveUpWait bounds the bookkeeping of runs after the shutdown grace is over.
const giveUpWait = 20 * time.Second

// Wake tells a worker that a run was queued: pick-up takes milliseconds, not a
// polling period.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default: // every worker already has a wake-up pending
	}
}

// Cancel cancels a queued run at once, or interrupts a running one (Terraform gets
// SIGINT, its process group SIGKILL after the kill grace).
func (e *Engine) Cancel(ctx context.Context, runID, reason string) (*store.Run, error) {
	run, err := e.store.Runs.Cancel(ctx, runID, reason)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	j := e.active[runID]
	e.mu.Unlock()
	if j != nil {
		j.stop(stopCancel)
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

// register makes j one of the engine's jobs; a job registered while the engine
// stops is stopped at once. It returns false when this process already works on
// the run.
func (e *Engine) register(j *job) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.active[j.run.ID]; dup {
		return false
	}
	e.active[j.run.ID] = j
	if e.stopped {
		j.stop(stopShutdown)
	}
	return true
}

func (e *Engine) unregister(j *job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[j.run.ID] == j {
		delete(e.active, j.run.ID)
	}
}

func (e *Engine) worker(ctx context.Context, name string) {
	defer e.workers.Done()
	for {
		if ctx.Err() != nil {
			return
		}
		run, err := e.store.Runs.Claim(ctx, name, e.cfg.StallAfter)
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
			case <-time.After(5 * time.Second): // a safety net: enqueues on any replica wake us
			}
			continue
		}
		e.jobs.Add(1)
		e.work(run, e.perform)
		e.jobs.Done()
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

// logLine writes one orchestrator line to a deployment's log.
func (e *Engine) logLine(ctx context.Context, deploymentID, runID, level, msg string) {
	err := e.store.Logs.Append(ctx, deploymentID, &store.LogLine{Level: level, Source: store.SourceOrchestrator, RunID: runID, Message: msg})
	if err != nil && ctx.Err() == nil && !store.IsNotFound(err) {
		e.log.Error("append log", "deployment", deploymentID, "error", err.Error())
	}
}

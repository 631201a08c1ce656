package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// opTimeout bounds one bookkeeping operation (a store write, reading a state).
// Deadlines are per operation, never per run: a run of any length records its
// outcome like a short one.
const opTimeout = 2 * time.Minute

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// stopReason says why a run is stopped before its end.
type stopReason string

const (
	stopCancel   stopReason = "cancelled"
	stopTimeout  stopReason = "timed out"
	stopShutdown stopReason = "service stopping"
	// stopLeaseLost: another worker took the run over (this one was silent
	// past its lease): it may write nothing more, and its Terraform stops.
	stopLeaseLost stopReason = "lease lost"
)

// job is a run this process works on: the one it claimed from the queue, or one
// it took over from a process that is gone.
type job struct {
	run  *store.Run
	dir  string
	logs *logWriter
	// recovered says why the run was taken over ("" for a claimed run).
	recovered string
	// remote: the run was taken over from another replica (from), whose
	// processes and workdir files this one cannot see.
	remote bool
	from   string
	// ctx ends when the run is stopped: no new step starts.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	proc     *tfProcess // the Terraform process of the current step
	why      stopReason
	stopping chan struct{} // closed by stop
	abandon  chan struct{} // closed by giveUp
	gaveUp   bool
	steps    int
	serial   int64 // newest state serial known stored

	knownMu sync.Mutex
	known   map[string]bool // resource addresses of the newest state stored
}

// setStored records the newest state known stored: the creation lines of its
// resources may go into the log.
func (j *job) setStored(st *tfState) {
	addrs := map[string]bool{}
	for _, a := range st.managedAddresses() {
		addrs[a] = true
	}
	j.knownMu.Lock()
	j.serial, j.known = st.Serial, addrs
	j.knownMu.Unlock()
}

// stored reports whether the newest state known stored holds a resource.
func (j *job) stored(address string) bool {
	j.knownMu.Lock()
	defer j.knownMu.Unlock()
	return j.known[address]
}

func newJob(run *store.Run, dir string) *job {
	ctx, cancel := context.WithCancel(context.Background())
	return &job{run: run, dir: dir, ctx: ctx, cancel: cancel, stopping: make(chan struct{}), abandon: make(chan struct{})}
}

// stop asks the run to stop; the first reason is the one recorded. Terraform,
// if one runs, gets a single SIGINT.
func (j *job) stop(why stopReason) {
	j.mu.Lock()
	if j.why != "" {
		j.mu.Unlock()
		return
	}
	j.why = why
	close(j.stopping)
	p := j.proc
	j.mu.Unlock()
	j.cancel()
	p.interrupt()
}

func (j *job) stopReason() stopReason {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.why
}

// giveUp makes the run stop waiting for Terraform and record what it has (the
// shutdown grace is over).
func (j *job) giveUp() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.gaveUp {
		j.gaveUp = true
		close(j.abandon)
	}
}

// work runs body for a run this process holds and records the outcome: the
// state saved, the resources rebuilt, the run finished once.
func (e *Engine) work(run *store.Run, body func(*job) store.Result) {
	e.workRecovered(run, "", "", body)
}

// workRecovered works on a run taken over (recovered says why), from another
// replica when from names it.
func (e *Engine) workRecovered(run *store.Run, recovered, from string, body func(*job) store.Result) {
	start := time.Now()
	j := newJob(run, e.workdir(run.DeploymentID))
	j.recovered, j.remote, j.from = recovered, from != "", from
	if !e.register(j) {
		return
	}
	defer e.unregister(j)
	// The lease is renewed even while the run waits for its deployment's lock.
	stopBeat := e.heartbeat(j)
	stopClock := e.deadline(j)
	unlock := e.lock(run.DeploymentID)
	defer unlock()
	e.metrics.TerraformProcesses(1)
	defer e.metrics.TerraformProcesses(-1)

	j.logs = newLogWriter(e.store, run.DeploymentID, run.Lease(), e.log)
	j.logs.gate = j.stored
	if ctx, cancel := opContext(); true {
		if latest, err := e.store.States.Latest(ctx, run.DeploymentID); err == nil {
			j.serial = latest.Serial
			if st, err := parseState(latest.State); err == nil {
				j.setStored(st)
			}
		}
		cancel()
	}
	result := body(j)
	stopClock()
	stopBeat()
	result.Lease = run.Lease()
	level, verb := store.LevelInfo, "succeeded"
	if result.Status != store.RunSucceeded {
		level, verb = store.LevelError, string(result.Status)
	}
	j.logs.add(level, store.SourceOrchestrator, "", fmt.Sprintf("%s run %s %s in %s", run.Kind, run.ID, verb, time.Since(start).Round(time.Millisecond)))
	j.logs.Close()
	ctx, cancel := opContext()
	defer cancel()
	if err := e.store.Runs.Finish(ctx, run.ID, result); err != nil {
		if store.IsLeaseLost(err) {
			e.log.Warn("run taken over by another worker: its outcome here is not recorded", "run", run.ID, "outcome", string(result.Status))
		} else {
			e.log.Error("finish run", "run", run.ID, "error", err.Error())
		}
		return
	}
	j.mu.Lock()
	gaveUp := j.gaveUp
	j.mu.Unlock()
	if !gaveUp { // else Terraform still writes; the next start reads on
		e.removeStreams(run)
	}
	e.metrics.RunFinished(run.Kind, result.Status, time.Since(start))
}

// removeStreams deletes the output files of a finished run: its lines are stored.
func (e *Engine) removeStreams(run *store.Run) {
	files, _ := filepath.Glob(filepath.Join(e.workdir(run.DeploymentID), streamDir, run.ID+"-*"))
	for _, f := range files {
		_ = os.Remove(f)
	}
}

// heartbeat renews the run's lease until stopped, and stops the run when a
// cancel was requested through the store (by this or another process), or when
// the lease is lost: another worker took the run over, and this one's
// Terraform is interrupted (then killed after the kill grace).
func (e *Engine) heartbeat(j *job) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(e.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ctx, cancel := opContext()
				cancelled, err := e.store.Runs.Heartbeat(ctx, j.run.Lease(), e.cfg.StallAfter)
				cancel()
				switch {
				case store.IsLeaseLost(err):
					e.log.Warn("lost the lease on a run: another worker took it over; interrupting its Terraform", "run", j.run.ID)
					j.stop(stopLeaseLost)
				case err != nil:
					e.log.Error("heartbeat", "run", j.run.ID, "error", err.Error())
				case cancelled:
					j.stop(stopCancel)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// deadline stops the run when it has run for RunTimeout since it started (a
// run taken over keeps its start).
func (e *Engine) deadline(j *job) func() {
	left := e.cfg.RunTimeout
	if j.run.StartedAt != nil {
		left = j.run.StartedAt.Add(e.cfg.RunTimeout).Sub(e.store.Now())
	}
	t := time.AfterFunc(max(left, 0), func() { j.stop(stopTimeout) })
	return func() { t.Stop() }
}

// perform does a claimed run's work.
func (e *Engine) perform(j *job) store.Result {
	run, logs := j.run, j.logs
	fail := func(msg string) store.Result {
		logs.add(store.LevelError, store.SourceOrchestrator, "", msg)
		return store.Result{Status: store.RunFailed, Error: msg}
	}
	d, err := e.loadDeployment(run.DeploymentID)
	if err != nil {
		return fail("load deployment: " + err.Error())
	}
	logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("%s run %s started on %s (target %s)", run.Kind, run.ID, run.Worker, d.Target))
	if run.Kind == store.RunAction {
		return e.action(j, d)
	}
	res, w, err := e.prepare(j, d)
	if err != nil {
		if j.stopReason() != "" {
			return e.outcome(j, stepResult{err: err}, nil)
		}
		return fail(err.Error())
	}
	ctx, cancel := opContext()
	prev := e.markResources(ctx, run.Lease(), d, res, run.Kind)
	cancel()

	var sr stepResult
	switch run.Kind {
	case store.RunCreate, store.RunUpdate:
		sr = e.step(j, w, "apply", false, applyArgs()...)
	case store.RunRedeploy:
		addrs, err := w.managedAddresses(j.ctx)
		if err != nil {
			sr.err = err
			break
		}
		logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("redeploy: replacing %d resources", len(addrs)))
		args := applyArgs()
		for _, a := range addrs {
			args = append(args, "-replace="+a)
		}
		sr = e.step(j, w, "apply", false, args...)
	case store.RunDelete:
		e.unconfigureBeforeDestroy(j, d, res)
		sr = e.step(j, w, "destroy", false, "destroy", "-json", "-input=false", "-auto-approve", "-lock-timeout=30s")
	default:
		sr.err = fmt.Errorf("unknown run kind %q", run.Kind)
	}
	return e.afterApply(j, d, res, e.conclude(j, d, res, prev, sr))
}

func applyArgs() []string {
	return []string{"apply", "-json", "-input=false", "-auto-approve", "-lock-timeout=30s"}
}

func (e *Engine) loadDeployment(id string) (*store.Deployment, error) {
	ctx, cancel := opContext()
	defer cancel()
	return e.store.Deployments.Get(ctx, id)
}

// prepare translates the deployment, stores the Terraform it generated and
// readies its workdir (configuration, state, init).
func (e *Engine) prepare(j *job, d *store.Deployment) (*tosca2tf.Result, *workdir, error) {
	ctx, cancel := opContext()
	defer cancel()
	res, env, err := e.Render(ctx, d)
	if err != nil {
		return nil, nil, fmt.Errorf("translate the template: %w", err)
	}
	if err := e.allocateHosts(ctx, d, res, j.run.Kind); err != nil {
		return nil, nil, err
	}
	for _, w := range res.Warnings {
		j.logs.add(store.LevelWarn, store.SourceTranslator, "", w.Error())
	}
	if err := e.store.Deployments.SetGenerated(ctx, j.run.Lease(), d.ID, string(res.Main), string(res.Vars)); err != nil {
		return nil, nil, err
	}
	if j.ctx.Err() != nil {
		return nil, nil, errors.New("the run was stopped before Terraform started")
	}
	w, err := e.open(j.ctx, d, res, env, j.logs)
	if err != nil {
		return nil, nil, err
	}
	return res, w, nil
}

// stepResult is how one Terraform command of a run ended.
type stepResult struct {
	started bool // a Terraform process ran (or was found again)
	ok      bool
	gaveUp  bool  // the service stopped waiting for it
	err     error // what went wrong, when Terraform's own errors do not say
}

// step runs one Terraform command that changes infrastructure, detached, and
// follows it to its end. Its process is recorded on the run before anything
// else, so that a crash at any point leaves a trace a restarted service follows.
func (e *Engine) step(j *job, w *workdir, name string, quiet bool, args ...string) stepResult {
	run := j.run
	j.logs.endStream()
	j.steps++
	base := fmt.Sprintf("%s-%d-%d", run.ID, run.Attempts, j.steps)
	rec := store.Process{Step: name, Stream: filepath.Join(streamDir, base+".jsonl")}
	if err := e.setProcess(j, rec); err != nil {
		return stepResult{err: err}
	}
	j.mu.Lock()
	if j.why != "" {
		j.mu.Unlock()
		return stepResult{err: errors.New("the run was stopped before Terraform started")}
	}
	p, err := e.startTerraform(w.dir, w.env, rec.Stream, stderrOf(rec.Stream), args...)
	if err != nil {
		j.mu.Unlock()
		return stepResult{err: err}
	}
	j.proc = p
	j.mu.Unlock()
	rec.PID, rec.Identity = p.pid, p.identity
	if err := e.setProcess(j, rec); err != nil {
		e.log.Error("record terraform process", "run", run.ID, "error", err.Error())
	}
	j.logs.beginStream(0, quiet)
	return e.follow(j, p, rec)
}

func stderrOf(stream string) string { return strings.TrimSuffix(stream, ".jsonl") + ".stderr" }

func (e *Engine) setProcess(j *job, p store.Process) error {
	ctx, cancel := opContext()
	defer cancel()
	return e.store.Runs.SetProcess(ctx, j.run.Lease(), p)
}

// follow reads a Terraform process's output into the run's log until the
// process ends, copies the state it writes into the store as it goes, and
// stops it when the run is stopped: SIGINT, then (for a cancel or a timeout)
// SIGKILL to its group after the kill grace. A shutdown never kills Terraform:
// when the grace is over the run records what it has and Terraform is left to
// finish stopping. p is nil when the process ended while no service watched.
func (e *Engine) follow(j *job, p *tfProcess, rec store.Process) stepResult {
	t := &tail{path: filepath.Join(j.dir, rec.Stream)}
	defer t.close()
	exited := make(chan struct{})
	if p == nil {
		close(exited)
	} else {
		exited = p.exited
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	snap := time.NewTicker(e.cfg.StateEvery)
	defer snap.Stop()
	stopping := j.stopping
	var killAt <-chan time.Time
	for {
		t.read(j.logs.streamLine, false)
		select {
		case <-exited:
			t.read(j.logs.streamLine, true)
			if p != nil {
				// Terraform ends its providers itself: what is left of its group
				// now (a provisioner's orphan) belongs to nobody.
				endGroup(p.pid, 500*time.Millisecond)
			}
			e.snapshotState(j) // its final state, before the lines that announce what it created
			j.logs.endStream()
			return e.stepOutcome(j, p, rec, t.found)
		case <-stopping:
			stopping = nil
			if p == nil {
				continue
			}
			j.logs.add(store.LevelWarn, store.SourceOrchestrator, "", fmt.Sprintf("interrupting Terraform (%s): it finishes what is under way and saves its state", j.stopReason()))
			p.interrupt()
			rec.Step += ", interrupted"
			if err := e.setProcess(j, rec); err != nil && !store.IsLeaseLost(err) {
				e.log.Error("record interrupt", "run", j.run.ID, "error", err.Error())
			}
			if j.stopReason() != stopShutdown {
				killAt = time.After(e.cfg.KillGrace)
			}
		case <-killAt:
			killAt = nil
			// A kill can cut a state write short: the last complete one goes
			// into the store first.
			e.snapshotState(j)
			j.logs.add(store.LevelWarn, store.SourceOrchestrator, "", fmt.Sprintf("Terraform did not stop within %s: its process group is killed", e.cfg.KillGrace))
			p.kill()
		case <-j.abandon:
			t.read(j.logs.streamLine, false)
			j.logs.endStream()
			e.snapshotState(j)
			return stepResult{started: true, gaveUp: true, err: errors.New("the service stopped waiting for Terraform")}
		case <-snap.C:
			e.snapshotState(j)
		case <-j.logs.needState:
			// A line announcing a created resource waits for a stored state
			// holding it: Terraform writes it right after the resource.
			e.snapshotState(j)
		case <-tick.C:
		}
	}
}

// stepOutcome reads how a finished process ended: from its exit status when it
// was this process's child, else from its output (an apply or destroy that
// completes prints its change summary).
func (e *Engine) stepOutcome(j *job, p *tfProcess, rec store.Process, found bool) stepResult {
	summary, failures := j.logs.streamResult()
	r := stepResult{started: found || p != nil, ok: summary && failures == 0}
	if p != nil && p.child {
		r.ok = p.exitCode == 0
	}
	if r.ok || failures > 0 {
		return r
	}
	msg := "Terraform ended without completing"
	if !r.started {
		msg = "Terraform's output is lost"
	} else if p != nil && p.child {
		msg = fmt.Sprintf("Terraform exited with status %d", p.exitCode)
		if p.exitCode < 0 {
			msg = "Terraform was killed"
		}
	}
	if raw, err := os.ReadFile(filepath.Join(j.dir, stderrOf(rec.Stream))); err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		s := strings.TrimSpace(string(raw))
		if len(s) > 2000 {
			s = s[:2000] + "…"
		}
		msg += ": " + s
	}
	r.err = errors.New(msg)
	return r
}

// snapshotState copies the state Terraform has written so far into the store
// when it is complete and newer than the stored one.
func (e *Engine) snapshotState(j *job) {
	if j.remote {
		return // the workdir Terraform wrote is on another replica
	}
	raw, st, err := readWorkdirState(j.dir)
	if err != nil || st == nil || st.Serial < j.serial {
		return // none yet, or caught while Terraform writes it: next time
	}
	if st.Serial == j.serial {
		j.setStored(st) // the same serial is the same state
		return
	}
	ctx, cancel := opContext()
	defer cancel()
	if _, err := e.storeState(ctx, j.run.Lease(), j.run.DeploymentID, raw, st); err == nil {
		j.setStored(st)
	} else if store.ErrorCode(err) != store.EConflict {
		e.log.Error("save intermediate state", "run", j.run.ID, "error", err.Error())
	} else if store.IsLeaseLost(err) {
		j.stop(stopLeaseLost)
	}
}

// conclude saves the state, rebuilds resources and outputs from it, and says
// how the run ended.
func (e *Engine) conclude(j *job, d *store.Deployment, res *tosca2tf.Result, prev []*store.Resource, sr stepResult) store.Result {
	var state []byte
	var err error
	if j.remote {
		// The workdir Terraform wrote is on the replica that ran it: the
		// stored state is all there is.
		state, err = e.storedState(d.ID)
	} else {
		state, err = e.ingestWorkdirState(j.run.Lease(), d.ID, j.logs, sr.gaveUp)
	}
	if err != nil {
		j.logs.add(store.LevelError, store.SourceOrchestrator, "", "save state: "+err.Error())
	}
	ctx, cancel := opContext()
	defer cancel()
	outputs, err := e.syncResources(ctx, j.run.Lease(), d, res, state, prev, j.run.Kind, !sr.ok)
	if err != nil {
		j.logs.add(store.LevelWarn, store.SourceOrchestrator, "", "read resources from the state: "+err.Error())
	}
	if err := e.store.Configured.Restore(ctx, d.ID); err != nil {
		j.logs.add(store.LevelWarn, store.SourceOrchestrator, "", "show the software configuration state: "+err.Error())
	}
	result := e.outcome(j, sr, outputs)
	// A run that failed by itself (not stopped) may have a reason only the
	// cloud knows: a server in ERROR carries its fault message there.
	if result.Status == store.RunFailed && j.stopReason() == "" && res.Target == "openstack" {
		if creds, err := e.store.Targets.Credentials(ctx, d.Target); err == nil {
			if why := e.cloudFaults(ctx, e.workdir(d.ID), creds, j.logs); why != "" {
				result.Error = why + "; " + result.Error
			}
		}
	}
	return result
}

// outcome turns a step's result into the run's result and its reason.
func (e *Engine) outcome(j *job, sr stepResult, outputs json.RawMessage) store.Result {
	if sr.ok {
		return store.Result{Status: store.RunSucceeded, Outputs: outputs}
	}
	result := store.Result{Status: store.RunFailed, Outputs: outputs}
	switch j.stopReason() {
	case stopCancel:
		result.Status, result.Error = store.RunCancelled, "cancelled: Terraform was interrupted; the state it wrote is saved"
		if !sr.started {
			result.Error = "cancelled before Terraform started"
		}
	case stopTimeout:
		result.Error = fmt.Sprintf("the run took longer than its time limit (%s): Terraform was interrupted; the state it wrote is saved", e.cfg.RunTimeout)
	case stopLeaseLost:
		result.Error = "another worker took the run over"
	case stopShutdown:
		result.Error = "interrupted: the service stopped during the run; the state Terraform wrote so far is saved"
		if sr.gaveUp {
			result.Error += "; Terraform was still stopping when the shutdown grace ended, the next start of the service collects what it writes"
		} else if !sr.started {
			result.Error = "interrupted: the service stopped before Terraform started; nothing was changed"
		}
	default:
		result.Error = failureReason(sr.err, j.logs)
	}
	if j.recovered != "" {
		result.Error = j.recovered + ": " + result.Error
	}
	if result.Status == store.RunFailed || result.Status == store.RunCancelled {
		j.logs.add(store.LevelError, store.SourceOrchestrator, "", result.Error)
	}
	return result
}

// failureReason is the error a user reads in status_reason: Terraform's error
// diagnostics when there are any, else the step's error.
func failureReason(err error, logs *logWriter) string {
	if msgs := logs.failureMessages(); len(msgs) > 0 {
		return strings.Join(msgs, "; ")
	}
	if err == nil {
		return "the run failed"
	}
	msg := strings.TrimSpace(err.Error())
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return msg
}

// action starts, stops or reboots one Compute instance: its power_state changes
// and only that module instance is applied (-target). Reboot is a stop then a
// start: neither target has a native reboot through Terraform. A refresh-only
// apply then recomputes the root outputs a targeted apply leaves stale.
func (e *Engine) action(j *job, d *store.Deployment) store.Result {
	if j.run.Params.Action == ActionReconfigure {
		return e.reconfigure(j, d)
	}
	return e.actionFrom(j, d, 0)
}

// actionSteps are the power states an action goes through.
var actionSteps = map[string][]string{"start": {"started"}, "stop": {"stopped"}, "reboot": {"stopped", "started"}}

// actionFrom runs an action's steps from the first-th on (a run taken over after
// a crash goes on after the step its Terraform completed), then the refresh.
func (e *Engine) actionFrom(j *job, d *store.Deployment, first int) store.Result {
	p := j.run.Params
	steps := actionSteps[p.Action]
	if steps == nil {
		return store.Result{Status: store.RunFailed, Error: fmt.Sprintf("unknown action %q", p.Action)}
	}
	var res *tosca2tf.Result
	var w *workdir
	sr := stepResult{ok: true, started: first > 0}
	ctx, cancel := opContext()
	prev, _ := e.store.Resources.List(ctx, d.ID)
	cancel()
	stopped := func(err error) store.Result {
		if j.stopReason() != "" {
			return e.outcome(j, stepResult{started: first > 0, err: err}, nil)
		}
		return store.Result{Status: store.RunFailed, Error: err.Error()}
	}
	for i := first; i < len(steps); i++ {
		power := steps[i]
		if d.PowerStates[p.Node] == nil {
			d.PowerStates[p.Node] = map[string]string{}
		}
		d.PowerStates[p.Node][fmt.Sprint(p.Instance)] = power
		ctx, cancel := opContext()
		err := e.store.Deployments.SetPowerStates(ctx, j.run.Lease(), d.ID, d.PowerStates)
		if err == nil && p.ResourceID != "" {
			state := map[string]store.ResourceState{"stopped": store.ResStopping, "started": store.ResStarting}[power]
			_ = e.store.Resources.SetState(ctx, j.run.Lease(), d.ID, state, p.ResourceID)
		}
		cancel()
		if err != nil {
			return store.Result{Status: store.RunFailed, Error: err.Error()}
		}
		if res, w, err = e.prepare(j, d); err != nil {
			return stopped(err)
		}
		addr := ""
		for _, n := range res.Nodes {
			if n.Name == p.Node && n.Kind == "compute" {
				addr = fmt.Sprintf("%s[%d]", n.Module, p.Instance)
			}
		}
		if addr == "" {
			sr = stepResult{err: fmt.Errorf("node %q is not a Compute of this deployment", p.Node)}
			break
		}
		j.logs.add(store.LevelInfo, store.SourceOrchestrator, addr, fmt.Sprintf("%s: setting power state of %s to %s", p.Action, addr, power))
		if sr = e.step(j, w, fmt.Sprintf("action %d/%d", i+1, len(steps)), false, append(applyArgs(), "-target="+addr)...); !sr.ok {
			break
		}
	}
	if sr.ok && w == nil {
		var err error
		if res, w, err = e.prepare(j, d); err != nil {
			return stopped(err)
		}
	}
	if sr.ok && !outputsShow(w.dir, res, p.Node, p.Instance, steps[len(steps)-1]) {
		sr = e.step(j, w, "refresh", true, append(applyArgs(), "-refresh-only")...)
	}
	if w == nil {
		return e.outcome(j, sr, nil)
	}
	result := e.conclude(j, d, res, prev, sr)
	if result.Status != store.RunSucceeded && p.ResourceID != "" {
		ctx, cancel := opContext()
		_ = e.store.Resources.SetState(ctx, j.run.Lease(), d.ID, store.ResError, p.ResourceID)
		cancel()
	}
	return result
}

// outputsShow reports whether the workdir state's orc_resources output already
// shows the instance in the power state: a targeted apply updates the root
// outputs that depend on its target in recent Terraform versions, and then the
// refresh-only apply is not needed.
func outputsShow(dir string, res *tosca2tf.Result, node string, instance int, power string) bool {
	_, st, err := readWorkdirState(dir)
	if err != nil || st == nil || res == nil {
		return false
	}
	o, ok := st.Outputs["orc_resources"]
	if !ok {
		return false
	}
	var instances map[string][]orcResource
	if json.Unmarshal(o.Value, &instances) != nil {
		return false
	}
	for _, n := range res.Nodes {
		if n.Name == node && instance < len(instances[n.Ident]) {
			return instances[n.Ident][instance].Attributes["power_state"] == power
		}
	}
	return false
}

// Render translates a deployment's template for its target, with the owners' ssh
// keys and the instances' power states, and returns the environment Terraform
// needs (the target's credentials).
func (e *Engine) Render(ctx context.Context, d *store.Deployment) (*tosca2tf.Result, map[string]string, error) {
	target, err := e.store.Targets.Get(ctx, d.Target)
	if err != nil {
		return nil, nil, err
	}
	creds, err := e.store.Targets.Credentials(ctx, d.Target)
	if err != nil {
		return nil, nil, err
	}
	cfg := map[string]any{}
	if len(target.Config) > 0 {
		if err := json.Unmarshal(target.Config, &cfg); err != nil {
			return nil, nil, fmt.Errorf("target %s config: %w", d.Target, err)
		}
	}
	keys := []string{}
	for _, owner := range d.Owners {
		list, err := e.store.SSHKeys.List(ctx, owner)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range list {
			keys = append(keys, k.PublicKey)
		}
	}
	sort.Strings(keys)
	tmpl, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: "template.yaml", Content: []byte(d.Template)}, e.cfg.Resolver)
	if err != nil {
		return nil, nil, err
	}
	inputs, err := DecodeInputs(d.Inputs)
	if err != nil {
		return nil, nil, err
	}
	if target.Kind == "openstack" && !configurationOff(target) { // the service's own key, for the configure phase
		pub, err := e.deploymentPublicKey(ctx, d)
		if err != nil {
			return nil, nil, err
		}
		if pub != "" {
			keys = append(keys, pub)
		}
	}
	software := tosca2tf.SoftwareConfigured
	switch {
	case configurationOff(target):
		software = tosca2tf.SoftwareRecorded
	case target.Kind == "local":
		software = tosca2tf.SoftwareSimulated
	}
	res, err := tosca2tf.Translate(tmpl, tosca2tf.Options{Target: target.Kind, Inputs: inputs, DeploymentID: d.ID,
		TargetConfig: cfg, SSHPublicKeys: keys, PowerStates: d.PowerStates, Software: software})
	if err != nil {
		return nil, nil, err
	}
	if err := e.placeHosts(ctx, d, target, res, true); err != nil {
		return nil, nil, err
	}
	env := map[string]string{}
	for k, v := range creds {
		env[k] = v
	}
	return res, env, nil
}

// DecodeInputs reads stored input values, keeping numbers exact.
func DecodeInputs(raw json.RawMessage) (map[string]any, error) {
	inputs := map[string]any{}
	if len(raw) == 0 {
		return inputs, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&inputs); err != nil {
		return nil, fmt.Errorf("stored inputs: %w", err)
	}
	return inputs, nil
}

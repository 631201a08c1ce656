package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"orchestrator/store"
)

// Recovery: what a service process finds when it starts (or when the stalled
// detector finds a run whose worker went silent), and how nothing of it is lost.
//
//   - A run left running is taken over (its lease moves to this process). If
//     its Terraform still runs, the run waits for it, reading the rest of its
//     output; if it ended meanwhile, its output and state are read. Either way
//     the run ends as Terraform ended, with the state saved and the resources
//     rebuilt from it. A run that never started Terraform changed nothing.
//   - A Terraform left running by a run that already ended (the shutdown grace
//     ran out while it was stopping) is waited for, and its state collected.
//   - Other processes left in workdirs (a short command, a provider whose
//     Terraform was killed) are killed: they change nothing.
//   - A workdir whose state is newer than the store's (Terraform finished while
//     no service ran) is saved, and the resources are rebuilt from it.
//
// With several replicas on one database, a replica recovers at start only the
// runs of its own previous process (the worker names its replica): it alone can
// see their processes and files. Runs of other replicas are left to them, or,
// once their lease has expired (the replica died or hangs), to the stalled
// detector of the leading replica, which can only end them with the state
// stored so far. A workdir state that went on from an older state than the
// store's newest (its run was taken over meanwhile) is a fork: it is set aside
// for an operator, never stored.

// recoveryWorker names this process's worker for runs it takes over.
func (e *Engine) recoveryWorker() string { return e.cfg.Name + "/recovery" }

// recoverAtStart takes over every run a previous process left running, deals
// with the processes and states it left in workdirs, and fails in-progress
// deployments no run will finish.
func (e *Engine) recoverAtStart(ctx context.Context) error {
	runs, err := e.store.Runs.Running(ctx)
	if err != nil {
		return err
	}
	leftovers := e.leftoverSessions()
	claimed := map[int]bool{}
	busy := map[string]bool{} // a run of the deployment is running somewhere
	mine := map[string]bool{} // ... here: this replica takes it over
	for _, r := range runs {
		busy[r.DeploymentID] = true
		if !e.ours(r.Worker) {
			continue // another replica's: it holds the lease, or the stalled detector takes it once expired
		}
		mine[r.DeploymentID] = true
		if r.Process.PID == 0 && r.Process.Stream != "" {
			// The process started but its PID was never recorded: it is the
			// Terraform session working in the run's workdir.
			for _, l := range leftovers[r.DeploymentID] {
				r.Process.PID, r.Process.Identity = l.PID, thisBoot()+"/"+l.Start
			}
		}
		claimed[r.Process.PID] = true
		// This replica's previous process is gone (this one holds the data
		// directory): its lease need not have expired.
		e.takeOver(ctx, r, "the service restarted while this run was running", false)
	}
	for dep, sessions := range leftovers {
		for _, l := range sessions {
			if claimed[l.PID] {
				continue
			}
			if mine[dep] {
				// Not the run's own process (that one is recorded): a stray.
				_ = signalGroup(l.PID, syscall.SIGKILL)
				continue
			}
			e.jobs.Add(1)
			go e.collectLeftover(dep, l.PID, thisBoot()+"/"+l.Start)
			busy[dep] = true
		}
	}
	e.ingestNewerWorkdirStates(ctx, busy)
	return e.failOrphanedDeployments(ctx, "the service stopped while this deployment was in progress")
}

// leftoverSessions finds the detached Terraform sessions in workdirs (by
// deployment) and kills every other process left under the data directory: a
// short command, a view in a scratch directory, providers whose Terraform is
// gone. Only a detached Terraform changes infrastructure.
func (e *Engine) leftoverSessions() map[string][]procInfo {
	work := filepath.Join(e.cfg.DataDir, "work")
	sessions := map[string][]procInfo{}
	leaders := map[int]bool{}
	procs := processesUnder(e.cfg.DataDir)
	for _, p := range procs {
		dep, ok := deploymentOf(work, p.Cwd)
		if ok && p.PID == p.SID && p.PID == p.PGID && p.Comm == e.terraformComm() {
			sessions[dep] = append(sessions[dep], p)
			leaders[p.PID] = true
		}
	}
	killed := map[int]bool{}
	for _, p := range procs {
		if leaders[p.PGID] || leaders[p.SID] || killed[p.PGID] {
			continue
		}
		e.log.Warn("killing a process left by a previous service process", "pid", p.PID, "command", p.Comm, "dir", p.Cwd)
		if p.PGID > 1 && p.PGID != syscall.Getpgrp() {
			killed[p.PGID] = true
			_ = signalGroup(p.PGID, syscall.SIGKILL)
		} else {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	_ = os.RemoveAll(filepath.Join(e.cfg.DataDir, "scratch"))
	return sessions
}

// terraformComm is the command name /proc shows for the Terraform binary.
func (e *Engine) terraformComm() string {
	name := filepath.Base(e.tc.Terraform)
	if len(name) > 15 {
		name = name[:15] // the kernel keeps 15 bytes of it
	}
	return name
}

// deploymentOf returns the deployment whose workdir holds dir.
func deploymentOf(work, dir string) (string, bool) {
	rel, err := filepath.Rel(work, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return strings.Split(rel, string(filepath.Separator))[0], true
}

// takeOver moves a run's lease to this process (only an expired one when
// expired) and resumes it in a goroutine of its own. A run of another replica
// is resumed without its processes and files, which are on that replica.
func (e *Engine) takeOver(ctx context.Context, r *store.Run, why string, expired bool) bool {
	taken, err := e.store.Runs.Takeover(ctx, store.Handover{From: r.Lease(), To: e.recoveryWorker(), For: e.cfg.StallAfter, Expired: expired})
	if err != nil {
		if store.ErrorCode(err) != store.EConflict {
			e.log.Error("take over run", "run", r.ID, "error", err.Error())
		}
		return false
	}
	// The PID found by looking at the workdir is the process to follow.
	if taken.Process.PID == 0 {
		taken.Process.PID, taken.Process.Identity = r.Process.PID, r.Process.Identity
	}
	remote := ""
	if !e.ours(r.Worker) {
		remote = replicaOf(r.Worker)
		e.log.Warn("taking over a run of another replica whose lease expired", "run", r.ID, "replica", remote)
	}
	e.jobs.Add(1)
	go func() {
		defer e.jobs.Done()
		e.workRecovered(taken, why, remote, e.resume)
	}()
	return true
}

// resume finishes a run taken over from a process that is gone: it waits for
// the run's Terraform if it still runs, reads what it wrote, and records the
// outcome Terraform had.
func (e *Engine) resume(j *job) store.Result {
	run, logs := j.run, j.logs
	p := run.Process
	logs.add(store.LevelWarn, store.SourceOrchestrator, "", fmt.Sprintf("%s run %s taken over by %s: %s", run.Kind, run.ID, run.Worker, j.recovered))
	if j.remote {
		logs.add(store.LevelWarn, store.SourceOrchestrator, "", fmt.Sprintf("the run was held by replica %s, whose lease expired", j.from))
	}
	d, err := e.loadDeployment(run.DeploymentID)
	if err != nil {
		return store.Result{Status: store.RunFailed, Error: "load deployment: " + err.Error()}
	}
	var sr stepResult
	switch {
	case p.Stream == "" && run.Kind == store.RunAction:
		// The power state may already be recorded as asked: the action is run
		// (it changes nothing twice), so that the record and the server agree.
		logs.add(store.LevelInfo, store.SourceOrchestrator, "", "the action had not started Terraform: running it")
		return e.action(j, d)
	case p.Stream == "":
		sr.err = fmt.Errorf("the run ended before Terraform started; nothing was changed")
	case j.remote:
		// Never wait on, signal or read what belongs to another replica.
		sr = stepResult{started: true, err: fmt.Errorf("its Terraform (%s, pid %d) ran on replica %s, which stopped renewing the run's lease: "+
			"it cannot be followed from this replica; the state stored so far is kept", p.Step, p.PID, j.from)}
	default:
		var proc *tfProcess
		if processAlive(p.PID, p.Identity) {
			proc = attachTerraform(p.PID, p.Identity)
			logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("Terraform (%s, pid %d) is still running: waiting for it", p.Step, p.PID))
		} else {
			logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("Terraform (%s) ended while no service watched it: reading what it wrote", p.Step))
		}
		j.mu.Lock()
		j.proc = proc
		if proc != nil && strings.HasSuffix(p.Step, ", interrupted") {
			proc.interrupted.Store(true) // it already had its one SIGINT
		}
		j.mu.Unlock()
		logs.beginStream(p.Offset, strings.HasPrefix(p.Step, "refresh"))
		sr = e.follow(j, proc, p)
		var done, total int
		if _, err := fmt.Sscanf(p.Step, "action %d/%d", &done, &total); err == nil && run.Kind == store.RunAction && sr.ok {
			// The action goes on after the step its Terraform completed.
			logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("%s of the %s action completed: going on", p.Step, run.Params.Action))
			return e.actionFrom(j, d, done)
		}
	}
	ctx, cancel := opContext()
	res, _, err := e.Render(ctx, d)
	var prev []*store.Resource
	if err == nil {
		prev, _ = e.store.Resources.List(ctx, d.ID)
	}
	cancel()
	if err != nil {
		if !j.remote {
			if _, serr := e.ingestWorkdirState(run.Lease(), d.ID, logs, false); serr != nil {
				logs.add(store.LevelError, store.SourceOrchestrator, "", "save state: "+serr.Error())
			}
		}
		sr.ok, sr.err = false, fmt.Errorf("translate the template: %w", err)
		return e.outcome(j, sr, nil)
	}
	result := e.conclude(j, d, res, prev, sr)
	if run.Kind == store.RunAction && result.Status != store.RunSucceeded && run.Params.ResourceID != "" {
		ctx, cancel := opContext()
		_ = e.store.Resources.SetState(ctx, run.Lease(), d.ID, store.ResError, run.Params.ResourceID)
		cancel()
	}
	return result
}

// collectLeftover waits for a Terraform left running by a run that already
// ended (the shutdown grace was over before it stopped), reads the rest of its
// output into that run's log, then saves the state it wrote and rebuilds the
// resources from it. One that was interrupted already is given the run's whole
// time limit to stop (a second SIGINT would make it abort without saving);
// another is interrupted, and killed after the kill grace.
func (e *Engine) collectLeftover(deploymentID string, pid int, identity string) {
	defer e.jobs.Done()
	unlock := e.lock(deploymentID)
	defer unlock()
	last := e.lastRun(deploymentID)
	// Its output goes into its run's log only while that run is this
	// replica's (not taken over by another since).
	ours := last != nil && last.Process.PID == pid && last.Process.Identity == identity && e.ours(last.Worker)
	interrupted := ours && strings.HasSuffix(last.Process.Step, ", interrupted")
	e.logLine(context.Background(), deploymentID, "", store.LevelWarn, fmt.Sprintf("a Terraform process (pid %d) left by a run that already ended still works in the workdir: waiting for it, then saving the state it wrote", pid))
	p := attachTerraform(pid, identity)
	p.interrupted.Store(interrupted)
	wait := e.cfg.RunTimeout
	if !interrupted {
		p.interrupt()
		wait = e.cfg.KillGrace
	}
	var logs *logWriter
	t := &tail{}
	if ours && last.Process.Stream != "" {
		logs = newLogWriter(e.store, deploymentID, store.Lease{RunID: last.ID}, e.log)
		logs.beginStream(last.Process.Offset, strings.HasPrefix(last.Process.Step, "refresh"))
		t.path = filepath.Join(e.workdir(deploymentID), last.Process.Stream)
	}
	finishLogs := func() {
		if logs != nil {
			t.read(logs.streamLine, true)
			t.close()
			logs.endStream()
			logs.Close()
		}
	}
	timeout := time.After(wait)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		if logs != nil {
			t.read(logs.streamLine, false)
		}
		select {
		case <-p.exited:
			waiting = false
		case <-e.quit:
			finishLogs()
			return // the next start collects it
		case <-timeout:
			e.logLine(context.Background(), deploymentID, "", store.LevelWarn, fmt.Sprintf("the Terraform process (pid %d) did not stop in %s: killed", pid, wait))
			p.kill()
			<-p.exited
			waiting = false
		case <-tick.C:
		}
	}
	endGroup(pid, 500*time.Millisecond)
	finishLogs()
	runID, kind := "", store.RunUpdate
	if last != nil {
		runID, kind = last.ID, last.Kind
	}
	e.ingestRecovered(deploymentID, runID, kind)
	if ours {
		e.removeStreams(last)
	}
}

func (e *Engine) lastRun(deploymentID string) *store.Run {
	ctx, cancel := opContext()
	defer cancel()
	runs, _, err := e.store.Runs.List(ctx, deploymentID, store.Page{Number: 1, Size: 1})
	if err != nil || len(runs) == 0 {
		return nil
	}
	return runs[0]
}

// ingestNewerWorkdirStates saves, for every deployment not busy (no run of it
// runs on any replica), a workdir state newer than the stored one, and
// rebuilds its resources from it.
func (e *Engine) ingestNewerWorkdirStates(ctx context.Context, busy map[string]bool) {
	entries, err := os.ReadDir(filepath.Join(e.cfg.DataDir, "work"))
	if err != nil {
		return
	}
	for _, ent := range entries {
		if !ent.IsDir() || busy[ent.Name()] {
			continue
		}
		_, st, err := readWorkdirState(e.workdir(ent.Name()))
		if err != nil || st == nil {
			continue
		}
		if latest, err := e.store.States.Latest(ctx, ent.Name()); err == nil && (latest.Serial >= st.Serial || latest.Lineage != st.Lineage) {
			continue
		} else if err != nil && !store.IsNotFound(err) {
			continue
		}
		runID, kind := "", store.RunUpdate
		if last := e.lastRun(ent.Name()); last != nil {
			runID, kind = last.ID, last.Kind
		}
		unlock := e.lock(ent.Name())
		e.ingestRecovered(ent.Name(), runID, kind)
		unlock()
	}
}

// ingestRecovered saves a workdir's state that is newer than the store's and
// rebuilds the deployment's resources from it, as a failed run of kind would.
// A state that forked from an older stored one (another replica ran the
// deployment meanwhile) is set aside instead, with a line in the log.
func (e *Engine) ingestRecovered(deploymentID, runID string, kind store.RunKind) {
	ctx, cancel := opContext()
	defer cancel()
	dir := e.workdir(deploymentID)
	raw, st, err := readWorkdirState(dir)
	if err != nil || st == nil {
		return
	}
	if latest, err := e.store.States.Latest(ctx, deploymentID); err == nil && latest.Lineage == st.Lineage &&
		st.Serial > latest.Serial && !inStep(dir, latest) {
		aside := fmt.Sprintf("%s.forked-%d", stateFile, st.Serial)
		if os.Rename(filepath.Join(dir, stateFile), filepath.Join(dir, aside)) == nil {
			e.logLine(ctx, deploymentID, "", store.LevelError, fmt.Sprintf("replica %s holds a state of this deployment (serial %d) written by a run "+
				"another replica took over: it went on from an older state than the store's newest (serial %d) and is not stored; "+
				"resources it lists may exist: it is kept in that replica's workdir as %s for an operator", e.cfg.Replica, st.Serial, latest.Serial, aside))
		}
		return
	}
	added, err := e.storeState(ctx, store.Lease{RunID: runID}, deploymentID, raw, st)
	if err != nil || !added {
		return
	}
	msg := fmt.Sprintf("the workdir held a newer state than the store (serial %d): saved, resources rebuilt from it", st.Serial)
	e.logLine(context.Background(), deploymentID, runID, store.LevelWarn, msg)
	d, err := e.store.Deployments.Get(ctx, deploymentID)
	if err != nil {
		return
	}
	res, _, err := e.Render(ctx, d)
	if err != nil {
		return
	}
	prev, _ := e.store.Resources.List(ctx, deploymentID)
	if _, err := e.syncResources(ctx, store.Lease{}, d, res, raw, prev, kind, true); err != nil {
		e.logLine(context.Background(), deploymentID, runID, store.LevelWarn, "read resources from the state: "+err.Error())
	}
}

// DetectStalled takes over running runs whose lease expired (their worker died
// or hangs): a run of this replica whose Terraform still runs is followed to
// its end, one whose Terraform ended records how it ended, one that never
// started Terraform fails; a run of another replica fails as stalled with the
// state stored so far. It also fails in-progress deployments no run is
// working on. It returns how many runs it took over.
func (e *Engine) DetectStalled(ctx context.Context) (int, error) {
	runs, err := e.store.Runs.Stalled(ctx, e.store.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		if e.Holds(r.ID) {
			continue // ours and alive: its heartbeat is only late
		}
		e.mu.Lock()
		stopped := e.stopped
		e.mu.Unlock()
		if stopped {
			break
		}
		why := "run stalled: no heartbeat"
		if r.HeartbeatAt != nil {
			why += " since " + r.HeartbeatAt.Format(time.RFC3339)
		}
		if e.takeOver(ctx, r, why, true) {
			n++
		}
	}
	return n, e.failOrphanedDeployments(ctx, "its run ended without finishing it")
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

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
	busy := map[string]bool{}
	for _, r := range runs {
		busy[r.DeploymentID] = true
		if r.Process.PID == 0 && r.Process.Stream != "" {
			// The process started but its PID was never recorded: it is the
			// Terraform session working in the run's workdir.
			for _, l := range leftovers[r.DeploymentID] {
				r.Process.PID, r.Process.Identity = l.PID, thisBoot()+"/"+l.Start
			}
		}
		claimed[r.Process.PID] = true
		e.takeOver(ctx, r, "the service restarted while this run was running")
	}
	for dep, sessions := range leftovers {
		for _, l := range sessions {
			if claimed[l.PID] {
				continue
			}
			if busy[dep] {
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

// takeOver moves a run's lease to this process and resumes it in a goroutine of
// its own.
func (e *Engine) takeOver(ctx context.Context, r *store.Run, why string) bool {
	taken, err := e.store.Runs.Takeover(ctx, r.ID, r.Worker, e.recoveryWorker())
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
	e.jobs.Add(1)
	go func() {
		defer e.jobs.Done()
		e.workRecovered(taken, why, e.resume)
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
		if _, serr := e.ingestWorkdirState(d.ID, run.ID, logs, false); serr != nil {
			logs.add(store.LevelError, store.SourceOrchestrator, "", "save state: "+serr.Error())
		}
		sr.ok, sr.err = false, fmt.Errorf("translate the template: %w", err)
		return e.outcome(j, sr, nil)
	}
	result := e.conclude(j, d, res, prev, sr)
	if run.Kind == store.RunAction && result.Status != store.RunSucceeded && run.Params.ResourceID != "" {
		ctx, cancel := opContext()
		_ = e.store.Resources.SetState(ctx, d.ID, store.ResError, run.Params.ResourceID)
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
	ours := last != nil && last.Process.PID == pid && last.Process.Identity == identity
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
		logs = newLogWriter(e.store, deploymentID, last.ID, e.log)
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

// ingestNewerWorkdirStates saves, for every deployment not busy, a workdir
// state newer than the stored one, and rebuilds its resources from it.
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
func (e *Engine) ingestRecovered(deploymentID, runID string, kind store.RunKind) {
	ctx, cancel := opContext()
	defer cancel()
	raw, st, err := readWorkdirState(e.workdir(deploymentID))
	if err != nil || st == nil {
		return
	}
	added, err := e.storeState(ctx, deploymentID, runID, raw, st)
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
	if _, err := e.syncResources(ctx, d, res, raw, prev, kind, true); err != nil {
		e.logLine(context.Background(), deploymentID, runID, store.LevelWarn, "read resources from the state: "+err.Error())
	}
}

// DetectStalled takes over running runs whose heartbeat is older than
// StallAfter (their worker died or hangs): a run whose Terraform still runs is
// followed to its end, one whose Terraform ended records how it ended, one
// that never started Terraform fails. It also fails in-progress deployments no
// run is working on. It returns how many runs it took over.
func (e *Engine) DetectStalled(ctx context.Context) (int, error) {
	before := e.store.Now().Add(-e.cfg.StallAfter)
	runs, err := e.store.Runs.Stalled(ctx, before)
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
		if e.takeOver(ctx, r, why) {
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

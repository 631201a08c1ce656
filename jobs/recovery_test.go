package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/store"
)

// secondEngine is another service process on the same store and data dir: what
// starts after the first one crashed.
func (h *harness) secondEngine(name string, cfg Config) *Engine {
	h.t.Helper()
	cfg.DataDir, cfg.Name = h.dir, name
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 200 * time.Millisecond
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = 5 * time.Second
	}
	e := New(cfg, h.store, tftest.Find(h.t).TC, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

// startAsDeadProcess does for a claimed run what a service process does up to
// starting Terraform, and then "dies": nobody follows the process, nobody
// finishes the run.
func (h *harness) startAsDeadProcess(run *store.Run) (*tfProcess, store.Process) {
	h.t.Helper()
	ctx := context.Background()
	d, err := h.store.Deployments.Get(ctx, run.DeploymentID)
	if err != nil {
		h.t.Fatal(err)
	}
	j := newJob(run, h.engine.workdir(d.ID))
	j.logs = newLogWriter(h.store, d.ID, run.Lease(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer j.logs.Close()
	res, w, err := h.engine.prepare(j, d)
	if err != nil {
		h.t.Fatal(err)
	}
	h.engine.markResources(ctx, run.Lease(), d, res, run.Kind)
	rec := store.Process{Step: "apply", Stream: filepath.Join(streamDir, run.ID+"-1-1.jsonl")}
	if err := h.store.Runs.SetProcess(ctx, run.Lease(), rec); err != nil {
		h.t.Fatal(err)
	}
	p, err := h.engine.startTerraform(w.dir, w.env, rec.Stream, stderrOf(rec.Stream), applyArgs()...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { p.kill() })
	rec.PID, rec.Identity = p.pid, p.identity
	if err := h.store.Runs.SetProcess(ctx, run.Lease(), rec); err != nil {
		h.t.Fatal(err)
	}
	return p, rec
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// countLines counts log lines whose message contains s.
func (h *harness) countLines(id, s string) int {
	return strings.Count(h.logs(id), s)
}

func (h *harness) noProcessesLeft() {
	h.t.Helper()
	waitFor(h.t, 10*time.Second, "the workdirs' processes to end", func() bool { return len(processesUnder(h.dir)) == 0 })
}

// A service process crashed while Terraform applied. The next one takes the run
// over, waits for the same Terraform process to finish, reads the rest of its
// output without repeating the lines the first one stored, and records the
// outcome Terraform had: the deployment is created, nothing is lost.
func TestRestartReattachesToTheRunningTerraform(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{target: map[string]any{"boot_seconds": 4}})
	ctx := context.Background()
	d := h.submit(example(t, "cluster"), map[string]any{"node_count": 2})
	run, err := h.store.Runs.Claim(ctx, "crashed-process/w0", h.engine.cfg.StallAfter)
	if err != nil || run == nil {
		t.Fatalf("claim: %v", err)
	}
	p, rec := h.startAsDeadProcess(run)
	stream := filepath.Join(h.engine.workdir(d.ID), rec.Stream)
	// The first process stored the first lines of the stream before it died.
	var raw []byte
	waitFor(t, time.Minute, "Terraform to start creating", func() bool {
		raw, _ = os.ReadFile(stream)
		return bytes.Contains(raw, []byte("Creating..."))
	})
	lines := bytes.SplitAfter(raw, []byte("\n"))[:3]
	stored := []*store.LogLine{}
	offset := 0
	for _, l := range lines {
		offset += len(l)
		var m tfMessage
		json.Unmarshal(l, &m)
		stored = append(stored, &store.LogLine{Level: store.LevelInfo, Source: store.SourceTerraform, RunID: run.ID, Message: m.Message})
	}
	if err := h.store.Runs.AppendStream(ctx, run.Lease(), int64(offset), stored...); err != nil {
		t.Fatal(err)
	}
	if !p.alive() {
		t.Fatal("Terraform ended before the restart: the test proves nothing")
	}

	second := h.secondEngine("second", Config{})
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := h.wait(d.ID, store.CreateComplete)
	r, _ := h.store.Runs.Get(ctx, run.ID)
	if r.Status != store.RunSucceeded || r.Worker != "second/recovery" || r.Attempts != 2 {
		t.Fatalf("run after the restart: %s %q worker %s attempts %d", r.Status, r.Error, r.Worker, r.Attempts)
	}
	logs := h.logs(d.ID)
	if !strings.Contains(logs, "is still running: waiting for it") {
		t.Fatalf("the restart did not re-attach:\n%s", logs)
	}
	// Every line of the stream is in the log exactly once.
	for _, l := range bytes.Split(mustRead(t, stream, raw), []byte("\n")) {
		var m tfMessage
		if json.Unmarshal(l, &m) != nil || m.Message == "" || strings.Contains(m.Message, "Still creating") {
			continue
		}
		if n := h.countLines(d.ID, m.Message); n < 1 {
			t.Fatalf("line %q is missing from the log", m.Message)
		}
	}
	var first tfMessage
	json.Unmarshal(lines[0], &first)
	if n := h.countLines(d.ID, first.Message); n != 1 {
		t.Fatalf("the first stored line %q is in the log %d times", first.Message, n)
	}
	res := h.resources(d.ID)
	if len(res) != 4 || res["nodes[1]"].State != store.ResStarted || res["scratch[0]"].State != store.ResCreated {
		t.Fatalf("resources: %v", res)
	}
	if got.Progress.Done == 0 || got.Progress.Done != got.Progress.Planned {
		t.Fatalf("progress after the restart: %+v", got.Progress)
	}
	latest, _ := h.store.States.Latest(ctx, d.ID)
	st, _ := parseState(latest.State)
	if n := len(st.managedAddresses()); n < 8 {
		t.Fatalf("the stored state knows %d resources", n)
	}
	h.noProcessesLeft()
}

func mustRead(t *testing.T, path string, fallback []byte) []byte {
	if raw, err := os.ReadFile(path); err == nil {
		return raw
	}
	return fallback
}

// Terraform finished while no service ran: the next start reads its output and
// state, records the run's real outcome and rebuilds the resources (issue 10,
// item 4: they never stay CREATING).
func TestRestartAfterTerraformFinishedAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	ctx := context.Background()
	d := h.submit(example(t, "cluster"), map[string]any{"node_count": 2})
	run, _ := h.store.Runs.Claim(ctx, "crashed-process/w0", h.engine.cfg.StallAfter)
	p, _ := h.startAsDeadProcess(run)
	for _, r := range h.resources(d.ID) {
		if r.State != store.ResCreating {
			t.Fatalf("before the restart %s is %s", r.Node, r.State)
		}
	}
	<-p.exited
	second := h.secondEngine("second", Config{})
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, store.CreateComplete)
	for k, r := range h.resources(d.ID) {
		if r.State != store.ResStarted && r.State != store.ResCreated {
			t.Fatalf("%s is %s after recovery", k, r.State)
		}
	}
	if !strings.Contains(h.logs(d.ID), "ended while no service watched it") {
		t.Fatal("recovery is not logged")
	}
}

// A run whose process died before Terraform started changed nothing: it fails
// with that reason, and its resources do not stay CREATING.
func TestRestartOfARunThatNeverStartedTerraform(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	ctx := context.Background()
	d := h.submit(example(t, "single-vm"), nil)
	run, _ := h.store.Runs.Claim(ctx, "crashed-process/w0", h.engine.cfg.StallAfter)
	res, _ := h.engine.Translate(ctx, d)
	h.engine.markResources(ctx, run.Lease(), d, res, store.RunCreate)
	second := h.secondEngine("second", Config{})
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := h.wait(d.ID, store.CreateFailed)
	if !strings.Contains(got.StatusReason, "restarted") || !strings.Contains(got.StatusReason, "nothing was changed") {
		t.Fatalf("reason: %q", got.StatusReason)
	}
	if r, _ := h.store.Runs.Get(ctx, run.ID); r.Status != store.RunFailed {
		t.Fatalf("run %s", r.Status)
	}
	for k, r := range h.resources(d.ID) {
		if r.State == store.ResCreating {
			t.Fatalf("%s stayed CREATING", k)
		}
	}
}

// A graceful shutdown interrupts Terraform, which saves what it created; the run
// is recorded as interrupted with that partial state, nothing keeps running, and
// a later delete removes everything.
func TestShutdownInterruptsAndRecordsThePartialState(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true, target: map[string]any{"boot_seconds": 120}})
	ctx := context.Background()
	d := h.submit(example(t, "cluster"), map[string]any{"node_count": 3})
	waitFor(t, 2*time.Minute, "the volumes to be created and the servers to boot", func() bool {
		l := h.logs(d.ID)
		return strings.Count(l, "terraform_data.boot[0]: Creating...") == 3
	})
	stopCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.engine.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("the shutdown took %s", time.Since(start))
	}
	got, _ := h.store.Deployments.Get(ctx, d.ID)
	if got.Status != store.CreateFailed || !strings.Contains(got.StatusReason, "interrupted: the service stopped during the run") {
		t.Fatalf("after shutdown: %s %q", got.Status, got.StatusReason)
	}
	h.noProcessesLeft()
	latest, err := h.store.States.Latest(ctx, d.ID)
	if err != nil {
		t.Fatal("no state saved")
	}
	st, _ := parseState(latest.State)
	servers := 0
	for _, a := range st.managedAddresses() {
		if strings.HasSuffix(a, "terraform_data.server") {
			servers++
		}
	}
	if servers != 3 {
		t.Fatalf("the partial state knows %d servers: %v", servers, st.managedAddresses())
	}
	for k, r := range h.resources(d.ID) {
		if r.State == store.ResCreating {
			t.Fatalf("%s stayed CREATING", k)
		}
	}

	second := h.secondEngine("second", Config{})
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	second.Wake()
	h.wait(d.ID, store.DeleteComplete)
	latest, _ = h.store.States.Latest(ctx, d.ID)
	if st, _ := parseState(latest.State); len(st.managedAddresses()) != 0 {
		t.Fatalf("left after delete: %v", st.managedAddresses())
	}
}

// When the shutdown grace is over before Terraform stopped, the run records
// what it has and the service stops waiting; the next start collects the state
// the left-behind Terraform wrote.
func TestShutdownGraceOverIsCollectedAtTheNextStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true, target: map[string]any{"boot_seconds": 120}})
	ctx := context.Background()
	d := h.submit(example(t, "cluster"), map[string]any{"node_count": 2})
	waitFor(t, 2*time.Minute, "the servers to boot", func() bool {
		return strings.Count(h.logs(d.ID), "terraform_data.boot[0]: Creating...") == 2
	})
	over, cancel := context.WithCancel(ctx)
	cancel() // no grace at all
	h.engine.Stop(over)
	got, _ := h.store.Deployments.Get(ctx, d.ID)
	if got.Status != store.CreateFailed || !strings.Contains(got.StatusReason, "interrupted") {
		t.Fatalf("after shutdown: %s %q", got.Status, got.StatusReason)
	}
	second := h.secondEngine("second", Config{})
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.noProcessesLeft()
	// Whatever Terraform wrote last is in the store now.
	waitFor(t, 30*time.Second, "the workdir's state to be stored", func() bool {
		_, st, err := readWorkdirState(h.engine.workdir(d.ID))
		latest, lerr := h.store.States.Latest(ctx, d.ID)
		return err == nil && st != nil && lerr == nil && latest.Serial >= st.Serial
	})
	h.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	second.Wake()
	h.wait(d.ID, store.DeleteComplete)
	h.noProcessesLeft()
}

// A run that outlives its time limit is interrupted, then killed with its whole
// process group after the kill grace; it records the state and the reason.
func TestRunTimeoutEndsTheProcessGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{target: map[string]any{"boot_seconds": 120}})
	ctx := context.Background()
	e := h.secondEngine("timeouts", Config{RunTimeout: 15 * time.Second, KillGrace: 2 * time.Second})
	h.engine = e
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d := h.submit(example(t, "single-vm"), nil)
	got := h.wait(d.ID, store.CreateFailed)
	if !strings.Contains(got.StatusReason, "time limit") {
		t.Fatalf("reason: %q", got.StatusReason)
	}
	runs, _, _ := h.store.Runs.List(ctx, d.ID, store.Page{})
	if took := runs[0].FinishedAt.Sub(*runs[0].StartedAt); took > 40*time.Second {
		t.Fatalf("the run took %s with a time limit of 15 s", took)
	}
	h.noProcessesLeft()
	// What Terraform created before the time ran out is in the store.
	if _, err := h.store.States.Latest(ctx, d.ID); err != nil && strings.Contains(h.logs(d.ID), "Creation complete") {
		t.Fatal("the state of the timed-out run is not saved")
	}
}

// Processes a previous service process left in the data directory that change
// nothing (a short command, a provider whose Terraform was killed) are killed
// at start.
func TestStartKillsStrayProcesses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	dir := filepath.Join(h.dir, "scratch", "left-behind")
	os.MkdirAll(dir, 0o700)
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "300"}, &os.ProcAttr{Dir: dir, Sys: &syscall.SysProcAttr{Setpgid: true}})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.Wait(); close(exited) }()
	e := h.secondEngine("second", Config{})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Fatal("the stray process was not killed")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("the scratch directory was not removed")
	}
}

// A run longer than every internal deadline (each bookkeeping operation has
// opTimeout) records its outcome and state exactly like a short one.
func TestLongRunRecordsLikeAShortOne(t *testing.T) {
	t.Parallel()
	boot := int((opTimeout + time.Minute) / time.Second) // 3 minutes
	h := newHarness(t, harnessOpt{start: true, target: map[string]any{"boot_seconds": boot}})
	ctx := context.Background()
	start := time.Now()
	d := h.submit(example(t, "single-vm"), nil)
	// The server is in the store long before the boot ends.
	waitFor(t, time.Minute, "the server in a stored state", func() bool {
		latest, err := h.store.States.Latest(ctx, d.ID)
		if err != nil {
			return false
		}
		st, _ := parseState(latest.State)
		for _, a := range st.managedAddresses() {
			if a == "module.vm[0].terraform_data.server" {
				return true
			}
		}
		return false
	})
	got := h.waitUpTo(d.ID, store.CreateComplete, time.Duration(boot)*time.Second+3*time.Minute)
	if took := time.Since(start); took < time.Duration(boot)*time.Second {
		t.Fatalf("the run took %s: it did not outlast the deadlines", took)
	}
	runs, _, _ := h.store.Runs.List(ctx, d.ID, store.Page{})
	if runs[0].Status != store.RunSucceeded || runs[0].Error != "" {
		t.Fatalf("run: %s %q", runs[0].Status, runs[0].Error)
	}
	if vm := h.resources(d.ID)["vm[0]"]; vm == nil || vm.State != store.ResStarted || vm.CloudID == "" {
		t.Fatalf("resource: %+v", vm)
	}
	latest, _ := h.store.States.Latest(ctx, d.ID)
	st, _ := parseState(latest.State)
	_, workdir, _ := readWorkdirState(h.engine.workdir(d.ID))
	if workdir == nil || st.Serial != workdir.Serial || len(st.Outputs) == 0 {
		t.Fatalf("stored serial %d, workdir %+v", st.Serial, workdir)
	}
	if n, _ := h.store.States.Count(ctx, d.ID); n < 2 {
		t.Fatalf("%d state versions: the state was not saved during the run", n)
	}
	var outputs map[string]any
	json.Unmarshal(got.Outputs, &outputs)
	if len(outputs) == 0 {
		t.Fatalf("outputs: %s", got.Outputs)
	}
	if !strings.Contains(h.logs(d.ID), "create run "+runs[0].ID+" succeeded in ") {
		t.Fatal("the success is not logged")
	}
}

// A cancelled run whose provisioner shrugs off SIGINT and leaves a grandchild
// behind: the cancel takes effect within the kill grace, and nothing the run
// started is left (the process group goes with Terraform).
func TestCancelLeavesNothingOfTheRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	ctx := context.Background()
	e := h.secondEngine("cancels", Config{KillGrace: 2 * time.Second})
	d := h.submit(example(t, "single-vm"), nil)
	run, _ := h.store.Runs.Claim(ctx, "cancels/w0", h.engine.cfg.StallAfter)
	dir := e.workdir(d.ID)
	os.MkdirAll(filepath.Join(dir, streamDir), 0o700)
	os.MkdirAll(filepath.Join(dir, ".home"), 0o700)
	// Not one of our modules: a provisioner that shrugs off SIGINT and leaves a
	// grandchild behind when its shell is killed.
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "terraform_data" "stubborn" {
  provisioner "local-exec" {
    command = "trap '' INT TERM; sleep 300 & wait"
  }
}
`), 0o600)
	env, _ := e.terraformEnv(dir, nil)
	if err := e.runTerraform(ctx, dir, env, nil, "init", "-input=false"); err != nil {
		t.Fatal(err)
	}
	j := newJob(run, dir)
	j.logs = newLogWriter(h.store, d.ID, run.Lease(), e.log)
	defer j.logs.Close()
	done := make(chan stepResult, 1)
	go func() { done <- e.step(j, &workdir{dir: dir, env: env}, "apply", false, applyArgs()...) }()
	waitFor(t, time.Minute, "the provisioner to run", func() bool {
		for _, p := range processesUnder(dir) {
			if p.Comm == "sleep" {
				return true
			}
		}
		return false
	})
	start := time.Now()
	j.stop(stopCancel)
	var sr stepResult
	select {
	case sr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the cancel did not take effect in 30 s with a kill grace of 2 s")
	}
	if sr.ok || time.Since(start) > 2*time.Second+3*time.Second {
		t.Fatalf("step after cancel: %+v in %s", sr, time.Since(start))
	}
	if left := processesUnder(dir); len(left) > 0 {
		t.Fatalf("processes left after the cancel: %+v", left)
	}
	j.logs.sync()
	if !strings.Contains(h.logs(d.ID), "interrupting Terraform (cancelled)") {
		t.Fatalf("the interrupt is not logged:\n%s", h.logs(d.ID))
	}
}

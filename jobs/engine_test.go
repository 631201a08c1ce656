package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/store"
	"orchestrator/store/clocktest"
)

type harness struct {
	t      *testing.T
	engine *Engine
	store  *store.Store
	user   *store.User
	dir    string
}

type harnessOpt struct {
	workers int
	clock   func() time.Time
	start   bool
	target  map[string]any
}

func newHarness(t *testing.T, o harnessOpt) *harness {
	t.Helper()
	tc := tftest.Find(t)
	dir := t.TempDir()
	if o.clock == nil {
		o.clock = clocktest.New().Now
	}
	opts := []store.Option{store.WithSealKey(make([]byte, 32)), store.WithClock(o.clock)}
	st, err := store.Open(context.Background(), filepath.Join(dir, "test.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, _ := json.Marshal(o.target)
	if o.target == nil {
		cfg = []byte("{}")
	}
	if err := st.Targets.Create(context.Background(), &store.Target{Name: "local", Kind: "local", Config: cfg}, nil); err != nil {
		t.Fatal(err)
	}
	u := &store.User{Username: "owner"}
	if err := st.Users.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if o.workers == 0 {
		o.workers = 4
	}
	e := New(Config{DataDir: dir, Workers: o.workers, Heartbeat: 200 * time.Millisecond, KillGrace: 5 * time.Second},
		st, tc.TC, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if o.start {
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e.Stop(ctx)
		})
	}
	return &harness{t: t, engine: e, store: st, user: u, dir: dir}
}

func example(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join("..", "examples", name, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// submit creates a deployment the way the API does: translated first, then
// stored with its create run, then the engine is woken.
func (h *harness) submit(template string, inputs map[string]any) *store.Deployment {
	h.t.Helper()
	raw, _ := json.Marshal(inputs)
	d := &store.Deployment{ID: store.NewID(), Template: template, Target: "local", Inputs: raw, Owners: []string{h.user.ID}}
	res, err := h.engine.Translate(context.Background(), d)
	if err != nil {
		h.t.Fatalf("translate: %v", err)
	}
	d.Terraform, d.TFVars = string(res.Main), string(res.Vars)
	if _, err := h.store.Deployments.Create(context.Background(), d, h.user.ID); err != nil {
		h.t.Fatal(err)
	}
	h.engine.Wake()
	return d
}

// wait polls until the deployment reaches a settled status (no active run).
func (h *harness) wait(id string, want store.Status) *store.Deployment {
	h.t.Helper()
	// A guard against a hang, not a timing assertion: a loaded 2-core machine
	// runs 20 deployments in well under this.
	return h.waitUpTo(id, want, 10*time.Minute)
}

func (h *harness) waitUpTo(id string, want store.Status, limit time.Duration) *store.Deployment {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		d, err := h.store.Deployments.Get(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		active, _ := h.store.Runs.Active(context.Background(), id)
		if len(active) == 0 && !d.Status.InProgress() {
			if d.Status != want {
				h.t.Fatalf("deployment %s is %s (%s), want %s\nlogs:\n%s", id, d.Status, d.StatusReason, want, h.logs(id))
			}
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("deployment %s did not settle", id)
	return nil
}

func (h *harness) logs(id string) string {
	lines, _, _ := h.store.Logs.List(context.Background(), id, store.LogFilter{}, store.Page{Size: 1000})
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%d %s %s %s %s\n", l.Seq, l.Level, l.Source, l.Resource, l.Message)
	}
	return b.String()
}

func (h *harness) resources(id string) map[string]*store.Resource {
	list, err := h.store.Resources.List(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*store.Resource{}
	for _, r := range list {
		out[fmt.Sprintf("%s[%d]", r.Node, r.Instance)] = r
	}
	return out
}

func (h *harness) enqueue(id string, req store.Request) *store.Run {
	h.t.Helper()
	run, err := h.store.Deployments.Enqueue(context.Background(), id, req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.engine.Wake()
	return run
}

// updateInputs queues an update with new inputs, translated like the API does.
func (h *harness) updateInputs(id string, inputs map[string]any, kind store.RunKind) {
	h.t.Helper()
	raw, _ := json.Marshal(inputs)
	h.enqueue(id, store.Request{Kind: kind, Change: func(d *store.Deployment) error {
		d.Inputs = raw
		return nil
	}})
}

func TestDeploymentLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true})
	ctx := context.Background()
	d := h.submit(example(t, "cluster"), map[string]any{"node_count": 3})
	d = h.wait(d.ID, store.CreateComplete)
	res := h.resources(d.ID)
	if len(res) != 6 {
		t.Fatalf("want 3 nodes and 3 volumes, got %d: %v", len(res), res)
	}
	for i := 0; i < 3; i++ {
		n := res[fmt.Sprintf("nodes[%d]", i)]
		if n == nil || n.State != store.ResStarted || n.CloudID == "" || n.Attributes["private_address"] == nil || n.Address != fmt.Sprintf("module.nodes[%d]", i) {
			t.Fatalf("node %d: %+v", i, n)
		}
		if v := res[fmt.Sprintf("scratch[%d]", i)]; v == nil || v.State != store.ResCreated || v.Attributes["size_gb"] != 20.0 { // 20 GB is 20 in the cloud's GB
			t.Fatalf("volume %d: %+v", i, v)
		}
	}
	var outputs map[string]any
	json.Unmarshal(d.Outputs, &outputs)
	if ips, _ := outputs["node_ips"].([]any); len(ips) != 3 || outputs["first_node_ip"] != ips[0] {
		t.Fatalf("outputs: %s", d.Outputs)
	}
	if d.Progress.Done == 0 || d.Progress.Done != d.Progress.Planned {
		t.Fatalf("progress: %+v", d.Progress)
	}
	states, _ := h.store.States.Count(ctx, d.ID)
	if states == 0 {
		t.Fatal("no state version saved")
	}
	ids := map[string]string{}
	for k, r := range res {
		ids[k] = r.CloudID
	}

	// Update in place: bigger nodes and volumes keep their ids.
	h.updateInputs(d.ID, map[string]any{"node_count": 3, "node_cpus": 4, "scratch_size": "40 GB"}, store.RunUpdate)
	d = h.wait(d.ID, store.UpdateComplete)
	res = h.resources(d.ID)
	for k, r := range res {
		if r.CloudID != ids[k] {
			t.Fatalf("%s changed id on an in-place update", k)
		}
	}
	if res["nodes[0]"].Attributes["flavor"] != "large" || res["scratch[0]"].Attributes["size_gb"] != 40.0 {
		t.Fatalf("update not applied: %v %v", res["nodes[0]"].Attributes, res["scratch[0]"].Attributes)
	}

	// Redeploy: every resource replaced, new ids.
	h.updateInputs(d.ID, map[string]any{"node_count": 3, "node_cpus": 4, "scratch_size": "40 GB"}, store.RunRedeploy)
	d = h.wait(d.ID, store.UpdateComplete)
	for k, r := range h.resources(d.ID) {
		if r.CloudID == ids[k] {
			t.Fatalf("%s kept its id on a redeploy", k)
		}
	}

	// Day-2 actions on nodes[1].
	node := h.resources(d.ID)["nodes[1]"]
	action := func(a string, want store.ResourceState) {
		t.Helper()
		run := h.enqueue(d.ID, store.Request{Kind: store.RunAction, Params: store.RunParams{Action: a, ResourceID: node.ID, Node: "nodes", Instance: 1}})
		d = h.wait(d.ID, store.UpdateComplete)
		r, _ := h.store.Runs.Get(ctx, run.ID)
		if r.Status != store.RunSucceeded {
			t.Fatalf("%s: %s %s", a, r.Status, r.Error)
		}
		got := h.resources(d.ID)
		if got["nodes[1]"].State != want || got["nodes[0]"].State != store.ResStarted {
			t.Fatalf("after %s: nodes[1] %s, nodes[0] %s", a, got["nodes[1]"].State, got["nodes[0]"].State)
		}
		// The state file agrees.
		latest, _ := h.store.States.Latest(ctx, d.ID)
		power := map[string]bool{"STOPPED": strings.Contains(string(latest.State), `"power_state": "stopped"`)}
		if want == store.ResStopped && !power["STOPPED"] {
			t.Fatalf("the saved state does not show a stopped server")
		}
	}
	action("stop", store.ResStopped)
	view, err := h.engine.ShowState(ctx, d)
	if err != nil || !strings.Contains(string(view), `"power_state":"stopped"`) {
		t.Fatalf("terraform show view: %v", err)
	}
	if strings.Contains(string(view), "PRIVATE KEY") {
		t.Fatal("the state view leaks a private key")
	}
	action("start", store.ResStarted)
	action("reboot", store.ResStarted)
	if !strings.Contains(h.logs(d.ID), "setting power state of module.nodes[1] to stopped") {
		t.Fatal("reboot did not stop first")
	}

	// Delete: infrastructure gone, record and logs stay.
	h.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	d = h.wait(d.ID, store.DeleteComplete)
	if d.DeletedAt == nil || d.Infrastructure {
		t.Fatalf("after delete: %+v", d)
	}
	for k, r := range h.resources(d.ID) {
		if r.State != store.ResDeleted {
			t.Fatalf("%s is %s after delete", k, r.State)
		}
	}
	logs := h.logs(d.ID)
	if !strings.Contains(logs, "delete run") || !strings.Contains(logs, "Destruction complete") {
		t.Fatalf("logs after delete:\n%s", logs)
	}
	// Only Terraform's UI messages reach the log: never the state, never a key.
	for _, secret := range []string{"PRIVATE KEY", `"lineage"`, `"serial"`} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains %s", secret)
		}
	}
}

func TestFailingApplyIsCreateFailedWithTheReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true})
	d := h.submit(example(t, "vm-with-volume"), map[string]any{"volume_size": "5000 GB"})
	d = h.wait(d.ID, store.CreateFailed)
	if !strings.Contains(d.StatusReason, "quota") {
		t.Fatalf("status_reason: %q", d.StatusReason)
	}
	logs := h.logs(d.ID)
	if !strings.Contains(logs, "error terraform") || !strings.Contains(logs, "quota") {
		t.Fatalf("logs:\n%s", logs)
	}
	runs, _, _ := h.store.Runs.List(context.Background(), d.ID, store.Page{})
	if runs[0].Status != store.RunFailed || !strings.Contains(runs[0].Error, "quota") {
		t.Fatalf("run: %+v", runs[0])
	}
	// A failed create can still be deleted.
	h.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	h.wait(d.ID, store.DeleteComplete)
}

func TestManyDeploymentsAndPerDeploymentOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true, workers: 4})
	ctx := context.Background()
	var ds []*store.Deployment
	for i := 0; i < 20; i++ {
		ds = append(ds, h.submit(example(t, "single-vm"), map[string]any{"vm_name": fmt.Sprintf("vm-%d", i)}))
	}
	// An update queued behind the first deployment's create runs after it.
	update := h.enqueue(ds[0].ID, store.Request{Kind: store.RunUpdate, Behind: true})
	for _, d := range ds {
		h.wait(d.ID, map[bool]store.Status{true: store.UpdateComplete, false: store.CreateComplete}[d == ds[0]])
	}
	runs, _, _ := h.store.Runs.List(ctx, ds[0].ID, store.Page{})
	create, upd := runs[1], runs[0]
	if upd.ID != update.ID || upd.Status != store.RunSucceeded || upd.StartedAt.Before(*create.FinishedAt) {
		t.Fatalf("order: create %+v, update %+v", create, upd)
	}
	workers := map[string]bool{}
	for _, d := range ds {
		rs, _, _ := h.store.Runs.List(ctx, d.ID, store.Page{})
		workers[rs[len(rs)-1].Worker] = true
	}
	if len(workers) < 2 {
		t.Fatalf("20 deployments ran on %d worker(s)", len(workers))
	}
}

func TestCancelRunningRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true, target: map[string]any{"boot_seconds": 30}})
	ctx := context.Background()
	d := h.submit(example(t, "single-vm"), nil)
	var run *store.Run
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		runs, _, _ := h.store.Runs.List(ctx, d.ID, store.Page{})
		if runs[0].Status == store.RunRunning && strings.Contains(h.logs(d.ID), "Creating...") {
			run = runs[0]
			break
		}
	}
	if run == nil {
		t.Fatal("the run never started applying")
	}
	start := time.Now()
	if _, err := h.engine.Cancel(ctx, run.ID, "cancelled by test"); err != nil {
		t.Fatal(err)
	}
	d = h.wait(d.ID, store.CreateFailed)
	r, _ := h.store.Runs.Get(ctx, run.ID)
	if r.Status != store.RunCancelled || time.Since(start) > 25*time.Second {
		t.Fatalf("run %s after %s: %s", r.Status, time.Since(start), r.Error)
	}
	// Terraform, its providers and its provisioners are gone with their group.
	h.noProcessesLeft()
	h.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	h.wait(d.ID, store.DeleteComplete)
}

func TestLostWorkdirIsRebuiltFromTheStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true})
	d := h.submit(example(t, "single-vm"), nil)
	h.wait(d.ID, store.CreateComplete)
	before := h.resources(d.ID)["vm[0]"].CloudID
	if err := os.RemoveAll(h.engine.workdir(d.ID)); err != nil {
		t.Fatal(err)
	}
	h.updateInputs(d.ID, map[string]any{"num_cpus": 2}, store.RunUpdate)
	h.wait(d.ID, store.UpdateComplete)
	if after := h.resources(d.ID)["vm[0]"].CloudID; after != before {
		t.Fatalf("the server was recreated (%s -> %s): the state was not restored", before, after)
	}
	if !strings.Contains(h.logs(d.ID), "the workdir had no state: restored") {
		t.Fatal("restoring the state was not logged")
	}
}

func TestStalledRunsAndOrphansFailWithInjectedClock(t *testing.T) {
	t.Parallel()
	clk := clocktest.New()
	h := newHarness(t, harnessOpt{clock: clk.Now}) // no workers: runs are claimed by hand
	ctx := context.Background()
	d := h.submit(example(t, "single-vm"), nil)
	run, err := h.store.Runs.Claim(ctx, "a-worker-that-died", h.engine.cfg.StallAfter)
	if err != nil || run == nil {
		t.Fatalf("claim: %v", err)
	}
	clk.Advance(9 * time.Minute)
	if n, err := h.engine.DetectStalled(ctx); err != nil || n != 0 {
		t.Fatalf("a 9-minute-old heartbeat is not stalled: %d %v", n, err)
	}
	clk.Advance(2 * time.Minute)
	if n, err := h.engine.DetectStalled(ctx); err != nil || n != 1 {
		t.Fatalf("stalled: %d %v", n, err)
	}
	// The run never started Terraform: taken over, it fails at once.
	got := h.wait(d.ID, store.CreateFailed)
	r, _ := h.store.Runs.Get(ctx, run.ID)
	if got.Status != store.CreateFailed || !strings.Contains(got.StatusReason, "no heartbeat") || r.Status != store.RunFailed {
		t.Fatalf("after detection: %s %q, run %s", got.Status, got.StatusReason, r.Status)
	}
	if !strings.Contains(h.logs(d.ID), "run stalled") {
		t.Fatal("the reason is not logged")
	}
}

func TestRetentionPurgesOldLinesWithInjectedClock(t *testing.T) {
	t.Parallel()
	clk := clocktest.New()
	h := newHarness(t, harnessOpt{clock: clk.Now})
	ctx := context.Background()
	d := h.submit(example(t, "single-vm"), nil)
	for i := 0; i < 10; i++ {
		h.store.Logs.Append(ctx, d.ID, &store.LogLine{Level: store.LevelInfo, Source: store.SourceOrchestrator, Message: "old"})
	}
	clk.Advance(100 * 24 * time.Hour)
	h.store.Logs.Append(ctx, d.ID, &store.LogLine{Level: store.LevelInfo, Source: store.SourceOrchestrator, Message: "new"})
	// A purge job left running by a dead worker (no heartbeat for longer than
	// the stall limit) is taken over and finished: purges are idempotent.
	stale, err := h.engine.QueuePurge(ctx, clk.Now().Add(-90*24*time.Hour), "90d", "")
	if err != nil {
		t.Fatal(err)
	}
	if j, err := h.store.Jobs.Claim(ctx, "a-dead-worker", clk.Now()); err != nil || j.ID != stale.ID {
		t.Fatalf("claim: %v %v", j, err)
	}
	clk.Advance(h.engine.cfg.StallAfter + time.Minute)
	if err := h.engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h.engine.Stop(stop)
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		j, err := h.store.Jobs.Get(ctx, stale.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == store.JobSucceeded {
			var p PurgeProgress
			if err := json.Unmarshal(j.Progress, &p); err != nil || p.Deleted < 10 || p.Deleted != p.Planned {
				t.Fatalf("progress %s: %v", j.Progress, err)
			}
			break
		}
		if j.Status == store.JobFailed || time.Now().After(deadline) {
			t.Fatalf("job: %+v", j)
		}
	}
	lines, _, _ := h.store.Logs.List(ctx, d.ID, store.LogFilter{}, store.Page{Size: store.MaxPageSize})
	kept := false
	for _, l := range lines {
		if l.Message == "old" {
			t.Fatalf("an old line is left: %+v", l)
		}
		kept = kept || l.Message == "new"
	}
	if !kept {
		t.Fatalf("the newest line went: %v", lines)
	}
}

func TestCleanupRemovesWorkdirsOfHardDeletedDeployments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true})
	ctx := context.Background()
	keep := h.submit(example(t, "single-vm"), nil)
	gone := h.submit(example(t, "single-vm"), nil)
	h.wait(keep.ID, store.CreateComplete)
	h.wait(gone.ID, store.CreateComplete)
	if err := h.store.Deployments.HardDelete(ctx, gone.ID, true); err != nil {
		t.Fatal(err)
	}
	n, err := h.engine.CleanupWorkdirs(ctx)
	if err != nil || n != 1 {
		t.Fatalf("removed %d: %v", n, err)
	}
	if _, err := os.Stat(h.engine.workdir(keep.ID)); err != nil {
		t.Fatal("the live deployment's workdir was removed")
	}
}

func TestRedactState(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"values": map[string]any{
		"outputs": map[string]any{"pw": map[string]any{"sensitive": true, "value": "hunter2"}},
		"root_module": map[string]any{"child_modules": []any{map[string]any{"resources": []any{map[string]any{
			"values":           map[string]any{"private_key_pem": "-----BEGIN", "public_key": "ssh-ed25519 AAA", "list": []any{"a", "secret"}},
			"sensitive_values": map[string]any{"private_key_pem": true, "list": []any{false, true}},
		}}}}},
	}}
	redactState(doc)
	raw, _ := json.Marshal(doc)
	s := string(raw)
	if strings.Contains(s, "hunter2") || strings.Contains(s, "BEGIN") || strings.Contains(s, `"secret"`) || !strings.Contains(s, "ssh-ed25519") {
		t.Fatalf("redaction: %s", s)
	}
}

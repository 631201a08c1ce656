package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"orchestrator/store"
	"orchestrator/store/clocktest"
	"orchestrator/store/pgtest"
)

// Several replicas of the service, each a separate process with a data dir of
// its own, on one throwaway PostgreSQL database (store/pgtest): every guarantee
// of one process holds across them.

func TestMain(m *testing.M) { pgtest.Main(m) }

// replicaSet is services sharing one PostgreSQL database and one service key.
type replicaSet struct {
	t    *testing.T
	dsn  string
	key  string // file holding the shared service key
	st   *store.Store
	svcs []*service
}

func startReplicas(t *testing.T, n int, extra ...string) *replicaSet {
	t.Helper()
	rs := &replicaSet{t: t, dsn: pgtest.Database(t), key: writeServiceKey(t)}
	// One clock for all (as NTP gives real replicas): a session signed by one
	// replica is never from the future on another.
	offset := clocktest.Offset()
	for i := 0; i < n; i++ {
		rs.svcs = append(rs.svcs, startService(t, t.TempDir(), append([]string{"--database", rs.dsn, "--service-key-file", rs.key,
			"--replica-id", fmt.Sprintf("r%d", i), "--clock-offset", offset.String()}, extra...)...))
	}
	st, err := store.Open(context.Background(), rs.dsn, store.WithClock(func() time.Time { return time.Now().Add(offset) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rs.st = st
	return rs
}

func writeServiceKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	path := filepath.Join(t.TempDir(), "service.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// holder returns the replica whose worker holds a run ("" when none does).
func (rs *replicaSet) holder(r *store.Run) (int, bool) {
	for i := range rs.svcs {
		if strings.HasPrefix(r.Worker, fmt.Sprintf("r%d/", i)) {
			return i, true
		}
	}
	return -1, false
}

// runs returns a deployment's runs, oldest first.
func (rs *replicaSet) runs(id string) []*store.Run {
	rs.t.Helper()
	list, _, err := rs.st.Runs.List(context.Background(), id, store.Page{Number: 1, Size: 100})
	if err != nil {
		rs.t.Fatal(err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
	return list
}

// logLines returns every stored line of a deployment's log (of one run when runID is set).
func (rs *replicaSet) logLines(id, runID string) []*store.LogLine {
	rs.t.Helper()
	var out []*store.LogLine
	f := store.LogFilter{RunID: runID}
	for {
		lines, err := rs.st.Logs.Next(context.Background(), id, f, 1000)
		if err != nil {
			rs.t.Fatal(err)
		}
		out = append(out, lines...)
		if len(lines) < 1000 {
			return out
		}
		f.AfterSeq = lines[len(lines)-1].Seq
	}
}

// waitRunning waits until the deployment's newest run runs and Terraform has
// stored n lines containing marker, and returns the run.
func (rs *replicaSet) waitRunning(id, marker string, n int) *store.Run {
	rs.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		runs := rs.runs(id)
		r := runs[len(runs)-1]
		if r.Status != store.RunRunning {
			continue
		}
		seen := 0
		for _, l := range rs.logLines(id, r.ID) {
			if strings.Contains(l.Message, marker) {
				seen++
			}
		}
		if seen >= n {
			return r
		}
	}
	rs.t.Fatalf("deployment %s never reached %d lines with %q", id, n, marker)
	return nil
}

// terraformVersionLine is the first line of every Terraform -json stream: one
// per Terraform process a run started.
var terraformVersionLine = regexp.MustCompile(`^Terraform \d+\.\d+\.\d+`)

// Two replicas share the work of 60 deployments submitted alternately to each:
// every deployment is created, every run is executed exactly once (one
// Terraform apply per run in its log, one start, one attempt), and an update
// queued behind a create runs after it, whichever replica takes it.
func TestReplicas_SixtyDeploymentsEachRunOnceInOrder(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 2)
	a, b := rs.svcs[0], rs.svcs[1]
	admin := a.login("admin", "admin-secret-pw")
	me := b.api("GET", "/api/v1/users/me", admin, nil, 200) // a session of one replica is good on the other
	tmpl := a.api("GET", "/api/v1/templates?name=single-vm", admin, nil, 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	ctx := context.Background()
	const total = 60
	var ids []string
	updates := map[string]*store.Run{}
	for i := 0; i < total; i++ {
		d := rs.svcs[i%2].api("POST", "/api/v1/deployments", admin, map[string]any{"template_id": tmpl,
			"inputs": map[string]any{"num_cpus": 1 + i%4}, "description": fmt.Sprintf("replica test %d", i)}, 202)
		id := d["id"].(string)
		ids = append(ids, id)
		if i%6 == 5 {
			// An update queued behind the create, straight into the shared queue.
			up, err := rs.st.Deployments.Enqueue(ctx, id, store.Request{Kind: store.RunUpdate, Behind: true, CreatedBy: me["id"].(string)})
			if err != nil {
				t.Fatal(err)
			}
			updates[id] = up
		}
	}
	deadline := time.Now().Add(8 * time.Minute)
	for _, id := range ids {
		for {
			active, err := rs.st.Runs.Active(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(active) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deployment %s still has %d active runs\nr0:\n%s\nr1:\n%s", id, len(active), a.out.String(), b.out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	perReplica := map[int]int{}
	behind := 0
	for _, id := range ids {
		d, _ := rs.st.Deployments.Get(ctx, id)
		want := store.CreateComplete
		if updates[id] != nil {
			want = store.UpdateComplete
		}
		if d.Status != want {
			t.Errorf("deployment %s is %s (%s), want %s", id, d.Status, d.StatusReason, want)
		}
		runs := rs.runs(id)
		if want := map[bool]int{false: 1, true: 2}[updates[id] != nil]; len(runs) != want {
			t.Fatalf("deployment %s has %d runs, want %d", id, len(runs), want)
		}
		for _, r := range runs {
			i, ok := rs.holder(r)
			if r.Status != store.RunSucceeded || r.Attempts != 1 || !ok {
				t.Errorf("run %s (%s) of %s: %s after %d attempts by %q: %s", r.ID, r.Kind, id, r.Status, r.Attempts, r.Worker, r.Error)
			}
			perReplica[i]++
			applies, starts := 0, 0
			for _, l := range rs.logLines(id, r.ID) {
				if l.Source == store.SourceTerraform && terraformVersionLine.MatchString(l.Message) {
					applies++
				}
				if strings.Contains(l.Message, fmt.Sprintf("run %s started on", r.ID)) {
					starts++
				}
			}
			if applies != 1 || starts != 1 {
				t.Errorf("run %s (%s) of %s: %d Terraform processes and %d starts in its log, want exactly one of each", r.ID, r.Kind, id, applies, starts)
			}
		}
		if up := updates[id]; up != nil {
			create, update := runs[0], runs[1]
			if update.ID != up.ID || create.Kind != store.RunCreate {
				t.Fatalf("runs of %s: %s then %s", id, create.Kind, update.Kind)
			}
			if update.StartedAt.Before(*create.FinishedAt) {
				t.Errorf("deployment %s: the update started at %s, before its create finished at %s", id, update.StartedAt, create.FinishedAt)
			}
			if up.CreatedAt.Before(*create.FinishedAt) {
				behind++
			}
		}
	}
	if perReplica[0] == 0 || perReplica[1] == 0 {
		t.Errorf("the replicas did not share the work: %v runs per replica", perReplica)
	}
	if behind == 0 {
		t.Error("no update was queued while its create was still active: the order test proves nothing")
	}
	t.Logf("%d deployments, %d updates (%d queued while their create was active); runs per replica: %v", total, len(updates), behind, perReplica)
}

// replicaFlags make leases short and the stalled detector frequent, so that a
// replica's death is noticed within seconds.
var replicaFlags = []string{"--stall-after", "6s", "--stalled-schedule", "@every 1s"}

// slowCluster creates a 3-node cluster on a target whose servers boot for
// bootSeconds, through replica via, and waits until the servers boot: volumes
// and servers are created (and, as their log lines say, in the stored state).
func (rs *replicaSet) slowCluster(via *service, token string, bootSeconds int) (string, *store.Run) {
	rs.t.Helper()
	name := fmt.Sprintf("slow%d", bootSeconds)
	if _, err := rs.st.Targets.Get(context.Background(), name); store.IsNotFound(err) {
		via.api("POST", "/api/v1/targets", token, map[string]any{"name": name, "kind": "local", "config": map[string]any{"boot_seconds": bootSeconds}}, 201)
	}
	d := via.api("POST", "/api/v1/deployments", token, map[string]any{"template": readTemplate(rs.t, clusterTemplate),
		"inputs": map[string]any{"node_count": 3}, "target": name}, 202)
	id := d["id"].(string)
	return id, rs.waitRunning(id, "terraform_data.boot[0]: Creating...", 3)
}

// checkLedger verifies the invariant a replica taking a run over relies on:
// the stored state holds every resource the stored log says was created and
// not destroyed since. It returns how many resources the stored state holds.
func (rs *replicaSet) checkLedger(id, when string) int {
	rs.t.Helper()
	l := newLedger(id)
	return l.check(rs.t, rs.st, when)
}

// Kill -9 of the replica running an apply: the other replica takes the
// deployment over once the lease has expired, without touching the dead
// replica's processes (its Terraform runs on in the dead replica's workdir);
// the run fails as stalled with the state stored so far, which holds every
// resource the log reported created; a later delete on the survivor destroys
// everything the store knows.
func TestReplicas_KillTheReplicaRunningAnApply(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 2, replicaFlags...)
	admin := rs.svcs[0].login("admin", "admin-secret-pw")
	id, run := rs.slowCluster(rs.svcs[0], admin, 30)
	victim, ok := rs.holder(run)
	if !ok {
		t.Fatalf("run held by %q", run.Worker)
	}
	survivor := rs.svcs[1-victim]
	dead := rs.svcs[victim]
	before := rs.checkLedger(id, "before the kill")
	dead.stop(syscall.SIGKILL)
	killedAt := time.Now()
	orphans := terraformProcesses(filepath.Join(dead.dataDir, "work", id))
	if len(orphans) == 0 {
		t.Fatal("the dead replica's Terraform died with it: the test proves nothing")
	}
	t.Cleanup(func() { killProcessesIn(dead.dataDir) })

	got := survivor.waitSettled(id, admin)
	took := time.Since(killedAt)
	if got["status"] != "CREATE_FAILED" || !strings.Contains(got["status_reason"].(string), "stalled") {
		t.Fatalf("after the kill: %v %v\n%s", got["status"], got["status_reason"], survivor.out.String())
	}
	r, _ := rs.st.Runs.Get(context.Background(), run.ID)
	if h, _ := rs.holder(r); h != 1-victim || r.Attempts != 2 || r.Status != store.RunFailed || !strings.Contains(r.Error, fmt.Sprintf("replica r%d", victim)) {
		t.Fatalf("the run after the takeover: %s by %s after %d attempts: %s", r.Status, r.Worker, r.Attempts, r.Error)
	}
	if took < 5*time.Second {
		t.Fatalf("the run was taken over %s after the kill: before its 6 s lease expired", took)
	}
	// The survivor never waited on or killed the dead replica's processes.
	if left := terraformProcesses(filepath.Join(dead.dataDir, "work", id)); len(left) == 0 {
		t.Fatalf("the dead replica's Terraform (%v) was killed", orphans)
	}
	stored := rs.checkLedger(id, "after the takeover")
	if stored < before || stored == 0 {
		t.Fatalf("the partial state holds %d resources (%d before the kill)", stored, before)
	}
	resources := survivor.api("GET", "/api/v1/deployments/"+id+"/resources", admin, nil, 200)["items"].([]any)
	for _, res := range resources {
		if s := res.(map[string]any)["state"]; s == "CREATING" {
			t.Fatalf("a resource stays CREATING after the takeover: %v", res)
		}
	}

	survivor.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
	if got := survivor.waitSettled(id, admin); got["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete on the survivor: %v %v", got["status"], got["status_reason"])
	}
	if left := rs.checkLedger(id, "after the delete"); left != 0 {
		t.Fatalf("%d resources left in the stored state after the delete", left)
	}
	l := newLedger(id)
	l.read(t, rs.st)
	if len(l.live) != 0 {
		t.Fatalf("resources the log reported created and never destroyed: %v", l.live)
	}
	t.Logf("taken over %s after the kill; %d resources in the stored state (%d before the kill), all destroyed by the survivor",
		took.Round(100*time.Millisecond), stored, before)
}

// killProcessesIn ends every process working under dir (a dead replica's
// Terraform), as the death of its host would.
func killProcessesIn(dir string) {
	for _, p := range processesIn(dir) {
		pid, _ := strconv.Atoi(strings.SplitN(p, ":", 2)[0])
		if pid > 1 {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// dbSnapshot is everything a worker could write for a deployment.
type dbSnapshot struct {
	LastSeq   int64
	States    int
	Serial    int64
	Resources string
	Run       string
	Deploy    string
}

func (rs *replicaSet) snapshot(id, runID string) dbSnapshot {
	rs.t.Helper()
	ctx := context.Background()
	var s dbSnapshot
	s.LastSeq, _ = rs.st.Logs.LastSeq(ctx, id)
	s.States, _ = rs.st.States.Count(ctx, id)
	if v, err := rs.st.States.Latest(ctx, id); err == nil {
		s.Serial = v.Serial
	}
	res, _ := rs.st.Resources.List(ctx, id)
	raw, _ := json.Marshal(res)
	s.Resources = string(raw)
	r, _ := rs.st.Runs.Get(ctx, runID)
	raw, _ = json.Marshal(r)
	s.Run = string(raw)
	d, _ := rs.st.Deployments.Get(ctx, id)
	raw, _ = json.Marshal(d)
	s.Deploy = string(raw)
	return s
}

// A replica paused (SIGSTOP) while it runs an apply loses its lease; the other
// replica takes the run over and fails it as stalled. Resumed (SIGCONT) after
// that, the stale worker writes nothing: no log line, no state version, no
// resource, no status, no progress, no outcome; it interrupts its Terraform,
// gives up the leadership it may have held, and goes on serving.
func TestReplicas_AResurrectedStaleWorkerCannotWrite(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 2, replicaFlags...)
	admin := rs.svcs[0].login("admin", "admin-secret-pw")
	id, run := rs.slowCluster(rs.svcs[0], admin, 20)
	stale, _ := rs.holder(run)
	survivor, paused := rs.svcs[1-stale], rs.svcs[stale]
	t.Cleanup(func() { killProcessesIn(paused.dataDir) })
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	got := survivor.waitSettled(id, admin)
	if got["status"] != "CREATE_FAILED" || !strings.Contains(got["status_reason"].(string), "stalled") {
		paused.cmd.Process.Signal(syscall.SIGCONT)
		t.Fatalf("after the pause: %v %v", got["status"], got["status_reason"])
	}
	before := rs.snapshot(id, run.ID)
	resumed := strings.Count(paused.out.String(), "lease")
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The stale worker learns it lost the run at its next heartbeat.
	for deadline := time.Now().Add(30 * time.Second); strings.Count(paused.out.String(), "lease") == resumed; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed replica never noticed it lost the lease:\n%s", paused.out.String())
		}
	}
	// It goes on to the end of its run: stops its Terraform, tries to store
	// the state, the log lines and the outcome; each is refused.
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(paused.out.String(), "its outcome here is not recorded"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed replica never tried to record the run's outcome:\n%s", paused.out.String())
		}
	}
	after := rs.snapshot(id, run.ID)
	if after != before {
		t.Fatalf("the stale worker wrote:\nbefore %+v\nafter  %+v", before, after)
	}
	ready := paused.api("GET", "/readyz", "", nil, 200)
	if leader, _ := ready["replica"].(map[string]any)["leader"].(bool); leader {
		other := survivor.api("GET", "/readyz", "", nil, 200)["replica"].(map[string]any)["leader"].(bool)
		if other {
			t.Fatal("both replicas lead after the pause")
		}
	}
	for deadline := time.Now().Add(40 * time.Second); len(terraformProcesses(filepath.Join(paused.dataDir, "work", id))) > 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the stale worker's Terraform still runs: %v", terraformProcesses(filepath.Join(paused.dataDir, "work", id)))
		}
	}
	survivor.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
	if got := survivor.waitSettled(id, admin); got["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete on the survivor: %v %v", got["status"], got["status_reason"])
	}
	if left := rs.checkLedger(id, "after the delete"); left != 0 {
		t.Fatalf("%d resources left after the delete", left)
	}
}

// sseEvent is one Server-Sent Event of a log follower.
type sseEvent struct {
	id    int64
	event string
	data  string
}

// follow reads a deployment's log as Server-Sent Events from a replica,
// resuming after lastID, until the stream ends or stopAfter log lines came
// (0: no limit). It returns the log lines' events and whether the stream ended.
func follow(t *testing.T, svc *service, token, id string, lastID int64, stopAfter int, lines chan<- sseEvent) bool {
	req, _ := http.NewRequest("GET", svc.url+"/api/v1/deployments/"+id+"/logs?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("follow: %v", err)
		return false
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ev sseEvent
	n := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			ev.id, _ = strconv.ParseInt(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		case line == "":
			switch ev.event {
			case "log":
				lines <- ev
				if n++; stopAfter > 0 && n >= stopAfter {
					return false
				}
			case "end":
				return true
			}
			ev = sseEvent{}
		}
	}
	return false
}

// A follower on one replica sees every line of a run executing on the other,
// live, in order, once, and a follower that reconnects with Last-Event-ID
// misses and repeats nothing.
func TestReplicas_AFollowerSeesEveryLineOfARunOnTheOther(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 2)
	admin := rs.svcs[0].login("admin", "admin-secret-pw")
	rs.svcs[0].api("POST", "/api/v1/targets", admin, map[string]any{"name": "slow2", "kind": "local", "config": map[string]any{"boot_seconds": 2}}, 201)
	d := rs.svcs[0].api("POST", "/api/v1/deployments", admin, map[string]any{"template": readTemplate(t, clusterTemplate),
		"inputs": map[string]any{"node_count": 3}, "target": "slow2"}, 202)
	id := d["id"].(string)
	// Both replicas are followed from the first line: whichever runs the
	// deployment, the other follows it from afar. One of each pair of
	// followers breaks off after 5 lines and resumes from its last event id.
	type received struct {
		mu     sync.Mutex
		events []sseEvent
		at     []time.Time
	}
	got := make([]*received, len(rs.svcs))
	// When the run ended, by the test's clock (the services' clocks are offset).
	var finished time.Time
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if runs, _, err := rs.st.Runs.List(context.Background(), id, store.Page{Number: 1, Size: 1}); err == nil && len(runs) > 0 && !runs[0].Status.Active() {
				finished = time.Now()
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i, svc := range rs.svcs {
		got[i] = &received{}
		ch := make(chan sseEvent, 10000)
		wg.Add(1)
		go func(svc *service, r *received) {
			defer wg.Done()
			var last int64
			for ended, first := false, true; !ended; first = false {
				stop := 0
				if first {
					stop = 5
				}
				done := make(chan bool, 1)
				go func() { done <- follow(t, svc, admin, id, last, stop, ch) }()
				for collecting := true; collecting; {
					select {
					case ev := <-ch:
						r.mu.Lock()
						r.events, r.at = append(r.events, ev), append(r.at, time.Now())
						r.mu.Unlock()
						last = ev.id
					case ended = <-done:
						for len(ch) > 0 {
							ev := <-ch
							r.mu.Lock()
							r.events, r.at = append(r.events, ev), append(r.at, time.Now())
							r.mu.Unlock()
							last = ev.id
						}
						collecting = false
					}
				}
			}
		}(svc, got[i])
	}
	wg.Wait()
	<-watched
	runs := rs.runs(id)
	runner, ok := rs.holder(runs[0])
	if !ok || runs[0].Status != store.RunSucceeded {
		t.Fatalf("the run: %s by %q", runs[0].Status, runs[0].Worker)
	}
	stored := rs.logLines(id, "")
	for i, r := range got {
		where := "the replica running it"
		if i != runner {
			where = "the other replica"
		}
		if len(r.events) != len(stored) {
			t.Fatalf("the follower on %s got %d lines, the log has %d", where, len(r.events), len(stored))
		}
		live := 0
		for k, ev := range r.events {
			var l store.LogLine
			json.Unmarshal([]byte(ev.data), &l)
			if ev.id != stored[k].Seq || l.Seq != stored[k].Seq || l.Message != stored[k].Message {
				t.Fatalf("the follower on %s: line %d is %d %q, want %d %q", where, k, ev.id, l.Message, stored[k].Seq, stored[k].Message)
			}
			if r.at[k].Before(finished) {
				live++
			}
		}
		if i != runner && live < len(stored)/2 {
			t.Fatalf("the follower on the other replica got only %d of %d lines while the run ran: not live", live, len(stored))
		}
		t.Logf("follower on %s: %d lines in order, once, %d of them while the run ran", where, len(r.events), live)
	}
}

// What one replica writes, the next request to the other sees: list pages and
// identities cached on a replica are checked against the generation every
// replica moves. Sessions signed by one are good on the other; login
// throttling counts failures on both; exactly one replica leads.
func TestReplicas_SharedCachesSessionsAndThrottling(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 2)
	a, b := rs.svcs[0], rs.svcs[1]
	admin := a.login("admin", "admin-secret-pw")
	a.api("POST", "/api/v1/users", "", map[string]any{"username": "carol", "password": "carol's password"}, 201)
	carol := b.login("carol", "carol's password")
	tmpl := a.api("GET", "/api/v1/templates?name=single-vm", carol, nil, 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	d := a.api("POST", "/api/v1/deployments", carol, map[string]any{"template_id": tmpl, "description": "v0"}, 202)
	id := d["id"].(string)
	for i := 1; i <= 20; i++ {
		// b's page is cached now...
		b.api("GET", "/api/v1/deployments?size=5", carol, nil, 200)
		desc := fmt.Sprintf("v%d", i)
		a.api("PATCH", "/api/v1/deployments/"+id, carol, map[string]any{"description": desc}, 200)
		// ...and b serves the change at once.
		page := b.api("GET", "/api/v1/deployments?size=5", carol, nil, 200)
		items := page["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["description"] != desc {
			t.Fatalf("after a write on replica a, replica b lists %v", items)
		}
	}
	// A second deployment made on b is counted on a right after.
	b.api("POST", "/api/v1/deployments", carol, map[string]any{"template_id": tmpl, "description": "second"}, 202)
	if n := a.api("GET", "/api/v1/deployments", carol, nil, 200)["page"].(map[string]any)["total_items"]; n != float64(2) {
		t.Fatalf("replica a counts %v deployments after a create on b", n)
	}
	// A user's identity cached on b follows an admin's change on a.
	a.api("DELETE", "/api/v1/users/carol?force=true", admin, nil, 204)
	b.api("GET", "/api/v1/deployments", carol, nil, 401)

	// Failed logins count on both replicas together.
	a.api("POST", "/api/v1/users", "", map[string]any{"username": "dave", "password": "dave's password"}, 201)
	for i := 0; i < 5; i++ {
		rs.svcs[i%2].api("POST", "/api/v1/auth/login", "", map[string]string{"username": "dave", "password": "wrong"}, 401)
	}
	for _, svc := range rs.svcs {
		svc.api("POST", "/api/v1/auth/login", "", map[string]string{"username": "dave", "password": "dave's password"}, 429)
	}

	leaders := 0
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		leaders = 0
		for _, svc := range rs.svcs {
			r := svc.api("GET", "/readyz", "", nil, 200)
			if db := r["database"].(map[string]any); db["engine"] != "postgres" || !strings.HasPrefix(db["schema"].(string), "00") {
				t.Fatalf("readyz database: %v", db)
			}
			if r["replica"].(map[string]any)["leader"] == true {
				leaders++
			}
		}
		if leaders == 1 || time.Now().After(deadline) {
			break
		}
	}
	if leaders != 1 {
		t.Fatalf("%d replicas lead", leaders)
	}
}

// The leader dies: another replica takes the leadership and runs the
// singletons, a log purge job among them.
func TestReplicas_SingletonsRunWhenTheLeaderDies(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 2)
	admin := rs.svcs[0].login("admin", "admin-secret-pw")
	leader := -1
	for deadline := time.Now().Add(15 * time.Second); leader < 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for i, svc := range rs.svcs {
			if svc.api("GET", "/readyz", "", nil, 200)["replica"].(map[string]any)["leader"] == true {
				leader = i
			}
		}
	}
	if leader < 0 {
		t.Fatal("no replica leads")
	}
	rs.svcs[leader].stop(syscall.SIGKILL)
	other := rs.svcs[1-leader]
	for deadline := time.Now().Add(20 * time.Second); other.api("GET", "/readyz", "", nil, 200)["replica"].(map[string]any)["leader"] != true; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the surviving replica never took the leadership")
		}
	}
	job := other.api("DELETE", "/api/v1/logs?older_than=30d", admin, nil, 202)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		j := other.api("GET", "/api/v1/jobs/"+job["id"].(string), admin, nil, 200)
		if j["status"] == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the purge job is %v on the new leader", j["status"])
		}
	}
}

// Against a shared database every replica must be given the same key: no key
// from the configuration, or another key than the database was set up with,
// and the service refuses to start.
func TestReplicas_RefuseToStartWithoutTheSharedKey(t *testing.T) {
	t.Parallel()
	rs := startReplicas(t, 1)
	run := func(args ...string) string {
		cmd := exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", rs.dsn}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("the service started with %v", args)
		}
		return string(out)
	}
	if out := run(); !strings.Contains(out, "same service key") {
		t.Fatalf("without a key: %s", out)
	}
	if out := run("--service-key-file", writeServiceKey(t)); !strings.Contains(out, "service key differs") {
		t.Fatalf("with another key: %s", out)
	}
}

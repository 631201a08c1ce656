package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"orchestrator/store"
	"orchestrator/store/clocktest"
)

// The service killed with SIGKILL (or stopped with SIGTERM) at any point never
// loses a resource: Terraform outlives it, the next start re-attaches to it, and
// the store ends up knowing every resource Terraform created.

const clusterTemplate = "../../examples/cluster/template.yaml"

func readTemplate(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// openStore opens the service's database beside the running service (WAL: the
// reads do not disturb it), on the service's clock.
func openStore(t *testing.T, data string) *store.Store {
	t.Helper()
	offset := clocktest.Offset()
	st, err := store.Open(context.Background(), filepath.Join(data, "orchestrator.db"),
		store.WithClock(func() time.Time { return time.Now().Add(offset) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// processesIn lists every live process working in dir or below it.
func processesIn(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// stateAddresses lists the managed resource instances of a stored state.
func stateAddresses(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	var st struct {
		Resources []struct {
			Module, Mode, Type, Name string
			Instances                []struct {
				IndexKey any `json:"index_key"`
			}
		}
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("stored state: %v", err)
	}
	out := map[string]bool{}
	for _, r := range st.Resources {
		if r.Mode != "managed" {
			continue
		}
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, i := range r.Instances {
			switch k := i.IndexKey.(type) {
			case nil:
				out[base] = true
			case string:
				out[fmt.Sprintf("%s[%q]", base, k)] = true
			default:
				out[fmt.Sprintf("%s[%v]", base, k)] = true
			}
		}
	}
	return out
}

// ledger follows what Terraform reported of one deployment in its log lines:
// every resource it created and has not destroyed since.
type ledger struct {
	id      string
	lastSeq int64
	live    map[string]bool
	created int // "Creation complete" lines seen
	serial  int64
}

func newLedger(id string) *ledger { return &ledger{id: id, live: map[string]bool{}} }

// read takes the log lines stored since the last read.
func (l *ledger) read(t *testing.T, st *store.Store) {
	t.Helper()
	for {
		lines, _, err := st.Logs.List(context.Background(), l.id, store.LogFilter{Source: store.SourceTerraform, AfterSeq: l.lastSeq}, store.Page{Number: 1, Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			l.lastSeq = line.Seq
			if line.Resource == "" || strings.Contains(line.Message, "deposed object") {
				continue
			}
			switch {
			case strings.Contains(line.Message, ": Creation complete after"):
				l.live[line.Resource] = true
				l.created++
			case strings.Contains(line.Message, ": Destruction complete after"):
				delete(l.live, line.Resource)
			}
		}
		if len(lines) < 1000 {
			return
		}
	}
}

// check verifies the stored state: its serial never went backwards, and it
// knows every resource Terraform reported created and not destroyed.
func (l *ledger) check(t *testing.T, st *store.Store, when string) (stored int) {
	t.Helper()
	l.read(t, st)
	latest, err := st.States.Latest(context.Background(), l.id)
	if store.IsNotFound(err) {
		if len(l.live) > 0 {
			t.Fatalf("%s: deployment %s has no stored state, but Terraform created %d resources", when, l.id, len(l.live))
		}
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if latest.Serial < l.serial {
		t.Fatalf("%s: the stored state serial went back from %d to %d", when, l.serial, latest.Serial)
	}
	l.serial = latest.Serial
	have := stateAddresses(t, latest.State)
	var missing []string
	for a := range l.live {
		if !have[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("%s: the stored state (serial %d) lacks %d resources Terraform reported created: %v", when, latest.Serial, len(missing), missing)
	}
	return len(have)
}

// settle waits until no run of any deployment is queued or running, checking
// on the way that every deployment in progress has a run whose lease is fresh
// (none is stuck), and returns the deployments' statuses.
func settle(t *testing.T, svc *service, st *store.Store, token string, ids []string, stallAfter time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	orphanSince := map[string]time.Time{}
	for {
		statuses, busy := map[string]string{}, false
		for _, id := range ids {
			d := svc.api("GET", "/api/v1/deployments/"+id, token, nil, 200)
			statuses[id] = d["status"].(string)
			active, err := st.Runs.Active(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range active {
				if r.Status == store.RunRunning && r.HeartbeatAt != nil && st.Now().Sub(*r.HeartbeatAt) > stallAfter {
					t.Fatalf("run %s of %s is running with a lease %s old", r.ID, id, st.Now().Sub(*r.HeartbeatAt))
				}
			}
			inProgress := strings.HasSuffix(statuses[id], "_IN_PROGRESS")
			if len(active) == 0 && inProgress {
				if orphanSince[id].IsZero() {
					orphanSince[id] = time.Now()
				} else if time.Since(orphanSince[id]) > stallAfter+10*time.Second {
					t.Fatalf("deployment %s is %s with no run, past the stalled interval", id, statuses[id])
				}
			}
			busy = busy || len(active) > 0 || inProgress
		}
		if !busy {
			return statuses
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployments did not settle: %v\n%s", statuses, svc.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// killMidBoot creates a 3-node cluster on a target whose servers boot for 8 s
// and kills the service with SIGKILL while they boot (volumes and servers in
// the workdir's state, boots under way). It returns the stopped service.
func killMidBoot(t *testing.T) (svc *service, st *store.Store, id, data string) {
	t.Helper()
	data = t.TempDir()
	svc = startService(t, data)
	admin := svc.login("admin", "admin-secret-pw")
	svc.api("POST", "/api/v1/targets", admin, map[string]any{"name": "slow", "kind": "local", "config": map[string]any{"boot_seconds": 8}}, 201)
	d := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template": readTemplate(t, clusterTemplate),
		"inputs": map[string]any{"node_count": 3}, "target": "slow"}, 202)
	id = d["id"].(string)
	st = openStore(t, data)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the apply never reached the slow boots")
		}
		lines, _, _ := st.Logs.List(context.Background(), id, store.LogFilter{Source: store.SourceTerraform}, store.Page{Number: 1, Size: 1000})
		n := 0
		for _, l := range lines {
			if strings.Contains(l.Message, "terraform_data.boot[0]: Creating...") {
				n++
			}
		}
		if n == 3 {
			break
		}
	}
	svc.stop(syscall.SIGKILL)
	return svc, st, id, data
}

// TestNoResourceStaysCreatingAfterACrash (issue 10, item 4): after a crash in
// the middle of a create, the resources are rebuilt from the state saved at
// recovery, as after any run: none stays CREATING, and every one the saved
// state holds is shown as it is.
func TestNoResourceStaysCreatingAfterACrash(t *testing.T) {
	t.Parallel()
	svc, st, id, _ := killMidBoot(t)
	svc.start()
	admin := svc.login("admin", "admin-secret-pw")
	svc.waitSettled(id, admin)
	latest, err := st.States.Latest(context.Background(), id)
	if err != nil {
		t.Fatalf("no state saved at recovery: %v", err)
	}
	have := stateAddresses(t, latest.State)
	resources := svc.api("GET", "/api/v1/deployments/"+id+"/resources", admin, nil, 200)["items"].([]any)
	if len(resources) != 6 {
		t.Fatalf("%d resources after the restart, want 6", len(resources))
	}
	for _, r := range resources {
		r := r.(map[string]any)
		address := fmt.Sprintf("module.%s[%v].terraform_data.%s", r["node"], r["instance"], map[string]string{"nodes": "server", "scratch": "volume"}[r["node"].(string)])
		if r["state"] == "CREATING" {
			t.Fatalf("%v[%v] is still CREATING after recovery (in the saved state: %v)", r["node"], r["instance"], have[address])
		}
		if have[address] && r["state"] != "STARTED" && r["state"] != "CREATED" && r["state"] != "ERROR" {
			t.Fatalf("%v[%v] is in the saved state but %v", r["node"], r["instance"], r["state"])
		}
	}
}

// TestKillMidApply kills the service with SIGKILL while Terraform is applying.
// Terraform goes on; the restarted service re-attaches to it, the create
// completes, and the resources are rebuilt from the state it saved. A later
// delete leaves nothing.
func TestKillMidApply(t *testing.T) {
	t.Parallel()
	svc, st, id, data := killMidBoot(t)
	workdir := filepath.Join(data, "work", id)
	if len(terraformProcesses(workdir)) == 0 {
		t.Fatal("Terraform died with the service")
	}
	before, _ := st.States.Count(context.Background(), id)

	svc.start()
	admin := svc.login("admin", "admin-secret-pw")
	got := svc.waitSettled(id, admin)
	if got["status"] != "CREATE_COMPLETE" {
		t.Fatalf("after restart: %v %v", got["status"], got["status_reason"])
	}
	runs := svc.api("GET", "/api/v1/deployments/"+id+"/runs", admin, nil, 200)["items"].([]any)
	if r := runs[0].(map[string]any); r["status"] != "succeeded" {
		t.Fatalf("the re-attached run is %v: %v", r["status"], r["error"])
	}
	after, _ := st.States.Count(context.Background(), id)
	if after < before {
		t.Fatalf("state versions went from %d to %d", before, after)
	}
	latest, _ := st.States.Latest(context.Background(), id)
	have := stateAddresses(t, latest.State)
	resources := svc.api("GET", "/api/v1/deployments/"+id+"/resources", admin, nil, 200)["items"].([]any)
	if len(resources) != 6 {
		t.Fatalf("%d resources after the restart", len(resources))
	}
	for _, r := range resources {
		r := r.(map[string]any)
		if r["state"] == "CREATING" || (r["state"] != "STARTED" && r["state"] != "CREATED") {
			t.Fatalf("%v[%v] is %v after the restart", r["node"], r["instance"], r["state"])
		}
		if !have[fmt.Sprintf("module.%s[%v].terraform_data.%s", r["node"], r["instance"], map[string]string{"nodes": "server", "scratch": "volume"}[r["node"].(string)])] {
			t.Fatalf("%v[%v] is not in the saved state", r["node"], r["instance"])
		}
	}

	svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
	if got := svc.waitSettled(id, admin); got["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete after the crash: %v %v", got["status"], got["status_reason"])
	}
	latest, _ = st.States.Latest(context.Background(), id)
	if left := stateAddresses(t, latest.State); len(left) != 0 {
		t.Fatalf("left after delete: %v", left)
	}
	if p := processesIn(data); len(p) > 0 {
		t.Fatalf("processes left: %v", p)
	}
	t.Logf("state versions: %d before the kill, %d after restart", before, after)
}

// TestSigtermMidRun stops the service with SIGTERM and a short grace while
// Terraform applies: it exits 0, the run is recorded as interrupted with the
// partial state, nothing keeps running, and a later delete cleans up. A second
// SIGTERM cuts the grace short and still records the run.
func TestSigtermMidRun(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	svc := startService(t, data, "--shutdown-grace", "5s")
	admin := svc.login("admin", "admin-secret-pw")
	svc.api("POST", "/api/v1/targets", admin, map[string]any{"name": "slow", "kind": "local", "config": map[string]any{"boot_seconds": 300}}, 201)
	st := openStore(t, data)
	create := func() string {
		d := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template": readTemplate(t, clusterTemplate),
			"inputs": map[string]any{"node_count": 2}, "target": "slow"}, 202)
		id := d["id"].(string)
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the apply never reached the slow boots")
			}
			lines, _, _ := st.Logs.List(context.Background(), id, store.LogFilter{Source: store.SourceTerraform}, store.Page{Number: 1, Size: 1000})
			n := 0
			for _, l := range lines {
				if strings.Contains(l.Message, "terraform_data.boot[0]: Creating...") {
					n++
				}
			}
			if n == 2 {
				return id
			}
		}
	}
	checkInterrupted := func(when, id string) {
		t.Helper()
		if code := svc.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("the service exited with %d:\n%s", code, svc.out.String())
		}
		d, _ := st.Deployments.Get(context.Background(), id)
		runs, _, _ := st.Runs.List(context.Background(), id, store.Page{Number: 1, Size: 10})
		if d.Status != store.CreateFailed || runs[0].Status != store.RunFailed || !strings.Contains(runs[0].Error, "interrupted") {
			t.Fatalf("%s: %s %q, run %s %q", when, d.Status, d.StatusReason, runs[0].Status, runs[0].Error)
		}
		latest, err := st.States.Latest(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: the partial state is not saved: %v\n%s", when, err, svc.out.String())
		}
		have := stateAddresses(t, latest.State)
		if !have["module.nodes[0].terraform_data.server"] || !have["module.scratch[1].terraform_data.volume"] {
			t.Fatalf("%s: the partial state (run: %s) lacks what was created: %v", when, runs[0].Error, have)
		}
		for deadline := time.Now().Add(10 * time.Second); len(processesIn(data)) > 0; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: processes left: %v", when, processesIn(data))
			}
		}
	}

	first := create()
	start := time.Now()
	svc.stop(syscall.SIGTERM)
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("SIGTERM took %s with a 5 s grace", took)
	}
	checkInterrupted("one SIGTERM", first)

	// A second SIGTERM ends a long grace at once.
	svc.args = append(svc.args, "--shutdown-grace", "10m")
	svc.start()
	admin = svc.login("admin", "admin-secret-pw")
	second := create()
	svc.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	svc.stop(syscall.SIGTERM)
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("two SIGTERMs took %s", took)
	}
	checkInterrupted("two SIGTERMs", second)

	svc.start()
	admin = svc.login("admin", "admin-secret-pw")
	for _, id := range []string{first, second} {
		svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
		if got := svc.waitSettled(id, admin); got["status"] != "DELETE_COMPLETE" {
			t.Fatalf("delete after SIGTERM: %v %v", got["status"], got["status_reason"])
		}
		latest, _ := st.States.Latest(context.Background(), id)
		if left := stateAddresses(t, latest.State); len(left) != 0 {
			t.Fatalf("left after delete: %v", left)
		}
	}
}

// twentyNodes is a cluster of 20 servers (40 Terraform resources: a server and
// its host key each): big enough for kills to land anywhere, small enough for
// 30 rounds on two busy cores.
const twentyNodes = `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    cpus: { type: integer, default: 1 }
  node_templates:
    nodes:
      type: tosca.nodes.Compute
      capabilities:
        scalable: { properties: { count: 20 } }
        host: { properties: { num_cpus: { get_input: cpus } } }
`

// TestKillSuite kills the service with SIGKILL at random points of the create,
// update, action and delete runs of a 20-node cluster, again and again,
// restarting it each time. After every kill: no deployment stays in progress
// without a live run, the stored state's serial never goes back, and the stored
// state knows every resource Terraform reported created. At the end every
// deployment is deleted: nothing is left in any state, log or process table.
func TestKillSuite(t *testing.T) {
	t.Parallel()
	const kills = 30
	const stallAfter = 20 * time.Second
	seed := time.Now().UnixNano()
	if s := os.Getenv("KILL_SUITE_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rnd := rand.New(rand.NewSource(seed))
	t.Logf("seed %d (KILL_SUITE_SEED reruns it)", seed)

	data := t.TempDir()
	svc := startService(t, data, "--stall-after", stallAfter.String(), "--stalled-schedule", "@every 2s", "--kill-grace", "5s")
	admin := svc.login("admin", "admin-secret-pw")
	st := openStore(t, data)

	type slot struct {
		ledger *ledger
		ops    int // operations on the current deployment since its create
	}
	slots := []*slot{{}}
	var all []*ledger
	landed := map[string]int{} // where the kills landed, by the operation under way
	// About how long each operation takes on a busy machine: the kills land
	// anywhere in it, from the claim to the outcome.
	maxDelay := map[string]time.Duration{"create": 7 * time.Second, "update": 6 * time.Second, "action": 6 * time.Second, "delete": 5 * time.Second}

	for kill := 1; kill <= kills; kill++ {
		var ops []string
		for _, s := range slots {
			op := "create"
			if s.ledger != nil {
				d := svc.api("GET", "/api/v1/deployments/"+s.ledger.id, admin, nil, 200)
				switch d["status"] {
				case "DELETE_COMPLETE":
				case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED":
					op = []string{"update", "action", "delete"}[s.ops%3]
				default:
					op = "delete"
				}
			}
			s.ops++
			switch op {
			case "create":
				s.ops = 0
				d := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template": twentyNodes, "target": "local"}, 202)
				s.ledger = newLedger(d["id"].(string))
				all = append(all, s.ledger)
			case "update":
				// Every server changes in place.
				svc.api("PUT", "/api/v1/deployments/"+s.ledger.id, admin, map[string]any{"redeploy": false,
					"inputs": map[string]any{"cpus": []int{2, 4}[kill%2]}}, 202)
			case "action":
				res := svc.api("GET", "/api/v1/deployments/"+s.ledger.id+"/resources", admin, nil, 200)["items"].([]any)
				var nodes []string
				for _, r := range res {
					if r := r.(map[string]any); r["node"] == "nodes" && r["state"] != "DELETED" {
						nodes = append(nodes, r["id"].(string))
					}
				}
				if len(nodes) == 0 {
					op = "none"
					break
				}
				svc.api("POST", "/api/v1/deployments/"+s.ledger.id+"/resources/"+nodes[rnd.Intn(len(nodes))]+"/actions", admin,
					map[string]any{"action": []string{"reboot", "stop", "start"}[rnd.Intn(3)]}, 202)
			case "delete":
				svc.api("DELETE", "/api/v1/deployments/"+s.ledger.id, admin, nil, 202)
			}
			ops = append(ops, op)
		}
		longest := time.Second
		for _, op := range ops {
			longest = max(longest, maxDelay[op])
		}
		delay := time.Duration(rnd.Int63n(int64(longest)))
		time.Sleep(delay)
		svc.stop(syscall.SIGKILL)
		survivors := len(processesIn(filepath.Join(data, "work")))
		for _, op := range ops {
			landed[op]++
		}
		restart := time.Now()
		svc.start()
		admin = svc.login("admin", "admin-secret-pw")
		restarted := time.Since(restart)
		ids := []string{}
		for _, s := range slots {
			ids = append(ids, s.ledger.id)
		}
		statuses := settle(t, svc, st, admin, ids, stallAfter)
		settled := time.Since(restart) - restarted
		when := fmt.Sprintf("kill %d (%v after %s)", kill, ops, delay.Round(time.Millisecond))
		stored := 0
		var now []string
		for _, s := range slots {
			stored += s.ledger.check(t, st, when)
			now = append(now, statuses[s.ledger.id])
			if strings.HasSuffix(statuses[s.ledger.id], "FAILED") {
				d, _ := st.Deployments.Get(context.Background(), s.ledger.id)
				now[len(now)-1] += " (" + d.StatusReason + ")"
			}
		}
		t.Logf("%s: %d processes outlived the service; restart %s, settled %s later; now %v; %d resources in the stored states",
			when, survivors, restarted.Round(time.Millisecond), settled.Round(time.Millisecond), now, stored)
		if p := processesIn(data); len(p) > 0 {
			t.Fatalf("%s: processes left with no run active: %v", when, p)
		}
	}

	// Delete everything that is not deleted yet.
	ids := []string{}
	for _, l := range all {
		ids = append(ids, l.id)
		d := svc.api("GET", "/api/v1/deployments/"+l.id, admin, nil, 200)
		if d["status"] != "DELETE_COMPLETE" {
			svc.api("DELETE", "/api/v1/deployments/"+l.id, admin, nil, 202)
		}
	}
	statuses := settle(t, svc, st, admin, ids, stallAfter)
	created, storedAtEnd := 0, 0
	for _, l := range all {
		if statuses[l.id] != "DELETE_COMPLETE" {
			d := svc.api("GET", "/api/v1/deployments/"+l.id, admin, nil, 200)
			t.Fatalf("final delete of %s: %v %v", l.id, d["status"], d["status_reason"])
		}
		storedAtEnd += l.check(t, st, "final delete")
		if len(l.live) != 0 {
			t.Fatalf("the logs of %s show %d resources created and never destroyed: %v", l.id, len(l.live), l.live)
		}
		created += l.created
	}
	if storedAtEnd != 0 {
		t.Fatalf("%d resources left in the stored states", storedAtEnd)
	}
	svc.stop(syscall.SIGTERM)
	if p := processesIn(data); len(p) > 0 {
		t.Fatalf("processes left at the end: %v", p)
	}

	// The figures.
	outcomes := map[string]int{}
	for _, l := range all {
		runs, _, _ := st.Runs.List(context.Background(), l.id, store.Page{Number: 1, Size: 1000})
		for _, r := range runs {
			outcomes[fmt.Sprintf("%s %s", r.Kind, r.Status)]++
		}
	}
	reattached, collected, notStarted := 0, 0, 0
	for _, l := range all {
		list, _, _ := st.Logs.List(context.Background(), l.id, store.LogFilter{Source: store.SourceOrchestrator}, store.Page{Number: 1, Size: 1000})
		for _, line := range list {
			switch {
			case strings.Contains(line.Message, "is still running: waiting for it"):
				reattached++
			case strings.Contains(line.Message, "ended while no service watched it"):
				collected++
			case strings.Contains(line.Message, "ended before Terraform started"):
				notStarted++
			}
		}
	}
	t.Logf("FIGURES: %d kills (runs under way at the kills: %v); %d deployments; runs: %v", kills, landed, len(all), outcomes)
	t.Logf("FIGURES: after the restarts, %d runs re-attached to a live Terraform, %d read a Terraform that ended while the service was down, %d had not started Terraform",
		reattached, collected, notStarted)
	t.Logf("FIGURES: %d resources reported created by Terraform in the logs, all of them in the stored states at every check; %d left after the final deletes",
		created, storedAtEnd)
}

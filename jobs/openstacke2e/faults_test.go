package openstacke2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
)

// When the cloud fails, the deployment fails with the cloud's own words, and a
// later delete leaves nothing behind.

func TestServerInErrorIsCreateFailedWithTheCloudsFault(t *testing.T) {
	t.Parallel()
	e := newOpenStack(t, osOpts{sim: buildOnly})
	const fault = "No valid host was found. There are not enough hosts available."
	e.cloud.FailBuilds("-vm-0", fault)
	d := e.submit(example(t, "single-vm"), nil)
	d = e.wait(d.ID, store.CreateFailed)
	t.Logf("status_reason: %s", d.StatusReason)
	if !strings.Contains(d.StatusReason, fault) {
		t.Fatalf("status_reason %q does not carry the cloud's fault", d.StatusReason)
	}
	runs, _, _ := e.store.Runs.List(context.Background(), d.ID, store.Page{})
	if runs[0].Status != store.RunFailed || !strings.Contains(runs[0].Error, fault) {
		t.Fatalf("run: %s %q", runs[0].Status, runs[0].Error)
	}
	if r := e.resources(d.ID)["vm[0]"]; r == nil || r.State != store.ResError {
		t.Fatalf("resource: %+v", r)
	}
	e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	e.wait(d.ID, store.DeleteComplete)
	e.checkNothingLeft()
	e.checkNoSecret(d.ID)
}

func TestQuotaExceededCarriesTheQuotaMessage(t *testing.T) {
	cases := []struct {
		name     string
		quota    ossim.Quota
		example  string
		inputs   map[string]any
		message  string
		resource string
	}{
		{"volume gigabytes (413)", ossim.Quota{Gigabytes: 5}, "vm-with-volume", map[string]any{"volume_size": "10 GB"},
			"Requested volume or snapshot exceeds allowed gigabytes quota. Requested 10G, quota is 5G and 0G has been consumed.", "data[0]"},
		{"cores (403)", ossim.Quota{Cores: 1}, "single-vm", map[string]any{"num_cpus": 2},
			"Quota exceeded for cores: Requested 2, but already used 0 of 1 cores", "vm[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOpenStack(t, osOpts{sim: buildOnly})
			e.cloud.SetQuota(ossim.ProjectName, tc.quota)
			d := e.submit(example(t, tc.example), tc.inputs)
			d = e.wait(d.ID, store.CreateFailed)
			if !strings.Contains(d.StatusReason, tc.message) {
				t.Fatalf("status_reason %q does not carry %q", d.StatusReason, tc.message)
			}
			if r := e.resources(d.ID)[tc.resource]; r == nil || r.State != store.ResError {
				t.Fatalf("resource %s: %+v", tc.resource, r)
			}
			e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
			e.wait(d.ID, store.DeleteComplete)
			e.checkNothingLeft()
		})
	}
}

// A 500 while the provider polls is retried; a 500 on a create call fails the
// run with Neutron's message.
func TestInternalServerErrors(t *testing.T) {
	t.Run("while polling a build", func(t *testing.T) {
		t.Parallel()
		e := newOpenStack(t, osOpts{sim: buildOnly})
		e.cloud.Inject(ossim.Fault{Service: "compute", Method: "GET", Path: "/servers/", Times: 1, Status: 500})
		d := e.submit(example(t, "single-vm"), nil)
		e.wait(d.ID, store.CreateComplete)
		if e.cloud.Count("GET", "/servers/") < 2 {
			t.Fatal("the provider did not poll past the 500")
		}
		e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
		e.wait(d.ID, store.DeleteComplete)
		e.checkNothingLeft()
	})
	t.Run("creating a port", func(t *testing.T) {
		t.Parallel()
		e := newOpenStack(t, osOpts{sim: buildOnly})
		e.cloud.Inject(ossim.Fault{Service: "network", Method: "POST", Path: "/ports", Times: 1, Status: 500})
		d := e.submit(example(t, "single-vm"), nil)
		d = e.wait(d.ID, store.CreateFailed)
		if !strings.Contains(d.StatusReason, "Request Failed: internal server error while processing your request.") {
			t.Fatalf("status_reason %q", d.StatusReason)
		}
		e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
		e.wait(d.ID, store.DeleteComplete)
		e.checkNothingLeft()
	})
}

// An endpoint that accepts connections and never answers would hold the run
// forever: the run timeout ends it with a reason that says so, and no
// Terraform process is left behind.
func TestHangingEndpointEndsAtTheRunTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 20 * time.Second
	e := newOpenStack(t, osOpts{sim: buildOnly, runTimeout: timeout})
	e.cloud.Inject(ossim.Fault{Service: "compute", Method: "GET", Path: "/servers/", Hang: true})
	start := time.Now()
	d := e.submit(example(t, "single-vm"), nil)
	d = e.wait(d.ID, store.CreateFailed)
	took := time.Since(start)
	t.Logf("status_reason after %s: %s", took.Round(time.Second), d.StatusReason)
	if took < timeout || took > timeout+time.Minute {
		t.Fatalf("the run ended after %s with a %s timeout", took, timeout)
	}
	if !strings.Contains(d.StatusReason, "time limit") || !strings.Contains(d.StatusReason, timeout.String()) {
		t.Fatalf("status_reason %q does not say the run hit its time limit", d.StatusReason)
	}
	if procs := terraformProcesses(e.dir); len(procs) > 0 {
		t.Fatalf("Terraform still runs: %v", procs)
	}
	// The cloud recovers; the delete removes the server the hung run made.
	e.cloud.ClearFaults()
	e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	e.wait(d.ID, store.DeleteComplete)
	e.checkNothingLeft()
}

// Cancelling while the server builds stops the run; the deployment keeps what
// was made in its state, and a delete removes it.
func TestCancelDuringBuildThenDeleteCleansUp(t *testing.T) {
	t.Parallel()
	e := newOpenStack(t, osOpts{sim: ossim.Options{BuildTime: 10 * time.Minute}})
	ctx := context.Background()
	d := e.submit(example(t, "single-vm"), nil)
	waitForBuild(t, e.cloud)
	runs, _, _ := e.store.Runs.List(ctx, d.ID, store.Page{})
	start := time.Now()
	if _, err := e.engine.Cancel(ctx, runs[0].ID, "cancelled by test"); err != nil {
		t.Fatal(err)
	}
	d = e.wait(d.ID, store.CreateFailed)
	r, _ := e.store.Runs.Get(ctx, runs[0].ID)
	if r.Status != store.RunCancelled || time.Since(start) > 30*time.Second {
		t.Fatalf("run %s after %s: %s", r.Status, time.Since(start), r.Error)
	}
	if procs := terraformProcesses(e.dir); len(procs) > 0 {
		t.Fatalf("Terraform still runs: %v", procs)
	}
	// The server is still building in the cloud; the delete must find it in
	// the state the cancelled run saved.
	servers := e.cloud.Servers()
	if len(servers) != 1 || servers[0].Status != "BUILD" {
		t.Fatalf("servers after the cancel: %+v", servers)
	}
	e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	e.wait(d.ID, store.DeleteComplete)
	e.checkNothingLeft()
}

// terraformProcesses lists Terraform processes working under dir.
func terraformProcesses(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", en.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "terraform") {
			out = append(out, en.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"orchestrator/store"
)

// TestKillMidApply kills the service with SIGKILL while Terraform is applying,
// restarts it, and checks that the deployment ends failed (its run orphaned),
// that no state version is lost, and that a later delete succeeds.
func TestKillMidApply(t *testing.T) {
	data := t.TempDir()
	svc := startService(t, data)
	admin := svc.login("admin", "admin-secret-pw")
	// A target whose servers take 30 s to "boot": the apply is surely running when killed.
	svc.api("POST", "/api/v1/targets", admin, map[string]any{"name": "slow", "kind": "local", "config": map[string]any{"boot_seconds": 30}}, 201)
	template := `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    fast: { type: tosca.nodes.BlockStorage, properties: { size: 1 GB } }
    slow: { type: tosca.nodes.Compute, requirements: [ { dependency: fast } ] }
`
	d := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template": template, "target": "slow"}, 202)
	id := d["id"].(string)

	// Wait for the slow server to be in the middle of its creation.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the apply never reached the slow server")
		}
		logs := svc.api("GET", "/api/v1/deployments/"+id+"/logs?size=1000", admin, nil, 200)
		found := false
		for _, l := range logs["items"].([]any) {
			found = found || strings.Contains(l.(map[string]any)["message"].(string), "terraform_data.server: Creating...")
		}
		if found {
			break
		}
	}
	workdir := filepath.Join(data, "work", id)
	if len(terraformProcesses(workdir)) == 0 {
		t.Fatal("no terraform process was running")
	}
	svc.stop(syscall.SIGKILL)
	// Terraform dies with its parent (terraform-exec sets Pdeathsig).
	for deadline := time.Now().Add(10 * time.Second); len(terraformProcesses(workdir)) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("terraform outlived the service: %v", terraformProcesses(workdir))
		}
	}

	// What the store knew when the service died.
	st, err := store.Open(context.Background(), filepath.Join(data, "orchestrator.db"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := st.States.Count(context.Background(), id)
	st.Close()

	svc.start()
	admin = svc.login("admin", "admin-secret-pw")
	got := svc.waitSettled(id, admin)
	if got["status"] != "CREATE_FAILED" || !strings.Contains(got["status_reason"].(string), "stopped") {
		t.Fatalf("after restart: %v %v", got["status"], got["status_reason"])
	}
	runs := svc.api("GET", "/api/v1/deployments/"+id+"/runs", admin, nil, 200)["items"].([]any)
	if r := runs[0].(map[string]any); r["status"] != "failed" {
		t.Fatalf("the orphaned run is %v", r["status"])
	}
	st, err = store.Open(context.Background(), filepath.Join(data, "orchestrator.db"))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := st.States.Count(context.Background(), id)
	st.Close()
	if after < before {
		t.Fatalf("state versions went from %d to %d", before, after)
	}

	// The deployment can still be deleted cleanly.
	svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
	if got := svc.waitSettled(id, admin); got["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete after the crash: %v %v", got["status"], got["status_reason"])
	}
	t.Logf("state versions: %d before the kill, %d after restart", before, after)
}

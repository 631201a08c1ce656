package modules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orchestrator/jobs/toolchain/tftest"
)

// A pool host's allocation is recorded in the state; its outputs are the host's
// address (public only when the pool says so); another host replaces the
// record; an instance without an allocation, a stop and a volume are refused.
func TestHostpoolCompute_RecordsTheAllocation(t *testing.T) {
	tc := tftest.Find(t)
	dir := writeRoot(t, "hostpool", map[string]any{
		"web": call("hostpool", Compute, 2, "web", map[string]any{"ssh_public_keys": []string{sshKey}, "power_state": "${var.power}"}),
	}, map[string]any{"power": map[string]any{"type": "string", "default": "started"}})
	alloc := func(first string) string {
		target := map[string]any{"allocations": map[string]any{
			"web-0": map[string]any{"name": first, "address": "192.0.2.10", "port": 2222, "user": "admin", "public": true, "cpus": 4, "memory_mb": 8192, "os": map[string]any{"distribution": "debian"}},
			"web-1": map[string]any{"name": "h2", "address": "192.0.2.11", "port": 22, "user": "admin", "bastion": map[string]any{"address": "192.0.2.1", "port": 22, "user": "jump"}},
		}}
		b, _ := json.Marshal(target)
		p := filepath.Join(dir, "target.tfvars.json")
		if err := os.WriteFile(p, []byte(`{"orc_target": `+string(b)+`}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return "-var-file=" + p
	}
	tc.Run(t, dir, "init", "-input=false", "-no-color")
	tc.Run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color", alloc("h1"))
	var res map[string][]map[string]any
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "output", "-json", "orc_resources")), &res); err != nil {
		t.Fatal(err)
	}
	a0, a1 := res["web"][0]["attributes"].(map[string]any), res["web"][1]["attributes"].(map[string]any)
	if a0["pool_host"] != "h1" || a0["public_address"] != "192.0.2.10" || a0["private_address"] != "192.0.2.10" || a0["port"] != 2222.0 {
		t.Fatalf("web-0: %v", a0)
	}
	if a1["public_address"] != nil || a1["bastion"] != "192.0.2.1" || res["web"][1]["cloud_id"] != "pool:h2" {
		t.Fatalf("web-1: %v %v", a1, res["web"][1])
	}
	plan := tc.Run(t, dir, "plan", "-input=false", "-no-color", alloc("h3"))
	if !strings.Contains(plan, "module.web[0].terraform_data.host must be replaced") || strings.Contains(plan, "module.web[1].terraform_data.host must be replaced") {
		t.Fatalf("another host for web-0 must replace only its record:\n%s", plan)
	}
	out, err := tc.Try(t, dir, "plan", "-input=false", "-no-color", alloc("h1"), "-var", "power=stopped")
	if err == nil || !strings.Contains(oneLine(out), "pool hosts cannot be stopped") {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	empty := filepath.Join(dir, "empty.tfvars.json")
	_ = os.WriteFile(empty, []byte(`{"orc_target": {"allocations": {}}}`), 0o644)
	out, err = tc.Try(t, dir, "plan", "-input=false", "-no-color", "-var-file="+empty)
	if err == nil || !strings.Contains(oneLine(out), "no pool host is allocated to web-0") {
		t.Fatalf("no allocation: %v\n%s", err, out)
	}
}

package modules

import (
	"encoding/json"
	"strings"
	"testing"

	"orchestrator/jobs/toolchain/tftest"
)

// CheckTargetConfig refuses exactly what the modules refuse at plan time: each
// case is checked in Go and planned through the local compute and block storage
// modules with public_address on, and both must agree.
func TestCheckTargetConfig_AgreesWithTheModules(t *testing.T) {
	tc := tftest.Find(t)
	cases := []struct {
		name string
		cfg  string
		ok   bool
	}{
		{"empty", `{}`, true},
		{"nulls take the defaults", `{"boot_seconds": null, "public_cidr": null}`, true},
		{"boot time in range", `{"boot_seconds": 2}`, true},
		{"boot time too long", `{"boot_seconds": 99999}`, false},
		{"negative boot time", `{"boot_seconds": -1}`, false},
		{"boot time not a number", `{"boot_seconds": "soon"}`, false},
		{"public pool too small", `{"public_cidr": "172.24.4.0/31"}`, false},
		{"public pool IPv6", `{"public_cidr": "fd00::/64"}`, false},
		{"public pool garbage", `{"public_cidr": "the internet"}`, false},
		{"network garbage", `{"default_network_cidr": "ten-dot"}`, false},
		{"catalog", `{"flavors": [{"name": "f1", "vcpus": 2, "ram_mb": 4096, "disk_gb": 20}],
			"images": [{"name": "ubuntu-24.04", "distribution": "ubuntu", "version": "24.04"}]}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var cfg map[string]any
			if err := json.Unmarshal([]byte(c.cfg), &cfg); err != nil {
				t.Fatal(err)
			}
			problems := CheckTargetConfig("local", cfg)
			if (len(problems) == 0) != c.ok {
				t.Fatalf("CheckTargetConfig: %v, want ok=%v", problems, c.ok)
			}
			dir := writeRoot(t, "local", map[string]any{
				"vm":   call("local", Compute, 1, "vm", map[string]any{"public_address": true}),
				"data": call("local", BlockStorage, 1, "data", map[string]any{"size_gb": 10}),
			}, nil)
			tc.Run(t, dir, "init", "-input=false", "-no-color")
			out, err := tc.Try(t, dir, "plan", "-input=false", "-no-color", "-var", "orc_target="+hclValue(t, cfg))
			if (err == nil) != c.ok {
				t.Fatalf("terraform plan: err=%v, want ok=%v\n%s", err, c.ok, out)
			}
		})
	}
	if p := CheckTargetConfig("local", map[string]any{"boot_second": 3}); len(p) != 1 || !strings.Contains(p[0].Message, "known keys") {
		t.Fatalf("a typo in a key: %v", p)
	}
	if p := CheckTargetConfig("openstack", map[string]any{"boot_seconds": 3}); len(p) != 1 {
		t.Fatalf("a local key on openstack: %v", p)
	}
}

// hclValue writes a JSON value as an HCL expression for -var (JSON objects are
// valid HCL object expressions once keys are quoted, which JSON does).
func hclValue(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

package modules_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/modules"
)

var kinds = []modules.Kind{modules.Compute, modules.BlockStorage, modules.VolumeAttachment, modules.Network, modules.Port, modules.ObjectStorage}

func TestEveryModuleIsComplete(t *testing.T) {
	for _, target := range modules.Targets() {
		for _, kind := range kinds {
			if !modules.Supports(target, kind) {
				t.Errorf("%s has no %s module", target, kind)
				continue
			}
			for _, f := range []string{"variables.tf", "main.tf", "outputs.tf", "README.md"} {
				if _, err := fs.Stat(modules.FS, target+"/"+string(kind)+"/"+f); err != nil {
					t.Errorf("%s/%s lacks %s", target, kind, f)
				}
			}
			out, _ := fs.ReadFile(modules.FS, target+"/"+string(kind)+"/outputs.tf")
			if !strings.Contains(string(out), `output "orc_resource"`) {
				t.Errorf("%s/%s has no orc_resource output", target, kind)
			}
		}
		if len(modules.Providers(target)) == 0 {
			t.Errorf("%s lists no providers", target)
		}
	}
	if modules.Supports("local", "load_balancer") || modules.Supports("nowhere", modules.Compute) {
		t.Error("Supports says yes to something that does not exist")
	}
	if got := modules.Source("local", modules.Compute); got != "./modules/local/compute" {
		t.Errorf("Source: %s", got)
	}
	readme, _ := fs.ReadFile(modules.FS, "local/compute/README.md")
	if !strings.Contains(string(readme), "SIMULATED") {
		t.Error("the local compute README must say it is simulated")
	}
}

func TestWriteToWritesOnlyTheTarget(t *testing.T) {
	dir := t.TempDir()
	if err := modules.WriteTo(dir, "local"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "modules", "local", "compute", "main.tf")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "modules", "openstack")); !os.IsNotExist(err) {
		t.Fatal("WriteTo wrote another target's modules")
	}
	if err := modules.WriteTo(dir, "../../etc"); err == nil {
		t.Fatal("WriteTo accepted an unknown target")
	}
}

// root writes a root module calling local modules, with variables for what the
// test changes between applies.
func root(t *testing.T, dir string, vars map[string]any) {
	t.Helper()
	main := map[string]any{
		"variable": map[string]any{"cpus": map[string]any{}, "power": map[string]any{}, "size": map[string]any{}},
		"module": map[string]any{
			"net":  map[string]any{"source": "./modules/local/network", "name": "net", "deployment_id": "d", "cidr": "192.168.7.0/24"},
			"port": map[string]any{"source": "./modules/local/port", "name": "port", "deployment_id": "d", "network": map[string]any{"id": "${module.net.id}", "cidr": "${module.net.cidr}"}},
			"vm": map[string]any{"source": "./modules/local/compute", "count": 2, "name": "vm-${count.index}", "deployment_id": "d", "index": "${count.index}",
				"num_cpus": "${var.cpus}", "mem_size_mb": 3000, "public_address": true, "power_state": "${var.power}",
				"ports": []any{map[string]any{"id": "${module.port.id}", "ip_address": "${module.port.ip_address}", "network_id": "${module.net.id}"}}},
			"vol":    map[string]any{"source": "./modules/local/block_storage", "name": "vol", "deployment_id": "d", "size_gb": "${var.size}"},
			"attach": map[string]any{"source": "./modules/local/volume_attachment", "name": "a", "deployment_id": "d", "compute_id": "${module.vm[0].id}", "volume_id": "${module.vol.id}", "device": "/dev/vdc"},
			"bucket": map[string]any{"source": "./modules/local/object_storage", "name": "b", "deployment_id": "d", "size_gb": 5},
		},
		"output": map[string]any{
			"vm":     map[string]any{"value": "${module.vm[*].orc_resource}"},
			"vol":    map[string]any{"value": "${module.vol.orc_resource}"},
			"device": map[string]any{"value": "${module.attach.device}"},
		},
	}
	data, _ := json.Marshal(main)
	os.WriteFile(filepath.Join(dir, "main.tf.json"), data, 0o644)
	data, _ = json.Marshal(vars)
	os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), data, 0o644)
}

type resource struct {
	CloudID    string         `json:"cloud_id"`
	Attributes map[string]any `json:"attributes"`
}

func outputs(t *testing.T, tc tftest.Toolchain, dir string) (vms []resource, vol resource, device string) {
	t.Helper()
	var out struct {
		VM     struct{ Value []resource }
		Vol    struct{ Value resource }
		Device struct{ Value string }
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "output", "-json")), &out); err != nil {
		t.Fatal(err)
	}
	return out.VM.Value, out.Vol.Value, out.Device.Value
}

func TestLocalModulesApply(t *testing.T) {
	tc := tftest.Find(t)
	dir := t.TempDir()
	if err := modules.WriteTo(dir, "local"); err != nil {
		t.Fatal(err)
	}
	root(t, dir, map[string]any{"cpus": 2, "power": "started", "size": 10})
	tc.Run(t, dir, "init", "-input=false")
	tc.Run(t, dir, "apply", "-auto-approve", "-input=false")
	vms, vol, device := outputs(t, tc, dir)
	if len(vms) != 2 || vms[0].Attributes["flavor"] != "medium" || vms[0].Attributes["private_address"] != "192.168.7.10" ||
		!strings.HasPrefix(vms[0].Attributes["public_address"].(string), "172.24.4.") || device != "/dev/vdc" || vol.Attributes["size_gb"] != 10.0 {
		t.Fatalf("first apply: %+v %+v %s", vms, vol, device)
	}
	ids := []string{vms[0].CloudID, vms[1].CloudID, vol.CloudID}

	// Bigger, stopped, larger volume: all in place, same ids.
	root(t, dir, map[string]any{"cpus": 4, "power": "stopped", "size": 20})
	out := tc.Run(t, dir, "apply", "-auto-approve", "-input=false")
	if !strings.Contains(out, "0 added") || !strings.Contains(out, "0 destroyed") {
		t.Fatalf("not in place:\n%s", out)
	}
	vms, vol, _ = outputs(t, tc, dir)
	if vms[0].CloudID != ids[0] || vms[1].CloudID != ids[1] || vol.CloudID != ids[2] {
		t.Fatal("ids changed on an in-place update")
	}
	if vms[0].Attributes["flavor"] != "large" || vms[0].Attributes["power_state"] != "stopped" || vol.Attributes["size_gb"] != 20.0 {
		t.Fatalf("update not applied: %+v %+v", vms[0].Attributes, vol.Attributes)
	}

	// Over the simulated quota: fails on purpose, with the reason.
	root(t, dir, map[string]any{"cpus": 4, "power": "stopped", "size": 5000})
	out, err := tc.Try(t, dir, "apply", "-auto-approve", "-input=false")
	if err == nil || !strings.Contains(out, "outside the target's quota") {
		t.Fatalf("quota: %v\n%s", err, out)
	}
	// No flavor fits: fails naming the request.
	root(t, dir, map[string]any{"cpus": 64, "power": "started", "size": 20})
	out, err = tc.Try(t, dir, "apply", "-auto-approve", "-input=false")
	if err == nil || !strings.Contains(out, "No flavor in the target catalog fits num_cpus=64") {
		t.Fatalf("flavor: %v\n%s", err, out)
	}
	tc.Run(t, dir, "destroy", "-auto-approve", "-input=false")
}

package modules

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"orchestrator/jobs/toolchain/tftest"
)

// These tests run real Terraform (the toolchain from `make tools`) on root modules
// shaped like the translator's: every module called with count, name,
// deployment_id, index and target.

const sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1jV3xz0bBkB5E1Zb9+8m6bN1dM0pQeTt0q5n3bY1f alice@example.org"

// call is a module call as the translator writes it.
func call(target string, kind Kind, count int, ident string, args map[string]any) map[string]any {
	m := map[string]any{
		"source":        Source(target, kind),
		"count":         count,
		"name":          ident + "-${count.index}",
		"deployment_id": "${var.orc_deployment_id}",
		"index":         "${count.index}",
		"target":        "${var.orc_target}",
	}
	for k, v := range args {
		m[k] = v
	}
	return m
}

// writeRoot writes target's modules and a main.tf.json with the module calls,
// the orchestrator's variables plus extra ones, and an orc_resources output.
func writeRoot(t *testing.T, target string, calls map[string]any, vars map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteTo(dir, target); err != nil {
		t.Fatal(err)
	}
	required := map[string]any{}
	for name, req := range Providers(target) {
		required[name] = map[string]any{"source": req.Source, "version": req.Version}
	}
	variables := map[string]any{
		"orc_deployment_id": map[string]any{"type": "string", "default": "dep-1"},
		"orc_target":        map[string]any{"type": "any", "default": map[string]any{}},
	}
	for k, v := range vars {
		variables[k] = v
	}
	resources := map[string]any{}
	for ident := range calls {
		resources[ident] = "${module." + ident + "[*].orc_resource}"
	}
	root := map[string]any{
		"terraform": map[string]any{"required_version": ">= 1.5.0", "required_providers": required},
		"variable":  variables,
		"module":    calls,
		"output":    map[string]any{"orc_resources": map[string]any{"value": resources}},
	}
	if target == "openstack" {
		// No OS_* variables reach Terraform; a provider block pointing nowhere lets
		// plan run (the provider authenticates lazily, and only apply needs the cloud).
		root["provider"] = map[string]any{"openstack": map[string]any{
			"auth_url": "http://127.0.0.1:9/v3", "user_name": "nobody", "password": "not-a-secret", "tenant_name": "none",
			"user_domain_name": "Default", "project_domain_name": "Default", "region": "RegionOne",
		}}
	}
	data, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// orcResource is one module instance's orc_resource output.
type orcResource struct {
	CloudID    string         `json:"cloud_id"`
	Kind       string         `json:"kind"`
	Attributes map[string]any `json:"attributes"`
}

func resources(t *testing.T, tc tftest.Toolchain, dir string) map[string][]orcResource {
	t.Helper()
	var out struct {
		Resources struct {
			Value map[string][]orcResource `json:"value"`
		} `json:"orc_resources"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "output", "-json")), &out); err != nil {
		t.Fatalf("output -json: %v", err)
	}
	return out.Resources.Value
}

// ids maps "<module>[<i>]" to its cloud id.
func ids(rs map[string][]orcResource) map[string]string {
	out := map[string]string{}
	for ident, list := range rs {
		for i, r := range list {
			out[fmt.Sprintf("%s[%d]", ident, i)] = r.CloudID
		}
	}
	return out
}

// oneLine undoes Terraform's wrapping of diagnostics.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func inCIDR(t *testing.T, addr any, cidr string) {
	t.Helper()
	_, n, _ := net.ParseCIDR(cidr)
	s, _ := addr.(string)
	if ip := net.ParseIP(s); ip == nil || !n.Contains(ip) {
		t.Errorf("address %v is not in %s", addr, cidr)
	}
}

func localCalls() map[string]any {
	network := map[string]any{"id": "${module.net[0].id}", "cidr": "${module.net[0].cidr}", "subnet_id": "${module.net[0].subnet_id}"}
	return map[string]any{
		"net": call("local", Network, 1, "net", map[string]any{"cidr": "10.30.0.0/24"}),
		"web": call("local", Compute, 2, "web", map[string]any{
			"num_cpus": "${var.num_cpus}", "mem_size_mb": 3000, "os": "${var.web_os}",
			"public_address": true, "endpoint_ports": []any{map[string]any{"port": 80, "protocol": "tcp", "cidr": "0.0.0.0/0"}},
			"network": nil, "ports": []any{}, "address_offset": 10,
			"power_state":     `${lookup(var.power, tostring(count.index), "started")}`,
			"ssh_public_keys": []any{sshKey},
			"software": []any{map[string]any{"name": "app", "type": "tosca.nodes.WebApplication",
				"properties": map[string]any{"admin_password": `${sensitive("s3cret")}`, "port": 8080}}},
		}),
		"db_port": call("local", Port, 1, "db_port", map[string]any{"network": network, "address_offset": 266}),
		"db": call("local", Compute, 1, "db", map[string]any{
			"num_gpus": 1, "image": "rocky-9", "address_offset": 522,
			"ports": []any{map[string]any{"id": "${module.db_port[count.index].id}", "ip_address": "${module.db_port[count.index].ip_address}", "network_id": "${module.net[0].id}"}},
		}),
		"data": call("local", BlockStorage, 1, "data", map[string]any{"size_gb": "${var.volume_gb}"}),
		"data_attach": call("local", VolumeAttachment, 1, "data_attach", map[string]any{
			"compute_id": "${module.db[count.index].id}", "volume_id": "${module.data[count.index].id}", "device": nil,
		}),
		"bucket": call("local", ObjectStorage, 1, "bucket", map[string]any{"size_gb": 5}),
	}
}

func localVars() map[string]any {
	return map[string]any{
		"num_cpus":  map[string]any{"type": "number", "default": 2},
		"volume_gb": map[string]any{"type": "number", "default": 10},
		"power":     map[string]any{"type": "map(string)", "default": map[string]any{}},
		"web_os":    map[string]any{"type": "any", "default": map[string]any{"distribution": "Ubuntu", "version": "22.04"}},
	}
}

func TestLocalModulesApply(t *testing.T) {
	tc := tftest.Find(t)
	dir := writeRoot(t, "local", localCalls(), localVars())
	target := `orc_target={boot_seconds = 1, max_volume_gb = 1000}`
	tc.Run(t, dir, "init", "-input=false", "-no-color")
	out := tc.Run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color", "-var", target)
	if !strings.Contains(out, `Executing: ["sleep" "1"]`) {
		t.Errorf("no simulated boot in the apply output:\n%s", out)
	}

	rs := resources(t, tc, dir)
	for ident, list := range rs {
		for i, r := range list {
			if r.CloudID == "" || r.Attributes["simulated"] != true {
				t.Errorf("%s[%d]: %+v", ident, i, r)
			}
		}
	}
	web, db, port := rs["web"], rs["db"][0], rs["db_port"][0]
	if len(web) != 2 {
		t.Fatalf("web: %d instances", len(web))
	}
	for i, want := range []string{"10.10.0.10", "10.10.0.11"} {
		a := web[i].Attributes
		if a["private_address"] != want || a["flavor"] != "medium" || a["image"] != "ubuntu-22.04" || a["power_state"] != "started" || a["vcpus"] != 2.0 {
			t.Errorf("web[%d]: %v", i, a)
		}
		inCIDR(t, a["public_address"], "172.24.4.0/24")
		if fp, _ := a["host_key_fingerprint"].(string); !strings.HasPrefix(fp, "SHA256:") {
			t.Errorf("web[%d] host key fingerprint %q", i, fp)
		}
		if !slices.Equal(a["software"].([]any), []any{"app"}) || a["ssh_keys"] != 1.0 {
			t.Errorf("web[%d] software/keys: %v %v", i, a["software"], a["ssh_keys"])
		}
	}
	if db.Attributes["flavor"] != "gpu" || db.Attributes["image"] != "rocky-9" || db.Attributes["public_address"] != nil {
		t.Errorf("db: %v", db.Attributes)
	}
	inCIDR(t, port.Attributes["ip_address"], "10.30.0.0/24")
	if db.Attributes["private_address"] != port.Attributes["ip_address"] {
		t.Errorf("db address %v is not its port's %v", db.Attributes["private_address"], port.Attributes["ip_address"])
	}
	if mac, _ := port.Attributes["mac_address"].(string); !regexp.MustCompile(`^fa:16:3e(:[0-9a-f]{2}){3}$`).MatchString(mac) {
		t.Errorf("port MAC %q", mac)
	}
	attach := rs["data_attach"][0].Attributes
	if attach["compute_id"] != db.CloudID || attach["volume_id"] != rs["data"][0].CloudID || attach["device"] != "/dev/vdb" {
		t.Errorf("attachment: %v (db %s, volume %s)", attach, db.CloudID, rs["data"][0].CloudID)
	}
	before := ids(rs)

	t.Run("size, flavor and power state change in place", func(t *testing.T) {
		out := tc.Run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color", "-var", target,
			"-var", "num_cpus=4", "-var", `power={"1" = "stopped"}`, "-var", "volume_gb=20")
		if !strings.Contains(out, "0 added") || !strings.Contains(out, "0 destroyed") {
			t.Fatalf("not in place:\n%s", out)
		}
		rs := resources(t, tc, dir)
		if got := ids(rs); !mapsEqual(got, before) {
			t.Fatalf("ids changed:\n%v\n%v", before, got)
		}
		if a := rs["web"][1].Attributes; a["flavor"] != "large" || a["vcpus"] != 4.0 || a["power_state"] != "stopped" {
			t.Errorf("web[1]: %v", a)
		}
		if a := rs["web"][0].Attributes; a["power_state"] != "started" {
			t.Errorf("web[0]: %v", a)
		}
		if a := rs["data"][0].Attributes; a["size_gb"] != 20.0 {
			t.Errorf("volume: %v", a)
		}
	})

	// Inputs that make the plan fail on purpose, each with a message naming why.
	failures := []struct {
		name, want string
		vars       []string
	}{
		{"volume over the quota", "volume data-0: size_gb=5000 exceeds the target's max_volume_gb=1000 (the simulated volume quota)", []string{"volume_gb=5000"}},
		{"no flavor fits", "no flavor in the target catalog fits num_cpus=64, mem_size_mb=3000, disk_size_gb=any, num_gpus=any (server web-0)", []string{"num_cpus=64"}},
		{"no image matches", "no image in the target catalog matches distribution=windows (server web-0); the catalog has: ubuntu-24.04 (ubuntu 24.04 linux x86_64), ubuntu-22.04 (ubuntu 22.04 linux x86_64), debian-12 (debian 12 linux x86_64), rocky-9 (rocky 9 linux x86_64), almalinux-9", []string{`web_os={distribution = "Windows"}`}},
		{"bad power state", `power_state must be "started" or "stopped"`, []string{`power={"0" = "paused"}`}},
		{"bad boot time", `target.boot_seconds must be a number of seconds from 0 to 3600, got "soon"`, []string{`orc_target={boot_seconds = "soon"}`}},
	}
	for _, f := range failures {
		t.Run("fails: "+f.name, func(t *testing.T) {
			args := []string{"apply", "-auto-approve", "-input=false", "-no-color", "-var", target}
			for _, v := range f.vars {
				args = append(args, "-var", v)
			}
			out, err := tc.Try(t, dir, args...)
			if err == nil {
				t.Fatalf("apply succeeded:\n%s", out)
			}
			if !strings.Contains(oneLine(out), f.want) {
				t.Fatalf("want %q in:\n%s", f.want, out)
			}
		})
	}

	t.Run("replacing every resource gives new ids", func(t *testing.T) {
		args := []string{"apply", "-auto-approve", "-input=false", "-no-color", "-var", target}
		for _, addr := range strings.Fields(tc.Run(t, dir, "state", "list")) {
			args = append(args, "-replace="+addr)
		}
		tc.Run(t, dir, args...)
		for k, id := range ids(resources(t, tc, dir)) {
			if id == before[k] {
				t.Errorf("%s kept its id %s", k, id)
			}
		}
	})

	tc.Run(t, dir, "destroy", "-auto-approve", "-input=false", "-no-color", "-var", target)
	if left := strings.TrimSpace(tc.Run(t, dir, "state", "list")); left != "" {
		t.Errorf("left after destroy:\n%s", left)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The flavor best fit and image match of catalog.tf, through the local compute
// module (the same file is in every target's compute module).
func TestCatalogChoice(t *testing.T) {
	custom := map[string]any{
		"flavors": []any{
			map[string]any{"name": "b", "vcpus": 2, "ram_mb": 2048},
			map[string]any{"name": "a", "vcpus": 2, "ram_mb": 2048},
			map[string]any{"name": "m1.large", "vcpus": 1, "ram_mb": 8192, "disk_gb": 10},
			map[string]any{"name": "m1", "vcpus": 1, "ram_mb": 8192, "disk_gb": 10},
			map[string]any{"name": "gpu-twin", "vcpus": 2, "ram_mb": 2048, "gpus": 1},
		},
		"images": []any{
			map[string]any{"name": "debian-12", "distribution": "Debian", "version": "12"},
			map[string]any{"name": "anything"},
		},
	}
	tests := []struct {
		name                string
		args                map[string]any
		flavor, image       string
		vcpus, ramMB, disks float64
	}{
		{"nothing asked: smallest flavor, first image", nil, "small", "ubuntu-24.04", 1, 2048, 20},
		{"exact fit", map[string]any{"num_cpus": 2, "mem_size_mb": 4096}, "medium", "ubuntu-24.04", 2, 4096, 40},
		{"one MiB more", map[string]any{"num_cpus": 2, "mem_size_mb": 4097}, "large", "ubuntu-24.04", 4, 8192, 80},
		{"disk decides", map[string]any{"disk_size_gb": 100}, "xlarge", "ubuntu-24.04", 8, 16384, 160},
		{"a gpu", map[string]any{"num_gpus": 1}, "gpu", "ubuntu-24.04", 8, 32768, 200},
		{"explicit flavor outside the catalog", map[string]any{"flavor": "m1.custom", "num_cpus": 3, "mem_size_mb": 3072}, "m1.custom", "ubuntu-24.04", 3, 3072, 10},
		{"explicit image", map[string]any{"image": "my-image", "os": map[string]any{"distribution": "windows"}}, "small", "my-image", 1, 2048, 20},
		{"os any case", map[string]any{"os": map[string]any{"distribution": "CentOS", "version": "7", "architecture": "X86_64"}}, "small", "centos-7", 1, 2048, 20},
		{"os distribution only", map[string]any{"os": map[string]any{"distribution": "rocky"}}, "small", "rocky-9", 1, 2048, 20},
		{"default catalog: debian 12", map[string]any{"os": map[string]any{"distribution": "debian"}}, "small", "debian-12", 1, 2048, 20},
		{"default catalog: almalinux 9", map[string]any{"os": map[string]any{"distribution": "AlmaLinux", "version": "9"}}, "small", "almalinux-9", 1, 2048, 20},
		{"default catalog: rocky 8", map[string]any{"os": map[string]any{"distribution": "rocky", "version": "8"}}, "small", "rocky-8", 1, 2048, 20},
		{"custom catalog: name breaks ties", map[string]any{"target": custom, "num_cpus": 2}, "a", "debian-12", 2, 2048, 0},
		{"custom catalog: vcpus before ram", map[string]any{"target": custom, "mem_size_mb": 4096}, "m1", "debian-12", 1, 8192, 10},
		{"custom catalog: gpus", map[string]any{"target": custom, "num_gpus": 1}, "gpu-twin", "debian-12", 2, 2048, 0},
		{"null target settings take the defaults", map[string]any{"public_address": true, "target": map[string]any{
			"flavors": nil, "images": nil, "default_network_cidr": nil, "public_cidr": nil, "boot_seconds": nil}}, "small", "ubuntu-24.04", 1, 2048, 20},
		{"custom catalog: unstated image fields match", map[string]any{"target": custom, "os": map[string]any{"distribution": "ubuntu"}}, "m1", "anything", 1, 8192, 10},
	}
	calls := map[string]any{}
	for i, tt := range tests {
		calls[ident(i)] = call("local", Compute, 1, ident(i), tt.args)
	}
	tc := tftest.Find(t)
	dir := writeRoot(t, "local", calls, nil)
	tc.Run(t, dir, "init", "-input=false", "-no-color")
	tc.Run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color")
	rs := resources(t, tc, dir)
	for i, tt := range tests {
		a := rs[ident(i)][0].Attributes
		if a["flavor"] != tt.flavor || a["image"] != tt.image || a["vcpus"] != tt.vcpus || a["ram_mb"] != tt.ramMB || a["disk_gb"] != tt.disks {
			t.Errorf("%s: got %v %v %v/%v/%v, want %s %s %v/%v/%v", tt.name, a["flavor"], a["image"], a["vcpus"], a["ram_mb"], a["disk_gb"],
				tt.flavor, tt.image, tt.vcpus, tt.ramMB, tt.disks)
		}
	}
}

func ident(i int) string { return fmt.Sprintf("case%02d", i) }

// OpenStack: the same kind of root module must validate and plan without a cloud
// (no OS_* variables: the provider authenticates lazily, and the modules use no
// data sources).
func TestOpenStackModulesPlan(t *testing.T) {
	network := map[string]any{"id": "${module.net[0].id}", "cidr": "${module.net[0].cidr}", "subnet_id": "${module.net[0].subnet_id}"}
	calls := map[string]any{
		"net":      call("openstack", Network, 1, "net", map[string]any{"cidr": "10.40.0.0/24", "start_ip": "10.40.0.100", "end_ip": "10.40.0.200"}),
		"app_port": call("openstack", Port, 2, "app_port", map[string]any{"network": network, "ip_address": "${cidrhost(\"10.40.0.0/24\", 10 + count.index)}"}),
		"app": call("openstack", Compute, 2, "app", map[string]any{
			"num_cpus": 2, "mem_size_mb": 4096, "os": map[string]any{"distribution": "ubuntu", "version": "22.04"},
			"public_address":  true,
			"endpoint_ports":  []any{map[string]any{"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}, map[string]any{"port": 0, "protocol": "icmp", "cidr": "10.0.0.0/8"}},
			"network":         nil,
			"ports":           []any{map[string]any{"id": "${module.app_port[count.index].id}", "ip_address": "${module.app_port[count.index].ip_address}", "network_id": "${module.net[0].id}"}},
			"power_state":     `${lookup(var.power, tostring(count.index), "started")}`,
			"ssh_public_keys": []any{sshKey, strings.Replace(sshKey, "alice", "bob", 1)},
			"software":        []any{map[string]any{"name": "web", "properties": map[string]any{"password": `${sensitive("x")}`}}},
		}),
		"solo":   call("openstack", Compute, 1, "solo", map[string]any{"network": network, "public_address": true}),
		"plain":  call("openstack", Compute, 1, "plain", map[string]any{"public_address": "${var.plain_public}", "flavor": "m1.small"}),
		"vol":    call("openstack", BlockStorage, 2, "vol", map[string]any{"size_gb": 10, "volume_type": "ssd"}),
		"attach": call("openstack", VolumeAttachment, 2, "attach", map[string]any{"compute_id": "${module.app[count.index].id}", "volume_id": "${module.vol[count.index].id}", "device": "/data"}),
		"bucket": call("openstack", ObjectStorage, 1, "bucket", map[string]any{"size_gb": 1}),
	}
	vars := map[string]any{
		"power":        map[string]any{"type": "map(string)", "default": map[string]any{"1": "stopped"}},
		"plain_public": map[string]any{"type": "bool", "default": false},
	}
	tc := tftest.Find(t)
	dir := writeRoot(t, "openstack", calls, vars)
	target := `orc_target={external_network = "ext", external_network_id = "7d3b0c7e-0000-4000-8000-000000000001", default_network = "private"}`
	tc.Run(t, dir, "init", "-input=false", "-no-color")
	if out := tc.Run(t, dir, "validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
		t.Fatalf("validate: %s", out)
	}
	tc.Run(t, dir, "plan", "-input=false", "-no-color", "-var", target, "-out=tfplan")

	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Type    string `json:"type"`
			Change  struct {
				Actions []string       `json:"actions"`
				After   map[string]any `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "show", "-json", "tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	after := map[string]map[string]any{}
	for _, rc := range plan.ResourceChanges {
		if !slices.Equal(rc.Change.Actions, []string{"create"}) {
			t.Errorf("%s: %v", rc.Address, rc.Change.Actions)
		}
		count[rc.Type]++
		after[rc.Address] = rc.Change.After
	}
	wantCount := map[string]int{
		"openstack_compute_instance_v2":                   4,
		"openstack_compute_keypair_v2":                    2,
		"openstack_networking_secgroup_v2":                4,
		"openstack_networking_secgroup_rule_v2":           4,
		"openstack_networking_port_v2":                    3, // 2 Port nodes + solo's own
		"openstack_networking_port_secgroup_associate_v2": 2,
		"openstack_networking_floatingip_v2":              3,
		"openstack_networking_floatingip_associate_v2":    3,
		"openstack_networking_network_v2":                 1,
		"openstack_networking_subnet_v2":                  1,
		"openstack_networking_router_v2":                  1,
		"openstack_networking_router_interface_v2":        1,
		"openstack_blockstorage_volume_v3":                2,
		"openstack_compute_volume_attach_v2":              2,
		"openstack_objectstorage_container_v1":            1,
	}
	for typ, n := range wantCount {
		if count[typ] != n {
			t.Errorf("%d %s planned, want %d", count[typ], typ, n)
		}
	}
	app0, app1 := after["module.app[0].openstack_compute_instance_v2.server"], after["module.app[1].openstack_compute_instance_v2.server"]
	if app0["flavor_name"] != "medium" || app0["image_name"] != "ubuntu-22.04" || app0["power_state"] != "active" || app1["power_state"] != "shutoff" {
		t.Errorf("app servers: %v\n%v", app0, app1)
	}
	// The provider keeps a hash of user_data: only its presence can be checked.
	// The second key goes in user_data; a server with no extra key has none.
	solo := after["module.solo[0].openstack_compute_instance_v2.server"]
	if app0["user_data"] == nil || solo["user_data"] != nil || app0["key_pair"] != "dep-1-app-0" || solo["key_pair"] != nil {
		t.Errorf("keys: app user_data %v key_pair %v, solo user_data %v key_pair %v", app0["user_data"], app0["key_pair"], solo["user_data"], solo["key_pair"])
	}
	if plain := after["module.plain[0].openstack_compute_instance_v2.server"]; plain["flavor_name"] != "m1.small" {
		t.Errorf("plain server: %v", plain)
	}
	if fip := after["module.app[0].openstack_networking_floatingip_v2.public[0]"]; fip["pool"] != "ext" {
		t.Errorf("floating IP: %v", fip)
	}
	if att := after["module.attach[0].openstack_compute_volume_attach_v2.attachment"]; att["device"] != nil {
		t.Errorf("a mount location must not be sent as a device: %v", att)
	}
	if c := after["module.bucket[0].openstack_objectstorage_container_v1.container"]; c["metadata"].(map[string]any)["Quota-Bytes"] != "1073741824" {
		t.Errorf("container: %v", c)
	}

	// A server attached to the default network by name gets its floating IP on
	// the port Nova made, found once the server exists (planning still needs no
	// cloud); with the default network given by id it gets a port of its own.
	out := tc.Run(t, dir, "plan", "-input=false", "-no-color", "-var", target, "-var", "plain_public=true")
	if !strings.Contains(out, "module.plain[0].data.openstack_networking_port_v2.by_name[0] will be read during apply") ||
		!strings.Contains(out, "module.plain[0].openstack_networking_floatingip_associate_v2.public[0] will be created") ||
		strings.Contains(out, "module.plain[0].openstack_networking_port_v2.server[0] will be created") {
		t.Errorf("a server on the default network by name should get a floating IP on Nova's port:\n%s", out)
	}
	byID := `orc_target={default_network = "7d3b0c7e-0000-4000-8000-000000000002", external_network_id = null}`
	out = tc.Run(t, dir, "plan", "-input=false", "-no-color", "-var", byID, "-var", "plain_public=true")
	if !strings.Contains(out, "module.plain[0].openstack_networking_port_v2.server[0] will be created") ||
		!strings.Contains(out, "module.plain[0].openstack_networking_floatingip_associate_v2.public[0] will be created") {
		t.Errorf("a default network given by id should give the server its own port and a floating IP:\n%s", out)
	}
}

func TestModulesAreFormatted(t *testing.T) {
	tc := tftest.Find(t)
	for _, target := range Targets() {
		dir := t.TempDir()
		if err := WriteTo(dir, target); err != nil {
			t.Fatal(err)
		}
		if out, err := tc.Try(t, dir, "fmt", "-check", "-recursive", "-diff", "-no-color"); err != nil {
			t.Errorf("%s modules are not formatted (terraform fmt): %v\n%s", target, err, out)
		}
	}
}

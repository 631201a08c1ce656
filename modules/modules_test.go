package modules

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// contractOutputs are the outputs modules/README.md promises, per kind.
var contractOutputs = map[Kind][]string{
	Compute:          {"id", "name", "flavor", "image", "private_address", "public_address", "networks", "power_state", "cloud_init", "orc_resource"},
	BlockStorage:     {"id", "size_gb", "orc_resource"},
	VolumeAttachment: {"id", "device", "orc_resource"},
	Network:          {"id", "name", "cidr", "subnet_id", "orc_resource"},
	Port:             {"id", "ip_address", "mac_address", "orc_resource"},
	ObjectStorage:    {"id", "name", "orc_resource"},
	Software:         {"id", "orc_resource"},
}

// contractInputs are the variables the translator passes, per kind (beyond the
// common name, deployment_id, index and target).
var contractInputs = map[Kind][]string{
	Compute: {"num_cpus", "mem_size_mb", "disk_size_gb", "num_gpus", "flavor", "image", "os", "public_address",
		"endpoint_ports", "network", "ports", "address_offset", "power_state", "ssh_public_keys", "users", "volumes", "tags", "software"},
	BlockStorage:     {"size_gb", "volume_type", "volume_id", "snapshot_id"},
	VolumeAttachment: {"compute_id", "volume_id", "device", "location"},
	Network:          {"network_name", "cidr", "ip_version", "gateway_ip", "start_ip", "end_ip", "dhcp_enabled", "external_access"},
	Port:             {"network", "ip_address", "order", "is_default", "address_offset"},
	ObjectStorage:    {"size_gb", "container_name"},
	Software:         {"host_id", "software"},
}

var (
	variableRE = regexp.MustCompile(`(?m)^variable "([a-z_0-9]+)"`)
	outputRE   = regexp.MustCompile(`(?m)^output "([a-z_0-9]+)"`)
	sourceRE   = regexp.MustCompile(`source\s*=\s*"([^"]+)"`)
)

func names(re *regexp.Regexp, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

func read(t *testing.T, p string) string {
	t.Helper()
	data, err := FS.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(data)
}

func TestTargets(t *testing.T) {
	if got, want := Targets(), []string{"local", "openstack"}; !slices.Equal(got, want) {
		t.Fatalf("Targets() = %v, want %v", got, want)
	}
}

func TestEveryModuleKeepsTheContract(t *testing.T) {
	for _, target := range Targets() {
		for _, kind := range Kinds() {
			t.Run(target+"/"+string(kind), func(t *testing.T) {
				if !Supports(target, kind) {
					t.Fatalf("Supports(%q, %q) = false", target, kind)
				}
				dir := path.Join(target, string(kind))
				for _, f := range []string{"variables.tf", "main.tf", "outputs.tf", "README.md"} {
					if _, err := fs.Stat(FS, path.Join(dir, f)); err != nil {
						t.Errorf("missing %s: %v", f, err)
					}
				}
				vars := names(variableRE, read(t, path.Join(dir, "variables.tf")))
				for _, v := range append([]string{"name", "deployment_id", "index", "target"}, contractInputs[kind]...) {
					if !slices.Contains(vars, v) {
						t.Errorf("no variable %q (has %v)", v, vars)
					}
				}
				outs := names(outputRE, read(t, path.Join(dir, "outputs.tf")))
				for _, o := range contractOutputs[kind] {
					if !slices.Contains(outs, o) {
						t.Errorf("no output %q (has %v)", o, outs)
					}
				}

				main := read(t, path.Join(dir, "main.tf"))
				if !strings.Contains(main, "terraform {") {
					t.Error("main.tf has no terraform block")
				}
				allowed := map[string]bool{}
				for _, req := range Providers(target) {
					allowed[req.Source] = true
				}
				for _, m := range sourceRE.FindAllStringSubmatch(main, -1) {
					if !allowed[m[1]] {
						t.Errorf("main.tf requires provider %s, which Providers(%q) does not list", m[1], target)
					}
				}

				readme := read(t, path.Join(dir, "README.md"))
				if target == "local" && !strings.Contains(readme, "SIMULATED") {
					t.Error("a local module's README must say it is SIMULATED")
				}
			})
		}
	}
}

// The translator passes the same arguments whatever the target, so every target's
// module of a kind must declare the same variables and outputs.
func TestTargetsTakeTheSameArguments(t *testing.T) {
	for _, kind := range Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			var first string
			for _, target := range Targets() {
				dir := path.Join(target, string(kind))
				sig := strings.Join(names(variableRE, read(t, path.Join(dir, "variables.tf"))), ",") + " -> " +
					strings.Join(names(outputRE, read(t, path.Join(dir, "outputs.tf"))), ",")
				if first == "" {
					first = sig
				} else if sig != first {
					t.Errorf("%s differs from %s:\n  %s\n  %s", target, Targets()[0], sig, first)
				}
			}
		})
	}
}

// The flavor and image choice, the cloud-init a server boots with, the volume
// mount script and the software payload must be the same everywhere.
func TestSharedFilesAreVerbatim(t *testing.T) {
	for _, f := range []string{"compute/catalog.tf", "compute/cloudinit.tf", "compute/mount-volume.sh",
		"software/main.tf", "software/variables.tf", "software/outputs.tf"} {
		want := read(t, "local/"+f)
		for _, target := range Targets() {
			if got := read(t, target+"/"+f); got != want {
				t.Errorf("%s/%s differs from local/%s", target, f, f)
			}
		}
	}
}

func TestSupports(t *testing.T) {
	tests := []struct {
		target string
		kind   Kind
		want   bool
	}{
		{"local", Compute, true},
		{"openstack", ObjectStorage, true},
		{"local", Kind("loadbalancer"), false},
		{"aws", Compute, false},
		{"", Compute, false},
		{"local", Kind("../local/compute"), false},
	}
	for _, tt := range tests {
		if got := Supports(tt.target, tt.kind); got != tt.want {
			t.Errorf("Supports(%q, %q) = %v, want %v", tt.target, tt.kind, got, tt.want)
		}
	}
}

func TestSource(t *testing.T) {
	if got := Source("local", Compute); got != "./modules/local/compute" {
		t.Errorf("Source = %q", got)
	}
	if got := Source("openstack", VolumeAttachment); got != "./modules/openstack/volume_attachment" {
		t.Errorf("Source = %q", got)
	}
}

func TestProviders(t *testing.T) {
	tests := []struct {
		target string
		want   []string
	}{
		{"local", []string{"random", "tls"}},
		{"openstack", []string{"openstack"}},
		{"aws", nil},
	}
	for _, tt := range tests {
		got := Providers(tt.target)
		var keys []string
		for k, req := range got {
			keys = append(keys, k)
			if req.Source == "" || req.Version == "" {
				t.Errorf("Providers(%q)[%q] = %+v", tt.target, k, req)
			}
		}
		sort.Strings(keys)
		if !slices.Equal(keys, tt.want) {
			t.Errorf("Providers(%q) = %v, want %v", tt.target, keys, tt.want)
		}
	}
	p := Providers("local")
	delete(p, "random")
	if _, ok := Providers("local")["random"]; !ok {
		t.Error("changing the map Providers returned changed the package's")
	}
}

func TestWriteTo(t *testing.T) {
	for _, target := range Targets() {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteTo(dir, target); err != nil {
				t.Fatal(err)
			}
			for _, other := range Targets() {
				if _, err := os.Stat(filepath.Join(dir, "modules", other)); other != target && err == nil {
					t.Errorf("WriteTo(%q) also wrote %s's modules", target, other)
				}
			}
			for _, kind := range Kinds() {
				for _, f := range []string{"variables.tf", "main.tf", "outputs.tf", "README.md"} {
					p := filepath.Join(dir, "modules", target, string(kind), f)
					got, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					if want := read(t, path.Join(target, string(kind), f)); !bytes.Equal(got, []byte(want)) {
						t.Errorf("%s differs from the embedded file", p)
					}
					if st, _ := os.Stat(p); st.Mode().Perm()&^0o022 != 0o644&^0o022 {
						t.Errorf("%s has mode %v", p, st.Mode().Perm())
					}
				}
				if st, err := os.Stat(filepath.Join(dir, "modules", target, string(kind))); err != nil || st.Mode().Perm()&^0o022 != 0o755&^0o022 {
					t.Errorf("module dir: %v %v", st, err)
				}
			}
			// A second write over the first is fine (workdirs are rewritten on every run).
			if err := WriteTo(dir, target); err != nil {
				t.Fatalf("second WriteTo: %v", err)
			}
		})
	}
	if err := WriteTo(t.TempDir(), "aws"); err == nil {
		t.Error("WriteTo of an unknown target succeeded")
	}
}

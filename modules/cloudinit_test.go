package modules

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"orchestrator/jobs/toolchain/tftest"
)

// addOutputs adds root outputs to a main.tf.json written by writeRoot.
func addOutputs(t *testing.T, dir string, outputs map[string]string) {
	t.Helper()
	p := filepath.Join(dir, "main.tf.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	outs := root["output"].(map[string]any)
	for name, expr := range outputs {
		outs[name] = map[string]any{"value": expr}
	}
	data, _ = json.MarshalIndent(root, "", "  ")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cloudConfig is the part of a cloud-config document the compute modules write.
type cloudConfig struct {
	SSHAuthorizedKeys []string `yaml:"ssh_authorized_keys"`
	Users             []any    `yaml:"users"`
	WriteFiles        []struct {
		Path        string `yaml:"path"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
	Runcmd [][]string `yaml:"runcmd"`
}

func parseCloudConfig(t *testing.T, text string) cloudConfig {
	t.Helper()
	if !strings.HasPrefix(text, "#cloud-config\n") {
		t.Fatalf("not a cloud-config document:\n%s", text)
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(text), &cc); err != nil {
		t.Fatalf("cloud-config is not YAML: %v\n%s", err, text)
	}
	return cc
}

const volumeID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

var computeExtras = map[string]any{
	"users": []any{
		map[string]any{"name": "alice", "uid": 2001, "sudo": true, "ssh_public_key": strings.Replace(sshKey, "alice@example.org", "alice@lab", 1)},
		map[string]any{"name": "bob"},
	},
	"tags":            map[string]any{"project": "genomics", "owner": "alice"},
	"ssh_public_keys": []any{sshKey, strings.Replace(sshKey, "alice@example.org", "owner2@example.org", 1)},
}

// On OpenStack the server boots with the cloud-init the module renders: the
// second owner key for the default user, the os_users as accounts after the
// default user, and the volume mounted by the shared script; tags are metadata
// and an existing network is attached by name.
func TestOpenStackCompute_CloudInit(t *testing.T) {
	args := map[string]any{
		"public_address": true, "network": map[string]any{"name": "lab-net"},
		"volumes": []any{map[string]any{"volume_id": volumeID, "location": "/data", "format": true},
			map[string]any{"volume_id": "0a0b0c0d-0000-4000-8000-000000000009", "location": "/srv/old", "fs_type": "xfs", "format": false}},
	}
	for k, v := range computeExtras {
		args[k] = v
	}
	dir := writeRoot(t, "openstack", map[string]any{"vm": call("openstack", Compute, 1, "vm", args)}, nil)
	addOutputs(t, dir, map[string]string{"cloud_init": "${module.vm[0].cloud_init}"})
	tc := tftest.Find(t)
	tc.Run(t, dir, "init", "-input=false")
	tc.Run(t, dir, "plan", "-input=false", "-out=tfplan")
	var plan struct {
		PlannedValues struct {
			Outputs map[string]struct {
				Value any `json:"value"`
			} `json:"outputs"`
		} `json:"planned_values"`
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				Actions []string       `json:"actions"`
				After   map[string]any `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "show", "-json", "tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	text, _ := plan.PlannedValues.Outputs["cloud_init"].Value.(string)
	cc := parseCloudConfig(t, text)
	if len(cc.SSHAuthorizedKeys) != 1 || !strings.Contains(cc.SSHAuthorizedKeys[0], "owner2@example.org") {
		t.Errorf("the second owner key must go to the default user: %v", cc.SSHAuthorizedKeys)
	}
	checkUsers(t, cc.Users)
	checkMounts(t, cc)

	changes := map[string]map[string]any{}
	for _, rc := range plan.ResourceChanges {
		changes[rc.Address] = rc.Change.After
	}
	server := changes["module.vm[0].openstack_compute_instance_v2.server"]
	sum := sha1.Sum([]byte(text))
	if server["user_data"] != hex.EncodeToString(sum[:]) {
		t.Errorf("the server's user_data is not the rendered cloud-init (provider hash %v)", server["user_data"])
	}
	meta, _ := server["metadata"].(map[string]any)
	if meta["project"] != "genomics" || meta["orchestrator_node"] != "vm-0" {
		t.Errorf("metadata: %v", meta)
	}
	nets, _ := server["network"].([]any)
	if len(nets) != 1 || nets[0].(map[string]any)["name"] != "lab-net" {
		t.Errorf("the server must sit on the existing network by name: %v", server["network"])
	}
	if _, ok := changes["module.vm[0].openstack_networking_floatingip_associate_v2.public[0]"]; !ok {
		t.Errorf("no floating IP association for a server on a named network")
	}
	if _, ok := changes["module.vm[0].openstack_networking_port_v2.server[0]"]; ok {
		t.Errorf("a server on a named network must not get a port of its own")
	}
}

func checkUsers(t *testing.T, users []any) {
	t.Helper()
	if len(users) != 3 || users[0] != "default" {
		t.Fatalf("users must keep the default user first: %v", users)
	}
	alice, _ := users[1].(map[string]any)
	keys, _ := alice["ssh_authorized_keys"].([]any)
	if alice["name"] != "alice" || alice["uid"] != 2001 || alice["sudo"] != "ALL=(ALL) NOPASSWD:ALL" || len(keys) != 1 ||
		!strings.Contains(keys[0].(string), "alice@lab") || alice["lock_passwd"] != true {
		t.Errorf("alice: %v", alice)
	}
	bob, _ := users[2].(map[string]any)
	if bob["name"] != "bob" || bob["sudo"] != nil || bob["ssh_authorized_keys"] != nil {
		t.Errorf("bob: %v", bob)
	}
}

func checkMounts(t *testing.T, cc cloudConfig) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("local", "compute", "mount-volume.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cc.WriteFiles) != 1 || cc.WriteFiles[0].Content != string(script) || cc.WriteFiles[0].Permissions != "0755" {
		t.Fatalf("write_files must hold mount-volume.sh: %+v", cc.WriteFiles)
	}
	path := cc.WriteFiles[0].Path
	want := [][]string{
		{path, volumeID, "/data", "ext4", "format"},
		{path, "0a0b0c0d-0000-4000-8000-000000000009", "/srv/old", "xfs", "keep"},
	}
	if len(cc.Runcmd) != len(want) {
		t.Fatalf("runcmd: %v", cc.Runcmd)
	}
	for i := range want {
		if strings.Join(cc.Runcmd[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("runcmd[%d] = %v, want %v", i, cc.Runcmd[i], want[i])
		}
	}
}

// On local nothing boots: the server records the cloud-init it would boot with,
// its accounts, mounts and tags, and sits on the named network.
func TestLocalCompute_RecordsAccountsAndMounts(t *testing.T) {
	args := map[string]any{
		"network": map[string]any{"name": "lab-net"},
		"volumes": []any{map[string]any{"volume_id": "${module.data[count.index].id}", "location": "/data"}},
	}
	for k, v := range computeExtras {
		args[k] = v
	}
	calls := map[string]any{
		"data": call("local", BlockStorage, 1, "data", map[string]any{"size_gb": 20}),
		"vm":   call("local", Compute, 1, "vm", args),
		"vm_attach_data": call("local", VolumeAttachment, 1, "vm_attach_data", map[string]any{
			"compute_id": "${module.vm[count.index].id}", "volume_id": "${module.data[count.index].id}", "location": "/data"}),
	}
	dir := writeRoot(t, "local", calls, nil)
	addOutputs(t, dir, map[string]string{"cloud_init": "${module.vm[0].cloud_init}"})
	tc := tftest.Find(t)
	tc.Run(t, dir, "init", "-input=false")
	tc.Run(t, dir, "apply", "-auto-approve", "-input=false")
	rs := resources(t, tc, dir)
	vm, volume, attach := rs["vm"][0].Attributes, rs["data"][0], rs["vm_attach_data"][0].Attributes
	mounts, _ := vm["mounts"].([]any)
	if len(mounts) != 1 || mounts[0].(map[string]any)["location"] != "/data" || mounts[0].(map[string]any)["volume_id"] != volume.CloudID {
		t.Errorf("mounts: %v (volume %s)", vm["mounts"], volume.CloudID)
	}
	if users, _ := vm["users"].([]any); len(users) != 2 || users[0] != "alice" || users[1] != "bob" {
		t.Errorf("users: %v", vm["users"])
	}
	if tags, _ := vm["tags"].(map[string]any); tags["project"] != "genomics" {
		t.Errorf("tags: %v", vm["tags"])
	}
	if nets, _ := vm["networks"].([]any); len(nets) != 1 || nets[0].(map[string]any)["network_id"] != "lab-net" {
		t.Errorf("networks: %v", vm["networks"])
	}
	if attach["location"] != "/data" || attach["device"] != "/dev/vdb" {
		t.Errorf("attachment: %v", attach)
	}
	var outs struct {
		CloudInit struct {
			Value string `json:"value"`
		} `json:"cloud_init"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "output", "-json")), &outs); err != nil {
		t.Fatal(err)
	}
	cc := parseCloudConfig(t, outs.CloudInit.Value)
	checkUsers(t, cc.Users)
	if len(cc.Runcmd) != 1 || cc.Runcmd[0][1] != volume.CloudID || cc.Runcmd[0][2] != "/data" || cc.Runcmd[0][4] != "format" {
		t.Errorf("runcmd: %v", cc.Runcmd)
	}

	// Locations and users that could escape into a system directory or a shell are
	// refused at plan time.
	for _, bad := range []struct{ args, want string }{
		{`[{volume_id = "x", location = "/etc"}]`, "not a system directory"},
		{`[{volume_id = "x", location = "/data/../etc"}]`, "not a system directory"},
		{`[{volume_id = "x", location = "/data; rm -rf /"}]`, "absolute path"},
		{`[{volume_id = "x", location = "/data", fs_type = "ntfs"}]`, "fs_type one of"},
	} {
		d := writeRoot(t, "local", map[string]any{"vm": call("local", Compute, 1, "vm", map[string]any{"volumes": "${var.v}"})},
			map[string]any{"v": map[string]any{"type": "any"}})
		tc.Run(t, d, "init", "-input=false")
		out, err := tc.Try(t, d, "plan", "-input=false", "-var", "v="+bad.args)
		if err == nil || !strings.Contains(oneLine(out), bad.want) {
			t.Errorf("volumes %s: %v\n%s", bad.args, err, out)
		}
	}
}

// mount-volume.sh run for real, with stand-ins for the commands that need a
// disk (blkid, mkfs, mount, mountpoint) and a by-id directory of our own.
func TestMountVolumeScript(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("local", "compute", "mount-volume.sh"))
	if err != nil {
		t.Fatal(err)
	}
	stubs := map[string]string{
		// blkid DEV: exit 2 when the disk has no file system (as blkid does).
		"blkid": `#!/bin/sh
state="$STATE/fs"
[ -f "$state" ] || exit 2
case "$*" in
*"-s UUID"*) echo 11111111-2222-3333-4444-555555555555 ;;
*"-s TYPE"*) cat "$state" ;;
esac
exit 0
`,
		"mkfs":       "#!/bin/sh\necho \"mkfs $*\" >> \"$STATE/log\"\necho \"$2\" > \"$STATE/fs\"\n",
		"mount":      "#!/bin/sh\necho \"mount $*\" >> \"$STATE/log\"\n",
		"mountpoint": "#!/bin/sh\nexit 1\n",
	}
	run := func(t *testing.T, withFS string, device bool, args ...string) (string, string, error) {
		state, bin, byID := t.TempDir(), t.TempDir(), t.TempDir()
		for name, body := range stubs {
			if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if withFS != "" {
			os.WriteFile(filepath.Join(state, "fs"), []byte(withFS+"\n"), 0o644)
		}
		if device {
			os.WriteFile(filepath.Join(byID, "virtio-"+volumeID[:20]), nil, 0o644)
		}
		mnt := filepath.Join(t.TempDir(), "data")
		cmd := exec.Command("sh", append([]string{script}, append(args[:1:1], append([]string{mnt}, args[1:]...)...)...)...)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "STATE=" + state, "ORCHESTRATOR_DISK_BY_ID=" + byID,
			"ORCHESTRATOR_FSTAB=" + filepath.Join(state, "fstab"), "ORCHESTRATOR_VOLUME_TRIES=1"}
		out, err := cmd.CombinedOutput()
		log, _ := os.ReadFile(filepath.Join(state, "log"))
		fstab, _ := os.ReadFile(filepath.Join(state, "fstab"))
		if st, serr := os.Stat(mnt); err == nil && (serr != nil || !st.IsDir()) {
			t.Errorf("mount point %s was not made", mnt)
		}
		return string(out) + "\n--log--\n" + string(log), strings.ReplaceAll(string(fstab), mnt, "MNT"), err
	}
	t.Run("a new blank volume is formatted and mounted", func(t *testing.T) {
		out, fstab, err := run(t, "", true, volumeID, "ext4", "format")
		if err != nil || !strings.Contains(out, "mkfs -t ext4 ") || !strings.Contains(out, "mount ") {
			t.Fatalf("%v\n%s", err, out)
		}
		if fstab != "UUID=11111111-2222-3333-4444-555555555555 MNT ext4 defaults,nofail 0 2\n" {
			t.Fatalf("fstab: %q", fstab)
		}
	})
	t.Run("a volume with a file system is only mounted", func(t *testing.T) {
		out, fstab, err := run(t, "xfs", true, volumeID, "ext4", "format")
		if err != nil || strings.Contains(out, "mkfs") || !strings.Contains(fstab, " MNT xfs ") {
			t.Fatalf("%v\n%s\n%s", err, out, fstab)
		}
	})
	t.Run("an existing blank volume is never formatted", func(t *testing.T) {
		out, _, err := run(t, "", true, volumeID, "ext4", "keep")
		if err == nil || strings.Contains(out, "mkfs") || !strings.Contains(out, "not formatting it") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("a volume that never appears fails", func(t *testing.T) {
		out, _, err := run(t, "", false, volumeID, "ext4", "format")
		if err == nil || !strings.Contains(out, "did not appear") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

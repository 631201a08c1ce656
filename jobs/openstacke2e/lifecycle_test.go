package openstacke2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
)

// lifecycle is one example's walk through every step on the openstack target.
type lifecycle struct {
	example      string
	create       map[string]any
	update       map[string]any // applied in place
	compute      string         // the Compute node the actions go to
	public       bool           // it has a floating IP
	servers      int
	volume       string // a BlockStorage node, if any
	flavorBefore string
	flavorAfter  string // "" when the update does not resize
	sizeBefore   int    // GiB
	sizeAfter    int    // GiB, when the update extends the volume
	opts         osOpts
	// expireTokens makes every token expire while the create run waits for a
	// BUILD server: the provider must authenticate again and carry on.
	expireTokens  bool
	checkCreation func(e *osEnv, d *store.Deployment, res map[string]*store.Resource)
}

// buildOnly keeps server builds asynchronous and makes every other transition
// instant: the examples that run with it cost a few seconds less per step,
// and single-vm and vm-with-volume exercise every asynchronous transition.
var buildOnly = ossim.Options{BuildTime: 300 * time.Millisecond}

func TestOpenStackExampleLifecycles(t *testing.T) {
	cases := []lifecycle{
		{example: "single-vm", update: map[string]any{"num_cpus": 2}, compute: "vm", public: true, servers: 1,
			flavorBefore: "m1.small", flavorAfter: "m1.medium",
			checkCreation: func(e *osEnv, d *store.Deployment, res map[string]*store.Resource) {
				s := e.server(res["vm[0]"].CloudID)
				if s.Image != "ubuntu-24.04" || s.KeyName != d.ID+"-vm-0" || s.Metadata["orchestrator_deployment"] != d.ID {
					e.t.Fatalf("server: %+v", s)
				}
				var out map[string]any
				json.Unmarshal(d.Outputs, &out)
				if out["public_ip"] != s.FloatingIPs[0] || out["private_ip"] != s.FixedIPs[0] || out["ssh_command"] != "ssh ubuntu@"+s.FloatingIPs[0] {
					e.t.Fatalf("outputs %s, server %+v", d.Outputs, s)
				}
			}},
		{example: "vm-with-volume", update: map[string]any{"num_cpus": 4, "volume_size": "30 GB"}, compute: "server", servers: 1,
			volume: "data", flavorBefore: "m1.medium", flavorAfter: "m1.large", sizeBefore: 10, sizeAfter: 30, // "30 GB" is 30 in the cloud's GB
			// No default_network_id: the server sits on "private" by name, Nova makes its port.
			opts: osOpts{target: func(cfg map[string]any) {
				delete(cfg, "default_network_id")
				cfg["default_network"] = ossim.PrivateNetwork
			}},
			checkCreation: func(e *osEnv, d *store.Deployment, res map[string]*store.Resource) {
				s, v := e.server(res["server[0]"].CloudID), e.volume(res["data[0]"].CloudID)
				if !slices.Equal(s.SecurityGroups, []string{d.ID + "-server-0"}) || len(s.Ports) != 1 {
					e.t.Fatalf("server on a network by name: %+v", s)
				}
				if v.Status != "in-use" || !slices.Equal(v.AttachedTo, []string{s.ID}) || v.Devices[0] != "/dev/vdb" {
					e.t.Fatalf("volume %+v, server %s", v, s.ID)
				}
				var out map[string]any
				json.Unmarshal(d.Outputs, &out)
				if out["volume_id"] != v.ID || out["server_ip"] != s.FixedIPs[0] {
					e.t.Fatalf("outputs %s", d.Outputs)
				}
			}},
		{example: "private-network", update: map[string]any{"fixed_ip": "192.168.50.10"}, compute: "vm", public: true, servers: 1,
			flavorBefore: "m1.small", opts: osOpts{sim: buildOnly},
			checkCreation: func(e *osEnv, d *store.Deployment, res map[string]*store.Resource) {
				s := e.server(res["vm[0]"].CloudID)
				if !slices.Equal(s.FixedIPs, []string{"192.168.50.10"}) || res["vm_port[0]"].CloudID != s.Ports[0] {
					e.t.Fatalf("server %+v, port %+v", s, res["vm_port[0]"])
				}
				var out map[string]any
				json.Unmarshal(d.Outputs, &out)
				if out["floating_ip"] != s.FloatingIPs[0] || out["private_ip"] != "192.168.50.10" {
					e.t.Fatalf("outputs %s", d.Outputs)
				}
				if n := res["private_net[0]"]; n == nil || n.Attributes["router_id"] == nil || n.Attributes["cidr"] != "192.168.50.0/24" {
					e.t.Fatalf("network: %+v", n)
				}
			}},
		{example: "cluster", create: map[string]any{"node_count": 2}, update: map[string]any{"node_count": 2, "node_cpus": 4, "scratch_size": "40 GB"},
			compute: "nodes", servers: 2, volume: "scratch", flavorBefore: "m1.medium", flavorAfter: "m1.large", sizeBefore: 20, sizeAfter: 40, // decimal GB are the cloud's GB
			// Password credentials, and tokens that expire during the create run.
			opts: osOpts{password: true, sim: buildOnly}, expireTokens: true,
			checkCreation: func(e *osEnv, d *store.Deployment, res map[string]*store.Resource) {
				var out map[string]any
				json.Unmarshal(d.Outputs, &out)
				ips, _ := out["node_ips"].([]any)
				if len(ips) != 2 || ips[0] != e.server(res["nodes[0]"].CloudID).FixedIPs[0] || ips[1] != e.server(res["nodes[1]"].CloudID).FixedIPs[0] {
					e.t.Fatalf("outputs %s", d.Outputs)
				}
			}},
		{example: "public-vm-with-data", update: map[string]any{"num_cpus": 4, "mem_size": "8 GB", "data_size": "30 GB"}, compute: "vm", public: true, servers: 1,
			volume: "data", flavorBefore: "m1.medium", flavorAfter: "m1.large", sizeBefore: 20, sizeAfter: 30,
			opts: osOpts{sim: buildOnly},
			// INDIGO style: network_type public gives the server a floating IP on
			// the external network, private is the cloud's own network (nothing is
			// created), and the volume is formatted and mounted at its location by
			// the cloud-init the server boots with.
			checkCreation: func(e *osEnv, d *store.Deployment, res map[string]*store.Resource) {
				s := e.server(res["vm[0]"].CloudID)
				var out map[string]any
				json.Unmarshal(d.Outputs, &out)
				if len(s.FloatingIPs) != 1 || out["public_ip"] != s.FloatingIPs[0] || out["private_ip"] != s.FixedIPs[0] ||
					out["ssh"] != "ssh ubuntu@"+s.FloatingIPs[0] || out["data_volume_id"] != res["data[0]"].CloudID {
					e.t.Fatalf("outputs %s, server %+v", d.Outputs, s)
				}
				for _, want := range []string{"orchestrator-mount-volume", res["data[0]"].CloudID, "/data"} {
					if !strings.Contains(s.UserData, want) {
						e.t.Fatalf("the server's cloud-init lacks %q:\n%s", want, s.UserData)
					}
				}
				for _, n := range []string{"public_network[0]", "private_network[0]"} {
					if r := res[n]; r != nil && r.Attributes["existing"] != true {
						e.t.Fatalf("%s was created, not the cloud's own network: %+v", n, r)
					}
				}
			}},
		{example: "web-server", update: map[string]any{"http_port": 8080}, compute: "web_vm", public: true, servers: 1, flavorBefore: "m1.small",
			opts: osOpts{sim: buildOnly},
			checkCreation: func(e *osEnv, d *store.Deployment, res map[string]*store.Resource) {
				s := e.server(res["web_vm[0]"].CloudID)
				var out map[string]any
				json.Unmarshal(d.Outputs, &out)
				if out["url"] != "http://"+s.FloatingIPs[0]+"/" || res["web[0]"] == nil {
					e.t.Fatalf("outputs %s, resources %v", d.Outputs, res)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.example, func(t *testing.T) {
			t.Parallel()
			if tc.opts.sim.BuildTime == 0 {
				tc.opts.sim = simTimes
			}
			runLifecycle(t, newOpenStack(t, tc.opts), tc)
		})
	}
}

func runLifecycle(t *testing.T, e *osEnv, tc lifecycle) {
	ctx := context.Background()
	node := func(i int) string { return fmt.Sprintf("%s[%d]", tc.compute, i) }

	// Create: CREATE_COMPLETE, every resource backed by the cloud's answer.
	d := e.submit(example(t, tc.example), tc.create)
	if tc.expireTokens {
		waitForBuild(t, e.cloud)
		e.cloud.ExpireTokens()
	}
	d = e.wait(d.ID, store.CreateComplete)
	if tc.expireTokens && !refusedAToken(e.cloud) {
		t.Fatal("no call was refused for an expired token: the test did not exercise re-authentication")
	}
	res := e.resources(d.ID)
	if got := len(e.cloud.Servers()); got != tc.servers {
		t.Fatalf("%d servers in the cloud, want %d", got, tc.servers)
	}
	serverIDs := map[string]string{}
	for i := 0; i < tc.servers; i++ {
		r := res[node(i)]
		s := e.serverOf(r, tc.public)
		if s.Status != "ACTIVE" || r.State != store.ResStarted || s.Flavor != tc.flavorBefore || r.Attributes["flavor"] != tc.flavorBefore {
			t.Fatalf("%s: %s %s, flavor %s (resource says %v)", node(i), s.Status, r.State, s.Flavor, r.Attributes["flavor"])
		}
		if s.Name != d.ID+"-"+tc.compute+"-"+fmt.Sprint(i) {
			t.Fatalf("server name %q", s.Name)
		}
		serverIDs[node(i)] = s.ID
	}
	volumeIDs := map[string]string{}
	if tc.volume != "" {
		for i := 0; i < tc.servers; i++ {
			r := res[fmt.Sprintf("%s[%d]", tc.volume, i)]
			v := e.volume(r.CloudID)
			if v.SizeGB != tc.sizeBefore || v.Status != "in-use" || r.State != store.ResCreated {
				t.Fatalf("volume %+v, resource %+v", v, r)
			}
			volumeIDs[fmt.Sprintf("%s[%d]", tc.volume, i)] = v.ID
		}
	}
	tc.checkCreation(e, d, res)

	// Update in place: same servers (resized when the flavor changes), same
	// volumes (extended when they grow).
	e.update(d.ID, mergeInputs(tc.create, tc.update), store.RunUpdate)
	d = e.wait(d.ID, store.UpdateComplete)
	res = e.resources(d.ID)
	for i := 0; i < tc.servers; i++ {
		r := res[node(i)]
		s := e.serverOf(r, tc.public)
		if s.ID != serverIDs[node(i)] {
			t.Fatalf("%s was replaced by an in-place update", node(i))
		}
		want := tc.flavorBefore
		if tc.flavorAfter != "" {
			want = tc.flavorAfter
			if !slices.Contains(s.Actions, "resize") || !slices.Contains(s.Actions, "confirmResize") {
				t.Fatalf("%s: no resize and confirm among %v", node(i), s.Actions)
			}
		}
		if s.Flavor != want || r.Attributes["flavor"] != want || s.Status != "ACTIVE" {
			t.Fatalf("%s after the update: %s %s (resource %v)", node(i), s.Flavor, s.Status, r.Attributes["flavor"])
		}
	}
	if tc.volume != "" {
		for i := 0; i < tc.servers; i++ {
			r := res[fmt.Sprintf("%s[%d]", tc.volume, i)]
			v := e.volume(r.CloudID)
			if v.ID != volumeIDs[fmt.Sprintf("%s[%d]", tc.volume, i)] || v.SizeGB != tc.sizeAfter || v.Status != "in-use" || r.Attributes["size_gb"] != float64(tc.sizeAfter) {
				t.Fatalf("volume after the update: %+v (resource %+v)", v, r.Attributes)
			}
		}
	}

	// Day-2 actions on the first instance: the cloud's status follows, the
	// resource state agrees, the other instances are untouched.
	first := res[node(0)]
	action := func(a, wantStatus string, wantState store.ResourceState) {
		t.Helper()
		run := e.enqueue(d.ID, store.Request{Kind: store.RunAction, Params: store.RunParams{Action: a, ResourceID: first.ID, Node: tc.compute, Instance: 0}})
		d = e.wait(d.ID, store.UpdateComplete)
		if r, _ := e.store.Runs.Get(ctx, run.ID); r.Status != store.RunSucceeded {
			t.Fatalf("%s: %s %s", a, r.Status, r.Error)
		}
		got := e.resources(d.ID)
		if s := e.server(first.CloudID); s.Status != wantStatus || got[node(0)].State != wantState {
			t.Fatalf("after %s: cloud %s, resource %s", a, s.Status, got[node(0)].State)
		}
		if tc.servers > 1 {
			if s := e.server(serverIDs[node(1)]); s.Status != "ACTIVE" || got[node(1)].State != store.ResStarted {
				t.Fatalf("after %s on %s, %s is %s / %s", a, node(0), node(1), s.Status, got[node(1)].State)
			}
		}
	}
	action("stop", "SHUTOFF", store.ResStopped)
	action("start", "ACTIVE", store.ResStarted)
	before := len(e.server(first.CloudID).Actions)
	action("reboot", "ACTIVE", store.ResStarted)
	if acts := e.server(first.CloudID).Actions[before:]; !slices.Equal(acts, []string{"os-stop", "os-start"}) {
		t.Fatalf("reboot made the cloud do %v", acts)
	}

	// Redeploy: every server and volume replaced.
	e.update(d.ID, mergeInputs(tc.create, tc.update), store.RunRedeploy)
	d = e.wait(d.ID, store.UpdateComplete)
	res = e.resources(d.ID)
	if got := len(e.cloud.Servers()); got != tc.servers {
		t.Fatalf("%d servers after the redeploy, want %d", got, tc.servers)
	}
	for i := 0; i < tc.servers; i++ {
		s := e.serverOf(res[node(i)], tc.public)
		if s.ID == serverIDs[node(i)] || s.Status != "ACTIVE" {
			t.Fatalf("%s kept its server on a redeploy (%s)", node(i), s.Status)
		}
		if _, still := e.cloud.Server(serverIDs[node(i)]); still {
			t.Fatalf("the old server of %s is still in the cloud", node(i))
		}
	}
	for n, old := range volumeIDs {
		if res[n].CloudID == old {
			t.Fatalf("volume %s kept its id on a redeploy", n)
		}
	}

	// Delete: nothing of the deployment is left in the cloud.
	e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	d = e.wait(d.ID, store.DeleteComplete)
	e.checkNothingLeft()
	for k, r := range e.resources(d.ID) {
		if r.State != store.ResDeleted {
			t.Fatalf("%s is %s after the delete", k, r.State)
		}
	}
	if unhandled := e.cloud.Unhandled(); len(unhandled) > 0 {
		t.Fatalf("the provider made calls the simulator does not cover: %+v", unhandled)
	}
	e.checkAuths()
	e.checkNoSecret(d.ID)
}

// waitForBuild waits until the cloud has a server in BUILD.
func waitForBuild(t *testing.T, c *ossim.Cloud) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, s := range c.Servers() {
			if s.Status == "BUILD" {
				return
			}
		}
	}
	t.Fatal("no server ever was in BUILD")
}

// refusedAToken reports whether a service answered 401 (an expired token).
func refusedAToken(c *ossim.Cloud) bool {
	for _, r := range c.Requests() {
		if r.Service != "identity" && r.Status == 401 {
			return true
		}
	}
	return false
}

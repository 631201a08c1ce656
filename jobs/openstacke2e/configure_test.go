package openstacke2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"orchestrator/jobs/configure/testhosts"
	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
)

// twoServers puts a web page (Ansible playbooks) on a server with a floating
// IP, and a page (a shell script) on a server with only a private address,
// whose text is the first server's address: the orchestrator reaches the
// first through its floating IP, the second through the first (jump host).
const twoServers = `tosca_definitions_version: tosca_simple_yaml_1_3

node_types:
  test.nodes.WebPage:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      port: { type: integer }
      text: { type: string }
    interfaces:
      Standard:
        create:
          implementation: examples/web-page/artifacts/install.yml
          inputs:
            port: { get_property: [ SELF, port ] }
            page_text: { get_property: [ SELF, text ] }
            install_delay: 0
            host_address: { get_attribute: [ HOST, public_address ] }
        start:
          implementation: examples/web-page/artifacts/start.yml
          inputs:
            port: { get_property: [ SELF, port ] }
        stop:
          implementation: examples/web-page/artifacts/stop.yml
  test.nodes.Page:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      port: { type: integer }
      text: { type: string }
    interfaces:
      Standard:
        create:
          implementation: examples/two-hosts/artifacts/page.sh
          inputs:
            PORT: { get_property: [ SELF, port ] }
            TEXT: { get_property: [ SELF, text ] }

topology_template:
  inputs:
    port:
      type: integer
      default: 8090
    text:
      type: string
      default: front page

  node_templates:
    front_page:
      type: test.nodes.WebPage
      properties:
        port: { get_input: port }
        text: { get_input: text }
      requirements:
        - host: front_server
    back_page:
      type: test.nodes.Page
      properties:
        port: { get_input: port }
        text: { concat: [ "back, front at ", { get_attribute: [ front_server, public_address ] } ] }
      requirements:
        - host: back_server
        - dependency: front_page
    front_server:
      type: tosca.nodes.Compute
      capabilities:
        endpoint:
          properties:
            network_name: PUBLIC
        host:
          properties:
            num_cpus: 1
    back_server:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties:
            num_cpus: 1

  outputs:
    front_url:
      value: { concat: [ "http://", { get_attribute: [ front_server, public_address ] }, ":", { get_input: port }, "/" ] }
`

// backing makes the simulated cloud's servers real machines: each server is
// one network-namespace host with its own sshd. The cloud hands out the
// hosts' addresses (the front server's floating IP is the bastion host's
// address, its fixed IP the bastion's address on the hidden side; the back
// server's fixed IP is the hidden host's address), and at first boot does what
// cloud-init does with the key pair and user data: installs the keys.
type backing struct {
	pool *testhosts.Pool
	mu   sync.Mutex
	// booted maps a server id to the host backing it.
	booted map[string]string
}

func newBacking(t *testing.T) *backing {
	pool := testhosts.New(t, testhosts.Spec{Bastion: "front", Hidden: []string{"back"}, Unkeyed: true})
	return &backing{pool: pool, booted: map[string]string{}}
}

// options wires the backing into the simulator.
func (b *backing) options(o ossim.Options) ossim.Options {
	direct, hidden := b.pool.Ranges()
	o.PublicCIDR, o.PrivateCIDR = direct, hidden
	front, back := b.pool.Hosts["front"], b.pool.Hosts["back"]
	o.Allocate = func(a ossim.Allocation) (string, bool) {
		switch {
		case a.Kind == "fixed" && strings.Contains(a.PortName+a.DeviceName, "-front_server-0"):
			return back.Near, true
		case a.Kind == "fixed" && strings.Contains(a.PortName+a.DeviceName, "-back_server-0"):
			return back.Addr, true
		case a.Kind == "floating" && strings.Contains(a.Description, "-front_server-0"):
			return front.Addr, true
		}
		return "", false
	}
	o.Boot = func(s ossim.ServerInfo) error {
		host := ""
		for _, ip := range s.FixedIPs {
			switch ip {
			case back.Near:
				host = "front"
			case back.Addr:
				host = "back"
			}
		}
		if host == "" {
			return fmt.Errorf("no test host has address %v", s.FixedIPs)
		}
		keys, err := bootKeys(s)
		if err != nil {
			return err
		}
		if err := b.pool.Authorize(host, keys...); err != nil {
			return err
		}
		b.mu.Lock()
		b.booted[s.ID] = host
		b.mu.Unlock()
		return nil
	}
	return o
}

// bootKeys are the keys a booting server's default user gets: the user data's
// and the key pair's, as cloud-init installs them.
func bootKeys(s ossim.ServerInfo) ([]string, error) {
	keys, err := cloudInitKeys(s.UserData)
	if err != nil {
		return nil, err
	}
	if s.PublicKey != "" {
		keys = append(keys, s.PublicKey)
	}
	return keys, nil
}

// cloudInitKeys reads the keys a #cloud-config gives the default user.
func cloudInitKeys(userData string) ([]string, error) {
	if userData == "" {
		return nil, nil
	}
	if !strings.HasPrefix(userData, "#cloud-config\n") {
		return nil, fmt.Errorf("user data is not a #cloud-config: %.40q", userData)
	}
	var cfg struct {
		Keys []string `yaml:"ssh_authorized_keys"`
	}
	if err := yaml.Unmarshal([]byte(userData), &cfg); err != nil {
		return nil, fmt.Errorf("user data: %w", err)
	}
	return cfg.Keys, nil
}

// The whole path on the openstack target: the real provider creates two
// servers on the simulator, each backed by a namespace host; the engine
// reaches the public one through its floating IP and the private one through
// it (jump host), runs the playbooks and the script there; the pages answer.
// An update changes the page in place on the same servers; delete runs the
// stop playbook, then destroys everything.
func TestSoftwareConfiguredOnServersBackedByRealHosts(t *testing.T) {
	t.Parallel()
	b := newBacking(t)
	e := newOpenStack(t, osOpts{sim: b.options(simTimes), target: func(cfg map[string]any) {
		delete(cfg, "software_configuration") // on: these servers are real hosts
		cfg["ssh_user"] = "root"
	}})
	front, back := b.pool.Hosts["front"], b.pool.Hosts["back"]

	d := e.submit(twoServers, map[string]any{"port": 8090, "text": "hello through the floating IP"})
	got := e.wait(d.ID, store.CreateComplete)
	res := e.resources(d.ID)
	fs, bs := e.serverOf(res["front_server[0]"], true), e.serverOf(res["back_server[0]"], false)
	if fs.FloatingIPs[0] != front.Addr || fs.FixedIPs[0] != back.Near || bs.FixedIPs[0] != back.Addr {
		t.Fatalf("addresses: front %+v, back %+v", fs, bs)
	}
	b.mu.Lock()
	booted := fmt.Sprint(b.booted)
	ok := b.booted[fs.ID] == "front" && b.booted[bs.ID] == "back"
	b.mu.Unlock()
	if !ok {
		t.Fatalf("boots: %s", booted)
	}
	page, err := b.pool.HTTPGet("front", 8090, "/")
	if err != nil || !strings.Contains(page, "hello through the floating IP") || !strings.Contains(page, "served by "+front.Addr+" on port 8090") {
		t.Fatalf("front page: %v %q", err, page)
	}
	page, err = b.pool.HTTPGet("back", 8090, "/")
	if err != nil || !strings.Contains(page, "back, front at "+front.Addr) {
		t.Fatalf("back page (through the bastion's namespace): %v %q", err, page)
	}
	var out map[string]any
	json.Unmarshal(got.Outputs, &out)
	if out["front_url"] != fmt.Sprintf("http://%s:8090/", front.Addr) {
		t.Fatalf("outputs %s", got.Outputs)
	}
	configured, err := e.store.Configured.List(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]store.ResourceState{}
	for _, c := range configured {
		states[c.Node] = c.State
	}
	if states["front_page"] != store.ResConfigured || states["back_page"] != store.ResConfigured {
		t.Fatalf("configuration states: %v", states)
	}
	logs := e.logs(d.ID)
	for _, want := range []string{"configuration front_page", "configuration back_page", "serving 'back, front at " + front.Addr} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %q:\n%s", want, logs)
		}
	}

	// Update in place: same servers, the new text served.
	e.update(d.ID, map[string]any{"port": 8090, "text": "changed in place"}, store.RunUpdate)
	e.wait(d.ID, store.UpdateComplete)
	after := e.resources(d.ID)
	if after["front_server[0]"].CloudID != fs.ID || after["back_server[0]"].CloudID != bs.ID {
		t.Fatal("the update replaced a server")
	}
	if page, err := b.pool.HTTPGet("front", 8090, "/"); err != nil || !strings.Contains(page, "changed in place") {
		t.Fatalf("front page after the update: %v %q", err, page)
	}

	// Delete: the stop playbook ends the front server's web server, the cloud
	// ends up empty, and no ssh or ansible process of the run is left.
	e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	e.wait(d.ID, store.DeleteComplete)
	for deadline := time.Now().Add(10 * time.Second); b.pool.Listening("front", 8090); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the front web server still answers after delete\nlogs:\n%s", e.logs(d.ID))
		}
	}
	e.checkNothingLeft()
	e.checkAuths()
	e.checkNoSecret(d.ID)
	if out, _ := exec.Command("pgrep", "-af", "ansible-playbook|ssh .*"+e.dir).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("processes left: %s", out)
	}
}

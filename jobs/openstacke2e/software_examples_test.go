package openstacke2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"orchestrator/jobs/configure/testhosts"
	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
)

// The examples with software, exactly as the catalog ships them, on the
// openstack target: the real provider creates their servers on the simulated
// cloud, each server is a network-namespace host with its own sshd on the
// cloud's private network, and the engine reaches them through the target's
// bastion (the examples give their servers no floating IP), runs the playbooks
// or scripts, and the pages answer. Delete runs the stop operations where the
// example has them and leaves the cloud empty.
func TestSoftwareExamplesOnOpenStack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		example string
		inputs  map[string]any
		// hosts maps each Compute node to the test host backing it.
		hosts map[string]string
		// pages are what each host serves on port, once configured.
		port  int
		pages map[string]string
		// stops says whether delete ends the page (the example has a stop operation).
		stops bool
	}{
		{example: "web-page", inputs: map[string]any{"text": "web-page on openstack"}, hosts: map[string]string{"server": "h1"},
			port: 8080, pages: map[string]string{"h1": "web-page on openstack"}, stops: true},
		{example: "web-page-script", inputs: map[string]any{"text": "a script on openstack"}, hosts: map[string]string{"server": "h1"},
			port: 8090, pages: map[string]string{"h1": "a script on openstack"}, stops: true},
		{example: "two-hosts", hosts: map[string]string{"backend_server": "h1", "frontend_server": "h2"},
			port: 8070, pages: map[string]string{"h1": "backend", "h2": "frontend"}},
	}
	for _, tc := range cases {
		t.Run(tc.example, func(t *testing.T) {
			pool := testhosts.New(t, testhosts.Spec{Bastion: "jump", Hidden: []string{"h1", "h2"}, Unkeyed: true})
			jump := pool.Hosts["jump"]
			var mu sync.Mutex
			booted := map[string]string{} // server id -> host
			_, hidden := pool.Ranges()
			sim := simTimes
			sim.PrivateCIDR = hidden
			sim.Allocate = func(a ossim.Allocation) (string, bool) {
				if a.Kind != "fixed" {
					return "", false
				}
				for node, host := range tc.hosts {
					if strings.Contains(a.PortName+a.DeviceName, "-"+node+"-0") {
						return pool.Hosts[host].Addr, true
					}
				}
				return "", false
			}
			// At first boot the cloud does what cloud-init does: the key pair and
			// the user data's keys go to the server's host, and to the target's
			// bastion, which the engine logs in to with the deployment's key.
			sim.Boot = func(s ossim.ServerInfo) error {
				host := ""
				for _, h := range tc.hosts {
					if len(s.FixedIPs) > 0 && s.FixedIPs[0] == pool.Hosts[h].Addr {
						host = h
					}
				}
				if host == "" {
					return fmt.Errorf("no test host has address %v", s.FixedIPs)
				}
				keys, err := bootKeys(s)
				if err != nil {
					return err
				}
				for _, h := range []string{host, "jump"} {
					if err := pool.Authorize(h, keys...); err != nil {
						return err
					}
				}
				mu.Lock()
				booted[s.ID] = host
				mu.Unlock()
				return nil
			}
			e := newOpenStack(t, osOpts{sim: sim, target: func(cfg map[string]any) {
				delete(cfg, "software_configuration") // on: these servers are real hosts
				cfg["ssh_user"] = "root"
				cfg["bastion"] = map[string]any{"address": jump.Addr, "port": 22, "user": "root"}
			}})

			d := e.submit(example(t, tc.example), tc.inputs)
			e.wait(d.ID, store.CreateComplete)
			res := e.resources(d.ID)
			for node, host := range tc.hosts {
				s := e.serverOf(res[node+"[0]"], false)
				mu.Lock()
				got := booted[s.ID]
				mu.Unlock()
				if s.FixedIPs[0] != pool.Hosts[host].Addr || got != host {
					t.Fatalf("%s: server %+v booted as %q, want host %s", node, s, got, host)
				}
			}
			for host, want := range tc.pages {
				page, err := pool.HTTPGet(host, tc.port, "/")
				if err != nil || !strings.Contains(page, want) {
					t.Fatalf("%s serves %q (%v), want %q\nlogs:\n%s", host, page, err, want, e.logs(d.ID))
				}
			}
			e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
			e.wait(d.ID, store.DeleteComplete)
			if tc.stops {
				for host := range tc.pages {
					for deadline := time.Now().Add(10 * time.Second); pool.Listening(host, tc.port); time.Sleep(200 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatalf("%s still serves after delete (its stop operation did not run)\nlogs:\n%s", host, e.logs(d.ID))
						}
					}
				}
			}
			e.checkNothingLeft()
			e.checkNoSecret(d.ID)
		})
	}
}

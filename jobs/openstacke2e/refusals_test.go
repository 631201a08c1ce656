package openstacke2e

import (
	"strings"
	"testing"

	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
)

// What the cloud refuses (a flavor or image it does not have, a floating IP
// pool that is not external, a network that does not exist) fails the
// deployment with the refusal in status_reason, and a delete still cleans up.

// explicitServer is a template naming its flavor and image outright.
const explicitServer = `tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  example.nodes.Server:
    derived_from: tosca.nodes.Compute
    properties:
      flavor: { type: string }
      image: { type: string }
topology_template:
  inputs:
    flavor: { type: string }
    image: { type: string }
  node_templates:
    server:
      type: example.nodes.Server
      properties:
        flavor: { get_input: flavor }
        image: { get_input: image }
`

func TestCloudRefusalsReachStatusReason(t *testing.T) {
	cases := []struct {
		name     string
		template string
		inputs   map[string]any
		target   func(map[string]any)
		message  func(c *ossim.Cloud) string
	}{
		{"a flavor the cloud does not have", explicitServer, map[string]any{"flavor": "m1.ghost", "image": "ubuntu-24.04"}, nil,
			func(*ossim.Cloud) string { return "m1.ghost" }},
		{"an image the cloud does not have", explicitServer, map[string]any{"flavor": "m1.small", "image": "debian-13"}, nil,
			func(*ossim.Cloud) string { return "debian-13" }},
		{"a floating IP pool that is not external", "", nil,
			func(cfg map[string]any) { cfg["external_network"] = ossim.PrivateNetwork },
			func(c *ossim.Cloud) string {
				return "Bad floatingip request: Network " + c.NetworkID(ossim.PrivateNetwork) + " is not a valid external network."
			}},
		{"a port on a network that does not exist", "", nil,
			func(cfg map[string]any) { cfg["default_network_id"] = "d0e5a6c4-0000-4000-8000-00000000dead" },
			func(*ossim.Cloud) string { return "Network d0e5a6c4-0000-4000-8000-00000000dead could not be found." }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOpenStack(t, osOpts{sim: buildOnly, target: tc.target})
			template := tc.template
			if template == "" {
				template = example(t, "single-vm")
			}
			d := e.submit(template, tc.inputs)
			d = e.wait(d.ID, store.CreateFailed)
			t.Logf("status_reason: %s", d.StatusReason)
			if want := tc.message(e.cloud); !strings.Contains(d.StatusReason, want) {
				t.Fatalf("status_reason %q does not carry %q", d.StatusReason, want)
			}
			e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
			e.wait(d.ID, store.DeleteComplete)
			e.checkNothingLeft()
		})
	}
}

package tosca2tf

import (
	"strings"
	"testing"
)

// Normative networks with a subnet are created; a network named without one is
// an existing network the Computes linked to it are attached to, by name or id;
// INDIGO's isolated networks get no route out.
func TestTranslate_NetworkSemantics(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    lab_net: { type: string, default: lab-net }
  node_templates:
    lab:
      type: tosca.nodes.network.Network
      properties:
        network_name: { get_input: lab_net }
    by_id:
      type: tosca.nodes.network.Network
      properties:
        network_id: 0a0b0c0d-0000-4000-8000-00000000000a
    made:
      type: tosca.nodes.network.Network
      properties:
        network_name: made-here
        cidr: 10.9.0.0/24
    isolated:
      type: tosca.nodes.network.Network
      properties:
        network_type: isolated
        cidr: 10.8.0.0/24
    a_port:
      type: tosca.nodes.network.Port
      properties:
        ip_address: 10.0.0.5
      requirements: [ { binding: a }, { link: lab } ]
    b_port:
      type: tosca.nodes.network.Port
      requirements: [ { binding: b }, { link: by_id } ]
    c_port:
      type: tosca.nodes.network.Port
      requirements: [ { binding: c }, { link: made } ]
    a: { type: tosca.nodes.Compute }
    b: { type: tosca.nodes.Compute }
    c: { type: tosca.nodes.Compute }
`)
	res, err := Translate(tmpl, Options{Target: "openstack"})
	if err != nil {
		t.Fatal(err)
	}
	root := decodeRoot(t, res)
	for _, absent := range []string{"lab", "by_id", "a_port", "b_port"} {
		if _, ok := root.Module[absent]; ok {
			t.Errorf("%s must not be a module", absent)
		}
	}
	if n, _ := root.Module["a"]["network"].(map[string]any); n["name"] != "${var.lab_net}" {
		t.Errorf("a must sit on the existing network by name: %v", root.Module["a"]["network"])
	}
	if n, _ := root.Module["b"]["network"].(map[string]any); n["id"] != "0a0b0c0d-0000-4000-8000-00000000000a" {
		t.Errorf("b must sit on the existing network by id: %v", root.Module["b"]["network"])
	}
	if root.Module["made"]["cidr"] != "10.9.0.0/24" || root.Module["made"]["external_access"] != true || root.Module["c_port"] == nil {
		t.Errorf("made: %v; c_port: %v", root.Module["made"], root.Module["c_port"])
	}
	if root.Module["isolated"]["external_access"] != false {
		t.Errorf("isolated: %v", root.Module["isolated"])
	}
	// The fixed address of a port that became the server's own interface is lost:
	// the warning says so at its line.
	if w := warningAbout(res.Warnings, "a_port", `property "ip_address" is not honoured`); w == nil || w.Pos.Line != 27 {
		t.Errorf("no warning for a_port's ip_address at line 27: %v", res.Warnings)
	}
}

// Everything a template assigns that the translation does not honour gives a
// warning naming the node and the line.
func TestTranslate_EveryIgnoredFeatureIsWarned(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    vm:
      type: tosca.nodes.Compute
      directives: [ select ]
      attributes:
        private_address: 10.0.0.9
      capabilities:
        host:
          properties:
            num_cpus: 2
            cpu_frequency: 2 GHz
        endpoint:
          properties:
            network_name: PUBLIC
            secure: true
          attributes:
            ip_address: 1.2.3.4
        scalable:
          properties:
            min_instances: 1
            max_instances: 4
      interfaces:
        Standard:
          configure: scripts/tune.sh
      artifacts:
        tuning: scripts/tune.sh
      requirements:
        - local_storage:
            node: disk
            relationship:
              type: tosca.relationships.AttachesTo
              properties:
                location: /data
              interfaces:
                Configure:
                  post_configure_source: scripts/mount.sh
    disk:
      type: tosca.nodes.BlockStorage
      properties:
        size: 10 GB
`)
	res, err := Translate(tmpl, Options{Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line int
		text string
	}{
		{6, "directives (select) are not honoured"},
		{7, "attribute values (private_address) are ignored"},
		{13, `capability "host" property "cpu_frequency" is not honoured on the local target`},
		{17, `capability "endpoint" property "secure" is not honoured`},
		{18, `capability "endpoint": attribute values are ignored`},
		{23, `capability "scalable" property "max_instances" is not honoured`},
		{24, "interface operations (Standard.configure) are not run"},
		{27, "artifacts (tuning) are not deployed"},
		{36, "relationship interface operations are not run"},
	}
	for _, w := range want {
		found := false
		for _, got := range res.Warnings {
			if got.Node == "vm" && got.Pos.Line == w.line && strings.Contains(got.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning at line %d containing %q; got:\n%v", w.line, w.text, res.Warnings)
		}
	}
	for _, got := range res.Warnings {
		for _, honoured := range []string{`"num_cpus"`, `"network_name"`, `"min_instances"`, `"location"`, `"size"`} {
			if strings.Contains(got.Message, honoured) {
				t.Errorf("%s is honoured, yet: %v", honoured, got)
			}
		}
	}
}

package tosca2tf

import (
	"encoding/json"
	"strings"
	"testing"
)

// Sizes as real templates write them, found by deploying the corpus on the
// openstack target.
func TestSizesFromStringInputsAndDefaults(t *testing.T) {
	const tmpl = `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    memory_size:
      type: string
      default: 1 GB
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties:
            mem_size: { get_input: memory_size }
    store:
      type: tosca.nodes.Storage.ObjectStorage
      properties:
        name: data
`
	tests := []struct {
		name   string
		inputs map[string]any
		wantMB any
	}{
		{"default", nil, float64(954)},
		{"given", map[string]any{"memory_size": "4 GiB"}, float64(4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Translate(mustParse(t, tmpl), Options{Target: "openstack", Inputs: tt.inputs})
			if err != nil {
				t.Fatal(err)
			}
			var root struct {
				Module map[string]map[string]any `json:"module"`
			}
			if err := json.Unmarshal(res.Main, &root); err != nil {
				t.Fatal(err)
			}
			// A string variable cannot be divided: the size is a number of MiB.
			if got := root.Module["vm"]["mem_size_mb"]; got != tt.wantMB {
				t.Errorf("mem_size_mb = %v, want %v", got, tt.wantMB)
			}
			// ObjectStorage's normative default size (0 MB) is no quota, not a quota of 0.
			if v, ok := root.Module["store"]["size_gb"]; ok {
				t.Errorf("size_gb = %v, want none", v)
			}
		})
	}
	// A string that is not a size is a translation error at the property.
	errs := translateErrors(t, tmpl, map[string]any{"memory_size": "lots"})
	if len(errs) == 0 || errs[0].Pos.Line != 13 || !strings.Contains(errs[0].Error(), "is not a scalar-unit.size") {
		t.Fatalf("errors: %v", errs)
	}
}

package tosca2tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the parser arbitrary bytes: it must never panic, and every
// failure must be a positioned, typed error.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "examples", "*", "*.yaml"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    a: {type: Compute}\n"))
	f.Add([]byte("tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  inputs: {n: {type: integer, default: 1, constraints: [{in_range: [1, 4]}]}}\n  node_templates:\n    s: {type: tosca.nodes.Compute, capabilities: {scalable: {properties: {count: {get_input: n}}}}}\n"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("tosca_definitions_version: tosca_simple_yaml_1_3\nnode_types: {a: {derived_from: a}}\ntopology_template: {node_templates: {n: {type: a}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, err := Parse(context.Background(), Source{Name: "fuzz.yaml", Content: data}, &Resolver{})
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("untyped error: %v", err)
			}
			for _, e := range errs {
				if e.Kind == "" || e.Pos.Line == 0 {
					t.Fatalf("error without kind or position: %+v", e)
				}
			}
			return
		}
		for _, target := range []string{"local", "openstack"} {
			_, err := Translate(tmpl, Options{Target: target})
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("untyped translate error: %v", err)
				}
			}
		}
	})
}

package examples_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orchestrator/examples"
	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/modules"
	"orchestrator/tosca2tf"
)

func generate(t *testing.T, ex examples.Example, target string) string {
	t.Helper()
	tmpl, err := tosca2tf.Parse(context.Background(), tosca2tf.Source{Name: ex.Name + ".yaml", Content: []byte(ex.Content)}, &tosca2tf.Resolver{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	res, err := tosca2tf.Translate(tmpl, tosca2tf.Options{Target: target, DeploymentID: "example-test",
		TargetConfig: map[string]any{
			"flavors": []any{map[string]any{"name": "m1.small", "vcpus": 1, "ram_mb": 2048, "disk_gb": 20},
				map[string]any{"name": "m1.large", "vcpus": 8, "ram_mb": 16384, "disk_gb": 80}},
			"images": []any{map[string]any{"name": "ubuntu-24.04", "distribution": "ubuntu", "version": "24.04"},
				map[string]any{"name": "ubuntu-22.04", "distribution": "ubuntu", "version": "22.04"},
				map[string]any{"name": "rocky-9", "distribution": "rocky", "version": "9"}},
		}})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf.json"), res.Main, 0o644)
	os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), res.Vars, 0o644)
	if err := modules.WriteTo(dir, target); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every example deploys as it is (defaults for every input) on the simulated
// local target, offline, and its openstack configuration is valid for the real
// provider.
func TestExamplesApplyOnLocalAndValidateOnOpenStack(t *testing.T) {
	tc := tftest.Find(t)
	list, err := examples.All()
	if err != nil || len(list) < 5 {
		t.Fatalf("examples: %d, %v", len(list), err)
	}
	for _, ex := range list {
		t.Run(ex.Name+"/local", func(t *testing.T) {
			dir := generate(t, ex, "local")
			tc.Run(t, dir, "init", "-input=false")
			tc.Run(t, dir, "apply", "-auto-approve", "-input=false")
			out := tc.Run(t, dir, "output", "-json")
			var outputs map[string]struct{ Value any }
			if err := json.Unmarshal([]byte(out), &outputs); err != nil {
				t.Fatalf("outputs: %v", err)
			}
			resources, _ := outputs["orc_resources"].Value.(map[string]any)
			if len(resources) == 0 {
				t.Fatalf("no orc_resources output: %s", out)
			}
			for node, list := range resources {
				for _, inst := range list.([]any) {
					m := inst.(map[string]any)
					attrs := m["attributes"].(map[string]any)
					if m["cloud_id"] == "" || attrs["simulated"] != true {
						t.Errorf("%s: %v", node, m)
					}
				}
			}
			if strings.Contains(ex.Content, "outputs:") && len(outputs) < 2 {
				t.Errorf("TOSCA outputs missing: %s", out)
			}
			tc.Run(t, dir, "destroy", "-auto-approve", "-input=false")
		})
		t.Run(ex.Name+"/openstack", func(t *testing.T) {
			dir := generate(t, ex, "openstack")
			tc.Run(t, dir, "init", "-input=false")
			out := tc.Run(t, dir, "validate")
			if !strings.Contains(out, "The configuration is valid") {
				t.Fatalf("validate: %s", out)
			}
		})
	}
}

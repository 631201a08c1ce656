package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orchestrator/jobs/toolchain/tftest"
)

const checkTemplate = `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    distro: { type: string, default: ubuntu }
  node_templates:
    web:
      type: tosca.nodes.Compute
      capabilities:
        endpoint: { properties: { network_name: PUBLIC, port: 443 } }
        os: { properties: { distribution: { get_input: distro } } }
  outputs:
    url: { value: { concat: [ "https://", { get_attribute: [ web, public_address ] } ] } }
`

func runCheck(t *testing.T, template string, args ...string) (string, string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(path, []byte(template), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := runTosca2tf(append([]string{path, "--check", "--tools-dir", tftest.ToolsDir(t)}, args...), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// --check runs the generated module through Terraform, so what Terraform would
// refuse is found before a user submits the template.
func TestCheck_RunsTerraform(t *testing.T) {
	tftest.Find(t) // the toolchain must be there
	t.Run("valid on local: validate and plan", func(t *testing.T) {
		out, errs, code := runCheck(t, checkTemplate)
		if code != exitOK || !strings.Contains(out, "valid (1 nodes, target local; terraform validate and plan passed)") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
	})
	t.Run("valid on openstack without a cloud", func(t *testing.T) {
		out, errs, code := runCheck(t, checkTemplate, "--target", "openstack")
		if code != exitOK || !strings.Contains(out, "target openstack; terraform validate and plan passed") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
	})
	t.Run("an image the catalog lacks is refused, naming the node and its line", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "target.json")
		os.WriteFile(cfg, []byte(`{"images": [{"name": "rocky-9", "distribution": "rocky", "version": "9"}]}`), 0o644)
		out, errs, code := runCheck(t, checkTemplate, "--target-config", cfg)
		if code != exitFailed || !strings.Contains(errs, `web.yaml:6:5: node "web": terraform: Resource precondition failed: no image in the target catalog matches distribution=ubuntu`) ||
			!strings.Contains(errs, "the catalog has: rocky-9 (rocky 9)") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
	})
	t.Run("without Terraform the template alone is checked", func(t *testing.T) {
		out, errs, code := runCheck(t, checkTemplate, "--no-terraform")
		if code != exitOK || !strings.Contains(out, "Terraform not run") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		out, errs, code = runCheck(t, checkTemplate, "--tools-dir", t.TempDir(), "--terraform-path", filepath.Join(t.TempDir(), "none"))
		if code != exitOK || !strings.Contains(errs, "note: Terraform not run") || !strings.Contains(out, "no Terraform found") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
	})
	t.Run("strict refuses recorded nodes", func(t *testing.T) {
		tmpl := strings.Replace(checkTemplate, "tosca_definitions_version: tosca_simple_yaml_1_3\n", `tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  example.nodes.IAMClient:
    derived_from: tosca.nodes.Root
`, 1) + `    client:
      type: example.nodes.IAMClient
`
		tmpl = strings.Replace(tmpl, "  outputs:\n    url: { value: { concat: [ \"https://\", { get_attribute: [ web, public_address ] } ] } }\n", "", 1)
		_, errs, code := runCheck(t, tmpl, "--no-terraform")
		if code != exitOK || !strings.Contains(errs, `warning: node "client" (example.nodes.IAMClient) is recorded but not deployed`) {
			t.Fatalf("lenient: exit %d\n%s", code, errs)
		}
		_, errs, code = runCheck(t, tmpl, "--no-terraform", "--strict")
		if code != exitFailed || !strings.Contains(errs, `node "client" of type example.nodes.IAMClient is not deployed by the local target`) {
			t.Fatalf("strict: exit %d\n%s", code, errs)
		}
	})
}

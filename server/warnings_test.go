package server

import (
	"encoding/json"
	"fmt"
	"testing"

	"orchestrator/store"
)

// A template asking for things the deployment will not do: an endpoint DNS name
// (no target registers names) and a node orchestrator only records.
const warnedTemplate = `tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  example.nodes.IAMClient:
    derived_from: tosca.nodes.Root
topology_template:
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        endpoint:
          properties:
            network_name: PUBLIC
            url_path: /portal
    iam_client:
      type: example.nodes.IAMClient
`

type warningsBody struct {
	ID       string        `json:"id"`
	Warnings []WarningJSON `json:"warnings"`
}

func decodeWarnings(t *testing.T, r *response) warningsBody {
	t.Helper()
	var b warningsBody
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatalf("%v\n%s", err, r.Body)
	}
	return b
}

func findWarning(ws []WarningJSON, node string, line int) *WarningJSON {
	for i := range ws {
		if ws[i].Node == node && ws[i].Line == line {
			return &ws[i]
		}
	}
	return nil
}

// The submission answers with the translator's warnings, each naming its node
// and line, and the run's logs keep them; admins see them when they add a
// template to the catalog.
func TestSubmission_ReturnsWarnings(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	_, admin := app.admin("root")
	_, alice := app.signup("alice")

	added := decodeWarnings(t, app.expect(201, "POST", "/api/v1/templates", admin,
		map[string]string{"name": "warned", "version": "1", "content": warnedTemplate}))
	if w := findWarning(added.Warnings, "vm", 13); w == nil || w.Kind != "unsupported" {
		t.Fatalf("template warnings: %+v", added.Warnings)
	}
	patched := decodeWarnings(t, app.expect(200, "PATCH", "/api/v1/templates/"+added.ID, admin, map[string]string{"description": "d"}))
	if patched.Warnings == nil || len(patched.Warnings) != 0 {
		t.Fatalf("a change without content has no warnings, as an empty list: %+v", patched.Warnings)
	}

	res := app.expect(202, "POST", "/api/v1/deployments", alice, map[string]any{"template": warnedTemplate})
	sub := decodeWarnings(t, res)
	urlPath := findWarning(sub.Warnings, "vm", 13)
	recorded := findWarning(sub.Warnings, "iam_client", 15)
	if urlPath == nil || urlPath.File != "template.yaml" || urlPath.Column == 0 || recorded == nil {
		t.Fatalf("submission warnings: %+v", sub.Warnings)
	}
	app.waitFor(sub.ID, alice, store.CreateComplete)
	logged := map[string]bool{}
	for _, line := range items(t, app.expect(200, "GET", "/api/v1/deployments/"+sub.ID+"/logs?level=warn&size=100", alice, nil)) {
		logged[line["message"].(string)] = true
	}
	for _, w := range []*WarningJSON{urlPath, recorded} {
		if text := fmt.Sprintf("%s:%d:%d: %s", w.File, w.Line, w.Column, w.Message); !logged[text] {
			t.Errorf("the logs lack %q: %v", text, logged)
		}
	}

	// A template without anything left out has an empty list.
	clean := decodeWarnings(t, app.expect(202, "POST", "/api/v1/deployments", alice,
		map[string]any{"template": "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm: { type: tosca.nodes.Compute }\n"}))
	if clean.Warnings == nil || len(clean.Warnings) != 0 {
		t.Fatalf("clean template: %+v", clean.Warnings)
	}
	app.waitFor(clean.ID, alice, store.CreateComplete)
}

package server

import (
	"encoding/json"
	"fmt"
	"strings"
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

// Strict mode refuses what the default accepts with a warning: a node
// orchestrator would only record is a 422 naming it at its line, at submission,
// in the update preview and in the update itself; nothing is written.
func TestStrictMode_RefusesRecordedNodes(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	_, alice := app.signup("alice")
	before := len(items(t, app.expect(200, "GET", "/api/v1/deployments", alice, nil)))

	refused := app.expect(422, "POST", "/api/v1/deployments", alice, map[string]any{"template": warnedTemplate, "strict": true})
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Field   string         `json:"field"`
				Line    int            `json:"line"`
				Message string         `json:"message"`
				Extra   map[string]any `json:"extra"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(refused.Body), &body); err != nil {
		t.Fatal(err)
	}
	d := body.Error.Details
	if len(d) != 1 || d[0].Field != "template" || d[0].Line != 14 || d[0].Extra["node"] != "iam_client" ||
		!strings.Contains(body.Error.Message, "strict mode") {
		t.Fatalf("strict refusal: %s", refused.Body)
	}
	if after := len(items(t, app.expect(200, "GET", "/api/v1/deployments", alice, nil))); after != before {
		t.Fatalf("a refused submission wrote a deployment: %d -> %d", before, after)
	}

	// strict=false (the default) accepts it; strict on the update refuses it again.
	ok := decodeWarnings(t, app.expect(202, "POST", "/api/v1/deployments", alice, map[string]any{"template": warnedTemplate, "strict": false}))
	app.waitFor(ok.ID, alice, store.CreateComplete)
	app.expect(422, "POST", "/api/v1/deployments/"+ok.ID+"/plan", alice, map[string]any{"redeploy": false, "strict": true})
	app.expect(422, "PUT", "/api/v1/deployments/"+ok.ID, alice, map[string]any{"redeploy": false, "strict": true})
	if got := app.expect(200, "GET", "/api/v1/deployments/"+ok.ID, alice, nil); !strings.Contains(got.Body, string(store.CreateComplete)) {
		t.Fatalf("a refused update changed the deployment: %s", got.Body)
	}
	// A strict submission of a template with nothing recorded goes through.
	clean := "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm: { type: tosca.nodes.Compute }\n"
	sub := decodeWarnings(t, app.expect(202, "POST", "/api/v1/deployments", alice, map[string]any{"template": clean, "strict": true}))
	app.waitFor(sub.ID, alice, store.CreateComplete)
}

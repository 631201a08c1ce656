package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"orchestrator/store"
)

// echoTemplate outputs its free-text input, so we can see it arrive as data.
const echoTemplate = `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    note: { type: string, default: "" }
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        os: { properties: { distribution: ubuntu } }
  outputs:
    note: { value: { get_input: note } }
    decorated: { value: { concat: [ "<", { get_input: note }, ">" ] } }
`

// TestBadInput throws malformed, mistyped, oversized, unicode, traversal and
// injection inputs at every kind of route: each gets a 4xx, or is stored and
// used verbatim as data; never a 5xx, never interpreted.
func TestBadInput(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	_, user := app.signup("user")
	_, admin := app.admin("root")
	dep := app.deploy(user, "single-vm", nil)
	app.waitFor(dep, user, store.CreateComplete)
	rid := items(t, app.expect(200, "GET", "/api/v1/deployments/"+dep+"/resources", user, nil))[0]["id"].(string)

	type req struct {
		method, path, token, body string
		want                      int // 0: any 4xx
	}
	var cases []req
	jsonRoutes := []struct{ method, path, token string }{
		{"POST", "/api/v1/users", ""}, {"POST", "/api/v1/auth/login", ""}, {"PATCH", "/api/v1/users/me", user},
		{"POST", "/api/v1/users/me/ssh-keys", user}, {"POST", "/api/v1/users/me/tokens", user},
		{"POST", "/api/v1/templates", admin}, {"POST", "/api/v1/targets", admin}, {"POST", "/api/v1/deployments", user},
		{"PUT", "/api/v1/deployments/" + dep, user}, {"PATCH", "/api/v1/deployments/" + dep, user},
		{"POST", "/api/v1/deployments/" + dep + "/resources/" + rid + "/actions", user},
		{"POST", "/api/v1/deployments/" + dep + "/owners", admin},
	}
	malformed := []string{`{`, `[`, `{"a":}`, `{,}`, `{"a": 1} trailing`, "\xff\xfe{}", `nul`, `{"a": "\u00"}`}
	for _, r := range jsonRoutes {
		for _, body := range malformed {
			cases = append(cases, req{r.method, r.path, r.token, body, 400})
		}
		cases = append(cases, req{r.method, r.path, r.token, `"a string"`, 422}, req{r.method, r.path, r.token, `[1, 2]`, 422})
	}
	// Wrong types, named by field path.
	for _, body := range []string{
		`{"template_id": 12}`, `{"template": ["a"]}`, `{"template_id": "x", "inputs": []}`, `{"template_id": "x", "labels": {"a": 1}}`,
		`{"template_id": "x", "description": {"a": 1}}`, `{"template_id": "x", "target": false}`, `{"template": "x", "template_id": "y"}`,
		`{"template_id": "` + strings.Repeat("a", 100) + `"}`,
	} {
		cases = append(cases, req{"POST", "/api/v1/deployments", user, body, 422})
	}
	cases = append(cases,
		req{"PUT", "/api/v1/deployments/" + dep, user, `{"redeploy": "yes"}`, 422},
		req{"PUT", "/api/v1/deployments/" + dep, user, `{"inputs": {"num_cpus": "many"}, "redeploy": false}`, 422},
		req{"PUT", "/api/v1/deployments/" + dep, user, `{"inputs": {"num_cpus": 1e400}, "redeploy": false}`, 0},
		req{"PUT", "/api/v1/deployments/" + dep, user, `{"inputs": {"num_cpus": -1}, "redeploy": false}`, 422},
		req{"POST", "/api/v1/deployments/" + dep + "/resources/" + rid + "/actions", user, `{"action": 1}`, 422},
		req{"POST", "/api/v1/users/me/tokens", user, `{"name": "x", "expires_at": "tomorrow"}`, 422},
		req{"POST", "/api/v1/users", "", `{"username": ["a"], "password": "longenough"}`, 422},
		req{"POST", "/api/v1/targets", admin, `{"name": "ok", "kind": "aws"}`, 422},
		req{"POST", "/api/v1/targets", admin, `{"name": "ok", "kind": "local", "config": "x"}`, 422},
		req{"POST", "/api/v1/deployments/" + dep + "/owners", admin, `{"user_id": "nobody"}`, 422},
	)
	// Huge values.
	big := strings.Repeat("x", 2<<20)
	labels := map[string]string{}
	for i := 0; i < 60; i++ {
		labels[fmt.Sprint("k", i)] = "v"
	}
	manyLabels, _ := json.Marshal(map[string]any{"template_id": "x", "labels": labels})
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	cases = append(cases,
		req{"POST", "/api/v1/deployments", user, `{"template": "` + big + `"}`, 413},
		req{"PATCH", "/api/v1/deployments/" + dep, user, `{"description": "` + strings.Repeat("d", 5000) + `"}`, 422},
		req{"POST", "/api/v1/deployments", user, string(manyLabels), 422},
		req{"POST", "/api/v1/users", "", `{"username": "` + strings.Repeat("u", 10000) + `", "password": "longenough"}`, 422},
		req{"POST", "/api/v1/users", "", `{"username": "ok-user", "password": "` + strings.Repeat("p", 100) + `"}`, 422},
		req{"POST", "/api/v1/deployments", user, deep, 0},
		req{"POST", "/api/v1/templates", admin, `{"name": "big", "version": "1", "content": "` + strings.Repeat("#", 1<<20-100) + `"}`, 0},
	)
	// Unicode.
	cases = append(cases,
		req{"POST", "/api/v1/users", "", `{"username": "ünïcödé", "password": "longenough"}`, 422},
		req{"POST", "/api/v1/users", "", `{"username": "ok-2", "password": "longenough", "name": "a\u202eb"}`, 201},
		req{"POST", "/api/v1/users", "", `{"username": "ok-3", "password": "longenough", "name": "zero\u0000byte"}`, 422},
		req{"POST", "/api/v1/users", "", `{"username": "ok-4", "password": "longenough", "name": "🚀 rocket"}`, 201},
		req{"PATCH", "/api/v1/deployments/" + dep, user, `{"labels": {"emoji🚀": "x"}}`, 422},
		req{"PATCH", "/api/v1/deployments/" + dep, user, `{"labels": {"team": "naïve 🚀"}}`, 200},
		req{"POST", "/api/v1/templates", admin, `{"name": "名前", "version": "1", "content": "x"}`, 422},
	)
	// Path traversal in ids and names.
	for _, path := range []string{
		"/api/v1/deployments/..%2F..%2Fetc%2Fpasswd", "/api/v1/deployments/../../etc/passwd", "/api/v1/deployments/%2e%2e",
		"/api/v1/templates/..%2F..%2Fsecret/content", "/api/v1/targets/..%2Flocal", "/api/v1/runs/%00", "/api/v1/users/%2F..%2F/picture",
		"/api/v1/deployments/" + dep + "/resources/..%2F" + rid,
	} {
		cases = append(cases, req{"GET", path, admin, "", 0})
	}
	cases = append(cases,
		req{"POST", "/api/v1/targets", admin, `{"name": "../../etc", "kind": "local"}`, 422},
		req{"POST", "/api/v1/templates", admin, `{"name": "../x", "version": "1", "content": "x"}`, 422},
		req{"DELETE", "/api/v1/users/me/ssh-keys/..%2F..%2F", user, "", 404},
		req{"POST", "/api/v1/deployments", user, `{"template": "tosca_definitions_version: tosca_simple_yaml_1_3\nimports: [ /etc/passwd ]\ntopology_template: {node_templates: {a: {type: tosca.nodes.Compute}}}"}`, 422},
		req{"POST", "/api/v1/deployments", user, `{"template": "tosca_definitions_version: tosca_simple_yaml_1_3\nimports: [ ../../../../etc/passwd ]\ntopology_template: {node_templates: {a: {type: tosca.nodes.Compute}}}"}`, 422},
		req{"POST", "/api/v1/deployments", user, `{"template": "tosca_definitions_version: tosca_simple_yaml_1_3\nimports: [ file:///etc/passwd ]\ntopology_template: {node_templates: {a: {type: tosca.nodes.Compute}}}"}`, 422},
		req{"POST", "/api/v1/deployments", user, `{"template": "tosca_definitions_version: tosca_simple_yaml_1_3\nimports: [ http://169.254.169.254/latest/meta-data ]\ntopology_template: {node_templates: {a: {type: tosca.nodes.Compute}}}"}`, 422},
	)
	// Query strings.
	for _, q := range []string{"page=-1", "page=abc", "size=0", "size=99999", "sort=;DROP%20TABLE%20users", "fields=../..",
		"status=X'%20OR%201=1", "created_after=yesterday", "label=%00", "include_deleted=maybe", "page=99999999999999999999"} {
		cases = append(cases, req{"GET", "/api/v1/deployments?" + q, user, "", 400})
	}
	cases = append(cases,
		req{"GET", "/api/v1/deployments?q=%27%20OR%201%3D1%20--", user, "", 200},
		req{"GET", "/api/v1/deployments/" + dep + "/logs?level=fatal", user, "", 400},
		req{"GET", "/api/v1/deployments/" + dep + "/logs?since=2026-13-45", user, "", 400},
		req{"GET", "/api/v1/deployments/" + dep + "/logs?follow=true", user, "", 0},
	)
	cases[len(cases)-1].want = 200 // a settled deployment's stream ends at once

	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	for i, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		res := app.do(c.method, c.path, c.token, body)
		if res.Code >= 500 {
			t.Errorf("case %d %s %s: %d %s", i, c.method, truncate(c.path, 80), res.Code, truncate(res.Body, 200))
			continue
		}
		switch {
		case c.want == 0 && (res.Code < 400 || res.Code >= 500):
			t.Errorf("case %d %s %s %s: got %d, want a 4xx", i, c.method, truncate(c.path, 80), truncate(c.body, 60), res.Code)
		case c.want != 0 && res.Code != c.want:
			t.Errorf("case %d %s %s %s: got %d, want %d: %s", i, c.method, truncate(c.path, 80), truncate(c.body, 60), res.Code, c.want, truncate(res.Body, 200))
		}
		if res.Code >= 400 && !strings.Contains(res.Header.Get("Content-Type"), "json") {
			t.Errorf("case %d: error without a JSON body: %s", i, res.Header.Get("Content-Type"))
		}
	}
	t.Logf("%d bad-input cases, none answered 5xx", len(cases))

	// Injection attempts in inputs are data: stored verbatim, output verbatim,
	// never in the generated configuration.
	payloads := []string{
		`${file("/etc/passwd")}`, `%{ for x in ["a"] }${x}%{ endfor }`, `$(rm -rf /)`, "`reboot`", `; shutdown -h now`,
		`{{7*7}}`, "line1\nline2", `"; DROP TABLE deployments; --`, `\u0000`, `$${literal}`,
	}
	ids := map[string]string{}
	for _, p := range payloads {
		res := app.expect(202, "POST", "/api/v1/deployments", user, map[string]any{"template": echoTemplate, "inputs": map[string]any{"note": p}})
		ids[p] = res.JSON(t)["id"].(string)
	}
	for p, id := range ids {
		d := app.waitFor(id, user, store.CreateComplete)
		if d["inputs"].(map[string]any)["note"] != p {
			t.Errorf("input %q stored as %v", p, d["inputs"])
		}
		tf := app.expect(200, "GET", "/api/v1/deployments/"+id+"/terraform", user, nil)
		if strings.Contains(tf.Body, "passwd") || strings.Contains(tf.Body, "rm -rf") || strings.Contains(tf.Body, "DROP TABLE") {
			t.Errorf("input %q reached main.tf.json", p)
		}
		outputs := app.expect(200, "GET", "/api/v1/deployments/"+id+"/outputs", user, nil).JSON(t)["outputs"].(map[string]any)
		if outputs["note"] != p || outputs["decorated"] != "<"+p+">" {
			t.Errorf("input %q came back as %q / %q", p, outputs["note"], outputs["decorated"])
		}
	}
	// The users table survived the SQL attempts.
	if res := app.do(http.MethodGet, "/api/v1/users", admin, nil); res.Code != 200 {
		t.Fatalf("users: %d", res.Code)
	}
}

// A deployment over the node or instance caps is refused before anything runs.
func TestSubmit_NodeAndInstanceCaps(t *testing.T) {
	app := newTestApp(t, withEngine(t), func(c *Config, _ *Deps) { c.MaxNodes, c.MaxInstances = 3, 5 })
	_, token := app.signup("greedy")
	nodes := func(n int, count int) string {
		var b strings.Builder
		b.WriteString("tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "    vm%d:\n      type: tosca.nodes.Compute\n", i)
			if count > 0 {
				fmt.Fprintf(&b, "      capabilities:\n        scalable:\n          properties: { count: %d }\n", count)
			}
		}
		return b.String()
	}
	res := app.expect(422, "POST", "/api/v1/deployments", token, map[string]any{"template": nodes(4, 0)})
	mustContain(t, res.Body, "4 node templates", "at most 3", `"max_nodes":3`)
	res = app.expect(422, "POST", "/api/v1/deployments", token, map[string]any{"template": nodes(2, 3)})
	mustContain(t, res.Body, "6 node instances", "at most 5")
	app.expect(202, "POST", "/api/v1/deployments", token, map[string]any{"template": nodes(2, 2)})
	// Ten thousand nodes: a clear 422, not minutes of a worker.
	res = app.expect(422, "POST", "/api/v1/deployments", token, map[string]any{"template": nodes(10000, 0)})
	mustContain(t, res.Body, "10000 node templates")
	if ex, _ := app.store.Deployments.Existing(t.Context()); len(ex) != 1 {
		t.Fatalf("%d deployments stored, want the one accepted", len(ex))
	}
}

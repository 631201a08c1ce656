package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"orchestrator/store"
)

// TestIndigo_SameDeploymentBothWays creates through each API and reads through
// the other.
func TestIndigo_SameDeploymentBothWays(t *testing.T) {
	t.Parallel() // its own service and database
	app := newTestApp(t, withIdleEngine(t))
	_, token := app.signup("alice")
	tmpl := example(t, "single-vm")

	ours := app.expect(202, "POST", "/api/v1/deployments", token, map[string]any{"template": tmpl, "inputs": map[string]any{"num_cpus": 3},
		"description": "made here"}).JSON(t)
	theirs := app.expect(200, "GET", "/orchestrator/deployments/"+ours["id"].(string), token, nil).JSON(t)
	created, _ := time.Parse(time.RFC3339Nano, ours["created_at"].(string))
	if theirs["uuid"] != ours["id"] || theirs["status"] != ours["status"] || theirs["cloudProviderName"] != ours["target"] ||
		theirs["creationTime"] != indigoTime(created) || theirs["physicalId"] != ours["id"] {
		t.Fatalf("ours %v\ntheirs %v", ours, theirs)
	}
	// Our list pages are cached by the store's write generation: read one now,
	// so the INDIGO create below must invalidate it.
	if list := items(t, app.expect(200, "GET", "/api/v1/deployments", token, nil)); len(list) != 1 {
		t.Fatalf("our list before: %d", len(list))
	}
	if tpl := app.expect(200, "GET", "/orchestrator/deployments/"+ours["id"].(string)+"/template", token, nil); tpl.Body != tmpl {
		t.Fatal("template differs")
	}

	indigo := app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": tmpl, "parameters": map[string]any{"num_cpus": 5},
		"userGroup": "physics"}).JSON(t)
	back := app.expect(200, "GET", "/api/v1/deployments/"+indigo["uuid"].(string), token, nil).JSON(t)
	if back["status"] != "CREATE_IN_PROGRESS" || back["inputs"].(map[string]any)["num_cpus"].(float64) != 5 || back["target"] != "local" {
		t.Fatalf("back: %v", back)
	}
	list := items(t, app.expect(200, "GET", "/api/v1/deployments", token, nil))
	if len(list) != 2 || (list[0]["id"] != indigo["uuid"] && list[1]["id"] != indigo["uuid"]) {
		t.Fatalf("our list after an INDIGO create: %v", list)
	}
	if got := app.expect(200, "GET", "/orchestrator/deployments?userGroup=physics", token, nil).JSON(t)["content"].([]any); len(got) != 1 ||
		got[0].(map[string]any)["uuid"] != indigo["uuid"] || got[0].(map[string]any)["userGroup"] != "physics" {
		t.Fatalf("userGroup filter: %v", got)
	}
	// An update through /api/v1 shows through INDIGO.
	app.expect(200, "PATCH", "/api/v1/deployments/"+indigo["uuid"].(string), token, map[string]any{"description": "renamed"})
	if got := app.expect(200, "GET", "/orchestrator/deployments/"+indigo["uuid"].(string), token, nil).JSON(t); got["userGroup"] != "physics" {
		t.Fatalf("after a PATCH: %v", got)
	}
}

// TestIndigo_Paging checks Spring's paging as orchent and the dashboard follow
// it, the createdBy and excludedStatus filters, and who may list what.
func TestIndigo_Paging(t *testing.T) {
	t.Parallel() // its own service and database
	app := newTestApp(t, withIdleEngine(t))
	aliceID, alice := app.signup("alice")
	bobID, bob := app.signup("bob")
	_, admin := app.admin("root")
	tmpl := "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm: { type: tosca.nodes.Compute }\n"
	var aliceIDs []string
	for i := 0; i < 23; i++ {
		d := app.expect(201, "POST", "/orchestrator/deployments", alice, map[string]any{"template": tmpl}).JSON(t)
		aliceIDs = append(aliceIDs, d["uuid"].(string))
		app.clock.Advance(time.Minute)
	}
	bobs := app.expect(201, "POST", "/orchestrator/deployments", bob, map[string]any{"template": tmpl}).JSON(t)["uuid"].(string)

	// Page 0 of 3: first, self, next, last; absolute; newest first.
	first := app.expect(200, "GET", "/orchestrator/deployments", alice, nil).JSON(t)
	page := first["page"].(map[string]any)
	if page["size"].(float64) != 10 || page["totalElements"].(float64) != 23 || page["totalPages"].(float64) != 3 || page["number"].(float64) != 0 {
		t.Fatalf("page: %v", page)
	}
	rels := map[string]string{}
	for _, l := range first["links"].([]any) {
		lm := l.(map[string]any)
		rels[lm["rel"].(string)] = lm["href"].(string)
	}
	if rels["first"] != app.url+"/orchestrator/deployments?page=0&size=10" || rels["next"] != app.url+"/orchestrator/deployments?page=1&size=10" ||
		rels["last"] != app.url+"/orchestrator/deployments?page=2&size=10" || rels["prev"] != "" || rels["self"] == "" {
		t.Fatalf("links: %v", rels)
	}
	if c := first["content"].([]any); c[0].(map[string]any)["uuid"] != aliceIDs[22] {
		t.Fatal("newest first")
	}
	// orchent and the dashboard walk every page once, in order.
	for name, got := range map[string][]string{
		"orchent":   uuidsOf(newOrchent(t, app, alice).depls("me", "")),
		"dashboard": uuidsOfMaps(newDashboard(t, app, alice).getDeployments("me", "")),
	} {
		if len(got) != 23 || got[0] != aliceIDs[22] || got[22] != aliceIDs[0] {
			t.Fatalf("%s saw %d deployments", name, len(got))
		}
	}
	last := app.expect(200, "GET", "/orchestrator/deployments?page=2&sort=createdAt,asc", alice, nil).JSON(t)
	if c := last["content"].([]any); len(c) != 3 || c[2].(map[string]any)["uuid"] != aliceIDs[22] {
		t.Fatalf("ascending, last page: %v", c)
	}
	mustContain(t, fmt.Sprint(last["links"]), "rel:prev", "sort=createdAt%2Casc")

	// Who lists what: a user, their own; an admin, all or someone's.
	aliceIdentity := aliceID + "@orchestrator"
	for _, c := range []struct {
		token, query string
		code, total  int
	}{
		{bob, "", 200, 1}, {bob, "?createdBy=me", 200, 1}, {bob, "?createdBy=" + bobID + "@orchestrator", 200, 1},
		{bob, "?createdBy=" + aliceIdentity, 403, 0}, {bob, "?createdBy=nobody@https://iam.example.org/", 403, 0},
		{admin, "", 200, 24}, {admin, "?createdBy=me", 200, 0}, {admin, "?createdBy=" + aliceIdentity, 200, 23},
		{admin, "?createdBy=nobody@https://iam.example.org/", 200, 0},
		{bob, "?createdBy=alice", 400, 0}, {bob, "?excludedStatus=BORED", 400, 0}, {bob, "?page=-1", 400, 0},
		{bob, "?size=0", 400, 0}, {bob, "?sort=password", 400, 0}, {bob, "?colour=blue", 400, 0},
		{bob, "?excludedStatus=CREATE_IN_PROGRESS", 200, 0},
		{admin, "?excludedStatus=" + strings.Join(statusNames(), ","), 200, 0},
	} {
		res := app.do("GET", "/orchestrator/deployments"+c.query, c.token, nil)
		if res.Code != c.code {
			t.Fatalf("%s: %d %s", c.query, res.Code, res.Body)
		}
		body := res.JSON(t)
		if c.code != 200 {
			if body["code"].(float64) != float64(c.code) || body["title"] != http.StatusText(c.code) || body["message"] == "" {
				t.Fatalf("INDIGO error: %s", res.Body)
			}
			continue
		}
		if got := int(body["page"].(map[string]any)["totalElements"].(float64)); got != c.total {
			t.Fatalf("%s: %d deployments, want %d", c.query, got, c.total)
		}
	}

	// A deployment with 13 resources: orchent and the dashboard page through them.
	var synced []*store.Resource
	for i := 0; i < 12; i++ {
		synced = append(synced, &store.Resource{Node: "worker", Instance: i, ToscaType: "tosca.nodes.Compute", Kind: "compute",
			Address: fmt.Sprintf("module.worker[%d]", i), CloudID: fmt.Sprintf("server-%d", i), State: store.ResStarted,
			Attributes: map[string]any{"private_address": fmt.Sprintf("10.0.0.%d", i+10), "vcpus": 2}})
	}
	synced = append(synced, &store.Resource{Node: "data", ToscaType: "tosca.nodes.BlockStorage", Kind: "block_storage", Address: "module.data[0]",
		State: store.ResCreated, Attributes: map[string]any{}})
	if err := app.store.Resources.Sync(t.Context(), store.Lease{}, bobs, synced); err != nil {
		t.Fatal(err)
	}
	if got := newOrchent(t, app, bob).resls(bobs); len(got) != 13 {
		t.Fatalf("orchent resls: %d resources", len(got))
	}
	dash := newDashboard(t, app, bob)
	if got := dash.allResults(dash.url + "/deployments/" + bobs + "/resources"); len(got) != 13 {
		t.Fatalf("the dashboard's get_resources: %d", len(got))
	}
	byName := app.expect(200, "GET", "/orchestrator/deployments/"+bobs+"/resources?sort=toscaNodeName,asc&size=1", bob, nil).JSON(t)
	if c := byName["content"].([]any); len(c) != 1 || c[0].(map[string]any)["toscaNodeName"] != "data" ||
		byName["page"].(map[string]any)["totalPages"].(float64) != 13 {
		t.Fatalf("sorted by node name: %v", byName)
	}
	compute := app.expect(200, "GET", "/orchestrator/deployments/"+bobs+"/resources?type=tosca.nodes.Compute&page=1", bob, nil).JSON(t)
	if c := compute["content"].([]any); len(c) != 2 || compute["page"].(map[string]any)["totalElements"].(float64) != 12 {
		t.Fatalf("type filter, page 1: %v", compute)
	}
	meta := compute["content"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
	if meta["vcpus"] != "2" || !strings.HasPrefix(meta["terraformAddress"].(string), "module.worker[") {
		t.Fatalf("metadata: %v", meta)
	}
	app.expect(404, "GET", "/orchestrator/deployments/"+bobs+"/resources", alice, nil)
	app.expect(400, "GET", "/orchestrator/deployments/"+bobs+"/resources?sort=colour", bob, nil)

	// Links follow a trusted proxy, or the configured public URL.
	proxied := newTestApp(t, withIdleEngine(t), func(c *Config, _ *Deps) { c.ClientIPHeader = "X-Forwarded-For" })
	_, tok := proxied.signup("carol")
	res := proxied.do("GET", "/orchestrator/configuration", tok, nil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "paas.example.org")
	if res.JSON(t)["orchestrator_url"] != "https://paas.example.org/orchestrator" {
		t.Fatalf("behind a trusted proxy: %s", res.Body)
	}
	res = app.do("GET", "/orchestrator/configuration", alice, nil, "X-Forwarded-Host", "evil.example.org")
	if res.JSON(t)["orchestrator_url"] != app.url+"/orchestrator" {
		t.Fatalf("an untrusted X-Forwarded-Host: %s", res.Body)
	}
	public := newTestApp(t, withIdleEngine(t), func(c *Config, _ *Deps) { c.PublicURL = "https://paas.example.org/" })
	uid, tok := public.signup("dave")
	d := public.expect(201, "POST", "/orchestrator/deployments", tok, map[string]any{"template": tmpl}).JSON(t)
	if d["links"].([]any)[0].(map[string]any)["href"] != "https://paas.example.org/orchestrator/deployments/"+d["uuid"].(string) ||
		d["createdBy"].(map[string]any)["issuer"] != "https://paas.example.org" {
		t.Fatalf("with a public URL: %v", d)
	}
	if got := public.expect(200, "GET", "/orchestrator/deployments?createdBy="+uid+"@https://paas.example.org", tok, nil).JSON(t); got["page"].(map[string]any)["totalElements"].(float64) != 1 {
		t.Fatalf("createdBy with the public URL as issuer: %v", got)
	}
}

func statusNames() []string {
	var out []string
	for _, s := range store.Statuses {
		out = append(out, string(s))
	}
	return out
}

func uuidsOf(list []orchentDeployment) []string {
	var out []string
	for _, d := range list {
		out = append(out, d.UUID)
	}
	return out
}

func uuidsOfMaps(list []map[string]any) []string {
	var out []string
	for _, d := range list {
		out = append(out, d["uuid"].(string))
	}
	return out
}

// TestIndigo_ResetAStuckDeletion: PATCH {"status":"DELETE_FAILED"} fails a
// deletion whose worker is gone, not one a worker still holds.
func TestIndigo_ResetAStuckDeletion(t *testing.T) {
	t.Parallel() // its own service and database
	app := newTestApp(t, withIdleEngine(t))
	_, token := app.signup("alice")
	ctx := t.Context()
	id := app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate}).JSON(t)["uuid"].(string)
	// A worker creates it, then starts deleting it and dies.
	run, _ := app.store.Runs.Claim(ctx, "worker-1", time.Minute)
	if err := app.store.Runs.Finish(ctx, run.ID, store.Result{Status: store.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	app.expect(204, "DELETE", "/orchestrator/deployments/"+id, token, nil)
	if run, _ = app.store.Runs.Claim(ctx, "worker-2", time.Minute); run == nil {
		t.Fatal("no delete run")
	}
	res := app.expect(422, "PATCH", "/orchestrator/deployments/"+id, token, map[string]string{"status": "CREATE_FAILED"})
	mustContain(t, res.Body, `"code":422`, "only be reset to DELETE_FAILED")
	// orchent depreset uuid, while a worker may still hold the deletion.
	o := newOrchent(t, app, token)
	res = o.send("PATCH", "./deployments/"+id, map[string]string{"status": "DELETE_FAILED"})
	if err := o.receive(res, nil); res.Code != 409 || err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("depreset while held: %d %v", res.Code, err)
	}
	app.clock.Advance(11 * time.Minute) // its heartbeat is stale now
	// The dashboard's patch(DELETE_FAILED), which wants exactly a 204.
	res = newDashboard(t, app, token).send("PATCH", app.url+"/orchestrator/deployments/"+id, "bearer", map[string]string{"status": "DELETE_FAILED"})
	if res.Code != 204 || res.Body != "" {
		t.Fatalf("patch: %d %q", res.Code, res.Body)
	}
	if d := app.expect(200, "GET", "/api/v1/deployments/"+id, token, nil).JSON(t); d["status"] != "DELETE_FAILED" || !strings.Contains(d["status_reason"].(string), "reset by alice") {
		t.Fatalf("after the reset: %v", d)
	}
	// It can be deleted again.
	app.expect(204, "DELETE", "/orchestrator/deployments/"+id, token, nil)
}

// TestIndigo_Errors: INDIGO's error shape everywhere under /orchestrator, with
// the details our own API lists folded into the message.
func TestIndigo_Errors(t *testing.T) {
	t.Parallel() // its own service and database
	app := newTestApp(t, withIdleEngine(t))
	_, token := app.signup("alice")
	for _, c := range []struct {
		method, path, token string
		body                any
		code                int
		message             string
	}{
		{"GET", "/orchestrator/deployments", "", nil, 401, "authentication required"},
		{"GET", "/orchestrator/deployments", "not-a-token", nil, 401, "malformed token"},
		{"GET", "/orchestrator/nothing-here", token, nil, 404, "no route GET /orchestrator/nothing-here"},
		{"GET", "/orchestrator/deployments/" + store.NewID(), token, nil, 404, "not found"},
		{"POST", "/orchestrator/deployments", token, `{"template": `, 400, "malformed JSON"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"parameters": map[string]any{}}, 422, "a TOSCA template must be provided"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"template": "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm:\n      type: tosca.nodes.Compute\n      capabilities:\n        host:\n          properties:\n            num_cpus: lots\n"},
			422, "(line 9, column 23)"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"template": example(t, "single-vm"), "parameters": map[string]any{"num_cpus": 99, "colour": "blue"}},
			422, "inputs.colour"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate, "timeoutMins": 0}, 422, "timeoutMins, if provided, must be a whole number of at least 1"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate, "keepLastAttempt": "maybe"}, 422, "keepLastAttempt"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate, "callback": "https://hooks.example.org/cb"}, 422, "callbacks are disabled"},
		{"POST", "/orchestrator/deployments", token, map[string]any{"template": 42}, 422, "template: expected a string"},
	} {
		res := app.do(c.method, c.path, c.token, c.body)
		var e indigoError
		if err := json.Unmarshal([]byte(res.Body), &e); err != nil || res.Code != c.code || e.Code != c.code || e.Title != http.StatusText(c.code) ||
			!strings.Contains(e.Message, c.message) {
			t.Errorf("%s %s: %d %s (want %d with %q)", c.method, c.path, res.Code, res.Body, c.code, c.message)
		}
	}
	// The dashboard of this service does not answer INDIGO paths.
	if res := app.do("GET", "/orchestrator", "", nil); res.Code != 404 || strings.Contains(res.Body, "<html") {
		t.Fatalf("GET /orchestrator: %d %s", res.Code, res.Body)
	}
}

// TestIndigo_OIDC: an identity from the IdP uses the INDIGO API without ever
// registering (it is registered at its first call); createdBy is (sub, iss);
// userGroup must be one of the token's groups; orpy's "Bearer<jwt>" works.
func TestIndigo_OIDC(t *testing.T) {
	t.Parallel() // its own service and database
	idp := newTestIdP(t)
	app := newTestApp(t, withIdleEngine(t), func(c *Config, _ *Deps) {
		c.OIDC = OIDCConfig{Issuers: []string{idp.srv.URL}}
		c.AllowSignup = false
	})
	now := app.clock.Now()
	tok := idp.token(t, jwt.MapClaims{"iss": idp.srv.URL, "sub": "a1b2-c3", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"preferred_username": "marco", "email": "not an address", "groups": []string{"/physics", "chemistry"}}, nil)

	// orpy's first call: the identity is registered on the spot.
	_, list, err := newOrpy(t, app, tok).request("GET", "./deployments", true, nil)
	if err != nil || len(list.([]any)) != 0 {
		t.Fatalf("first call: %v %v", err, list)
	}
	me := app.expect(200, "GET", "/api/v1/users/me", tok, nil).JSON(t)
	if me["username"] != "marco" || me["email"] != "" {
		t.Fatalf("registered as: %v", me)
	}
	d := app.expect(201, "POST", "/orchestrator/deployments", tok, map[string]any{"template": minimalTemplate, "userGroup": "physics"}).JSON(t)
	if by := d["createdBy"].(map[string]any); by["subject"] != "a1b2-c3" || by["issuer"] != idp.srv.URL || d["userGroup"] != "physics" {
		t.Fatalf("created: %v", d)
	}
	res := app.expect(403, "POST", "/orchestrator/deployments", tok, map[string]any{"template": minimalTemplate, "userGroup": "biology"})
	mustContain(t, res.Body, "not one of the groups in your token")
	app.expect(403, "GET", "/orchestrator/deployments?userGroup=biology", tok, nil)
	got := app.expect(200, "GET", "/orchestrator/deployments?createdBy=a1b2-c3@"+idp.srv.URL+"&userGroup=physics", tok, nil).JSON(t)
	if got["page"].(map[string]any)["totalElements"].(float64) != 1 {
		t.Fatalf("createdBy=sub@iss: %v", got)
	}
	// Routes for registered users only still say so to an unregistered identity.
	other := idp.token(t, jwt.MapClaims{"iss": idp.srv.URL, "sub": "zz", "exp": now.Add(time.Hour).Unix()}, nil)
	app.expect(403, "GET", "/api/v1/deployments", other, nil)
	app.expect(200, "GET", "/orchestrator/configuration", other, nil)
	app.expect(403, "GET", "/api/v1/deployments", other, nil) // /configuration registers nobody
}

// TestBearerWithoutSpace: orpy writes "Bearer" and the token with no space.
func TestBearerWithoutSpace(t *testing.T) {
	t.Parallel() // its own service and database
	app := newTestApp(t)
	_, token := app.signup("alice")
	for header, code := range map[string]int{"Bearer" + token: 200, "bearer " + token: 200, "Bearer": 401, "Basic " + token: 401, "Bearerx": 401} {
		if res := app.replay("GET", app.url+"/api/v1/users/me", nil, "Authorization", header); res.Code != code {
			t.Errorf("%.12s…: %d, want %d", header, res.Code, code)
		}
	}
}

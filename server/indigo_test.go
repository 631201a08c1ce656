package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"orchestrator/store"
)

// TestIndigo_Orchent replays an orchent session against the real service and
// real Terraform: test, depcreate, depls, depshow -v, deptemplate, deplog,
// resls, resshow, depupdate, depreset, depdel. The deployment it creates is the
// same deployment in /api/v1.
func TestIndigo_Orchent(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	userID, token := app.signup("scientist")
	o := newOrchent(t, app, token)

	// orchent test: GET ./info decodes into orchent's OrchentInfo.
	var info struct {
		Version  string `json:"projectVersion"`
		Hostname string `json:"serverHostname"`
		Revision string `json:"projectRevision"`
		Time     string `json:"projectTimestamp"`
	}
	if err := o.receive(o.send("GET", "./info", nil), &info); err != nil || info.Version != "test" || info.Hostname != "127.0.0.1" || info.Time == "" {
		t.Fatalf("orchent test: %v %+v", err, info)
	}

	// orchent depcreate template.yaml '{"num_cpus": 1, "volume_size": "2 GB"}'
	tmpl := example(t, "vm-with-volume")
	res := o.send("POST", "./deployments", orchentCreateRequest{Template: tmpl, Parameters: map[string]any{"num_cpus": 1, "volume_size": "2 GB"},
		KeepLastAttempt: "true"})
	if res.Code != 201 {
		t.Fatalf("depcreate: %d %s", res.Code, res.Body)
	}
	var dep orchentDeployment
	if err := o.receive(res, &dep); err != nil {
		t.Fatal(err)
	}
	self := app.url + "/orchestrator/deployments/" + dep.UUID
	if dep.Status != "CREATE_IN_PROGRESS" || dep.Task != "DEPLOYER" || dep.CloudProviderName != "local" || dep.Callback != "" ||
		dep.CreatedBy != (indigoIdentity{Subject: userID, Issuer: "orchestrator"}) || dep.CloudProviderEndpoint["deploymentType"] != "LOCAL" {
		t.Fatalf("created: %s", res.Body)
	}
	checkOrchentTime(t, dep.CreationTime)
	checkOrchentTime(t, dep.UpdateTime)
	for rel, want := range map[string]string{"self": self, "resources": self + "/resources", "template": self + "/template"} {
		if l := orchentLinkOf(rel, dep.Links); l == nil || l.HRef != want {
			t.Fatalf("link %s: %v", rel, dep.Links)
		}
	}
	// The same deployment in the service's own API.
	ours := app.expect(200, "GET", "/api/v1/deployments/"+dep.UUID, token, nil).JSON(t)
	if ours["target"] != "local" || ours["owners"].([]any)[0] != userID || ours["inputs"].(map[string]any)["volume_size"] != "2 GB" {
		t.Fatalf("in /api/v1: %v", ours)
	}

	// orchent depls and depls -c me list it.
	for _, by := range []string{"", "me"} {
		if list := o.depls(by, ""); len(list) != 1 || list[0].UUID != dep.UUID {
			t.Fatalf("depls -c %q: %+v", by, list)
		}
	}

	app.waitFor(dep.UUID, token, store.CreateComplete)
	// orchent depshow -v: the deployment, then the extra info it indents as JSON.
	var shown orchentDeployment
	if err := o.receive(o.send("GET", "./deployments/"+dep.UUID, nil), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Status != "CREATE_COMPLETE" || shown.Task != "NONE" || shown.Outputs == nil || shown.UUID != dep.UUID {
		t.Fatalf("depshow: %+v", shown)
	}
	extra := o.send("GET", "./deployments/"+dep.UUID+"/extrainfo", nil)
	var indented bytes.Buffer
	if extra.Code != 200 || json.Indent(&indented, []byte(extra.Body), "  ", "  ") != nil || !strings.Contains(extra.Body, `"toscaNodeName":"server"`) {
		t.Fatalf("extrainfo: %d %s", extra.Code, extra.Body)
	}

	// orchent deptemplate prints the body as it comes; deplog too.
	if got := o.send("GET", "./deployments/"+dep.UUID+"/template", nil); got.Code != 200 || got.Body != tmpl ||
		!strings.HasPrefix(got.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("deptemplate: %d %q", got.Code, got.Header.Get("Content-Type"))
	}
	logText := o.send("GET", "./deployments/"+dep.UUID+"/log", nil)
	if logText.Code != 200 || !strings.Contains(logText.Body, "orchestrator: create run") || !strings.Contains(logText.Body, " terraform: ") {
		t.Fatalf("deplog: %d\n%s", logText.Code, logText.Body)
	}

	// orchent resls and resshow: the volume is required by the server.
	var resources orchentResourceList
	if err := o.receive(o.send("GET", "./deployments/"+dep.UUID+"/resources", nil), &resources); err != nil {
		t.Fatal(err)
	}
	byNode := map[string]orchentResource{}
	for _, r := range resources.Resources {
		byNode[r.ToscaNodeName] = r
		checkOrchentTime(t, r.CreationTime)
	}
	server, data := byNode["server"], byNode["data"]
	if len(resources.Resources) != 2 || server.State != "STARTED" || server.ToscaNodeType != "tosca.nodes.Compute" ||
		len(data.RequiredBy) != 1 || data.RequiredBy[0] != server.UUID || len(server.RequiredBy) != 0 || resources.Page.TotalElements != 2 {
		t.Fatalf("resls: %+v", resources)
	}
	if l := orchentLinkOf("deployment", server.Links); l == nil || l.HRef != self {
		t.Fatalf("resource links: %v", server.Links)
	}
	var one orchentResource
	if err := o.receive(o.send("GET", "./deployments/"+dep.UUID+"/resources/"+data.UUID, nil), &one); err != nil || one.UUID != data.UUID ||
		orchentLinkOf("self", one.Links).HRef != self+"/resources/"+data.UUID {
		t.Fatalf("resshow: %v %+v", err, one)
	}

	// orchent depupdate uuid template.yaml '{"num_cpus": 2}': sling decodes the
	// 202's body, and the parameters are merged over the current inputs.
	var updated orchentDeployment
	res = o.send("PUT", "./deployments/"+dep.UUID, orchentCreateRequest{Template: tmpl, Parameters: map[string]any{"num_cpus": 2}, KeepLastAttempt: "true"})
	if err := o.receive(res, &updated); res.Code != 202 || err != nil || updated.Status != "UPDATE_IN_PROGRESS" {
		t.Fatalf("depupdate: %d %v %s", res.Code, err, res.Body)
	}
	app.waitFor(dep.UUID, token, store.UpdateComplete)
	inputs := app.expect(200, "GET", "/api/v1/deployments/"+dep.UUID, token, nil).JSON(t)["inputs"].(map[string]any)
	if inputs["num_cpus"].(float64) != 2 || inputs["volume_size"] != "2 GB" {
		t.Fatalf("merged inputs: %v", inputs)
	}
	var after orchentResourceList
	o.receive(o.send("GET", "./deployments/"+dep.UUID+"/resources", nil), &after)
	for _, r := range after.Resources {
		if r.UUID != byNode[r.ToscaNodeName].UUID {
			t.Fatalf("an in-place update keeps the resources: %+v", after)
		}
	}

	// orchent depreset uuid: only a deletion in progress can be reset; orchent
	// prints INDIGO's error.
	res = o.send("PATCH", "./deployments/"+dep.UUID, map[string]string{"status": "DELETE_FAILED"})
	if err := o.receive(res, nil); res.Code != 409 || err == nil || !strings.Contains(err.Error(), "Error 'Conflict' [409]: cannot reset a deployment in UPDATE_COMPLETE") {
		t.Fatalf("depreset: %d %v", res.Code, err)
	}

	// orchent depdel uuid (force=false is always in the query).
	res = o.send("DELETE", "./deployments/"+dep.UUID+"?force=false", nil)
	if err := o.receive(res, nil); res.Code != 204 || err != nil {
		t.Fatalf("depdel: %d %v", res.Code, err)
	}
	app.waitFor(dep.UUID, token, store.DeleteComplete)
	if list := o.depls("me", ""); len(list) != 0 {
		t.Fatalf("a deleted deployment is listed: %+v", list)
	}
	res = o.send("DELETE", "./deployments/"+dep.UUID+"?force=true", nil)
	if err := o.receive(res, nil); res.Code != 409 || err == nil {
		t.Fatalf("deleting twice: %d %v", res.Code, err)
	}
	res = o.send("GET", "./deployments/"+store.NewID(), nil)
	if err := o.receive(res, &shown); res.Code != 404 || err == nil || !strings.Contains(err.Error(), "Error 'Not Found' [404]") {
		t.Fatalf("unknown deployment: %d %v", res.Code, err)
	}
	if app.validator.count < 20 {
		t.Fatalf("only %d responses were checked against the OpenAPI document", app.validator.count)
	}
}

// TestIndigo_Orpy replays orpy's commands: info (unauthenticated), configuration
// show, deployment create/list/show/template/update/delete, resource list/show,
// with orpy's "Bearer<token>" and its trailing slashes.
func TestIndigo_Orpy(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	_, token := app.signup("scientist")
	o := newOrpy(t, app, token)

	// orpy info: not authenticated.
	_, info, err := o.request("GET", "./info", false, nil)
	if err != nil || info.(map[string]any)["projectVersion"] != "test" {
		t.Fatalf("orpy info: %v %v", err, info)
	}
	// orpy configuration show.
	_, conf, err := o.request("GET", "./configuration", true, nil)
	if err != nil || conf.(map[string]any)["orchestrator_url"] != app.url+"/orchestrator" {
		t.Fatalf("orpy configuration show: %v %v", err, conf)
	}

	// orpy deployment create template.yaml num_cpus=1: the misspelt
	// keepLastAttemp is ignored, parameters come as strings.
	tmpl := example(t, "single-vm")
	res, created, err := o.request("POST", "./deployments/", true, map[string]any{"template": tmpl, "keepLastAttemp": true,
		"parameters": map[string]any{"num_cpus": "1", "vm_name": "orpy-vm"}})
	if err != nil || res.Code != 201 {
		t.Fatalf("orpy deployment create: %v %s", err, res.Body)
	}
	id := created.(map[string]any)["uuid"].(string)
	app.waitFor(id, token, store.CreateComplete)

	// orpy deployment list: the columns it shows.
	_, list, err := o.request("GET", "./deployments", true, nil)
	if err != nil || len(list.([]any)) != 1 {
		t.Fatalf("orpy deployment list: %v %v", err, list)
	}
	row := list.([]any)[0].(map[string]any)
	for _, col := range []string{"uuid", "status", "task", "creationTime", "createdBy", "cloudProviderName"} {
		if row[col] == nil {
			t.Fatalf("orpy's column %s is missing: %v", col, row)
		}
	}
	// orpy deployment show (table format): links, cloudProviderEndpoint and
	// createdBy are read with d[...] and formatted as dicts.
	_, shown, err := o.request("GET", "./deployments/"+id, true, nil)
	d := shown.(map[string]any)
	if err != nil || d["status"] != "CREATE_COMPLETE" {
		t.Fatalf("orpy deployment show: %v %v", err, shown)
	}
	if _, ok := d["links"].([]any); !ok {
		t.Fatalf("links: %v", d)
	}
	for _, k := range []string{"cloudProviderEndpoint", "createdBy"} {
		if _, ok := d[k].(map[string]any); !ok {
			t.Fatalf("%s: %v", k, d)
		}
	}
	// orpy deployment template: GET .../template/ with a trailing slash; the YAML
	// is not JSON, so orpy keeps the text.
	_, text, err := o.request("GET", "./deployments/"+id+"/template/", true, nil)
	if err != nil || text != tmpl {
		t.Fatalf("orpy deployment template: %v %v", err, text)
	}
	// orpy resource list and show.
	_, resources, err := o.request("GET", "./deployments/"+id+"/resources/", true, nil)
	if err != nil || len(resources.([]any)) != 1 {
		t.Fatalf("orpy resource list: %v %v", err, resources)
	}
	r := resources.([]any)[0].(map[string]any)
	for _, col := range []string{"uuid", "state", "toscaNodeType", "toscaNodeName", "creationTime", "requiredBy"} {
		if r[col] == nil {
			t.Fatalf("orpy's column %s is missing: %v", col, r)
		}
	}
	_, res1, err := o.request("GET", "./deployments/"+id+"/resources/"+r["uuid"].(string), true, nil)
	if err != nil || res1.(map[string]any)["links"] == nil || res1.(map[string]any)["toscaNodeName"] != "vm" {
		t.Fatalf("orpy resource show pops links: %v %v", err, res1)
	}

	// orpy deployment update: the answer is shown as the deployment.
	_, upd, err := o.request("PUT", "./deployments/"+id, true, map[string]any{"template": tmpl, "keepLastAttemp": true,
		"parameters": map[string]any{"num_cpus": "2"}})
	if err != nil || upd.(map[string]any)["status"] != "UPDATE_IN_PROGRESS" {
		t.Fatalf("orpy deployment update: %v %v", err, upd)
	}
	app.waitFor(id, token, store.UpdateComplete)
	if got := app.expect(200, "GET", "/api/v1/deployments/"+id, token, nil).JSON(t)["inputs"].(map[string]any); got["vm_name"] != "orpy-vm" {
		t.Fatalf("inputs after the update: %v", got)
	}

	// orpy's errors: 404 for someone else's deployment, with INDIGO's message.
	_, stranger := app.signup("stranger")
	if _, _, err := newOrpy(t, app, stranger).request("GET", "./deployments/"+id, true, nil); err == nil ||
		err.(*orpyError).code != 404 || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a stranger's orpy deployment show: %v", err)
	}
	// orpy deployment delete: an empty 204.
	res, _, err = o.request("DELETE", "./deployments/"+id, true, nil)
	if err != nil || res.Code != 204 || res.Body != "" {
		t.Fatalf("orpy deployment delete: %v %d %q", err, res.Code, res.Body)
	}
	app.waitFor(id, token, store.DeleteComplete)
}

// TestIndigo_Dashboard replays the INFN orchestrator-dashboard's client: create
// with a callback (delivered when the deployment is complete), the lists it
// syncs from, template, log, extra info, resources, a stop action, update,
// delete with force, and the reset of a stuck deletion.
func TestIndigo_Dashboard(t *testing.T) {
	hook := newCallbackSink(t)
	app := newTestApp(t, withEngine(t), withCallbacks(true, "127.0.0.1"))
	_, token := app.signup("scientist")
	dash := newDashboard(t, app, token)

	res := dash.create("", example(t, "single-vm"), map[string]any{"num_cpus": "2", "mem_size": "4 GB"}, hook.url+"/callback")
	if res.Code != 201 {
		t.Fatalf("create: %d %s", res.Code, res.Body)
	}
	created := res.JSON(t)
	checkDashboardReads(t, created)
	id := created["uuid"].(string)
	if created["callback"] != hook.url+"/callback" {
		t.Fatalf("callback: %v", created["callback"])
	}

	// The callback arrives with the deployment complete: what /callback reads.
	got := hook.next(t)
	if got.path != "/callback" || got.contentType != "application/json" {
		t.Fatalf("callback request: %+v", got)
	}
	checkDashboardReads(t, got.body)
	if got.body["uuid"] != id || got.body["status"] != "CREATE_COMPLETE" || got.body["task"] != "NONE" ||
		got.body["outputs"].(map[string]any)["public_ip"] == nil {
		t.Fatalf("callback payload: %v", got.body)
	}
	app.waitFor(id, token, store.CreateComplete)

	// The lists it syncs its database from: "me" and the active statuses.
	actives := "CREATE_COMPLETE,CREATE_IN_PROGRESS,CREATE_FAILED,UPDATE_COMPLETE,UPDATE_IN_PROGRESS,UPDATE_FAILED,DELETE_IN_PROGRESS,DELETE_FAILED"
	excludeDeleted := "DELETE_COMPLETE"
	for _, q := range [][2]string{{"me", excludeDeleted}, {"", excludeDeleted}, {"me", ""}} {
		list := dash.getDeployments(q[0], q[1])
		if len(list) != 1 || list[0]["uuid"] != id {
			t.Fatalf("get_deployments(%q, %q): %v", q[0], q[1], list)
		}
		checkDashboardReads(t, list[0])
	}
	if list := dash.getDeployments("me", actives); len(list) != 0 {
		t.Fatalf("excluding every active status: %v", list)
	}

	// Template, log and extra info as text.
	for _, part := range []string{"template", "log", "extrainfo"} {
		if r := dash.send("GET", dash.url+"/deployments/"+id+"/"+part, "Bearer", nil); r.Code != 200 || r.Body == "" {
			t.Fatalf("%s: %d", part, r.Code)
		}
	}
	var job []map[string]any
	if err := json.Unmarshal([]byte(dash.send("GET", dash.url+"/deployments/"+id+"/extrainfo", "Bearer", nil).Body), &job); err != nil || len(job) != 1 {
		t.Fatalf("the dashboard json.loads the extra info: %v %v", err, job)
	}

	// Resources, one resource, and a stop action on it.
	resources := dash.allResults(dash.url + "/deployments/" + id + "/resources")
	if len(resources) != 1 || resources[0]["toscaNodeName"] != "vm" {
		t.Fatalf("get_resources: %v", resources)
	}
	vmID := resources[0]["uuid"].(string)
	if r := dash.send("GET", dash.url+"/deployments/"+id+"/resources/"+vmID, "Bearer", nil); r.Code != 200 || r.JSON(t)["uuid"] != vmID {
		t.Fatalf("get_resource: %d %s", r.Code, r.Body)
	}
	if typed := dash.allResults(dash.url + "/deployments/" + id + "/resources?type=tosca.nodes.Compute"); len(typed) != 1 {
		t.Fatalf("type filter: %v", typed)
	}
	if typed := dash.allResults(dash.url + "/deployments/" + id + "/resources?type=tosca.nodes.BlockStorage"); len(typed) != 0 {
		t.Fatalf("type filter: %v", typed)
	}
	if r := dash.send("POST", dash.url+"/deployments/"+id+"/resources/"+vmID+"/actions", "Bearer", map[string]string{"type": "stop"}); r.Code != 202 || r.Body != "" {
		t.Fatalf("post_action: %d %s", r.Code, r.Body)
	}
	waitForResource(t, app, token, id, vmID, "STOPPED")
	if r := dash.send("POST", dash.url+"/deployments/"+id+"/resources/"+vmID+"/actions", "Bearer", map[string]string{"type": "explode"}); r.Code != 422 ||
		!strings.Contains(r.Body, "type must be start, stop or reboot") {
		t.Fatalf("a bad action: %d %s", r.Code, r.Body)
	}
	if r := dash.send("POST", dash.url+"/deployments/"+id+"/resources/"+vmID+"/actions", "Bearer", map[string]string{"type": "start"}); r.Code != 202 {
		t.Fatalf("start: %d %s", r.Code, r.Body)
	}
	waitForResource(t, app, token, id, vmID, "STARTED")

	// Update (only response.ok counts), then the callback of UPDATE_COMPLETE.
	if r := dash.update(id, example(t, "single-vm"), map[string]any{"num_cpus": 4}, hook.url+"/callback"); r.Code != 202 {
		t.Fatalf("update: %d %s", r.Code, r.Body)
	}
	if got := hook.next(t); got.body["status"] != "UPDATE_COMPLETE" {
		t.Fatalf("update callback: %v", got.body)
	}
	app.waitFor(id, token, store.UpdateComplete)

	// patch(DELETE_FAILED) wants a 204; on a deployment not being deleted it gets a 409.
	if r := dash.send("PATCH", dash.url+"/deployments/"+id, "bearer", map[string]string{"status": "DELETE_FAILED"}); r.Code != 409 {
		t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
	// delete(force=true): a JSON list in the body, ignored.
	if r := dash.deleteDeployment(id, true); r.Code != 204 {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	if got := hook.next(t); got.body["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete callback: %v", got.body)
	}
	app.waitFor(id, token, store.DeleteComplete)
	if list := dash.getDeployments("me", excludeDeleted); len(list) != 0 {
		t.Fatalf("deleted ones are excluded: %v", list)
	}
	if list := dash.getDeployments("me", actives); len(list) != 1 || list[0]["status"] != "DELETE_COMPLETE" {
		t.Fatalf("only DELETE_COMPLETE: %v", list)
	}
	// The deployment's log tells what became of each callback.
	logs := app.expect(200, "GET", "/api/v1/deployments/"+id+"/logs?size=1000", token, nil)
	mustContain(t, logs.Body, "callback for CREATE_COMPLETE to "+strings.TrimPrefix(hook.url, "http://")+" delivered (HTTP 200)")

	// getorchestratorconfiguration: "bearer", a JSON object.
	if r := dash.send("GET", dash.url+"/configuration", "bearer", nil); r.Code != 200 || r.JSON(t)["api_url"] != app.url+"/api/v1" {
		t.Fatalf("configuration: %d %s", r.Code, r.Body)
	}
}

func waitForResource(t *testing.T, app *testApp, token, id, rid, state string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := app.expect(200, "GET", "/orchestrator/deployments/"+id+"/resources/"+rid, token, nil).JSON(t)
		if r["state"] == state {
			return
		}
	}
	t.Fatalf("resource %s never became %s", rid, state)
}

// TestIndigo_SameDeploymentBothWays creates through each API and reads through
// the other.
func TestIndigo_SameDeploymentBothWays(t *testing.T) {
	app := newTestApp(t, withIdleEngine(t))
	_, token := app.signup("alice")
	tmpl := example(t, "single-vm")

	ours := app.expect(202, "POST", "/api/v1/deployments", token, map[string]any{"template": tmpl, "inputs": map[string]any{"num_cpus": 3},
		"description": "made here"}).JSON(t)
	theirs := app.expect(200, "GET", "/orchestrator/deployments/"+ours["id"].(string), token, nil).JSON(t)
	created, _ := time.Parse(time.RFC3339Nano, ours["created_at"].(string))
	if theirs["uuid"] != ours["id"] || theirs["status"] != ours["status"] || theirs["cloudProviderName"] != ours["target"] ||
		theirs["creationTime"] != indigoTime(created) {
		t.Fatalf("ours %v\ntheirs %v", ours, theirs)
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
	if len(list) != 2 {
		t.Fatalf("our list: %d", len(list))
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
	if err := app.store.Resources.Sync(t.Context(), bobs, synced); err != nil {
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
	app := newTestApp(t, withIdleEngine(t))
	_, token := app.signup("alice")
	ctx := t.Context()
	id := app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate}).JSON(t)["uuid"].(string)
	// A worker creates it, then starts deleting it and dies.
	run, _ := app.store.Runs.Claim(ctx, "worker-1")
	if err := app.store.Runs.Finish(ctx, run.ID, store.Result{Status: store.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	app.expect(204, "DELETE", "/orchestrator/deployments/"+id, token, nil)
	if run, _ = app.store.Runs.Claim(ctx, "worker-2"); run == nil {
		t.Fatal("no delete run")
	}
	res := app.expect(422, "PATCH", "/orchestrator/deployments/"+id, token, map[string]string{"status": "CREATE_FAILED"})
	mustContain(t, res.Body, `"code":422`, "only be reset to DELETE_FAILED")
	res = app.expect(409, "PATCH", "/orchestrator/deployments/"+id, token, map[string]string{"status": "DELETE_FAILED"})
	mustContain(t, res.Body, "still running")
	app.clock.Advance(11 * time.Minute) // its heartbeat is stale now
	res = app.expect(204, "PATCH", "/orchestrator/deployments/"+id, token, map[string]string{"status": "DELETE_FAILED"})
	if res.Body != "" {
		t.Fatalf("a 204 with a body: %q", res.Body)
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
	app := newTestApp(t)
	_, token := app.signup("alice")
	for header, code := range map[string]int{"Bearer" + token: 200, "bearer " + token: 200, "Bearer": 401, "Basic " + token: 401, "Bearerx": 401} {
		if res := app.replay("GET", app.url+"/api/v1/users/me", nil, "Authorization", header); res.Code != code {
			t.Errorf("%.12s…: %d, want %d", header, res.Code, code)
		}
	}
}

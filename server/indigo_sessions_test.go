package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"orchestrator/store"
)

// TestIndigo_Clients replays an orchent session, an orpy session and the INFN
// dashboard's, side by side on one service with real Terraform, each user on a
// deployment of their own: every request as the client builds it, every field
// it reads. The sessions move in step (create, read, update, delete) so that
// their Terraform runs overlap. Each deployment is the same one in /api/v1.
func TestIndigo_Clients(t *testing.T) {
	t.Parallel() // its own service and database
	hook := newCallbackSink(t)
	app := newTestApp(t, withEngine(t), withCallbacks(true, "127.0.0.1"))
	oc := newOrchentSession(t, app)
	op := newOrpySession(t, app)
	dc := newDashboardSession(t, app, hook)

	oc.create()
	op.create()
	dc.create()
	app.waitFor(oc.id, oc.token, store.CreateComplete)
	app.waitFor(op.id, op.token, store.CreateComplete)
	app.waitFor(dc.id, dc.token, store.CreateComplete)

	oc.read()
	op.read()
	dc.read() // ends with a stop action queued
	dc.startAgain()

	oc.update()
	op.update()
	dc.update()
	app.waitFor(oc.id, oc.token, store.UpdateComplete)
	app.waitFor(op.id, op.token, store.UpdateComplete)
	app.waitFor(dc.id, dc.token, store.UpdateComplete)
	oc.updated()
	op.updated()
	dc.updated()

	oc.remove()
	op.remove()
	dc.remove()
	app.waitFor(oc.id, oc.token, store.DeleteComplete)
	app.waitFor(op.id, op.token, store.DeleteComplete)
	app.waitFor(dc.id, dc.token, store.DeleteComplete)
	oc.removed()
	dc.removed()
	if app.validator.count < 60 {
		t.Fatalf("only %d responses were checked against the OpenAPI document", app.validator.count)
	}
}

// ---- orchent: test, depcreate, depls, depshow -v, deptemplate, deplog, resls,
// resshow, depupdate, depreset, depdel ----

type orchentSession struct {
	*orchent
	userID, id, tmpl, self string
	resources              map[string]orchentResource
}

func newOrchentSession(t *testing.T, app *testApp) *orchentSession {
	userID, token := app.signup("orchent-user")
	return &orchentSession{orchent: newOrchent(t, app, token), userID: userID, tmpl: example(t, "vm-with-volume")}
}

func (o *orchentSession) create() {
	t, app := o.t, o.app
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
	// orchent showconf: a map of strings.
	var conf map[string]string
	if err := o.receive(o.send("GET", "./configuration", nil), &conf); err != nil || conf["orchestrator_url"] != app.url+"/orchestrator" {
		t.Fatalf("orchent showconf: %v %v", err, conf)
	}
	// orchent depcreate template.yaml '{"num_cpus": 1, "volume_size": "2 GB"}'
	res := o.send("POST", "./deployments", orchentCreateRequest{Template: o.tmpl, Parameters: map[string]any{"num_cpus": 1, "volume_size": "2 GB"},
		KeepLastAttempt: "true"})
	var dep orchentDeployment
	if err := o.receive(res, &dep); res.Code != 201 || err != nil {
		t.Fatalf("depcreate: %d %v %s", res.Code, err, res.Body)
	}
	o.id = dep.UUID
	o.self = app.url + "/orchestrator/deployments/" + dep.UUID
	if dep.Status != "CREATE_IN_PROGRESS" || dep.Task != "DEPLOYER" || dep.CloudProviderName != "local" || dep.Callback != "" ||
		dep.CreatedBy != (indigoIdentity{Subject: o.userID, Issuer: "orchestrator"}) || dep.CloudProviderEndpoint["deploymentType"] != "LOCAL" {
		t.Fatalf("created: %s", res.Body)
	}
	checkOrchentTime(t, dep.CreationTime)
	checkOrchentTime(t, dep.UpdateTime)
	for rel, want := range map[string]string{"self": o.self, "resources": o.self + "/resources", "template": o.self + "/template"} {
		if l := orchentLinkOf(rel, dep.Links); l == nil || l.HRef != want {
			t.Fatalf("link %s: %v", rel, dep.Links)
		}
	}
	// The same deployment in the service's own API.
	ours := app.expect(200, "GET", "/api/v1/deployments/"+o.id, o.token, nil).JSON(t)
	if ours["target"] != "local" || ours["owners"].([]any)[0] != o.userID || ours["inputs"].(map[string]any)["volume_size"] != "2 GB" {
		t.Fatalf("in /api/v1: %v", ours)
	}
	// orchent depls and depls -c me list it.
	for _, by := range []string{"", "me"} {
		if list := o.depls(by, ""); len(list) != 1 || list[0].UUID != o.id {
			t.Fatalf("depls -c %q: %+v", by, list)
		}
	}
}

func (o *orchentSession) read() {
	t := o.t
	// orchent depshow -v: the deployment, then the extra info it indents as JSON.
	var shown orchentDeployment
	if err := o.receive(o.send("GET", "./deployments/"+o.id, nil), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Status != "CREATE_COMPLETE" || shown.Task != "NONE" || shown.Outputs["server_ip"] == nil || shown.UUID != o.id || shown.PhysicalID != o.id {
		t.Fatalf("depshow: %+v", shown)
	}
	extra := o.send("GET", "./deployments/"+o.id+"/extrainfo", nil)
	var indented bytes.Buffer
	if extra.Code != 200 || json.Indent(&indented, []byte(extra.Body), "  ", "  ") != nil || !strings.Contains(extra.Body, `"toscaNodeName":"server"`) {
		t.Fatalf("extrainfo: %d %s", extra.Code, extra.Body)
	}
	// orchent deptemplate and deplog print the body as it comes.
	if got := o.send("GET", "./deployments/"+o.id+"/template", nil); got.Code != 200 || got.Body != o.tmpl ||
		!strings.HasPrefix(got.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("deptemplate: %d %q", got.Code, got.Header.Get("Content-Type"))
	}
	logText := o.send("GET", "./deployments/"+o.id+"/log", nil)
	if logText.Code != 200 || !strings.Contains(logText.Body, "orchestrator: create run") || !strings.Contains(logText.Body, " terraform: ") {
		t.Fatalf("deplog: %d\n%s", logText.Code, logText.Body)
	}
	// orchent resls and resshow: the volume is required by the server.
	list := o.resls(o.id)
	o.resources = map[string]orchentResource{}
	for _, r := range list {
		o.resources[r.ToscaNodeName] = r
		checkOrchentTime(t, r.CreationTime)
	}
	server, data := o.resources["server"], o.resources["data"]
	if len(list) != 2 || server.State != "STARTED" || server.ToscaNodeType != "tosca.nodes.Compute" ||
		len(data.RequiredBy) != 1 || data.RequiredBy[0] != server.UUID || len(server.RequiredBy) != 0 {
		t.Fatalf("resls: %+v", list)
	}
	if l := orchentLinkOf("deployment", server.Links); l == nil || l.HRef != o.self {
		t.Fatalf("resource links: %v", server.Links)
	}
	var one orchentResource
	if err := o.receive(o.send("GET", "./deployments/"+o.id+"/resources/"+data.UUID, nil), &one); err != nil || one.UUID != data.UUID ||
		orchentLinkOf("self", one.Links).HRef != o.self+"/resources/"+data.UUID {
		t.Fatalf("resshow: %v %+v", err, one)
	}
}

// update is `orchent depupdate uuid template.yaml '{"num_cpus": 2}'`: sling
// decodes the 202's body.
func (o *orchentSession) update() {
	var updated orchentDeployment
	res := o.send("PUT", "./deployments/"+o.id, orchentCreateRequest{Template: o.tmpl, Parameters: map[string]any{"num_cpus": 2}, KeepLastAttempt: "true"})
	if err := o.receive(res, &updated); res.Code != 202 || err != nil || updated.Status != "UPDATE_IN_PROGRESS" {
		o.t.Fatalf("depupdate: %d %v %s", res.Code, err, res.Body)
	}
}

func (o *orchentSession) updated() {
	t := o.t
	// The parameters were merged over the current inputs; the same resources.
	inputs := o.app.expect(200, "GET", "/api/v1/deployments/"+o.id, o.token, nil).JSON(t)["inputs"].(map[string]any)
	if inputs["num_cpus"].(float64) != 2 || inputs["volume_size"] != "2 GB" {
		t.Fatalf("merged inputs: %v", inputs)
	}
	for _, r := range o.resls(o.id) {
		if r.UUID != o.resources[r.ToscaNodeName].UUID {
			t.Fatalf("an in-place update keeps the resources: %+v", r)
		}
	}
	// orchent depreset uuid: only a deletion in progress can be reset; orchent
	// prints INDIGO's error.
	res := o.send("PATCH", "./deployments/"+o.id, map[string]string{"status": "DELETE_FAILED"})
	if err := o.receive(res, nil); res.Code != 409 || err == nil || !strings.Contains(err.Error(), "Error 'Conflict' [409]: cannot reset a deployment in UPDATE_COMPLETE") {
		t.Fatalf("depreset: %d %v", res.Code, err)
	}
}

// remove is `orchent depdel uuid` (force=false is always in the query).
func (o *orchentSession) remove() {
	res := o.send("DELETE", "./deployments/"+o.id+"?force=false", nil)
	if err := o.receive(res, nil); res.Code != 204 || err != nil {
		o.t.Fatalf("depdel: %d %v", res.Code, err)
	}
}

func (o *orchentSession) removed() {
	t := o.t
	if list := o.depls("me", ""); len(list) != 0 {
		t.Fatalf("a deleted deployment is listed: %+v", list)
	}
	res := o.send("DELETE", "./deployments/"+o.id+"?force=true", nil)
	if err := o.receive(res, nil); res.Code != 409 || err == nil {
		t.Fatalf("deleting twice: %d %v", res.Code, err)
	}
	var shown orchentDeployment
	res = o.send("GET", "./deployments/"+store.NewID(), nil)
	if err := o.receive(res, &shown); res.Code != 404 || err == nil || !strings.Contains(err.Error(), "Error 'Not Found' [404]") {
		t.Fatalf("unknown deployment: %d %v", res.Code, err)
	}
}

// ---- orpy: info (unauthenticated), configuration show, deployment
// create/list/show/template/update/delete, resource list/show; "Bearer<token>"
// and trailing slashes ----

type orpySession struct {
	*orpy
	id, tmpl string
}

func newOrpySession(t *testing.T, app *testApp) *orpySession {
	_, token := app.signup("orpy-user")
	return &orpySession{orpy: newOrpy(t, app, token), tmpl: example(t, "single-vm")}
}

func (o *orpySession) create() {
	t := o.t
	_, info, err := o.request("GET", "./info", false, nil)
	if err != nil || info.(map[string]any)["projectVersion"] != "test" {
		t.Fatalf("orpy info: %v %v", err, info)
	}
	_, conf, err := o.request("GET", "./configuration", true, nil)
	if err != nil || conf.(map[string]any)["orchestrator_url"] != o.app.url+"/orchestrator" {
		t.Fatalf("orpy configuration show: %v %v", err, conf)
	}
	// orpy deployment create template.yaml num_cpus=1 vm_name=orpy-vm: the
	// misspelt keepLastAttemp is ignored, parameters come as strings.
	res, created, err := o.request("POST", "./deployments/", true, map[string]any{"template": o.tmpl, "keepLastAttemp": true,
		"parameters": map[string]any{"num_cpus": "1", "vm_name": "orpy-vm"}})
	if err != nil || res.Code != 201 {
		t.Fatalf("orpy deployment create: %v %s", err, res.Body)
	}
	o.id = created.(map[string]any)["uuid"].(string)
}

func (o *orpySession) read() {
	t := o.t
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
	_, shown, err := o.request("GET", "./deployments/"+o.id, true, nil)
	d, _ := shown.(map[string]any)
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
	// orpy deployment template: GET .../template/ with a trailing slash; the
	// YAML is not JSON, so orpy keeps the text.
	_, text, err := o.request("GET", "./deployments/"+o.id+"/template/", true, nil)
	if err != nil || text != o.tmpl {
		t.Fatalf("orpy deployment template: %v %v", err, text)
	}
	// orpy resource list and show (show pops "links").
	_, resources, err := o.request("GET", "./deployments/"+o.id+"/resources/", true, nil)
	if err != nil || len(resources.([]any)) != 1 {
		t.Fatalf("orpy resource list: %v %v", err, resources)
	}
	r := resources.([]any)[0].(map[string]any)
	for _, col := range []string{"uuid", "state", "toscaNodeType", "toscaNodeName", "creationTime", "requiredBy"} {
		if r[col] == nil {
			t.Fatalf("orpy's column %s is missing: %v", col, r)
		}
	}
	_, one, err := o.request("GET", "./deployments/"+o.id+"/resources/"+r["uuid"].(string), true, nil)
	if err != nil || one.(map[string]any)["links"] == nil || one.(map[string]any)["toscaNodeName"] != "vm" {
		t.Fatalf("orpy resource show: %v %v", err, one)
	}
	// Someone else's orpy: 404, with INDIGO's message.
	_, stranger := o.app.signup("stranger")
	if _, _, err := newOrpy(t, o.app, stranger).request("GET", "./deployments/"+o.id, true, nil); err == nil ||
		err.(*orpyError).code != 404 || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a stranger's orpy deployment show: %v", err)
	}
}

// update is `orpy deployment update uuid template.yaml num_cpus=2`: the answer
// is shown as the deployment.
func (o *orpySession) update() {
	_, upd, err := o.request("PUT", "./deployments/"+o.id, true, map[string]any{"template": o.tmpl, "keepLastAttemp": true,
		"parameters": map[string]any{"num_cpus": "2"}})
	if err != nil || upd.(map[string]any)["status"] != "UPDATE_IN_PROGRESS" {
		o.t.Fatalf("orpy deployment update: %v %v", err, upd)
	}
}

func (o *orpySession) updated() {
	got := o.app.expect(200, "GET", "/api/v1/deployments/"+o.id, o.token, nil).JSON(o.t)["inputs"].(map[string]any)
	if got["vm_name"] != "orpy-vm" || got["num_cpus"] != "2" {
		o.t.Fatalf("inputs after the update: %v", got)
	}
}

// remove is `orpy deployment delete uuid`: an empty 204.
func (o *orpySession) remove() {
	res, _, err := o.request("DELETE", "./deployments/"+o.id, true, nil)
	if err != nil || res.Code != 204 || res.Body != "" {
		o.t.Fatalf("orpy deployment delete: %v %d %q", err, res.Code, res.Body)
	}
}

// ---- the INFN dashboard: create with a callback, the lists it syncs from,
// template, log, extra info, resources, actions, update, delete with force,
// the reset of a stuck deletion, the configuration ----

type dashboardSession struct {
	*dashboard
	hook           *callbackSink
	id, vmID, tmpl string
}

func newDashboardSession(t *testing.T, app *testApp, hook *callbackSink) *dashboardSession {
	_, token := app.signup("dash-user")
	return &dashboardSession{dashboard: newDashboard(t, app, token), hook: hook, tmpl: example(t, "single-vm")}
}

const (
	excludeDeleted = "DELETE_COMPLETE"
	activeStatuses = "CREATE_COMPLETE,CREATE_IN_PROGRESS,CREATE_FAILED,UPDATE_COMPLETE,UPDATE_IN_PROGRESS,UPDATE_FAILED,DELETE_IN_PROGRESS,DELETE_FAILED"
)

func (d *dashboardSession) create() {
	t := d.t
	res := d.dashboard.create("", d.tmpl, map[string]any{"num_cpus": "2", "mem_size": "4 GB"}, d.hook.url+"/callback")
	if res.Code != 201 {
		t.Fatalf("create: %d %s", res.Code, res.Body)
	}
	created := res.JSON(t)
	checkDashboardReads(t, created)
	d.id = created["uuid"].(string)
	if created["callback"] != d.hook.url+"/callback" {
		t.Fatalf("callback: %v", created["callback"])
	}
}

func (d *dashboardSession) read() {
	t := d.t
	// The callback came with the deployment complete: what /callback reads.
	got := d.hook.next(t)
	if got.path != "/callback" || got.contentType != "application/json" {
		t.Fatalf("callback request: %+v", got)
	}
	checkDashboardReads(t, got.body)
	if got.body["uuid"] != d.id || got.body["status"] != "CREATE_COMPLETE" || got.body["task"] != "NONE" ||
		got.body["outputs"].(map[string]any)["public_ip"] == nil {
		t.Fatalf("callback payload: %v", got.body)
	}
	// The lists it syncs its database from: "me" and the active statuses.
	for _, q := range [][2]string{{"me", excludeDeleted}, {"", excludeDeleted}, {"me", ""}} {
		list := d.getDeployments(q[0], q[1])
		if len(list) != 1 || list[0]["uuid"] != d.id {
			t.Fatalf("get_deployments(%q, %q): %v", q[0], q[1], list)
		}
		checkDashboardReads(t, list[0])
	}
	if list := d.getDeployments("me", activeStatuses); len(list) != 0 {
		t.Fatalf("excluding every active status: %v", list)
	}
	// Template, log and extra info as text; the extra info is json.loads'ed.
	for _, part := range []string{"template", "log", "extrainfo"} {
		if r := d.send("GET", d.url+"/deployments/"+d.id+"/"+part, "Bearer", nil); r.Code != 200 || r.Body == "" {
			t.Fatalf("%s: %d", part, r.Code)
		}
	}
	var job []map[string]any
	if err := json.Unmarshal([]byte(d.send("GET", d.url+"/deployments/"+d.id+"/extrainfo", "Bearer", nil).Body), &job); err != nil || len(job) != 1 {
		t.Fatalf("the extra info: %v %v", err, job)
	}
	// Resources, one resource, the type filter, and a stop action.
	resources := d.allResults(d.url + "/deployments/" + d.id + "/resources")
	if len(resources) != 1 || resources[0]["toscaNodeName"] != "vm" {
		t.Fatalf("get_resources: %v", resources)
	}
	d.vmID = resources[0]["uuid"].(string)
	if r := d.send("GET", d.url+"/deployments/"+d.id+"/resources/"+d.vmID, "Bearer", nil); r.Code != 200 || r.JSON(t)["uuid"] != d.vmID {
		t.Fatalf("get_resource: %d %s", r.Code, r.Body)
	}
	if typed := d.allResults(d.url + "/deployments/" + d.id + "/resources?type=tosca.nodes.Compute"); len(typed) != 1 {
		t.Fatalf("type filter: %v", typed)
	}
	if typed := d.allResults(d.url + "/deployments/" + d.id + "/resources?type=tosca.nodes.BlockStorage"); len(typed) != 0 {
		t.Fatalf("type filter: %v", typed)
	}
	if r := d.action("explode"); r.Code != 422 || !strings.Contains(r.Body, "type must be start, stop or reboot") {
		t.Fatalf("a bad action: %d %s", r.Code, r.Body)
	}
	if r := d.action("stop"); r.Code != 202 || r.Body != "" {
		t.Fatalf("post_action: %d %s", r.Code, r.Body)
	}
	// getorchestratorconfiguration: "bearer", a JSON object.
	if r := d.send("GET", d.url+"/configuration", "bearer", nil); r.Code != 200 || r.JSON(t)["api_url"] != d.app.url+"/api/v1" {
		t.Fatalf("configuration: %d %s", r.Code, r.Body)
	}
}

// action is post_action(): {"type": ...}; only response.ok counts.
func (d *dashboardSession) action(kind string) *response {
	return d.send("POST", d.url+"/deployments/"+d.id+"/resources/"+d.vmID+"/actions", "Bearer", map[string]string{"type": kind})
}

func (d *dashboardSession) startAgain() {
	d.waitResource("STOPPED")
	if r := d.action("start"); r.Code != 202 {
		d.t.Fatalf("start: %d %s", r.Code, r.Body)
	}
	d.waitResource("STARTED")
}

func (d *dashboardSession) waitResource(state string) {
	d.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := d.send("GET", d.url+"/deployments/"+d.id+"/resources/"+d.vmID, "Bearer", nil).JSON(d.t)
		if r["state"] == state {
			return
		}
	}
	d.t.Fatalf("resource %s never became %s", d.vmID, state)
}

func (d *dashboardSession) update() {
	if r := d.dashboard.update(d.id, d.tmpl, map[string]any{"num_cpus": 4}, d.hook.url+"/callback"); r.Code != 202 {
		d.t.Fatalf("update: %d %s", r.Code, r.Body)
	}
}

func (d *dashboardSession) updated() {
	if got := d.hook.next(d.t); got.body["status"] != "UPDATE_COMPLETE" {
		d.t.Fatalf("update callback: %v", got.body)
	}
	// patch(DELETE_FAILED) wants a 204; on a deployment not being deleted, 409.
	if r := d.send("PATCH", d.url+"/deployments/"+d.id, "bearer", map[string]string{"status": "DELETE_FAILED"}); r.Code != 409 {
		d.t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
}

// remove is delete(force=true): a JSON list in the body, ignored.
func (d *dashboardSession) remove() {
	if r := d.deleteDeployment(d.id, true); r.Code != 204 {
		d.t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
}

func (d *dashboardSession) removed() {
	t := d.t
	if got := d.hook.next(t); got.body["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete callback: %v", got.body)
	}
	if list := d.getDeployments("me", excludeDeleted); len(list) != 0 {
		t.Fatalf("deleted ones are excluded: %v", list)
	}
	if list := d.getDeployments("me", activeStatuses); len(list) != 1 || list[0]["status"] != "DELETE_COMPLETE" {
		t.Fatalf("only DELETE_COMPLETE: %v", list)
	}
	// The deployment's log tells what became of each callback.
	logs := d.app.expect(200, "GET", "/api/v1/deployments/"+d.id+"/logs?size=1000", d.token, nil)
	mustContain(t, logs.Body, "callback for CREATE_COMPLETE to "+strings.TrimPrefix(d.hook.url, "http://")+" delivered (HTTP 200)")
}

package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"orchestrator/examples"
	"orchestrator/store"
)

// waitFor polls a deployment until no run works on it, and checks its status.
func (a *testApp) waitFor(id, token string, want store.Status) map[string]any {
	a.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		d := a.expect(200, "GET", "/api/v1/deployments/"+id, token, nil).JSON(a.t)
		status := store.Status(d["status"].(string))
		if !status.InProgress() {
			active, _ := a.store.Runs.Active(a.t.(*testing.T).Context(), id)
			if len(active) == 0 {
				if status != want {
					a.t.Fatalf("deployment %s is %s (%v), want %s", id, status, d["status_reason"], want)
				}
				return d
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("deployment %s did not settle", id)
	return nil
}

type purgeOutcome struct{ deleted, planned float64 }

// purge queues a log purge (DELETE /logs?query: 202 with the job) and follows
// the job until it ends.
func (a *testApp) purge(token, query string) purgeOutcome {
	a.t.Helper()
	res := a.expect(202, "DELETE", "/api/v1/logs?"+query, token, nil)
	job := res.JSON(a.t)
	if res.Header.Get("Location") != "/api/v1/jobs/"+job["id"].(string) {
		a.t.Fatalf("purge: no Location of the job: %v", res.Header)
	}
	for deadline := time.Now().Add(time.Minute); job["status"] == "queued" || job["status"] == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			a.t.Fatalf("the purge job did not end: %v", job)
		}
		job = a.expect(200, "GET", "/api/v1/jobs/"+job["id"].(string), token, nil).JSON(a.t)
	}
	if job["status"] != "succeeded" {
		a.t.Fatalf("purge job: %v", job)
	}
	p := job["progress"].(map[string]any)
	return purgeOutcome{deleted: p["deleted"].(float64), planned: p["planned"].(float64)}
}

// follow reads the log stream until its end event and returns the log lines
// and the end event.
func (a *testApp) follow(id, token, lastEventID string) ([]map[string]any, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.url+"/api/v1/deployments/"+id+"/logs?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		a.t.Fatalf("follow: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var lines []map[string]any
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: "):
			var m map[string]any
			json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &m)
			switch event {
			case "log":
				lines = append(lines, m)
			case "end":
				return lines, m
			}
		}
	}
	a.t.Fatal("the stream ended without an end event")
	return nil, nil
}

func (a *testApp) templateID(token, name string) string {
	a.t.Helper()
	list := a.expect(200, "GET", "/api/v1/templates?name="+name, token, nil).JSON(a.t)
	items := list["items"].([]any)
	if len(items) != 1 {
		a.t.Fatalf("template %s: %d found", name, len(items))
	}
	return items[0].(map[string]any)["id"].(string)
}

func (a *testApp) deploy(token, template string, inputs map[string]any) string {
	a.t.Helper()
	res := a.expect(202, "POST", "/api/v1/deployments", token, map[string]any{"template_id": a.templateID(token, template), "inputs": inputs})
	return res.JSON(a.t)["id"].(string)
}

func items(t *testing.T, r *response) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, x := range r.JSON(t)["items"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestUsersDay(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	_, token := app.signup("scientist")

	// The catalog, with each template's inputs.
	templates := items(t, app.expect(200, "GET", "/api/v1/templates", token, nil))
	if all, _ := examples.All(); len(templates) != len(all) {
		t.Fatalf("catalog: %d templates", len(templates))
	}
	vmID := app.templateID(token, "single-vm")
	tmpl := app.expect(200, "GET", "/api/v1/templates/"+vmID, token, nil)
	mustContain(t, tmpl.Body, `"name":"num_cpus"`, `"type":"integer"`, `{"in_range":[1,16]}`)
	content := app.expect(200, "GET", "/api/v1/templates/"+vmID+"/content", token, nil)
	mustContain(t, content.Body, "tosca_definitions_version")

	// Inputs are checked before anything runs: every bad input is named.
	bad := app.expect(422, "POST", "/api/v1/deployments", token, map[string]any{"template_id": vmID,
		"inputs": map[string]any{"num_cpus": 99, "os_distribution": "windows", "nope": 1}})
	mustContain(t, bad.Body, `"field":"inputs.num_cpus"`, `"field":"inputs.os_distribution"`, `"field":"inputs.nope"`)

	// Submit and follow the logs until the end.
	res := app.expect(202, "POST", "/api/v1/deployments", token, map[string]any{"template_id": vmID,
		"inputs": map[string]any{"num_cpus": 2, "mem_size": "4 GB"}, "description": "my analysis VM", "labels": map[string]string{"project": "genomics"}})
	d := res.JSON(t)
	id := d["id"].(string)
	if d["status"] != "CREATE_IN_PROGRESS" || d["template_id"] != vmID || d["links"].(map[string]any)["logs"] == nil {
		t.Fatalf("submitted: %s", res.Body)
	}
	lines, end := app.follow(id, token, "")
	if end["status"] != "CREATE_COMPLETE" || len(lines) < 5 {
		t.Fatalf("follow ended with %v after %d lines", end, len(lines))
	}
	sources := map[string]bool{}
	for _, l := range lines {
		sources[l["source"].(string)] = true
	}
	if !sources["terraform"] || !sources["orchestrator"] || !sources["tosca2tf"] {
		t.Fatalf("log sources: %v", sources)
	}
	// Resuming after a line skips what was already seen.
	resumed, _ := app.follow(id, token, fmt.Sprint(lines[len(lines)-3]["seq"]))
	if len(resumed) != 2 {
		t.Fatalf("resumed stream has %d lines, want 2", len(resumed))
	}

	// A second and third deployment, to list (the test clock moves between them).
	app.clock.Advance(time.Second)
	other := app.deploy(token, "vm-with-volume", nil)
	app.clock.Advance(time.Second)
	third := app.deploy(token, "single-vm", map[string]any{"vm_name": "third"})
	app.waitFor(other, token, store.CreateComplete)
	app.waitFor(third, token, store.CreateComplete)
	list := app.expect(200, "GET", "/api/v1/deployments?size=2", token, nil).JSON(t)
	page := list["page"].(map[string]any)
	if page["total_items"].(float64) != 3 || page["total_pages"].(float64) != 2 || list["links"].(map[string]any)["next"] == nil {
		t.Fatalf("pagination: %v %v", page, list["links"])
	}
	if first := list["items"].([]any)[0].(map[string]any); first["id"] != third {
		t.Fatalf("newest first: got %s", first["id"])
	}
	next := list["links"].(map[string]any)["next"].(string)
	p2 := items(t, app.expect(200, "GET", next, token, nil))
	if len(p2) != 1 || p2[0]["id"] != id {
		t.Fatalf("page 2: %v", p2)
	}
	filtered := items(t, app.expect(200, "GET", "/api/v1/deployments?label=project=genomics&status=CREATE_COMPLETE&q=ANALYSIS", token, nil))
	if len(filtered) != 1 || filtered[0]["id"] != id {
		t.Fatalf("filters: %v", filtered)
	}
	sorted := items(t, app.expect(200, "GET", "/api/v1/deployments?sort=created_at&fields=id,status", token, nil))
	if len(sorted) != 3 || sorted[0]["id"] != id || len(sorted[0]) != 2 {
		t.Fatalf("sort and projection: %v", sorted)
	}
	app.expect(400, "GET", "/api/v1/deployments?fields=id,secret", token, nil)
	app.expect(400, "GET", "/api/v1/deployments?sort=password", token, nil)
	app.expect(400, "GET", "/api/v1/deployments?size=1001", token, nil)
	app.expect(400, "GET", "/api/v1/deployments?colour=blue", token, nil)

	// Resources, outputs, template, terraform, state.
	resources := items(t, app.expect(200, "GET", "/api/v1/deployments/"+id+"/resources", token, nil))
	if len(resources) != 1 || resources[0]["state"] != "STARTED" || resources[0]["node"] != "vm" || resources[0]["address"] != "module.vm[0]" {
		t.Fatalf("resources: %v", resources)
	}
	vm := resources[0]
	attrs := vm["attributes"].(map[string]any)
	if attrs["flavor"] != "medium" || attrs["public_address"] == nil || attrs["simulated"] != true {
		t.Fatalf("attributes: %v", attrs)
	}
	live := app.expect(200, "GET", "/api/v1/deployments/"+id+"/outputs", token, nil).JSON(t)
	if live["history"] != false {
		t.Fatalf("outputs of a live deployment: %v", live)
	}
	outputs := live["outputs"].(map[string]any)
	if outputs["public_ip"] != attrs["public_address"] {
		t.Fatalf("outputs: %v", outputs)
	}
	app.expect(200, "GET", "/api/v1/deployments/"+id+"/template", token, nil)
	tf := app.expect(200, "GET", "/api/v1/deployments/"+id+"/terraform", token, nil)
	mustContain(t, tf.Body, `"source": "./modules/local/compute"`)
	state := app.expect(200, "GET", "/api/v1/deployments/"+id+"/state", token, nil)
	mustContain(t, state.Body, `"format_version"`, `module.vm[0].terraform_data.server`)
	if strings.Contains(state.Body, "PRIVATE KEY") {
		t.Fatal("the state view leaks a private key")
	}

	// Stop, start, reboot the VM.
	rid := vm["id"].(string)
	for _, step := range []struct{ action, state string }{{"stop", "STOPPED"}, {"start", "STARTED"}, {"reboot", "STARTED"}} {
		run := app.expect(202, "POST", "/api/v1/deployments/"+id+"/resources/"+rid+"/actions", token, map[string]string{"action": step.action}).JSON(t)
		runID := run["id"].(string)
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			r := app.expect(200, "GET", "/api/v1/runs/"+runID, token, nil).JSON(t)
			if r["status"] == "succeeded" {
				break
			}
			if r["status"] == "failed" {
				t.Fatalf("%s failed: %v", step.action, r["error"])
			}
		}
		got := app.expect(200, "GET", "/api/v1/deployments/"+id+"/resources/"+rid, token, nil).JSON(t)
		if got["state"] != step.state {
			t.Fatalf("after %s: %v", step.action, got["state"])
		}
	}
	app.expect(422, "POST", "/api/v1/deployments/"+id+"/resources/"+rid+"/actions", token, map[string]string{"action": "explode"})

	// Plan, then update in place: same cloud id, bigger flavor.
	plan := app.expect(200, "POST", "/api/v1/deployments/"+id+"/plan", token, map[string]any{"inputs": map[string]any{"num_cpus": 4}}).JSON(t)
	if plan["change"].(float64) < 1 || plan["add"].(float64) != 0 {
		t.Fatalf("plan: %v", plan)
	}
	// The preview takes exactly the PUT body: redeploy replaces every resource.
	replan := app.expect(200, "POST", "/api/v1/deployments/"+id+"/plan", token, map[string]any{"redeploy": true}).JSON(t)
	if replan["add"].(float64) < 1 || replan["remove"] != replan["add"] || replan["change"].(float64) != 0 {
		t.Fatalf("redeploy plan: %v", replan)
	}
	app.expect(202, "PUT", "/api/v1/deployments/"+id, token, map[string]any{"inputs": map[string]any{"num_cpus": 4}, "redeploy": false})
	app.expect(409, "PUT", "/api/v1/deployments/"+id, token, map[string]any{"redeploy": false}) // busy: one run at a time
	app.waitFor(id, token, store.UpdateComplete)
	updated := app.expect(200, "GET", "/api/v1/deployments/"+id+"/resources/"+rid, token, nil).JSON(t)
	if updated["cloud_id"] != vm["cloud_id"] || updated["attributes"].(map[string]any)["flavor"] != "large" {
		t.Fatalf("in-place update: %v", updated)
	}
	d = app.expect(200, "GET", "/api/v1/deployments/"+id, token, nil).JSON(t)
	if d["inputs"].(map[string]any)["num_cpus"].(float64) != 4 || d["inputs"].(map[string]any)["mem_size"] != "4 GB" {
		t.Fatalf("inputs are merged: %v", d["inputs"])
	}
	runs := items(t, app.expect(200, "GET", "/api/v1/deployments/"+id+"/runs", token, nil))
	if len(runs) != 5 || runs[0]["kind"] != "update" || runs[4]["kind"] != "create" {
		t.Fatalf("runs: %d", len(runs))
	}
	app.expect(200, "PATCH", "/api/v1/deployments/"+id, token, map[string]any{"description": "renamed"})

	// Soft delete: the record and its logs stay.
	app.expect(202, "DELETE", "/api/v1/deployments/"+id, token, nil)
	app.waitFor(id, token, store.DeleteComplete)
	if n := len(items(t, app.expect(200, "GET", "/api/v1/deployments", token, nil))); n != 2 {
		t.Fatalf("deleted deployments are hidden by default: %d listed", n)
	}
	if n := len(items(t, app.expect(200, "GET", "/api/v1/deployments?include_deleted=true", token, nil))); n != 3 {
		t.Fatalf("include_deleted: %d listed", n)
	}
	logs := app.expect(200, "GET", "/api/v1/deployments/"+id+"/logs?size=1000", token, nil)
	mustContain(t, logs.Body, "Destruction complete", "delete run")
	// The last outputs stay, marked as history.
	past := app.expect(200, "GET", "/api/v1/deployments/"+id+"/outputs", token, nil).JSON(t)
	if past["history"] != true || !strings.Contains(past["note"].(string), "deleted") || past["outputs"].(map[string]any)["public_ip"] == nil {
		t.Fatalf("outputs of a deleted deployment: %v", past)
	}
	if strings.Contains(logs.Body, "PRIVATE KEY") || strings.Contains(logs.Body, `\"lineage\"`) {
		t.Fatal("the log holds state or key material")
	}
	errorsOnly := items(t, app.expect(200, "GET", "/api/v1/deployments/"+id+"/logs?level=error&source=terraform", token, nil))
	if len(errorsOnly) != 0 {
		t.Fatalf("a clean deployment has no terraform errors: %v", errorsOnly)
	}
	for _, r := range items(t, app.expect(200, "GET", "/api/v1/deployments/"+id+"/resources", token, nil)) {
		if r["state"] != "DELETED" {
			t.Fatalf("resource %v after delete", r)
		}
	}
	app.expect(409, "DELETE", "/api/v1/deployments/"+id, token, nil)

	// Prometheus metrics: requests by route pattern and code, runs by kind and
	// result, durations, queue depth, Terraform processes.
	metrics := app.expect(200, "GET", "/metrics", "", nil).Body
	for _, want := range []string{
		`orchestrator_http_requests_total{code="202",method="POST",route="/api/v1/deployments"}`,
		`orchestrator_http_requests_total{code="422",method="POST",route="/api/v1/deployments"}`,
		`orchestrator_runs_total{kind="create",result="succeeded"} 3`,
		`orchestrator_runs_total{kind="action",result="succeeded"} 3`,
		`orchestrator_run_duration_seconds_count{kind="delete"} 1`,
		"orchestrator_queue_depth 0", "orchestrator_terraform_processes 0",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, id) {
		t.Error("metrics are labelled with a deployment id (unbounded series)")
	}
	if app.validator.count < 60 {
		t.Fatalf("only %d responses were checked against the OpenAPI document", app.validator.count)
	}
}

func TestAdminsDay(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	adminID, admin := app.admin("root")
	aliceID, alice := app.signup("alice")
	bobID, bob := app.signup("bob")
	_ = adminID

	// A bad template is rejected with its line and column.
	badTemplate := "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm:\n      type: tosca.nodes.Compute\n      capabilities:\n        host:\n          properties:\n            num_cpus: lots\n"
	res := app.expect(422, "POST", "/api/v1/templates", admin, map[string]string{"name": "broken", "version": "1", "content": badTemplate})
	mustContain(t, res.Body, `"line":9`, `"column":23`, "num_cpus")
	good := strings.Replace(badTemplate, "lots", "2", 1)
	tmpl := app.expect(201, "POST", "/api/v1/templates", admin, map[string]string{"name": "two-cpus", "version": "1", "content": good}).JSON(t)
	app.expect(409, "POST", "/api/v1/templates", admin, map[string]string{"name": "two-cpus", "version": "1", "content": good})
	app.expect(403, "POST", "/api/v1/templates", alice, map[string]string{"name": "x", "version": "1", "content": good})
	app.expect(200, "PATCH", "/api/v1/templates/"+tmpl["id"].(string), admin, map[string]string{"description": "Two CPUs"})
	app.expect(422, "PATCH", "/api/v1/templates/"+tmpl["id"].(string), admin, map[string]string{"content": badTemplate})

	// Alice deploys from it; then the template goes away, the deployment keeps its copy.
	res = app.expect(202, "POST", "/api/v1/deployments", alice, map[string]any{"template_id": tmpl["id"]})
	id := res.JSON(t)["id"].(string)
	app.waitFor(id, alice, store.CreateComplete)
	app.expect(204, "DELETE", "/api/v1/templates/"+tmpl["id"].(string), admin, nil)
	copy := app.expect(200, "GET", "/api/v1/deployments/"+id+"/template", alice, nil)
	if copy.Body != good {
		t.Fatal("the deployment lost its copy of the template")
	}

	// The admin sees everything, and can filter by owner.
	all := items(t, app.expect(200, "GET", "/api/v1/deployments?owner="+aliceID, admin, nil))
	if len(all) != 1 || all[0]["id"] != id {
		t.Fatalf("owner filter: %v", all)
	}
	app.expect(403, "GET", "/api/v1/deployments?owner="+aliceID, bob, nil)
	// Bob does not see it until he is an owner.
	app.expect(404, "GET", "/api/v1/deployments/"+id, bob, nil)
	// Users are named by username or id wherever the API names one.
	byName := items(t, app.expect(200, "GET", "/api/v1/deployments?owner=alice", admin, nil))
	if len(byName) != 1 || byName[0]["id"] != id {
		t.Fatalf("owner=alice: %v", byName)
	}
	res = app.expect(422, "GET", "/api/v1/deployments?owner=nobody-by-that-name", admin, nil)
	mustContain(t, res.Body, `"field":"owner"`)
	if u := app.expect(200, "GET", "/api/v1/users/bob", admin, nil).JSON(t); u["id"] != bobID {
		t.Fatalf("GET /users/bob: %v", u)
	}
	res = app.expect(422, "POST", "/api/v1/deployments/"+id+"/owners", admin, map[string]string{"user": "nobody-by-that-name"})
	mustContain(t, res.Body, `"field":"user"`)
	app.expect(201, "POST", "/api/v1/deployments/"+id+"/owners", admin, map[string]string{"user": "bob"})
	app.expect(204, "DELETE", "/api/v1/deployments/"+id+"/owners/bob", admin, nil)
	app.expect(201, "POST", "/api/v1/deployments/"+id+"/owners", admin, map[string]string{"user_id": bobID})
	app.expect(200, "GET", "/api/v1/deployments/"+id, bob, nil)
	if n := len(items(t, app.expect(200, "GET", "/api/v1/deployments", bob, nil))); n != 1 {
		t.Fatalf("bob lists %d deployments", n)
	}
	app.expect(204, "DELETE", "/api/v1/deployments/"+id+"/owners/"+aliceID, admin, nil)
	res = app.expect(409, "DELETE", "/api/v1/deployments/"+id+"/owners/"+bobID, admin, nil)
	mustContain(t, res.Body, "last owner")

	// Hard delete: refused while the infrastructure may exist, unless forced.
	res = app.expect(409, "DELETE", "/api/v1/deployments/"+id+"?hard=true", admin, nil)
	mustContain(t, res.Body, `"current_status":"CREATE_COMPLETE"`)
	app.expect(403, "DELETE", "/api/v1/deployments/"+id+"?hard=true", bob, nil)
	app.expect(202, "DELETE", "/api/v1/deployments/"+id, bob, nil)
	app.waitFor(id, bob, store.DeleteComplete)
	app.expect(204, "DELETE", "/api/v1/deployments/"+id+"?hard=true", admin, nil)
	app.expect(404, "GET", "/api/v1/deployments/"+id, admin, nil)
	app.expect(404, "GET", "/api/v1/deployments/"+id+"/logs", admin, nil)

	// Purge old logs: nothing is that old yet; then everything is.
	second := app.deploy(alice, "single-vm", nil)
	app.waitFor(second, alice, store.CreateComplete)
	if job := app.purge(admin, "older_than=30d"); job.deleted != 0 {
		t.Fatalf("purged recent lines: %+v", job)
	}
	app.clock.Advance(31 * 24 * time.Hour)
	admin, alice = app.login("root", "admin-password"), app.login("alice", "password-alice") // sessions expired meanwhile
	if job := app.purge(admin, "older_than=30d"); job.deleted < 5 || job.deleted != job.planned {
		t.Fatalf("purge: %+v", job)
	}
	if jobs := items(t, app.expect(200, "GET", "/api/v1/jobs", admin, nil)); len(jobs) != 2 || jobs[0]["kind"] != "log_purge" {
		t.Fatalf("jobs: %v", jobs)
	}
	app.expect(400, "DELETE", "/api/v1/logs?older_than=forever", admin, nil)
	// A purge of (almost) everything needs force: older_than=0 deletes nothing.
	third := app.deploy(alice, "single-vm", nil)
	app.waitFor(third, alice, store.CreateComplete)
	for _, age := range []string{"0", "0d", "59m"} {
		res = app.expect(422, "DELETE", "/api/v1/logs?older_than="+age, admin, nil)
		mustContain(t, res.Body, "force=true", `"field":"older_than"`)
	}
	if n := len(items(t, app.expect(200, "GET", "/api/v1/deployments/"+third+"/logs?size=1000", admin, nil))); n == 0 {
		t.Fatal("a refused purge deleted lines")
	}
	app.clock.Advance(time.Second) // lines stamped "now" are not older than now
	if job := app.purge(admin, "older_than=0&force=true"); job.deleted < 1 {
		t.Fatalf("forced purge: %+v", job)
	}
	app.expect(403, "DELETE", "/api/v1/logs?older_than=1d", alice, nil)

	// Targets: credentials are write-only.
	res = app.expect(201, "POST", "/api/v1/targets", admin, map[string]any{"name": "cloud-a", "kind": "openstack",
		"config": map[string]any{"external_network": "public"}, "credentials": map[string]string{"OS_PASSWORD": "s3cr3t-pw", "OS_AUTH_URL": "https://keystone.example.org:5000/v3"}})
	if strings.Contains(res.Body, "s3cr3t") || !strings.Contains(res.Body, `"has_credentials":true`) {
		t.Fatalf("target: %s", res.Body)
	}
	for _, tok := range []string{admin, alice} {
		list := app.expect(200, "GET", "/api/v1/targets", tok, nil)
		if strings.Contains(list.Body, "s3cr3t") {
			t.Fatal("credentials leaked")
		}
	}
	if strings.Contains(app.expect(200, "GET", "/api/v1/targets", alice, nil).Body, "external_network") {
		t.Fatal("users see target configuration")
	}
	app.expect(422, "POST", "/api/v1/targets", admin, map[string]any{"name": "x", "kind": "openstack", "credentials": map[string]string{"AWS_SECRET": "x"}})
	// Configuration is checked with the modules' own rules when it is saved, not
	// in every later deployment.
	res = app.expect(422, "POST", "/api/v1/targets", admin, map[string]any{"name": "slow", "kind": "local", "config": map[string]any{"boot_seconds": 99999}})
	mustContain(t, res.Body, `"field":"config.boot_seconds"`, "0 to 3600")
	res = app.expect(422, "POST", "/api/v1/targets", admin, map[string]any{"name": "typo", "kind": "local", "config": map[string]any{"boot_second": 3}})
	mustContain(t, res.Body, `"field":"config.boot_second"`, "known keys")
	res = app.expect(422, "PATCH", "/api/v1/targets/cloud-a", admin, map[string]any{"config": map[string]any{"flavors": []any{map[string]any{"vcpus": 2}}}})
	mustContain(t, res.Body, `"field":"config.flavors"`, "needs a name")
	app.expect(200, "PATCH", "/api/v1/targets/cloud-a", admin, map[string]any{"config": map[string]any{"external_network": "ext-net"}})
	app.expect(201, "POST", "/api/v1/targets", admin, map[string]any{"name": "slow", "kind": "local", "config": map[string]any{"boot_seconds": 30}})
	app.expect(204, "DELETE", "/api/v1/targets/slow", admin, nil)
	app.expect(204, "DELETE", "/api/v1/targets/cloud-a", admin, nil)
	app.expect(409, "DELETE", "/api/v1/targets/local", admin, nil) // in use
}

// fixture is the world the authorization matrix runs in.
type fixture struct {
	app                  *testApp
	owner, other, admin  string
	ownerID, otherID     string
	deployment, resource string
	run, template        string
	n                    int
	// ready are settled deployments made ahead, all at once (the engine runs
	// them side by side), for the rows that need a deployment of their own.
	ready []string
}

func (f *fixture) token(who string) string {
	return map[string]string{"anonymous": "", "owner": f.owner, "other": f.other, "admin": f.admin}[who]
}

func (f *fixture) fresh() string {
	f.n++
	return fmt.Sprint(f.n)
}

// settled returns a new CREATE_COMPLETE deployment of the owner.
func (f *fixture) settled() string {
	if n := len(f.ready); n > 0 {
		id := f.ready[n-1]
		f.ready = f.ready[:n-1]
		return id
	}
	id := f.app.deploy(f.owner, "single-vm", nil)
	f.app.waitFor(id, f.owner, store.CreateComplete)
	return id
}

// prepare makes n settled deployments at once.
func (f *fixture) prepare(n int) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.app.deploy(f.owner, "single-vm", nil)
	}
	for _, id := range ids {
		f.app.waitFor(id, f.owner, store.CreateComplete)
	}
	f.ready = append(f.ready, ids...)
}

func (f *fixture) resourceOf(id string) string {
	r := items(f.app.t.(*testing.T), f.app.expect(200, "GET", "/api/v1/deployments/"+id+"/resources", f.owner, nil))
	return r[0]["id"].(string)
}

type cell struct {
	path string
	body any
}

type matrixRow struct {
	codes [4]int // anonymous, owner, other, admin
	// prep builds the request for one caller; it may create fresh objects.
	prep func(f *fixture, who string) cell
}

func static(path string, body any) func(*fixture, string) cell {
	return func(*fixture, string) cell { return cell{path, body} }
}

var whos = [4]string{"anonymous", "owner", "other", "admin"}

func matrix() map[string]matrixRow {
	dep := func(suffix string, body any) func(*fixture, string) cell {
		return func(f *fixture, _ string) cell { return cell{"/api/v1/deployments/" + f.deployment + suffix, body} }
	}
	freshDep := func(suffix string, body any) func(*fixture, string) cell {
		return func(f *fixture, who string) cell {
			if who == "owner" || who == "admin" {
				id := f.settled()
				return cell{"/api/v1/deployments/" + id + strings.ReplaceAll(suffix, "{rid}", f.resourceOf(id)), body}
			}
			return cell{"/api/v1/deployments/" + f.deployment + strings.ReplaceAll(suffix, "{rid}", f.resource), body}
		}
	}
	return map[string]matrixRow{
		"GET /healthz":             {[4]int{200, 200, 200, 200}, static("/healthz", nil)},
		"GET /readyz":              {[4]int{200, 200, 200, 200}, static("/readyz", nil)},
		"GET /metrics":             {[4]int{200, 200, 200, 200}, static("/metrics", nil)},
		"GET /docs":                {[4]int{200, 200, 200, 200}, static("/docs", nil)},
		"GET /api/v1/openapi.json": {[4]int{200, 200, 200, 200}, static("/api/v1/openapi.json", nil)},
		"GET /api/v1/version":      {[4]int{200, 200, 200, 200}, static("/api/v1/version", nil)},
		"GET /api/v1/auth/config":  {[4]int{200, 200, 200, 200}, static("/api/v1/auth/config", nil)},
		"POST /api/v1/auth/login":  {[4]int{200, 200, 200, 200}, static("/api/v1/auth/login", map[string]string{"username": "owner", "password": "password-owner"})},
		"POST /api/v1/users": {[4]int{201, 409, 409, 409}, func(f *fixture, who string) cell {
			return cell{"/api/v1/users", map[string]string{"username": "new-" + f.fresh(), "password": "long-enough"}}
		}},
		"GET /api/v1/users":             {[4]int{401, 403, 403, 200}, static("/api/v1/users", nil)},
		"GET /api/v1/users/me":          {[4]int{401, 200, 200, 200}, static("/api/v1/users/me", nil)},
		"PATCH /api/v1/users/me":        {[4]int{401, 200, 200, 200}, static("/api/v1/users/me", map[string]string{"name": "Someone"})},
		"GET /api/v1/users/me/ssh-keys": {[4]int{401, 200, 200, 200}, static("/api/v1/users/me/ssh-keys", nil)},
		"GET /api/v1/users/me/tokens":   {[4]int{401, 200, 200, 200}, static("/api/v1/users/me/tokens", nil)},
		"POST /api/v1/users/me/tokens":  {[4]int{401, 201, 201, 201}, static("/api/v1/users/me/tokens", map[string]string{"name": "ci"})},
		"POST /api/v1/users/me/ssh-keys": {[4]int{401, 201, 201, 201}, func(f *fixture, who string) cell {
			return cell{"/api/v1/users/me/ssh-keys", map[string]string{"public_key": sshKey(f.app.t.(*testing.T), "k")}}
		}},
		"DELETE /api/v1/users/me/ssh-keys/:id": {[4]int{401, 204, 404, 404}, func(f *fixture, who string) cell {
			k := f.app.expect(201, "POST", "/api/v1/users/me/ssh-keys", f.owner, map[string]string{"public_key": sshKey(f.app.t.(*testing.T), "k")}).JSON(f.app.t)
			return cell{"/api/v1/users/me/ssh-keys/" + k["id"].(string), nil}
		}},
		"DELETE /api/v1/users/me/tokens/:id": {[4]int{401, 204, 404, 404}, func(f *fixture, who string) cell {
			k := f.app.expect(201, "POST", "/api/v1/users/me/tokens", f.owner, map[string]string{"name": "x"}).JSON(f.app.t)
			return cell{"/api/v1/users/me/tokens/" + k["id"].(string), nil}
		}},
		"GET /api/v1/users/:id/picture": {[4]int{401, 200, 200, 200}, func(f *fixture, who string) cell {
			return cell{"/api/v1/users/" + f.ownerID + "/picture", nil}
		}},
		"GET /api/v1/users/:id": {[4]int{401, 403, 403, 200}, func(f *fixture, who string) cell { return cell{"/api/v1/users/" + f.otherID, nil} }},
		"DELETE /api/v1/users/:id": {[4]int{401, 403, 403, 204}, func(f *fixture, who string) cell {
			id, _ := f.app.signup("doomed-" + f.fresh())
			return cell{"/api/v1/users/" + id, nil}
		}},
		"GET /api/v1/templates": {[4]int{401, 200, 200, 200}, static("/api/v1/templates", nil)},
		"POST /api/v1/templates": {[4]int{401, 403, 403, 201}, func(f *fixture, who string) cell {
			return cell{"/api/v1/templates", map[string]string{"name": "t" + f.fresh(), "version": "1", "content": minimalTemplate}}
		}},
		"GET /api/v1/templates/:id":         {[4]int{401, 200, 200, 200}, func(f *fixture, _ string) cell { return cell{"/api/v1/templates/" + f.template, nil} }},
		"GET /api/v1/templates/:id/content": {[4]int{401, 200, 200, 200}, func(f *fixture, _ string) cell { return cell{"/api/v1/templates/" + f.template + "/content", nil} }},
		"PATCH /api/v1/templates/:id": {[4]int{401, 403, 403, 200}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/templates/" + f.template, map[string]string{"description": "patched"}}
		}},
		"DELETE /api/v1/templates/:id": {[4]int{401, 403, 403, 204}, func(f *fixture, _ string) cell {
			t := f.app.expect(201, "POST", "/api/v1/templates", f.admin, map[string]string{"name": "d" + f.fresh(), "version": "1", "content": minimalTemplate}).JSON(f.app.t)
			return cell{"/api/v1/templates/" + t["id"].(string), nil}
		}},
		"GET /api/v1/targets":       {[4]int{401, 200, 200, 200}, static("/api/v1/targets", nil)},
		"GET /api/v1/targets/:name": {[4]int{401, 200, 200, 200}, static("/api/v1/targets/local", nil)},
		"POST /api/v1/targets": {[4]int{401, 403, 403, 201}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/targets", map[string]any{"name": "t" + f.fresh(), "kind": "local"}}
		}},
		"PATCH /api/v1/targets/:name": {[4]int{401, 403, 403, 200}, static("/api/v1/targets/local", map[string]string{"description": "the simulated cloud"})},
		"DELETE /api/v1/targets/:name": {[4]int{401, 403, 403, 204}, func(f *fixture, _ string) cell {
			name := "x" + f.fresh()
			f.app.expect(201, "POST", "/api/v1/targets", f.admin, map[string]any{"name": name, "kind": "local"})
			return cell{"/api/v1/targets/" + name, nil}
		}},
		"POST /api/v1/deployments": {[4]int{401, 202, 202, 202}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/deployments", map[string]any{"template": minimalTemplate}}
		}},
		"GET /api/v1/deployments": {[4]int{401, 200, 200, 200}, static("/api/v1/deployments", nil)},
		"POST /api/v1/deployments/plan": {[4]int{401, 200, 200, 200}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/deployments/plan", map[string]any{"template_id": f.template, "inputs": map[string]any{"num_cpus": 2}}}
		}},
		"GET /api/v1/deployments/:id":           {[4]int{401, 200, 404, 200}, dep("", nil)},
		"PATCH /api/v1/deployments/:id":         {[4]int{401, 200, 404, 200}, dep("", map[string]string{"description": "x"})},
		"PUT /api/v1/deployments/:id":           {[4]int{401, 202, 404, 202}, freshDep("", map[string]any{"redeploy": false})},
		"DELETE /api/v1/deployments/:id":        {[4]int{401, 202, 404, 202}, freshDep("", nil)},
		"POST /api/v1/deployments/:id/plan":     {[4]int{401, 200, 404, 200}, dep("/plan", map[string]any{"inputs": map[string]any{"num_cpus": 2}})},
		"POST /api/v1/deployments/:id/reset":    {[4]int{401, 409, 404, 409}, dep("/reset", nil)},
		"GET /api/v1/deployments/:id/template":  {[4]int{401, 200, 404, 200}, dep("/template", nil)},
		"GET /api/v1/deployments/:id/terraform": {[4]int{401, 200, 404, 200}, dep("/terraform", nil)},
		"GET /api/v1/deployments/:id/state":     {[4]int{401, 200, 404, 200}, dep("/state", nil)},
		"GET /api/v1/deployments/:id/outputs":   {[4]int{401, 200, 404, 200}, dep("/outputs", nil)},
		"GET /api/v1/deployments/:id/logs":      {[4]int{401, 200, 404, 200}, dep("/logs", nil)},
		"GET /api/v1/deployments/:id/runs":      {[4]int{401, 200, 404, 200}, dep("/runs", nil)},
		"GET /api/v1/deployments/:id/resources": {[4]int{401, 200, 404, 200}, dep("/resources", nil)},
		"GET /api/v1/deployments/:id/resources/:rid": {[4]int{401, 200, 404, 200}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/deployments/" + f.deployment + "/resources/" + f.resource, nil}
		}},
		"POST /api/v1/deployments/:id/resources/:rid/actions": {[4]int{401, 202, 404, 202}, freshDep("/resources/{rid}/actions", map[string]string{"action": "stop"})},
		"POST /api/v1/deployments/:id/resources/:rid/reset": {[4]int{401, 409, 404, 409}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/deployments/" + f.deployment + "/resources/" + f.resource + "/reset", nil}
		}},
		"GET /api/v1/deployments/:id/owners": {[4]int{401, 403, 403, 200}, dep("/owners", nil)},
		"POST /api/v1/deployments/:id/owners": {[4]int{401, 403, 403, 201}, func(f *fixture, _ string) cell {
			return cell{"/api/v1/deployments/" + f.deployment + "/owners", map[string]string{"user_id": f.ownerID}}
		}},
		"DELETE /api/v1/deployments/:id/owners/:user": {[4]int{401, 403, 403, 204}, func(f *fixture, who string) cell {
			if who == "admin" {
				id, _ := f.app.signup("co-owner-" + f.fresh())
				f.app.expect(201, "POST", "/api/v1/deployments/"+f.deployment+"/owners", f.admin, map[string]string{"user_id": id})
				return cell{"/api/v1/deployments/" + f.deployment + "/owners/" + id, nil}
			}
			return cell{"/api/v1/deployments/" + f.deployment + "/owners/" + f.ownerID, nil}
		}},
		"GET /api/v1/runs/:id":         {[4]int{401, 200, 404, 200}, func(f *fixture, _ string) cell { return cell{"/api/v1/runs/" + f.run, nil} }},
		"POST /api/v1/runs/:id/cancel": {[4]int{401, 409, 404, 409}, func(f *fixture, _ string) cell { return cell{"/api/v1/runs/" + f.run + "/cancel", nil} }},
		"DELETE /api/v1/logs":          {[4]int{401, 403, 403, 202}, static("/api/v1/logs?older_than=3650d", nil)},
		"GET /api/v1/jobs":             {[4]int{401, 403, 403, 200}, static("/api/v1/jobs", nil)},
		"GET /api/v1/jobs/:id":         {[4]int{401, 403, 403, 404}, static("/api/v1/jobs/no-such-job", nil)},

		// The INDIGO API: the same rules, INDIGO's status codes.
		"GET /orchestrator/info":            {[4]int{200, 200, 200, 200}, static("/orchestrator/info", nil)},
		"GET /orchestrator/configuration":   {[4]int{401, 200, 200, 200}, static("/orchestrator/configuration", nil)},
		"GET /orchestrator/deployments":     {[4]int{401, 200, 200, 200}, static("/orchestrator/deployments", nil)},
		"POST /orchestrator/deployments":    {[4]int{401, 201, 201, 201}, static("/orchestrator/deployments", map[string]any{"template": minimalTemplate})},
		"GET /orchestrator/deployments/:id": {[4]int{401, 200, 404, 200}, indigoDep("", nil)},
		"PUT /orchestrator/deployments/:id": {[4]int{401, 202, 404, 202}, func(f *fixture, who string) cell {
			c := indigoFreshDep("")(f, who)
			c.body = map[string]any{"template": example(f.app.t, "single-vm"), "parameters": map[string]any{"num_cpus": 2}}
			return c
		}},
		"PATCH /orchestrator/deployments/:id":              {[4]int{401, 409, 404, 409}, indigoDep("", map[string]string{"status": "DELETE_FAILED"})},
		"DELETE /orchestrator/deployments/:id":             {[4]int{401, 204, 404, 204}, indigoFreshDep("")},
		"GET /orchestrator/deployments/:id/template":       {[4]int{401, 200, 404, 200}, indigoDep("/template", nil)},
		"GET /orchestrator/deployments/:id/log":            {[4]int{401, 200, 404, 200}, indigoDep("/log", nil)},
		"GET /orchestrator/deployments/:id/extrainfo":      {[4]int{401, 200, 404, 200}, indigoDep("/extrainfo", nil)},
		"GET /orchestrator/deployments/:id/resources":      {[4]int{401, 200, 404, 200}, indigoDep("/resources", nil)},
		"GET /orchestrator/deployments/:id/resources/:rid": {[4]int{401, 200, 404, 200}, indigoDep("/resources/{rid}", nil)},
		"POST /orchestrator/deployments/:id/resources/:rid/actions": {[4]int{401, 202, 404, 202}, func(f *fixture, who string) cell {
			c := indigoFreshDep("/resources/{rid}/actions")(f, who)
			c.body = map[string]string{"type": "stop"}
			return c
		}},
	}
}

func indigoDep(suffix string, body any) func(*fixture, string) cell {
	return func(f *fixture, _ string) cell {
		return cell{"/orchestrator/deployments/" + f.deployment + strings.ReplaceAll(suffix, "{rid}", f.resource), body}
	}
}

// indigoFreshDep gives the owner and the admin a deployment of their own to
// change; the other user tries the fixture's.
func indigoFreshDep(suffix string) func(*fixture, string) cell {
	return func(f *fixture, who string) cell {
		id, rid := f.deployment, f.resource
		if who == "owner" || who == "admin" {
			id = f.settled()
			rid = f.resourceOf(id)
		}
		return cell{"/orchestrator/deployments/" + id + strings.ReplaceAll(suffix, "{rid}", rid), nil}
	}
}

const minimalTemplate = "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm: { type: tosca.nodes.Compute }\n"

// TestAuthorizationMatrix checks every route for an anonymous caller, the owner
// of a deployment, another user and an admin. It is generated from the route
// table: a route without a row fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	f := &fixture{app: app}
	f.ownerID, f.owner = app.signup("owner")
	f.otherID, f.other = app.signup("other")
	_, f.admin = app.admin("root")
	ct, body := multipartBody(t, "picture", "p.png", pngBytes(t), nil)
	if res := app.do("PATCH", "/api/v1/users/me", f.owner, body, "Content-Type", ct); res.Code != 200 {
		t.Fatalf("picture: %s", res.Body)
	}
	// The fixture's deployment, and one for the owner's and the admin's call of
	// each row that changes a deployment (PUT, DELETE, actions; in both APIs).
	f.prepare(1 + 2*6)
	f.deployment = f.settled()
	f.resource = f.resourceOf(f.deployment)
	runs := items(t, app.expect(200, "GET", "/api/v1/deployments/"+f.deployment+"/runs", f.owner, nil))
	f.run = runs[0]["id"].(string)
	f.template = app.templateID(f.owner, "single-vm")

	rows := matrix()
	for _, r := range app.server.Routes() {
		key := r.Method + " " + r.Path
		row, ok := rows[key]
		if !ok {
			t.Errorf("route %s has no row in the authorization matrix", key)
			continue
		}
		delete(rows, key)
		for i, who := range whos {
			c := row.prep(f, who)
			res := app.do(r.Method, c.path, f.token(who), c.body)
			if res.Code != row.codes[i] {
				t.Errorf("%s as %s: got %d, want %d\n%s", key, who, res.Code, row.codes[i], truncate(res.Body, 300))
			}
		}
	}
	for key := range rows {
		t.Errorf("matrix row %s matches no route", key)
	}
}

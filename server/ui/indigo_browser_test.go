package ui_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"orchestrator/examples"
)

// TestDashboard_IndigoDeployments: a deployment made through the INDIGO API
// (/orchestrator, as orchent sends it) is the same deployment in the web
// dashboard, live; what the dashboard does to it (stopping its VM) shows
// through the INDIGO API, and a deletion through the INDIGO API shows in the
// dashboard without a reload. The real binary, real Terraform on the simulated
// local target, headless Chromium.
func TestDashboard_IndigoDeployments(t *testing.T) {
	t.Parallel()
	svc := startService(t)

	// A local account, and its token for the INDIGO client.
	send := func(method, path, token string, body any, headers ...string) (int, map[string]any) {
		t.Helper()
		var data []byte
		if body != nil {
			data, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, svc.url+path, bytes.NewReader(data))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if code, body := send("POST", "/api/v1/users", "", map[string]string{"username": "physicist", "password": "physicist-password"}); code != 201 {
		t.Fatalf("sign-up: %d %v", code, body)
	}
	code, login := send("POST", "/api/v1/auth/login", "", map[string]string{"username": "physicist", "password": "physicist-password"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, login)
	}
	token := login["token"].(string)

	// orchent depcreate: its headers, its body.
	var tmpl string
	list, err := examples.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range list {
		if ex.Name == "single-vm" {
			tmpl = ex.Content
		}
	}
	code, dep := send("POST", "/orchestrator/deployments", token, map[string]any{"template": tmpl, "parameters": map[string]any{"num_cpus": 1}, "callback": ""},
		"User-Agent", "Orchent", "Accept", "application/json")
	if code != 201 {
		t.Fatalf("INDIGO create: %d %v", code, dep)
	}
	id := dep["uuid"].(string)

	// The dashboard lists it and follows it to CREATE_COMPLETE.
	b := newBrowser(t, svc.url)
	defer b.checkConsole()
	b.visit("/deployments")
	b.waitText("h1", "Sign in")
	b.fill(`input[name=username]`, "physicist")
	b.fill(`input[name=password]`, "physicist-password")
	b.click(`button[type=submit]`)
	b.waitText("h1", "My deployments")
	b.waitFor(`tr[data-id="` + id + `"]`)
	b.wait("CREATE_COMPLETE in the list", `document.querySelector('tr[data-id="`+id+`"] [data-status=CREATE_COMPLETE]')`, 3*time.Minute)
	b.visit("/deployments/" + id)
	b.waitFor(`.status-cell [data-status="CREATE_COMPLETE"]`)
	b.waitFor(`tr[data-node=vm] [data-status=STARTED]`)
	b.shot("indigo-deployment")

	// The dashboard stops the VM; the INDIGO API (orchent resls) sees it stopped.
	b.click(`tr[data-node=vm] button[data-action=stop]`)
	b.wait("the VM stopped", `document.querySelector('tr[data-node=vm] [data-status=STOPPED]')`, time.Minute)
	stopped := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !stopped; time.Sleep(200 * time.Millisecond) {
		code, page := send("GET", "/orchestrator/deployments/"+id+"/resources?page=0&size=100", token, nil, "User-Agent", "Orchent", "Accept", "application/json")
		if code != 200 {
			t.Fatalf("INDIGO resources: %d %v", code, page)
		}
		for _, r := range page["content"].([]any) {
			r := r.(map[string]any)
			if r["toscaNodeName"] == "vm" && r["state"] == "STOPPED" {
				stopped = true
			}
		}
	}
	if !stopped {
		t.Fatal("the INDIGO API does not show the VM the dashboard stopped")
	}

	// orchent depdel; the open page follows the deletion without reloading.
	eval[bool](b, `(window.__sameDocument = true)`)
	if code, body := send("DELETE", "/orchestrator/deployments/"+id, token, nil, "User-Agent", "Orchent", "Accept", "application/json"); code != 204 {
		t.Fatalf("INDIGO delete: %d %v", code, body)
	}
	b.wait("DELETE_COMPLETE", `document.querySelector('.status-cell [data-status="DELETE_COMPLETE"]')`, 3*time.Minute)
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded to show the deletion")
	}
	if code, got := send("GET", "/orchestrator/deployments/"+id, token, nil); code != 200 || got["status"] != "DELETE_COMPLETE" || got["physicalId"] != nil {
		t.Fatalf("INDIGO after the deletion: %d %v", code, got)
	}
}

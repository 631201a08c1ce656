package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/modules/openstack/ossim"
)

// TestIndigoAPIOnOpenStack replays orchent's requests (depcreate, depshow,
// resls, deptemplate, deplog, depshow -v's extra info, depdel) and the INFN
// dashboard's stop action with a real INDIGO template from the shared corpus,
// against the service binary whose --default-target is an openstack target.
// The cloud is ossim, the OpenStack API simulator (a test double of a remote
// cloud, in this test process); the type library the template imports from
// GitHub is served from the corpus with --types-map (no internet here). orchent
// itself is not installable on this machine: the requests are built as its
// sources build them (sling: User-Agent Orchent, Accept JSON, Bearer token, a
// JSON body with Content-Type). What the cloud holds must match what INDIGO's
// answers say, and the target's secret must never show in any of them.
func TestIndigoAPIOnOpenStack(t *testing.T) {
	t.Parallel()
	corpus, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "tosca-corpus"))
	if d := os.Getenv("ORCHESTRATOR_TOSCA_CORPUS"); d != "" {
		corpus = d
	}
	template, err := os.ReadFile(filepath.Join(corpus, "indigo-dc_tosca-types_examples", "node_with_instance_type.yaml"))
	if err != nil {
		t.Fatalf("the TOSCA corpus is not at %s (set ORCHESTRATOR_TOSCA_CORPUS): %v", corpus, err)
	}
	const secret = "Qv3-indigo-app-credential-secret-7781"
	cloud := ossim.NewTest(t, ossim.Options{BuildTime: 300 * time.Millisecond, ActionTime: 200 * time.Millisecond, DeleteTime: 200 * time.Millisecond})
	cloud.AddImage(ossim.Image{Name: "centos-7-x86_64", Properties: map[string]string{"os_distro": "centos", "os_version": "7"}})
	credID := cloud.AddApplicationCredential(ossim.UserName, ossim.ProjectName, "orchestrator", secret)
	svc := startService(t, t.TempDir(), "--default-target", "cloud",
		"--types-map", "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/="+filepath.Join(corpus, "_types", "indigo-dc_tosca-types"))
	admin := svc.login("admin", "admin-secret-pw")
	svc.api("POST", "/api/v1/targets", admin, map[string]any{"name": "cloud", "kind": "openstack",
		"config": map[string]any{
			"external_network": ossim.PublicNetwork, "external_network_id": cloud.NetworkID(ossim.PublicNetwork),
			"default_network_id": cloud.NetworkID(ossim.PrivateNetwork),
			"flavors":            []any{map[string]any{"name": "m1.small", "vcpus": 1, "ram_mb": 2048, "disk_gb": 20}},
			"images":             []any{map[string]any{"name": "centos-7-x86_64", "distribution": "centos", "version": "7"}},
		},
		"credentials": map[string]any{"OS_AUTH_URL": cloud.AuthURL(), "OS_REGION_NAME": cloud.Region(),
			"OS_APPLICATION_CREDENTIAL_ID": credID, "OS_APPLICATION_CREDENTIAL_SECRET": secret},
	}, 201)
	svc.api("POST", "/api/v1/users", "", map[string]string{"username": "physicist", "password": "physicist-password"}, 201)
	token := svc.login("physicist", "physicist-password")

	// orchent's base_connection: ORCHENT_URL + "/", sling's headers.
	var bodies []string
	orchent := func(method, path string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			var buf bytes.Buffer
			json.NewEncoder(&buf).Encode(body)
			rd = &buf
		}
		req, _ := http.NewRequest(method, svc.url+"/orchestrator/"+path, rd)
		req.Header.Set("User-Agent", "Orchent")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		bodies = append(bodies, string(data))
		return res.StatusCode, string(data)
	}
	decode := func(code int, body string, want int) map[string]any {
		t.Helper()
		if code != want {
			t.Fatalf("status %d, want %d: %s", code, want, body)
		}
		out := map[string]any{}
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("orchent cannot decode %q: %v", body, err)
		}
		return out
	}
	ok := func(code int, body string) map[string]any { t.Helper(); return decode(code, body, 200) }
	settle := func(id string) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if d := ok(orchent("GET", "deployments/"+id, nil)); !strings.HasSuffix(d["status"].(string), "_IN_PROGRESS") {
				return d
			}
		}
		t.Fatalf("deployment %s did not settle", id)
		return nil
	}

	// orchent depcreate node_with_instance_type.yaml '{}'
	code, body := orchent("POST", "deployments", map[string]any{"template": string(template), "parameters": map[string]any{}})
	dep := decode(code, body, 201)
	id := dep["uuid"].(string)
	ep, _ := dep["cloudProviderEndpoint"].(map[string]any)
	if dep["status"] != "CREATE_IN_PROGRESS" || dep["cloudProviderName"] != "cloud" || ep["deploymentType"] != "OPENSTACK" {
		t.Fatalf("depcreate: %s", body)
	}
	// orchent depshow, until the deployment settles.
	if got := settle(id); got["status"] != "CREATE_COMPLETE" || got["physicalId"] != id {
		t.Fatalf("depshow: %v", got)
	}
	servers := cloud.Servers()
	if len(servers) != 1 || len(servers[0].FloatingIPs) != 1 || servers[0].Status != "ACTIVE" {
		t.Fatalf("the cloud holds %+v", servers)
	}
	got := settle(id)
	if outputs, _ := got["outputs"].(map[string]any); outputs["node_ip"] != servers[0].FloatingIPs[0] {
		t.Fatalf("outputs %v, the cloud's address %s", got["outputs"], servers[0].FloatingIPs[0])
	}

	// orchent resls: the compute node is the cloud's server.
	page := ok(orchent("GET", "deployments/"+id+"/resources", nil))
	var vm map[string]any
	for _, r := range page["content"].([]any) {
		if r := r.(map[string]any); r["toscaNodeName"] == "simple_node" {
			vm = r
		}
	}
	if vm == nil || vm["physicalId"] != servers[0].ID || vm["state"] != "STARTED" || vm["toscaNodeType"] != "tosca.nodes.indigo.Compute" {
		t.Fatalf("resls: %v (the cloud's server %s)", page["content"], servers[0].ID)
	}

	// The dashboard's stop action; the cloud's server stops, resshow says so.
	if code, body := orchent("POST", "deployments/"+id+"/resources/"+vm["uuid"].(string)+"/actions", map[string]string{"type": "stop"}); code != 202 {
		t.Fatalf("stop: %d %s", code, body)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		one := ok(orchent("GET", "deployments/"+id+"/resources/"+vm["uuid"].(string), nil))
		s, _ := cloud.Server(servers[0].ID)
		if one["state"] == "STOPPED" && s.Status == "SHUTOFF" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a stop: INDIGO says %v, the cloud %s", one["state"], s.Status)
		}
	}

	// orchent deptemplate, deplog, and depshow -v's extra info: text.
	if code, body := orchent("GET", "deployments/"+id+"/template", nil); code != 200 || body != string(template) {
		t.Fatalf("deptemplate: %d", code)
	}
	if code, body := orchent("GET", "deployments/"+id+"/log", nil); code != 200 || !strings.Contains(body, "Apply complete") {
		t.Fatalf("deplog: %d %s", code, body)
	}
	if code, body := orchent("GET", "deployments/"+id+"/extrainfo", nil); code != 200 || !strings.Contains(body, servers[0].ID) {
		t.Fatalf("extrainfo: %d %s", code, body)
	}

	// orchent depdel: the cloud is empty again.
	if code, body := orchent("DELETE", "deployments/"+id, nil); code != 204 {
		t.Fatalf("depdel: %d %s", code, body)
	}
	if got := settle(id); got["status"] != "DELETE_COMPLETE" {
		t.Fatalf("after depdel: %v", got)
	}
	if inv := cloud.Inventory(ossim.ProjectName); !inv.Empty() {
		t.Fatalf("the cloud still holds: %s", inv)
	}

	// The secret is in no INDIGO answer and not in the service's output.
	for _, b := range bodies {
		if strings.Contains(b, secret) {
			t.Fatalf("an INDIGO answer contains the target's secret: %s", b)
		}
	}
	if strings.Contains(svc.out.String(), secret) {
		t.Fatal("the service's output contains the target's secret")
	}
}

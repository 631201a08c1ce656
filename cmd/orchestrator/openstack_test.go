package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/modules/openstack/ossim"
)

// TestOpenStackTargetNeverLeaksItsSecret runs the service binary with an
// openstack target whose Keystone is ossim, the OpenStack API simulator (a test
// double of a remote cloud, running in this test process). A deployment goes
// through create, stop and delete; the cloud checks that the provider only ever
// authenticated with the target's application credential, and the secret is
// looked for in every API response, the service's output, the logs and every
// file of the data dir (database, workdirs): it is never found.
func TestOpenStackTargetNeverLeaksItsSecret(t *testing.T) {
	const secret = "Zk7-app-credential-secret-0193" // the target's only secret
	cloud := ossim.NewTest(t, ossim.Options{BuildTime: 300 * time.Millisecond, ActionTime: 200 * time.Millisecond, DeleteTime: 200 * time.Millisecond})
	credID := cloud.AddApplicationCredential(ossim.UserName, ossim.ProjectName, "orchestrator", secret)
	data := t.TempDir()
	svc := startService(t, data)
	rec := &recordingAPI{t: t, svc: svc}
	admin := svc.login("admin", "admin-secret-pw")

	rec.call("POST", "/api/v1/targets", admin, map[string]any{"name": "cloud", "kind": "openstack",
		"config": map[string]any{
			"external_network": ossim.PublicNetwork, "default_network_id": cloud.NetworkID(ossim.PrivateNetwork),
			"flavors": []any{map[string]any{"name": "m1.small", "vcpus": 1, "ram_mb": 2048, "disk_gb": 20}},
			"images":  []any{map[string]any{"name": "ubuntu-24.04", "distribution": "ubuntu", "version": "24.04"}},
		},
		"credentials": map[string]any{"OS_AUTH_URL": cloud.AuthURL(), "OS_REGION_NAME": cloud.Region(),
			"OS_APPLICATION_CREDENTIAL_ID": credID, "OS_APPLICATION_CREDENTIAL_SECRET": secret},
	}, 201)
	rec.call("GET", "/api/v1/targets", admin, nil, 200)
	rec.call("GET", "/api/v1/targets/cloud", admin, nil, 200)

	template, err := os.ReadFile(filepath.Join("..", "..", "examples", "single-vm", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.Unmarshal(rec.call("POST", "/api/v1/deployments", admin, map[string]any{"template": string(template), "target": "cloud"}, 202), &d)
	id := d["id"].(string)
	if got := svc.waitSettled(id, admin); got["status"] != "CREATE_COMPLETE" {
		t.Fatalf("create: %v %v", got["status"], got["status_reason"])
	}
	var resources struct {
		Items []map[string]any `json:"items"`
	}
	json.Unmarshal(rec.call("GET", "/api/v1/deployments/"+id+"/resources", admin, nil, 200), &resources)
	servers := cloud.Servers()
	if len(resources.Items) != 1 || len(servers) != 1 || resources.Items[0]["cloud_id"] != servers[0].ID {
		t.Fatalf("resources %v, cloud %+v", resources.Items, servers)
	}
	attrs := resources.Items[0]["attributes"].(map[string]any)
	if attrs["public_address"] != servers[0].FloatingIPs[0] || attrs["private_address"] != servers[0].FixedIPs[0] {
		t.Fatalf("addresses %v, cloud %+v", attrs, servers[0])
	}

	rid := resources.Items[0]["id"].(string)
	var run map[string]any
	json.Unmarshal(rec.call("POST", "/api/v1/deployments/"+id+"/resources/"+rid+"/actions", admin, map[string]any{"action": "stop"}, 202), &run)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		r := svc.api("GET", "/api/v1/runs/"+run["id"].(string), admin, nil, 200)
		if r["status"] == "succeeded" {
			break
		}
		if r["status"] != "queued" && r["status"] != "running" || time.Now().After(deadline) {
			t.Fatalf("stop run: %v %v", r["status"], r["error"])
		}
	}
	if s, _ := cloud.Server(servers[0].ID); s.Status != "SHUTOFF" {
		t.Fatalf("the cloud's server is %s after a stop", s.Status)
	}
	for _, p := range []string{"", "/outputs", "/state", "/terraform", "/template", "/runs", "/logs?size=1000"} {
		rec.call("GET", "/api/v1/deployments/"+id+p, admin, nil, 200)
	}
	rec.call("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
	if got := svc.waitSettled(id, admin); got["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete: %v %v", got["status"], got["status_reason"])
	}
	if inv := cloud.Inventory(ossim.ProjectName); !inv.Empty() {
		t.Fatalf("the cloud still holds: %s", inv)
	}
	rec.call("GET", "/api/v1/deployments/"+id+"/logs?size=1000", admin, nil, 200)

	// The provider authenticated, always with exactly the target's credential.
	auths := cloud.Auths()
	if len(auths) == 0 {
		t.Fatal("the provider never authenticated")
	}
	for _, a := range auths {
		if !a.OK || a.Method != "application_credential" || a.ApplicationCred != credID || a.ProjectName != ossim.ProjectName {
			t.Fatalf("an authentication the target's credentials do not explain: %+v", a)
		}
	}

	// The secret is nowhere: API responses, service output, data dir.
	for _, body := range rec.bodies {
		if strings.Contains(body, secret) {
			t.Fatalf("an API response contains the secret: %s", body)
		}
	}
	if strings.Contains(svc.out.String(), secret) {
		t.Fatal("the service's output contains the secret")
	}
	files := 0
	filepath.WalkDir(data, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || de.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		files++
		if raw, err := os.ReadFile(p); err == nil && bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%s contains the secret", p)
		}
		return nil
	})
	if files < 5 {
		t.Fatalf("only %d files in the data dir: nothing was really searched", files)
	}
}

// recordingAPI calls the service and keeps every response body.
type recordingAPI struct {
	t      *testing.T
	svc    *service
	bodies []string
}

func (r *recordingAPI) call(method, path, token string, body any, want int) []byte {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, r.svc.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r.bodies = append(r.bodies, string(data))
	if res.StatusCode != want {
		r.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	return data
}

package ossim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// These tests speak plain HTTP to the simulator: what the real APIs answer,
// status and body shape, for the cases our modules and the provider meet.

type client struct {
	t       *testing.T
	c       *Cloud
	token   string
	project string
	http    *http.Client
}

// login authenticates as the seeded demo user, scoped to the demo project.
func login(t *testing.T, c *Cloud) *client {
	t.Helper()
	cl := &client{t: t, c: c, http: &http.Client{Timeout: 10 * time.Second}}
	status, _, hdr := cl.do("POST", "/identity/v3/auth/tokens", passwordAuth(UserName, UserPassword, ProjectName))
	if status != 201 {
		t.Fatalf("login: %d", status)
	}
	cl.token, cl.project = hdr.Get("X-Subject-Token"), c.ProjectID(ProjectName)
	return cl
}

func passwordAuth(user, password, project string) map[string]any {
	return map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{
			"name": user, "password": password, "domain": map[string]any{"name": "Default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"name": "Default"}}},
	}}
}

func (cl *client) do(method, path string, body any) (int, map[string]any, http.Header) {
	cl.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, cl.c.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if cl.token != "" {
		req.Header.Set("X-Auth-Token", cl.token)
	}
	res, err := cl.http.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	json.Unmarshal(data, &out)
	if len(out) == 0 && len(data) > 0 {
		out["raw"] = string(data)
	}
	return res.StatusCode, out, res.Header
}

// must calls and fails the test on another status.
func (cl *client) must(method, path string, body any, want int) map[string]any {
	cl.t.Helper()
	status, out, _ := cl.do(method, path, body)
	if status != want {
		cl.t.Fatalf("%s %s: %d, want %d: %v", method, path, status, want, out)
	}
	return out
}

func str(v any, path ...string) string {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// server boots a server on the private network and returns its id.
func (cl *client) server(name, flavor string) string {
	cl.t.Helper()
	img := cl.imageID("cirros-0.6.2-x86_64-disk")
	out := cl.must("POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": name, "flavorRef": flavor,
		"imageRef": img, "networks": []any{map[string]any{"uuid": cl.c.NetworkID(PrivateNetwork)}}}}, 202)
	return str(out, "server", "id")
}

func (cl *client) imageID(name string) string {
	out := cl.must("GET", "/image/v2/images?name="+name, nil, 200)
	list, _ := out["images"].([]any)
	if len(list) != 1 {
		cl.t.Fatalf("image %s: %v", name, out)
	}
	return str(list[0], "id")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestPasswordAuthGivesAProjectTokenAndACatalogPointingBack(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{})
	cl := &client{t: t, c: c, http: http.DefaultClient}
	status, out, hdr := cl.do("POST", "/identity/v3/auth/tokens", passwordAuth(UserName, UserPassword, ProjectName))
	if status != 201 || hdr.Get("X-Subject-Token") == "" {
		t.Fatalf("auth: %d %v", status, out)
	}
	if str(out, "token", "project", "id") != c.ProjectID(ProjectName) || str(out, "token", "user", "name") != UserName {
		t.Fatalf("token: %v", out)
	}
	urls := map[string]string{}
	for _, e := range out["token"].(map[string]any)["catalog"].([]any) {
		for _, ep := range e.(map[string]any)["endpoints"].([]any) {
			if str(ep, "interface") == "public" && str(ep, "region") == "RegionOne" {
				urls[str(e, "type")] = str(ep, "url")
			}
		}
	}
	want := map[string]string{"compute": c.URL + "/compute/v2.1", "network": c.URL + "/network", "image": c.URL + "/image",
		"volumev3": c.URL + "/volume/v3/" + c.ProjectID(ProjectName), "object-store": c.URL + "/object-store/v1/AUTH_" + c.ProjectID(ProjectName),
		"identity": c.URL + "/identity"}
	for k, v := range want {
		if urls[k] != v {
			t.Errorf("catalog %s = %q, want %q", k, urls[k], v)
		}
	}
	if a := c.Auths(); len(a) != 1 || !a[0].OK || a[0].Method != "password" || a[0].ProjectName != ProjectName {
		t.Fatalf("auth records: %+v", a)
	}
}

func TestAuthenticationRefusals(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{})
	other := c.AddProject("other")
	_ = other
	credID := c.AddApplicationCredential(UserName, ProjectName, "ci", "app-secret")
	appCred := func(id, secret string, scoped bool) map[string]any {
		auth := map[string]any{"identity": map[string]any{"methods": []string{"application_credential"},
			"application_credential": map[string]any{"id": id, "secret": secret}}}
		if scoped {
			auth["scope"] = map[string]any{"project": map[string]any{"name": ProjectName, "domain": map[string]any{"name": "Default"}}}
		}
		return map[string]any{"auth": auth}
	}
	tests := []struct {
		name   string
		body   any
		reason string
	}{
		{"wrong password", passwordAuth(UserName, "nope", ProjectName), "wrong password"},
		{"unknown user", passwordAuth("mallory", UserPassword, ProjectName), "unknown user"},
		{"project without a role", passwordAuth(UserName, UserPassword, "other"), "no role"},
		{"wrong application credential secret", appCred(credID, "nope", false), "wrong secret"},
		{"unknown application credential", appCred("0123", "app-secret", false), "unknown application credential"},
		{"application credential with a scope", appCred(credID, "app-secret", true), "cannot request a scope"},
	}
	cl := &client{t: t, c: c, http: http.DefaultClient}
	for _, tt := range tests {
		status, out, _ := cl.do("POST", "/identity/v3/auth/tokens", tt.body)
		if status != 401 || str(out, "error", "message") != "The request you have made requires authentication." {
			t.Errorf("%s: %d %v", tt.name, status, out)
		}
	}
	auths := c.Auths()
	if len(auths) != len(tests) {
		t.Fatalf("%d records for %d attempts", len(auths), len(tests))
	}
	for i, a := range auths {
		if a.OK || !strings.Contains(a.Reason, tests[i].reason) {
			t.Errorf("%s: record %+v", tests[i].name, a)
		}
	}
	// The right secret works, and the token is the credential's project's.
	status, out, _ := cl.do("POST", "/identity/v3/auth/tokens", appCred(credID, "app-secret", false))
	if status != 201 || str(out, "token", "project", "name") != ProjectName || str(out, "token", "application_credential", "id") != credID {
		t.Fatalf("application credential: %d %v", status, out)
	}
}

func TestExpiredTokensAreRefusedAndReauthenticationWorks(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{TokenTTL: 300 * time.Millisecond})
	cl := login(t, c)
	cl.must("GET", "/compute/v2.1/flavors", nil, 200)
	time.Sleep(400 * time.Millisecond)
	status, out, hdr := cl.do("GET", "/compute/v2.1/flavors", nil)
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "Keystone uri=") || str(out, "error", "title") != "Unauthorized" {
		t.Fatalf("expired token: %d %v", status, out)
	}
	cl = login(t, c)
	cl.must("GET", "/compute/v2.1/flavors", nil, 200)
	c.ExpireTokens()
	if status, _, _ := cl.do("GET", "/network/v2.0/networks", nil); status != 401 {
		t.Fatalf("after ExpireTokens: %d", status)
	}
}

func TestProjectsSeeOnlyTheirOwnResources(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{})
	demo := login(t, c)
	id := demo.server("mine", "1")
	c.AddUser("eve", "eve-password", "other")
	eve := &client{t: t, c: c, http: http.DefaultClient}
	_, _, hdr := eve.do("POST", "/identity/v3/auth/tokens", passwordAuth("eve", "eve-password", "other"))
	eve.token = hdr.Get("X-Subject-Token")
	status, out, _ := eve.do("GET", "/compute/v2.1/servers/"+id, nil)
	if status != 404 || str(out, "itemNotFound", "message") != "Instance "+id+" could not be found." {
		t.Fatalf("another project's server: %d %v", status, out)
	}
	if list := eve.must("GET", "/compute/v2.1/servers/detail", nil, 200)["servers"].([]any); len(list) != 0 {
		t.Fatalf("eve lists %v", list)
	}
	// Cinder's URL carries the project: another project's path is refused.
	if status, _, _ := eve.do("GET", "/volume/v3/"+demo.project+"/volumes", nil); status != 400 {
		t.Fatalf("cinder with another project's path: %d", status)
	}
	// The private network is demo's; eve sees only the shared external one.
	nets := eve.must("GET", "/network/v2.0/networks", nil, 200)["networks"].([]any)
	if len(nets) != 1 || str(nets[0], "name") != PublicNetwork {
		t.Fatalf("eve's networks: %v", nets)
	}
}

func TestServersBuildThenGoActiveWithAddresses(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{BuildTime: 200 * time.Millisecond, ActionTime: 100 * time.Millisecond})
	cl := login(t, c)
	id := cl.server("vm", "2")
	if s := cl.must("GET", "/compute/v2.1/servers/"+id, nil, 200); str(s, "server", "status") != "BUILD" {
		t.Fatalf("right after create: %v", s["server"])
	}
	waitFor(t, "ACTIVE", func() bool {
		return str(cl.must("GET", "/compute/v2.1/servers/"+id, nil, 200), "server", "status") == "ACTIVE"
	})
	s := cl.must("GET", "/compute/v2.1/servers/"+id, nil, 200)["server"].(map[string]any)
	addrs := s["addresses"].(map[string]any)[PrivateNetwork].([]any)
	// .1 is the gateway, .2 the DHCP port: the first server gets .3.
	if len(addrs) != 1 || str(addrs[0], "addr") != "10.0.0.3" || str(addrs[0], "OS-EXT-IPS:type") != "fixed" {
		t.Fatalf("addresses: %v", addrs)
	}
	// Stop, then start: SHUTOFF in between, and 409 for a start while ACTIVE.
	cl.must("POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"os-stop": nil}, 202)
	waitFor(t, "SHUTOFF", func() bool { info, _ := c.Server(id); return info.Status == "SHUTOFF" })
	cl.must("POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"os-start": nil}, 202)
	waitFor(t, "ACTIVE again", func() bool { info, _ := c.Server(id); return info.Status == "ACTIVE" })
	status, out, _ := cl.do("POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"os-start": nil})
	if status != 409 || !strings.Contains(str(out, "conflictingRequest", "message"), "while it is in vm_state active") {
		t.Fatalf("start while active: %d %v", status, out)
	}
	// Resize keeps the id: RESIZE, VERIFY_RESIZE, then ACTIVE on confirm.
	cl.must("POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"resize": map[string]any{"flavorRef": "3"}}, 202)
	waitFor(t, "VERIFY_RESIZE", func() bool { info, _ := c.Server(id); return info.Status == "VERIFY_RESIZE" })
	cl.must("POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"confirmResize": nil}, 204)
	waitFor(t, "resized", func() bool { info, _ := c.Server(id); return info.Status == "ACTIVE" && info.Flavor == "m1.medium" })
	// Delete takes a while, then 404 and no port left.
	cl.must("DELETE", "/compute/v2.1/servers/"+id, nil, 204)
	waitFor(t, "deleted", func() bool { _, ok := c.Server(id); return !ok })
	if inv := c.Inventory(ProjectName); !inv.Empty() {
		t.Fatalf("left after delete: %s", inv)
	}
}

// The real APIs refuse these; the simulator must too, with the same status and shape.
func TestStrictnessMatchesTheRealAPIs(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{})
	c.SetQuota(ProjectName, Quota{Gigabytes: 50, Cores: 4})
	cl := login(t, c)
	img := cl.imageID("cirros-0.6.2-x86_64-disk")
	private := c.NetworkID(PrivateNetwork)
	vol := str(cl.must("POST", "/volume/v3/"+cl.project+"/volumes", map[string]any{"volume": map[string]any{"size": 1}}, 202), "volume", "id")
	srv := cl.server("holder", "1")
	waitFor(t, "volume and server ready", func() bool {
		info, _ := c.Server(srv)
		return info.Status == "ACTIVE"
	})
	cl.must("POST", "/compute/v2.1/servers/"+srv+"/os-volume_attachments", map[string]any{"volumeAttachment": map[string]any{"volumeId": vol}}, 200)
	// A network with no router to the external one, and a port on it.
	isolated := str(cl.must("POST", "/network/v2.0/networks", map[string]any{"network": map[string]any{"name": "isolated"}}, 201), "network", "id")
	cl.must("POST", "/network/v2.0/subnets", map[string]any{"subnet": map[string]any{"network_id": isolated, "cidr": "192.168.9.0/24", "ip_version": 4}}, 201)
	lonely := str(cl.must("POST", "/network/v2.0/ports", map[string]any{"port": map[string]any{"network_id": isolated}}, 201), "port", "id")
	fip := str(cl.must("POST", "/network/v2.0/floatingips", map[string]any{"floatingip": map[string]any{"floating_network_id": c.NetworkID(PublicNetwork)}}, 201), "floatingip", "id")
	sg := str(cl.must("POST", "/network/v2.0/security-groups", map[string]any{"security_group": map[string]any{"name": "web"}}, 201), "security_group", "id")
	cl.must("POST", "/network/v2.0/ports", map[string]any{"port": map[string]any{"network_id": private, "security_groups": []string{sg}}}, 201)

	tests := []struct {
		name, method, path string
		body               any
		status             int
		key, message       string // the error envelope's key and a part of its message
	}{
		{"unknown flavor", "POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": "x", "flavorRef": "999", "imageRef": img, "networks": []any{map[string]any{"uuid": private}}}},
			400, "badRequest", "Invalid flavorRef provided."},
		{"unknown image", "POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": "x", "flavorRef": "1", "imageRef": "0b4c2ed0-0000-4000-8000-000000000000", "networks": []any{map[string]any{"uuid": private}}}},
			400, "badRequest", "Image 0b4c2ed0-0000-4000-8000-000000000000 could not be found."},
		{"unknown key pair", "POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": "x", "flavorRef": "1", "imageRef": img, "key_name": "nope", "networks": []any{map[string]any{"uuid": private}}}},
			400, "badRequest", "Invalid key_name provided."},
		{"cores over quota", "POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": "x", "flavorRef": "5", "imageRef": img, "networks": []any{map[string]any{"uuid": private}}}},
			403, "forbidden", "Quota exceeded for cores: Requested 8, but already used 1 of 4 cores"},
		{"port on a missing network", "POST", "/network/v2.0/ports", map[string]any{"port": map[string]any{"network_id": "5e1a0000-0000-4000-8000-000000000000"}},
			404, "NeutronError", "Network 5e1a0000-0000-4000-8000-000000000000 could not be found."},
		{"floating IP from a network that is not external", "POST", "/network/v2.0/floatingips", map[string]any{"floatingip": map[string]any{"floating_network_id": private}},
			400, "NeutronError", "Bad floatingip request: Network " + private + " is not a valid external network."},
		{"floating IP on a port no router reaches", "PUT", "/network/v2.0/floatingips/" + fip, map[string]any{"floatingip": map[string]any{"port_id": lonely}},
			404, "NeutronError", "is not reachable from subnet"},
		{"security group in use", "DELETE", "/network/v2.0/security-groups/" + sg, nil, 409, "NeutronError", "Security Group " + sg + " in use."},
		{"deleting an in-use volume", "DELETE", "/volume/v3/" + cl.project + "/volumes/" + vol, nil,
			400, "badRequest", "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached"},
		{"volume over the gigabytes quota", "POST", "/volume/v3/" + cl.project + "/volumes", map[string]any{"volume": map[string]any{"size": 100}},
			413, "overLimit", "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 100G, quota is 50G and 1G has been consumed."},
		{"unknown volume type", "POST", "/volume/v3/" + cl.project + "/volumes", map[string]any{"volume": map[string]any{"size": 1, "volume_type": "gold"}},
			404, "itemNotFound", "Volume type with name gold could not be found."},
		{"resize to the same flavor", "POST", "/compute/v2.1/servers/" + srv + "/action", map[string]any{"resize": map[string]any{"flavorRef": "1"}},
			400, "badRequest", "When resizing, instances must change flavor!"},
		{"overlapping subnet", "POST", "/network/v2.0/subnets", map[string]any{"subnet": map[string]any{"network_id": isolated, "cidr": "192.168.9.128/25", "ip_version": 4}},
			400, "NeutronError", "overlaps with another subnet"},
		{"router gateway on an internal network", "POST", "/network/v2.0/routers", map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{"network_id": private}}},
			400, "NeutronError", "Bad router request: Network " + private + " is not an external network."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := *cl
			cl.t = t
			status, out, _ := cl.do(tt.method, tt.path, tt.body)
			env, _ := out[tt.key].(map[string]any)
			if status != tt.status || env == nil || !strings.Contains(str(env, "message"), tt.message) {
				t.Fatalf("%d %v, want %d with %s containing %q", status, out, tt.status, tt.key, tt.message)
			}
			if tt.key != "NeutronError" && env["code"] != float64(tt.status) {
				t.Fatalf("code %v in %v", env["code"], out)
			}
		})
	}
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{})
	cl := login(t, c)
	// A 500 on one call, then the service is fine again.
	c.Inject(Fault{Service: "network", Method: "GET", Path: "/networks", Times: 1, Status: 500})
	status, out, _ := cl.do("GET", "/network/v2.0/networks", nil)
	if status != 500 || str(out, "NeutronError", "type") != "HTTPInternalServerError" {
		t.Fatalf("injected 500: %d %v", status, out)
	}
	cl.must("GET", "/network/v2.0/networks", nil, 200)
	// After lets calls through first.
	c.Inject(Fault{Service: "compute", Path: "/flavors", After: 1, Times: 1, Status: 503})
	cl.must("GET", "/compute/v2.1/flavors", nil, 200)
	if status, out, _ := cl.do("GET", "/compute/v2.1/flavors", nil); status != 503 || out["serviceUnavailable"] == nil {
		t.Fatalf("second call: %d %v", status, out)
	}
	// A hanging endpoint answers nothing until the client gives up.
	c.Inject(Fault{Service: "image", Hang: true})
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	req, _ := http.NewRequest("GET", c.URL+"/image/v2/images", nil)
	req.Header.Set("X-Auth-Token", cl.token)
	start := time.Now()
	_, err := hc.Do(req)
	var timeout interface{ Timeout() bool }
	if err == nil || !errors.As(err, &timeout) || !timeout.Timeout() || time.Since(start) > 5*time.Second {
		t.Fatalf("hanging endpoint: %v after %s", err, time.Since(start))
	}
	c.ClearFaults()
	cl.must("GET", "/image/v2/images", nil, 200)
	// A slow endpoint answers normally, late.
	c.Inject(Fault{Service: "compute", Path: "/flavors", Delay: 200 * time.Millisecond})
	start = time.Now()
	cl.must("GET", "/compute/v2.1/flavors", nil, 200)
	if time.Since(start) < 200*time.Millisecond {
		t.Fatalf("a delayed call answered after %s", time.Since(start))
	}
}

func TestFailedBuildsCarryTheCloudsFaultMessage(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{BuildTime: 50 * time.Millisecond})
	c.FailBuilds("doomed", "No valid host was found. There are not enough hosts available.")
	cl := login(t, c)
	id := cl.server("doomed-1", "1")
	waitFor(t, "ERROR", func() bool { info, _ := c.Server(id); return info.Status == "ERROR" })
	s := cl.must("GET", "/compute/v2.1/servers/"+id, nil, 200)
	if str(s, "server", "fault", "message") != "No valid host was found. There are not enough hosts available." {
		t.Fatalf("fault: %v", s["server"])
	}
	// Its port went away with the failed build; the server deletes at once.
	cl.must("DELETE", "/compute/v2.1/servers/"+id, nil, 204)
	if inv := c.Inventory(ProjectName); !inv.Empty() {
		t.Fatalf("left: %s", inv)
	}
}

// A test can decide the addresses (to back a server by a real host later).
func TestAllocateChoosesAddresses(t *testing.T) {
	t.Parallel()
	c := NewTest(t, Options{Allocate: func(a Allocation) (string, bool) {
		switch {
		case a.Kind == "fixed" && a.DeviceName == "pinned":
			return "10.0.0.77", true
		case a.Kind == "floating" && a.Description == "pinned":
			return "172.24.4.77", true
		}
		return "", false
	}})
	cl := login(t, c)
	id := cl.server("pinned", "1")
	fip := cl.must("POST", "/network/v2.0/floatingips", map[string]any{"floatingip": map[string]any{
		"floating_network_id": c.NetworkID(PublicNetwork), "description": "pinned"}}, 201)
	info, _ := c.Server(id)
	if len(info.FixedIPs) != 1 || info.FixedIPs[0] != "10.0.0.77" || str(fip, "floatingip", "floating_ip_address") != "172.24.4.77" {
		t.Fatalf("fixed %v, floating %v", info.FixedIPs, fip)
	}
}

// A server backed by a real host: the seeded networks take the host's ranges,
// Boot sees the key pair's key and the cloud-init user data once, when the
// server first goes ACTIVE, and a failed boot is the server's fault.
func TestBootHookAndNetworkRanges(t *testing.T) {
	t.Parallel()
	var booted []ServerInfo
	c := NewTest(t, Options{BuildTime: 50 * time.Millisecond, PublicCIDR: "10.250.9.0/24", PrivateCIDR: "10.251.9.0/24",
		Boot: func(info ServerInfo) error {
			booted = append(booted, info)
			if info.Name == "broken" {
				return errors.New("no host left to back it")
			}
			return nil
		}})
	cl := login(t, c)
	cl.must("POST", "/compute/v2.1/os-keypairs", map[string]any{"keypair": map[string]any{"name": "k",
		"public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1jV3xz0bBkB5E1Zb9+8m6bN1dM0pQeTt0q5n3bY1f k"}}, 200)
	img := cl.imageID("cirros-0.6.2-x86_64-disk")
	userData := base64.StdEncoding.EncodeToString([]byte("#cloud-config\nssh_authorized_keys: [ssh-ed25519 AAAA x]\n"))
	out := cl.must("POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": "backed", "flavorRef": "1",
		"imageRef": img, "key_name": "k", "user_data": userData, "networks": []any{map[string]any{"uuid": c.NetworkID(PrivateNetwork)}}}}, 202)
	id := str(out, "server", "id")
	bad := cl.server("broken", "1")
	waitFor(t, "ACTIVE", func() bool { info, _ := c.Server(id); return info.Status == "ACTIVE" })
	waitFor(t, "ERROR", func() bool { info, _ := c.Server(bad); return info.Status == "ERROR" })
	info, _ := c.Server(id)
	if len(booted) != 2 || booted[0].ID != id || !strings.HasPrefix(booted[0].PublicKey, "ssh-ed25519 ") ||
		!strings.Contains(booted[0].UserData, "ssh_authorized_keys") || !strings.HasPrefix(info.FixedIPs[0], "10.251.9.") {
		t.Fatalf("booted %+v, server %+v", booted, info)
	}
	if f, _ := c.Server(bad); !strings.Contains(f.Fault, "no host left to back it") {
		t.Fatalf("failed boot: %+v", f)
	}
	// A reboot is not a first boot.
	cl.must("POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"reboot": map[string]any{"type": "SOFT"}}, 202)
	waitFor(t, "ACTIVE again", func() bool { info, _ := c.Server(id); return info.Status == "ACTIVE" && info.Reboots == 1 })
	if len(booted) != 2 {
		t.Fatalf("boot ran again on reboot: %d", len(booted))
	}
	// The port data source looks a server's port up by device and fixed IP.
	q := "/network/v2.0/ports?device_id=" + id + "&fixed_ips=ip_address%3D" + info.FixedIPs[0]
	ports, _ := cl.must("GET", q, nil, 200)["ports"].([]any)
	if len(ports) != 1 || str(ports[0], "id") != info.Ports[0] {
		t.Fatalf("ports by device and fixed ip: %v", ports)
	}
	for _, miss := range []string{"fixed_ips=ip_address%3D10.251.9.250", "fixed_ips=subnet_id%3Dnope", "fixed_ips=bogus"} {
		if ports, _ := cl.must("GET", "/network/v2.0/ports?device_id="+id+"&"+miss, nil, 200)["ports"].([]any); len(ports) != 0 {
			t.Fatalf("%s matched %v", miss, ports)
		}
	}
	pub := cl.must("GET", "/network/v2.0/subnets?network_id="+c.NetworkID(PublicNetwork), nil, 200)
	if list, _ := pub["subnets"].([]any); len(list) != 1 || str(list[0], "cidr") != "10.250.9.0/24" {
		t.Fatalf("public subnets: %v", pub)
	}
}

// The simulator is a test double: the service binary must not link it.
func TestTheServiceBinaryDoesNotImportTheSimulator(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "orchestrator/cmd/orchestrator").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "orchestrator/jobs") {
		t.Fatalf("go list output does not look like the binary's dependencies:\n%s", out)
	}
	if strings.Contains(string(out), "orchestrator/modules/openstack/ossim") {
		t.Fatal("cmd/orchestrator depends on the OpenStack simulator")
	}
}

package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// get fetches a path with a plain client: dashboard pages are not API routes,
// so they bypass the OpenAPI response check.
func plainGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// TestDashboardIsMountedBesideTheAPI: client routes get the app; the API,
// health, metrics and docs routes keep answering as before.
func TestDashboardIsMountedBesideTheAPI(t *testing.T) {
	app := newTestApp(t)
	for _, path := range []string{"/", "/catalog", "/deployments/0123?tab=logs", "/admin/users"} {
		res, body := plainGet(t, app.url+path)
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, app.server.ui.AssetBase()+"/app.js") {
			t.Fatalf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") || res.Header.Get("X-Request-ID") == "" {
			t.Fatalf("%s headers: %v", path, res.Header)
		}
	}
	res := app.expect(404, "GET", "/api/v1/no-such-route", "", nil)
	if res.ErrorCode(t) != "not_found" {
		t.Fatalf("unknown API route: %s", res.Body)
	}
	res = app.expect(404, "POST", "/catalog", "", nil)
	if res.ErrorCode(t) != "not_found" {
		t.Fatalf("POST to a client route: %s", res.Body)
	}
	app.expect(200, "GET", "/healthz", "", nil)
	mustContain(t, app.expect(200, "GET", "/metrics", "", nil).Body, "orchestrator_http_requests_total")
	mustContain(t, app.expect(200, "GET", "/docs", "", nil).Body, "/api/v1/openapi.json")
	asset, js := plainGet(t, app.url+app.server.ui.AssetBase()+"/app.js")
	if asset.StatusCode != 200 || !strings.Contains(js, "import") || !strings.Contains(asset.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset: %d %v", asset.StatusCode, asset.Header)
	}
}

func TestAuthConfig(t *testing.T) {
	app := newTestApp(t)
	cfg := app.expect(200, "GET", "/api/v1/auth/config", "", nil).JSON(t)
	if cfg["local_login"] != true || cfg["signup"] != true || cfg["oidc"] != nil {
		t.Fatalf("without a client id: %v", cfg)
	}

	idp := newTestIdP(t)
	app = newTestApp(t, func(c *Config, _ *Deps) {
		c.AllowSignup = false
		c.OIDC = OIDCConfig{Issuers: []string{idp.srv.URL}, ClientID: "dashboard"}
	})
	// Before discovery the CSP already allows the issuer's origin.
	res, _ := plainGet(t, app.url+"/")
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "connect-src 'self' "+idp.srv.URL) {
		t.Fatalf("CSP: %s", res.Header.Get("Content-Security-Policy"))
	}
	cfg = app.expect(200, "GET", "/api/v1/auth/config", "", nil).JSON(t)
	oidc := cfg["oidc"].(map[string]any)
	if cfg["signup"] != false || oidc["client_id"] != "dashboard" || oidc["issuer"] != idp.srv.URL ||
		oidc["authorization_endpoint"] != idp.srv.URL+"/auth" || oidc["token_endpoint"] != idp.srv.URL+"/token" || oidc["scopes"] != "openid profile email" {
		t.Fatalf("with a client id: %v", cfg)
	}

	// An identity provider that is down: sign-in says so, the page still works.
	idp.srv.Close()
	app = newTestApp(t, func(c *Config, _ *Deps) {
		c.OIDC = OIDCConfig{Issuers: []string{idp.srv.URL}, ClientID: "dashboard"}
	})
	oidc = app.expect(200, "GET", "/api/v1/auth/config", "", nil).JSON(t)["oidc"].(map[string]any)
	if oidc["error"] == nil || oidc["authorization_endpoint"] != nil {
		t.Fatalf("provider down: %v", oidc)
	}
}

// TestPreviewSubmission plans a new deployment with the checks of a real
// submission, and creates nothing.
func TestPreviewSubmission(t *testing.T) {
	app := newTestApp(t, withEngine(t))
	_, token := app.signup("planner")
	vm := app.templateID(token, "single-vm")
	bad := app.expect(422, "POST", "/api/v1/deployments/plan", token, map[string]any{"template_id": vm, "inputs": map[string]any{"vm_name": "Not A Name"}})
	mustContain(t, bad.Body, `"field":"inputs.vm_name"`)
	app.expect(422, "POST", "/api/v1/deployments/plan", token, map[string]any{"template_id": vm, "target": "nowhere"})
	plan := app.expect(200, "POST", "/api/v1/deployments/plan", token, map[string]any{"template_id": vm, "inputs": map[string]any{"num_cpus": 2}}).JSON(t)
	if plan["add"].(float64) < 1 || plan["change"].(float64) != 0 || plan["remove"].(float64) != 0 {
		t.Fatalf("plan: %v", plan)
	}
	mustContain(t, app.expect(200, "POST", "/api/v1/deployments/plan", token, map[string]any{"template_id": vm}).Body, `"action":"create"`)
	if n := len(items(t, app.expect(200, "GET", "/api/v1/deployments?include_deleted=true", token, nil))); n != 0 {
		t.Fatalf("a preview created %d deployments", n)
	}
}

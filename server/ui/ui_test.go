package ui

import (
	"compress/gzip"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func newApp(t *testing.T, opts Options) (*fiber.App, *Handler) {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Use(h.Serve)
	app.Use(func(c *fiber.Ctx) error {
		return c.Status(404).JSON(fiber.Map{"error": fiber.Map{"code": "not_found"}})
	})
	return app, h
}

func get(t *testing.T, app *fiber.App, method, path string, headers ...string) (*httptestResponse, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body []byte
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(zr)
	} else {
		body, _ = io.ReadAll(res.Body)
	}
	return &httptestResponse{Code: res.StatusCode, Header: res.Header}, string(body)
}

type httptestResponse struct {
	Code   int
	Header map[string][]string
}

func (r *httptestResponse) get(k string) string {
	for name, v := range r.Header {
		if strings.EqualFold(name, k) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func TestClientRoutesGetIndexWithStrictHeaders(t *testing.T) {
	app, h := newApp(t, Options{ConnectSources: func() []string { return []string{"https://idp.example.org"} }})
	for _, path := range []string{"/", "/catalog", "/deployments/abc?tab=logs", "/admin/templates/new", "/no/such/page"} {
		res, body := get(t, app, "GET", path)
		if res.Code != 200 || !strings.HasPrefix(res.get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, res.Code, res.get("Content-Type"))
		}
		if !strings.Contains(body, `<script type="module" src="`+h.AssetBase()+`/app.js">`) {
			t.Fatalf("%s: index does not load the versioned app:\n%s", path, body)
		}
		csp := res.get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self' https://idp.example.org", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Fatalf("CSP lacks %q: %s", want, csp)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Fatalf("CSP allows inline code: %s", csp)
		}
		if res.get("Cache-Control") != "no-cache" || res.get("ETag") == "" || res.get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s headers: %v", path, res.Header)
		}
	}
}

// TestIndexHasNoInlineCode keeps the strict CSP honest: every script and style
// comes from a file, and every file index.html names exists.
func TestIndexHasNoInlineCode(t *testing.T) {
	_, h := newApp(t, Options{})
	index := string(h.index.body)
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(index) || strings.Contains(index, "<style") || strings.Contains(index, " style=") ||
		regexp.MustCompile(`\son[a-z]+=`).MatchString(index) {
		t.Fatalf("index.html has inline code:\n%s", index)
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="`+regexp.QuoteMeta(h.AssetBase())+`/([^"]+)"`).FindAllStringSubmatch(index, -1) {
		if h.assets[m[1]] == nil {
			t.Errorf("index.html names %s, which is not embedded", m[1])
		}
	}
	if strings.Contains(index, "{{") {
		t.Fatal("a placeholder was left in index.html")
	}
}

// TestModuleImportsResolve fails when a module imports a file that is not embedded.
func TestModuleImportsResolve(t *testing.T) {
	_, h := newApp(t, Options{})
	imp := regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]\./([^'"]+)['"]`)
	n := 0
	for name, a := range h.assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imp.FindAllStringSubmatch(string(a.body), -1) {
			n++
			if h.assets[m[1]] == nil {
				t.Errorf("%s imports ./%s, which is not embedded", name, m[1])
			}
		}
		if strings.Contains(string(a.body), "innerHTML") || strings.Contains(string(a.body), "eval(") {
			t.Errorf("%s writes HTML from strings or evaluates code", name)
		}
	}
	if n < 10 {
		t.Fatalf("only %d imports found", n)
	}
}

func TestAssetsAreVersionedCachedAndCompressed(t *testing.T) {
	app, h := newApp(t, Options{})
	res, body := get(t, app, "GET", h.AssetBase()+"/app.js", "Accept-Encoding", "gzip, br")
	if res.Code != 200 || res.get("Content-Encoding") != "gzip" || !strings.Contains(body, "import") {
		t.Fatalf("app.js: %d %v", res.Code, res.Header)
	}
	if res.get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.HasPrefix(res.get("Content-Type"), "text/javascript") {
		t.Fatalf("app.js headers: %v", res.Header)
	}
	etag := res.get("ETag")
	res, _ = get(t, app, "GET", h.AssetBase()+"/app.js", "If-None-Match", etag)
	if res.Code != 304 {
		t.Fatalf("revalidation: %d", res.Code)
	}
	res, body = get(t, app, "GET", h.AssetBase()+"/app.css")
	if res.Code != 200 || res.get("Content-Encoding") != "" || !strings.Contains(body, ":root") {
		t.Fatalf("app.css without gzip: %d %v", res.Code, res.Header)
	}
	// An old version's URL still works, but is not cached under that name.
	res, _ = get(t, app, "GET", "/assets/0123456789abcdef/app.js")
	if res.Code != 200 || res.get("Cache-Control") != "no-cache" {
		t.Fatalf("old version: %d %v", res.Code, res.Header)
	}
	for _, path := range []string{h.AssetBase() + "/nope.js", h.AssetBase() + "/../ui.go", "/assets/x"} {
		if res, _ := get(t, app, "GET", path); res.Code != 404 {
			t.Fatalf("%s: %d", path, res.Code)
		}
	}
}

func TestAPIPathsAndOtherMethodsFallThrough(t *testing.T) {
	app, _ := newApp(t, Options{})
	for _, c := range []struct{ method, path string }{{"GET", "/api/v1/nope"}, {"GET", "/api"}, {"POST", "/catalog"}, {"DELETE", "/"}} {
		res, body := get(t, app, c.method, c.path)
		if res.Code != 404 || !strings.Contains(body, "not_found") {
			t.Fatalf("%s %s: %d %s", c.method, c.path, res.Code, body)
		}
	}
	res, body := get(t, app, "HEAD", "/deployments")
	if res.Code != 200 || body != "" {
		t.Fatalf("HEAD: %d %q", res.Code, body)
	}
}

// TestBundleSize keeps the app small: no framework, no build, and a budget.
func TestBundleSize(t *testing.T) {
	_, h := newApp(t, Options{})
	plain, gz := h.Size()
	t.Logf("dashboard bundle: %d files, %d bytes, %d bytes gzipped", len(h.assets)+1, plain, gz)
	if gz > 60<<10 {
		t.Fatalf("the dashboard is %d bytes gzipped, over its 60 KiB budget", gz)
	}
}

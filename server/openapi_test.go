package server

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

var fiberParam = regexp.MustCompile(`:([a-z_]+)`)

// TestOpenAPIMatchesRoutes fails when a route is missing from the document or
// the document has a route the server does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadDoc(t)
	app := newTestApp(t)
	served := map[string]bool{}
	for _, r := range app.server.Routes() {
		served[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented: %v\ndocumented but not served: %v", missing, extra)
	}
	if len(served) < 50 {
		t.Fatalf("only %d routes?", len(served))
	}
}

func TestOpenAPIServedAndDocsPage(t *testing.T) {
	app := newTestApp(t)
	res := app.expect(200, "GET", "/api/v1/openapi.json", "", nil)
	var doc map[string]any
	if err := json.Unmarshal([]byte(res.Body), &doc); err != nil || doc["openapi"] != "3.0.3" {
		t.Fatalf("document: %v", err)
	}
	page := app.expect(200, "GET", "/docs", "", nil)
	if !strings.Contains(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(page.Body, "/api/v1/openapi.json") {
		t.Fatalf("docs page: %s", page.Header.Get("Content-Type"))
	}
}

package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"orchestrator/examples"
	"orchestrator/jobs"
	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// engineAdapter gives the server the engine through the server's interface.
type engineAdapter struct{ *jobs.Engine }

func (a engineAdapter) Plan(ctx context.Context, d *store.Deployment, redeploy bool) (any, error) {
	return a.Engine.Plan(ctx, d, redeploy)
}

// withEngine runs the real engine with real Terraform on the simulated local
// target, with the example templates in the catalog.
func withEngine(t testing.TB) appOption {
	return func(c *Config, d *Deps) {
		tc := tftest.Find(t)
		if d.Metrics == nil {
			d.Metrics = NewMetrics()
		}
		e := jobs.New(jobs.Config{DataDir: t.TempDir(), Workers: 4, Heartbeat: 500 * time.Millisecond, KillGrace: 5 * time.Second},
			d.Store, tc.TC, slog.New(slog.NewTextHandler(io.Discard, nil)), d.Metrics)
		ctx := context.Background()
		if err := d.Store.Targets.Create(ctx, &store.Target{Name: "local", Kind: "local", Config: []byte(`{}`)}, nil); err != nil {
			t.Fatal(err)
		}
		list, _ := examples.All()
		for _, ex := range list {
			tm, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: ex.Name, Content: []byte(ex.Content)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			inputs, meta, _ := describeTemplate(tm)
			if err := d.Store.Templates.Create(ctx, &store.Template{Name: ex.Name, Version: "1.0", Content: ex.Content, Inputs: inputs, Metadata: meta,
				Description: tm.Description}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e.Stop(ctx)
		})
		d.Engine, d.Toolchain = engineAdapter{e}, tc.TC
	}
}

type responseValidator struct {
	t      testing.TB
	router routers.Router
	next   http.RoundTripper
	count  int
}

// registerDecoders registers the body decoders once: they live in a global map
// that tests running in parallel must not write at the same time.
var registerDecoders sync.Once

func newResponseValidator(t testing.TB) *responseValidator {
	registerDecoders.Do(func() {
		for _, ct := range []string{"text/html", "application/yaml", "image/png", "image/jpeg", "text/plain"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	})
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // match any host
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &responseValidator{t: t, router: router, next: http.DefaultTransport}
}

func (v *responseValidator) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := v.next.RoundTrip(req)
	if err != nil || strings.Contains(res.Header.Get("Content-Type"), "text/event-stream") {
		return res, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	// The server ignores a trailing slash (orpy sends them), the document has none.
	match := req
	if p := req.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		match = req.Clone(req.Context())
		match.URL.Path, match.URL.RawPath = strings.TrimSuffix(p, "/"), ""
	}
	route, params, err := v.router.FindRoute(match)
	if err != nil {
		if res.StatusCode != 404 && res.StatusCode != 405 {
			v.t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		}
		return res, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: match, PathParams: params, Route: route,
		Options: &openapi3filter.Options{ExcludeRequestBody: true, ExcludeRequestQueryParams: true, SkipSettingDefaults: true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, truncate(string(body), 600))
	}
	v.count++
	return res, nil
}

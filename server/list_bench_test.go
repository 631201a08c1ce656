package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"orchestrator/store"
)

// BenchmarkListDeployments measures GET /api/v1/deployments?size=10 in process
// (no network) for a user owning 200 of 2,000 deployments, and for an admin.
func BenchmarkListDeployments(b *testing.B) {
	app := newTestApp(b)
	app.client.Transport = nil // no OpenAPI validation in a benchmark
	ctx := b.Context()
	adminID, admin := app.admin("root")
	_ = adminID
	userID, user := app.signup("alice")
	for i := 0; i < 2000; i++ {
		owner := adminID
		if i%10 == 0 {
			owner = userID
		}
		d := &store.Deployment{Template: "x", Target: "local", Inputs: json.RawMessage(`{"n": 1}`), Owners: []string{owner},
			Description: fmt.Sprintf("d%d", i)}
		if _, err := app.store.Deployments.Create(ctx, d, owner); err != nil {
			b.Fatal(err)
		}
	}
	for _, who := range []struct{ name, token string }{{"user", user}, {"admin", admin}} {
		b.Run(who.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/v1/deployments?size=10", nil)
			req.Header.Set("Authorization", "Bearer "+who.token)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				res, err := app.server.App().Test(req, -1)
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("%v %v", res.StatusCode, err)
				}
				res.Body.Close()
			}
		})
	}
}

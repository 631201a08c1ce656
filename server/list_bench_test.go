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

// TestDeploymentPagesFitTheWriteBuffer keeps the default page (10) and the
// dashboard's usual larger one (25) of realistic deployments within the
// response write buffer: past it a response leaves in two write system calls,
// which cost a third of the list's throughput under load (make bench).
func TestDeploymentPagesFitTheWriteBuffer(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ctx := t.Context()
	userID, user := app.signup("alice")
	for i := 0; i < 25; i++ {
		d := &store.Deployment{Template: "x", Target: "local", Owners: []string{userID},
			Description: fmt.Sprintf("JupyterHub for the %d-th summer school on detector physics, with GPU nodes and shared storage", i),
			Labels:      map[string]string{"project": "cms-analysis", "group": "infn-pd", "cost-centre": "eosc-2026"},
			Inputs: json.RawMessage(`{"num_cpus": 8, "mem_size": "32 GB", "disk_size": "500 GB", "os_distribution": "ubuntu",
				"os_version": "24.04", "admin_email": "someone@example.org"}`)}
		if _, err := app.store.Deployments.Create(ctx, d, userID); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{10, 25} {
		res := app.expect(200, "GET", fmt.Sprintf("/api/v1/deployments?size=%d", size), user, nil)
		if n := len(res.JSON(t)["items"].([]any)); n != size {
			t.Fatalf("size=%d: %d items", size, n)
		}
		headers := len("HTTP/1.1 200 OK\r\n\r\n")
		for k, vs := range res.Header {
			for _, v := range vs {
				headers += len(k) + len(": \r\n") + len(v)
			}
		}
		if total := headers + len(res.Body); total > responseWriteBuffer {
			t.Errorf("a page of %d deployments is %d bytes with its headers, past the %d-byte write buffer", size, total, responseWriteBuffer)
		}
	}
}

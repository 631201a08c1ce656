package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"orchestrator/store"
	"orchestrator/store/clocktest"
)

// testApp is the real Fiber app on a real loopback listener with a real SQLite
// file in a temp dir.
type testApp struct {
	t         testing.TB
	url       string
	store     *store.Store
	clock     *clocktest.Clock
	server    *Server
	client    *http.Client
	validator *responseValidator
}

type appOption func(*Config, *Deps)

func newTestApp(t testing.TB, opts ...appOption) *testApp {
	t.Helper()
	clk := clocktest.New()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), store.WithClock(clk.Now), store.WithSealKey(bytes.Repeat([]byte("s"), 32)))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{Version: "test", AllowSignup: true, SigningKey: bytes.Repeat([]byte("k"), 32), SessionTTL: time.Hour}
	deps := Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	app := &testApp{t: t, url: "http://" + ln.Addr().String(), store: st, clock: clk, server: srv,
		client: &http.Client{Timeout: 60 * time.Second}}
	// Every response of every test is checked against the OpenAPI document.
	app.validator = newResponseValidator(t)
	app.client.Transport = app.validator
	return app
}

type response struct {
	Code   int
	Body   string
	Header http.Header
}

// JSON decodes the body into a generic map (fails the test when it is not JSON).
func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// ErrorCode returns error.code of an error body.
func (r *response) ErrorCode(t testing.TB) string {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	return e["code"].(string)
}

// do sends a request. body may be nil, a string or []byte (sent as is), or any
// other value (sent as JSON).
func (a *testApp) do(method, path, token string, body any, headers ...string) *response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return &response{Code: res.StatusCode, Body: string(data), Header: res.Header}
}

// expect sends a request and fails the test unless the status matches.
func (a *testApp) expect(code int, method, path, token string, body any) *response {
	a.t.Helper()
	res := a.do(method, path, token, body)
	if res.Code != code {
		a.t.Fatalf("%s %s: got %d, want %d\n%s", method, path, res.Code, code, res.Body)
	}
	return res
}

// signup registers a local user and logs in, returning the user id and a token.
func (a *testApp) signup(username string) (id, token string) {
	a.t.Helper()
	res := a.expect(201, "POST", "/api/v1/users", "", map[string]string{"username": username, "password": "password-" + username})
	id = res.JSON(a.t)["id"].(string)
	return id, a.login(username, "password-"+username)
}

func (a *testApp) login(username, password string) string {
	a.t.Helper()
	res := a.expect(200, "POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": password})
	return res.JSON(a.t)["token"].(string)
}

// admin creates an admin account directly in the store and logs in.
func (a *testApp) admin(username string) (id, token string) {
	a.t.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte("admin-password"), bcrypt.MinCost)
	u := &store.User{Username: username, PasswordHash: string(hash), IsAdmin: true}
	if err := a.store.Users.Create(context.Background(), u); err != nil {
		a.t.Fatalf("create admin: %v", err)
	}
	return u.ID, a.login(username, "admin-password")
}

func mustContain(t testing.TB, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("response does not contain %q:\n%s", p, body)
		}
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

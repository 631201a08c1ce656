package server

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"orchestrator/store"
)

func TestSignupLoginAndMe(t *testing.T) {
	app := newTestApp(t)
	res := app.expect(201, "POST", "/api/v1/users", "", map[string]string{
		"username": "Alice", "password": "correct horse", "email": "alice@example.org", "name": "Alice Liddell"})
	u := res.JSON(t)
	if u["username"] != "alice" || u["email"] != "alice@example.org" || u["is_admin"] != false {
		t.Fatalf("unexpected user: %s", res.Body)
	}
	if strings.Contains(res.Body, "password") {
		t.Fatalf("the response leaks the password field: %s", res.Body)
	}
	token := app.login("alice", "correct horse")
	me := app.expect(200, "GET", "/api/v1/users/me", token, nil).JSON(t)
	if me["id"] != u["id"] || me["name"] != "Alice Liddell" {
		t.Fatalf("GET /users/me returned another user: %v", me)
	}
	// The same username again is a conflict.
	res = app.expect(409, "POST", "/api/v1/users", "", map[string]string{"username": "alice", "password": "another one"})
	if res.ErrorCode(t) != "conflict" {
		t.Fatalf("want conflict, got %s", res.Body)
	}
}

func TestSignup_RejectsBadInput(t *testing.T) {
	app := newTestApp(t)
	cases := []struct {
		name  string
		body  string
		code  int
		field string
	}{
		{"malformed JSON", `{"username": "bob"`, 400, ""},
		{"empty body", ``, 400, ""},
		{"wrong type", `{"username": 12, "password": "longenough"}`, 422, "username"},
		{"unknown field", `{"username": "bob", "password": "longenough", "admin": true}`, 422, "admin"},
		{"short password", `{"username": "bob", "password": "short"}`, 422, "password"},
		{"bad username", `{"username": "../etc/passwd", "password": "longenough"}`, 422, "username"},
		{"bad email", `{"username": "bob", "password": "longenough", "email": "not an email"}`, 422, "email"},
		{"control characters in name", `{"username": "bob", "password": "longenough", "name": "a\u0000b"}`, 422, "name"},
		{"trailing data", `{"username": "bob", "password": "longenough"} {}`, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := app.do("POST", "/api/v1/users", "", tc.body)
			if res.Code != tc.code {
				t.Fatalf("got %d, want %d: %s", res.Code, tc.code, res.Body)
			}
			if tc.field != "" {
				mustContain(t, res.Body, `"field":"`+tc.field+`"`)
			}
		})
	}
	// Nothing was half-written.
	if n, _ := app.store.Users.Count(t.Context()); n != 0 {
		t.Fatalf("bad signups created %d users", n)
	}
}

func TestSignup_Disabled(t *testing.T) {
	app := newTestApp(t, func(c *Config, _ *Deps) { c.AllowSignup = false })
	res := app.expect(403, "POST", "/api/v1/users", "", map[string]string{"username": "bob", "password": "longenough"})
	mustContain(t, res.Body, "signup is disabled")
}

func TestLogin_WrongPasswordAndThrottling(t *testing.T) {
	app := newTestApp(t)
	app.signup("carol")
	for i := 0; i < 5; i++ {
		res := app.expect(401, "POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "wrong-password"})
		mustContain(t, res.Body, "wrong username or password")
	}
	// Locked now for carol from this address, even with the right password.
	res := app.expect(429, "POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "password-carol"})
	if res.ErrorCode(t) != "rate_limited" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("want rate_limited with Retry-After, got %v %s", res.Header, res.Body)
	}
	// An unknown user is indistinguishable from a wrong password.
	app.clock.Advance(16 * time.Minute)
	res = app.expect(401, "POST", "/api/v1/auth/login", "", map[string]string{"username": "nobody", "password": "whatever1"})
	mustContain(t, res.Body, "wrong username or password")
	app.expect(200, "POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "password-carol"})
}

// One account's failures never lock another account out of the same address
// (behind a NAT or a reverse proxy that is everyone).
func TestLogin_ThrottleIsPerAccountAndClient(t *testing.T) {
	app := newTestApp(t)
	app.signup("carol")
	app.signup("dave")
	app.admin("root")
	for i := 0; i < 5; i++ {
		app.expect(401, "POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "wrong-password"})
	}
	app.expect(429, "POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "password-carol"})
	app.expect(200, "POST", "/api/v1/auth/login", "", map[string]string{"username": "root", "password": "admin-password"})
	app.expect(200, "POST", "/api/v1/auth/login", "", map[string]string{"username": "dave", "password": "password-dave"})
}

// Spraying one password over many accounts from one client locks that client,
// except for accounts that logged in from it before.
func TestLogin_PasswordSprayingLocksTheClient(t *testing.T) {
	app := newTestApp(t, func(c *Config, _ *Deps) { c.Login = store.LoginLimits{ClientAccounts: 4} })
	app.signup("carol")
	app.signup("dave") // logged in once from here: a known client
	for i := 0; i < 4; i++ {
		app.expect(401, "POST", "/api/v1/auth/login", "", map[string]string{"username": "victim" + itoa(i), "password": "Summer2026!"})
	}
	res := app.expect(429, "POST", "/api/v1/auth/login", "", map[string]string{"username": "erin", "password": "whatever1"})
	mustContain(t, res.Body, "too many failed logins")
	app.expect(200, "POST", "/api/v1/auth/login", "", map[string]string{"username": "dave", "password": "password-dave"})
	app.expect(200, "POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "password-carol"})
	app.clock.Advance(16 * time.Minute)
	app.expect(401, "POST", "/api/v1/auth/login", "", map[string]string{"username": "erin", "password": "whatever1"})
}

// The limits are configurable, and behind a trusted proxy the client is the
// address the proxy reports, not the proxy.
func TestLogin_ConfigurableLimitsAndTrustedProxyHeader(t *testing.T) {
	tests := []struct {
		name       string
		header     string
		proxies    []netip.Prefix
		sameClient bool // whether two different forwarded addresses count as one client
	}{
		{"no header configured: the peer is the client", "", nil, true},
		{"header from a trusted proxy", "X-Forwarded-For", nil, false},
		{"header from an untrusted peer is ignored", "X-Forwarded-For", []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestApp(t, func(c *Config, _ *Deps) {
				c.Login = store.LoginLimits{AccountFailures: 2}
				c.ClientIPHeader, c.TrustedProxies = tt.header, tt.proxies
			})
			app.signup("carol")
			login := func(password, forwarded string) *response {
				return app.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": password},
					"X-Forwarded-For", forwarded)
			}
			for i := 0; i < 2; i++ {
				if res := login("wrong-password", "203.0.113.7, 127.0.0.1"); res.Code != 401 {
					t.Fatalf("failure %d: %d %s", i, res.Code, res.Body)
				}
			}
			if res := login("password-carol", "203.0.113.7"); res.Code != 429 {
				t.Fatalf("after 2 failures (limit 2): %d, want 429", res.Code)
			}
			want := 200
			if tt.sameClient {
				want = 429
			}
			if res := login("password-carol", "198.51.100.4"); res.Code != want {
				t.Fatalf("from another forwarded address: %d, want %d: %s", res.Code, want, res.Body)
			}
		})
	}
}

func TestSessionToken_ExpiresAndIsSigned(t *testing.T) {
	app := newTestApp(t)
	_, token := app.signup("dave")
	app.expect(200, "GET", "/api/v1/users/me", token, nil)
	// A token with a changed signature is refused.
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	app.expect(401, "GET", "/api/v1/users/me", forged, nil)
	// Verified sessions are remembered by their exact bytes: the same signature
	// over another user's claims is still refused.
	erinID, _ := app.signup("erin")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = erinID
	payload, _ = json.Marshal(claims)
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	app.expect(401, "GET", "/api/v1/users/me", swapped, nil)
	app.expect(200, "GET", "/api/v1/users/me", token, nil)
	app.clock.Advance(61 * time.Minute) // SessionTTL is one hour in tests
	res := app.expect(401, "GET", "/api/v1/users/me", token, nil)
	mustContain(t, res.Body, "session expired")
}

func TestAnonymousIs401(t *testing.T) {
	app := newTestApp(t)
	for _, path := range []string{"/api/v1/users/me", "/api/v1/users", "/api/v1/users/me/tokens"} {
		res := app.expect(401, "GET", path, "", nil)
		if res.ErrorCode(t) != "unauthorized" {
			t.Fatalf("%s: %s", path, res.Body)
		}
	}
	app.expect(401, "GET", "/api/v1/users/me", "garbage", nil)
	res := app.do("GET", "/api/v1/users/me", "", nil, "Authorization", "Basic Zm9vOmJhcg==")
	if res.Code != 401 {
		t.Fatalf("Basic auth: got %d", res.Code)
	}
}

func TestAPITokens_CreateUseRevokeExpire(t *testing.T) {
	app := newTestApp(t)
	_, session := app.signup("erin")
	res := app.expect(201, "POST", "/api/v1/users/me/tokens", session, map[string]any{"name": "ci"})
	created := res.JSON(t)
	raw := created["token"].(string)
	if !strings.HasPrefix(raw, "orc_") {
		t.Fatalf("token %q lacks the orc_ prefix", raw)
	}
	me := app.expect(200, "GET", "/api/v1/users/me", raw, nil).JSON(t)
	if me["username"] != "erin" {
		t.Fatalf("token authenticated as %v", me["username"])
	}
	list := app.expect(200, "GET", "/api/v1/users/me/tokens", raw, nil)
	if strings.Contains(list.Body, raw) || strings.Contains(list.Body, hashToken(raw)) {
		t.Fatalf("the token list shows the token or its hash: %s", list.Body)
	}
	mustContain(t, list.Body, `"name":"ci"`, `"last_used_at":"`)
	app.expect(204, "DELETE", "/api/v1/users/me/tokens/"+created["id"].(string), session, nil)
	app.expect(401, "GET", "/api/v1/users/me", raw, nil)

	// Expiry: valid until the clock passes expires_at.
	exp := app.clock.Now().Add(2 * time.Hour)
	short := app.expect(201, "POST", "/api/v1/users/me/tokens", session, map[string]any{"name": "short", "expires_at": exp}).JSON(t)["token"].(string)
	app.expect(200, "GET", "/api/v1/users/me", short, nil)
	app.clock.Advance(3 * time.Hour)
	res = app.expect(401, "GET", "/api/v1/users/me", short, nil)
	mustContain(t, res.Body, "expired")

	// Tokens cannot be created already expired, or without a name.
	session = app.login("erin", "password-erin")
	app.expect(422, "POST", "/api/v1/users/me/tokens", session, map[string]any{"name": "old", "expires_at": app.clock.Now().Add(-time.Minute)})
	app.expect(422, "POST", "/api/v1/users/me/tokens", session, map[string]any{"name": ""})
	// Someone else's token id is not found.
	_, other := app.signup("frank")
	id := app.expect(201, "POST", "/api/v1/users/me/tokens", session, map[string]any{"name": "mine"}).JSON(t)["id"].(string)
	app.expect(404, "DELETE", "/api/v1/users/me/tokens/"+id, other, nil)
}

func TestPatchMe(t *testing.T) {
	app := newTestApp(t)
	_, token := app.signup("gina")
	res := app.expect(200, "PATCH", "/api/v1/users/me", token, map[string]any{"name": "Gina", "email": "gina@example.org", "picture_url": "https://example.org/g.png"})
	mustContain(t, res.Body, `"name":"Gina"`, `"email":"gina@example.org"`, `"picture_url":"https://example.org/g.png"`)
	app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"picture_url": "javascript:alert(1)"})
	app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"email": "nope"})
	app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"is_admin": true})
	res = app.expect(200, "GET", "/api/v1/users/me", token, nil)
	mustContain(t, res.Body, `"is_admin":false`, `"name":"Gina"`)
}

func multipartBody(t *testing.T, field, filename string, data []byte, values map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range values {
		w.WriteField(k, v)
	}
	if data != nil {
		fw, err := w.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPictureUpload(t *testing.T) {
	app := newTestApp(t)
	id, token := app.signup("hank")
	ct, body := multipartBody(t, "picture", "me.png", pngBytes(t), map[string]string{"name": "Hank"})
	res := app.do("PATCH", "/api/v1/users/me", token, body, "Content-Type", ct)
	if res.Code != 200 {
		t.Fatalf("upload: %d %s", res.Code, res.Body)
	}
	mustContain(t, res.Body, `"picture_url":"/api/v1/users/`+id+`/picture"`, `"name":"Hank"`)
	pic := app.expect(200, "GET", "/api/v1/users/"+id+"/picture", token, nil)
	if pic.Header.Get("Content-Type") != "image/png" || !bytes.Equal([]byte(pic.Body), pngBytes(t)) {
		t.Fatalf("picture served back differs: %s", pic.Header.Get("Content-Type"))
	}

	// Over 1 MiB: 413.
	big := append(pngBytes(t), make([]byte, 1<<20)...)
	ct, body = multipartBody(t, "picture", "big.png", big, nil)
	res = app.do("PATCH", "/api/v1/users/me", token, body, "Content-Type", ct)
	if res.Code != 413 || res.ErrorCode(t) != "too_large" {
		t.Fatalf("oversized picture: %d %s", res.Code, res.Body)
	}
	// Not an image: 422.
	ct, body = multipartBody(t, "picture", "me.png", []byte("#!/bin/sh\necho not an image\n"), nil)
	res = app.do("PATCH", "/api/v1/users/me", token, body, "Content-Type", ct)
	if res.Code != 422 {
		t.Fatalf("not an image: %d %s", res.Code, res.Body)
	}
	mustContain(t, res.Body, `"field":"picture"`)
	// A PNG signature with garbage after it is not an image either.
	ct, body = multipartBody(t, "picture", "me.png", append([]byte("\x89PNG\r\n\x1a\n"), []byte("garbage")...), nil)
	if res = app.do("PATCH", "/api/v1/users/me", token, body, "Content-Type", ct); res.Code != 422 {
		t.Fatalf("truncated PNG: %d %s", res.Code, res.Body)
	}
}

func sshKey(t *testing.T, comment string) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment
}

func TestSSHKeys(t *testing.T) {
	app := newTestApp(t)
	_, token := app.signup("ivy")
	key := sshKey(t, "ivy@laptop")
	res := app.expect(201, "POST", "/api/v1/users/me/ssh-keys", token, map[string]any{"public_key": key})
	k := res.JSON(t)
	if !strings.HasPrefix(k["fingerprint"].(string), "SHA256:") || k["name"] != "ivy@laptop" {
		t.Fatalf("unexpected key: %s", res.Body)
	}
	res = app.expect(409, "POST", "/api/v1/users/me/ssh-keys", token, map[string]any{"public_key": key, "name": "again"})
	mustContain(t, res.Body, "already registered")

	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakPub, _ := ssh.NewPublicKey(&weak.PublicKey)
	for name, bad := range map[string]string{
		"garbage":     "ssh-ed25519 not-base64!!",
		"empty":       "",
		"private key": "-----BEGIN OPENSSH PRIVATE KEY-----",
		"two lines":   key + "\n" + key,
		"options":     `command="rm -rf /" ` + key,
		"weak rsa":    string(ssh.MarshalAuthorizedKey(weakPub)),
	} {
		res := app.do("POST", "/api/v1/users/me/ssh-keys", token, map[string]any{"public_key": bad})
		if res.Code != 422 {
			t.Fatalf("%s: got %d %s", name, res.Code, res.Body)
		}
		mustContain(t, res.Body, `"field":"public_key"`)
	}
	me := app.expect(200, "GET", "/api/v1/users/me", token, nil)
	mustContain(t, me.Body, k["fingerprint"].(string))
	list := app.expect(200, "GET", "/api/v1/users/me/ssh-keys", token, nil).JSON(t)
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("want 1 key, got %d", n)
	}
	// A complete list is one page of the largest size: page.size is a page size,
	// not the number of items.
	if pg := list["page"].(map[string]any); pg["size"] != 1000.0 || pg["total_items"] != 1.0 || pg["total_pages"] != 1.0 {
		t.Fatalf("page of a complete list: %v", pg)
	}
	// Another user cannot delete it; the owner can.
	_, other := app.signup("jack")
	app.expect(404, "DELETE", "/api/v1/users/me/ssh-keys/"+k["id"].(string), other, nil)
	app.expect(204, "DELETE", "/api/v1/users/me/ssh-keys/"+k["id"].(string), token, nil)
	app.expect(404, "DELETE", "/api/v1/users/me/ssh-keys/"+k["id"].(string), token, nil)
}

func TestAdminUserManagement(t *testing.T) {
	app := newTestApp(t)
	adminID, admin := app.admin("root")
	userID, user := app.signup("kate")
	for i := 0; i < 12; i++ {
		app.signup("user" + itoa(i))
	}
	// Non-admins get 403 on admin routes.
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/users"}, {"GET", "/api/v1/users/" + adminID}, {"DELETE", "/api/v1/users/" + adminID},
	} {
		res := app.expect(403, r.method, r.path, user, nil)
		if res.ErrorCode(t) != "forbidden" {
			t.Fatalf("%s %s: %s", r.method, r.path, res.Body)
		}
	}
	page := app.expect(200, "GET", "/api/v1/users?size=5&page=2", admin, nil).JSON(t)
	info := page["page"].(map[string]any)
	if info["total_items"].(float64) != 14 || info["total_pages"].(float64) != 3 || len(page["items"].([]any)) != 5 {
		t.Fatalf("unexpected page: %v", info)
	}
	links := page["links"].(map[string]any)
	if !strings.Contains(links["next"].(string), "page=3") || !strings.Contains(links["prev"].(string), "page=1") {
		t.Fatalf("unexpected links: %v", links)
	}
	app.expect(400, "GET", "/api/v1/users?size=1001", admin, nil)
	app.expect(400, "GET", "/api/v1/users?colour=blue", admin, nil)
	got := app.expect(200, "GET", "/api/v1/users/"+userID, admin, nil).JSON(t)
	if got["username"] != "kate" {
		t.Fatalf("GET user: %v", got)
	}
	app.expect(204, "DELETE", "/api/v1/users/"+userID, admin, nil)
	app.expect(404, "GET", "/api/v1/users/"+userID, admin, nil)
	app.expect(401, "GET", "/api/v1/users/me", user, nil) // a deleted user's session dies with them
	res := app.expect(409, "DELETE", "/api/v1/users/"+adminID, admin, nil)
	mustContain(t, res.Body, "last admin")
}

func TestErrorsAreJSONEverywhere(t *testing.T) {
	app := newTestApp(t)
	res := app.expect(404, "GET", "/api/v1/no-such-route", "", nil)
	if res.ErrorCode(t) != "not_found" || res.Header.Get("X-Request-ID") == "" {
		t.Fatalf("unknown route: %v %s", res.Header, res.Body)
	}
	// Over the 1 MiB JSON limit (under Fiber's hard limit, so the body is read and
	// answered in our error shape).
	huge := `{"username": "` + strings.Repeat("a", 2<<20) + `"}`
	res = app.do("POST", "/api/v1/users", "", huge)
	if res.Code != 413 || res.ErrorCode(t) != "too_large" {
		t.Fatalf("huge body: %d %s", res.Code, res.Body)
	}
	// Bodies past the 4 MiB hard limit, with or without a length: the client can
	// send its whole body (as curl does) and then read a JSON 413, never a
	// connection reset.
	_, token := app.signup("uploader")
	for _, chunked := range []bool{false, true} {
		status, body := rawPost(t, app.url, "/api/v1/deployments", token, 10<<20, chunked)
		if status != 413 || !strings.Contains(body, `"code":"too_large"`) {
			t.Fatalf("10 MB body (chunked=%v): %d %s", chunked, status, body)
		}
	}
	app.expect(200, "GET", "/api/v1/users/me", token, nil)
	res = app.do("GET", "/healthz", "", nil, "X-Request-ID", "abc-123")
	if res.Header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("request id not echoed: %v", res.Header)
	}
}

// Force-deleting a user who owns live deployments alone hands them to the admin
// who deletes: a deployment never ends up with no owner.
func TestDeleteUser_ForceHandsDeploymentsToTheAdmin(t *testing.T) {
	app := newTestApp(t)
	adminID, admin := app.admin("root")
	aliceID, _ := app.signup("alice")
	d := &store.Deployment{ID: store.NewID(), Template: "tosca_definitions_version: tosca_simple_yaml_1_3\n", Target: "local",
		Inputs: []byte("{}"), Owners: []string{aliceID}}
	if _, err := app.store.Deployments.Create(t.Context(), d, aliceID); err != nil {
		t.Fatal(err)
	}
	res := app.expect(409, "DELETE", "/api/v1/users/alice", admin, nil)
	mustContain(t, res.Body, "only owner", d.ID)
	app.expect(204, "DELETE", "/api/v1/users/alice?force=true", admin, nil)
	owners := items(t, app.expect(200, "GET", "/api/v1/deployments/"+d.ID+"/owners", admin, nil))
	if len(owners) != 1 || owners[0]["id"] != adminID {
		t.Fatalf("owners after the forced deletion: %v", owners)
	}
	logs := app.expect(200, "GET", "/api/v1/deployments/"+d.ID+"/logs", admin, nil)
	mustContain(t, logs.Body, "owner alice was deleted by admin root, who is now the owner")
}

// PATCH /users/me takes the spec's ssh_public_keys (the whole key set) and a
// password change with the current password.
func TestPatchMe_SSHKeysAndPassword(t *testing.T) {
	app := newTestApp(t)
	_, token := app.signup("kim")
	first, second, third := sshKey(t, "kim@laptop"), sshKey(t, "kim@desktop"), sshKey(t, "kim@tablet")
	kept := app.expect(201, "POST", "/api/v1/users/me/ssh-keys", token, map[string]any{"public_key": first}).JSON(t)
	app.expect(201, "POST", "/api/v1/users/me/ssh-keys", token, map[string]any{"public_key": second})

	me := app.expect(200, "PATCH", "/api/v1/users/me", token, map[string]any{"ssh_public_keys": []string{first, third}}).JSON(t)
	keys := me["ssh_keys"].([]any)
	names := map[string]string{}
	for _, k := range keys {
		km := k.(map[string]any)
		names[km["name"].(string)] = km["id"].(string)
	}
	if len(keys) != 2 || names["kim@laptop"] != kept["id"] || names["kim@tablet"] == "" {
		t.Fatalf("key set after PATCH: %v", keys)
	}
	// A bad key anywhere in the list changes nothing and names the entry.
	res := app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"ssh_public_keys": []string{second, "ssh-rsa garbage"}})
	mustContain(t, res.Body, `"field":"ssh_public_keys[1]"`)
	res = app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"ssh_public_keys": []string{second, second}})
	mustContain(t, res.Body, "listed twice")
	if n := len(app.expect(200, "GET", "/api/v1/users/me", token, nil).JSON(t)["ssh_keys"].([]any)); n != 2 {
		t.Fatalf("a refused PATCH changed the keys: %d", n)
	}
	me = app.expect(200, "PATCH", "/api/v1/users/me", token, map[string]any{"ssh_public_keys": []string{}}).JSON(t)
	if len(me["ssh_keys"].([]any)) != 0 {
		t.Fatalf("empty set: %v", me["ssh_keys"])
	}

	// Password change.
	res = app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"password": "a-new-password"})
	mustContain(t, res.Body, `"field":"current_password"`)
	res = app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"password": "a-new-password", "current_password": "not-it"})
	mustContain(t, res.Body, "current_password is wrong")
	res = app.expect(422, "PATCH", "/api/v1/users/me", token, map[string]any{"password": "short", "current_password": "password-kim"})
	mustContain(t, res.Body, `"field":"password"`)
	app.expect(200, "PATCH", "/api/v1/users/me", token, map[string]any{"password": "a-new-password", "current_password": "password-kim"})
	app.expect(401, "POST", "/api/v1/auth/login", "", map[string]string{"username": "kim", "password": "password-kim"})
	app.login("kim", "a-new-password")
}

// rawPost sends a POST with a body of n bytes over a plain TCP connection, the
// whole body first and only then reading the answer, like curl: a server that
// stops reading mid-body makes the write fail.
func rawPost(t *testing.T, base, path, token string, n int, chunked bool) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	head := "POST " + path + " HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + token + "\r\nContent-Type: application/json\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", n)
	}
	w := bufio.NewWriter(conn)
	w.WriteString(head)
	block := bytes.Repeat([]byte("x"), 64<<10)
	for sent := 0; sent < n; sent += len(block) {
		if chunked {
			fmt.Fprintf(w, "%x\r\n", len(block))
		}
		w.Write(block)
		if chunked {
			w.WriteString("\r\n")
		}
	}
	if chunked {
		w.WriteString("0\r\n\r\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}

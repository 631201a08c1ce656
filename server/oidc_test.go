package server

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"orchestrator/store"
)

// testIdP is an OIDC provider on loopback: discovery document and JWKS, with a
// real RSA key. It stands in for INDIGO IAM or Keycloak.
type testIdP struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newTestIdP(t *testing.T) *testIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": idp.srv.URL, "jwks_uri": idp.srv.URL + "/jwks",
			"authorization_endpoint": idp.srv.URL + "/auth", "token_endpoint": idp.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.PublicKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.PublicKey.E)).Bytes()),
		}}})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

// token signs claims with key (the IdP's own unless another is given).
func (idp *testIdP) token(t *testing.T, claims jwt.MapClaims, key *rsa.PrivateKey) string {
	if key == nil {
		key = idp.key
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "test-key"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOIDC(t *testing.T) {
	idp := newTestIdP(t)
	app := newTestApp(t, func(c *Config, _ *Deps) {
		c.OIDC = OIDCConfig{Issuers: []string{idp.srv.URL}, Audience: "orchestrator", AdminGroup: "admins"}
		c.AllowSignup = false // OIDC registration works without local signup
	})
	now := app.clock.Now()
	claims := func(sub string, mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": idp.srv.URL, "sub": sub, "aud": "orchestrator", "exp": now.Add(time.Hour).Unix(),
			"iat": now.Unix(), "preferred_username": "Sci.Entist@infn.it", "name": "Sci Entist", "email": "sci@infn.it",
			"groups": []string{"users"}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	valid := idp.token(t, claims("subject-1", nil), nil)

	// Valid but not registered: identified, yet not a member.
	res := app.expect(403, "GET", "/api/v1/users/me", valid, nil)
	mustContain(t, res.Body, "not registered")
	res = app.expect(201, "POST", "/api/v1/users", valid, nil)
	mustContain(t, res.Body, `"username":"sci.entist.at.infn.it"`, `"email":"sci@infn.it"`, `"is_admin":false`)
	app.expect(409, "POST", "/api/v1/users", valid, nil)
	me := app.expect(200, "GET", "/api/v1/users/me", valid, nil).JSON(t)
	if me["name"] != "Sci Entist" {
		t.Fatalf("me: %v", me)
	}
	app.expect(403, "GET", "/api/v1/users", valid, nil)

	// Admin by group membership.
	adminTok := idp.token(t, claims("subject-2", func(c jwt.MapClaims) {
		c["preferred_username"] = "boss"
		c["groups"] = []string{"/admins"}
	}), nil)
	app.expect(201, "POST", "/api/v1/users", adminTok, map[string]string{"name": "The Boss"})
	app.expect(200, "GET", "/api/v1/users", adminTok, nil)
	// One truth about admins: the list agrees with /users/me, and a user who
	// leaves the admin group stops being one everywhere.
	me = app.expect(200, "GET", "/api/v1/users/me", adminTok, nil).JSON(t)
	listed := app.expect(200, "GET", "/api/v1/users/boss", adminTok, nil).JSON(t)
	if me["is_admin"] != true || listed["is_admin"] != true {
		t.Fatalf("is_admin: /users/me %v, /users/boss %v", me["is_admin"], listed["is_admin"])
	}
	demoted := idp.token(t, claims("subject-2", func(c jwt.MapClaims) { c["preferred_username"] = "boss" }), nil)
	if me := app.expect(200, "GET", "/api/v1/users/me", demoted, nil).JSON(t); me["is_admin"] != false {
		t.Fatalf("after leaving the admin group: %v", me["is_admin"])
	}
	app.expect(403, "GET", "/api/v1/users", demoted, nil)
	app.expect(200, "GET", "/api/v1/users/me", adminTok, nil) // back in the group

	// A new identity whose preferred username a local account holds gets a free
	// variant of it; a username it asks for that is taken is a clear 409.
	if err := app.store.Users.Create(t.Context(), &store.User{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	clash := idp.token(t, claims("subject-3", func(c jwt.MapClaims) { c["preferred_username"] = "alice" }), nil)
	res = app.expect(403, "GET", "/api/v1/users/me", clash, nil)
	mustContain(t, res.Body, "not registered yet", "username")
	res = app.expect(409, "POST", "/api/v1/users", clash, map[string]string{"username": "alice"})
	mustContain(t, res.Body, "taken by another account", `"field":"username"`)
	res = app.expect(201, "POST", "/api/v1/users", clash, nil)
	mustContain(t, res.Body, `"username":"alice-2"`)
	app.expect(200, "GET", "/api/v1/users/me", clash, nil)
	res = app.expect(409, "POST", "/api/v1/users", clash, nil)
	mustContain(t, res.Body, "already registered as alice-2")

	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, tok := range map[string]string{
		"wrong issuer":   idp.token(t, claims("subject-1", func(c jwt.MapClaims) { c["iss"] = "https://evil.example.org" }), nil),
		"expired":        idp.token(t, claims("subject-1", func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), nil),
		"bad signature":  idp.token(t, claims("subject-1", nil), otherKey),
		"wrong audience": idp.token(t, claims("subject-1", func(c jwt.MapClaims) { c["aud"] = "someone-else" }), nil),
		"not yet valid":  idp.token(t, claims("subject-1", func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), nil),
		"alg none":       jwtNone(t, claims("subject-1", nil)),
	} {
		t.Run(name, func(t *testing.T) {
			res := app.expect(401, "GET", "/api/v1/users/me", tok, nil)
			if res.ErrorCode(t) != "unauthorized" {
				t.Fatalf("%s", res.Body)
			}
		})
	}
	// The valid token expires with the clock.
	app.clock.Advance(2 * time.Hour)
	app.expect(401, "GET", "/api/v1/users/me", valid, nil)
}

func jwtNone(t *testing.T, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

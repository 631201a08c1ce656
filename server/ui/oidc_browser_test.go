package ui_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testIdP stands in for INDIGO IAM or Keycloak (none can run here): discovery,
// JWKS, an authorization endpoint that consents at once, and a token endpoint
// that checks the PKCE verifier against the challenge, as a real one does.
type testIdP struct {
	srv       *httptest.Server
	key       *rsa.PrivateKey
	mu        sync.Mutex
	grants    map[string]grant
	exchanged int
	problems  []string
}

type grant struct{ challenge, redirectURI, clientID string }

func newTestIdP(t *testing.T) *testIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{key: key, grants: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": idp.srv.URL, "jwks_uri": idp.srv.URL + "/jwks",
			"authorization_endpoint": idp.srv.URL + "/authorize", "token_endpoint": idp.srv.URL + "/token",
			"response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.PublicKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.PublicKey.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != "dashboard" || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
			idp.fail("bad authorization request: " + r.URL.RawQuery)
			http.Error(w, "bad request", 400)
			return
		}
		code := randomCode()
		idp.mu.Lock()
		idp.grants[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), clientID: q.Get("client_id")}
		idp.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := back.Query()
		v.Set("code", code)
		v.Set("state", q.Get("state"))
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Accept")
			return
		}
		r.ParseForm()
		idp.mu.Lock()
		g, ok := idp.grants[r.PostForm.Get("code")]
		delete(idp.grants, r.PostForm.Get("code")) // a code works once
		idp.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("client_id") != g.clientID ||
			r.PostForm.Get("redirect_uri") != g.redirectURI || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			idp.fail("bad token request: " + r.PostForm.Encode())
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": idp.srv.URL, "sub": "carol-subject", "aud": "dashboard", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"preferred_username": "carol", "name": "Carol OIDC", "email": "carol@example.org", "groups": []string{"researchers"},
		})
		tok.Header["kid"] = "k1"
		signed, _ := tok.SignedString(key)
		idp.mu.Lock()
		idp.exchanged++
		idp.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": signed, "token_type": "Bearer", "expires_in": 3600})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *testIdP) fail(msg string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.problems = append(idp.problems, msg)
}

func randomCode() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestDashboardOIDCSignIn signs in through an identity provider with the
// authorization code flow and PKCE: the browser exchanges the code itself
// (the CSP lets it reach the token endpoint), the code leaves the address bar,
// and a first visit registers the identity.
func TestDashboardOIDCSignIn(t *testing.T) {
	t.Parallel()
	idp := newTestIdP(t)
	svc := startService(t, "--oidc-issuer", idp.srv.URL, "--oidc-client-id", "dashboard", "--allow-signup=false")
	b := newBrowser(t, svc.url)
	defer b.checkConsole()

	b.visit("/deployments")
	b.waitText("h1", "Sign in")
	b.waitText(".oidc button", "Sign in with 127.0.0.1")
	if eval[bool](b, `!!document.querySelector('a[href="/signup"]')`) {
		t.Error("sign-up is offered although it is turned off")
	}
	b.shot("signin-oidc")
	b.click(".oidc button")
	b.wait("signed in through the identity provider", `location.pathname === '/deployments' && document.querySelector('h1') && document.querySelector('h1').textContent === 'My deployments'`, 30*time.Second)
	b.waitText(".user-link", "carol")
	if p := b.path(); strings.Contains(p, "code=") || strings.Contains(p, "state=") {
		t.Fatalf("the authorization code stayed in the URL: %s", p)
	}
	hist := eval[int](b, `history.length`)
	if hist > 4 {
		t.Errorf("history has %d entries", hist)
	}
	idp.mu.Lock()
	exchanged, problems := idp.exchanged, idp.problems
	idp.mu.Unlock()
	if exchanged != 1 || len(problems) > 0 {
		t.Fatalf("token exchanges: %d, problems: %v", exchanged, problems)
	}
	token := eval[string](b, `JSON.parse(sessionStorage.getItem('orchestrator.session')).token`)
	code, me := svc.apiGet(t, "/api/v1/users/me", token)
	if code != 200 || me["username"] != "carol" || me["email"] != "carol@example.org" {
		t.Fatalf("the registered identity: %d %v", code, me)
	}
	// Signing out forgets the token.
	b.click(".user button")
	b.waitText("h1", "Sign in")
	if eval[string](b, `sessionStorage.getItem('orchestrator.session') || ''`) != "" {
		t.Fatal("the token survived signing out")
	}
}

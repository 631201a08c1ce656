package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"orchestrator/store"
)

// Principal is who a request acts as.
type Principal struct {
	// User is the registered user; nil for an OIDC identity not registered yet.
	User *store.User
	// Admin is the user's admin flag, or membership of the OIDC admin group.
	Admin bool
	// Method is how the request authenticated: session, token or oidc.
	Method string
	// OIDC is the identity from an OIDC token (also for registered users).
	OIDC *oidcIdentity
	// gen is the store's generation read before the user was (0: not read):
	// the request's cached answers are checked against it too.
	gen uint64
}

// sessionIssuer marks session tokens signed by this service.
const sessionIssuer = "orchestrator"

// apiTokenPrefix tells API tokens from JWTs at a glance.
const apiTokenPrefix = "orc_"

func principalOf(c *fiber.Ctx) *Principal {
	p, _ := c.Locals("principal").(*Principal)
	return p
}

// guard authenticates the request and enforces the route's access level.
func (s *Server) guard(access Access) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if access == Public {
			// Public routes still learn who calls when a valid token is present
			// (POST /users registers OIDC identities), but a bad token is no error.
			if p, err := s.authenticate(c); err == nil && p != nil {
				c.Locals("principal", p)
			}
			return c.Next()
		}
		p, err := s.authenticate(c)
		if err != nil {
			return err
		}
		if p == nil {
			return store.Errorf(store.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
		}
		c.Locals("principal", p)
		if access == AutoMember && p.User == nil && p.OIDC != nil {
			if err := s.enrollAtFirstUse(c.UserContext(), p); err != nil {
				return err
			}
		}
		if access.needsUser() && p.User == nil {
			return store.Errorf(store.EForbidden, "this identity is not registered yet: POST /api/v1/users first "+
				"(a username is derived from your identity provider; send {\"username\": \"...\"} to choose one)")
		}
		if access == Admin && !p.Admin {
			return store.Errorf(store.EForbidden, "this operation is for admins")
		}
		return c.Next()
	}
}

// authenticate reads the bearer token: an API token, a session token signed by
// this service, or an OIDC token from a configured issuer. No header is (nil, nil).
func (s *Server) authenticate(c *fiber.Ctx) (*Principal, error) {
	// A session already verified is found by the header's bytes, without a
	// copy of the token (the lookup by string(bytes) does not allocate).
	hb := c.Request().Header.Peek(fiber.HeaderAuthorization)
	if len(hb) == 0 {
		return nil, nil
	}
	if raw, ok := bytes.CutPrefix(hb, []byte("Bearer ")); ok {
		if session, ok := s.sessions.getBytes(raw); ok {
			return s.sessionPrincipal(c.UserContext(), session)
		}
	}
	h := string(hb)
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok && len(h) > len("Bearer") && strings.EqualFold(h[:len("Bearer")], "Bearer") {
		// orpy, the INDIGO orchestrator's Python client, sends "Bearer<token>".
		scheme, raw, ok = h[:len("Bearer")], h[len("Bearer"):], true
	}
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, store.Errorf(store.EUnauthorized, "the Authorization header must be \"Bearer <token>\"")
	}
	ctx := c.UserContext()
	if strings.HasPrefix(raw, apiTokenPrefix) {
		return s.authenticateAPIToken(ctx, raw)
	}
	if session, ok := s.sessions.get(raw); ok {
		return s.sessionPrincipal(ctx, session)
	}
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, store.Errorf(store.EUnauthorized, "malformed token")
	}
	if iss == sessionIssuer {
		return s.authenticateSession(ctx, raw)
	}
	if s.oidc.knows(iss) {
		return s.authenticateOIDC(ctx, raw)
	}
	return nil, store.Errorf(store.EUnauthorized, "tokens from issuer %q are not accepted", truncate(iss, 200))
}

func (s *Server) authenticateAPIToken(ctx context.Context, raw string) (*Principal, error) {
	t, err := s.store.Tokens.ByHash(ctx, hashToken(raw))
	if err != nil {
		return nil, err
	}
	u, err := s.store.Users.Identity(ctx, t.UserID)
	if err != nil {
		return nil, store.Errorf(store.EUnauthorized, "the token's user no longer exists")
	}
	return &Principal{User: u, Admin: u.Admin(), Method: "token"}, nil
}

// clockSkew is how far apart the clocks of replicas (kept by NTP) may be: a
// session signed by one is good on another right away, not after the
// difference.
const clockSkew = 5 * time.Second

func (s *Server) authenticateSession(ctx context.Context, raw string) (*Principal, error) {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return s.cfg.SigningKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(sessionIssuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now), jwt.WithIssuedAt(), jwt.WithLeeway(clockSkew))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, store.Errorf(store.EUnauthorized, "session expired: log in again")
		}
		return nil, store.Errorf(store.EUnauthorized, "invalid session token")
	}
	session := verifiedSession{subject: claims.Subject, expires: claims.ExpiresAt.Time}
	for _, t := range []*jwt.NumericDate{claims.IssuedAt, claims.NotBefore} {
		if t != nil && t.Time.After(session.notBefore) {
			session.notBefore = t.Time
		}
	}
	s.sessions.put(raw, session, s.now())
	return s.sessionPrincipal(ctx, session)
}

// sessionPrincipal is the principal of a verified session, checked against
// the clock again (a remembered session expires like a parsed one).
func (s *Server) sessionPrincipal(ctx context.Context, session verifiedSession) (*Principal, error) {
	if expired, ok := session.valid(s.now()); expired {
		return nil, store.Errorf(store.EUnauthorized, "session expired: log in again")
	} else if !ok {
		return nil, store.Errorf(store.EUnauthorized, "invalid session token")
	}
	gen := s.store.Generation()
	u, ok := s.identities.get(session.subject, gen)
	if !ok {
		var err error
		if u, err = s.store.Users.Identity(ctx, session.subject); err != nil {
			return nil, store.Errorf(store.EUnauthorized, "the session's user no longer exists")
		}
		s.identities.put(session.subject, gen, u)
	}
	// Handlers may change the principal's user: each request gets its own copy.
	cp := *u
	return &Principal{User: &cp, Admin: cp.Admin(), Method: "session", gen: gen}, nil
}

func (s *Server) authenticateOIDC(ctx context.Context, raw string) (*Principal, error) {
	id, err := s.oidc.verify(ctx, raw)
	if err != nil {
		return nil, store.Errorf(store.EUnauthorized, "invalid OIDC token: %s", err.Error())
	}
	p := &Principal{OIDC: id, Method: "oidc", Admin: id.Admin}
	u, err := s.store.Users.ByOIDC(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		if u.GroupAdmin != id.Admin {
			// The IdP's group decides; recorded so GET /users and API tokens agree.
			if err := s.store.Users.SetGroupAdmin(ctx, u.ID, id.Admin); err != nil {
				return nil, err
			}
			u.GroupAdmin = id.Admin
		}
		p.User = u
		p.Admin = u.Admin()
	case !store.IsNotFound(err):
		return nil, err
	}
	return p, nil
}

// unverifiedIssuer reads iss from a JWT without checking it, only to pick the
// verifier; every token is then fully verified by that verifier. Only the
// payload's iss is decoded (a full claims map cost more than the verification).
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("a JWT has three parts")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	if claims.Issuer == "" {
		return "", errors.New("no issuer")
	}
	return claims.Issuer, nil
}

// issueSession signs a session token for a local login.
func (s *Server) issueSession(u *store.User) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.cfg.SessionTTL)
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: sessionIssuer, Subject: u.ID, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp), ID: hex.EncodeToString(jti[:]),
	})
	signed, err := tok.SignedString(s.cfg.SigningKey)
	return signed, exp, err
}

// newAPIToken returns a fresh random API token.
func newAPIToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return apiTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is how API tokens are stored: they are long random strings, so a
// plain SHA-256 is enough (no password stretching needed).
func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

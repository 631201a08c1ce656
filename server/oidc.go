package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCConfig lists the identity providers whose access tokens the API accepts.
type OIDCConfig struct {
	Issuers []string
	// Audience, when set, must be in the token's aud claim.
	Audience    string
	GroupsClaim string // default "groups"
	AdminGroup  string // members are admins; empty: nobody is admin by group
	// ClientID, when set, turns on browser sign-in with the first issuer: the
	// dashboard runs the authorization code flow with PKCE as this public client.
	ClientID string
	// Scopes the dashboard asks for (default openid, profile, email).
	Scopes []string
	// HTTPClient fetches discovery documents and JWKS (tests pass their TLS client).
	HTTPClient *http.Client
}

// oidcIdentity is what a verified OIDC token says about its bearer.
type oidcIdentity struct {
	Issuer   string
	Subject  string
	Username string
	Name     string
	Email    string
	Groups   []string
	Admin    bool
}

// oidcVerifiers verifies tokens of the configured issuers against their JWKS
// (go-oidc: signature, iss, exp, nbf, aud). Discovery happens on first use and is
// retried after a failure, so an IdP that is down at start does not stop the service.
type oidcVerifiers struct {
	cfg       OIDCConfig
	now       func() time.Time
	mu        sync.Mutex
	verifiers map[string]*oidc.IDTokenVerifier
	providers map[string]*oidc.Provider
}

func newOIDCVerifiers(cfg OIDCConfig, now func() time.Time) *oidcVerifiers {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "profile", "email"}
	}
	return &oidcVerifiers{cfg: cfg, now: now, verifiers: map[string]*oidc.IDTokenVerifier{}, providers: map[string]*oidc.Provider{}}
}

func (o *oidcVerifiers) knows(issuer string) bool {
	for _, i := range o.cfg.Issuers {
		if i == issuer {
			return true
		}
	}
	return false
}

func (o *oidcVerifiers) verifier(issuer string) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if v, ok := o.verifiers[issuer]; ok {
		return v, nil
	}
	p, err := o.provider(issuer)
	if err != nil {
		return nil, err
	}
	// The provider keeps this context to refresh keys later: it must outlive requests.
	ctx := oidc.ClientContext(context.Background(), o.cfg.HTTPClient)
	v := p.VerifierContext(ctx, &oidc.Config{
		ClientID:          o.cfg.Audience,
		SkipClientIDCheck: o.cfg.Audience == "",
		Now:               o.now,
	})
	o.verifiers[issuer] = v
	return v, nil
}

// provider discovers an issuer once (o.mu held); a failure is retried next time.
func (o *oidcVerifiers) provider(issuer string) (*oidc.Provider, error) {
	if p, ok := o.providers[issuer]; ok {
		return p, nil
	}
	ctx := oidc.ClientContext(context.Background(), o.cfg.HTTPClient)
	discover, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(discover, issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s failed: %w", issuer, err)
	}
	o.providers[issuer] = p
	return p, nil
}

// browserIssuer is the issuer the dashboard signs in with: the first one, when
// a client id is configured.
func (o *oidcVerifiers) browserIssuer() string {
	if o.cfg.ClientID == "" || len(o.cfg.Issuers) == 0 {
		return ""
	}
	return o.cfg.Issuers[0]
}

// browserEndpoints returns the authorization and token endpoints of the
// dashboard's issuer, from its discovery document.
func (o *oidcVerifiers) browserEndpoints() (authURL, tokenURL string, err error) {
	issuer := o.browserIssuer()
	if issuer == "" {
		return "", "", fmt.Errorf("browser sign-in is not configured")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	p, err := o.provider(issuer)
	if err != nil {
		return "", "", err
	}
	ep := p.Endpoint()
	return ep.AuthURL, ep.TokenURL, nil
}

// browserOrigins are the origins the dashboard calls besides the service: the
// token endpoint of its issuer (the code exchange happens in the browser).
func (o *oidcVerifiers) browserOrigins() []string {
	issuer := o.browserIssuer()
	if issuer == "" {
		return nil
	}
	out := []string{}
	if o := originOf(issuer); o != "" {
		out = append(out, o)
	}
	o.mu.Lock()
	p := o.providers[issuer]
	o.mu.Unlock()
	if p != nil {
		if tok := originOf(p.Endpoint().TokenURL); tok != "" && (len(out) == 0 || tok != out[0]) {
			out = append(out, tok)
		}
	}
	return out
}

// originOf is scheme://host[:port] of a URL, or "" when it has none.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
		return "" // never let configuration break out of the CSP header
	}
	return u.Scheme + "://" + u.Host
}

func (o *oidcVerifiers) verify(ctx context.Context, raw string) (*oidcIdentity, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, err
	}
	v, err := o.verifier(iss)
	if err != nil {
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	id := &oidcIdentity{Issuer: tok.Issuer, Subject: tok.Subject}
	id.Username, _ = claims["preferred_username"].(string)
	id.Name, _ = claims["name"].(string)
	id.Email, _ = claims["email"].(string)
	id.Groups = stringsOf(claims[o.cfg.GroupsClaim])
	for _, g := range id.Groups {
		// Keycloak and INDIGO IAM write groups with or without a leading slash.
		if o.cfg.AdminGroup != "" && strings.TrimPrefix(g, "/") == strings.TrimPrefix(o.cfg.AdminGroup, "/") {
			id.Admin = true
		}
	}
	return id, nil
}

func stringsOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := []string{}
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

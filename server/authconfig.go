package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// AuthConfigJSON tells a client (the web dashboard) how users sign in here.
type AuthConfigJSON struct {
	// LocalLogin: POST /api/v1/auth/login with username and password works.
	LocalLogin bool `json:"local_login"`
	// Signup: POST /api/v1/users creates local accounts.
	Signup bool `json:"signup"`
	// OIDC is set when browser sign-in through an identity provider is
	// configured (a client id): the authorization code flow with PKCE.
	OIDC *OIDCClientJSON `json:"oidc"`
}

// OIDCClientJSON is what a public client needs to run the code flow.
type OIDCClientJSON struct {
	Issuer                string `json:"issuer"`
	ClientID              string `json:"client_id"`
	Scopes                string `json:"scopes"`
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
	// Error says why the endpoints are missing (the provider did not answer).
	Error string `json:"error,omitempty"`
}

// authConfig is public: the sign-in page reads it before anyone is signed in.
func (s *Server) authConfig(c *fiber.Ctx) error {
	out := AuthConfigJSON{LocalLogin: true, Signup: s.cfg.AllowSignup}
	if issuer := s.oidc.browserIssuer(); issuer != "" {
		client := &OIDCClientJSON{Issuer: issuer, ClientID: s.cfg.OIDC.ClientID, Scopes: strings.Join(s.oidc.cfg.Scopes, " ")}
		authURL, tokenURL, err := s.oidc.browserEndpoints()
		if err != nil {
			s.log.Warn("oidc discovery for browser sign-in", "issuer", issuer, "error", err.Error())
			client.Error = "the identity provider cannot be reached; try again later"
		} else {
			client.AuthorizationEndpoint, client.TokenEndpoint = authURL, tokenURL
		}
		out.OIDC = client
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

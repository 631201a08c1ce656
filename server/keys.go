package server

import (
	"crypto/rsa"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/ssh"

	"orchestrator/store"
)

type addSSHKeyRequest struct {
	PublicKey *string `json:"public_key"`
	Name      *string `json:"name"`
}

// parsePublicKey accepts one OpenSSH authorized_keys line of a key type still
// considered safe, and returns it normalized with its SHA-256 fingerprint.
func parsePublicKey(line string) (normalized, comment, fingerprint string, err error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return "", "", "", invalid("public_key", "public_key is required")
	}
	if strings.ContainsAny(line, "\r\n") {
		return "", "", "", invalid("public_key", "public_key must be a single line")
	}
	if strings.Contains(line, "PRIVATE KEY") {
		return "", "", "", invalid("public_key", "this is a private key: send the public one (.pub)")
	}
	key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "", "", "", invalid("public_key", "public_key is not an OpenSSH public key")
	}
	if len(options) > 0 || len(rest) > 0 {
		return "", "", "", invalid("public_key", "public_key must be a bare key, without authorized_keys options")
	}
	switch key.Type() {
	case ssh.KeyAlgoDSA:
		return "", "", "", invalid("public_key", "DSA keys are not accepted: use ed25519 or RSA of 2048 bits or more")
	case ssh.KeyAlgoRSA:
		if ck, ok := key.(ssh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < 2048 {
				return "", "", "", invalid("public_key", "RSA keys need at least 2048 bits, this one has %d", rk.N.BitLen())
			}
		}
	}
	normalized = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if comment != "" {
		normalized += " " + comment
	}
	return normalized, comment, ssh.FingerprintSHA256(key), nil
}

func (s *Server) addSSHKey(c *fiber.Ctx) error {
	var req addSSHKeyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	normalized, comment, fp, err := parsePublicKey(deref(req.PublicKey))
	if err != nil {
		return err
	}
	name := firstNonEmpty(deref(req.Name), comment)
	if err := checkText("name", name, 100); err != nil {
		return err
	}
	k := &store.SSHKey{UserID: principalOf(c).User.ID, Name: name, PublicKey: normalized, Fingerprint: fp}
	if err := s.store.SSHKeys.Add(c.UserContext(), k); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(sshKeyJSON(*k))
}

func (s *Server) listSSHKeys(c *fiber.Ctx) error {
	keys, err := s.store.SSHKeys.List(c.UserContext(), principalOf(c).User.ID)
	if err != nil {
		return err
	}
	items := make([]SSHKeyJSON, 0, len(keys))
	for _, k := range keys {
		items = append(items, sshKeyJSON(k))
	}
	return c.JSON(singlePage(c, items))
}

func (s *Server) deleteSSHKey(c *fiber.Ctx) error {
	if err := s.store.SSHKeys.Delete(c.UserContext(), principalOf(c).User.ID, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// TokenJSON is an API token as listed; the token itself is only in CreatedTokenJSON.
type TokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// CreatedTokenJSON is the answer to creating a token: the only time it is shown.
type CreatedTokenJSON struct {
	TokenJSON
	Token string `json:"token"`
}

func tokenJSON(t *store.Token) TokenJSON {
	return TokenJSON{ID: t.ID, Name: t.Name, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, CreatedAt: t.CreatedAt}
}

type createTokenRequest struct {
	Name      *string    `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var req createTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(deref(req.Name))
	if name == "" {
		return invalid("name", "name is required")
	}
	if err := checkText("name", name, 100); err != nil {
		return err
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(s.now()) {
		return invalid("expires_at", "expires_at must be in the future")
	}
	raw := newAPIToken()
	t := &store.Token{UserID: principalOf(c).User.ID, Name: name, Hash: hashToken(raw), ExpiresAt: req.ExpiresAt}
	if err := s.store.Tokens.Create(c.UserContext(), t); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(CreatedTokenJSON{TokenJSON: tokenJSON(t), Token: raw})
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	tokens, err := s.store.Tokens.List(c.UserContext(), principalOf(c).User.ID)
	if err != nil {
		return err
	}
	items := make([]TokenJSON, 0, len(tokens))
	for _, t := range tokens {
		items = append(items, tokenJSON(t))
	}
	return c.JSON(singlePage(c, items))
}

func (s *Server) deleteToken(c *fiber.Ctx) error {
	if err := s.store.Tokens.Delete(c.UserContext(), principalOf(c).User.ID, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG for picture validation
	_ "image/png"  // registers PNG for picture validation
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"orchestrator/store"
)

// maxPicture bounds uploaded pictures.
const maxPicture = 1 << 20

// UserJSON is a user as the API shows it.
type UserJSON struct {
	ID         string       `json:"id"`
	Username   string       `json:"username"`
	Name       string       `json:"name"`
	Email      string       `json:"email"`
	PictureURL string       `json:"picture_url"`
	IsAdmin    bool         `json:"is_admin"`
	CreatedAt  time.Time    `json:"created_at"`
	SSHKeys    []SSHKeyJSON `json:"ssh_keys"`
}

// SSHKeyJSON is a public key as the API shows it.
type SSHKeyJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	PublicKey   string    `json:"public_key"`
	Fingerprint string    `json:"fingerprint"`
	CreatedAt   time.Time `json:"created_at"`
}

func userJSON(u *store.User) UserJSON {
	out := UserJSON{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, PictureURL: u.PictureURL,
		IsAdmin: u.Admin(), CreatedAt: u.CreatedAt, SSHKeys: []SSHKeyJSON{}}
	if u.PictureType != "" {
		out.PictureURL = "/api/v1/users/" + u.ID + "/picture"
	}
	for _, k := range u.SSHKeys {
		out.SSHKeys = append(out.SSHKeys, sshKeyJSON(k))
	}
	return out
}

func sshKeyJSON(k store.SSHKey) SSHKeyJSON {
	return SSHKeyJSON{ID: k.ID, Name: k.Name, PublicKey: k.PublicKey, Fingerprint: k.Fingerprint, CreatedAt: k.CreatedAt}
}

var validUsername = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}$`)

func checkUsername(username string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(username))
	if !validUsername.MatchString(u) {
		return "", invalid("username", "username must be 2 to 63 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return u, nil
}

func checkPassword(pw string) error {
	switch {
	case len(pw) < 8:
		return invalid("password", "password must have at least 8 characters")
	case len(pw) > 72:
		return invalid("password", "password must have at most 72 bytes")
	}
	return nil
}

func checkEmail(field, email string) error {
	if email == "" {
		return nil
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		return invalid(field, "%s is not a valid e-mail address", field)
	}
	return nil
}

// checkText refuses control characters and overlong values in free text.
func checkText(field, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return invalid(field, "%s must have at most %d characters", field, maxRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return invalid(field, "%s must not contain control characters", field)
		}
	}
	return nil
}

func checkPictureURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(raw) > 2048 {
		return invalid("picture_url", "picture_url must be an http(s) URL of at most 2048 characters")
	}
	return nil
}

type signupRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	Email    *string `json:"email"`
	Name     *string `json:"name"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// signup registers a user: the identity of the OIDC token when one is sent,
// otherwise a local account (when local signup is enabled).
func (s *Server) signup(c *fiber.Ctx) error {
	var req signupRequest
	p := principalOf(c)
	if p != nil && p.OIDC != nil {
		if len(bytes.TrimSpace(c.Body())) > 0 {
			if err := decodeJSON(c, &req); err != nil {
				return err
			}
		}
		return s.registerOIDC(c, p, req)
	}
	if p != nil && p.User != nil {
		return store.Errorf(store.EConflict, "you are already registered as %s", p.User.Username)
	}
	if !s.cfg.AllowSignup {
		return store.Errorf(store.EForbidden, "local signup is disabled on this service; log in through your identity provider")
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	username, err := checkUsername(deref(req.Username))
	if err != nil {
		return err
	}
	for _, check := range []error{checkPassword(deref(req.Password)), checkEmail("email", deref(req.Email)), checkText("name", deref(req.Name), 200)} {
		if check != nil {
			return check
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(*req.Password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u := &store.User{Username: username, PasswordHash: string(hash), Email: deref(req.Email), Name: deref(req.Name)}
	if err := s.store.Users.Create(c.UserContext(), u); err != nil {
		return err
	}
	u.SSHKeys = []store.SSHKey{}
	return c.Status(fiber.StatusCreated).JSON(userJSON(u))
}

func (s *Server) registerOIDC(c *fiber.Ctx, p *Principal, req signupRequest) error {
	if p.User != nil {
		return store.Errorf(store.EConflict, "this identity is already registered as %s", p.User.Username)
	}
	u, err := s.enrollOIDC(c.UserContext(), p.OIDC, req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(userJSON(u))
}

// enrollAtFirstUse registers the verified OIDC identity of a request to an
// AutoMember route, as the INDIGO orchestrator does at a user's first call, and
// makes the principal that user.
func (s *Server) enrollAtFirstUse(ctx context.Context, p *Principal) error {
	id := *p.OIDC
	if checkEmail("email", id.Email) != nil || checkText("name", id.Name, 200) != nil {
		// Nobody is there to correct what the IdP says: leave it unset.
		id.Email, id.Name = "", ""
	}
	u, err := s.enrollOIDC(ctx, &id, signupRequest{})
	if store.ErrorCode(err) == store.EConflict {
		// Registered meanwhile by a concurrent request of the same identity.
		if again, _ := s.store.Users.ByOIDC(ctx, p.OIDC.Issuer, p.OIDC.Subject); again != nil {
			u, err = again, nil
		}
	}
	if err != nil {
		return err
	}
	s.log.Info("registered an OIDC identity at its first INDIGO API call", "user", u.ID, "username", u.Username)
	p.User, p.Admin = u, u.Admin()
	return nil
}

// enrollOIDC registers a verified OIDC identity: with the username asked for, or
// one derived from the identity provider's.
func (s *Server) enrollOIDC(ctx context.Context, id *oidcIdentity, req signupRequest) (*store.User, error) {
	if req.Password != nil {
		return nil, invalid("password", "OIDC users have no password")
	}
	name, email := firstNonEmpty(deref(req.Name), id.Name), firstNonEmpty(deref(req.Email), id.Email)
	if err := checkEmail("email", email); err != nil {
		return nil, err
	}
	if err := checkText("name", name, 200); err != nil {
		return nil, err
	}
	u := &store.User{OIDCIssuer: id.Issuer, OIDCSubject: id.Subject, Name: name, Email: email, GroupAdmin: id.Admin, SSHKeys: []store.SSHKey{}}
	if chosen := deref(req.Username); chosen != "" {
		username, err := checkUsername(chosen)
		if err != nil {
			return nil, err
		}
		u.Username = username
		if err := s.store.Users.Create(ctx, u); err != nil {
			if store.ErrorCode(err) == store.EConflict {
				if taken, _ := s.store.Users.ByUsername(ctx, username); taken != nil {
					return nil, store.Errorf(store.EConflict, "the username %q is taken by another account: choose another one", username).
						WithDetails(store.Detail{Field: "username", Message: "taken"})
				}
			}
			return nil, err
		}
		return u, nil
	}
	// No username asked for: the IdP's preferred username, or the first free
	// variant of it (a local account may hold the name; they are different people).
	base := sanitizeUsername(firstNonEmpty(id.Username, "user-"+id.Subject))
	if _, err := checkUsername(base); err != nil {
		base = "user-" + shortHash(id.Issuer+" "+id.Subject)
	}
	for _, candidate := range usernameCandidates(base, id) {
		u.Username = candidate
		err := s.store.Users.Create(ctx, u)
		if err == nil {
			return u, nil
		}
		if store.ErrorCode(err) != store.EConflict {
			return nil, err
		}
		if again, _ := s.store.Users.ByOIDC(ctx, id.Issuer, id.Subject); again != nil {
			return nil, store.Errorf(store.EConflict, "this identity is already registered as %s", again.Username)
		}
	}
	return nil, store.Errorf(store.EConflict, "no free username near %q: register with {\"username\": \"...\"}", base).
		WithDetails(store.Detail{Field: "username", Message: "choose one"})
}

// usernameCandidates are the names an OIDC identity may get, best first: the
// preferred one, numbered variants, and one derived from the identity itself.
func usernameCandidates(base string, id *oidcIdentity) []string {
	out := []string{base}
	for i := 2; i <= 9; i++ {
		out = append(out, trimUsername(base, 61)+"-"+fmt.Sprint(i))
	}
	return append(out, trimUsername(base, 54)+"-"+shortHash(id.Issuer+" "+id.Subject))
}

func trimUsername(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimRight(s, "._-")
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// sanitizeUsername maps an IdP's preferred_username to our alphabet.
func sanitizeUsername(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == '@':
			b.WriteString(".at.")
		default:
			b.WriteRune('-')
		}
	}
	out := strings.TrimLeft(b.String(), "._-")
	if len(out) > 63 {
		out = out[:63]
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// dummyHash is compared against when the user does not exist, so that a login
// for an unknown name takes as long as one with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("orchestrator-dummy-password"), bcrypt.DefaultCost)

// login checks a local account's password and returns a signed session token.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Username == nil || *req.Username == "" {
		return invalid("username", "username is required")
	}
	if req.Password == nil || *req.Password == "" {
		return invalid("password", "password is required")
	}
	username := strings.ToLower(strings.TrimSpace(*req.Username))
	ctx, client := c.UserContext(), s.clientIP(c)
	wait, err := s.store.Logins.Blocked(ctx, s.cfg.Login, username, client)
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := int(wait.Seconds()) + 1
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(secs))
		return store.Errorf(store.ERateLimited, "too many failed logins for this account from your address; try again in %d seconds", secs)
	}
	u, err := s.store.Users.ByUsername(ctx, username)
	if err != nil && !store.IsNotFound(err) {
		return err
	}
	hash := dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(*req.Password)) != nil || u == nil || u.PasswordHash == "" {
		if err := s.store.Logins.Failed(ctx, s.cfg.Login, username, client); err != nil {
			return err
		}
		return store.Errorf(store.EUnauthorized, "wrong username or password")
	}
	if err := s.store.Logins.Succeeded(ctx, username, client); err != nil {
		return err
	}
	token, exp, err := s.issueSession(u)
	if err != nil {
		return fmt.Errorf("sign session: %w", err)
	}
	return c.JSON(fiber.Map{"token": token, "expires_at": exp.UTC().Format(time.RFC3339), "token_type": "Bearer"})
}

func (s *Server) getMe(c *fiber.Ctx) error {
	// Authentication reads the user without keys; the profile shows them.
	u, err := s.store.Users.Get(c.UserContext(), principalOf(c).User.ID)
	if err != nil {
		return err
	}
	return c.JSON(userJSON(u))
}

type patchMeRequest struct {
	Name       *string `json:"name"`
	Email      *string `json:"email"`
	PictureURL *string `json:"picture_url"`
	// SSHPublicKeys replaces the whole key set (OpenSSH authorized_keys lines).
	SSHPublicKeys *[]string `json:"ssh_public_keys"`
	// Password changes a local account's password; CurrentPassword must match.
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

// patchMe edits the caller's profile: JSON (name, email, picture_url), or
// multipart/form-data with the same fields and a "picture" file (PNG or JPEG,
// at most 1 MiB).
func (s *Server) patchMe(c *fiber.Ctx) error {
	p := principalOf(c)
	var up store.UserUpdate
	if strings.HasPrefix(string(c.Request().Header.ContentType()), "multipart/form-data") {
		if err := s.readProfileForm(c, &up); err != nil {
			return err
		}
	} else {
		var req patchMeRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		up.Name, up.Email, up.PictureURL = req.Name, req.Email, req.PictureURL
		if req.SSHPublicKeys != nil {
			keys, err := parseKeyList(*req.SSHPublicKeys)
			if err != nil {
				return err
			}
			up.SSHKeys = &keys
		}
		if req.Password != nil || req.CurrentPassword != nil {
			hash, err := s.newPassword(c, p.User, req)
			if err != nil {
				return err
			}
			up.PasswordHash = &hash
		}
	}
	if up.Name != nil {
		if err := checkText("name", *up.Name, 200); err != nil {
			return err
		}
	}
	if up.Email != nil {
		if err := checkEmail("email", *up.Email); err != nil {
			return err
		}
	}
	if up.PictureURL != nil {
		if err := checkPictureURL(*up.PictureURL); err != nil {
			return err
		}
	}
	u, err := s.store.Users.Update(c.UserContext(), p.User.ID, up)
	if err != nil {
		return err
	}
	return c.JSON(userJSON(u))
}

// maxSSHKeys bounds the key set a user sends at once.
const maxSSHKeys = 100

// parseKeyList validates a whole key set, naming the failing entry.
func parseKeyList(lines []string) ([]store.SSHKey, error) {
	if len(lines) > maxSSHKeys {
		return nil, invalid("ssh_public_keys", "at most %d keys", maxSSHKeys)
	}
	keys := make([]store.SSHKey, 0, len(lines))
	for i, line := range lines {
		normalized, comment, fp, err := parsePublicKey(line)
		if err != nil {
			if e, ok := err.(*store.Error); ok && len(e.Details) > 0 {
				return nil, invalid(fmt.Sprintf("ssh_public_keys[%d]", i), "%s", e.Details[0].Message)
			}
			return nil, err
		}
		keys = append(keys, store.SSHKey{Name: comment, PublicKey: normalized, Fingerprint: fp})
	}
	return keys, nil
}

// newPassword checks a password change (local accounts, the current password
// first, throttled like logins) and returns the new hash.
func (s *Server) newPassword(c *fiber.Ctx, u *store.User, req patchMeRequest) (string, error) {
	if u.PasswordHash == "" {
		return "", invalid("password", "this account logs in through its identity provider and has no password here")
	}
	if deref(req.CurrentPassword) == "" {
		return "", invalid("current_password", "current_password is required to change the password")
	}
	if req.Password == nil {
		return "", invalid("password", "password (the new one) is required with current_password")
	}
	if err := checkPassword(*req.Password); err != nil {
		return "", err
	}
	ctx, client := c.UserContext(), s.clientIP(c)
	if wait, err := s.store.Logins.Blocked(ctx, s.cfg.Login, u.Username, client); err != nil {
		return "", err
	} else if wait > 0 {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(wait.Seconds())+1))
		return "", store.Errorf(store.ERateLimited, "too many wrong passwords; try again in %d seconds", int(wait.Seconds())+1)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(*req.CurrentPassword)) != nil {
		if err := s.store.Logins.Failed(ctx, s.cfg.Login, u.Username, client); err != nil {
			return "", err
		}
		return "", invalid("current_password", "current_password is wrong")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(*req.Password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

func (s *Server) readProfileForm(c *fiber.Ctx, up *store.UserUpdate) error {
	form, err := c.MultipartForm()
	if err != nil {
		return badRequest("malformed multipart form: %s", err.Error())
	}
	for key := range form.Value {
		if key != "name" && key != "email" && key != "picture_url" {
			return invalid(key, "unknown field %q", key)
		}
	}
	for key := range form.File {
		if key != "picture" {
			return invalid(key, "unknown file field %q", key)
		}
	}
	field := func(name string) *string {
		if v, ok := form.Value[name]; ok && len(v) > 0 {
			return &v[0]
		}
		return nil
	}
	up.Name, up.Email, up.PictureURL = field("name"), field("email"), field("picture_url")
	files := form.File["picture"]
	if len(files) == 0 {
		return nil
	}
	fh := files[0]
	if fh.Size > maxPicture {
		return store.Errorf(store.ETooLarge, "picture is %d bytes, the limit is %d (1 MiB)", fh.Size, maxPicture).
			WithDetails(store.Detail{Field: "picture", Message: "too large"})
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open uploaded picture: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPicture+1))
	if err != nil {
		return fmt.Errorf("read uploaded picture: %w", err)
	}
	if len(data) > maxPicture {
		return store.Errorf(store.ETooLarge, "picture is over the limit of %d bytes (1 MiB)", maxPicture)
	}
	typ, err := pictureType(data)
	if err != nil {
		return err
	}
	up.Picture, up.PictureType = data, typ
	return nil
}

// pictureType accepts PNG and JPEG files that really decode as such.
func pictureType(data []byte) (string, error) {
	typ := http.DetectContentType(data)
	if typ != "image/png" && typ != "image/jpeg" {
		return "", invalid("picture", "picture must be a PNG or JPEG image, this looks like %s", typ)
	}
	if _, _, err := image.DecodeConfig(bytes.NewReader(data)); err != nil {
		return "", invalid("picture", "picture is not a readable %s image", typ)
	}
	return typ, nil
}

// getPicture serves an uploaded picture to any signed-in user.
func (s *Server) getPicture(c *fiber.Ctx) error {
	data, typ, err := s.store.Users.Picture(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, typ)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	return c.Send(data)
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	q, err := parseQuery(c, "page", "size")
	if err != nil {
		return err
	}
	p, err := q.page()
	if err != nil {
		return err
	}
	users, total, err := s.store.Users.List(c.UserContext(), p)
	if err != nil {
		return err
	}
	items := make([]UserJSON, 0, len(users))
	for _, u := range users {
		items = append(items, userJSON(u))
	}
	return c.JSON(newList(c, items, p, total))
}

func (s *Server) getUser(c *fiber.Ctx) error {
	u, err := s.userByRef(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(userJSON(u))
}

// deleteUser removes a user; never the last admin, and not while they are the
// only owner of a live deployment unless force=true, which hands the deployments
// they owned alone to the deleting admin (an operator who removes a user takes
// over what that user left running).
func (s *Server) deleteUser(c *fiber.Ctx) error {
	q, err := parseQuery(c, "force")
	if err != nil {
		return err
	}
	force, err := q.boolean("force")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	u, err := s.userByRef(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	if u.Admin() {
		if n, err := s.store.Users.CountAdmins(ctx); err != nil {
			return err
		} else if n <= 1 {
			return store.Errorf(store.EConflict, "cannot delete the last admin")
		}
	}
	admin := principalOf(c).User
	inherited, err := s.store.Users.Delete(ctx, u.ID, force, admin.ID)
	if err != nil {
		return err
	}
	for _, id := range inherited {
		msg := fmt.Sprintf("owner %s was deleted by admin %s, who is now the owner", u.Username, admin.Username)
		if err := s.store.Logs.Append(ctx, id, &store.LogLine{Level: store.LevelWarn, Source: store.SourceOrchestrator, Message: msg}); err != nil {
			s.log.Error("log ownership hand-over", "deployment", id, "error", err.Error())
		}
	}
	return c.SendStatus(fiber.StatusNoContent)
}

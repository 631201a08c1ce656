package ossim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Keystone v3: password and application-credential authentication (and token
// re-scoping), tokens that expire, a catalog pointing back at the simulator,
// project scoping. Every other service checks the caller's token here.

type domain struct{ id, name string }

type project struct{ id, name, domainID string }

type user struct {
	id, name, domainID, password string
	projects                     []string // project ids the user has a role on
}

type appCred struct {
	id, name, secret, userID, projectID string
}

type token struct {
	id        string
	userID    string
	projectID string // "" for an unscoped token
	methods   []string
	appCredID string
	issued    time.Time
	expires   time.Time
}

// AuthRecord is one authentication attempt Keystone saw.
type AuthRecord struct {
	Method          string // password, application_credential, token
	UserID          string
	UserName        string
	ProjectID       string
	ProjectName     string
	ApplicationCred string // the application credential's id
	OK              bool
	Reason          string // why it was refused
}

// AddProject adds a project in the default domain and returns its id.
func (c *Cloud) AddProject(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addProject(name)
}

func (c *Cloud) addProject(name string) string {
	if p := c.projectByName(name); p != nil {
		return p.id
	}
	p := &project{id: newHex(), name: name, domainID: DefaultDomain}
	c.projects[p.id] = p
	return p.id
}

// AddUser adds a user in the default domain with a role on the named projects
// (created when missing), and returns the user's id.
func (c *Cloud) AddUser(name, password string, projects ...string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := &user{id: newHex(), name: name, domainID: DefaultDomain, password: password}
	for _, p := range projects {
		u.projects = append(u.projects, c.addProject(p))
	}
	c.users[u.id] = u
	return u.id
}

// AddApplicationCredential gives the named user an application credential
// bound to the named project, with the given secret, and returns its id.
func (c *Cloud) AddApplicationCredential(userName, projectName, credName, secret string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.userByName(userName, DefaultDomain)
	p := c.projectByName(projectName)
	if u == nil || p == nil {
		panic(fmt.Sprintf("ossim: no user %q or project %q", userName, projectName))
	}
	ac := &appCred{id: newHex(), name: credName, secret: secret, userID: u.id, projectID: p.id}
	c.appCreds[ac.id] = ac
	return ac.id
}

// ProjectID is the id of the named project ("" if there is none).
func (c *Cloud) ProjectID(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.projectByName(name); p != nil {
		return p.id
	}
	return ""
}

// Auths returns every authentication attempt so far.
func (c *Cloud) Auths() []AuthRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]AuthRecord(nil), c.auths...)
}

// ExpireTokens makes every token issued so far expire now (clients must
// authenticate again).
func (c *Cloud) ExpireTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tokens {
		t.expires = time.Now().Add(-time.Second)
	}
}

func (c *Cloud) projectByName(name string) *project {
	for _, p := range c.projects {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (c *Cloud) userByName(name, domainID string) *user {
	for _, u := range c.users {
		if u.name == name && u.domainID == domainID {
			return u
		}
	}
	return nil
}

func (c *Cloud) domainID(ref *nameOrID) string {
	if ref == nil {
		return ""
	}
	if ref.ID != "" {
		return ref.ID
	}
	for _, d := range c.domains {
		if strings.EqualFold(d.name, ref.Name) {
			return d.id
		}
	}
	return ""
}

type nameOrID struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Domain *nameOrID `json:"domain"`
}

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User struct {
					nameOrID
					Password string `json:"password"`
				} `json:"user"`
			} `json:"password"`
			ApplicationCredential *struct {
				ID     string    `json:"id"`
				Name   string    `json:"name"`
				Secret string    `json:"secret"`
				User   *nameOrID `json:"user"`
			} `json:"application_credential"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope any `json:"scope"`
	} `json:"auth"`
}

func (c *Cloud) serveIdentity(x *call) {
	switch {
	case x.path == "/" && x.r.Method == http.MethodGet:
		x.json(http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{c.identityVersion()}}})
	case (x.path == "/v3" || x.path == "/v3/") && x.r.Method == http.MethodGet:
		x.json(http.StatusOK, map[string]any{"version": c.identityVersion()})
	case x.path == "/v3/auth/tokens" && x.r.Method == http.MethodPost:
		c.issueToken(x)
	case x.path == "/v3/auth/tokens" && (x.r.Method == http.MethodGet || x.r.Method == http.MethodHead):
		caller := c.tokens[x.r.Header.Get("X-Auth-Token")]
		subject := c.tokens[x.r.Header.Get("X-Subject-Token")]
		if caller == nil || time.Now().After(caller.expires) {
			x.fail(http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		if subject == nil || time.Now().After(subject.expires) {
			x.fail(http.StatusNotFound, "Could not find token: "+x.r.Header.Get("X-Subject-Token")+".")
			return
		}
		x.w.Header().Set("X-Subject-Token", subject.id)
		x.json(http.StatusOK, map[string]any{"token": c.tokenBody(subject)})
	case x.path == "/v3/auth/tokens" && x.r.Method == http.MethodDelete:
		if c.tokens[x.r.Header.Get("X-Auth-Token")] == nil {
			x.fail(http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		delete(c.tokens, x.r.Header.Get("X-Subject-Token"))
		x.empty(http.StatusNoContent)
	default:
		x.notImplemented()
	}
}

func (c *Cloud) identityVersion() map[string]any {
	return map[string]any{"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links":       []any{map[string]any{"rel": "self", "href": c.URL + "/identity/v3/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}}}
}

// issueToken answers POST /v3/auth/tokens.
func (c *Cloud) issueToken(x *call) {
	var req authRequest
	if !x.decode(&req) {
		return
	}
	id := req.Auth.Identity
	rec := AuthRecord{}
	refuse := func(reason string) {
		rec.Reason = reason
		c.auths = append(c.auths, rec)
		x.fail(http.StatusUnauthorized, "The request you have made requires authentication.")
	}
	if len(id.Methods) != 1 {
		rec.Method = strings.Join(id.Methods, "+")
		refuse("exactly one authentication method is supported")
		return
	}
	rec.Method = id.Methods[0]
	var u *user
	var projectID, appCredID string
	switch rec.Method {
	case "password":
		if id.Password == nil {
			x.fail(http.StatusBadRequest, "Invalid input for field 'identity/password': None is not of type 'object'")
			return
		}
		pu := id.Password.User
		rec.UserName = pu.Name
		if pu.ID != "" {
			u = c.users[pu.ID]
		} else if did := c.domainID(pu.Domain); did != "" {
			u = c.userByName(pu.Name, did)
		}
		if u == nil || u.password != pu.Password {
			refuse("unknown user or wrong password")
			return
		}
	case "application_credential":
		ac := id.ApplicationCredential
		if ac == nil {
			x.fail(http.StatusBadRequest, "Invalid input for field 'identity/application_credential': None is not of type 'object'")
			return
		}
		var cred *appCred
		if ac.ID != "" {
			cred = c.appCreds[ac.ID]
		} else if ac.User != nil {
			var owner *user
			if ac.User.ID != "" {
				owner = c.users[ac.User.ID]
			} else {
				owner = c.userByName(ac.User.Name, c.domainID(ac.User.Domain))
			}
			for _, cand := range c.appCreds {
				if owner != nil && cand.userID == owner.id && cand.name == ac.Name {
					cred = cand
				}
			}
		}
		rec.ApplicationCred = ac.ID
		if cred == nil || cred.secret != ac.Secret {
			refuse("unknown application credential or wrong secret")
			return
		}
		if req.Auth.Scope != nil {
			refuse("application credentials cannot request a scope")
			return
		}
		rec.ApplicationCred = cred.id
		u = c.users[cred.userID]
		projectID, appCredID = cred.projectID, cred.id
	case "token":
		if id.Token == nil {
			x.fail(http.StatusBadRequest, "Invalid input for field 'identity/token': None is not of type 'object'")
			return
		}
		old := c.tokens[id.Token.ID]
		if old == nil || time.Now().After(old.expires) {
			refuse("unknown or expired token")
			return
		}
		u = c.users[old.userID]
		if old.appCredID != "" {
			projectID, appCredID = old.projectID, old.appCredID
		}
	default:
		refuse("unsupported method " + rec.Method)
		return
	}
	rec.UserID, rec.UserName = u.id, u.name
	if appCredID == "" && req.Auth.Scope != nil {
		pid, reason := c.scopeProject(req.Auth.Scope, u)
		if reason != "" {
			refuse(reason)
			return
		}
		projectID = pid
	}
	now := time.Now()
	t := &token{id: "gAAAAA" + newHex() + newHex(), userID: u.id, projectID: projectID, methods: []string{rec.Method},
		appCredID: appCredID, issued: now, expires: now.Add(c.opts.TokenTTL)}
	c.tokens[t.id] = t
	rec.ProjectID = projectID
	if p := c.projects[projectID]; p != nil {
		rec.ProjectName = p.name
	}
	rec.OK = true
	c.auths = append(c.auths, rec)
	x.w.Header().Set("X-Subject-Token", t.id)
	x.json(http.StatusCreated, map[string]any{"token": c.tokenBody(t)})
}

// scopeProject resolves a requested scope to one of the user's projects.
func (c *Cloud) scopeProject(scope any, u *user) (string, string) {
	m, ok := scope.(map[string]any)
	if !ok {
		if scope == "unscoped" {
			return "", ""
		}
		return "", "malformed scope"
	}
	raw, ok := m["project"].(map[string]any)
	if !ok {
		return "", "only project scopes are supported"
	}
	var p *project
	if id, _ := raw["id"].(string); id != "" {
		p = c.projects[id]
	} else {
		name, _ := raw["name"].(string)
		dom, _ := raw["domain"].(map[string]any)
		ref := &nameOrID{}
		if dom != nil {
			ref.ID, _ = dom["id"].(string)
			ref.Name, _ = dom["name"].(string)
		}
		did := c.domainID(ref)
		for _, cand := range c.projects {
			if cand.name == name && cand.domainID == did {
				p = cand
			}
		}
	}
	if p == nil || !slices.Contains(u.projects, p.id) {
		return "", "the user has no role on the requested project"
	}
	return p.id, ""
}

func (c *Cloud) tokenBody(t *token) map[string]any {
	u := c.users[t.userID]
	dom := c.domains[u.domainID]
	body := map[string]any{
		"methods":   t.methods,
		"user":      map[string]any{"id": u.id, "name": u.name, "domain": map[string]any{"id": dom.id, "name": dom.name}, "password_expires_at": nil},
		"audit_ids": []string{newHex()[:22]},
		"issued_at": t.issued.UTC().Format("2006-01-02T15:04:05.000000Z"), "expires_at": t.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
	if p := c.projects[t.projectID]; p != nil {
		pd := c.domains[p.domainID]
		body["project"] = map[string]any{"id": p.id, "name": p.name, "domain": map[string]any{"id": pd.id, "name": pd.name}}
		body["is_domain"] = false
		body["roles"] = []any{map[string]any{"id": "8f0c1e5b1c6d4f6c9d3f1f0e0a1b2c3d", "name": "member"}, map[string]any{"id": "4a8d9a0e7c1b4e2f8a6b5c4d3e2f1a0b", "name": "reader"}}
		body["catalog"] = c.catalog(p.id)
	}
	if t.appCredID != "" {
		ac := c.appCreds[t.appCredID]
		body["application_credential"] = map[string]any{"id": ac.id, "name": ac.name, "restricted": true}
	}
	return body
}

// catalog points every service back at the simulator.
func (c *Cloud) catalog(projectID string) []any {
	entry := func(typ, name, url string) any {
		var eps []any
		for _, iface := range []string{"public", "internal", "admin"} {
			eps = append(eps, map[string]any{"id": newHex(), "interface": iface, "region": c.opts.Region, "region_id": c.opts.Region, "url": url})
		}
		return map[string]any{"id": newHex(), "type": typ, "name": name, "endpoints": eps}
	}
	return []any{
		entry("identity", "keystone", c.URL+"/identity"),
		entry("compute", "nova", c.URL+"/compute/v2.1"),
		entry("network", "neutron", c.URL+"/network"),
		entry("volumev3", "cinderv3", c.URL+"/volume/v3/"+projectID),
		entry("image", "glance", c.URL+"/image"),
		entry("object-store", "swift", c.URL+"/object-store/v1/AUTH_"+projectID),
	}
}

// authorize checks the caller's token: unknown, expired or unscoped tokens get
// 401, as keystonemiddleware answers.
func (c *Cloud) authorize(x *call) bool {
	t := c.tokens[x.r.Header.Get("X-Auth-Token")]
	if t == nil || time.Now().After(t.expires) || t.projectID == "" {
		x.w.Header().Set("WWW-Authenticate", fmt.Sprintf("Keystone uri=%q", c.URL+"/identity"))
		x.json(http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": 401, "title": "Unauthorized",
			"message": "The request you have made requires authentication."}})
		return false
	}
	x.token = t
	return true
}

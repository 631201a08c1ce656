package server

// The INDIGO PaaS Orchestrator API, served under /orchestrator so that the
// clients research clouds already use (orchent, orpy, the INFN
// orchestrator-dashboard) work against this service unmodified. It is a
// compatibility surface mapped onto the service's own model: the same
// deployments, owners, checks, store and engine as /api/v1, only another wire
// format (camelCase JSON, 0-based pages with absolute links, errors as
// {code, title, message}). Nothing here decides anything the rest of the server
// does not decide the same way.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// indigoPrefix is where the INDIGO API is served: clients are pointed at
// http(s)://host/orchestrator, as they were at INDIGO orchestrators.
const indigoPrefix = "/orchestrator"

func underIndigo(path string) bool {
	return path == indigoPrefix || strings.HasPrefix(path, indigoPrefix+"/")
}

func (s *Server) registerIndigoRoutes() {
	p := indigoPrefix
	s.handle("GET", p+"/info", Public, s.indigoInfo)
	s.handle("GET", p+"/configuration", Identified, s.indigoConfiguration)
	s.handle("GET", p+"/deployments", AutoMember, s.indigoListDeployments)
	s.handle("POST", p+"/deployments", AutoMember, s.indigoCreateDeployment)
	s.handle("GET", p+"/deployments/:id", AutoMember, s.indigoGetDeployment)
	s.handle("PUT", p+"/deployments/:id", AutoMember, s.indigoUpdateDeployment)
	s.handle("PATCH", p+"/deployments/:id", AutoMember, s.indigoResetDeployment)
	s.handle("DELETE", p+"/deployments/:id", AutoMember, s.indigoDeleteDeployment)
	s.handle("GET", p+"/deployments/:id/template", AutoMember, s.indigoGetTemplate)
	s.handle("GET", p+"/deployments/:id/log", AutoMember, s.indigoGetLog)
	s.handle("GET", p+"/deployments/:id/extrainfo", AutoMember, s.indigoGetExtraInfo)
	s.handle("GET", p+"/deployments/:id/resources", AutoMember, s.indigoListResources)
	s.handle("GET", p+"/deployments/:id/resources/:rid", AutoMember, s.indigoGetResource)
	s.handle("POST", p+"/deployments/:id/resources/:rid/actions", AutoMember, s.indigoResourceAction)
}

// indigoError is the INDIGO error body (Spring's status code and reason phrase,
// and what went wrong).
type indigoError struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Message string `json:"message"`
}

// renderIndigoError writes an error the INDIGO way. The details our own API
// lists separately (each bad input, the template line) go into the message:
// INDIGO clients print only code, title and message.
func renderIndigoError(c *fiber.Ctx, status int, p ErrorPayload) error {
	msg := p.Message
	var parts []string
	for _, d := range p.Details {
		part := d.Message
		if d.Field != "" && !strings.Contains(part, d.Field) {
			part = d.Field + ": " + part
		}
		if d.Line > 0 {
			part += fmt.Sprintf(" (line %d, column %d)", d.Line, d.Column)
		}
		if part != msg {
			parts = append(parts, part)
		}
	}
	if len(parts) > 0 {
		msg += " [" + strings.Join(parts, "; ") + "]"
	}
	if p.RequestID != "" && status >= 500 {
		msg += " (request " + p.RequestID + ")"
	}
	return c.Status(status).JSON(indigoError{Code: status, Title: http.StatusText(status), Message: truncate(msg, 4000)})
}

// indigoTime is INDIGO's timestamp form: UTC, to the minute ("2026-01-02T15:04+0000").
func indigoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04-0700") }

// indigoLink is a Spring HATEOAS link.
type indigoLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// links builds absolute URLs for one request. A nil *links builds none (the
// INDIGO orchestrator sends callbacks without links, outside any request).
type links struct{ base string }

func (l *links) to(rel, path string) []indigoLink {
	if l == nil {
		return nil
	}
	return []indigoLink{{Rel: rel, Href: l.base + path}}
}

func (l *links) href(path string) string { return l.base + path }

var validHostHeader = regexp.MustCompile(`^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)

// linksFor is where this request reached the service: the configured public
// URL, else the request's scheme and Host, as a trusted reverse proxy reports
// them (X-Forwarded-Proto, X-Forwarded-Host).
func (s *Server) linksFor(c *fiber.Ctx) *links {
	if s.cfg.PublicURL != "" {
		return &links{base: s.cfg.PublicURL}
	}
	scheme, host := "http", string(c.Request().Host())
	if c.Context().IsTLS() {
		scheme = "https"
	}
	if peer, err := netip.ParseAddr(c.Context().RemoteIP().String()); err == nil && s.trusted(peer.Unmap()) {
		if p := strings.ToLower(firstHop(c.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstHop(c.Get("X-Forwarded-Host")); validHostHeader.MatchString(h) {
			host = h
		}
	}
	if !validHostHeader.MatchString(host) {
		host = c.Context().LocalAddr().String()
	}
	return &links{base: scheme + "://" + host}
}

func firstHop(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// checkPublicURL checks --public-url: an http(s) URL with a host and nothing
// after an optional path.
func checkPublicURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("public URL %q must be http(s)://host[:port][/path]", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// indigoIdentity is INDIGO's createdBy: who a user is at their identity provider.
type indigoIdentity struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
}

// identityOf is a user's INDIGO identity: (sub, iss) for OIDC users; for local
// users, their id at this service, which issues their session tokens.
func (s *Server) identityOf(u *store.User) indigoIdentity {
	if u.OIDCIssuer != "" {
		return indigoIdentity{Subject: u.OIDCSubject, Issuer: u.OIDCIssuer}
	}
	return indigoIdentity{Subject: u.ID, Issuer: s.localIssuer()}
}

func (s *Server) localIssuer() string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return sessionIssuer
}

// userByIdentity finds the user an INDIGO identity names.
func (s *Server) userByIdentity(ctx context.Context, id indigoIdentity) (*store.User, error) {
	if id.Issuer == s.localIssuer() {
		u, err := s.store.Users.Get(ctx, id.Subject)
		if err == nil && u.OIDCIssuer != "" {
			return nil, store.Errorf(store.ENotFound, "no local user %q", id.Subject)
		}
		return u, err
	}
	return s.store.Users.ByOIDC(ctx, id.Issuer, id.Subject)
}

// parseIdentity reads "subject@issuer". The issuer is a URL, which has no '@',
// while some identity providers put one in subjects: split at the last '@'.
func parseIdentity(v string) (indigoIdentity, bool) {
	i := strings.LastIndex(v, "@")
	if i <= 0 || i == len(v)-1 {
		return indigoIdentity{}, false
	}
	return indigoIdentity{Subject: v[:i], Issuer: v[i+1:]}, true
}

// indigoPageInfo is Spring Data's page metadata; number counts from 0.
type indigoPageInfo struct {
	Size          int `json:"size"`
	TotalElements int `json:"totalElements"`
	TotalPages    int `json:"totalPages"`
	Number        int `json:"number"`
}

// indigoPage is Spring HATEOAS's PagedResources.
type indigoPage[T any] struct {
	Links   []indigoLink   `json:"links"`
	Content []T            `json:"content"`
	Page    indigoPageInfo `json:"page"`
}

// indigoPaging is a request's page: number from 0, size, and the query that
// asked for it (links keep it).
type indigoPaging struct {
	number, size int
	query        url.Values
}

// indigoPageQuery reads page (from 0) and size (10 by default) as Spring does,
// refusing values it would have to guess about.
func indigoPageQuery(q *query) (indigoPaging, error) {
	p := indigoPaging{size: store.DefaultPageSize, query: q.values}
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"page", &p.number, 0, 1 << 30}, {"size", &p.size, 1, store.MaxPageSize}} {
		v := q.str(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min || n > f.max {
			return p, store.Errorf(store.EBadRequest, "query parameter %s must be a whole number from %d to %d", f.name, f.min, f.max).
				WithDetails(store.Detail{Field: f.name, Message: fmt.Sprintf("got %q", truncate(v, 40))})
		}
		*f.dst = n
	}
	return p, nil
}

func (p indigoPaging) store() store.Page { return store.Page{Number: p.number + 1, Size: p.size} }

// newIndigoPage wraps a page of content with Spring HATEOAS's links: first and
// last when there is more than one page, prev and next where they exist, and
// self; all absolute, keeping the request's filters.
func newIndigoPage[T any](c *fiber.Ctx, l *links, content []T, p indigoPaging, total int) indigoPage[T] {
	if content == nil {
		content = []T{}
	}
	pages := (total + p.size - 1) / p.size
	link := func(rel string, n int) indigoLink {
		values := url.Values{}
		for k, v := range p.query {
			values[k] = v
		}
		values.Set("page", strconv.Itoa(n))
		values.Set("size", strconv.Itoa(p.size))
		return indigoLink{Rel: rel, Href: l.href(c.Path() + "?" + values.Encode())}
	}
	hasPrev, hasNext := p.number > 0, p.number+1 < pages
	var out []indigoLink
	if hasPrev || hasNext {
		out = append(out, link("first", 0))
	}
	if hasPrev {
		out = append(out, link("prev", min(p.number-1, max(pages-1, 0))))
	}
	out = append(out, link("self", p.number))
	if hasNext {
		out = append(out, link("next", p.number+1))
	}
	if hasPrev || hasNext {
		out = append(out, link("last", max(pages-1, 0)))
	}
	return indigoPage[T]{Links: out, Content: content, Page: indigoPageInfo{Size: p.size, TotalElements: total, TotalPages: pages, Number: p.number}}
}

// indigoSort reads Spring's sort parameters ("createdAt,desc"; repeatable).
func indigoSort(q *query, fields map[string]string) ([]store.SortKey, error) {
	var keys []store.SortKey
	for _, v := range q.values["sort"] {
		field, dir, _ := strings.Cut(v, ",")
		col, ok := fields[field]
		if !ok {
			names := make([]string, 0, len(fields))
			for f := range fields {
				names = append(names, f)
			}
			return nil, store.Errorf(store.EBadRequest, "cannot sort by %q", truncate(field, 40)).
				WithDetails(store.Detail{Field: "sort", Message: "allowed: " + strings.Join(sortedStrings(names), ", ")})
		}
		switch strings.ToLower(dir) {
		case "", "asc":
			keys = append(keys, store.SortKey{Field: col})
		case "desc":
			keys = append(keys, store.SortKey{Field: col, Desc: true})
		default:
			return nil, store.Errorf(store.EBadRequest, "sort direction must be asc or desc, not %q", truncate(dir, 20)).
				WithDetails(store.Detail{Field: "sort", Message: "bad direction"})
		}
	}
	return keys, nil
}

// indigoInfo is Spring Boot's /info: build information, in the shape the
// actuator writes and the older one orchent reads. Public, as at INDIGO.
func (s *Server) indigoInfo(c *fiber.Ctx) error {
	host := string(c.Request().Host())
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return c.JSON(fiber.Map{
		"build": fiber.Map{"artifact": "orchestrator", "name": "orchestrator (INDIGO PaaS Orchestrator API)", "version": s.cfg.Version,
			"time": s.started.UTC().Format(time.RFC3339)},
		"projectVersion":   s.cfg.Version,
		"projectRevision":  s.cfg.Version,
		"projectTimestamp": s.started.UTC().Format(time.RFC3339),
		"serverHostname":   host,
	})
}

// indigoConfiguration lists the service's endpoints as a string map. INDIGO
// named the services it used (CMDB, SLAM, IM...); this service has none of
// them, so it names its own.
func (s *Server) indigoConfiguration(c *fiber.Ctx) error {
	l := s.linksFor(c)
	return c.JSON(map[string]string{
		"orchestrator_url": l.href(indigoPrefix),
		"api_url":          l.href("/api/v1"),
		"openapi_url":      l.href("/api/v1/openapi.json"),
		"dashboard_url":    l.href("/"),
		"version":          s.cfg.Version,
	})
}

// indigoText sends a plain-text body (templates, logs, extra info), as the
// INDIGO orchestrator does whatever Accept says.
func indigoText(c *fiber.Ctx, body string) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set("X-Content-Type-Options", "nosniff")
	return c.SendString(body)
}

// acceptedNoBody answers 202 with nothing in the body, as INDIGO's void handlers.
func acceptedNoBody(c *fiber.Ctx) error {
	c.Status(fiber.StatusAccepted)
	c.Response().ResetBody()
	return nil
}

func sortedStrings(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// rawJSONObject is the JSON of a stored object, "{}" when empty.
func rawJSONObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

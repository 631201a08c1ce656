// Package ui serves the web dashboard: a single-page app made of plain ES
// modules, embedded in the binary and served as they are (no build step, no
// CDN, no internet needed). It only reads the REST API, like any other client;
// it must never hold state of its own or reach around the API.
//
// Assets live under /assets/<version>/, where version hashes every embedded
// file: the URLs change whenever any file does, so assets are cached for a year
// (immutable) while index.html is always revalidated (ETag). Modules import each
// other by relative path, so they all resolve inside the same versioned folder.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed static
var static embed.FS

// AssetPrefix is where the versioned assets are served.
const AssetPrefix = "/assets/"

// asset is one file, ready to send: its bytes, their gzip form and an ETag.
type asset struct {
	body        []byte
	gzipped     []byte
	contentType string
	etag        string
}

// Options configure the handler.
type Options struct {
	// ConnectSources are origins, besides the service's own, the app may call
	// (an OIDC provider's token endpoint). They go into the CSP.
	ConnectSources func() []string
}

// Handler serves the app: versioned assets, and index.html for every client
// route (the API, health and metrics routes never reach it).
type Handler struct {
	opts    Options
	version string
	assets  map[string]*asset // by path under static/, e.g. "app.js"
	index   *asset
}

// New reads the embedded files and prepares each one (gzip, ETag) once.
func New(opts Options) (*Handler, error) {
	h := &Handler{opts: opts, assets: map[string]*asset{}}
	var names []string
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, strings.TrimPrefix(p, "static/"))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded ui: %w", err)
	}
	sort.Strings(names)
	all := sha256.New()
	for _, name := range names {
		body, err := static.ReadFile("static/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded ui: %w", err)
		}
		fmt.Fprintf(all, "%s\x00%d\x00", name, len(body))
		all.Write(body)
		if name == "index.html" {
			continue
		}
		a, err := newAsset(name, body)
		if err != nil {
			return nil, err
		}
		h.assets[name] = a
	}
	h.version = hex.EncodeToString(all.Sum(nil))[:16]
	raw, err := static.ReadFile("static/index.html")
	if err != nil {
		return nil, fmt.Errorf("the ui has no index.html: %w", err)
	}
	index := bytes.ReplaceAll(raw, []byte("{{ASSETS}}"), []byte(h.AssetBase()))
	index = bytes.Replace(index, []byte("{{PRELOAD}}"), h.preloads(), 1)
	if h.index, err = newAsset("index.html", index); err != nil {
		return nil, err
	}
	return h, nil
}

func newAsset(name string, body []byte) (*asset, error) {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := w.Write(body); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	return &asset{body: body, gzipped: gz.Bytes(), contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}, nil
}

// preloads lists every module so the browser fetches them in parallel instead
// of discovering imports one level at a time.
func (h *Handler) preloads() []byte {
	var b bytes.Buffer
	names := make([]string, 0, len(h.assets))
	for name := range h.assets {
		if strings.HasSuffix(name, ".js") && name != "app.js" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "<link rel=\"modulepreload\" href=\"%s/%s\">\n", h.AssetBase(), name)
	}
	return b.Bytes()
}

// AssetBase is the versioned folder the current assets are served from.
func (h *Handler) AssetBase() string { return AssetPrefix + h.version }

// Size is the total size of the app, plain and gzipped (the form browsers get).
func (h *Handler) Size() (plain, gzipped int) {
	for _, a := range h.assets {
		plain += len(a.body)
		gzipped += len(a.gzipped)
	}
	return plain + len(h.index.body), gzipped + len(h.index.gzipped)
}

// ContentSecurityPolicy is the policy of every page of the app: scripts and
// styles from the service only (no inline code), calls to the service and the
// configured identity provider only, no framing.
func (h *Handler) ContentSecurityPolicy() string {
	connect := []string{"'self'"}
	if h.opts.ConnectSources != nil {
		connect = append(connect, h.opts.ConnectSources()...)
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		// Profile pictures may be URLs on other sites, as users chose them.
		"img-src 'self' data: https: http:",
		"connect-src " + strings.Join(connect, " "),
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// Serve answers GET and HEAD requests for the app. Anything else, and every
// path under /api/, goes to the next handler (the API's JSON 404).
func (h *Handler) Serve(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return c.Next()
	}
	p := c.Path()
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		return c.Next()
	}
	if strings.HasPrefix(p, AssetPrefix) {
		return h.serveAsset(c, strings.TrimPrefix(p, AssetPrefix))
	}
	// Every other path is a client route: the app decides what it shows.
	h.securityHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return h.send(c, h.index)
}

func (h *Handler) serveAsset(c *fiber.Ctx, rest string) error {
	version, name, ok := strings.Cut(rest, "/")
	a := h.assets[name]
	if !ok || a == nil || strings.Contains(name, "..") {
		return c.Next()
	}
	h.securityHeaders(c)
	if version == h.version {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		// A page loaded before an upgrade asks for the old version: give it the
		// current file, but never let a cache keep it under the old name.
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return h.send(c, a)
}

func (h *Handler) securityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", h.ContentSecurityPolicy())
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
}

func (h *Handler) send(c *fiber.Ctx, a *asset) error {
	c.Set(fiber.HeaderETag, a.etag)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	c.Set(fiber.HeaderContentType, a.contentType)
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && etagMatches(match, a.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	body := a.body
	if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		body = a.gzipped
	}
	if c.Method() == fiber.MethodHead {
		c.Set(fiber.HeaderContentLength, fmt.Sprint(len(body)))
		return c.SendStatus(fiber.StatusOK)
	}
	return c.Send(body)
}

func etagMatches(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "W/"))
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

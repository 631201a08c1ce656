// Package server is the REST API: routing, authentication, authorization, request
// decoding, pagination and error rendering over Fiber. It knows HTTP and nothing
// about Terraform: it reads and writes the store, asks tosca2tf to validate and
// translate, and tells the engine that work was queued.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/server/ui"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// Config is what the server is told at start.
type Config struct {
	Version     string
	AllowSignup bool
	// SessionTTL is how long a token from POST /auth/login lasts.
	SessionTTL time.Duration
	// SigningKey signs local session tokens (HS256); at least 32 bytes.
	SigningKey []byte
	OIDC       OIDCConfig
	// Login throttles failed password logins per (account, client) and per client
	// across accounts; zero fields take defaults.
	Login store.LoginLimits
	// ClientIPHeader names a header (X-Forwarded-For, X-Real-IP) that carries the
	// client address when the request comes from one of TrustedProxies; empty means
	// the peer address is the client.
	ClientIPHeader string
	TrustedProxies []netip.Prefix
	// MaxNodes and MaxInstances cap one deployment's node templates and node
	// instances (scalable counts included); zero takes the defaults (200, 500).
	MaxNodes     int
	MaxInstances int
	// DefaultTarget is the target of submissions that name none, and of every
	// submission through the INDIGO API (INDIGO chose the provider itself);
	// "local" when empty.
	DefaultTarget string
	// PublicURL is where clients reach the service (https://paas.example.org):
	// the INDIGO API's absolute links start with it, and it is the issuer of local
	// users' INDIGO identity. Empty: links follow the request's Host (and a
	// trusted proxy's X-Forwarded-Proto/-Host), and local users' issuer is
	// "orchestrator".
	PublicURL string
	// Callbacks says where INDIGO deployment callbacks may go.
	Callbacks CallbackConfig
}

// Engine is what the server asks of the deployment engine.
type Engine interface {
	// Wake tells the workers a run was queued.
	Wake()
	// Cancel cancels a queued run or interrupts a running one.
	Cancel(ctx context.Context, runID, reason string) (*store.Run, error)
	// Holds reports whether a worker is running the run right now.
	Holds(runID string) bool
	// Translate renders a deployment's Terraform the way a run will.
	Translate(ctx context.Context, d *store.Deployment) (*tosca2tf.Result, error)
	// ShowState returns the redacted `terraform show -json` view of the newest state.
	ShowState(ctx context.Context, d *store.Deployment) (json.RawMessage, error)
	// Plan previews an update without changing anything; redeploy plans the
	// replacement of every resource, as a redeploy run does.
	Plan(ctx context.Context, d *store.Deployment, redeploy bool) (any, error)
	// QueuePurge queues a job deleting log lines older than before.
	QueuePurge(ctx context.Context, before time.Time, olderThan, by string) (*store.Job, error)
	// RemoveWorkdir removes a hard-deleted deployment's workdir.
	RemoveWorkdir(deploymentID string) error
}

// Toolchain reports on the Terraform the engine runs with.
type Toolchain interface {
	Check(ctx context.Context) error
	Versions() map[string]any
}

// Server is the HTTP API.
type Server struct {
	cfg       Config
	app       *fiber.App
	store     *store.Store
	log       *slog.Logger
	access    *slog.Logger // one line per request
	now       func() time.Time
	toolchain Toolchain
	engine    Engine
	metrics   *Metrics
	resolver  *tosca2tf.Resolver
	done      chan struct{}
	oidc      *oidcVerifiers
	// lists caches rendered list pages, identities authenticated users: both
	// exact, checked against the store's generation (see genCache).
	lists      *genCache[[]byte]
	identities *genCache[*store.User]
	// sessions remembers session tokens already verified (see verifiedSessions).
	sessions  *verifiedSessions
	routes    []Route
	ui        *ui.Handler
	callbacks *callbackPolicy
	started   time.Time
	// background counts goroutines Shutdown waits for (the callback dispatcher).
	background sync.WaitGroup
}

// Deps are the parts the server is built from.
type Deps struct {
	Store *store.Store
	Log   *slog.Logger
	// AccessLog gets the one line per request (default: Log). The service
	// buffers it: see cmd/orchestrator's logOutput.
	AccessLog *slog.Logger
	Toolchain Toolchain
	Engine    Engine
	// Resolver resolves URL imports of submitted templates (type libraries).
	Resolver *tosca2tf.Resolver
	// Metrics are shared with the engine; NewMetrics() when nil.
	Metrics *Metrics
}

// responseWriteBuffer is the size of the buffer a response is written through:
// a response that fits leaves in one write system call.
const responseWriteBuffer = 32 << 10

// New builds the server and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if len(cfg.SigningKey) < 32 {
		return nil, fmt.Errorf("signing key must be at least 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	cfg.Login = withLoginDefaults(cfg.Login)
	if cfg.MaxNodes <= 0 {
		cfg.MaxNodes = 200
	}
	if cfg.MaxInstances <= 0 {
		cfg.MaxInstances = 500
	}
	if cfg.ClientIPHeader != "" && len(cfg.TrustedProxies) == 0 {
		// A header anyone can send is only believed from a proxy on this host.
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if cfg.DefaultTarget == "" {
		cfg.DefaultTarget = "local"
	}
	public, err := checkPublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	cfg.PublicURL = public
	cfg.Callbacks = withCallbackDefaults(cfg.Callbacks)
	policy, err := newCallbackPolicy(cfg.Callbacks)
	if err != nil {
		return nil, err
	}
	// One clock for the whole service: the store's (tests move it).
	now := deps.Store.Now
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	access := deps.AccessLog
	if access == nil {
		access = log
	}
	resolver := deps.Resolver
	if resolver == nil {
		resolver = &tosca2tf.Resolver{}
	}
	metrics := deps.Metrics
	if metrics == nil {
		metrics = NewMetrics()
	}
	metrics.watchQueue(deps.Store)
	s := &Server{cfg: cfg, store: deps.Store, log: log, access: access, now: now, toolchain: deps.Toolchain, engine: deps.Engine,
		resolver: resolver, done: make(chan struct{}), metrics: metrics, callbacks: policy, started: now()}
	s.oidc = newOIDCVerifiers(cfg.OIDC, now)
	s.lists = newGenCache[[]byte](4096)
	s.identities = newGenCache[*store.User](4096)
	s.sessions = newVerifiedSessions(8192)
	s.app = fiber.New(fiber.Config{
		AppName:      "orchestrator",
		ErrorHandler: s.handleError,
		// Bodies are streamed and read by limitBody, which answers an oversized one
		// with a JSON 413 after draining it (fasthttp's own limit resets the
		// connection mid-upload, so clients never see the answer). Multipart forms
		// are parsed from that bounded body, never pre-read to temporary files.
		BodyLimit:                    maxRequestBody,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  30 * time.Second,
		IdleTimeout:                  2 * time.Minute,
		DisableStartupMessage:        true,
		// A response larger than the write buffer leaves in two write system
		// calls (the buffer, then the rest). fasthttp's 4 KB default splits a
		// default page of 10 deployments (about 7.6 KB); 32 KB sends list and
		// log pages of common sizes in one. Writers are pooled per response in
		// flight, not per connection.
		WriteBufferSize: responseWriteBuffer,
		// Handlers keep strings past the request (stored rows, goroutines): no aliasing.
		Immutable:     true,
		StrictRouting: false,
	})
	s.app.Use(s.recoverPanics, s.requestIDs, s.accessLog, s.countRequests, s.limitBody)
	s.registerRoutes()
	// The web dashboard answers every other GET (its client routes); unknown
	// /api/ paths and other methods fall through to the JSON 404.
	dashboard, err := ui.New(ui.Options{ConnectSources: s.oidc.browserOrigins})
	if err != nil {
		return nil, err
	}
	s.ui = dashboard
	s.app.Use(func(c *fiber.Ctx) error {
		if underIndigo(c.Path()) {
			return c.Next() // an unknown INDIGO path is an INDIGO 404, not a dashboard page
		}
		return s.ui.Serve(c)
	})
	s.app.Use(func(c *fiber.Ctx) error {
		return store.Errorf(store.ENotFound, "no route %s %s", c.Method(), c.Path())
	})
	if s.callbacks.enabled() {
		s.background.Add(1)
		go s.dispatchCallbacks()
	}
	return s, nil
}

// App is the Fiber application (tests drive it over a real listener).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown ends log streams, stops accepting connections and waits for requests
// in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	err := s.app.ShutdownWithContext(ctx)
	s.background.Wait()
	return err
}

// Access says who may call a route.
type Access int

// Access levels, from open to narrow.
const (
	Public     Access = iota // anyone
	Identified               // any valid token, even of an OIDC user not registered yet
	Member                   // a registered user
	Admin                    // an admin
	// AutoMember is Member, except that a verified OIDC identity not registered
	// yet is registered on the spot: INDIGO's clients never call POST /users,
	// the INDIGO orchestrator records a user at their first call.
	AutoMember
)

func (a Access) String() string {
	return [...]string{"public", "identified", "member", "admin", "member (registered at first use)"}[a]
}

// needsUser reports whether the access level is for registered users only.
func (a Access) needsUser() bool { return a == Member || a == Admin || a == AutoMember }

// Route is one entry of the route table: the authorization matrix and the OpenAPI
// parity test are generated from it.
type Route struct {
	Method string
	Path   string // Fiber syntax: /api/v1/users/:id
	Access Access
}

// Routes returns the route table, sorted.
func (s *Server) Routes() []Route {
	out := append([]Route(nil), s.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// handle registers a route with its access level; the guard runs before the handler.
func (s *Server) handle(method, path string, access Access, h fiber.Handler) {
	s.routes = append(s.routes, Route{Method: method, Path: path, Access: access})
	s.app.Add(method, path, s.guard(access), h)
}

func (s *Server) registerRoutes() {
	s.handle("GET", "/healthz", Public, s.healthz)
	s.handle("GET", "/readyz", Public, s.readyz)
	s.handle("GET", "/metrics", Public, s.metricsHandler())
	s.handle("GET", "/api/v1/version", Public, s.version)
	s.handle("GET", "/api/v1/openapi.json", Public, s.getOpenAPI)
	s.handle("GET", "/docs", Public, s.getDocs)

	s.handle("GET", "/api/v1/auth/config", Public, s.authConfig)
	s.handle("POST", "/api/v1/auth/login", Public, s.login)
	s.handle("POST", "/api/v1/users", Public, s.signup)
	s.handle("GET", "/api/v1/users/me", Member, s.getMe)
	s.handle("PATCH", "/api/v1/users/me", Member, s.patchMe)
	s.handle("POST", "/api/v1/users/me/ssh-keys", Member, s.addSSHKey)
	s.handle("GET", "/api/v1/users/me/ssh-keys", Member, s.listSSHKeys)
	s.handle("DELETE", "/api/v1/users/me/ssh-keys/:id", Member, s.deleteSSHKey)
	s.handle("POST", "/api/v1/users/me/tokens", Member, s.createToken)
	s.handle("GET", "/api/v1/users/me/tokens", Member, s.listTokens)
	s.handle("DELETE", "/api/v1/users/me/tokens/:id", Member, s.deleteToken)
	s.handle("GET", "/api/v1/users/:id/picture", Member, s.getPicture)
	s.handle("GET", "/api/v1/users", Admin, s.listUsers)
	s.handle("GET", "/api/v1/users/:id", Admin, s.getUser)
	s.handle("DELETE", "/api/v1/users/:id", Admin, s.deleteUser)

	s.handle("GET", "/api/v1/templates", Member, s.listTemplates)
	s.handle("POST", "/api/v1/templates", Admin, s.addTemplate)
	s.handle("GET", "/api/v1/templates/:id", Member, s.getTemplate)
	s.handle("GET", "/api/v1/templates/:id/content", Member, s.getTemplateContent)
	s.handle("PATCH", "/api/v1/templates/:id", Admin, s.patchTemplate)
	s.handle("DELETE", "/api/v1/templates/:id", Admin, s.deleteTemplate)

	s.handle("GET", "/api/v1/targets", Member, s.listTargets)
	s.handle("POST", "/api/v1/targets", Admin, s.createTarget)
	s.handle("GET", "/api/v1/targets/:name", Member, s.getTarget)
	s.handle("PATCH", "/api/v1/targets/:name", Admin, s.patchTarget)
	s.handle("DELETE", "/api/v1/targets/:name", Admin, s.deleteTarget)

	s.handle("POST", "/api/v1/deployments", Member, s.submit)
	s.handle("POST", "/api/v1/deployments/plan", Member, s.previewSubmit)
	s.handle("GET", "/api/v1/deployments", Member, s.listDeployments)
	s.handle("GET", "/api/v1/deployments/:id", Member, s.getDeployment)
	s.handle("PATCH", "/api/v1/deployments/:id", Member, s.patchDeployment)
	s.handle("PUT", "/api/v1/deployments/:id", Member, s.updateDeployment)
	s.handle("DELETE", "/api/v1/deployments/:id", Member, s.deleteDeployment)
	s.handle("POST", "/api/v1/deployments/:id/plan", Member, s.planDeployment)
	s.handle("POST", "/api/v1/deployments/:id/reset", Member, s.resetDeployment)
	s.handle("GET", "/api/v1/deployments/:id/template", Member, s.getDeploymentTemplate)
	s.handle("GET", "/api/v1/deployments/:id/terraform", Member, s.getTerraform)
	s.handle("GET", "/api/v1/deployments/:id/state", Member, s.getState)
	s.handle("GET", "/api/v1/deployments/:id/outputs", Member, s.getOutputs)
	s.handle("GET", "/api/v1/deployments/:id/logs", Member, s.getLogs)
	s.handle("GET", "/api/v1/deployments/:id/runs", Member, s.listRuns)
	s.handle("GET", "/api/v1/deployments/:id/resources", Member, s.listResources)
	s.handle("GET", "/api/v1/deployments/:id/resources/:rid", Member, s.getResource)
	s.handle("POST", "/api/v1/deployments/:id/resources/:rid/actions", Member, s.resourceAction)
	s.handle("POST", "/api/v1/deployments/:id/resources/:rid/reset", Member, s.resetResource)
	s.handle("GET", "/api/v1/deployments/:id/owners", Admin, s.listOwners)
	s.handle("POST", "/api/v1/deployments/:id/owners", Admin, s.addOwner)
	s.handle("DELETE", "/api/v1/deployments/:id/owners/:user", Admin, s.removeOwner)
	s.handle("GET", "/api/v1/runs/:id", Member, s.getRun)
	s.handle("POST", "/api/v1/runs/:id/cancel", Member, s.cancelRun)
	s.handle("DELETE", "/api/v1/logs", Admin, s.purgeLogs)
	s.handle("GET", "/api/v1/jobs", Admin, s.listJobs)
	s.handle("GET", "/api/v1/jobs/:id", Admin, s.getJob)

	s.registerIndigoRoutes()
}

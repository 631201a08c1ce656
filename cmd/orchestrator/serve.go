package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"orchestrator/examples"
	"orchestrator/jobs"
	"orchestrator/jobs/toolchain"
	"orchestrator/server"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// serveConfig is every setting of `serve`; each flag has an ORCHESTRATOR_* twin.
type serveConfig struct {
	Listen   string
	DataDir  string
	Database string
	// ServiceKeyFile holds the service key (hex); ORCHESTRATOR_SERVICE_KEY
	// may hold the key itself. Replicas sharing a database must share it.
	ServiceKeyFile string
	// Replica names this replica among those sharing a database.
	Replica        string
	AdminUser      string
	AdminPassword  string
	AllowSignup    bool
	OIDCIssuers    []string
	OIDCAudience   string
	OIDCGroups     string
	OIDCAdminGroup string
	OIDCClientID   string
	OIDCScopes     []string
	TerraformPath  string
	ToolsDir       string
	ProvidersDir   string
	Workers        int
	LogRetention   time.Duration
	StallAfter     time.Duration
	SessionTTL     time.Duration
	LogFormat      string
	// CPUProfile is where a CPU profile of the whole run is written (pprof).
	CPUProfile    string
	LoadExamples  bool
	ShutdownGrace time.Duration
	TypesMap      []string
	AllowFetch    []string
	// Software configuration: where playbooks, scripts and roles come from.
	ArtifactsMap        []string
	ArtifactsDirs       []string
	ArtifactsAllowFetch []string
	ConfigureParallel   int
	SSHWait             time.Duration
	FetchCacheDir       string
	FetchMaxAge         time.Duration
	Schedules           jobs.Schedules
	KillGrace           time.Duration
	RunTimeout          time.Duration
	// ClockOffset shifts the service's one clock (store, engine, server, cron
	// jobs): tests use it to live at another date; operators leave it at zero.
	ClockOffset time.Duration
	// Login throttling and the client address behind a reverse proxy.
	Login          store.LoginLimits
	ClientIPHeader string
	TrustedProxies []netip.Prefix
	// Per-deployment caps on node templates and node instances.
	MaxNodes, MaxInstances int
	// The INDIGO PaaS Orchestrator API: where clients reach the service, the
	// target its submissions go to, and where deployment callbacks may go.
	PublicURL            string
	DefaultTarget        string
	CallbackAllow        []string
	CallbackAllowPrivate bool
}

func parseServeFlags(args []string) (*serveConfig, error) {
	fs := newFlags("serve")
	c := &serveConfig{}
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	dataDir := fs.String("data-dir", "./data", "directory for the database, workdirs and keys")
	database := fs.String("database", "", "SQLite database path (default DATA_DIR/orchestrator.db), or a PostgreSQL URL postgres://... shared by replicas")
	keyFile := fs.String("service-key-file", "", "file holding the service key (64 hex digits) that signs sessions and seals credentials; "+
		"required with PostgreSQL (or ORCHESTRATOR_SERVICE_KEY), default DATA_DIR/service.key, created on first start")
	replica := fs.String("replica-id", "", "name of this replica among those sharing a PostgreSQL database (default: host name and a digest of the data dir)")
	adminUser := fs.String("admin-user", "admin", "bootstrap admin username (created on first start)")
	adminPassword := fs.String("admin-password", "", "bootstrap admin password (random and printed once if empty)")
	allowSignup := fs.Bool("allow-signup", true, "allow local self-registration with username and password")
	issuers := fs.List("oidc-issuer", "accepted OIDC issuer URL")
	audience := fs.String("oidc-audience", "", "required audience of OIDC tokens")
	groups := fs.String("oidc-groups-claim", "groups", "claim holding the user's groups")
	adminGroup := fs.String("oidc-admin-group", "", "OIDC group whose members are admins")
	clientID := fs.String("oidc-client-id", "", "public OIDC client the web dashboard signs in with (first issuer; authorization code flow with PKCE)")
	scopes := fs.List("oidc-scope", "scope the dashboard asks the OIDC provider for (default openid, profile, email)")
	tfPath := fs.String("terraform-path", "", "Terraform binary (default: hc-install lookup)")
	toolsDir := fs.String("tools-dir", ".tools", "toolchain directory built by 'make tools'")
	providersDir := fs.String("providers-dir", "", "provider filesystem mirror (default TOOLS_DIR/providers)")
	workers := fs.Int("workers", 4, "number of concurrent Terraform runs")
	retention := fs.Duration("log-retention", 90*24*time.Hour, "delete log lines older than this (e.g. 90d)")
	stall := fs.Duration("stall-after", 10*time.Minute, "a run without heartbeat for this long is stalled")
	session := fs.Duration("session-ttl", 12*time.Hour, "lifetime of login tokens")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	loadExamples := fs.Bool("load-examples", true, "load the example templates into an empty catalog")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long SIGTERM waits for requests and runs")
	typesMap := fs.List("types-map", "serve URL imports under URLPREFIX from a local type library: URLPREFIX=DIR")
	allowFetch := fs.List("allow-fetch", "allow fetching URL imports under this prefix over HTTP (off unless set)")
	artifactsMap := fs.List("artifacts-map", "serve playbooks, scripts and Galaxy roles under PREFIX (a URL prefix or a role name prefix such as indigo-dc.) from a local directory: PREFIX=DIR")
	artifactsDirs := fs.List("artifacts-dir", "directory where implementations written as relative paths are looked up (repeatable, searched in order)")
	artifactsFetch := fs.List("artifacts-allow-fetch", "allow fetching playbooks and scripts under this URL prefix over HTTP (off unless set; 4 MiB, 20 s, cached)")
	configureParallel := fs.Int("configure-parallel", 4, "software nodes of one deployment configured at the same time")
	sshWait := fs.Duration("ssh-wait", 5*time.Minute, "how long configuration waits for a server's SSH")
	fetchCache := fs.String("fetch-cache-dir", "", "where fetched type libraries are cached (default DATA_DIR/type-cache)")
	fetchMaxAge := fs.Duration("fetch-max-age", 24*time.Hour, "how long a cached type library is used before it is fetched again")
	stalled := fs.String("stalled-schedule", "@every 1m", "cron schedule of stalled-run detection")
	retentionSched := fs.String("retention-schedule", "@daily", "cron schedule of log retention")
	cleanupSched := fs.String("cleanup-schedule", "@hourly", "cron schedule of workdir cleanup")
	killGrace := fs.Duration("kill-grace", 30*time.Second, "after a cancel, how long Terraform gets to stop before it is killed")
	runTimeout := fs.Duration("run-timeout", 2*time.Hour, "longest a single Terraform run may take")
	clockOffset := fs.Duration("clock-offset", 0, "shift the service clock by this much (for tests; leave at 0)")
	loginFailures := fs.Int("login-max-failures", 5, "failed logins of one account from one client address before that pair is locked out")
	loginAccounts := fs.Int("login-max-accounts", 20, "accounts one client address may fail on before it is locked out of accounts it never used")
	loginWindow := fs.Duration("login-window", 15*time.Minute, "how long failed logins count")
	loginLockout := fs.Duration("login-lockout", 15*time.Minute, "how long a lockout lasts")
	maxNodes := fs.Int("max-nodes", 200, "most node templates one deployment may have")
	maxInstances := fs.Int("max-instances", 500, "most node instances (scalable counts included) one deployment may have")
	ipHeader := fs.String("client-ip-header", "", "header carrying the client address from a trusted reverse proxy (X-Forwarded-For, X-Real-IP)")
	proxies := fs.List("trusted-proxy", "address or CIDR of a reverse proxy whose client-ip header is believed (default loopback)")
	publicURL := fs.String("public-url", "", "URL clients reach this service at, e.g. https://paas.example.org (links of the INDIGO API under /orchestrator; default: the request's host)")
	defaultTarget := fs.String("default-target", "local", "target of submissions that name none, and of every submission through the INDIGO API")
	callbackAllow := fs.List("callback-allow", "host deployment callbacks may be POSTed to: a name, *.domain or IP, with an optional :port (none: callbacks are refused)")
	cpuProfile := fs.String("cpu-profile", "", "write a CPU profile (go tool pprof) of the service to this file until it stops; for performance work")
	callbackPrivate := fs.Bool("callback-allow-private", false, "let callbacks reach loopback and private addresses, e.g. a dashboard on the site network (link-local never)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	*c = serveConfig{Listen: *listen, DataDir: *dataDir, Database: *database, ServiceKeyFile: *keyFile, Replica: *replica,
		AdminUser: *adminUser, AdminPassword: *adminPassword,
		AllowSignup: *allowSignup, OIDCIssuers: *issuers, OIDCAudience: *audience, OIDCGroups: *groups, OIDCAdminGroup: *adminGroup,
		OIDCClientID: *clientID, OIDCScopes: *scopes,
		TerraformPath: *tfPath, ToolsDir: *toolsDir, ProvidersDir: *providersDir, Workers: *workers, LogRetention: *retention,
		StallAfter: *stall, SessionTTL: *session, LogFormat: *logFormat, CPUProfile: *cpuProfile, LoadExamples: *loadExamples, ShutdownGrace: *grace,
		TypesMap: *typesMap, AllowFetch: *allowFetch, FetchCacheDir: *fetchCache, FetchMaxAge: *fetchMaxAge, KillGrace: *killGrace, RunTimeout: *runTimeout, ClockOffset: *clockOffset,
		Schedules: jobs.Schedules{Stalled: *stalled, Retention: *retentionSched, Cleanup: *cleanupSched, LogRetention: *retention}}
	c.Login = store.LoginLimits{AccountFailures: *loginFailures, ClientAccounts: *loginAccounts, Window: *loginWindow, Lockout: *loginLockout}
	c.ClientIPHeader = *ipHeader
	c.ArtifactsMap, c.ArtifactsDirs, c.ArtifactsAllowFetch = *artifactsMap, *artifactsDirs, *artifactsFetch
	c.ConfigureParallel, c.SSHWait = *configureParallel, *sshWait
	if c.ConfigureParallel < 1 {
		return nil, fmt.Errorf("--configure-parallel must be at least 1")
	}
	c.MaxNodes, c.MaxInstances = *maxNodes, *maxInstances
	c.PublicURL, c.DefaultTarget, c.CallbackAllow, c.CallbackAllowPrivate = strings.TrimRight(*publicURL, "/"), *defaultTarget, *callbackAllow, *callbackPrivate
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("--public-url must be http(s)://host[:port][/path], not %q", *publicURL)
		}
	}
	if err := server.CheckCallbackAllow(c.CallbackAllow); err != nil {
		return nil, fmt.Errorf("--callback-allow: %w", err)
	}
	if c.MaxNodes < 1 || c.MaxInstances < 1 {
		return nil, fmt.Errorf("--max-nodes and --max-instances must be at least 1")
	}
	for _, p := range *proxies {
		prefix, err := parsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy: %w", err)
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "orchestrator.db")
	}
	if c.ProvidersDir == "" {
		c.ProvidersDir = filepath.Join(c.ToolsDir, "providers")
	}
	if c.OIDCClientID != "" && len(c.OIDCIssuers) == 0 {
		return nil, fmt.Errorf("--oidc-client-id needs --oidc-issuer: the dashboard signs in with the first issuer")
	}
	if c.FetchCacheDir == "" {
		c.FetchCacheDir = filepath.Join(c.DataDir, "type-cache")
	}
	if c.Workers < 1 {
		return nil, fmt.Errorf("--workers must be at least 1")
	}
	if strings.Contains(c.Replica, "/") {
		return nil, fmt.Errorf("--replica-id may not contain '/'")
	}
	return c, nil
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func serveCommand(args []string) int {
	cfg, err := parseServeFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(os.Stderr, "orchestrator serve:", err)
		return exitUsage
	}
	out := newLogOutput(os.Stderr, 100*time.Millisecond)
	defer out.Close()
	log := newLogger(cfg.LogFormat, out.Direct())
	access := slog.New(newAccessHandler(cfg.LogFormat, out.Buffered()))
	// The first SIGTERM (or ^C) starts a graceful shutdown; a second one cuts
	// the grace short: runs record what they have and the service exits.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(signals)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	hurry := make(chan struct{})
	go func() {
		if _, ok := <-signals; !ok {
			return
		}
		stop()
		if _, ok := <-signals; ok {
			log.Warn("second signal: ending the shutdown grace now")
			close(hurry)
		}
	}()
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "orchestrator serve: --cpu-profile:", err)
			return exitUsage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "orchestrator serve: --cpu-profile:", err)
			return exitUsage
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if err := serve(ctx, hurry, cfg, log, access, os.Stdout); err != nil {
		log.Error("orchestrator stopped", "error", err.Error())
		return exitFailed
	}
	return exitOK
}

// serve runs the service until ctx ends, then shuts down gracefully: it stops
// taking requests and runs, interrupts running Terraform and waits up to the
// shutdown grace (or until hurry closes) for every run's outcome to be recorded.
// A shutdown that had to cut runs short is still a clean exit: what each run
// did is recorded, and what Terraform finishes later is collected at the next
// start.
func serve(ctx context.Context, hurry <-chan struct{}, cfg *serveConfig, log, access *slog.Logger, console io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// One service process per data directory: its workdirs and the
	// Terraform processes in them are this process's alone.
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	shared := store.IsPostgres(cfg.Database)
	key, err := serviceKey(cfg, shared)
	if err != nil {
		return err
	}
	offset := cfg.ClockOffset
	clock := func() time.Time { return time.Now().Add(offset) }
	st, err := store.Open(ctx, cfg.Database, store.WithSealKey(deriveKey(key, "target-credentials")), store.WithClock(clock), store.WithLogger(log))
	if err != nil {
		return err
	}
	defer st.Close()
	if shared {
		if err := st.CheckServiceKey(ctx, hex.EncodeToString(deriveKey(key, "fingerprint"))[:16]); err != nil {
			return err
		}
	}
	resolver, err := newResolver(cfg)
	if err != nil {
		return err
	}
	// Replicas starting together on an empty database bootstrap it once.
	err = st.Exclusive(ctx, "bootstrap", func() error {
		if err := bootstrapAdmin(ctx, st, cfg, console); err != nil {
			return err
		}
		if err := bootstrapTarget(ctx, st, log); err != nil {
			return err
		}
		if cfg.LoadExamples {
			return loadExamples(ctx, st, resolver, log)
		}
		return nil
	})
	if err != nil {
		return err
	}

	tc, err := loadToolchain(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("terraform", "path", tc.Terraform, "version", tc.TerraformVersion, "providers", len(tc.Providers))

	metrics := server.NewMetrics()
	artifacts, err := newArtifactResolver(cfg)
	if err != nil {
		return err
	}
	log.Info("software configuration", "status", jobs.ConfigurationStatus(), "artifact_maps", len(artifacts.Maps), "artifact_dirs", len(artifacts.Dirs))
	engine := jobs.New(jobs.Config{DataDir: cfg.DataDir, Workers: cfg.Workers, StallAfter: cfg.StallAfter, KillGrace: cfg.KillGrace,
		RunTimeout: cfg.RunTimeout, Resolver: resolver, Replica: cfg.Replica,
		Configure: jobs.ConfigureOptions{Resolver: artifacts, Parallel: cfg.ConfigureParallel, SSHWait: cfg.SSHWait}}, st, tc, log, metrics)
	if err := engine.Start(ctx); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	crons, err := engine.StartCron(cfg.Schedules)
	if err != nil {
		return err
	}

	srv, err := server.New(server.Config{
		Version: version, AllowSignup: cfg.AllowSignup, SessionTTL: cfg.SessionTTL, SigningKey: deriveKey(key, "session-signing"),
		OIDC: server.OIDCConfig{Issuers: cfg.OIDCIssuers, Audience: cfg.OIDCAudience, GroupsClaim: cfg.OIDCGroups, AdminGroup: cfg.OIDCAdminGroup,
			ClientID: cfg.OIDCClientID, Scopes: cfg.OIDCScopes},
		Login: cfg.Login, ClientIPHeader: cfg.ClientIPHeader, TrustedProxies: cfg.TrustedProxies,
		MaxNodes: cfg.MaxNodes, MaxInstances: cfg.MaxInstances,
		PublicURL: cfg.PublicURL, DefaultTarget: cfg.DefaultTarget,
		Callbacks: server.CallbackConfig{Allow: cfg.CallbackAllow, AllowPrivate: cfg.CallbackAllowPrivate},
	}, server.Deps{Store: st, Log: log, AccessLog: access, Toolchain: toolchainStatus{tc}, Engine: engineAdapter{engine}, Resolver: resolver, Metrics: metrics})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("orchestrator listening", "address", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir,
		"database", st.Dialect(), "replica", engine.Replica())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	go func() {
		select {
		case <-hurry:
			cancel()
		case <-shutdownCtx.Done():
		}
	}()
	// The engine stops at once (it interrupts Terraform), while the HTTP server
	// lets the requests under way finish.
	stopped := make(chan error, 1)
	go func() { stopped <- engine.Stop(shutdownCtx) }()
	<-crons.Stop().Done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("http shutdown", "error", err.Error())
	}
	if err := <-stopped; err != nil {
		log.Error("engine shutdown", "error", err.Error())
	}
	log.Info("stopped")
	return nil
}

// engineAdapter gives the server the engine through the server's own interface.
type engineAdapter struct{ *jobs.Engine }

func (a engineAdapter) Plan(ctx context.Context, d *store.Deployment, redeploy bool) (any, error) {
	return a.Engine.Plan(ctx, d, redeploy)
}

// newResolver configures how templates' URL imports are found: mapped type
// libraries, and fetching only when allowed.
func newResolver(cfg *serveConfig) (*tosca2tf.Resolver, error) {
	r := &tosca2tf.Resolver{}
	for _, m := range cfg.TypesMap {
		mapping, err := tosca2tf.ParseMapping(m)
		if err != nil {
			return nil, fmt.Errorf("--types-map: %w", err)
		}
		r.Mappings = append(r.Mappings, mapping)
	}
	if len(cfg.AllowFetch) > 0 {
		r.Fetch = &tosca2tf.FetchConfig{Allow: cfg.AllowFetch, CacheDir: cfg.FetchCacheDir, MaxAge: cfg.FetchMaxAge}
	}
	return r, nil
}

// bootstrapTarget creates the simulated local target on a database with none.
func bootstrapTarget(ctx context.Context, st *store.Store, log *slog.Logger) error {
	list, err := st.Targets.List(ctx)
	if err != nil || len(list) > 0 {
		return err
	}
	t := &store.Target{Name: "local", Kind: "local", Description: "Simulated cloud: resources live only in Terraform state.", Config: []byte("{}")}
	if err := st.Targets.Create(ctx, t, nil); err != nil {
		return fmt.Errorf("create the local target: %w", err)
	}
	log.Info("created the default target", "name", "local", "kind", "local (simulated)")
	return nil
}

// loadExamples puts the example templates into an empty catalog.
func loadExamples(ctx context.Context, st *store.Store, resolver *tosca2tf.Resolver, log *slog.Logger) error {
	n, err := st.Templates.Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	list, err := examples.All()
	if err != nil {
		return fmt.Errorf("read examples: %w", err)
	}
	for _, ex := range list {
		t, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: ex.Name + ".yaml", Content: []byte(ex.Content)}, resolver)
		if err != nil {
			return fmt.Errorf("example %s is invalid: %w", ex.Name, err)
		}
		inputs, err := json.Marshal(tosca2tf.DescribeInputs(t))
		if err != nil {
			return err
		}
		meta, err := json.Marshal(t.Metadata)
		if err != nil {
			return err
		}
		version, _ := t.Metadata["template_version"].(string)
		if version == "" {
			version = "1.0"
		}
		tmpl := &store.Template{Name: ex.Name, Version: version, Description: strings.TrimSpace(t.Description), Content: ex.Content,
			Inputs: inputs, Metadata: meta}
		if err := st.Templates.Create(ctx, tmpl); err != nil {
			return fmt.Errorf("load example %s: %w", ex.Name, err)
		}
	}
	log.Info("loaded example templates into the empty catalog", "count", len(list))
	return nil
}

func loadToolchain(ctx context.Context, cfg *serveConfig) (*toolchain.Toolchain, error) {
	tfPath := cfg.TerraformPath
	if tfPath == "" {
		found, err := toolchain.FindTerraform(ctx, toolchain.FindOptions{ToolsDir: cfg.ToolsDir, Releases: true, ReleasesTimeout: 20 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("%w (run `make tools`, or pass --terraform-path)", err)
		}
		tfPath = found
	}
	return toolchain.Load(ctx, tfPath, cfg.ProvidersDir, filepath.Join(cfg.DataDir, "terraformrc"))
}

// serviceKeyEnv holds the service key itself (64 hex digits), for replicas
// given their secrets through the environment; it has no flag, so the key
// never shows in a process list.
const serviceKeyEnv = "ORCHESTRATOR_SERVICE_KEY"

// serviceKey is the service's secret: from ORCHESTRATOR_SERVICE_KEY, or the
// --service-key-file, or DATA_DIR/service.key (created on first start). With
// a shared database (PostgreSQL) it must come from configuration: a key each
// replica made for itself would sign sessions the other replicas refuse and
// seal credentials they cannot read.
func serviceKey(cfg *serveConfig, shared bool) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(serviceKeyEnv)); v != "" {
		key, err := hex.DecodeString(v)
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("%s must be at least 64 hex digits", serviceKeyEnv)
		}
		return key, nil
	}
	if cfg.ServiceKeyFile != "" {
		data, err := os.ReadFile(cfg.ServiceKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read the service key: %w", err)
		}
		key, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("service key %s must hold at least 64 hex digits", cfg.ServiceKeyFile)
		}
		return key, nil
	}
	if shared {
		return nil, fmt.Errorf("a PostgreSQL database is shared by replicas, which must all use the same service key: " +
			"give it with --service-key-file (ORCHESTRATOR_SERVICE_KEY_FILE) or " + serviceKeyEnv +
			" (64 hex digits, e.g. from `openssl rand -hex 32`); a key made by each process would make sessions and credentials unreadable on the others")
	}
	return loadServiceKey(filepath.Join(cfg.DataDir, "service.key"))
}

// lockDataDir takes an exclusive lock on the data directory for as long as the
// service runs: a second service on the same directory is refused (it would
// take the first one's Terraform processes for leftovers).
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another orchestrator process: give each replica a data dir of its own", dir)
	}
	return func() { f.Close() }, nil
}

// loadServiceKey reads the service's secret, creating it (mode 0600) on first start.
// Every other key (session signing, credential sealing) is derived from it.
func loadServiceKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(data)))
		if derr != nil || len(key) < 32 {
			return nil, fmt.Errorf("service key %s is corrupt", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read service key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate service key: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write service key: %w", err)
	}
	return key, nil
}

func deriveKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// bootstrapAdmin creates the first admin on an empty database and prints its
// credentials once, on the console (never through the logger).
func bootstrapAdmin(ctx context.Context, st *store.Store, cfg *serveConfig, console io.Writer) error {
	n, err := st.Users.Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	password, generated := cfg.AdminPassword, false
	if password == "" {
		if password, err = newPassword(24); err != nil {
			return fmt.Errorf("generate admin password: %w", err)
		}
		generated = true
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash admin password: %w", err)
	}
	u := &store.User{Username: strings.ToLower(cfg.AdminUser), PasswordHash: string(hash), Name: "Administrator", IsAdmin: true}
	if err := st.Users.Create(ctx, u); err != nil {
		return fmt.Errorf("create bootstrap admin: %w", err)
	}
	fmt.Fprintf(console, "\n  Bootstrap admin created (shown once):\n    username: %s\n", u.Username)
	if generated {
		fmt.Fprintf(console, "    password: %s\n\n", password)
	} else {
		fmt.Fprintf(console, "    password: (from --admin-password)\n\n")
	}
	return nil
}

// parsePrefix reads a CIDR, or a single address as its own /32 or /128.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// newPassword returns n random letters and digits (about 5.95 bits each): safe
// to paste after -p or --password=, unlike base64 which can start with '-'.
func newPassword(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps every character equally likely.
			if b < 248 && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// Package store keeps everything the service knows in a database: users and their
// keys and tokens, templates, targets, deployments and their owners, runs, resources,
// state versions and logs. It is the only package that speaks SQL, and it knows
// nothing of HTTP or Terraform. Two engines sit behind the same types: SQLite
// (mattn/go-sqlite3), one file for one service process, the default; and
// PostgreSQL (pgx through database/sql), shared by several replicas of the
// service. What differs between them is in dialect.go and in the two sets of
// migrations; everything a replica must know of the others' writes (queued
// runs, log lines, cancels, the cache generation) travels through notify.go and
// generation.go.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // the database/sql driver "sqlite3"
)

// migrations holds SQLite's migrations in migrations/ and PostgreSQL's twins,
// with the same names, in migrations/postgres/.
//
//go:embed migrations/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Store is the service's database, one field per entity.
type Store struct {
	db      *db
	dsn     string
	now     func() time.Time
	sealKey []byte
	counts  *countCache
	events  *events
	logger  *slog.Logger
	// stopListening ends the PostgreSQL notification listener.
	stopListening context.CancelFunc
	exclusive     sync.Mutex

	Users       *Users
	SSHKeys     *SSHKeys
	Tokens      *Tokens
	Templates   *Templates
	Targets     *Targets
	Deployments *Deployments
	Runs        *Runs
	Resources   *Resources
	States      *States
	Logs        *Logs
	Logins      *Logins
	Callbacks   *Callbacks
	Jobs        *Jobs
	// Allocations and DeploymentSSH serve software configuration (hostpool
	// hosts, the service's key pair per deployment).
	Allocations   *Allocations
	DeploymentSSH *DeploymentSSH
	Configured    *Configured
}

// Option changes how Open sets up a Store.
type Option func(*Store)

// WithClock replaces the wall clock, so tests can move time without sleeping.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger gives the store a logger for what it does in the background
// (the notification listener, leadership).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.logger = l } }

// IsPostgres reports whether a database address is a PostgreSQL URL
// (postgres://... or postgresql://...); anything else is a SQLite file path.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database at dsn, a PostgreSQL URL or a SQLite file path
// (created if needed), and applies every migration not applied yet. It
// refuses a database whose schema is newer than this binary knows.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	var sqlDB *sql.DB
	var err error
	d := &dialect{name: SQLite}
	if IsPostgres(dsn) {
		d.name = Postgres
		sqlDB, err = openPostgres(dsn)
	} else {
		sqlDB, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: &db{DB: sqlDB, d: d}, dsn: dsn, now: time.Now, counts: newCountCache(), events: newEvents(), logger: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	s.Users = &Users{s}
	s.SSHKeys = &SSHKeys{s}
	s.Tokens = &Tokens{s}
	s.Templates = &Templates{s}
	s.Targets = &Targets{s}
	s.Deployments = &Deployments{s}
	s.Runs = &Runs{s}
	s.Resources = &Resources{s}
	s.States = &States{s}
	s.Logs = &Logs{s}
	s.Logins = &Logins{s}
	s.Callbacks = &Callbacks{s}
	s.Jobs = &Jobs{s}
	s.Allocations = &Allocations{s}
	s.DeploymentSSH = &DeploymentSSH{s}
	s.Configured = &Configured{s}
	s.Subscribe(TopicLogs, func(deploymentID string) {
		s.counts.forget(deploymentID) // filtered log totals of this deployment changed
		if deploymentID == "" {
			logNotifyAll()
		} else {
			logNotify(deploymentID)
		}
	})
	s.Subscribe(topicCounts, s.counts.forget)
	if d.pg() {
		lctx, cancel := context.WithCancel(context.Background())
		s.stopListening = cancel
		go s.listen(lctx, dsn)
		// Notifications of writes committed after Open returns are heard.
		select {
		case <-s.events.listening:
		case <-time.After(10 * time.Second):
			cancel()
			sqlDB.Close()
			return nil, fmt.Errorf("listen for database notifications: no connection after 10s")
		case <-ctx.Done():
			cancel()
			sqlDB.Close()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

// Dialect names the database engine: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.db.d.name }

func (s *Store) log(msg string, err error) {
	if err != nil {
		s.logger.Warn(msg, "error", err.Error())
	} else {
		s.logger.Info(msg)
	}
}

func openPostgres(dsn string) (*sql.DB, error) {
	sqlDB, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Each replica keeps a small pool: the API's reads are short, the engine's
	// writes shorter. pgx prepares each statement once per connection.
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetMaxIdleConns(16)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return sqlDB, nil
}

func openSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_synchronous", "NORMAL")
	// Every transaction takes the write lock at BEGIN, so two writers never
	// deadlock upgrading read locks; readers are not affected under WAL.
	q.Set("_txlock", "immediate")
	// Prepared statements are kept per connection: the API's queries are few and
	// repeated, and preparing one costs as much as running it.
	q.Set("_stmt_cache_size", "128")
	sqlDB, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(8)
	return sqlDB, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stopListening != nil {
		s.stopListening()
	}
	return s.db.Close()
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now().UTC() }

// migrationLock keeps replicas starting together from migrating at once.
var migrationLock = lockKey("migrate")

// migrate applies, in one transaction, every migration of the dialect not
// applied yet. A database that holds a migration this binary does not know was
// written by a newer version of the service: it is refused, never half-used.
func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations"
	if s.db.d.pg() {
		dir = "migrations/postgres"
	}
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names) // numbered file names apply in order
	known := map[string]bool{}
	for _, name := range names {
		known[strings.TrimSuffix(path.Base(name), ".sql")] = true
	}
	latest := strings.TrimSuffix(path.Base(names[len(names)-1]), ".sql")
	return s.tx(ctx, func(tx *txn) error {
		if s.db.d.pg() {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", migrationLock); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		for _, v := range applied {
			if !known[v] {
				return fmt.Errorf("the database schema is newer than this binary: it has migration %s, this binary knows up to %s; "+
					"run a version of the orchestrator that knows it", v, latest)
			}
		}
		done := map[string]bool{}
		for _, v := range applied {
			done[v] = true
		}
		for _, name := range names {
			version := strings.TrimSuffix(path.Base(name), ".sql")
			if done[version] {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply migration %s: %w", version, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, fmtTime(s.Now())); err != nil {
				return fmt.Errorf("apply migration %s: %w", version, err)
			}
		}
		return nil
	})
}

func appliedMigrations(ctx context.Context, tx *txn) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (string, error) {
	var v string
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return "", fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// timeLayout is fixed-width so that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func fmtTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		// Rows are only ever written by fmtTime; a parse failure means a hand edit.
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t.UTC()
}

func parseTimePtr(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

// NewID returns a random identifier (UUID v4 form).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sane to do
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// notFound turns sql.ErrNoRows into a not_found Error naming what was missing.
func notFound(err error, what, id string) error {
	if err == sql.ErrNoRows {
		return Errorf(ENotFound, "%s %q not found", what, id)
	}
	return fmt.Errorf("get %s %s: %w", what, id, err)
}

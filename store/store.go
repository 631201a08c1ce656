// Package store keeps everything the service knows in a database: users and their
// keys and tokens, templates, targets, deployments and their owners, runs, resources,
// state versions and logs. It is the only package that speaks SQL, and it knows
// nothing of HTTP or Terraform. SQLite (mattn/go-sqlite3) is the engine today; the
// SQL is kept plain so that PostgreSQL can plug in behind the same types later.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver "sqlite3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the service's database, one field per entity.
type Store struct {
	db      *db
	now     func() time.Time
	sealKey []byte
	counts  *countCache

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

// Open opens (creating if needed) the SQLite database at path and applies every
// migration not applied yet.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
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
	s := &Store{db: &db{DB: sqlDB}, now: time.Now, counts: newCountCache()}
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
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

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

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names) // numbered file names apply in order
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, fmtTime(s.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", version, err)
		}
	}
	return nil
}

// tx runs fn in a transaction, committing when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.db.gen.Add(1)
	return nil
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

// isUniqueViolation reports whether err is SQLite's UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// notFound turns sql.ErrNoRows into a not_found Error naming what was missing.
func notFound(err error, what, id string) error {
	if err == sql.ErrNoRows {
		return Errorf(ENotFound, "%s %q not found", what, id)
	}
	return fmt.Errorf("get %s %s: %w", what, id, err)
}

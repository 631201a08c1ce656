package store

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is every difference between the two engines the store runs on, in
// one place: the queries are written once, in SQLite's spelling with ?
// placeholders, and the few constructs that differ are asked of the dialect.
//
// Both schemas keep the same column types where they can: timestamps are
// fixed-width UTC text (text order is time order in both), booleans are
// integers 0/1 (bool arguments are turned into integers for PostgreSQL), JSON is
// text (PostgreSQL reads it as jsonb where a query looks inside), binary data
// is BLOB in SQLite and BYTEA in PostgreSQL.
type dialect struct {
	name string // "sqlite" or "postgres"
	// rebound caches queries with their placeholders rewritten.
	rebound sync.Map
}

// Dialect names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

func (d *dialect) pg() bool { return d.name == Postgres }

// rebind rewrites ? placeholders as $1, $2, ... for PostgreSQL, skipping string
// literals and quoted identifiers.
func (d *dialect) rebind(query string) string {
	if !d.pg() || !strings.Contains(query, "?") {
		return query
	}
	if q, ok := d.rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	q := b.String()
	d.rebound.Store(query, q)
	return q
}

// args adapts arguments: PostgreSQL's integer columns take no Go bool.
func (d *dialect) args(args []any) []any {
	if !d.pg() {
		return args
	}
	for i, a := range args {
		if v, ok := a.(bool); ok {
			if v {
				args[i] = int64(1)
			} else {
				args[i] = int64(0)
			}
		}
	}
	return args
}

// groupConcat joins a column's values with commas.
func (d *dialect) groupConcat(expr string) string {
	if d.pg() {
		return "string_agg(" + expr + ", ',')"
	}
	return "group_concat(" + expr + ")"
}

// hasKey is true when the JSON object in col has key (one ? argument).
func (d *dialect) hasKey(col string) string {
	if d.pg() {
		return "jsonb_exists(" + col + "::jsonb, ?)"
	}
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") j WHERE j.key = ?)"
}

// keyIs is true when the JSON object in col has key with the string value (two
// ? arguments: key, value).
func (d *dialect) keyIs(col string) string {
	if d.pg() {
		return "(" + col + "::jsonb ->> ?) = ?"
	}
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") j WHERE j.key = ? AND j.value = ?)"
}

// contains is true when needle (one ? argument) occurs in haystack, ignoring case.
func (d *dialect) contains(haystack string) string {
	if d.pg() {
		return "strpos(lower(" + haystack + "), lower(?)) > 0"
	}
	return "instr(lower(" + haystack + "), lower(?)) > 0"
}

// forUpdate locks the rows a SELECT reads until the transaction ends. SQLite
// needs none: its transactions take the write lock at BEGIN.
func (d *dialect) forUpdate() string {
	if d.pg() {
		return " FOR UPDATE"
	}
	return ""
}

// forShare keeps the rows a SELECT reads from changing until the transaction ends.
func (d *dialect) forShare() string {
	if d.pg() {
		return " FOR SHARE"
	}
	return ""
}

// skipLocked makes a locking SELECT pass over rows another transaction holds:
// several replicas claim from one queue without waiting on each other.
func (d *dialect) skipLocked() string {
	if d.pg() {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) (string, *pgconn.PgError) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe
	}
	return "", nil
}

// isUniqueViolation reports whether err is a unique constraint failure, on
// column when it is given.
func isUniqueViolation(err error, column ...string) bool {
	if err == nil {
		return false
	}
	if code, pe := pgCode(err); code != "" {
		if code != "23505" {
			return false
		}
		for _, c := range column {
			if !strings.Contains(pe.ConstraintName, c) {
				return false
			}
		}
		return true
	}
	msg := err.Error()
	if !strings.Contains(msg, "UNIQUE constraint failed") {
		return false
	}
	for _, c := range column {
		if !strings.Contains(msg, "."+c) {
			return false
		}
	}
	return true
}

// isForeignKeyViolation reports whether err is a foreign key failure.
func isForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	if code, _ := pgCode(err); code != "" {
		return code == "23503"
	}
	return strings.Contains(err.Error(), "FOREIGN KEY")
}

// isRetryable reports whether a transaction failed only because of another one
// (a deadlock, a serialization failure) and may simply run again.
func isRetryable(err error) bool {
	code, _ := pgCode(err)
	return code == "40001" || code == "40P01"
}

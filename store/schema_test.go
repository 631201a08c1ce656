package store

import (
	"context"
	"sort"
	"strings"
	"testing"
)

// schemaOf lists a migrated database's tables with their columns, and its
// named indexes (those a migration created, not the engine's own for keys).
func schemaOf(t *testing.T, s *Store) (columns, indexes []string) {
	t.Helper()
	ctx := context.Background()
	var colQ, idxQ string
	if s.Dialect() == Postgres {
		colQ = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`
		idxQ = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
			AND indexname NOT IN (SELECT conname FROM pg_constraint)`
	} else {
		colQ = `SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
		idxQ = `SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'`
	}
	read := func(q string) []string {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out []string
		for rows.Next() {
			vals := make([]string, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.Join(vals, "."))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		sort.Strings(out)
		return out
	}
	return read(colQ), read(idxQ)
}

// Both engines migrate to the same schema: the same tables, columns and named
// indexes. A migration ported to one engine only, or ported without a column
// or an index, fails here.
func TestMigrations_SameSchemaOnBothEngines(t *testing.T) {
	t.Parallel()
	lite, _ := openTest(t, newDatabase(t, SQLite))
	pg, _ := openTest(t, newDatabase(t, Postgres))
	liteCols, liteIdx := schemaOf(t, lite)
	pgCols, pgIdx := schemaOf(t, pg)
	diff := func(what string, a, b []string) {
		inB := map[string]bool{}
		for _, x := range b {
			inB[x] = true
		}
		inA := map[string]bool{}
		for _, x := range a {
			inA[x] = true
			if !inB[x] {
				t.Errorf("%s %s is on SQLite only", what, x)
			}
		}
		for _, x := range b {
			if !inA[x] {
				t.Errorf("%s %s is on PostgreSQL only", what, x)
			}
		}
	}
	diff("column", liteCols, pgCols)
	diff("index", liteIdx, pgIdx)
	if len(liteCols) < 20 {
		t.Fatalf("only %d columns read from SQLite: %v", len(liteCols), liteCols)
	}
}

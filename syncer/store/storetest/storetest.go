// Package storetest gives tests fresh zdsync databases on every backend the
// machine offers: SQLite always, and PostgreSQL when
// ZDSYNC_TEST_POSTGRES_URL is set, each test in a schema of its own,
// dropped when the test ends. A database can be opened more than once, as
// several replicas (or processes) open one.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to drop test schemas

	"github.com/zdsync/zdsync/syncer/store"
)

// PostgresURLVar names the variable that points the tests at a PostgreSQL
// server (README, "The two commands").
const PostgresURLVar = "ZDSYNC_TEST_POSTGRES_URL"

// Database is a fresh test database: its URL and the options that select
// it (a Postgres schema).
type Database struct {
	Backend string
	URL     string
	Options []store.Option
	// Schema is the Postgres schema the Options select ("" on SQLite),
	// for a child process to open the same database.
	Schema string
}

// Open opens the database; the test closes it when it ends.
func (d Database) Open(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), d.URL, d.Options...)
	if err != nil {
		t.Fatalf("open %s database: %v", d.Backend, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLite returns a fresh SQLite database file in the test's temporary
// directory.
func SQLite(t testing.TB) Database {
	return Database{Backend: store.BackendSQLite, URL: filepath.Join(t.TempDir(), "zdsync.db")}
}

// Postgres returns a fresh schema of the test PostgreSQL server, dropped
// when the test ends, and skips the test when none is configured.
func Postgres(t testing.TB) Database {
	t.Helper()
	u := os.Getenv(PostgresURLVar)
	if u == "" {
		t.Skip(PostgresURLVar + " is not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "zdsync_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", u)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return Database{Backend: store.BackendPostgres, URL: u, Options: []store.Option{store.WithSchema(schema)}, Schema: schema}
}

// Backends returns the names of the backends the tests run on: SQLite,
// and Postgres when it is configured.
func Backends() []string {
	if os.Getenv(PostgresURLVar) == "" {
		return []string{store.BackendSQLite}
	}
	return []string{store.BackendSQLite, store.BackendPostgres}
}

// Each runs fn in a subtest per backend, with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, d Database)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b, func(t *testing.T) {
			if b == store.BackendPostgres {
				fn(t, Postgres(t))
			} else {
				fn(t, SQLite(t))
			}
		})
	}
}

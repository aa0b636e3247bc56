package store

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		wantBackend string
		wantPath    string // the DSN before its query parameters
	}{
		{"an empty URL is a SQLite file in the working directory", "", BackendSQLite, "zdsync.db"},
		{"a relative path is a SQLite file", "data/zdsync.db", BackendSQLite, "data/zdsync.db"},
		{"an absolute path is a SQLite file", "/var/lib/zdsync/zdsync.db", BackendSQLite, "/var/lib/zdsync/zdsync.db"},
		{"a file URI is passed to SQLite as it is", "file:/tmp/z.db?mode=rwc", BackendSQLite, "file:/tmp/z.db?mode=rwc"},
		{"a sqlite URL with a relative path is a SQLite file", "sqlite:z.db", BackendSQLite, "z.db"},
		{"a sqlite URL with two slashes is relative", "sqlite://z.db", BackendSQLite, "z.db"},
		{"a sqlite URL with three slashes is absolute", "sqlite:///tmp/z.db", BackendSQLite, "/tmp/z.db"},
		{"a postgres URL is Postgres", "postgres://u@h/db?sslmode=disable", BackendPostgres, "postgres://u@h/db?sslmode=disable"},
		{"a postgresql URL is Postgres", "postgresql://u@h/db", BackendPostgres, "postgresql://u@h/db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend, dsn := parseURL(tc.url)
			if backend != tc.wantBackend {
				t.Errorf("backend = %q, want %q", backend, tc.wantBackend)
			}
			if !strings.HasPrefix(dsn, tc.wantPath) {
				t.Errorf("dsn = %q, want it to start with %q", dsn, tc.wantPath)
			}
			if backend == BackendSQLite && !strings.Contains(dsn, "busy_timeout(") {
				t.Errorf("dsn = %q lacks the SQLite settings", dsn)
			}
		})
	}
}

func TestOpenDoesNotEchoAPasswordOfAMalformedURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://u:s3cret@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open = %v, want an error without the password", err)
	}
}

func TestSQLiteFile(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{"a path with settings names its file", "data/zdsync.db?_pragma=busy_timeout(5000)", "data/zdsync.db"},
		{"a file URI names its path", "file:/tmp/z.db?mode=rwc", "/tmp/z.db"},
		{"a file URI with an empty host names its path", "file:///tmp/z%20y.db", "/tmp/z y.db"},
		{"a file URI with localhost names its path", "file://localhost/tmp/z.db", "/tmp/z.db"},
		{"an in-memory database has no file", ":memory:?_pragma=foreign_keys(1)", ""},
		{"an in-memory file URI has no file", "file:z?mode=memory&cache=shared", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sqliteFile(tc.dsn); got != tc.want {
				t.Errorf("sqliteFile(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
		})
	}
}

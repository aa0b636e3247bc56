// Package store is zdsync's persistence: run summaries, the change audit
// with before-images (and the history read from it), stored plans,
// cursors, the incremental runs' watermarks, the orgs pending deletion
// (the grace period), the case push log, the command audit, Slack alerts,
// the quiet-runs status message, the Slack envelopes already handled, the
// run locks that let one run of a job go at a time, and the scheduler's
// leader election. It implements the interfaces of syncer (Store, PushLog,
// CursorStore, Watermarks), of the application core (app.Store,
// app.History) and of the bot (bot.NotifierStore, bot.EnvelopeStore).
//
// One set of SQL statements runs on both backends: SQLite (the default, a
// file in the working directory, through the pure-Go modernc.org/sqlite) and
// PostgreSQL (for several replicas, through pgx). Statements use $1-style
// placeholders, timestamps are BIGINT Unix nanoseconds in UTC and JSON is
// TEXT, which both dialects accept. The schema is versioned by the numbered
// SQL files under migrations/, applied on every Open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/zdsync/zdsync/syncer"
)

// The backends a DB can run on, as returned by DB.Backend.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// DefaultSQLiteFile is the SQLite database Open uses when no database URL is
// given, relative to the working directory.
const DefaultSQLiteFile = "zdsync.db"

// sqliteBusyTimeout is how long a SQLite connection waits for another
// process's write lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 5 * time.Second

// DB is an open zdsync database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	pool    *pgxpool.Pool // nil on SQLite
	backend string
	schema  string // Postgres schema given with WithSchema, or ""
}

// Verify that DB implements the store the jobs need.
var _ syncer.Store = (*DB)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	schema string
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// WithSchema makes a Postgres database use the given schema (its
// search_path), creating the schema if it does not exist, so that tests or
// several deployments can share one database. It is ignored on SQLite.
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

// Open opens the database named by databaseURL and brings its schema up to
// date. An empty URL opens DefaultSQLiteFile in the working directory; a
// path, a file: URI or a sqlite: URL (sqlite:path, sqlite:///abs/path)
// opens SQLite; a postgres:// or postgresql:// URL opens Postgres.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	backend, dsn := parseURL(databaseURL)
	var (
		db  *DB
		err error
	)
	switch backend {
	case BackendPostgres:
		db, err = openPostgres(ctx, dsn, o)
	default:
		db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if backend == BackendSQLite {
		if err := db.useWAL(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// parseURL tells the backend of a database URL and returns the DSN to give
// its driver.
func parseURL(u string) (backend, dsn string) {
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return BackendPostgres, u
	case u == "":
		return BackendSQLite, sqliteDSN(DefaultSQLiteFile)
	case strings.HasPrefix(u, "sqlite:"):
		p := strings.TrimPrefix(u, "sqlite:")
		p = strings.TrimPrefix(p, "//") // sqlite://rel.db, sqlite:///abs.db
		return BackendSQLite, sqliteDSN(p)
	default:
		return BackendSQLite, sqliteDSN(u)
	}
}

// sqliteDSN adds the connection settings zdsync relies on to a SQLite path
// or file: URI: a busy timeout, foreign keys, and
// transactions that take the write lock when they begin (so that two
// processes never deadlock upgrading a read lock).
func sqliteDSN(p string) string {
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()),
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate",
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + strings.Join(params, "&")
}

func openSQLite(dsn string) (*DB, error) {
	if err := restrictSQLiteFiles(sqliteFile(dsn)); err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	// SQLite has one writer at a time; one connection serializes this
	// process's statements instead of failing them with SQLITE_BUSY.
	sdb.SetMaxOpenConns(1)
	return &DB{db: sdb, backend: BackendSQLite}, nil
}

// sqliteFileMode is the mode of the SQLite database file and of its -wal
// and -shm files: they hold the audit, plans and Slack message references,
// readable by the service's own user only. SQLite gives the -wal and -shm
// files the mode of the database file when it creates them.
const sqliteFileMode = 0o600

// restrictSQLiteFiles creates the database file at path with
// sqliteFileMode before SQLite opens it (SQLite would create it 0644, less
// the umask), and takes the group and other permissions off an existing
// database file and its -wal and -shm files. An empty path (an in-memory
// database) is left alone.
func restrictSQLiteFiles(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, sqliteFileMode)
	if err != nil {
		return fmt.Errorf("open sqlite database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open sqlite database: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open sqlite database: %w", err)
		}
		if fi.Mode().Perm()&^sqliteFileMode != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&sqliteFileMode); err != nil {
				return fmt.Errorf("open sqlite database: restrict permissions: %w", err)
			}
		}
	}
	return nil
}

// sqliteFile returns the file a SQLite DSN (a path or a file: URI, with
// query parameters) names, or "" for an in-memory database.
func sqliteFile(dsn string) string {
	p, query, _ := strings.Cut(dsn, "?")
	if rest, ok := strings.CutPrefix(p, "file:"); ok {
		if q, err := url.ParseQuery(query); err == nil && q.Get("mode") == "memory" {
			return ""
		}
		if hostPath, ok := strings.CutPrefix(rest, "//"); ok { // file:///abs or file://localhost/abs
			i := strings.IndexByte(hostPath, '/')
			if i < 0 {
				return ""
			}
			rest = hostPath[i:]
		}
		if u, err := url.PathUnescape(rest); err == nil {
			rest = u
		}
		p = rest
	}
	if p == ":memory:" {
		return ""
	}
	return p
}

// useWAL switches a SQLite database to write-ahead logging, so that readers
// do not block the writer. The mode is stored in the file; switching needs
// a lock that SQLite does not wait for (it answers SQLITE_BUSY at once when
// another process is opening the same file), so it is retried here.
func (db *DB) useWAL(ctx context.Context) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for {
		var mode string
		err := db.db.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode)
		if err == nil {
			return nil
		}
		var sqErr *sqlite.Error
		if !errors.As(err, &sqErr) || sqErr.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return fmt.Errorf("set sqlite journal mode: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("set sqlite journal mode: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func openPostgres(ctx context.Context, dsn string, o options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error can echo the URL, password included.
		return nil, errors.New("open postgres database: malformed URL")
	}
	if o.schema != "" {
		if !schemaName.MatchString(o.schema) {
			return nil, fmt.Errorf("open postgres database: invalid schema name %q", o.schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = quoteIdent(o.schema)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	return &DB{db: stdlib.OpenDBFromPool(pool), pool: pool, backend: BackendPostgres, schema: o.schema}, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Close closes the database.
func (db *DB) Close() error {
	err := db.db.Close()
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

// Backend returns BackendSQLite or BackendPostgres.
func (db *DB) Backend() string { return db.backend }

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", db.backend, err)
	}
	return nil
}

// SQL returns the underlying database handle, so that other parts (a job
// queue) can share the database. On SQLite it has a single connection.
func (db *DB) SQL() *sql.DB { return db.db }

// Pool returns the underlying pgx pool on Postgres, and nil on SQLite.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// withTx runs fn in a transaction and commits it if fn returns nil.
func (db *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isUniqueViolation reports whether err is a unique-constraint violation on
// either backend.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// nanos returns t as Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// nullNanos returns t as Unix nanoseconds, NULL for the zero time.
func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNanos is the inverse of nanos and nullNanos: a UTC time, or the zero
// time for 0 and NULL.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid || n.Int64 == 0 {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Settings of the elector's connection (see Elector).
const (
	// The tcp_keepalives_idle, tcp_keepalives_interval (seconds) and
	// tcp_keepalives_count (probes) of the elector's session: Postgres
	// drops a silent peer after about 10 + 3×5 = 25 s.
	electorKeepaliveIdle     = 10
	electorKeepaliveInterval = 5
	electorKeepaliveCount    = 3
	// electorUserTimeout is tcp_user_timeout of the elector's session, in
	// milliseconds: how long sent data may stay unacknowledged.
	electorUserTimeout = 25000
	// electorCheckTimeout bounds one IsLeader (connecting included), so
	// that a hung network delays a tick by at most this much.
	electorCheckTimeout = 10 * time.Second
	// electorCloseTimeout bounds the release in Close.
	electorCloseTimeout = 5 * time.Second
)

// ErrNotLeader is returned by Elector.IsLeader when another replica holds
// the leadership.
var ErrNotLeader = errors.New("elector: another replica is the leader")

// ErrElectorClosed is returned by Elector.IsLeader after Close.
var ErrElectorClosed = errors.New("elector: closed")

// Elector elects one leader among the replicas that share a Postgres
// database, with a session-level advisory lock: the leader runs the
// scheduled ticks. It implements gocron's Elector interface (IsLeader), for
// gocron.WithDistributedElector, and is safe for concurrent use. On SQLite
// (one process), and as a nil *Elector, it is always the leader.
//
// Each replica's Elector keeps one dedicated Postgres connection (outside
// the pool, with the pool's settings) and tries pg_try_advisory_lock(key)
// on it. The session that holds the lock is the leader; session-level
// advisory locks live as long as the session, so the leader stays the
// leader from tick to tick without writing anything, and when its session
// ends — the process stops or crashes, the connection breaks, an operator
// runs pg_terminate_backend — Postgres releases the lock and the next
// IsLeader of another replica takes it.
//
// Takeover time. When the leader's process stops or crashes, its operating
// system closes the socket and Postgres releases the lock at once. When the
// leader's node or network dies silently, Postgres notices through the TCP
// keepalives this connection asks for (electorKeepaliveIdle, …Interval,
// …Count: probes after 10 s idle, every 5 s, 3 unanswered probes) or,
// while it has unacknowledged data to send, tcp_user_timeout
// (electorUserTimeout); both bound the detection
// at about 25 s. A replica takes over at the first scheduled tick after the
// lock is released, so the takeover time is at most the detection time plus
// the interval to the next tick; a tick that falls inside the detection
// window of a silent failure is run by no replica. These settings apply to
// TCP connections (not Unix sockets) and need PostgreSQL 12 or later; a
// server-wide idle_session_timeout shorter than the schedule's interval
// makes the leader lose the lock between ticks (harmless, another election
// follows), and a pooler in transaction mode (PgBouncer) breaks session
// locks: DATABASE_URL must reach Postgres directly or in session mode.
//
// The leader checks its session on every IsLeader with one empty query
// (electorCheckTimeout), so a leader that has lost its connection says so
// instead of running a tick that another replica may run too.
type Elector struct {
	name string
	key  int64
	// connConfig is nil for an always-leader elector (SQLite).
	connConfig *pgx.ConnConfig
	log        *slog.Logger

	mu     sync.Mutex
	conn   *pgx.Conn // nil until connected and after a failure
	held   bool      // conn holds the lock
	closed bool

	leading atomic.Bool
}

// ElectorOption configures NewElector.
type ElectorOption func(*Elector)

// ElectorLogger makes the elector log when this replica becomes the
// leader or stops being it; by default it logs nothing.
func ElectorLogger(l *slog.Logger) ElectorOption {
	return func(e *Elector) { e.log = l }
}

// NewElector returns the elector of the leadership called name (replicas
// that use the same name and database elect one leader among them). On
// Postgres it connects lazily, at the first IsLeader; the lock key is
// derived from the name and the schema given with WithSchema, so that
// deployments sharing a database in different schemas elect separately. On
// SQLite, which one process uses, it returns an elector that is always the
// leader.
func (db *DB) NewElector(name string, opts ...ElectorOption) (*Elector, error) {
	if name == "" {
		return nil, errors.New("elector: empty name")
	}
	e := &Elector{name: name, key: lockKey(db.schema, name), log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(e)
	}
	if db.pool == nil {
		e.leading.Store(true)
		return e, nil
	}
	cc := db.pool.Config().ConnConfig.Copy()
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = "zdsync elector " + name
	cc.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(electorKeepaliveIdle)
	cc.RuntimeParams["tcp_keepalives_interval"] = strconv.Itoa(electorKeepaliveInterval)
	cc.RuntimeParams["tcp_keepalives_count"] = strconv.Itoa(electorKeepaliveCount)
	cc.RuntimeParams["tcp_user_timeout"] = strconv.Itoa(electorUserTimeout)
	e.connConfig = cc
	return e, nil
}

// lockKey is the advisory lock key of a leadership: a 64-bit FNV-1a hash of
// the schema and the name.
func lockKey(schema, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("zdsync elector\x00" + schema + "\x00" + name))
	return int64(h.Sum64())
}

// IsLeader returns nil when this replica is the leader, and ErrNotLeader
// (or the database error that prevented the check) otherwise. gocron calls
// it before every job run and skips the run on an error. A replica that is
// not the leader tries to become it on every call; the leader checks with
// one round trip that its session, and so its lock, is still alive.
func (e *Elector) IsLeader(ctx context.Context) error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrElectorClosed
	}
	if e.connConfig == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, electorCheckTimeout)
	defer cancel()
	err := e.check(ctx)
	e.setLeading(err == nil, err)
	return err
}

// check is IsLeader with e.mu held.
func (e *Elector) check(ctx context.Context) error {
	if e.conn != nil && e.held {
		if err := e.conn.Ping(ctx); err != nil {
			e.drop()
			return fmt.Errorf("elector %s: lost the database session: %w", e.name, err)
		}
		return nil
	}
	if e.conn == nil || e.conn.IsClosed() {
		e.drop()
		c, err := pgx.ConnectConfig(ctx, e.connConfig)
		if err != nil {
			return fmt.Errorf("elector %s: connect: %w", e.name, err)
		}
		e.conn = c
	}
	var ok bool
	if err := e.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&ok); err != nil {
		e.drop()
		return fmt.Errorf("elector %s: try lock: %w", e.name, err)
	}
	if !ok {
		return ErrNotLeader
	}
	e.held = true
	return nil
}

// drop closes the connection after a failure; Postgres releases the lock
// with the session.
func (e *Elector) drop() {
	if e.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), electorCloseTimeout)
		e.conn.Close(ctx)
		cancel()
	}
	e.conn, e.held = nil, false
}

// setLeading records the outcome of a check and logs a change.
func (e *Elector) setLeading(leading bool, err error) {
	was := e.leading.Swap(leading)
	switch {
	case leading && !was:
		e.log.Info("became the scheduler leader", "elector", e.name)
	case !leading && was:
		e.log.Warn("no longer the scheduler leader", "elector", e.name, "err", err)
	case err != nil && !errors.Is(err, ErrNotLeader):
		e.log.Warn("leader election failed", "elector", e.name, "err", err)
	}
}

// Leading reports the outcome of the last IsLeader without asking the
// database, for metrics and status: true while this replica is the leader.
func (e *Elector) Leading() bool {
	if e == nil {
		return true
	}
	return e.leading.Load()
}

// Close gives up the leadership, if held, and closes the connection; the
// next IsLeader of another replica can take it. IsLeader returns
// ErrElectorClosed afterwards. Closing twice is harmless.
func (e *Elector) Close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.leading.Store(false)
	if e.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), electorCloseTimeout)
	defer cancel()
	var err error
	if e.held {
		// Closing the session releases the lock too; unlocking first
		// makes the release independent of how the close goes.
		if _, uerr := e.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, e.key); uerr != nil {
			err = fmt.Errorf("elector %s: unlock: %w", e.name, uerr)
		}
	}
	if cerr := e.conn.Close(ctx); cerr != nil && err == nil {
		err = fmt.Errorf("elector %s: close: %w", e.name, cerr)
	}
	e.conn, e.held = nil, false
	return err
}

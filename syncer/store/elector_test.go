package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// replicas opens n databases on one fresh Postgres schema, as n replicas
// would, and returns an elector called "scheduler" on each. The test is
// skipped without ZDSYNC_TEST_POSTGRES_URL.
func replicas(t *testing.T, n int) (admin *pgx.Conn, electors []*Elector) {
	t.Helper()
	u := os.Getenv("ZDSYNC_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("ZDSYNC_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "zdsync_test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	for range n {
		db, err := Open(ctx, u, WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		e, err := db.NewElector("scheduler")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		electors = append(electors, e)
	}
	return admin, electors
}

// leaders asks every open elector once and returns the indexes of those
// that are the leader.
func leaders(t *testing.T, es []*Elector) []int {
	t.Helper()
	var out []int
	for i, e := range es {
		err := e.IsLeader(t.Context())
		switch {
		case err == nil:
			out = append(out, i)
		case errors.Is(err, ErrElectorClosed), errors.Is(err, ErrNotLeader):
		default:
			t.Logf("elector %d: %v", i, err)
		}
	}
	return out
}

// soleLeader asks the electors until exactly one is the leader (a
// terminated session releases its lock a moment after the signal) and
// returns it.
func soleLeader(t *testing.T, es []*Elector) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := leaders(t, es)
		if len(l) == 1 {
			return l[0]
		}
		if len(l) > 1 || time.Now().After(deadline) {
			t.Fatalf("leaders = %v, want exactly one", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestElector(t *testing.T) {
	t.Run("of three electors exactly one is the leader, and stays it", func(t *testing.T) {
		_, es := replicas(t, 3)
		first := soleLeader(t, es)
		for range 3 {
			if l := leaders(t, es); len(l) != 1 || l[0] != first {
				t.Fatalf("leaders = %v, want [%d] again", l, first)
			}
		}
		if !es[first].Leading() || es[(first+1)%3].Leading() {
			t.Errorf("Leading() does not follow the last IsLeader")
		}
	})

	t.Run("closing the leader's elector lets another lead on the next call", func(t *testing.T) {
		_, es := replicas(t, 3)
		first := soleLeader(t, es)
		if err := es[first].Close(); err != nil {
			t.Fatal(err)
		}
		if err := es[first].IsLeader(t.Context()); !errors.Is(err, ErrElectorClosed) {
			t.Errorf("IsLeader after Close = %v, want ErrElectorClosed", err)
		}
		if l := leaders(t, es); len(l) != 1 || l[0] == first {
			t.Fatalf("leaders after Close = %v, want one other than %d", l, first)
		}
		if err := es[first].Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	})

	t.Run("killing the leader's session lets another take over", func(t *testing.T) {
		admin, es := replicas(t, 3)
		first := soleLeader(t, es)
		pid := es[first].conn.PgConn().PID()
		var ok bool
		if err := admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
		others := []*Elector{es[(first+1)%3], es[(first+2)%3]}
		soleLeader(t, others)
		if err := es[first].IsLeader(t.Context()); err == nil {
			t.Errorf("the killed leader still says it leads")
		}
		if es[first].Leading() {
			t.Errorf("Leading() of the killed leader = true")
		}
		if l := leaders(t, es); len(l) != 1 || l[0] == first {
			t.Errorf("leaders = %v, want one other than %d", l, first)
		}
	})

	t.Run("electors of different names or schemas do not compete", func(t *testing.T) {
		_, es := replicas(t, 1)
		_, other := replicas(t, 1)
		if err := es[0].IsLeader(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := other[0].IsLeader(t.Context()); err != nil {
			t.Errorf("elector of another schema: %v", err)
		}
		if lockKey("a", "scheduler") == lockKey("a", "other") || lockKey("a", "scheduler") == lockKey("b", "scheduler") {
			t.Errorf("lock keys collide")
		}
	})

	t.Run("the leader's session has keepalives that bound takeover", func(t *testing.T) {
		_, es := replicas(t, 1)
		if err := es[0].IsLeader(t.Context()); err != nil {
			t.Fatal(err)
		}
		var app, idle, timeout string
		if err := es[0].conn.QueryRow(t.Context(), `SELECT current_setting('application_name'),
			current_setting('tcp_keepalives_idle'), current_setting('tcp_user_timeout')`).Scan(&app, &idle, &timeout); err != nil {
			t.Fatal(err)
		}
		// Over a Unix socket the server reports 0; over TCP, the setting.
		if app != "zdsync elector scheduler" || (idle != "10" && idle != "0") || (timeout != "25000" && timeout != "0") {
			t.Errorf("application_name %q, tcp_keepalives_idle %q, tcp_user_timeout %q", app, idle, timeout)
		}
	})
}

func TestElectorOnSQLiteAlwaysLeads(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "zdsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := db.NewElector("scheduler")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.IsLeader(t.Context()); err != nil || !e.Leading() {
		t.Errorf("IsLeader = %v, Leading = %v; want nil, true", err, e.Leading())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.IsLeader(t.Context()); !errors.Is(err, ErrElectorClosed) {
		t.Errorf("IsLeader after Close = %v, want ErrElectorClosed", err)
	}
	var nilElector *Elector
	if nilElector.IsLeader(t.Context()) != nil || !nilElector.Leading() || nilElector.Close() != nil {
		t.Errorf("a nil elector is not an always-leader")
	}
	if _, err := db.NewElector(""); err == nil {
		t.Errorf("NewElector with an empty name succeeded")
	}
}

package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store"
)

// pushLogDBs runs fn against a fresh SQLite database, and a fresh Postgres
// schema when ZDSYNC_TEST_POSTGRES_URL is set.
func pushLogDBs(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "zdsync.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	u := os.Getenv("ZDSYNC_TEST_POSTGRES_URL")
	if u == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		b := make([]byte, 6)
		rand.Read(b)
		schema := "zdsync_test_pushes_" + hex.EncodeToString(b)
		db, err := store.Open(t.Context(), u, store.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			db.Close()
			if admin, err := sql.Open("pgx", u); err == nil {
				admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
				admin.Close()
			}
		})
		fn(t, db)
	})
}

func TestPushLogKeepsEveryAttemptAndListsLatestState(t *testing.T) {
	pushLogDBs(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		recs := []syncer.PushRecord{
			{TicketID: 1, Event: syncer.EventCreated, Code: syncer.CodeUnableToLockRow, Attempts: 1, Status: syncer.PushRetrying, Message: "locked"},
			{TicketID: 1, Event: syncer.EventCreated, Code: syncer.CodeUnableToLockRow, Attempts: 2, Status: syncer.PushFailed, Message: "locked"},
			{TicketID: 2, Event: syncer.EventCreated, CaseID: "500A", Attempts: 1, Status: syncer.PushDone},
			{TicketID: 2, Event: syncer.EventClosed, Code: syncer.CodeNoCaseID, Attempts: 1, Status: syncer.PushSkipped},
			{TicketID: 3, Event: syncer.EventCreated, Code: syncer.CodeOpenTimeout, Attempts: 4, Status: syncer.PushFailed},
			{TicketID: 3, Event: syncer.EventCreated, CaseID: "500B", Attempts: 1, Status: syncer.PushDone},
		}
		for i, r := range recs {
			r.At = at.Add(time.Duration(i) * time.Second)
			if err := db.RecordPush(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		failed, err := db.Pushes(ctx, syncer.PushFailed, syncer.PushRetrying)
		if err != nil {
			t.Fatal(err)
		}
		want := recs[1]
		want.At = at.Add(time.Second)
		if len(failed) != 1 || failed[0] != want {
			t.Fatalf("failed pushes = %+v, want %+v", failed, want)
		}
		all, err := db.Pushes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 4 { // (1,created) (2,created) (2,closed) (3,created)
			t.Fatalf("latest of each push = %+v", all)
		}
		hist, err := db.PushHistory(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[0].Status != syncer.PushFailed || hist[0].Attempts != 4 || hist[1].CaseID != "500B" {
			t.Fatalf("history = %+v", hist)
		}
	})
}

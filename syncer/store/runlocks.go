package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// AcquireRunLock takes the lease named l.Name for l.Holder until l.Expires,
// when nobody holds it or its holder's lease has expired by now. It
// returns true when taken; otherwise false and the lease that is held
// (who holds it, since when). One statement decides, so of several
// callers on several replicas exactly one wins, on SQLite and Postgres
// alike.
func (db *DB) AcquireRunLock(ctx context.Context, l syncer.RunLock, now time.Time) (bool, syncer.RunLock, error) {
	res, err := db.db.ExecContext(ctx, `
		INSERT INTO run_locks (name, holder, started_by, since, expires_at, incremental) VALUES ($1, $2, $3, $4, $5, $7)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, started_by = excluded.started_by,
			since = excluded.since, expires_at = excluded.expires_at, incremental = excluded.incremental
		WHERE run_locks.expires_at <= $6`,
		l.Name, l.Holder, l.By, nanos(l.Since), nanos(l.Expires), nanos(now), l.Incremental)
	if err != nil {
		return false, syncer.RunLock{}, fmt.Errorf("take run lock %s: %w", l.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, syncer.RunLock{}, fmt.Errorf("take run lock %s: %w", l.Name, err)
	} else if n == 1 {
		return true, l, nil
	}
	var (
		held           syncer.RunLock
		since, expires sql.NullInt64
	)
	err = db.db.QueryRowContext(ctx, `SELECT name, holder, started_by, since, expires_at, incremental FROM run_locks WHERE name = $1`, l.Name).
		Scan(&held.Name, &held.Holder, &held.By, &since, &expires, &held.Incremental)
	if errors.Is(err, sql.ErrNoRows) {
		// Released between the two statements: try once more.
		return db.AcquireRunLock(ctx, l, now)
	}
	if err != nil {
		return false, syncer.RunLock{}, fmt.Errorf("read run lock %s: %w", l.Name, err)
	}
	held.Since, held.Expires = fromNanos(since), fromNanos(expires)
	return false, held, nil
}

// RenewRunLock extends the lease l.Name of l.Holder to l.Expires. It fails
// with an error wrapping syncer.ErrNotFound when the holder no longer
// holds it (it expired and another run took it).
func (db *DB) RenewRunLock(ctx context.Context, l syncer.RunLock) error {
	res, err := db.db.ExecContext(ctx, `UPDATE run_locks SET expires_at = $3 WHERE name = $1 AND holder = $2`,
		l.Name, l.Holder, nanos(l.Expires))
	if err != nil {
		return fmt.Errorf("renew run lock %s: %w", l.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("renew run lock %s: %w", l.Name, err)
	} else if n == 0 {
		return fmt.Errorf("renew run lock %s: lost to another run: %w", l.Name, syncer.ErrNotFound)
	}
	return nil
}

// ReleaseRunLock gives the lease l.Name up, if l.Holder still holds it.
func (db *DB) ReleaseRunLock(ctx context.Context, l syncer.RunLock) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM run_locks WHERE name = $1 AND holder = $2`, l.Name, l.Holder); err != nil {
		return fmt.Errorf("release run lock %s: %w", l.Name, err)
	}
	return nil
}

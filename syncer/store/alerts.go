package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

const alertColumns = `id, job, code, channel, ts, count, first_at, last_at, resolved_at, run_ids`

// OpenAlert returns the open alert of job and code, and false when there is
// none.
func (db *DB) OpenAlert(ctx context.Context, job syncer.Job, code syncer.Code) (*syncer.Alert, bool, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE job = $1 AND code = $2 AND resolved_at IS NULL`, string(job), int64(code))
	if err != nil {
		return nil, false, fmt.Errorf("open alert of %s code %d: %w", job, code, err)
	}
	as, err := scanAlerts(rows)
	if err != nil {
		return nil, false, fmt.Errorf("open alert of %s code %d: %w", job, code, err)
	}
	if len(as) == 0 {
		return nil, false, nil
	}
	return &as[0], true, nil
}

// SaveAlert inserts a new alert (ID 0), setting its ID, or updates an
// existing one. It fails with an error wrapping syncer.ErrAlertOpen when the
// alert would be a second open one for its job and code, and with
// syncer.ErrNotFound when there is no alert with its ID.
func (db *DB) SaveAlert(ctx context.Context, a *syncer.Alert) error {
	runIDs := a.RunIDs
	if runIDs == nil {
		runIDs = []string{}
	}
	ids, err := json.Marshal(runIDs)
	if err != nil {
		return fmt.Errorf("save alert of %s code %d: %w", a.Job, a.Code, err)
	}
	args := []any{string(a.Job), int64(a.Code), a.Channel, a.TS, int64(a.Count),
		nanos(a.FirstAt), nanos(a.LastAt), nullNanos(a.ResolvedAt), string(ids)}
	if a.ID == 0 {
		err = db.db.QueryRowContext(ctx, `
			INSERT INTO alerts (job, code, channel, ts, count, first_at, last_at, resolved_at, run_ids)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, args...).Scan(&a.ID)
	} else {
		var res sql.Result
		res, err = db.db.ExecContext(ctx, `
			UPDATE alerts SET job = $1, code = $2, channel = $3, ts = $4, count = $5,
				first_at = $6, last_at = $7, resolved_at = $8, run_ids = $9
			WHERE id = $10`, append(args, a.ID)...)
		if err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n == 0 {
				err = syncer.ErrNotFound
			}
		}
	}
	if isUniqueViolation(err) {
		err = syncer.ErrAlertOpen
	}
	if err != nil {
		return fmt.Errorf("save alert of %s code %d: %w", a.Job, a.Code, err)
	}
	return nil
}

// RepeatAlert counts one more failure of the open alert id, atomically
// across replicas (two replicas failing alike at once both count): its
// count goes up by one, its last_at becomes at if later, and runID joins
// its run IDs, of which the first and the newest keep-1 are kept (keep 0:
// all). It returns the alert as it now stands, or an error wrapping
// syncer.ErrNotFound when it is no longer open (resolved meanwhile).
func (db *DB) RepeatAlert(ctx context.Context, id int64, runID string, at time.Time, keep int) (*syncer.Alert, error) {
	lock := ""
	if db.backend == BackendPostgres {
		lock = " FOR UPDATE" // SQLite's transactions take the write lock at once
	}
	var a *syncer.Alert
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1 AND resolved_at IS NULL`+lock, id)
		if err != nil {
			return err
		}
		as, err := scanAlerts(rows)
		if err != nil {
			return err
		}
		if len(as) == 0 {
			return syncer.ErrNotFound
		}
		a = &as[0]
		a.Count++
		if at.After(a.LastAt) {
			a.LastAt = at
		}
		a.RunIDs = append(a.RunIDs, runID)
		if keep > 0 && len(a.RunIDs) > keep {
			a.RunIDs = append(a.RunIDs[:1], a.RunIDs[len(a.RunIDs)-keep+1:]...)
		}
		ids, err := json.Marshal(a.RunIDs)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE alerts SET count = $1, last_at = $2, run_ids = $3 WHERE id = $4`,
			int64(a.Count), nanos(a.LastAt), string(ids), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count a repeat of alert %d: %w", id, err)
	}
	return a, nil
}

// OpenAlerts returns every open alert, oldest first.
func (db *DB) OpenAlerts(ctx context.Context) ([]syncer.Alert, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE resolved_at IS NULL ORDER BY first_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list open alerts: %w", err)
	}
	as, err := scanAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("list open alerts: %w", err)
	}
	return as, nil
}

// ResolveAlerts resolves every open alert of job, as of at, and returns the
// alerts it resolved (so that their Slack messages can be updated). Each
// alert is resolved once: callers racing on several replicas get disjoint
// results.
func (db *DB) ResolveAlerts(ctx context.Context, job syncer.Job, at time.Time) ([]syncer.Alert, error) {
	if at.IsZero() {
		return nil, fmt.Errorf("resolve alerts of %s: no resolution time", job)
	}
	rows, err := db.db.QueryContext(ctx, `UPDATE alerts SET resolved_at = $2
		WHERE job = $1 AND resolved_at IS NULL RETURNING `+alertColumns, string(job), nanos(at))
	if err != nil {
		return nil, fmt.Errorf("resolve alerts of %s: %w", job, err)
	}
	as, err := scanAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("resolve alerts of %s: %w", job, err)
	}
	return as, nil
}

// ResolveAlert resolves the open alert id as of at, and reports whether
// this call resolved it (false when it was resolved already, or by
// another replica at the same moment).
func (db *DB) ResolveAlert(ctx context.Context, id int64, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, fmt.Errorf("resolve alert %d: no resolution time", id)
	}
	res, err := db.db.ExecContext(ctx, `UPDATE alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL`, id, nanos(at))
	if err != nil {
		return false, fmt.Errorf("resolve alert %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("resolve alert %d: %w", id, err)
	}
	return n == 1, nil
}

// scanAlerts reads and closes rows of alertColumns.
func scanAlerts(rows *sql.Rows) ([]syncer.Alert, error) {
	defer rows.Close()
	var out []syncer.Alert
	for rows.Next() {
		var (
			a                     syncer.Alert
			job, ids              string
			code, count           int64
			first, last, resolved sql.NullInt64
		)
		if err := rows.Scan(&a.ID, &job, &code, &a.Channel, &a.TS, &count, &first, &last, &resolved, &ids); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(ids), &a.RunIDs); err != nil {
			return nil, fmt.Errorf("alert %d: decode run IDs: %w", a.ID, err)
		}
		if len(a.RunIDs) == 0 {
			a.RunIDs = nil
		}
		a.Job, a.Code, a.Count = syncer.Job(job), syncer.Code(code), int(count)
		a.FirstAt, a.LastAt, a.ResolvedAt = fromNanos(first), fromNanos(last), fromNanos(resolved)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// The quiet-runs status message of a Slack channel is one message for the
// whole cluster: its ts and the counts it shows live here, and the
// replicas take turns through one-statement claims, so that one of them
// posts it and at most one edits it per interval (README, "What gets
// posted where").

// CountQuietRun adds one quiet run of q.Job (its time q.Last, run q.RunID
// and q.Silent silent codes) to the counts of channel's status message, as
// changed at now. One statement adds it, so concurrent replicas lose no
// run.
func (db *DB) CountQuietRun(ctx context.Context, channel string, q syncer.QuietRun, now time.Time) error {
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO quiet_runs (channel, job, count, silent, last_at, run_id, updated_at)
		VALUES ($1, $2, 1, $3, $4, $5, $6)
		ON CONFLICT (channel, job) DO UPDATE SET count = quiet_runs.count + 1,
			silent = quiet_runs.silent + excluded.silent,
			run_id = CASE WHEN excluded.last_at >= quiet_runs.last_at THEN excluded.run_id ELSE quiet_runs.run_id END,
			last_at = CASE WHEN excluded.last_at >= quiet_runs.last_at THEN excluded.last_at ELSE quiet_runs.last_at END,
			updated_at = excluded.updated_at`,
		channel, string(q.Job), int64(q.Silent), nanos(q.Last), q.RunID, nanos(now))
	if err != nil {
		return fmt.Errorf("count quiet run of %s: %w", q.Job, err)
	}
	return nil
}

// EndQuietRuns ends the quiet runs in a row of job in channel's status
// message (its last run changed something or failed), as changed at now.
func (db *DB) EndQuietRuns(ctx context.Context, channel string, job syncer.Job, now time.Time) error {
	_, err := db.db.ExecContext(ctx, `
		UPDATE quiet_runs SET count = 0, silent = 0, updated_at = $3
		WHERE channel = $1 AND job = $2 AND count > 0`, channel, string(job), nanos(now))
	if err != nil {
		return fmt.Errorf("end quiet runs of %s: %w", job, err)
	}
	return nil
}

// QuietRuns returns the jobs of channel's status message that have quiet
// runs in a row, in no particular order.
func (db *DB) QuietRuns(ctx context.Context, channel string) ([]syncer.QuietRun, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT job, count, silent, last_at, run_id FROM quiet_runs WHERE channel = $1 AND count > 0`, channel)
	if err != nil {
		return nil, fmt.Errorf("read quiet runs: %w", err)
	}
	defer rows.Close()
	var out []syncer.QuietRun
	for rows.Next() {
		var (
			q             syncer.QuietRun
			job           string
			count, silent int64
			last          sql.NullInt64
		)
		if err := rows.Scan(&job, &count, &silent, &last, &q.RunID); err != nil {
			return nil, fmt.Errorf("read quiet runs: %w", err)
		}
		q.Job, q.Count, q.Silent, q.Last = syncer.Job(job), int(count), int(silent), fromNanos(last)
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quiet runs: %w", err)
	}
	return out, nil
}

// ClaimStatusPost claims the post of channel's status message for ttl from
// now: true for exactly one caller while the message has no ts and no
// other claim is live. The winner posts and calls SetStatusMessage, or
// ReleaseStatusPost when the post failed.
func (db *DB) ClaimStatusPost(ctx context.Context, channel string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := db.db.ExecContext(ctx, `
		INSERT INTO status_messages (channel, posting_until) VALUES ($1, $2)
		ON CONFLICT (channel) DO UPDATE SET posting_until = excluded.posting_until
		WHERE status_messages.ts = '' AND status_messages.posting_until <= $3`,
		channel, nanos(now.Add(ttl)), nanos(now))
	if err != nil {
		return false, fmt.Errorf("claim status message post: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim status message post: %w", err)
	}
	return n == 1, nil
}

// ReleaseStatusPost gives up a claim of ClaimStatusPost whose post failed.
func (db *DB) ReleaseStatusPost(ctx context.Context, channel string) error {
	if _, err := db.db.ExecContext(ctx, `UPDATE status_messages SET posting_until = 0 WHERE channel = $1 AND ts = ''`, channel); err != nil {
		return fmt.Errorf("release status message post: %w", err)
	}
	return nil
}

// SetStatusMessage records the posted status message ts of channel,
// showing the counts as of shown (and edited then).
func (db *DB) SetStatusMessage(ctx context.Context, channel, ts string, shown time.Time) error {
	_, err := db.db.ExecContext(ctx, `
		UPDATE status_messages SET ts = $2, posting_until = 0, edited_at = $3, shown_at = $3 WHERE channel = $1`,
		channel, ts, nanos(shown))
	if err != nil {
		return fmt.Errorf("save status message: %w", err)
	}
	return nil
}

// ClaimStatusEdit claims the next edit of channel's status message at now
// and returns its ts: it succeeds for exactly one caller when the message
// exists, its counts changed since the time of the ones it shows (at that
// very time too: a count and the read of the counts may share a clock
// tick), and its last edit
// was at or before notBefore (so that it is edited at most once an
// interval, cluster-wide). ok is false when there is nothing to edit yet.
func (db *DB) ClaimStatusEdit(ctx context.Context, channel string, now, notBefore time.Time) (ts string, ok bool, err error) {
	err = db.db.QueryRowContext(ctx, `
		UPDATE status_messages SET edited_at = $2
		WHERE channel = $1 AND ts <> '' AND edited_at <= $3 AND EXISTS (
			SELECT 1 FROM quiet_runs q WHERE q.channel = status_messages.channel AND q.updated_at >= status_messages.shown_at)
		RETURNING ts`, channel, nanos(now), nanos(notBefore)).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("claim status message edit: %w", err)
	}
	return ts, true, nil
}

// StatusShown records that channel's status message ts shows the counts
// as of shown.
func (db *DB) StatusShown(ctx context.Context, channel, ts string, shown time.Time) error {
	_, err := db.db.ExecContext(ctx, `
		UPDATE status_messages SET shown_at = $3 WHERE channel = $1 AND ts = $2 AND shown_at < $3`, channel, ts, nanos(shown))
	if err != nil {
		return fmt.Errorf("save status message edit: %w", err)
	}
	return nil
}

// ForgetStatusMessage forgets channel's status message ts (someone deleted
// it), so that the next quiet run posts a new one.
func (db *DB) ForgetStatusMessage(ctx context.Context, channel, ts string) error {
	_, err := db.db.ExecContext(ctx, `
		UPDATE status_messages SET ts = '', posting_until = 0, edited_at = 0, shown_at = 0 WHERE channel = $1 AND ts = $2`, channel, ts)
	if err != nil {
		return fmt.Errorf("forget status message: %w", err)
	}
	return nil
}

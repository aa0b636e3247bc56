package store

import (
	"context"
	"fmt"
	"time"
)

// ClaimEnvelope records that the Slack envelope id was received at now,
// to be remembered until now+ttl, and reports whether this is its first
// delivery: of several replicas receiving the same envelope (Slack
// redelivers one whose ack it did not count), exactly one gets true while
// the row lives. One statement decides, on SQLite and Postgres alike.
func (db *DB) ClaimEnvelope(ctx context.Context, id string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := db.db.ExecContext(ctx, `
		INSERT INTO envelopes (id, received_at, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET received_at = excluded.received_at, expires_at = excluded.expires_at
		WHERE envelopes.expires_at <= $2`,
		id, nanos(now), nanos(now.Add(ttl)))
	if err != nil {
		return false, fmt.Errorf("claim envelope %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim envelope %s: %w", id, err)
	}
	return n == 1, nil
}

// DeleteExpiredEnvelopes deletes the envelopes remembered until now or
// earlier and returns how many.
func (db *DB) DeleteExpiredEnvelopes(ctx context.Context, now time.Time) (int, error) {
	res, err := db.db.ExecContext(ctx, `DELETE FROM envelopes WHERE expires_at <= $1`, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired envelopes: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired envelopes: %w", err)
	}
	return int(n), nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// Verify that DB keeps the watermarks of incremental runs.
var _ syncer.Watermarks = (*DB)(nil)

// watermarkState is the JSON of a watermark beside its time.
type watermarkState struct {
	Seen  map[string]time.Time `json:"seen,omitempty"`
	Retry []string             `json:"retry,omitempty"`
	Tally syncer.Tally         `json:"tally"`
}

// Watermark returns the watermark of job's incremental runs, and false when
// it has none.
func (db *DB) Watermark(ctx context.Context, job syncer.Job) (syncer.Watermark, bool, error) {
	var (
		at    sql.NullInt64
		state string
	)
	err := db.db.QueryRowContext(ctx, `SELECT at, state FROM watermarks WHERE job = $1`, string(job)).Scan(&at, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return syncer.Watermark{Job: job}, false, nil
	}
	if err != nil {
		return syncer.Watermark{}, false, fmt.Errorf("read watermark of %s: %w", job, err)
	}
	var st watermarkState
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return syncer.Watermark{}, false, fmt.Errorf("read watermark of %s: decode: %w", job, err)
	}
	return syncer.Watermark{Job: job, At: fromNanos(at), Seen: st.Seen, Retry: st.Retry, Tally: st.Tally}, true, nil
}

// SaveWatermark stores the watermark of w.Job, unless the stored one is
// later: one statement decides, so a watermark never moves back, whichever
// replica or process saves last.
func (db *DB) SaveWatermark(ctx context.Context, w syncer.Watermark) error {
	state, err := json.Marshal(watermarkState{Seen: w.Seen, Retry: w.Retry, Tally: w.Tally})
	if err != nil {
		return fmt.Errorf("save watermark of %s: %w", w.Job, err)
	}
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO watermarks (job, at, state, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (job) DO UPDATE SET at = excluded.at, state = excluded.state, updated_at = excluded.updated_at
		WHERE watermarks.at <= excluded.at`,
		string(w.Job), nanos(w.At), string(state), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("save watermark of %s: %w", w.Job, err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/zdsync/zdsync/syncer"
)

// SaveRun records a run's summary, replacing an earlier version of the same
// run (a run is saved when it starts and again when it ends). The summary
// is kept whole as JSON; its job, mode, times, outcome and counts are also
// columns, for queries.
func (db *DB) SaveRun(ctx context.Context, s *syncer.Summary) error {
	if s == nil || s.RunID == "" {
		return errors.New("save run: summary has no run ID")
	}
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save run %s: encode summary: %w", s.RunID, err)
	}
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO runs (run_id, job, dry_run, account, started_at, finished_at, ok, code,
			fetched, created, updated, deleted, unchanged, skipped, failed, api_calls, plan_id, summary,
			started_by, undo_of)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (run_id) DO UPDATE SET
			job = excluded.job, dry_run = excluded.dry_run, account = excluded.account,
			started_at = excluded.started_at, finished_at = excluded.finished_at,
			ok = excluded.ok, code = excluded.code,
			fetched = excluded.fetched, created = excluded.created, updated = excluded.updated,
			deleted = excluded.deleted, unchanged = excluded.unchanged, skipped = excluded.skipped,
			failed = excluded.failed, api_calls = excluded.api_calls, plan_id = excluded.plan_id,
			summary = excluded.summary, started_by = excluded.started_by, undo_of = excluded.undo_of`,
		s.RunID, string(s.Job), s.DryRun, s.Account, nanos(s.StartedAt), nanos(s.FinishedAt), s.OK(), int64(s.Code),
		int64(s.Fetched), int64(s.Created), int64(s.Updated), int64(s.Deleted), int64(s.Unchanged),
		int64(s.Skipped), int64(s.Failed), int64(s.APICalls), s.PlanID, string(body), s.By, s.UndoOf)
	if err != nil {
		return fmt.Errorf("save run %s: %w", s.RunID, err)
	}
	return nil
}

// LastSuccessfulRun returns the newest run of job that was not a dry run,
// covered every account (not a single-account run) and did its work
// (Summary.OK). The guards compare a new run against it.
func (db *DB) LastSuccessfulRun(ctx context.Context, job syncer.Job) (*syncer.Summary, bool, error) {
	var body string
	err := db.db.QueryRowContext(ctx, `
		SELECT summary FROM runs
		WHERE job = $1 AND NOT dry_run AND account = '' AND ok
		ORDER BY started_at DESC, finished_at DESC, run_id DESC
		LIMIT 1`, string(job)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("last successful run of %s: %w", job, err)
	}
	s, err := decodeSummary(body)
	if err != nil {
		return nil, false, fmt.Errorf("last successful run of %s: %w", job, err)
	}
	return s, true, nil
}

// ListRuns returns the newest runs of job, newest first, at most limit of
// them (all when limit is 0 or less). An empty job lists the runs of every
// job.
func (db *DB) ListRuns(ctx context.Context, job syncer.Job, limit int) ([]syncer.Summary, error) {
	q := `SELECT summary FROM runs WHERE ($1 = '' OR job = $1) ORDER BY started_at DESC, finished_at DESC, run_id DESC`
	args := []any{string(job)}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, int64(limit))
	}
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs of %q: %w", job, err)
	}
	defer rows.Close()
	var out []syncer.Summary
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list runs of %q: %w", job, err)
		}
		s, err := decodeSummary(body)
		if err != nil {
			return nil, fmt.Errorf("list runs of %q: %w", job, err)
		}
		out = append(out, *s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs of %q: %w", job, err)
	}
	return out, nil
}

// GetRun returns the summary of one run, or syncer.ErrNotFound.
func (db *DB) GetRun(ctx context.Context, runID string) (*syncer.Summary, error) {
	var body string
	err := db.db.QueryRowContext(ctx, `SELECT summary FROM runs WHERE run_id = $1`, runID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get run %s: %w", runID, syncer.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	s, err := decodeSummary(body)
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	return s, nil
}

func decodeSummary(body string) (*syncer.Summary, error) {
	var s syncer.Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		return nil, fmt.Errorf("decode summary: %w", err)
	}
	return &s, nil
}

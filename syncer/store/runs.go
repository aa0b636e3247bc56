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
			started_by, undo_of, incremental)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		ON CONFLICT (run_id) DO UPDATE SET
			job = excluded.job, dry_run = excluded.dry_run, account = excluded.account,
			started_at = excluded.started_at, finished_at = excluded.finished_at,
			ok = excluded.ok, code = excluded.code,
			fetched = excluded.fetched, created = excluded.created, updated = excluded.updated,
			deleted = excluded.deleted, unchanged = excluded.unchanged, skipped = excluded.skipped,
			failed = excluded.failed, api_calls = excluded.api_calls, plan_id = excluded.plan_id,
			summary = excluded.summary, started_by = excluded.started_by, undo_of = excluded.undo_of, incremental = excluded.incremental`,
		s.RunID, string(s.Job), s.DryRun, s.Account, nanos(s.StartedAt), nanos(s.FinishedAt), s.OK(), int64(s.Code),
		int64(s.Fetched), int64(s.Created), int64(s.Updated), int64(s.Deleted), int64(s.Unchanged),
		int64(s.Skipped), int64(s.Failed), int64(s.APICalls), s.PlanID, string(body), s.By, s.UndoOf, s.Incremental != nil)
	if err != nil {
		return fmt.Errorf("save run %s: %w", s.RunID, err)
	}
	return nil
}

// LastSuccessfulRun returns the newest run of job that was not a dry run,
// covered every account (not a single-account run, not an incremental
// one) and did its work (Summary.OK). The guards compare a new run against
// it.
func (db *DB) LastSuccessfulRun(ctx context.Context, job syncer.Job) (*syncer.Summary, bool, error) {
	return db.oneRun(ctx, "last successful run of "+string(job), `
		SELECT summary FROM runs
		WHERE job = $1 AND NOT dry_run AND account = '' AND ok AND NOT incremental
		ORDER BY started_at DESC, finished_at DESC, run_id DESC
		LIMIT 1`, string(job))
}

// LatestRun returns the newest stored run of job, incremental or not
// (quiet incremental runs are not stored), and false when there is none.
func (db *DB) LatestRun(ctx context.Context, job syncer.Job, incremental bool) (*syncer.Summary, bool, error) {
	return db.oneRun(ctx, "latest run of "+string(job), `
		SELECT summary FROM runs WHERE job = $1 AND incremental = $2
		ORDER BY started_at DESC, finished_at DESC, run_id DESC
		LIMIT 1`, string(job), incremental)
}

// oneRun returns the summary of the run a query selects, and false when
// it selects none.
func (db *DB) oneRun(ctx context.Context, what, q string, args ...any) (*syncer.Summary, bool, error) {
	var body string
	err := db.db.QueryRowContext(ctx, q, args...).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	s, err := decodeSummary(body)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	return s, true, nil
}

// IncrementalRuns returns the incremental runs (dry runs aside) that
// finished at or after from and before to and created, updated, deleted
// or failed something, oldest first: what the hourly digest reports.
func (db *DB) IncrementalRuns(ctx context.Context, from, to time.Time) ([]syncer.Summary, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT summary FROM runs
		WHERE incremental AND NOT dry_run AND finished_at >= $1 AND finished_at < $2
			AND created + updated + deleted + failed > 0
		ORDER BY finished_at, run_id`, nanos(from), nanos(to))
	if err != nil {
		return nil, fmt.Errorf("incremental runs: %w", err)
	}
	return scanSummaries(rows, "incremental runs")
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
	return scanSummaries(rows, fmt.Sprintf("list runs of %q", job))
}

// scanSummaries reads and closes rows of one summary column.
func scanSummaries(rows *sql.Rows, what string) ([]syncer.Summary, error) {
	defer rows.Close()
	var out []syncer.Summary
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		s, err := decodeSummary(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, *s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
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

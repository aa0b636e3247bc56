package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/zdsync/zdsync/syncer"
)

// historyColumns are the columns of a change with its run, for
// HistoryEntry (the run is missing while it is still going).
const historyColumns = `c.run_id, c.at, c.action, c.kind, c.record_key, c.name, c.zendesk_id, c.code, c.message,
	c.reason, c.parent, c.diffs, c.before_image, c.payload,
	COALESCE(r.job, ''), COALESCE(r.started_by, ''), COALESCE(r.undo_of, '')`

// RecordHistory returns the audited changes of one record — an org or a
// user by its key (the account ID, the e-mail), and the users made for an
// account's org — newest limit of them (all when limit is 0 or less) in
// time order, and how many older ones the limit left out.
func (db *DB) RecordHistory(ctx context.Context, key string, limit int) ([]syncer.HistoryEntry, int, error) {
	return db.history(ctx, `c.record_key = $1 OR c.parent = $1`, key, limit)
}

// ZendeskHistory is RecordHistory for the record with a Zendesk ID (an
// org or a user): every change of the keys that ID ever had.
func (db *DB) ZendeskHistory(ctx context.Context, id int64, limit int) ([]syncer.HistoryEntry, int, error) {
	return db.history(ctx, `c.record_key IN (SELECT record_key FROM changes WHERE zendesk_id = $1)`, id, limit)
}

// history returns the newest limit changes where (of one argument, arg)
// holds, in time order, and how many older ones the limit left out.
func (db *DB) history(ctx context.Context, where string, arg any, limit int) ([]syncer.HistoryEntry, int, error) {
	out, total, err := db.changes(ctx, where, arg, "c.at DESC, c.id DESC", limit)
	if err != nil {
		return nil, 0, fmt.Errorf("read history of %v: %w", arg, err)
	}
	slices.Reverse(out)
	return out, total - len(out), nil
}

// RunHistory returns the audited changes of a run in the order they were
// made, the first limit of them (all when limit is 0 or less), and how
// many the limit left out.
func (db *DB) RunHistory(ctx context.Context, runID string, limit int) ([]syncer.HistoryEntry, int, error) {
	out, total, err := db.changes(ctx, "c.run_id = $1", runID, "c.id", limit)
	if err != nil {
		return nil, 0, fmt.Errorf("read changes of run %s: %w", runID, err)
	}
	return out, total - len(out), nil
}

// changes returns the first limit (all when limit is 0 or less) of the
// changes where (of one argument, arg) holds, in order, with their runs,
// and how many changes it holds for in all.
func (db *DB) changes(ctx context.Context, where string, arg any, order string, limit int) ([]syncer.HistoryEntry, int, error) {
	var total int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM changes c WHERE `+where, arg).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT ` + historyColumns + ` FROM changes c LEFT JOIN runs r ON r.run_id = c.run_id
		WHERE ` + where + ` ORDER BY ` + order
	args := []any{arg}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, int64(limit))
	}
	out, err := db.queryHistory(ctx, q, args...)
	return out, total, err
}

func (db *DB) queryHistory(ctx context.Context, q string, args ...any) ([]syncer.HistoryEntry, error) {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []syncer.HistoryEntry
	for rows.Next() {
		var (
			e                      syncer.HistoryEntry
			at                     sql.NullInt64
			action, job            string
			code                   int64
			diffs, before, payload sql.NullString
		)
		c := &e.AppliedChange
		if err := rows.Scan(&e.RunID, &at, &action, &c.Kind, &c.Key, &c.Name, &c.ID, &code, &c.Message, &c.Reason, &c.Parent,
			&diffs, &before, &payload, &job, &e.By, &e.UndoOf); err != nil {
			return nil, err
		}
		c.At, c.Action, c.Code, e.Job = fromNanos(at), syncer.Action(action), syncer.Code(code), syncer.Job(job)
		if err := decodeChangeJSON(c, diffs, before, payload); err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.Kind, c.Key, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UndoRuns returns the runs that undid runID, oldest first: undos that
// were not dry runs and wrote something (a refused undo wrote nothing).
func (db *DB) UndoRuns(ctx context.Context, runID string) ([]syncer.Summary, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT summary FROM runs
		WHERE undo_of = $1 AND NOT dry_run AND created + updated + deleted > 0 ORDER BY started_at, run_id`, runID)
	if err != nil {
		return nil, fmt.Errorf("read the undos of run %s: %w", runID, err)
	}
	return scanSummaries(rows, "read the undos of run "+runID)
}

// CommandsAbout returns the audited commands whose arguments start with
// arg (an account, ticket or run ID: /zdsync account, case retry, explain,
// history, undo, and the buttons), newest limit of them in time order.
func (db *DB) CommandsAbout(ctx context.Context, arg string, limit int) ([]syncer.CommandRecord, error) {
	q := `SELECT id, at, user_id, command, args, outcome, detail FROM commands
		WHERE args = CAST($1 AS TEXT) OR substr(args, 1, length(CAST($1 AS TEXT)) + 1) = CAST($1 AS TEXT) || ' '
		ORDER BY at DESC, id DESC`
	args := []any{arg}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, int64(limit))
	}
	out, err := db.queryCommands(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read the commands about %s: %w", arg, err)
	}
	slices.Reverse(out)
	return out, nil
}

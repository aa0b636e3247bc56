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

// ErrPlanApplied is wrapped by the error of MarkPlanApplied and DiscardPlan
// when the plan was already applied.
var ErrPlanApplied = errors.New("plan already applied")

// ErrPlanDiscarded is wrapped by the error of MarkPlanApplied and
// DiscardPlan when the plan was already discarded.
var ErrPlanDiscarded = errors.New("plan discarded")

// SavePlan stores a new plan. Saving a plan whose ID is already stored is
// an error.
func (db *DB) SavePlan(ctx context.Context, p *syncer.StoredPlan) error {
	if p == nil || p.ID == "" {
		return errors.New("save plan: plan has no ID")
	}
	changes, err := json.Marshal(p.Changes)
	if err != nil {
		return fmt.Errorf("save plan %s: encode changes: %w", p.ID, err)
	}
	var appliedRun sql.NullString
	if p.AppliedRun != "" {
		appliedRun = sql.NullString{String: p.AppliedRun, Valid: true}
	}
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO plans (id, job, account, created_at, expires_at, created_by, fingerprint, changes,
			applied_at, applied_run, applied_by, discarded, undo_of, undo_record)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, string(p.Job), p.Account, nanos(p.CreatedAt), nanos(p.ExpiresAt), p.CreatedBy, p.Fingerprint,
		string(changes), nullNanos(p.AppliedAt), appliedRun, p.AppliedBy, p.Discarded, p.UndoOf, p.UndoRecord)
	if err != nil {
		return fmt.Errorf("save plan %s: %w", p.ID, err)
	}
	return nil
}

// GetPlan returns a stored plan, or an error wrapping syncer.ErrNotFound.
func (db *DB) GetPlan(ctx context.Context, id string) (*syncer.StoredPlan, error) {
	p, err := db.getPlan(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get plan %s: %w", id, err)
	}
	return p, nil
}

func (db *DB) getPlan(ctx context.Context, id string) (*syncer.StoredPlan, error) {
	var (
		p                         syncer.StoredPlan
		job, changes              string
		created, expires, applied sql.NullInt64
		appliedRun                sql.NullString
	)
	err := db.db.QueryRowContext(ctx, `
		SELECT id, job, account, created_at, expires_at, created_by, fingerprint, changes,
			applied_at, applied_run, applied_by, discarded, undo_of, undo_record
		FROM plans WHERE id = $1`, id).Scan(
		&p.ID, &job, &p.Account, &created, &expires, &p.CreatedBy, &p.Fingerprint, &changes,
		&applied, &appliedRun, &p.AppliedBy, &p.Discarded, &p.UndoOf, &p.UndoRecord)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, syncer.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(changes), &p.Changes); err != nil {
		return nil, fmt.Errorf("decode changes: %w", err)
	}
	p.Job = syncer.Job(job)
	p.CreatedAt, p.ExpiresAt, p.AppliedAt = fromNanos(created), fromNanos(expires), fromNanos(applied)
	p.AppliedRun = appliedRun.String
	return &p, nil
}

// MarkPlanApplied records that run runID, asked for by by, applied the
// plan. It is atomic: of
// several callers (on several replicas) exactly one succeeds, and the others
// get an error wrapping ErrPlanApplied. Applying a discarded plan fails with
// ErrPlanDiscarded, an unknown one with syncer.ErrNotFound. The errors of a
// plan that cannot be applied carry syncer.CodePlanStale. Expiry is the
// caller's to check.
func (db *DB) MarkPlanApplied(ctx context.Context, id, runID, by string, at time.Time) error {
	res, err := db.db.ExecContext(ctx, `
		UPDATE plans SET applied_at = $2, applied_run = $3, applied_by = $4
		WHERE id = $1 AND applied_at IS NULL AND NOT discarded`,
		id, nanos(at), runID, by)
	if err != nil {
		return fmt.Errorf("mark plan %s applied: %w", id, err)
	}
	return db.planUpdated(ctx, res, "apply plan", id)
}

// DiscardPlan records that user by discarded the plan, so that it can no
// longer be applied. Discarding a plan that was applied or discarded
// already fails with ErrPlanApplied or ErrPlanDiscarded, an unknown one with
// syncer.ErrNotFound.
func (db *DB) DiscardPlan(ctx context.Context, id, by string, at time.Time) error {
	res, err := db.db.ExecContext(ctx, `
		UPDATE plans SET discarded = $2, discarded_at = $3, discarded_by = $4
		WHERE id = $1 AND applied_at IS NULL AND NOT discarded`,
		id, true, nanos(at), by)
	if err != nil {
		return fmt.Errorf("discard plan %s: %w", id, err)
	}
	return db.planUpdated(ctx, res, "discard plan", id)
}

// planUpdated checks that a conditional update of a plan changed it, and
// otherwise explains why not.
func (db *DB) planUpdated(ctx context.Context, res sql.Result, op, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	if n == 1 {
		return nil
	}
	p, err := db.getPlan(ctx, id)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	switch {
	case !p.AppliedAt.IsZero():
		return &syncer.Error{Code: syncer.CodePlanStale, Op: op, Record: id, Err: ErrPlanApplied,
			Message: fmt.Sprintf("the plan was already applied%s at %s (run %s)", syncer.ByWhom(p.AppliedBy),
				p.AppliedAt.UTC().Format("2006-01-02 15:04:05 UTC"), p.AppliedRun)}
	case p.Discarded:
		return &syncer.Error{Code: syncer.CodePlanStale, Op: op, Record: id, Err: ErrPlanDiscarded,
			Message: "the plan was discarded"}
	default:
		return fmt.Errorf("%s %s: the plan changed while it was updated", op, id)
	}
}

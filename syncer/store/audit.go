package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/zdsync/zdsync/syncer"
)

// payload is the write a change carried, stored as {"org": …} or
// {"user": …} so that it reads back into the right field.
type payload struct {
	Org    *syncer.OrgWrite   `json:"org,omitempty"`
	User   *syncer.UserWrite  `json:"user,omitempty"`
	Member *syncer.Membership `json:"member,omitempty"`
}

// RecordChanges appends applied changes of a run, with their outcomes and
// before-images, to the audit, all in one transaction.
func (db *DB) RecordChanges(ctx context.Context, runID string, changes []syncer.AppliedChange) error {
	if len(changes) == 0 {
		return nil
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO changes (run_id, at, action, kind, record_key, name, zendesk_id, code, message,
				reason, parent, diffs, before_image, payload)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range changes {
			diffs, err := jsonOrNull(c.Diffs, len(c.Diffs) == 0)
			if err != nil {
				return fmt.Errorf("%s %s: encode diffs: %w", c.Kind, c.Key, err)
			}
			var before sql.NullString
			if len(c.Before) > 0 {
				before = sql.NullString{String: string(c.Before), Valid: true}
			}
			p, err := jsonOrNull(payload{Org: c.Org, User: c.User, Member: c.Member}, c.Org == nil && c.User == nil && c.Member == nil)
			if err != nil {
				return fmt.Errorf("%s %s: encode payload: %w", c.Kind, c.Key, err)
			}
			_, err = stmt.ExecContext(ctx, runID, nanos(c.At), string(c.Action), c.Kind, c.Key, c.Name, c.ID,
				int64(c.Code), c.Message, c.Reason, c.Parent, diffs, before, p)
			if err != nil {
				return fmt.Errorf("%s %s: %w", c.Kind, c.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record changes of run %s: %w", runID, err)
	}
	return nil
}

// Changes returns the audited changes of a run in the order they were
// recorded; none for an unknown run.
func (db *DB) Changes(ctx context.Context, runID string) ([]syncer.AppliedChange, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT at, action, kind, record_key, name, zendesk_id, code, message, reason, parent,
			diffs, before_image, payload
		FROM changes WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("read changes of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []syncer.AppliedChange
	for rows.Next() {
		var (
			c                      syncer.AppliedChange
			at                     sql.NullInt64
			action                 string
			code                   int64
			diffs, before, payload sql.NullString
		)
		if err := rows.Scan(&at, &action, &c.Kind, &c.Key, &c.Name, &c.ID, &code, &c.Message, &c.Reason, &c.Parent,
			&diffs, &before, &payload); err != nil {
			return nil, fmt.Errorf("read changes of run %s: %w", runID, err)
		}
		c.At, c.Action, c.Code = fromNanos(at), syncer.Action(action), syncer.Code(code)
		if err := decodeChangeJSON(&c, diffs, before, payload); err != nil {
			return nil, fmt.Errorf("read changes of run %s: %s %s: %w", runID, c.Kind, c.Key, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes of run %s: %w", runID, err)
	}
	return out, nil
}

func decodeChangeJSON(c *syncer.AppliedChange, diffs, before, pl sql.NullString) error {
	if diffs.Valid {
		if err := json.Unmarshal([]byte(diffs.String), &c.Diffs); err != nil {
			return fmt.Errorf("decode diffs: %w", err)
		}
	}
	if before.Valid {
		c.Before = json.RawMessage(before.String)
	}
	if pl.Valid {
		var p payload
		if err := json.Unmarshal([]byte(pl.String), &p); err != nil {
			return fmt.Errorf("decode payload: %w", err)
		}
		c.Org, c.User, c.Member = p.Org, p.User, p.Member
	}
	return nil
}

// jsonOrNull encodes v as JSON text, or returns NULL when empty is true.
func jsonOrNull(v any, empty bool) (sql.NullString, error) {
	if empty {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

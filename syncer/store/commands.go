package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/zdsync/zdsync/syncer"
)

// RecordCommand appends a command to the audit.
func (db *DB) RecordCommand(ctx context.Context, c syncer.CommandRecord) error {
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO commands (at, user_id, command, args, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		nanos(c.At), c.User, c.Command, c.Args, c.Outcome, c.Detail)
	if err != nil {
		return fmt.Errorf("record command %s by %s: %w", c.Command, c.User, err)
	}
	return nil
}

// ListCommands returns the newest audited commands, newest first, at most
// limit of them (all when limit is 0 or less).
func (db *DB) ListCommands(ctx context.Context, limit int) ([]syncer.CommandRecord, error) {
	q := `SELECT id, at, user_id, command, args, outcome, detail FROM commands ORDER BY at DESC, id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT $1`
		args = append(args, int64(limit))
	}
	out, err := db.queryCommands(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list commands: %w", err)
	}
	return out, nil
}

func (db *DB) queryCommands(ctx context.Context, q string, args ...any) ([]syncer.CommandRecord, error) {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []syncer.CommandRecord
	for rows.Next() {
		var (
			c  syncer.CommandRecord
			at sql.NullInt64
		)
		if err := rows.Scan(&c.ID, &at, &c.User, &c.Command, &c.Args, &c.Outcome, &c.Detail); err != nil {
			return nil, err
		}
		c.At = fromNanos(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

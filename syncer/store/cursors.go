package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GetCursor returns the value of a named cursor (such as the position in
// Zendesk's incremental ticket export), and false when it was never set.
func (db *DB) GetCursor(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := db.db.QueryRowContext(ctx, `SELECT value FROM cursors WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get cursor %s: %w", name, err)
	}
	return v, true, nil
}

// SetCursor sets a named cursor, replacing its value.
func (db *DB) SetCursor(ctx context.Context, name, value string) error {
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	return nil
}

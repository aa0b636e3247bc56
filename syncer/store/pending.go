package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/zdsync/zdsync/syncer"
)

// PendingDeletions returns the orgs of scope in their grace period before
// deletion, by account ID, with since when they are pending (DeleteAfter
// is left zero: it depends on DELETE_GRACE).
func (db *DB) PendingDeletions(ctx context.Context, scope syncer.Scope) ([]syncer.PendingDeletion, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT account_id, org_id, name, since FROM pending_deletions WHERE scope = $1 ORDER BY account_id`, string(scope))
	if err != nil {
		return nil, fmt.Errorf("read pending deletions: %w", err)
	}
	defer rows.Close()
	var out []syncer.PendingDeletion
	for rows.Next() {
		var (
			p     syncer.PendingDeletion
			since sql.NullInt64
		)
		if err := rows.Scan(&p.Account, &p.OrgID, &p.Name, &since); err != nil {
			return nil, fmt.Errorf("read pending deletions: %w", err)
		}
		p.Since = fromNanos(since)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending deletions: %w", err)
	}
	return out, nil
}

// SavePending records the orgs of scope in their grace period, in one
// transaction: the whole list of scope when accounts is nil, else the
// entries of those accounts (an account given without an entry is
// forgotten).
func (db *DB) SavePending(ctx context.Context, scope syncer.Scope, accounts []string, pending []syncer.PendingDeletion) error {
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		if accounts == nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_deletions WHERE scope = $1`, string(scope)); err != nil {
				return err
			}
		}
		for _, a := range accounts {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_deletions WHERE scope = $1 AND account_id = $2`, string(scope), a); err != nil {
				return err
			}
		}
		for _, p := range pending {
			_, err := tx.ExecContext(ctx, `
				INSERT INTO pending_deletions (scope, account_id, org_id, name, since) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (scope, account_id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name, since = excluded.since`,
				string(scope), p.Account, p.OrgID, p.Name, nanos(p.Since))
			if err != nil {
				return fmt.Errorf("account %s: %w", p.Account, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save pending deletions: %w", err)
	}
	return nil
}

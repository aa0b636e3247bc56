package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// Verify that DB implements the case push log.
var _ syncer.PushLog = (*DB)(nil)

// RecordPush appends one attempt or outcome of a case push to the push log.
func (db *DB) RecordPush(ctx context.Context, r syncer.PushRecord) error {
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO case_pushes (ticket_id, event, case_id, code, attempts, status, message, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.TicketID, string(r.Event), r.CaseID, int(r.Code), r.Attempts, string(r.Status), r.Message, at.UnixNano())
	if err != nil {
		return fmt.Errorf("record %s push of ticket %d: %w", r.Event, r.TicketID, err)
	}
	return nil
}

// Pushes returns the latest record of each (ticket, event) whose status is
// one of statuses (every status when none is given), oldest first: with
// syncer.PushFailed, the pushes kept to be retried.
func (db *DB) Pushes(ctx context.Context, statuses ...syncer.PushStatus) ([]syncer.PushRecord, error) {
	q := `
		SELECT p.ticket_id, p.event, p.case_id, p.code, p.attempts, p.status, p.message, p.at
		FROM case_pushes p
		WHERE p.id = (SELECT max(q.id) FROM case_pushes q WHERE q.ticket_id = p.ticket_id AND q.event = p.event)`
	args := make([]any, len(statuses))
	if len(statuses) > 0 {
		marks := make([]string, len(statuses))
		for i, s := range statuses {
			marks[i] = "$" + strconv.Itoa(i+1)
			args[i] = string(s)
		}
		q += ` AND p.status IN (` + strings.Join(marks, ", ") + `)`
	}
	q += ` ORDER BY p.id`
	recs, err := db.queryPushes(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list case pushes: %w", err)
	}
	return recs, nil
}

// PushHistory returns every record of the pushes of one ticket, oldest
// first.
func (db *DB) PushHistory(ctx context.Context, ticketID int64) ([]syncer.PushRecord, error) {
	recs, err := db.queryPushes(ctx, `
		SELECT ticket_id, event, case_id, code, attempts, status, message, at
		FROM case_pushes WHERE ticket_id = $1 ORDER BY id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("read push history of ticket %d: %w", ticketID, err)
	}
	return recs, nil
}

func (db *DB) queryPushes(ctx context.Context, q string, args ...any) ([]syncer.PushRecord, error) {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []syncer.PushRecord
	for rows.Next() {
		var (
			r             syncer.PushRecord
			event, status string
			code          int
			at            sql.NullInt64
		)
		if err := rows.Scan(&r.TicketID, &event, &r.CaseID, &code, &r.Attempts, &status, &r.Message, &at); err != nil {
			return nil, err
		}
		r.Event, r.Status, r.Code, r.At = syncer.Event(event), syncer.PushStatus(status), syncer.Code(code), fromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

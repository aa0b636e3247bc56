package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// CursorStore keeps named cursors across runs. Implemented by syncer/store.
type CursorStore interface {
	// GetCursor returns the value of a cursor, and false when it was never
	// set.
	GetCursor(ctx context.Context, name string) (string, bool, error)
	// SetCursor sets a cursor, replacing its value.
	SetCursor(ctx context.Context, name, value string) error
}

// SweepCursor is the name of the stored cursor of the parity sweep: its
// position in Zendesk's incremental ticket export.
const SweepCursor = "case-sweep/incremental-tickets"

// SweepMaxPages is how many pages of the incremental ticket export one
// sweep reads at most: Zendesk allows 10 incremental export requests a
// minute, and the next sweep goes on from the stored cursor.
const SweepMaxPages = 10

// DefaultSweepLookback is how far back the first sweep (no stored cursor)
// starts reading the export.
const DefaultSweepLookback = 24 * time.Hour

// Sweeper is the parity sweep (the case-sweep job): it finds the case
// pushes the webhook missed and enqueues them. It reads Zendesk's
// incremental ticket export from a stored cursor; a ticket with an
// organization that belongs to the sync and no case ID gets a created
// push, a closed ticket whose case is still open in Salesforce gets a
// closed push, and pushes whose latest outcome is failed (or that were
// interrupted) are enqueued again.
type Sweeper struct {
	Zendesk    Tickets
	Salesforce CaseStore
	Cursors    CursorStore
	Queue      Enqueuer
	// Log, when set, supplies the failed and interrupted pushes to
	// enqueue again.
	Log PushLog
	// Lookback is where the first sweep starts: 0 means
	// DefaultSweepLookback.
	Lookback time.Duration
	// MaxPages bounds the export pages read a run: 0 means SweepMaxPages.
	MaxPages int
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

func (w *Sweeper) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Run sweeps once and returns the summary of the case-sweep job: Fetched
// counts the tickets read, Created the created pushes enqueued, Updated the
// closed pushes enqueued, Unchanged the tickets that needed nothing and
// Skipped those without an organization of the sync. The cursor is stored
// after each page whose pushes were all enqueued, so a failed sweep goes on
// where it stopped.
func (w *Sweeper) Run(ctx context.Context) *Summary {
	s := NewSummary(JobCaseSweep, w.now())
	ctx, calls := WithCallCounter(ctx)
	ctx, notices := WithNotices(ctx)
	defer func() { s.APICalls, s.Notices = calls(), notices(); s.Finish(w.now()) }()
	log := slog.New(slog.DiscardHandler)
	if w.Logger != nil {
		log = w.Logger
	}
	log = log.With("job", JobCaseSweep, "run_id", s.RunID)
	fail := func(err error) *Summary {
		if ErrorCode(err) == CodeInternal {
			err = WithOp(err, "sweep", "cases")
		}
		s.Fail(err)
		s.Failed++
		log.Error("case sweep failed", "err", err)
		return s
	}

	if w.Log != nil {
		pending, err := w.Log.Pushes(ctx, PushFailed, PushRetrying)
		if err != nil {
			return fail(fmt.Errorf("list failed pushes: %w", err))
		}
		for _, r := range pending {
			if err := w.enqueue(ctx, s, r.TicketID, r.Event); err != nil {
				return fail(err)
			}
		}
	}

	cursor, ok, err := w.Cursors.GetCursor(ctx, SweepCursor)
	if err != nil {
		return fail(err)
	}
	if !ok {
		cursor = ""
	}
	lookback := w.Lookback
	if lookback <= 0 {
		lookback = DefaultSweepLookback
	}
	since := w.now().Add(-lookback)
	maxPages := w.MaxPages
	if maxPages <= 0 {
		maxPages = SweepMaxPages
	}
	accounts := map[int64]bool{} // org ID → belongs to the sync
	for page := 0; page < maxPages; page++ {
		tickets, next, end, err := w.Zendesk.TicketsSince(ctx, cursor, since)
		if err != nil {
			return fail(WithOp(err, "read incremental ticket export at cursor", strconv.Quote(cursor)))
		}
		s.Fetched += len(tickets)
		if err := w.sweepPage(ctx, s, tickets, accounts); err != nil {
			return fail(err)
		}
		if next != "" && next != cursor {
			if err := w.Cursors.SetCursor(ctx, SweepCursor, next); err != nil {
				return fail(err)
			}
			cursor = next
		}
		if end || next == "" {
			break
		}
	}
	s.Message = fmt.Sprintf("read %d tickets; enqueued %d created and %d closed pushes", s.Fetched, s.Created, s.Updated)
	log.Info("case sweep finished", "fetched", s.Fetched, "created", s.Created, "closed", s.Updated)
	return s
}

func (w *Sweeper) enqueue(ctx context.Context, s *Summary, ticketID int64, event Event) error {
	if err := w.Queue.Enqueue(ctx, ticketID, event); err != nil {
		return WithOp(err, "enqueue "+string(event)+" push of", "ticket "+strconv.FormatInt(ticketID, 10))
	}
	if event == EventClosed {
		s.Updated++
	} else {
		s.Created++
	}
	return nil
}

// sweepPage enqueues the pushes one page of the export is missing. A
// ticket whose data cannot be used (a case ID field holding something
// that is not a Salesforce ID, an organization that no longer exists) is
// skipped and reported as a warning, and the page goes on: the cursor
// then moves past it, so it is reported once, not on every sweep.
func (w *Sweeper) sweepPage(ctx context.Context, s *Summary, tickets []Ticket, accounts map[int64]bool) error {
	var closing []Ticket
	for _, t := range tickets {
		status := strings.ToLower(t.Status)
		record := "ticket " + strconv.FormatInt(t.ID, 10)
		caseID := strings.TrimSpace(t.CaseID)
		switch {
		case status == "deleted":
			s.Skipped++
		case caseID != "" && !IsSalesforceID(caseID):
			s.Skipped++
			s.Warnings = append(s.Warnings, RecordError{Code: CodeBadResponse, Name: "BadFieldValue", Record: record,
				Message: fmt.Sprintf("the case ID field holds %q, which is not a Salesforce ID: the ticket is skipped (correct or clear the field)", short(caseID))})
		case caseID != "":
			if status == "closed" {
				closing = append(closing, t)
			} else {
				s.Unchanged++
			}
		case t.OrgID == 0:
			s.Skipped++
		default:
			belongs, seen := accounts[t.OrgID]
			if !seen {
				org, err := w.Zendesk.GetOrg(ctx, t.OrgID)
				switch {
				case errors.Is(err, ErrNotFound):
					s.Warnings = append(s.Warnings, RecordError{Code: ErrorCode(err), Name: "OrgNotFound", Record: record,
						Message: fmt.Sprintf("organization %d of the ticket does not exist (any more): the ticket is skipped", t.OrgID)})
				case err != nil:
					return WithOp(err, "read organization "+strconv.FormatInt(t.OrgID, 10)+" of", record)
				default:
					belongs = OrgAccountID(org) != ""
				}
				accounts[t.OrgID] = belongs
			}
			if !belongs {
				s.Skipped++
				continue
			}
			// A case for a closed ticket is created closed.
			if err := w.enqueue(ctx, s, t.ID, EventCreated); err != nil {
				return err
			}
		}
	}
	if len(closing) == 0 {
		return nil
	}
	ids := make([]string, len(closing))
	for i, t := range closing {
		ids[i] = strings.TrimSpace(t.CaseID)
	}
	statuses, err := w.Salesforce.CaseStatuses(ctx, ids)
	if err != nil {
		return WithOp(err, "read case statuses of", fmt.Sprintf("%d closed tickets", len(ids)))
	}
	for i, t := range closing {
		st, ok := statuses[ids[i]]
		if !ok {
			// The case does not exist (any more): nothing to close.
			s.Skipped++
			continue
		}
		if strings.EqualFold(st, CaseStatusClosed) {
			s.Unchanged++
			continue
		}
		if err := w.enqueue(ctx, s, t.ID, EventClosed); err != nil {
			return err
		}
	}
	return nil
}

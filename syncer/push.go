package syncer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Pusher pushes Zendesk ticket events to Salesforce cases: the cases job.
// Salesforce and Zendesk are required; the other fields are optional, and
// every value means what it says (0 retries: none; no delay: no wait).
type Pusher struct {
	Salesforce CaseStore
	Zendesk    Tickets
	// Log records every attempt and outcome; nil records nothing.
	Log PushLog
	// Retries is how many times a push failing with a code retried soon
	// (3, 4, 5, 10: see Codes) is tried again (CASE_PUSH_RETRIES).
	Retries int
	// RetryDelay is the wait between attempts (CASE_PUSH_RETRY_DELAY).
	RetryDelay time.Duration
	// Sleep waits between attempts; nil waits on a timer, or until ctx is
	// done.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
	// TicketURL returns the agent URL of a ticket, used when the ticket
	// does not carry one; nil leaves it to the ticket.
	TicketURL func(id int64) string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

func (p *Pusher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pusher) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

func (p *Pusher) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// pushResult is the outcome of one attempt of a push.
type pushResult struct {
	status  PushStatus
	caseID  string
	account string
	action  Action // Create, Update, Skip, or "" when the case already existed
	err     error  // with its code; silent codes come with status PushSkipped
	reason  string // why there was nothing to push
}

// Push pushes one ticket event to Salesforce and returns the summary of the
// cases job. On EventCreated it creates the ticket's case (finding an
// existing one first, so a redelivered or retried event never makes a
// second case) and writes the case ID back to the ticket; on EventClosed it
// closes the case named by the ticket's case-ID field. Codes 1 and 2 are
// silent: listed in Errors and set as Code, and the summary is OK. A code
// retried soon (see Retry) is tried again Retries times, RetryDelay apart;
// if it persists, or on any other failing code, the summary fails with that
// code. A code retried later (rate limits) ends the push at once as
// PushRetrying, for the push queue to try again later. Every attempt and
// the outcome are recorded in Log.
func (p *Pusher) Push(ctx context.Context, ticketID int64, event Event) *Summary {
	s := NewSummary(JobCases, p.now())
	log := p.logger().With("job", JobCases, "run_id", s.RunID, "ticket_id", ticketID, "event", event)
	record := "ticket " + strconv.FormatInt(ticketID, 10)
	ctx, calls := WithCallCounter(ctx)
	ctx, notices := WithNotices(ctx)
	defer func() { s.APICalls, s.Notices = calls(), notices(); s.Finish(p.now()) }()

	if _, ok := ParseEvent(string(event)); !ok || ticketID <= 0 {
		err := Errorf(CodeInvalidInput, "invalid push: ticket %d, event %q (want a positive ticket ID and created or closed)", ticketID, event)
		s.AddError(record, err)
		s.Failed, s.Code, s.Message = 1, err.Code, err.Message
		return s
	}
	res, attempts := p.attempts(ctx, log, ticketID, event, s)
	s.CaseID, s.Account = res.caseID, res.account
	switch res.status {
	case PushDone:
		switch res.action {
		case Create:
			s.Created = 1
		case Update:
			s.Updated = 1
		default:
			s.Unchanged = 1
		}
	case PushSkipped:
		s.Skipped = 1
		if res.err != nil {
			s.AddError(record, res.err)
			s.Code, s.Message = ErrorCode(res.err), ErrorMessage(res.err)
		} else {
			s.Message = res.reason
		}
	default:
		s.Failed = 1
		s.AddError(record, res.err)
		kept := "kept for a retry"
		if res.status == PushRetrying {
			kept = "to be retried later"
		}
		s.Code, s.Message = ErrorCode(res.err), fmt.Sprintf("%s (after %d attempts; %s)", ErrorMessage(res.err), attempts, kept)
	}
	return s
}

// attempts makes the attempts of a push and returns the last one's result
// and how many were made, recording each in the push log.
func (p *Pusher) attempts(ctx context.Context, log *slog.Logger, ticketID int64, event Event, s *Summary) (pushResult, int) {
	rec := func(res pushResult, attempt int, status PushStatus) {
		p.record(ctx, log, PushRecord{TicketID: ticketID, Event: event, CaseID: res.caseID, Code: ErrorCode(res.err),
			Attempts: attempt, Status: status, Message: pushMessage(res), At: p.now()})
	}
	for attempt := 1; ; attempt++ {
		res := p.pushOnce(ctx, ticketID, event, s)
		code := ErrorCode(res.err)
		if res.status == PushFailed && code.RetryLater() {
			res.status = PushRetrying
		}
		if res.status != PushFailed || !code.Retryable() || attempt > p.Retries {
			rec(res, attempt, res.status)
			log.Info("case push finished", "status", res.status, "code", int(code), "attempts", attempt, "case_id", res.caseID)
			return res, attempt
		}
		rec(res, attempt, PushRetrying)
		log.Warn("case push attempt failed, retrying", "code", int(code), "attempt", attempt, "err", res.err)
		if err := p.sleep(ctx, p.RetryDelay); err != nil {
			// Interrupted: the push stays failed with the code it had,
			// to be retried later.
			res.err = &Error{Code: code, Err: res.err,
				Message: fmt.Sprintf("%s (interrupted before retry %d: %v)", ErrorMessage(res.err), attempt, err)}
			rec(res, attempt, PushFailed)
			return res, attempt
		}
	}
}

func pushMessage(r pushResult) string {
	if r.err != nil {
		return ErrorMessage(r.err)
	}
	return r.reason
}

func (p *Pusher) record(ctx context.Context, log *slog.Logger, r PushRecord) {
	if p.Log == nil {
		return
	}
	if err := p.Log.RecordPush(context.WithoutCancel(ctx), r); err != nil {
		log.Error("record case push", "err", err, "status", r.Status, "attempts", r.Attempts)
	}
}

// pushOnce makes one attempt of a push. Every step is idempotent, so a
// retried attempt starts again from the ticket.
func (p *Pusher) pushOnce(ctx context.Context, ticketID int64, event Event, s *Summary) pushResult {
	record := "ticket " + strconv.FormatInt(ticketID, 10)
	t, err := p.Zendesk.GetTicket(ctx, ticketID)
	if err != nil {
		return pushResult{status: PushFailed, err: WithOp(err, "read ticket", record)}
	}
	if event == EventClosed {
		return p.closeCase(ctx, t, record)
	}
	if strings.TrimSpace(t.CaseID) != "" {
		return pushResult{status: PushDone, caseID: strings.TrimSpace(t.CaseID)}
	}
	if t.OrgID == 0 {
		return pushResult{status: PushSkipped, reason: "the ticket has no organization: nothing to push"}
	}
	org, err := p.Zendesk.GetOrg(ctx, t.OrgID)
	if err != nil {
		return pushResult{status: PushFailed, err: WithOp(err, "read organization "+strconv.FormatInt(t.OrgID, 10)+" of", record)}
	}
	account := OrgAccountID(org)
	if account == "" {
		return pushResult{status: PushSkipped,
			reason: fmt.Sprintf("organization %d has no Salesforce account ID: nothing to push", org.ID)}
	}
	return p.createCase(ctx, t, account, record, s)
}

// closeCase closes the case named by a closed ticket's case-ID field.
func (p *Pusher) closeCase(ctx context.Context, t Ticket, record string) pushResult {
	caseID := strings.TrimSpace(t.CaseID)
	if caseID == "" {
		return pushResult{status: PushSkipped, err: Errorf(CodeNoCaseID,
			"close case of %s: the ticket's Salesforce case ID field is blank, there is no case to update", record)}
	}
	if !IsSalesforceID(caseID) {
		// Any agent can type "N/A" in the field: it names no case, and
		// asking Salesforce for it fails on every retry.
		return pushResult{status: PushSkipped, err: Errorf(CodeNoCaseID,
			"close case of %s: the ticket's Salesforce case ID field holds %q, which is not a Salesforce ID, so there is no case to update", record, short(caseID))}
	}
	if err := p.Salesforce.CloseCase(ctx, caseID); err != nil {
		return salesforceFailure(pushResult{caseID: caseID}, WithOp(err, "close case "+caseID+" of", record))
	}
	return pushResult{status: PushDone, caseID: caseID, action: Update}
}

// createCase finds or creates the case of a ticket of account, and writes
// its ID back to the ticket.
func (p *Pusher) createCase(ctx context.Context, t Ticket, account, record string, s *Summary) pushResult {
	res := pushResult{account: account}
	existing, found, err := p.Salesforce.FindCase(ctx, t.ID)
	if err != nil {
		return salesforceFailure(res, WithOp(err, "find case of", record))
	}
	if found {
		s.Fetched++
		res.caseID = existing.ID
	} else {
		url := t.URL
		if p.TicketURL != nil {
			url = p.TicketURL(t.ID)
		}
		id, err := p.Salesforce.CreateCase(ctx, CaseFromTicket(t, account, url))
		if err != nil {
			return salesforceFailure(res, WithOp(err, "create case for", record))
		}
		res.caseID, res.action = id, Create
	}
	if strings.EqualFold(t.Status, "closed") {
		// Zendesk refuses every change to a closed ticket but its tags,
		// subject and priority ("About system ticket rules"); the case
		// carries the ticket ID, which is how a later push finds it.
		res.status, res.reason = PushDone, "the ticket is closed, so Zendesk keeps its case ID field as it is; the case "+res.caseID+" carries the ticket ID"
		return res
	}
	if err := p.Zendesk.SetTicketCaseID(ctx, t.ID, res.caseID); err != nil {
		// The case exists; the next attempt finds it by ticket ID.
		res.status, res.err = PushFailed, WithOp(err, "write case ID "+res.caseID+" back to", record)
		return res
	}
	res.status = PushDone
	return res
}

// salesforceFailure turns a failed case write into the push's result: code
// 2 is silent (the account does not exist), every other code fails.
func salesforceFailure(res pushResult, err error) pushResult {
	res.err = err
	if ErrorCode(err) == CodeInsufficientAccess {
		res.status = PushSkipped
	} else {
		res.status = PushFailed
	}
	return res
}

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

// Event is a Zendesk ticket event that the case push reacts to. The names
// are part of the webhook and command-line contract.
type Event string

// The ticket events of the case push.
const (
	// EventCreated means a ticket with an organization was created: a
	// case is created for it.
	EventCreated Event = "created"
	// EventClosed means a ticket was closed: its case is closed.
	EventClosed Event = "closed"
)

// ParseEvent returns the Event named s ("created" or "closed"), or false.
func ParseEvent(s string) (Event, bool) {
	switch Event(s) {
	case EventCreated, EventClosed:
		return Event(s), true
	}
	return "", false
}

// Defaults of the case push, as documented for pipeline errors 3–5: a push
// that fails with one of them is retried 3 times, 5 seconds apart.
const (
	DefaultPushRetries    = 3
	DefaultPushRetryDelay = 5 * time.Second
)

// CaseOrigin is the Origin of every case the push creates.
const CaseOrigin = "Zendesk"

// CaseStatusClosed is the Salesforce case status of a closed case.
const CaseStatusClosed = "Closed"

// Salesforce field limits the case mapping truncates to (Salesforce Case
// object reference: Subject is a 255-character text field, Description a
// 32,000-character long text area).
const (
	caseSubjectMax     = 255
	caseDescriptionMax = 32000
)

// CaseField is one row of the mapping from a Zendesk ticket to a Salesforce
// case: the case field written, where its value comes from, and the
// function that sets it.
type CaseField struct {
	Salesforce string // API name of the Case field
	Zendesk    string // where the value comes from
	Rule       string // how it is derived, for the README
	set        func(c *Case, t Ticket, accountID, ticketURL string)
}

// CaseFields is the one mapping table from a Zendesk ticket to the
// Salesforce case the push creates for it. CaseFromTicket applies it; the
// README renders it.
var CaseFields = []CaseField{
	{"Subject", "ticket subject", "truncated to 255 characters",
		func(c *Case, t Ticket, _, _ string) { c.Subject = truncate(t.Subject, caseSubjectMax) }},
	{"Description", "ticket description (first comment)", "truncated to 32,000 characters",
		func(c *Case, t Ticket, _, _ string) { c.Description = truncate(t.Description, caseDescriptionMax) }},
	{"Priority", "ticket priority", "urgent, high → High; normal or none → Medium; low → Low",
		func(c *Case, t Ticket, _, _ string) { c.Priority = CasePriority(t.Priority) }},
	{"Status", "ticket status", "new → New; open, pending, hold → Working; solved, closed → Closed",
		func(c *Case, t Ticket, _, _ string) { c.Status = CaseStatus(t.Status) }},
	{"Origin", "(constant)", `always "` + CaseOrigin + `"`,
		func(c *Case, _ Ticket, _, _ string) { c.Origin = CaseOrigin }},
	{"AccountId", "organization external_id (or organization field salesforce_id)", "the 18-character Salesforce account ID",
		func(c *Case, _ Ticket, accountID, _ string) { c.AccountID = accountID }},
	{"SuppliedEmail", "requester e-mail", "as is",
		func(c *Case, t Ticket, _, _ string) { c.Email = t.RequesterEmail }},
	{"SuppliedName", "requester name", "as is",
		func(c *Case, t Ticket, _, _ string) { c.Name = t.RequesterName }},
	{"Zendesk_Ticket_URL__c", "agent URL of the ticket", "as is",
		func(c *Case, _ Ticket, _, ticketURL string) { c.TicketURL = ticketURL }},
	{"Zendesk_Ticket_ID__c", "ticket ID", "the key by which the push finds the case again (never two cases for one ticket)",
		func(c *Case, t Ticket, _, _ string) { c.TicketID = t.ID }},
}

// CaseFromTicket returns the case to create for ticket t of the Salesforce
// account accountID, by the CaseFields table.
func CaseFromTicket(t Ticket, accountID, ticketURL string) Case {
	var c Case
	for _, f := range CaseFields {
		f.set(&c, t, accountID, ticketURL)
	}
	return c
}

// CasePriority maps a Zendesk ticket priority to a Salesforce case
// priority.
func CasePriority(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "urgent", "high":
		return "High"
	case "low":
		return "Low"
	default:
		return "Medium"
	}
}

// CaseStatus maps a Zendesk ticket status to a Salesforce case status.
func CaseStatus(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "new", "":
		return "New"
	case "solved", "closed":
		return CaseStatusClosed
	default:
		return "Working"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// OrgAccountID returns the Salesforce account ID of a Zendesk org: its
// external_id, else its salesforce_id organization field, when that is an
// 18-character account ID; "" when the org does not belong to the sync.
func OrgAccountID(o Org) string {
	if IsAccountID(o.ExternalID) {
		return o.ExternalID
	}
	if s, ok := o.Fields.Get(FieldSalesforceID).(string); ok && IsAccountID(strings.TrimSpace(s)) {
		return strings.TrimSpace(s)
	}
	return ""
}

// PushStatus is the state of a case push as the push log records it.
type PushStatus string

// The states of a case push.
const (
	// PushRetrying means an attempt failed with a retried code (3, 4, 5)
	// and another attempt follows. A push whose last record is retrying
	// was interrupted (or is still running).
	PushRetrying PushStatus = "retrying"
	// PushDone means the case was created, found or closed.
	PushDone PushStatus = "done"
	// PushSkipped means there was nothing to push (the ticket has no org
	// with a Salesforce account ID), or the push ended with a silent code
	// (1, 2).
	PushSkipped PushStatus = "skipped"
	// PushFailed means the push failed (codes 3–5 after their retries, or
	// any other failing code) and is kept to be retried later.
	PushFailed PushStatus = "failed"
)

// PushRecord is one entry of the push log: one attempt of a push, or its
// outcome.
type PushRecord struct {
	TicketID int64      `json:"ticket_id"`
	Event    Event      `json:"event"`
	CaseID   string     `json:"case_id,omitempty"`
	Code     Code       `json:"code"`
	Attempts int        `json:"attempts"` // attempts made so far, this one included
	Status   PushStatus `json:"status"`
	Message  string     `json:"message,omitempty"`
	At       time.Time  `json:"at"`
}

// PushLog records every attempt and outcome of the case push, and lists
// pushes by their latest state. Implemented by syncer/store.
type PushLog interface {
	// RecordPush appends r to the log.
	RecordPush(ctx context.Context, r PushRecord) error
	// Pushes returns the latest record of each (ticket, event) whose
	// status is one of statuses (all statuses when none is given), oldest
	// first.
	Pushes(ctx context.Context, statuses ...PushStatus) ([]PushRecord, error)
}

// Enqueuer stores a case push durably, to be done later by the push queue.
// Enqueuing the same ticket event while it is queued or done is a no-op,
// so a redelivered webhook is one push.
type Enqueuer interface {
	Enqueue(ctx context.Context, ticketID int64, event Event) error
}

// Pusher pushes Zendesk ticket events to Salesforce cases: the cases job.
// Salesforce and Zendesk are required; the other fields are optional.
type Pusher struct {
	Salesforce CaseStore
	Zendesk    Tickets
	// Log records every attempt and outcome; nil records nothing.
	Log PushLog
	// Retries is how many times a push failing with code 3, 4 or 5 is
	// retried: 0 means DefaultPushRetries, a negative value none.
	Retries int
	// RetryDelay is the wait between attempts: 0 means
	// DefaultPushRetryDelay, a negative value no wait.
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

func (p *Pusher) retries() int {
	switch {
	case p.Retries == 0:
		return DefaultPushRetries
	case p.Retries < 0:
		return 0
	}
	return p.Retries
}

func (p *Pusher) retryDelay() time.Duration {
	switch {
	case p.RetryDelay == 0:
		return DefaultPushRetryDelay
	case p.RetryDelay < 0:
		return 0
	}
	return p.RetryDelay
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

// Sleep waits d, or until ctx ends (returning its error): the real wait
// behind every injectable Sleep of the package and its adapters.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pusher) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// pushRetried reports whether a push that failed with c is retried: the
// documented codes 3, 4 and 5.
func pushRetried(c Code) bool {
	return c == CodeUnableToLockRow || c == CodeConnectionFailed || c == CodeOpenTimeout
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
// silent: listed in Errors and set as Code, and the summary is OK. Codes 3,
// 4 and 5 are retried (Retries, RetryDelay); if they persist, or on any
// other failing code, the summary fails with that code. Every attempt and
// the outcome are recorded in Log.
func (p *Pusher) Push(ctx context.Context, ticketID int64, event Event) *Summary {
	s := &Summary{RunID: NewID(p.now()), Job: JobCases, StartedAt: p.now(), Errors: []RecordError{}}
	log := p.logger().With("job", JobCases, "run_id", s.RunID, "ticket_id", ticketID, "event", event)
	record := "ticket " + strconv.FormatInt(ticketID, 10)
	ctx, calls := WithCallCounter(ctx)
	defer func() {
		s.APICalls = calls()
		s.FinishedAt = p.now()
		s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
	}()

	if _, ok := ParseEvent(string(event)); !ok || ticketID <= 0 {
		err := Errorf(CodeInternal, "invalid push: ticket %d, event %q (want a positive ticket ID and created or closed)", ticketID, event)
		s.AddError(record, err)
		s.Failed, s.Code, s.Message = 1, CodeInternal, err.Message
		return s
	}

	maxAttempts := 1 + p.retries()
	var res pushResult
	attempts := 0
	for attempt := 1; ; attempt++ {
		attempts = attempt
		res = p.pushOnce(ctx, ticketID, event, s)
		code := ErrorCode(res.err)
		if res.status == "" {
			res.status = PushFailed
		}
		if res.status != PushFailed || !pushRetried(code) || attempt >= maxAttempts {
			p.record(ctx, log, PushRecord{TicketID: ticketID, Event: event, CaseID: res.caseID, Code: code,
				Attempts: attempt, Status: res.status, Message: pushMessage(res), At: p.now()})
			log.Info("case push finished", "status", res.status, "code", int(code), "attempts", attempt, "case_id", res.caseID)
			break
		}
		p.record(ctx, log, PushRecord{TicketID: ticketID, Event: event, CaseID: res.caseID, Code: code,
			Attempts: attempt, Status: PushRetrying, Message: ErrorMessage(res.err), At: p.now()})
		log.Warn("case push attempt failed, retrying", "code", int(code), "attempt", attempt, "err", res.err)
		if err := p.sleep(ctx, p.retryDelay()); err != nil {
			// Interrupted: the push stays failed with the code it had,
			// to be retried later.
			res.err = &Error{Code: code, Err: res.err,
				Message: fmt.Sprintf("%s (interrupted before retry %d: %v)", ErrorMessage(res.err), attempt, err)}
			p.record(ctx, log, PushRecord{TicketID: ticketID, Event: event, CaseID: res.caseID, Code: code,
				Attempts: attempt, Status: PushFailed, Message: ErrorMessage(res.err), At: p.now()})
			break
		}
	}

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
		s.Code, s.Message = ErrorCode(res.err), fmt.Sprintf("%s (after %d attempts; kept for a retry)", ErrorMessage(res.err), attempts)
	}
	return s
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
	fail := func(op string, err error) pushResult {
		return pushResult{status: PushFailed, err: withOp(err, op, record)}
	}
	t, err := p.Zendesk.GetTicket(ctx, ticketID)
	if err != nil {
		return fail("read ticket", err)
	}
	if event == EventClosed {
		if strings.TrimSpace(t.CaseID) == "" {
			return pushResult{status: PushSkipped, err: Errorf(CodeNoCaseID,
				"close case of %s: the ticket's Salesforce case ID field is blank, there is no case to update", record)}
		}
		caseID := strings.TrimSpace(t.CaseID)
		if err := p.Salesforce.CloseCase(ctx, caseID); err != nil {
			return p.salesforceFailure(pushResult{caseID: caseID}, withOp(err, "close case "+caseID+" of", record))
		}
		return pushResult{status: PushDone, caseID: caseID, action: Update}
	}

	if strings.TrimSpace(t.CaseID) != "" {
		return pushResult{status: PushDone, caseID: strings.TrimSpace(t.CaseID)}
	}
	if t.OrgID == 0 {
		return pushResult{status: PushSkipped, reason: "the ticket has no organization: nothing to push"}
	}
	org, err := p.Zendesk.GetOrg(ctx, t.OrgID)
	if err != nil {
		return fail("read organization "+strconv.FormatInt(t.OrgID, 10)+" of", err)
	}
	account := OrgAccountID(org)
	if account == "" {
		return pushResult{status: PushSkipped,
			reason: fmt.Sprintf("organization %d has no Salesforce account ID: nothing to push", org.ID)}
	}

	res := pushResult{account: account}
	existing, found, err := p.Salesforce.FindCase(ctx, ticketID)
	if err != nil {
		return p.salesforceFailure(res, withOp(err, "find case of", record))
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
			return p.salesforceFailure(res, withOp(err, "create case for", record))
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
	if err := p.Zendesk.SetTicketCaseID(ctx, ticketID, res.caseID); err != nil {
		// The case exists; the next attempt finds it by ticket ID.
		res.status, res.err = PushFailed, withOp(err, "write case ID "+res.caseID+" back to", record)
		return res
	}
	res.status = PushDone
	return res
}

// salesforceFailure turns a failed case write into the push's result: code
// 2 is silent (the account does not exist), every other code fails.
func (p *Pusher) salesforceFailure(res pushResult, err error) pushResult {
	res.err = err
	if ErrorCode(err) == CodeInsufficientAccess {
		res.status = PushSkipped
	} else {
		res.status = PushFailed
	}
	return res
}

// withOp names the operation and record in an error's message, keeping its
// code (an error without one is internal).
func withOp(err error, op, record string) error {
	var e *Error
	if errors.As(err, &e) {
		msg := e.Message
		if msg == "" && e.Err != nil {
			msg = e.Err.Error()
		}
		if msg == "" {
			msg = e.Code.Info().Meaning
		}
		return &Error{Code: e.Code, Message: op + " " + record + ": " + msg, Err: err}
	}
	return &Error{Code: CodeInternal, Message: op + " " + record + ": " + err.Error(), Err: err}
}

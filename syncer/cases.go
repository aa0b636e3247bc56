package syncer

import (
	"context"
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

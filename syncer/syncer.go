// Package syncer is the domain of zdsync: the jobs that keep Zendesk in step
// with Salesforce, their business rules, the pipeline error codes and the
// Summary every run produces.
//
// Every sync job is one pipeline, one stage a file, data flowing one way
// (Runner.Run reads as this line):
//
//	fetch (fetch.go, orgread.go) → plan (plan.go, users.go) → guard (guard.go) → apply (apply.go) → report (summary.go)
//
// A dry run stops after the guards and may store its plan (stored.go) for
// Runner.ApplyPlan. An incremental run (incremental.go) is the same
// pipeline over what changed in Salesforce since its watermark. The case
// push (push.go) and the parity sweep (sweep.go) are the two jobs of the
// case sync. Explain (explain.go), history (history.go) and undo (undo.go,
// undoplan.go) are the on-call tools.
//
// The package defines the small interfaces it needs of the outside world
// (this file); the subpackages syncer/salesforce, syncer/zendesk and
// syncer/store implement them, and syncer/app runs the jobs by name. syncer
// imports none of its subpackages, and only the standard library.
package syncer

import (
	"context"
	"time"
)

// Job names a sync job. The names are part of the command-line contract.
type Job string

// The jobs zdsync runs.
const (
	JobGlobalOrgs   Job = "global-orgs"
	JobFederalOrgs  Job = "federal-orgs"
	JobFederalUsers Job = "federal-users"
	JobCases        Job = "cases"
	JobCaseSweep    Job = "case-sweep"
)

// SyncJobs are the jobs run by `zdsync sync <job>`, in schedule order.
var SyncJobs = []Job{JobGlobalOrgs, JobFederalOrgs, JobFederalUsers}

// RunnableJobs are the jobs a person can start by name (`/zdsync run`), in
// schedule order.
var RunnableJobs = []Job{JobGlobalOrgs, JobFederalOrgs, JobFederalUsers, JobCaseSweep}

// ParseJob returns the runnable job named s, or false.
func ParseJob(s string) (Job, bool) {
	for _, j := range RunnableJobs {
		if string(j) == s {
			return j, true
		}
	}
	return "", false
}

// IsSync reports whether j is one of the sync jobs (fetch → plan → guard →
// apply → report).
func (j Job) IsSync() bool { return j == JobGlobalOrgs || j == JobFederalOrgs || j == JobFederalUsers }

// Scope returns the scope of a sync job: Global for global-orgs, Federal
// for federal-orgs and federal-users.
func (j Job) Scope() Scope {
	if j == JobGlobalOrgs {
		return Global
	}
	return Federal
}

// Scope selects one of the two Salesforce account queries and the Zendesk
// instance they sync to.
type Scope string

// The two scopes.
const (
	Global  Scope = "global"
	Federal Scope = "federal"
)

// Salesforce is what the sync jobs need of Salesforce. Implemented by
// syncer/salesforce; errors carry pipeline codes (*Error).
type Salesforce interface {
	// Accounts runs the documented account query of scope verbatim. When
	// accountID is not empty, the query gets one extra condition
	// Account_ID_18__c = 'accountID', so one account is judged by the same
	// rules as a full run.
	Accounts(ctx context.Context, scope Scope, accountID string) ([]Account, error)
	// FederalContacts runs the documented federal contacts query verbatim
	// (with the same optional account condition).
	FederalContacts(ctx context.Context, accountID string) ([]Contact, error)
	// QueryConditions reads why the queries select an account (explain).
	QueryConditions
	// ChangeSource reads what changed (incremental runs).
	ChangeSource
}

// CaseStore is what the case push needs of Salesforce.
type CaseStore interface {
	// FindCase returns the case made for a Zendesk ticket, if there is one.
	FindCase(ctx context.Context, ticketID int64) (c Case, found bool, err error)
	// CreateCase creates a case and returns its ID.
	CreateCase(ctx context.Context, c Case) (string, error)
	// CloseCase sets the case's status to closed.
	CloseCase(ctx context.Context, caseID string) error
	// CaseStatuses returns the status of each given case that exists.
	CaseStatuses(ctx context.Context, caseIDs []string) (map[string]string, error)
}

// OrgReader is how the sync jobs read the organizations of one Zendesk
// instance: a paged listing that can be stopped early, a count, and
// look-ups by external ID. Fetch overlaps the listing with the Salesforce
// query and finishes with look-ups (see orgread.go); every implementation
// provides all three, so every Zendesk runs the same read path.
type OrgReader interface {
	// EachOrgPage lists every organization, handing each page to fn as it
	// arrives, so that a caller can stop the listing (by cancelling ctx)
	// and keep what was read. It returns nil only when the listing reached
	// its end.
	EachOrgPage(ctx context.Context, fn func(page []Org)) error
	// OrgCount returns the number of organizations, in one call.
	OrgCount(ctx context.Context) (int, error)
	// EachOrgByExternalID looks up the orgs whose external_id is one of
	// ids, handing each call's orgs to fn as they arrive (one call of fn
	// at a time).
	EachOrgByExternalID(ctx context.Context, ids []string, fn func(page []Org)) error
}

// Zendesk is what the sync jobs need of one Zendesk instance. Implemented
// by syncer/zendesk. Bulk methods take any number of records (the adapter
// cuts them into jobs of at most 100) and return one WriteResult per input
// record, in input order.
type Zendesk interface {
	OrgReader
	CreateOrgs(ctx context.Context, orgs []OrgWrite) []WriteResult
	UpdateOrgs(ctx context.Context, orgs []OrgWrite) []WriteResult
	DeleteOrgs(ctx context.Context, ids []int64) []WriteResult
	// OrgHasOpenTickets reports whether the org has a ticket whose status
	// is not closed.
	OrgHasOpenTickets(ctx context.Context, orgID int64) (bool, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UsersByEmail returns the users with one of the given e-mails.
	UsersByEmail(ctx context.Context, emails []string) ([]User, error)
	// CreateUsers creates users (users/create_many); a record whose e-mail
	// already exists fails with a WriteResult whose Exists is true.
	CreateUsers(ctx context.Context, users []UserWrite) []WriteResult
	// UpsertUsers creates or updates users matched by e-mail
	// (users/create_or_update_many).
	UpsertUsers(ctx context.Context, users []UserWrite) []WriteResult
	// GetOrg reads one org by its Zendesk ID.
	GetOrg(ctx context.Context, id int64) (Org, error)
	// OrgMembers lists an org's memberships (kept in the before-image of
	// a deletion); AddMembers attaches users to orgs again (an undo of a
	// deletion); OrgHasTickets reports whether an org has any ticket.
	OrgMembers(ctx context.Context, orgID int64) ([]Membership, error)
	AddMembers(ctx context.Context, ms []Membership) []WriteResult
	OrgHasTickets(ctx context.Context, orgID int64) (bool, error)
}

// Tickets is what the case push needs of Zendesk Global.
type Tickets interface {
	GetTicket(ctx context.Context, id int64) (Ticket, error)
	GetOrg(ctx context.Context, id int64) (Org, error)
	// SetTicketCaseID writes caseID into the ticket's case-ID custom field.
	SetTicketCaseID(ctx context.Context, ticketID int64, caseID string) error
	// TicketsSince reads one page of the incremental ticket export from
	// cursor ("" starts at since) and returns the next cursor and whether
	// the end of the stream was reached.
	TicketsSince(ctx context.Context, cursor string, since time.Time) (tickets []Ticket, next string, end bool, err error)
}

// Store is what the sync jobs need of persistence. Implemented by
// syncer/store. (Saving a run's summary is the application core's.)
type Store interface {
	// LastSuccessfulRun returns the newest non-dry, successful, full (not
	// single-account) run of job.
	LastSuccessfulRun(ctx context.Context, job Job) (*Summary, bool, error)
	// RecordChanges appends applied changes, with their before-images, to
	// the audit.
	RecordChanges(ctx context.Context, runID string, changes []AppliedChange) error
	// SavePlan stores a plan; GetPlan reads it back; MarkPlanApplied
	// records that it was applied, and fails if it already was.
	SavePlan(ctx context.Context, p *StoredPlan) error
	GetPlan(ctx context.Context, id string) (*StoredPlan, error)
	MarkPlanApplied(ctx context.Context, id, runID, by string, at time.Time) error
	// PendingDeletions returns the orgs of scope in their grace period
	// before deletion, with since when (DeleteAfter is the caller's to
	// compute); SavePending records them: the whole list of scope when
	// accounts is nil, else the entries of those accounts.
	PendingDeletions(ctx context.Context, scope Scope) ([]PendingDeletion, error)
	SavePending(ctx context.Context, scope Scope, accounts []string, pending []PendingDeletion) error
	// GetRun returns a run's summary (ErrNotFound when there is none),
	// Changes its audited changes in order, and UndoRuns the runs (not
	// dry) that undid it: what an undo plans from.
	GetRun(ctx context.Context, runID string) (*Summary, error)
	Changes(ctx context.Context, runID string) ([]AppliedChange, error)
	UndoRuns(ctx context.Context, runID string) ([]Summary, error)
}

// ErrNotFound is returned by stores and adapters for a missing record.
var ErrNotFound = Errorf(CodeNotFound, "not found")

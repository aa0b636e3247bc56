package syncer

import (
	"context"
	"time"
)

// Modified is one Salesforce record an incremental run found changed: an
// account, or a record behind the job's query whose change can change an
// account's org or users (a subscription, a sold-to record, a contact).
type Modified struct {
	// Object is its sObject (Account, Contact, Zuora__Subscription__c, …)
	// and ID its record Id.
	Object string
	ID     string
	// AccountID is the account it belongs to (its own ID for an account;
	// "" for a record of no account).
	AccountID string
	// Stamp is its SystemModstamp: when it was last changed.
	Stamp time.Time
}

// key names the record across runs (Watermark.Seen).
func (m Modified) key() string { return m.Object + "/" + m.ID }

// ChangeSource is what incremental runs need of Salesforce. Implemented by
// syncer/salesforce; errors carry pipeline codes.
type ChangeSource interface {
	// Modified returns the records whose SystemModstamp is at or after
	// since that a run of job reads: the accounts of the job's query and
	// the records behind its subqueries (or, for federal-users, the
	// contacts), deleted ones included.
	Modified(ctx context.Context, job Job, since time.Time) ([]Modified, error)
	// AccountsByID runs the documented account query of scope restricted
	// to the accounts ids, so that each is judged by the same rules as in
	// a full run.
	AccountsByID(ctx context.Context, scope Scope, ids []string) ([]Account, error)
	// FederalContactsByAccount and FederalContactsByEmail run the
	// documented federal contacts query restricted to the contacts of the
	// accounts ids, or to the contacts with one of the e-mails.
	FederalContactsByAccount(ctx context.Context, ids []string) ([]Contact, error)
	FederalContactsByEmail(ctx context.Context, emails []string) ([]Contact, error)
}

// Watermark is how far the incremental runs of a job have carried
// Salesforce's changes over to Zendesk (README, "Near real time").
type Watermark struct {
	Job Job
	// At is when the last successful incremental run started reading:
	// every change stamped before At, less the overlap, is in Zendesk.
	At time.Time
	// Seen holds the versions (record → SystemModstamp) that run read
	// within the overlap, already carried over: the next run, whose
	// window overlaps them, need not read their accounts again.
	Seen map[string]time.Time
	// Retry lists the accounts whose changes failed to apply: every
	// later run reads them again until they apply.
	Retry []string
	// Tally counts this hour's successful incremental runs and their API
	// calls, for /zdsync status.
	Tally Tally
}

// Tally counts the successful incremental runs of a job since a time, and
// the API calls they made.
type Tally struct {
	Since           time.Time `json:"since"`
	Runs            int       `json:"runs"`
	SalesforceCalls int       `json:"salesforce_calls"`
	ZendeskCalls    int       `json:"zendesk_calls"`
}

// Watermarks keeps each job's watermark. Implemented by syncer/store.
type Watermarks interface {
	// Watermark returns the job's watermark, and false when it has none.
	Watermark(ctx context.Context, job Job) (Watermark, bool, error)
	// SaveWatermark stores a job's watermark, unless the stored one is
	// later (a watermark never moves back).
	SaveWatermark(ctx context.Context, w Watermark) error
}

// IncrementalRun is what an incremental run adds to its summary: the
// window it read, what it found, the API calls it made and where it left
// the job's watermark.
type IncrementalRun struct {
	// Since is the start of the window read: changes stamped at or after
	// it.
	Since time.Time `json:"since"`
	// Watermark is the job's watermark after the run; zero when the run
	// did not move it (a dry run, a failure, a --since window).
	Watermark time.Time `json:"watermark,omitzero"`
	// Changed is how many records Salesforce reported changed in the
	// window; New how many of those versions were not carried over yet;
	// Retried how many accounts were read again after a failure.
	Changed int `json:"changed"`
	New     int `json:"new"`
	Retried int `json:"retried,omitempty"`
	// SalesforceCalls and ZendeskCalls are the run's API calls to each.
	SalesforceCalls int `json:"salesforce_calls"`
	ZendeskCalls    int `json:"zendesk_calls"`
}

// Caught returns the time before which every Salesforce change a job
// reads is in Zendesk (the overlap aside): the later of the watermark and
// the start of the last successful full run (nil for none), which read
// everything before it. Zero when neither exists.
func (w Watermark) Caught(lastFull *Summary) time.Time {
	if lastFull != nil && lastFull.StartedAt.After(w.At) {
		return lastFull.StartedAt
	}
	return w.At
}

// QuietIncremental reports whether s is an incremental run (not a dry run)
// that did its work and wrote nothing (it planned skips at most): it posts
// nothing and is not stored, only counted (README, "Near real time").
func (s *Summary) QuietIncremental() bool {
	if s.Incremental == nil || s.DryRun || s.Code != CodeNone || len(s.Errors) > 0 {
		return false
	}
	for _, c := range s.Changes {
		if c.Action != Skip {
			return false
		}
	}
	return s.Created+s.Updated+s.Deleted == 0
}

// IncrementalStatus is what /zdsync status shows of a job's incremental
// runs: their schedule, how fresh Zendesk is, this hour's runs and API
// calls, the accounts being retried and the last stored run (one that
// changed something or failed: quiet runs are not stored).
type IncrementalStatus struct {
	Schedule string `json:"schedule"`
	// Caught is the time before which every change is in Zendesk
	// (Watermark.Caught); Freshness is how long ago that was.
	Caught    time.Time     `json:"caught,omitzero"`
	Freshness time.Duration `json:"freshness_ns,omitempty"`
	Tally     Tally         `json:"tally"`
	Retrying  int           `json:"retrying,omitempty"`
	LastRun   *Summary      `json:"last_run,omitempty"`
}

package syncer

import "time"

// Status is what `/zdsync status` shows: each scheduled job with its last
// run, the failed case pushes, the open alerts and Salesforce's remaining
// API allowance.
type Status struct {
	Jobs         []JobStatus  `json:"jobs"`
	FailedPushes []FailedPush `json:"failed_pushes,omitempty"`
	OpenAlerts   []OpenAlert  `json:"open_alerts,omitempty"`
	// Allowance is Salesforce's remaining daily API allowance and
	// Reserve the share of it left to other integrations
	// (SALESFORCE_API_RESERVE); Allowance is nil when it could not be
	// read, AllowanceError says why.
	Allowance      *APIAllowance `json:"api_allowance,omitempty"`
	AllowanceError string        `json:"api_allowance_error,omitempty"`
	Reserve        float64       `json:"api_reserve"`
	// Deletions are the Global orgs in their grace period that a full run
	// will delete within DeletionHorizon, soonest first.
	Deletions []PendingDeletion `json:"pending_deletions,omitempty"`
}

// DeletionHorizon is how far ahead /zdsync status lists the orgs a full
// run will delete when their grace period ends.
const DeletionHorizon = 7 * 24 * time.Hour

// JobStatus is the schedule and last full run of one job. LastRun is nil
// when the job never ran; NextRun is zero when it is not scheduled.
type JobStatus struct {
	Job      Job       `json:"job"`
	Schedule string    `json:"schedule"`
	NextRun  time.Time `json:"next_run,omitzero"`
	LastRun  *Summary  `json:"last_run,omitempty"`
	// Incremental is set for a job with incremental runs.
	Incremental *IncrementalStatus `json:"incremental,omitempty"`
}

// FailedPush is a case push that failed after its retries.
type FailedPush struct {
	TicketID int64     `json:"ticket_id"`
	Code     Code      `json:"code"`
	Message  string    `json:"message"`
	At       time.Time `json:"at"`
}

// OpenAlert is an alert not yet resolved by a successful run.
type OpenAlert struct {
	Job     Job       `json:"job"`
	Code    Code      `json:"code"`
	Count   int       `json:"count"`
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
	RunID   string    `json:"run_id,omitempty"`
}

// CommandRecord is one entry of the command audit: who ran which command,
// with which arguments, and how it ended.
type CommandRecord struct {
	// ID is set by the store.
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// User is the Slack user ID (or "cli").
	User    string `json:"user"`
	Command string `json:"command"`
	Args    string `json:"args,omitempty"`
	// Outcome is a short word such as "ok", "denied" or "failed"; Detail
	// says more (a run or plan ID, an error message).
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// Alert is one Slack alert: the failures of a job with one code, grouped
// into one message (Channel, TS) until a successful run resolves it. At
// most one alert per job and code is open (ResolvedAt zero) at a time.
type Alert struct {
	// ID is set by the store when the alert is first saved.
	ID   int64
	Job  Job
	Code Code
	// Channel and TS identify the Slack message, for threading and updates.
	Channel string
	TS      string
	// Count is how many failed runs the alert groups.
	Count      int
	FirstAt    time.Time
	LastAt     time.Time
	ResolvedAt time.Time
	// RunIDs are the failed runs, oldest first.
	RunIDs []string
}

// Open reports whether the alert is still open.
func (a *Alert) Open() bool { return a.ResolvedAt.IsZero() }

// LastRunID returns the ID of the newest failed run of the alert, or "".
func (a *Alert) LastRunID() string {
	if len(a.RunIDs) == 0 {
		return ""
	}
	return a.RunIDs[len(a.RunIDs)-1]
}

// ErrAlertOpen is wrapped by the error of a store's SaveAlert when saving
// would make a second open alert for the same job and code.
var ErrAlertOpen = Errorf(CodeInternal, "an open alert already exists for this job and code")

// RunLock is the lease that lets one run of a job go at a time across
// replicas: its holder (the run ID of the run holding it), who started
// that run, since when, until when the lease holds unless renewed, and
// whether the run is incremental.
type RunLock struct {
	Name        string
	Holder      string
	By          string
	Since       time.Time
	Expires     time.Time
	Incremental bool
}

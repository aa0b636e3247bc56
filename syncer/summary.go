package syncer

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Action is what a plan does to one record.
type Action string

// The actions of a plan.
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
	Skip   Action = "skip"
)

// FieldDiff is one field of an update: its value before and after, rendered
// as text.
type FieldDiff struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Change is one entry of a plan.
type Change struct {
	Action Action      `json:"action"`
	Kind   string      `json:"kind"` // "org" or "user"
	Key    string      `json:"key"`  // Salesforce account ID, or e-mail for users
	Name   string      `json:"name,omitempty"`
	ID     int64       `json:"zendesk_id,omitempty"`
	Diffs  []FieldDiff `json:"diffs,omitempty"`
	Reason string      `json:"reason,omitempty"`

	// Org, User or Member is the payload to write (create/update); Before
	// is the record as it was observed (update/delete; a deletion's is a
	// DeletedOrg, with its memberships), kept as the before-image and, in
	// stored plans, to check that the record has not changed.
	Org    *OrgWrite       `json:"org,omitempty"`
	User   *UserWrite      `json:"user,omitempty"`
	Member *Membership     `json:"member,omitempty"`
	Before json.RawMessage `json:"before,omitempty"`
	// SkipCode is, for a skip, the code the run reports it with (an
	// undo's record changed since the run it undoes: CodePlanStale); 0
	// for a skip that is no error.
	SkipCode Code `json:"skip_code,omitempty"`
	// Parent is the key of the change this one depends on (a sold-to
	// user of an org being created); its OrgID is filled in at apply time.
	Parent string `json:"parent,omitempty"`
	// AfterUsers marks the org update that clears sold_to_pending: it is
	// applied after the org's sold-to users, only if they all were
	// created, and is not counted as an update of its own.
	AfterUsers bool `json:"after_users,omitempty"`
}

// RecordError is one record's failure in a run.
type RecordError struct {
	Code    Code   `json:"code"`
	Name    string `json:"name"`
	Record  string `json:"record"`
	Message string `json:"message"`
}

// Summary is the report of one run: what the CLI prints, the store keeps
// and the bot renders. Its JSON form is a contract (README, "Command
// line").
type Summary struct {
	RunID   string `json:"run_id"`
	Job     Job    `json:"job"`
	DryRun  bool   `json:"dry_run"`
	Account string `json:"account,omitempty"`
	// By is who started the run: BySchedule, ByCLI, ByQueue or a Slack
	// user ID (the application core sets it).
	By string `json:"by,omitempty"`
	// UndoOf is the run an undo reverses, and UndoRecord the one record
	// it reverses when it reverses only one (README, "Undo").
	UndoOf     string        `json:"undo_of,omitempty"`
	UndoRecord string        `json:"undo_record,omitempty"`
	StartedAt  time.Time     `json:"started_at"`
	FinishedAt time.Time     `json:"finished_at"`
	DurationMS int64         `json:"duration_ms"`
	Fetched    int           `json:"fetched"` // Salesforce records read
	Created    int           `json:"created"`
	Updated    int           `json:"updated"`
	Deleted    int           `json:"deleted"`
	Unchanged  int           `json:"unchanged"`
	Skipped    int           `json:"skipped"`
	Failed     int           `json:"failed"`
	Errors     []RecordError `json:"errors"`
	Changes    []Change      `json:"changes,omitempty"`
	Warnings   []RecordError `json:"warnings,omitempty"`
	// Notices are what an adapter had to do differently in this run and
	// an operator may want to know, each said once (see WithNotices):
	// "bulk user imports are not enabled: users were created one at a
	// time".
	Notices []string `json:"notices,omitempty"`
	// Pending lists the orgs this run tagged pending deletion, with the
	// day from which a full run deletes them (README, "Grace period
	// before deletion").
	Pending    []PendingDeletion `json:"pending_deletions,omitempty"`
	PlanID     string            `json:"plan_id,omitempty"`
	HeldPlanID string            `json:"held_plan_id,omitempty"` // deletions held for approval
	CaseID     string            `json:"case_id,omitempty"`
	APICalls   int               `json:"api_calls"`
	// Incremental is set for an incremental run.
	Incremental *IncrementalRun `json:"incremental,omitempty"`
	// Code is the run's own outcome: CodeNone when it did its work, a
	// silent code (1, 2) when it did and that code applied (still exit 0,
	// see OK), else the code that failed it.
	Code    Code   `json:"code"`
	Message string `json:"message,omitempty"`
	// Refused is set by the application core on a run that did not
	// start: another run of its job in progress, or a stored plan that
	// cannot be applied (applied already, discarded, expired, unknown).
	// Only whoever asked is answered; nothing is posted or alerted. It is
	// not part of the JSON form.
	Refused bool `json:"-"`
}

// MarshalJSON writes the contracted form: errors always a list, and
// changes always present on a dry run, even when empty (elsewhere only
// when there are some).
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary // the fields, without this method
	out := struct {
		plain
		Errors  []RecordError `json:"errors"`
		Changes *[]Change     `json:"changes,omitempty"`
	}{plain: plain(s), Errors: s.Errors}
	if out.Errors == nil {
		out.Errors = []RecordError{}
	}
	if changes := s.Changes; changes != nil || s.DryRun {
		if changes == nil {
			changes = []Change{}
		}
		out.Changes = &changes
	}
	return json.Marshal(out)
}

// NewSummary starts the summary of a run of job at now, with a new run ID.
func NewSummary(job Job, now time.Time) *Summary {
	return &Summary{RunID: NewID(now), Job: job, StartedAt: now, Errors: []RecordError{}}
}

// Finish ends the summary at now: its duration, and the code of the first
// failed record when the run has no code of its own.
func (s *Summary) Finish(now time.Time) {
	if s.Code == CodeNone {
		s.Code = s.FirstFailure()
		switch {
		case s.Code == CodeNone || s.Message != "":
		case s.Failed > 0:
			s.Message = fmt.Sprintf("%d record(s) failed", s.Failed)
		default: // skips reported with a code: records that changed since
			n := 0
			for _, e := range s.Errors {
				if e.Code == s.Code {
					n++
				}
			}
			s.Message = fmt.Sprintf("%d record(s) left as they are: %s", n, s.Code.Info().Meaning)
		}
	}
	s.FinishedAt = now
	s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
}

// Fail records that the run failed as a whole (a refused login, a guard's
// refusal, a missing plan): err's code and message become the run's, and
// the failure is listed in Errors too, with an empty record, so that
// scripts read one list.
func (s *Summary) Fail(err error) {
	s.Code, s.Message = ErrorCode(err), ErrorMessage(err)
	s.AddError("", err)
}

// planned records what the plan stage found.
func (s *Summary) planned(in *fetched, p Plan) {
	s.Fetched = in.count()
	s.Warnings = p.Warnings
	s.Unchanged = p.Unchanged
	if s.Account != "" && s.Fetched == 0 {
		s.Message = "no such account in the job's query"
	}
}

// guarded records what the guards decided.
func (s *Summary) guarded(v Verdict, log *slog.Logger) {
	for _, e := range v.Errors {
		s.Errors = append(s.Errors, e)
		s.Failed++
	}
	if v.Refusal != nil {
		s.Fail(v.Refusal)
		log.Warn("guard refused deletions", "job", s.Job, "run_id", s.RunID, "reason", s.Message)
	}
}

// countPlanned counts a dry run's changes by action.
func (s *Summary) countPlanned(changes []Change) {
	for _, c := range changes {
		if counted(c) {
			s.count(c.Action)
		}
	}
}

// counted reports whether a change counts in a summary's counts: the
// clearing of sold_to_pending is part of creating an org, and the
// memberships of an org re-created by an undo part of re-creating it.
func counted(c Change) bool { return !c.AfterUsers && c.Kind != "membership" }

func (s *Summary) count(a Action) {
	switch a {
	case Create:
		s.Created++
	case Update:
		s.Updated++
	case Delete:
		s.Deleted++
	case Skip:
		s.Skipped++
	}
}

// OK reports whether the run did its work: exit status 0.
func (s *Summary) OK() bool { return s.Code == CodeNone || s.Code.Silent() }

// AddError records a record's failure with its code.
func (s *Summary) AddError(record string, err error) {
	c := ErrorCode(err)
	s.Errors = append(s.Errors, RecordError{Code: c, Name: c.Info().Name, Record: record, Message: ErrorMessage(err)})
}

// SilentCount is how many record errors of a run had one silent code.
type SilentCount struct {
	Code  Code
	Count int
}

// SilentCounts returns how many record errors had each silent code, in
// the order the codes first appear: the one count behind every "silent"
// line of summaries, replies and the quiet-runs message.
func (s *Summary) SilentCounts() []SilentCount {
	var out []SilentCount
	for _, e := range s.Errors {
		if !e.Code.Silent() {
			continue
		}
		found := false
		for i := range out {
			if out[i].Code == e.Code {
				out[i].Count++
				found = true
			}
		}
		if !found {
			out = append(out, SilentCount{e.Code, 1})
		}
	}
	return out
}

// FirstFailure returns the code of the first non-silent record error.
func (s *Summary) FirstFailure() Code {
	for _, e := range s.Errors {
		if !e.Code.Silent() {
			return e.Code
		}
	}
	return CodeNone
}

// AppliedChange is one change as written to the audit: the change, the run
// it belongs to, its outcome, and the record's before-image.
type AppliedChange struct {
	Change
	At      time.Time `json:"at"`
	Code    Code      `json:"code"`
	Message string    `json:"message,omitempty"`
}

// StoredPlan is a dry run saved so that exactly its changes can be applied
// later, as long as it has not expired and the records still match.
type StoredPlan struct {
	ID          string    `json:"id"`
	Job         Job       `json:"job"`
	Account     string    `json:"account,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	CreatedBy   string    `json:"created_by,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	Changes     []Change  `json:"changes"`
	AppliedAt   time.Time `json:"applied_at,omitzero"`
	AppliedRun  string    `json:"applied_run,omitempty"`
	AppliedBy   string    `json:"applied_by,omitempty"` // Options.By of the run that applied it
	Discarded   bool      `json:"discarded,omitempty"`
	// UndoOf is the run the plan undoes (and UndoRecord the one record,
	// when only one): applying it plans the undo again and applies the
	// changes that still hold.
	UndoOf     string `json:"undo_of,omitempty"`
	UndoRecord string `json:"undo_record,omitempty"`
}

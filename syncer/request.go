package syncer

import "time"

// Options modify one run of a sync job.
type Options struct {
	DryRun   bool
	SavePlan bool   // store a dry run's plan (Summary.PlanID)
	Account  string // only this Salesforce account
	By       string // who asked: BySchedule, ByCLI, a Slack user ID
	// Incremental reads only what changed in Salesforce since the job's
	// watermark (README, "Near real time"); Since, when set, reads the
	// changes since then instead.
	Incremental bool
	Since       time.Time
}

// Who asks for runs besides people (Options.By).
const (
	// BySchedule is the scheduler: the only caller whose full runs the
	// Salesforce API reserve may skip.
	BySchedule = "schedule"
	// ByCLI is the command line.
	ByCLI = "cli"
	// ByQueue is the push queue working a webhook's event.
	ByQueue = "queue"
)

// ByWhom says who asked for a run (Options.By), for the message that
// names it: " by the schedule", " from the command line", " by <@U…>"
// (a Slack user's mention), or "" when nobody is known.
func ByWhom(by string) string {
	switch by {
	case "":
		return ""
	case ByCLI:
		return " from " + ByWho(by)
	case BySchedule, ByQueue:
		return " by " + ByWho(by)
	}
	return " by <@" + by + ">"
}

// Request asks for one run of any job, by name: a sync job (Job, Options),
// the apply of a stored plan (PlanID; the job is the plan's), the undo of
// a run (UndoOf; the job is the run's), a case push
// (JobCases, TicketID, Event; no Event pushes the ticket's last event
// again) or the parity sweep (JobCaseSweep). The scheduler, the slash
// commands and buttons, the CLI and the push queue all hand requests to
// the application core (syncer/app).
type Request struct {
	Job Job
	Options
	PlanID   string
	TicketID int64
	Event    Event
	// UndoOf asks for the undo of a run (UndoRecord: of one record of it);
	// the job is the run's. A dry run previews it (SavePlan: as a stored
	// plan to apply).
	UndoOf     string
	UndoRecord string
}

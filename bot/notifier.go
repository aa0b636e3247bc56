package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/syncer"
)

// NotifierStore is what the Notifier keeps in the database, shared by
// every replica: the open alerts, so that failures group across runs and
// replicas; the one quiet-runs status message of the summary channel and
// its counts; and the runs and plans the messages show. *store.DB
// satisfies it.
type NotifierStore interface {
	OpenAlert(ctx context.Context, job syncer.Job, code syncer.Code) (*syncer.Alert, bool, error)
	SaveAlert(ctx context.Context, a *syncer.Alert) error
	// RepeatAlert counts a repeat of an open alert atomically (replicas
	// failing alike at once each count), keeping the first and the
	// newest keep-1 run IDs; syncer.ErrNotFound when it was resolved.
	RepeatAlert(ctx context.Context, id int64, runID string, at time.Time, keep int) (*syncer.Alert, error)
	ResolveAlerts(ctx context.Context, job syncer.Job, at time.Time) ([]syncer.Alert, error)
	// GetRun reads a stored run, so that a resolved alert keeps showing
	// its last failure; GetPlan reads the plan of held deletions.
	GetRun(ctx context.Context, runID string) (*syncer.Summary, error)
	GetPlan(ctx context.Context, id string) (*syncer.StoredPlan, error)
	StatusStore
	IncrementalStore
}

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	// API posts the messages (Bot.API()). Required.
	API *slack.Client
	// Pacer paces every post (Bot.Pacer(), so that the bot and the
	// notifier share Slack's limits); nil means a Pacer of its own.
	Pacer *Pacer
	// SummaryChannel (SLACK_SUMMARY_CHANNEL) receives run summaries and
	// the quiet-runs status message; AlertChannel (SLACK_ALERT_CHANNEL)
	// receives failure alerts and mass-deletion approvals.
	SummaryChannel string
	AlertChannel   string
	// Store keeps alerts and the status message. Required.
	Store NotifierStore
	// QuietJobs are jobs that never post a summary: their successful runs
	// count in the quiet-runs message, their failures alert. Nil means the
	// per-ticket case push (syncer.JobCases), which runs once a ticket
	// event.
	QuietJobs []syncer.Job
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Notifier posts what the runner reports: a summary of each run that
// changed something or failed, one status message for quiet runs (one for
// the whole cluster, edited at most once a StatusEditInterval), and
// failure alerts grouped by job and code (a repeat replies in the alert's
// thread and updates its count; the next successful run marks it
// resolved). Silent codes never alert. Alerts go before anything else
// waiting for Slack. It is safe for concurrent use.
type Notifier struct {
	p              poster
	summaryChannel string
	alertChannel   string
	store          NotifierStore
	quietJobs      []syncer.Job
	now            func() time.Time
	log            *slog.Logger

	// alertMu groups the alerts of this process one at a time (the store
	// groups them across replicas); under it, shown is when this process
	// last showed each open alert (posted it, or replied and edited it),
	// and pending the alerts with repeats it has not shown yet.
	alertMu sync.Mutex
	shown   map[alertKey]time.Time
	pending map[alertKey]bool

	mu sync.Mutex
	// posted is set once this process knows the status message exists;
	// tried is when it last tried an edit.
	posted bool
	tried  time.Time
}

// NewNotifier returns a Notifier for cfg.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.API == nil || cfg.Store == nil {
		return nil, errors.New("bot: notifier needs a Slack client and a store")
	}
	if cfg.SummaryChannel == "" {
		return nil, errors.New("SLACK_SUMMARY_CHANNEL is not set")
	}
	if cfg.AlertChannel == "" {
		return nil, errors.New("SLACK_ALERT_CHANNEL is not set")
	}
	if cfg.QuietJobs == nil {
		cfg.QuietJobs = []syncer.Job{syncer.JobCases}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Pacer == nil {
		cfg.Pacer = NewPacer(nil, cfg.Logger)
	}
	return &Notifier{p: poster{api: cfg.API, pacer: cfg.Pacer}, summaryChannel: cfg.SummaryChannel, alertChannel: cfg.AlertChannel,
		store: cfg.Store, quietJobs: cfg.QuietJobs, now: cfg.Now, log: cfg.Logger,
		shown: map[alertKey]time.Time{}, pending: map[alertKey]bool{}}, nil
}

// Report tells Slack about a finished run (app.Reporter): Notify, then,
// when the run held deletions for approval, RequestApproval. Failures to
// post are logged.
func (n *Notifier) Report(ctx context.Context, s *syncer.Summary) {
	if err := n.Notify(ctx, s); err != nil {
		n.log.ErrorContext(ctx, "notify slack", "run_id", s.RunID, "err", err)
	}
	if s == nil || s.HeldPlanID == "" {
		return
	}
	p, err := n.store.GetPlan(ctx, s.HeldPlanID)
	if err == nil {
		err = n.RequestApproval(ctx, p, s)
	}
	if err != nil {
		n.log.ErrorContext(ctx, "request approval", "plan_id", s.HeldPlanID, "err", err)
	}
}

// Notify reports one finished run: its alert first (or the resolution of
// its job's alerts), then its summary or its count in the quiet-runs
// message. Dry runs are not reported (their requester gets the answer).
func (n *Notifier) Notify(ctx context.Context, s *syncer.Summary) error {
	if s == nil || s.DryRun {
		return nil
	}
	at := s.FinishedAt
	if at.IsZero() {
		at = n.now()
	}
	if s.Incremental != nil {
		return n.reportIncremental(ctx, s, at) // digest.go: alerts at once, changes once an hour
	}
	code := FailureCode(s)
	var errs []error
	if code != syncer.CodeNone {
		errs = append(errs, n.alert(ctx, s, code, at))
	} else if s.Account == "" {
		errs = append(errs, n.resolve(ctx, s, at))
	}
	// A case sweep reports each ticket it skips once (the next sweep
	// does not), so a sweep with warnings says so in the summary channel;
	// the other jobs' warnings recur every run and ride on the summaries
	// their changes post.
	news := s.Created+s.Updated+s.Deleted > 0 || s.Job == syncer.JobCaseSweep && len(s.Warnings) > 0
	quiet := slices.Contains(n.quietJobs, s.Job)
	switch {
	case code == syncer.CodeAPIReserve || code != syncer.CodeNone && quiet:
		// A run skipped to leave Salesforce's API reserve did nothing to
		// summarize, and a failed case push is one ticket: their grouped
		// alert says it all, once, not every time.
		errs = append(errs, n.store.EndQuietRuns(ctx, n.summaryChannel, s.Job, n.now()))
	case code != syncer.CodeNone || news && !quiet:
		errs = append(errs, n.store.EndQuietRuns(ctx, n.summaryChannel, s.Job, n.now()))
		m := RenderSummary(s)
		p := n.p.at(PrioritySummary)
		ts, err := p.post(ctx, n.summaryChannel, "", m)
		if err == nil && m.CSV != nil {
			err = p.upload(ctx, n.summaryChannel, ts, m.CSV)
		}
		errs = append(errs, err)
	default:
		errs = append(errs, n.quietRun(ctx, s, at))
	}
	if err := errors.Join(errs...); err != nil {
		n.log.ErrorContext(ctx, "notify", "job", s.Job, "run_id", s.RunID, "err", err)
		return fmt.Errorf("notify run %s of %s: %w", s.RunID, s.Job, err)
	}
	return nil
}

// RequestApproval posts a mass-deletion approval to the alert channel: the
// deletions a run held back as the stored plan p, with Apply / Discard and
// the full list attached as CSV.
func (n *Notifier) RequestApproval(ctx context.Context, p *syncer.StoredPlan, s *syncer.Summary) error {
	m := RenderApproval(p, s)
	post := n.p.at(PriorityAlert)
	ts, err := post.post(ctx, n.alertChannel, "", m)
	if err != nil {
		return fmt.Errorf("request approval of plan %s: %w", p.ID, err)
	}
	if err := post.upload(ctx, n.alertChannel, ts, m.CSV); err != nil {
		return fmt.Errorf("request approval of plan %s: %w", p.ID, err)
	}
	return nil
}

// Run edits the quiet-runs status message with counts that it does not
// show yet (runs counted while the edit interval was closed), at most once
// a StatusEditInterval across replicas, and shows the repeats of alerts
// that only counted (FlushAlerts), until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	syncer.Every(ctx, statusCheck, func() {
		if err := n.FlushStatus(ctx); err != nil {
			n.log.WarnContext(ctx, "edit quiet-runs message", "err", err)
		}
		if err := n.FlushAlerts(ctx); err != nil {
			n.log.WarnContext(ctx, "show alert repeats", "err", err)
		}
	})
}

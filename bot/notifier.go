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

// AlertStore keeps the open alerts, so that failures group across runs and
// replicas, and reads back the runs and plans the messages show.
// *store.DB satisfies it.
type AlertStore interface {
	OpenAlert(ctx context.Context, job syncer.Job, code syncer.Code) (*syncer.Alert, bool, error)
	SaveAlert(ctx context.Context, a *syncer.Alert) error
	ResolveAlerts(ctx context.Context, job syncer.Job, at time.Time) ([]syncer.Alert, error)
	// GetRun reads a stored run, so that a resolved alert keeps showing
	// its last failure; GetPlan reads the plan of held deletions.
	GetRun(ctx context.Context, runID string) (*syncer.Summary, error)
	GetPlan(ctx context.Context, id string) (*syncer.StoredPlan, error)
}

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	// API posts the messages (Bot.API()). Required.
	API *slack.Client
	// SummaryChannel (SLACK_SUMMARY_CHANNEL) receives run summaries and
	// the quiet-runs status message; AlertChannel (SLACK_ALERT_CHANNEL)
	// receives failure alerts and mass-deletion approvals.
	SummaryChannel string
	AlertChannel   string
	// Alerts groups failures and reads runs and plans. Required.
	Alerts AlertStore
	// QuietJobs are jobs whose successful runs never post a summary, only
	// count in the quiet-runs message (their failures still alert). Nil
	// means the per-ticket case push (syncer.JobCases), which runs once
	// a ticket event.
	QuietJobs []syncer.Job
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Notifier posts what the runner reports: a summary of each run that
// changed something or failed, one status message edited in place for quiet
// runs, and failure alerts grouped by job and code (a repeat replies in the
// alert's thread and updates its count; the next successful run marks it
// resolved). Silent codes never alert. It is safe for concurrent use.
type Notifier struct {
	p              poster
	summaryChannel string
	alertChannel   string
	alerts         AlertStore
	quietJobs      []syncer.Job
	now            func() time.Time
	log            *slog.Logger

	mu       sync.Mutex
	quiet    map[syncer.Job]*QuietRun
	statusTS string
}

// NewNotifier returns a Notifier for cfg.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.API == nil || cfg.Alerts == nil {
		return nil, errors.New("bot: notifier needs a Slack client and an alert store")
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
	return &Notifier{p: poster{api: cfg.API}, summaryChannel: cfg.SummaryChannel, alertChannel: cfg.AlertChannel,
		alerts: cfg.Alerts, quietJobs: cfg.QuietJobs, now: cfg.Now, log: cfg.Logger, quiet: map[syncer.Job]*QuietRun{}}, nil
}

// FailureCode returns the code a run should alert with: the run's own code
// when it failed, else the first non-silent record error's, else
// syncer.CodeNone. Silent codes never alert.
func FailureCode(s *syncer.Summary) syncer.Code {
	if s.Code != syncer.CodeNone && !s.Code.Silent() {
		return s.Code
	}
	return s.FirstFailure()
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
	p, err := n.alerts.GetPlan(ctx, s.HeldPlanID)
	if err == nil {
		err = n.RequestApproval(ctx, p, s)
	}
	if err != nil {
		n.log.ErrorContext(ctx, "request approval", "plan_id", s.HeldPlanID, "err", err)
	}
}

// Notify reports one finished run. Dry runs are not reported (their
// requester gets the answer).
func (n *Notifier) Notify(ctx context.Context, s *syncer.Summary) error {
	if s == nil || s.DryRun {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	at := s.FinishedAt
	if at.IsZero() {
		at = n.now()
	}
	if s.Incremental != nil {
		return n.reportIncremental(ctx, s, at) // digest.go: alerts at once, changes once an hour
	}
	code := FailureCode(s)
	changed := s.Created+s.Updated+s.Deleted > 0
	var errs []error
	switch {
	case code == syncer.CodeAPIReserve:
		// A run skipped to leave Salesforce's API reserve did nothing to
		// summarize: its grouped alert says it all, once, not every tick.
	case code != syncer.CodeNone || (changed && !slices.Contains(n.quietJobs, s.Job)):
		delete(n.quiet, s.Job)
		m := RenderSummary(s)
		ts, err := n.p.post(ctx, n.summaryChannel, "", m)
		if err == nil && m.CSV != nil {
			err = n.p.upload(ctx, n.summaryChannel, ts, m.CSV)
		}
		errs = append(errs, err)
	default:
		errs = append(errs, n.quietRun(ctx, s, at))
	}
	if code != syncer.CodeNone {
		errs = append(errs, n.alert(ctx, s, code, at))
	} else if s.Account == "" {
		errs = append(errs, n.resolve(ctx, s, at))
	}
	if err := errors.Join(errs...); err != nil {
		n.log.ErrorContext(ctx, "notify", "job", s.Job, "run_id", s.RunID, "err", err)
		return fmt.Errorf("notify run %s of %s: %w", s.RunID, s.Job, err)
	}
	return nil
}

// AlertStale raises the freshness alarm of s.Job (s.Code is
// syncer.CodeStale and s.Message says for how long the job has not
// succeeded): an alert grouped like the others, without a run summary.
// The job's next successful run resolves it.
func (n *Notifier) AlertStale(ctx context.Context, s *syncer.Summary) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.alert(ctx, s, s.Code, n.now())
}

func (n *Notifier) quietRun(ctx context.Context, s *syncer.Summary, at time.Time) error {
	q := n.quiet[s.Job]
	if q == nil {
		q = &QuietRun{Job: s.Job}
		n.quiet[s.Job] = q
	}
	q.Count++
	q.Last, q.RunID = at, s.RunID
	for _, sc := range s.SilentCounts() {
		q.Silent += sc.Count
	}
	var runs []QuietRun
	for _, q := range n.quiet {
		runs = append(runs, *q)
	}
	slices.SortFunc(runs, func(a, b QuietRun) int { return jobOrder(a.Job) - jobOrder(b.Job) })
	m := RenderQuiet(runs)
	if n.statusTS != "" {
		err := n.p.update(ctx, n.summaryChannel, n.statusTS, m)
		if err == nil {
			return nil
		}
		n.log.WarnContext(ctx, "edit quiet-runs message; posting a new one", "err", err)
	}
	ts, err := n.p.post(ctx, n.summaryChannel, "", m)
	if err != nil {
		return err
	}
	n.statusTS = ts
	return nil
}

func jobOrder(j syncer.Job) int {
	order := []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCaseSweep, syncer.JobCases}
	if i := slices.Index(order, j); i >= 0 {
		return i
	}
	return len(order)
}

func (n *Notifier) alert(ctx context.Context, s *syncer.Summary, code syncer.Code, at time.Time) error {
	a, open, err := n.alerts.OpenAlert(ctx, s.Job, code)
	if err != nil {
		return err
	}
	if open {
		a.Count++
		a.LastAt = at
		a.RunIDs = append(a.RunIDs, s.RunID)
		view := AlertView{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, Latest: s}
		if a.TS != "" {
			_, perr := n.p.post(ctx, a.Channel, a.TS, RenderAlertReply(view))
			uerr := n.p.update(ctx, a.Channel, a.TS, RenderAlert(view))
			if !messageGone(perr) && !messageGone(uerr) {
				return errors.Join(perr, uerr, n.alerts.SaveAlert(ctx, a))
			}
			// Someone deleted the alert: a repeat must not go unseen.
			n.log.WarnContext(ctx, "alert message is gone; posting the alert again", "job", s.Job, "code", int(code))
		}
		// The alert has no message (deleted, or its post failed earlier):
		// post one and adopt it.
		ts, err := n.postAlert(ctx, RenderAlert(view))
		if err != nil {
			return err
		}
		a.Channel, a.TS = n.alertChannel, ts
		return n.alerts.SaveAlert(ctx, a)
	}
	view := AlertView{Job: s.Job, Code: code, Count: 1, FirstAt: at, LastAt: at, Latest: s}
	ts, err := n.postAlert(ctx, RenderAlert(view))
	if err != nil {
		return err
	}
	err = n.alerts.SaveAlert(ctx, &syncer.Alert{Job: s.Job, Code: code, Channel: n.alertChannel, TS: ts, Count: 1,
		FirstAt: at, LastAt: at, RunIDs: []string{s.RunID}})
	if errors.Is(err, syncer.ErrAlertOpen) {
		// Another replica opened it at the same moment; both messages
		// stand, the stored one groups what follows.
		n.log.WarnContext(ctx, "alert opened concurrently", "job", s.Job, "code", int(code))
		return nil
	}
	return err
}

// postAlert posts m to the alert channel, with its CSV attached in its
// thread, and returns its ts.
func (n *Notifier) postAlert(ctx context.Context, m Message) (string, error) {
	ts, err := n.p.post(ctx, n.alertChannel, "", m)
	if err != nil {
		return "", err
	}
	if m.CSV != nil {
		if err := n.p.upload(ctx, n.alertChannel, ts, m.CSV); err != nil {
			n.log.WarnContext(ctx, "attach alert CSV", "err", err)
		}
	}
	return ts, nil
}

// messageGone reports whether err is Slack saying the message or thread
// no longer exists (a person deleted it).
func messageGone(err error) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "thread_not_found")
}

func (n *Notifier) resolve(ctx context.Context, s *syncer.Summary, at time.Time) error {
	resolved, err := n.alerts.ResolveAlerts(ctx, s.Job, at)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range resolved {
		if a.TS == "" {
			continue
		}
		latest := &syncer.Summary{Job: a.Job, RunID: a.LastRunID()}
		if a.LastRunID() != "" {
			if got, err := n.alerts.GetRun(ctx, a.LastRunID()); err == nil && got != nil {
				latest = got
			}
		}
		view := AlertView{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt,
			ResolvedAt: at, ResolvedBy: s.RunID, Latest: latest}
		if err := n.p.update(ctx, a.Channel, a.TS, RenderAlert(view)); !messageGone(err) {
			errs = append(errs, err) // a deleted alert has nothing to mark resolved
		}
	}
	return errors.Join(errs...)
}

// RequestApproval posts a mass-deletion approval to the alert channel: the
// deletions a run held back as the stored plan p, with Apply / Discard and
// the full list attached as CSV.
func (n *Notifier) RequestApproval(ctx context.Context, p *syncer.StoredPlan, s *syncer.Summary) error {
	m := RenderApproval(p, s)
	ts, err := n.p.post(ctx, n.alertChannel, "", m)
	if err != nil {
		return fmt.Errorf("request approval of plan %s: %w", p.ID, err)
	}
	if err := n.p.upload(ctx, n.alertChannel, ts, m.CSV); err != nil {
		return fmt.Errorf("request approval of plan %s: %w", p.ID, err)
	}
	return nil
}

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
	ResolveAlerts(ctx context.Context, job syncer.Job, at time.Time) ([]syncer.Alert, error)
	// GetRun reads a stored run, so that a resolved alert keeps showing
	// its last failure; GetPlan reads the plan of held deletions.
	GetRun(ctx context.Context, runID string) (*syncer.Summary, error)
	GetPlan(ctx context.Context, id string) (*syncer.StoredPlan, error)
	StatusStore
	IncrementalStore
}

// StatusStore keeps the quiet-runs status message of a channel: its
// counts, its ts, and the claims by which one replica posts it and at most
// one edits it per StatusEditInterval. *store.DB satisfies it.
type StatusStore interface {
	CountQuietRun(ctx context.Context, channel string, q syncer.QuietRun, now time.Time) error
	EndQuietRuns(ctx context.Context, channel string, job syncer.Job, now time.Time) error
	QuietRuns(ctx context.Context, channel string) ([]syncer.QuietRun, error)
	ClaimStatusPost(ctx context.Context, channel string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseStatusPost(ctx context.Context, channel string) error
	SetStatusMessage(ctx context.Context, channel, ts string, shown time.Time) error
	ClaimStatusEdit(ctx context.Context, channel string, now, notBefore time.Time) (ts string, ok bool, err error)
	StatusShown(ctx context.Context, channel, ts string, shown time.Time) error
	ForgetStatusMessage(ctx context.Context, channel, ts string) error
}

// StatusEditInterval is how often, at most, the quiet-runs status message
// is edited, across all replicas: quiet runs in between (a burst of case
// pushes) only add to its counts in the database, and the next edit shows
// them all. chat.update is a Tier 3 method (Tier3PerMinute), shared with
// the alerts.
const StatusEditInterval = time.Minute

// statusCheck is how often Run looks for counts that the status message
// does not show yet, and how often a quiet run tries an edit itself.
const statusCheck = StatusEditInterval / 4

// AlertRepeatInterval is how often, at most, a replica replies in an open
// alert's thread and edits its count for repeats of the failure: repeats in
// between (a burst of failing case pushes) only count, in the database, and
// the next reply — a later repeat's, or Run's — says how many there were.
// chat.postMessage allows about one message a second a channel
// (PostMessageInterval).
const AlertRepeatInterval = time.Minute

// statusPostClaim is how long a replica's claim to post the status message
// holds: if it dies before posting, another posts after this.
const statusPostClaim = 30 * time.Second

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

// alertKey is what alerts are grouped by.
type alertKey struct {
	job  syncer.Job
	code syncer.Code
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
	changed := s.Created+s.Updated+s.Deleted > 0
	quiet := slices.Contains(n.quietJobs, s.Job)
	switch {
	case code == syncer.CodeAPIReserve || code != syncer.CodeNone && quiet:
		// A run skipped to leave Salesforce's API reserve did nothing to
		// summarize, and a failed case push is one ticket: their grouped
		// alert says it all, once, not every time.
		errs = append(errs, n.store.EndQuietRuns(ctx, n.summaryChannel, s.Job, n.now()))
	case code != syncer.CodeNone || changed && !quiet:
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

// Alert raises an alert with s's code and message, grouped like the
// others, without a run summary: the freshness alarm (code 14: s.Job has
// not succeeded for too long), resolved by the job's next successful run,
// or a dependency down as serve starts, resolved by Resolve.
func (n *Notifier) Alert(ctx context.Context, s *syncer.Summary) error {
	return n.alert(ctx, s, s.Code, n.now())
}

// Resolve resolves the open alerts of job (a dependency that answers
// again).
func (n *Notifier) Resolve(ctx context.Context, job syncer.Job) error {
	return n.resolve(ctx, &syncer.Summary{Job: job}, n.now())
}

// quietRun counts a quiet run in the database and, unless this process
// tried within statusCheck, edits (or first posts) the status message if
// it may.
func (n *Notifier) quietRun(ctx context.Context, s *syncer.Summary, at time.Time) error {
	q := syncer.QuietRun{Job: s.Job, Last: at, RunID: s.RunID}
	for _, sc := range s.SilentCounts() {
		q.Silent += sc.Count
	}
	now := n.now()
	if err := n.store.CountQuietRun(ctx, n.summaryChannel, q, now); err != nil {
		return err
	}
	n.mu.Lock()
	due := !n.posted || !now.Before(n.tried.Add(statusCheck))
	n.mu.Unlock()
	if !due {
		return nil // Run shows it within StatusEditInterval
	}
	return n.flushStatus(ctx, true)
}

// Run edits the quiet-runs status message with counts that it does not
// show yet (runs counted while the edit interval was closed), at most once
// a StatusEditInterval across replicas, and shows the repeats of alerts
// that only counted (FlushAlerts), until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTicker(statusCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.FlushStatus(ctx); err != nil {
				n.log.WarnContext(ctx, "edit quiet-runs message", "err", err)
			}
			if err := n.FlushAlerts(ctx); err != nil {
				n.log.WarnContext(ctx, "show alert repeats", "err", err)
			}
		}
	}
}

// FlushStatus edits the quiet-runs status message if its counts changed
// since it was last edited and StatusEditInterval has passed since then,
// on whichever replica claims the edit first.
func (n *Notifier) FlushStatus(ctx context.Context) error {
	return n.flushStatus(ctx, false)
}

// flushStatus edits the status message when this replica may; with post,
// it posts the message when there is none yet.
func (n *Notifier) flushStatus(ctx context.Context, post bool) error {
	now := n.now()
	n.mu.Lock()
	n.tried = now
	posted := n.posted
	n.mu.Unlock()
	ch := n.summaryChannel
	ts, ok, err := n.store.ClaimStatusEdit(ctx, ch, now, now.Add(-StatusEditInterval))
	switch {
	case err != nil:
		return err
	case ok:
		m, err := n.quietMessage(ctx)
		if err == nil {
			err = n.p.at(PriorityStatus).update(ctx, ch, ts, m)
		}
		if err == nil {
			return n.store.StatusShown(ctx, ch, ts, now)
		}
		if !messageGone(err) {
			return err
		}
		n.log.WarnContext(ctx, "quiet-runs message is gone; posting a new one")
		if err := n.store.ForgetStatusMessage(ctx, ch, ts); err != nil {
			return err
		}
	case !post || posted:
		return nil
	}
	claimed, err := n.store.ClaimStatusPost(ctx, ch, now, statusPostClaim)
	if err != nil || !claimed {
		n.mu.Lock()
		n.posted = err == nil // it exists, or another replica is posting it
		n.mu.Unlock()
		return err
	}
	m, err := n.quietMessage(ctx)
	if err == nil {
		ts, err = n.p.at(PriorityStatus).post(ctx, ch, "", m)
	}
	if err != nil {
		return errors.Join(err, n.store.ReleaseStatusPost(context.WithoutCancel(ctx), ch))
	}
	n.mu.Lock()
	n.posted = true
	n.mu.Unlock()
	return n.store.SetStatusMessage(ctx, ch, ts, now)
}

// quietMessage renders the status message from the counts in the store.
func (n *Notifier) quietMessage(ctx context.Context) (Message, error) {
	runs, err := n.store.QuietRuns(ctx, n.summaryChannel)
	if err != nil {
		return Message{}, err
	}
	slices.SortFunc(runs, func(a, b syncer.QuietRun) int { return jobOrder(a.Job) - jobOrder(b.Job) })
	return RenderQuiet(runs), nil
}

func jobOrder(j syncer.Job) int {
	order := []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCaseSweep, syncer.JobCases}
	if i := slices.Index(order, j); i >= 0 {
		return i
	}
	return len(order)
}

func (n *Notifier) alert(ctx context.Context, s *syncer.Summary, code syncer.Code, at time.Time) error {
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	p := n.p.at(PriorityAlert)
	a, open, err := n.store.OpenAlert(ctx, s.Job, code)
	if err != nil {
		return err
	}
	if open {
		a.Count++
		a.LastAt = at
		a.RunIDs = append(a.RunIDs, s.RunID)
		view := AlertView{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, Latest: s}
		key, now := alertKey{s.Job, code}, n.now()
		if a.TS != "" && now.Before(n.shown[key].Add(AlertRepeatInterval)) {
			n.pending[key] = true // shown by a later repeat, or by FlushAlerts
			return n.store.SaveAlert(ctx, a)
		}
		n.shown[key] = now
		delete(n.pending, key)
		if a.TS != "" {
			_, perr := p.post(ctx, a.Channel, a.TS, RenderAlertReply(view))
			uerr := p.update(ctx, a.Channel, a.TS, RenderAlert(view))
			if !messageGone(perr) && !messageGone(uerr) {
				return errors.Join(perr, uerr, n.store.SaveAlert(ctx, a))
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
		return n.store.SaveAlert(ctx, a)
	}
	view := AlertView{Job: s.Job, Code: code, Count: 1, FirstAt: at, LastAt: at, Latest: s}
	ts, err := n.postAlert(ctx, RenderAlert(view))
	if err != nil {
		return err
	}
	n.shown[alertKey{s.Job, code}] = n.now()
	err = n.store.SaveAlert(ctx, &syncer.Alert{Job: s.Job, Code: code, Channel: n.alertChannel, TS: ts, Count: 1,
		FirstAt: at, LastAt: at, RunIDs: []string{s.RunID}})
	if errors.Is(err, syncer.ErrAlertOpen) {
		// Another replica opened it at the same moment; both messages
		// stand, the stored one groups what follows.
		n.log.WarnContext(ctx, "alert opened concurrently", "job", s.Job, "code", int(code))
		return nil
	}
	return err
}

// FlushAlerts shows the repeats of open alerts that only counted (they came
// within AlertRepeatInterval of the alert's last reply on this replica):
// one reply in the alert's thread with the count so far and the latest
// failure, and the alert edited, once the interval has passed.
func (n *Notifier) FlushAlerts(ctx context.Context) error {
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	now := n.now()
	var errs []error
	for key := range n.pending {
		if now.Before(n.shown[key].Add(AlertRepeatInterval)) {
			continue
		}
		delete(n.pending, key)
		a, open, err := n.store.OpenAlert(ctx, key.job, key.code)
		if err != nil || !open || a.TS == "" {
			errs = append(errs, err)
			continue
		}
		n.shown[key] = now
		latest := &syncer.Summary{Job: a.Job, RunID: a.LastRunID()}
		if got, err := n.store.GetRun(ctx, a.LastRunID()); err == nil && got != nil {
			latest = got
		}
		view := AlertView{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, Latest: latest}
		p := n.p.at(PriorityAlert)
		_, perr := p.post(ctx, a.Channel, a.TS, RenderAlertReply(view))
		errs = append(errs, perr, p.update(ctx, a.Channel, a.TS, RenderAlert(view)))
	}
	return errors.Join(errs...)
}

// postAlert posts m to the alert channel, with its CSV attached in its
// thread, and returns its ts.
func (n *Notifier) postAlert(ctx context.Context, m Message) (string, error) {
	p := n.p.at(PriorityAlert)
	ts, err := p.post(ctx, n.alertChannel, "", m)
	if err != nil {
		return "", err
	}
	if m.CSV != nil {
		if err := p.upload(ctx, n.alertChannel, ts, m.CSV); err != nil {
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
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	resolved, err := n.store.ResolveAlerts(ctx, s.Job, at)
	if err != nil {
		return err
	}
	for key := range n.pending {
		if key.job == s.Job {
			delete(n.pending, key)
		}
	}
	var errs []error
	for _, a := range resolved {
		if a.TS == "" {
			continue
		}
		latest := &syncer.Summary{Job: a.Job, RunID: a.LastRunID()}
		if a.LastRunID() != "" {
			if got, err := n.store.GetRun(ctx, a.LastRunID()); err == nil && got != nil {
				latest = got
			}
		}
		view := AlertView{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt,
			ResolvedAt: at, ResolvedBy: s.RunID, Latest: latest}
		if err := n.p.at(PriorityAlert).update(ctx, a.Channel, a.TS, RenderAlert(view)); !messageGone(err) {
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

// Package app is zdsync's application core: one Core runs any job by name
// — a sync job (full or incremental), the apply of a stored plan, an
// undo, a case push, the parity sweep — for every caller alike (the
// scheduler, slash commands and buttons, the CLI, the push queue). Around
// the job itself (package syncer) it takes the job's run lock, so that a
// job runs at most once at a time across replicas; skips a scheduled run
// when Salesforce's API allowance is below the reserve; saves the run's
// summary; and hands it to the reporters (Slack, metrics). It also answers
// /zdsync status, explain and history (oncall.go), raises the freshness
// alarm (freshness.go), and watches the dependencies serve starts without,
// logging in to Salesforce lazily (connect.go).
//
// A new kind of run is a case of Core.job; a new reporter implements
// Reporter.
package app

import (
	"cmp"
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// Store is what the core needs of persistence. *store.DB implements it.
type Store interface {
	SaveRun(ctx context.Context, s *syncer.Summary) error
	ListRuns(ctx context.Context, job syncer.Job, limit int) ([]syncer.Summary, error)
	LastSuccessfulRun(ctx context.Context, job syncer.Job) (*syncer.Summary, bool, error)
	GetPlan(ctx context.Context, id string) (*syncer.StoredPlan, error)
	DiscardPlan(ctx context.Context, id, by string, at time.Time) error
	Pushes(ctx context.Context, statuses ...syncer.PushStatus) ([]syncer.PushRecord, error)
	PushHistory(ctx context.Context, ticketID int64) ([]syncer.PushRecord, error)
	OpenAlerts(ctx context.Context) ([]syncer.Alert, error)
	OpenAlert(ctx context.Context, job syncer.Job, code syncer.Code) (*syncer.Alert, bool, error)
	PendingDeletions(ctx context.Context, scope syncer.Scope) ([]syncer.PendingDeletion, error)
	History
	// LatestRun and Watermark read the runs and watermark of a job's
	// incremental runs (and its latest full run).
	LatestRun(ctx context.Context, job syncer.Job, incremental bool) (*syncer.Summary, bool, error)
	Watermark(ctx context.Context, job syncer.Job) (syncer.Watermark, bool, error)
	Locks
}

// Locks are the leases behind the run lock (see syncer.RunLock).
type Locks interface {
	AcquireRunLock(ctx context.Context, l syncer.RunLock, now time.Time) (bool, syncer.RunLock, error)
	RenewRunLock(ctx context.Context, l syncer.RunLock) error
	ReleaseRunLock(ctx context.Context, l syncer.RunLock) error
}

// Reporter is told about every run the core finished: the Slack notifier
// posts summaries and alerts, the metrics count it. It is called after the
// summary is saved; dry runs are reported too (a reporter may ignore
// them). A run refused because another is in progress is not reported.
type Reporter interface {
	Report(ctx context.Context, s *syncer.Summary)
}

// Schedule tells the status which jobs run on a schedule (the scheduler
// implements it).
type Schedule interface {
	JobStatuses() []syncer.JobStatus
}

// lockTTL is how long a run lock holds without renewal: a replica that
// dies mid-run frees its job this long after its last renewal. A running
// job renews it every lockTTL/3.
const lockTTL = 90 * time.Second

// pushLockTTL is lockTTL for the lock of one ticket's case push: a replica
// that dies mid-push frees its ticket this soon, before the push queue
// rescues the push (pushqueue.Timing.RescueAfter), so that the rescued
// push runs at once.
const pushLockTTL = 30 * time.Second

// ttl is how long the run lock of req holds without renewal.
func ttl(req syncer.Request) time.Duration {
	if req.Job == syncer.JobCases {
		return pushLockTTL
	}
	return lockTTL
}

// incrementalWait bounds how long a full run waits for its job's lock
// while an incremental run holds it (the incremental run of the same
// minute, most often: seconds), rather than being refused.
const incrementalWait = 10 * time.Minute

// recentAllowanceAge is how old the API allowance Salesforce last reported
// (in every answer's Sforce-Limit-Info) may be for a scheduled incremental
// run to be judged against the reserve without a request of its own.
const recentAllowanceAge = 15 * time.Minute

// Core runs jobs by name. Runner, Pusher, Sweeper and Store are needed by
// the runs that use them; the other fields are optional.
type Core struct {
	Runner  *syncer.Runner
	Pusher  *syncer.Pusher
	Sweeper *syncer.Sweeper
	Store   Store
	// Allowance reads Salesforce's remaining API allowance; Reserve
	// (SALESFORCE_API_RESERVE, a share from 0 to 1) is what scheduled full
	// runs leave to other integrations. A nil Allowance checks nothing.
	Allowance syncer.AllowanceReader
	Reserve   float64
	// Reporters are told about every finished run.
	Reporters []Reporter
	// Schedule lists the scheduled jobs for Status; nil lists none.
	Schedule Schedule
	// LockPoll is how often a full run waiting for an incremental run's
	// lock tries again (0: every second).
	LockPoll time.Duration
	Log      *slog.Logger
}

// Run runs one request and returns its summary: the job's own, or one that
// says why it did not run (another run of the job in progress, code 16; a
// scheduled run skipped for the API reserve, code 19; an invalid request,
// code 17). A refused run (Summary.Refused: a run in progress, a stored
// plan that cannot be applied) is answered only: never reported, and saved
// only when it is the apply of a known plan, under the plan's job. A quiet
// incremental run (Summary.QuietIncremental) is counted, neither saved nor
// posted; every other run is saved and reported. A full run waits for an
// incremental run of the same job to end; an incremental run meeting any
// other run of its job is refused.
func (c *Core) Run(ctx context.Context, req syncer.Request) *syncer.Summary {
	req = c.resolve(ctx, req)
	log := c.log().With("job", req.Job, "by", req.By)
	if req.Incremental {
		log = log.With("incremental", true)
	}
	if s := c.belowReserve(ctx, req); s != nil {
		s.By = req.By
		return c.finish(ctx, log, s)
	}
	if !req.DryRun && req.Job != "" { // an unknown plan has no job: it fails at once
		release, busy := c.lock(ctx, req, log)
		if busy != nil {
			log.Info("run refused: another is in progress", "message", busy.Message)
			busy.Refused = true
			return c.planRefusal(ctx, req, busy)
		}
		defer release()
	}
	level := slog.LevelInfo
	if req.Incremental {
		level = slog.LevelDebug // every minute: its end says what it did
	}
	log.Log(ctx, level, "run started", "dry_run", req.DryRun, "account", req.Account, "plan_id", req.PlanID, "ticket_id", req.TicketID)
	s := c.job(ctx, req)
	s.By = req.By
	if req.PlanID != "" && !c.appliedBy(ctx, s) {
		s.Refused = true
		log.Info("stored plan not applied", "plan_id", req.PlanID, "message", s.Message)
		if s.Job != "" {
			c.save(ctx, log, s)
		}
		return s
	}
	return c.finish(ctx, log, s)
}

// appliedBy reports whether the run s applied its stored plan (it may have
// failed doing so): false when the plan could not be applied at all
// (unknown, discarded, expired, or applied by another run, on any
// replica).
func (c *Core) appliedBy(ctx context.Context, s *syncer.Summary) bool {
	if s.Code != syncer.CodePlanStale {
		return true // applied (a refused plan fails with code 11)
	}
	p, err := c.Store.GetPlan(ctx, s.PlanID)
	return err == nil && p.AppliedRun == s.RunID
}

// planRefusal turns the refusal of the apply of a stored plan whose job is
// busy into the plan's own refusal when the plan cannot be applied any
// more (another press applied it): "already applied by … at …".
func (c *Core) planRefusal(ctx context.Context, req syncer.Request, busy *syncer.Summary) *syncer.Summary {
	if req.PlanID == "" {
		return busy
	}
	p, err := c.Store.GetPlan(ctx, req.PlanID)
	if err != nil {
		return busy
	}
	if err := syncer.PlanApplicable(p, time.Now()); err != nil {
		s := c.refused(req, err)
		s.Refused = true
		return s
	}
	return busy
}

// job runs the job of a request: the one place that knows every kind of
// run.
func (c *Core) job(ctx context.Context, req syncer.Request) *syncer.Summary {
	switch {
	case req.PlanID != "":
		return c.Runner.ApplyPlan(ctx, req.PlanID, req.By)
	case req.UndoOf != "":
		return c.Runner.Undo(ctx, req.UndoOf, req.UndoRecord, req.Options)
	case req.Job == syncer.JobCases:
		return c.Pusher.Push(ctx, req.TicketID, req.Event)
	case req.Job == syncer.JobCaseSweep && req.DryRun:
		return c.refused(req, syncer.Errorf(syncer.CodeInvalidInput, "the case sweep has no dry run: it only enqueues pushes"))
	case req.Job == syncer.JobCaseSweep:
		return c.Sweeper.Run(ctx)
	case req.Job.IsSync():
		return c.Runner.Run(ctx, req.Job, req.Options)
	}
	return c.refused(req, syncer.Errorf(syncer.CodeInvalidInput, "unknown job %q", req.Job))
}

// Push pushes one ticket event for the push queue (pushqueue.Pusher).
func (c *Core) Push(ctx context.Context, ticketID int64, event syncer.Event) *syncer.Summary {
	return c.Run(ctx, syncer.Request{Job: syncer.JobCases, TicketID: ticketID, Event: event, Options: syncer.Options{By: syncer.ByQueue}})
}

// resolve completes a request: the job of a stored plan, and the event of
// a case push that names none (the ticket's last event, else created).
func (c *Core) resolve(ctx context.Context, req syncer.Request) syncer.Request {
	if req.PlanID != "" {
		if p, err := c.Store.GetPlan(ctx, req.PlanID); err == nil {
			req.Job = p.Job
		}
	}
	if req.UndoOf != "" && req.PlanID == "" {
		req.Job = "" // the undone run's, or none: an unknown run fails at once
		if r, err := c.Store.GetRun(ctx, req.UndoOf); err == nil && r.Job.IsSync() {
			req.Job = r.Job
		}
	}
	if req.Job == syncer.JobCases && req.Event == "" {
		req.Event = syncer.EventCreated
		if hist, err := c.Store.PushHistory(ctx, req.TicketID); err == nil && len(hist) > 0 {
			req.Event = hist[len(hist)-1].Event
		}
	}
	return req
}

// finish saves a run's summary (a quiet incremental run's is only
// counted) and hands it to the reporters.
func (c *Core) finish(ctx context.Context, log *slog.Logger, s *syncer.Summary) *syncer.Summary {
	ctx = context.WithoutCancel(ctx)
	quiet := s.QuietIncremental()
	if !quiet {
		c.save(ctx, log, s)
	}
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelDebug
	}
	log.Log(ctx, level, "run finished", "run_id", s.RunID, "ok", s.OK(), "code", int(s.Code), "created", s.Created, "updated", s.Updated,
		"deleted", s.Deleted, "unchanged", s.Unchanged, "skipped", s.Skipped, "failed", s.Failed, "duration_ms", s.DurationMS)
	for _, r := range c.Reporters {
		r.Report(ctx, s)
	}
	return s
}

// save saves a run's summary; a run whose summary cannot be saved fails
// with code 13.
func (c *Core) save(ctx context.Context, log *slog.Logger, s *syncer.Summary) {
	if err := c.Store.SaveRun(context.WithoutCancel(ctx), s); err != nil {
		log.Error("save run", "run_id", s.RunID, "err", err)
		if s.Code == syncer.CodeNone {
			s.Fail(syncer.Errorf(syncer.CodeInternal, "the run's summary could not be stored: %v", err))
		}
	}
}

// refused is the summary of a request that did not run, with err's code.
func (c *Core) refused(req syncer.Request, err error) *syncer.Summary {
	s := syncer.NewSummary(req.Job, time.Now())
	s.DryRun, s.Account, s.PlanID = req.DryRun, req.Account, req.PlanID
	if req.Incremental {
		s.Incremental = &syncer.IncrementalRun{Since: req.Since}
	}
	s.Fail(err)
	s.Finish(time.Now())
	return s
}

// lockName is the run lock of a request: its job's, or for a case push
// its ticket's (pushes of different tickets run side by side).
func lockName(req syncer.Request) string {
	if req.Job == syncer.JobCases {
		return string(syncer.JobCases) + "/ticket " + strconv.FormatInt(req.TicketID, 10)
	}
	return string(req.Job)
}

// lock takes the run lock of a request and keeps it renewed until release
// is called. When another run holds it, it returns that run's refusal
// (code 16, naming who started it and when) instead — after waiting up to
// incrementalWait when the request is a full run and the holder an
// incremental one. A lock that cannot be read (the database is down) lets
// the run go: the run then fails on the same database, with a clearer
// error.
func (c *Core) lock(ctx context.Context, req syncer.Request, log *slog.Logger) (release func(), busy *syncer.Summary) {
	now := time.Now()
	l := syncer.RunLock{Name: lockName(req), Holder: syncer.NewID(now), By: req.By, Since: now, Expires: now.Add(ttl(req)), Incremental: req.Incremental}
	ok, held, err := c.Store.AcquireRunLock(ctx, l, now)
	for deadline := now.Add(incrementalWait); err == nil && !ok && held.Incremental && !req.Incremental && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return nil, c.refused(req, syncer.Errorf(syncer.CodeRunInProgress, "%s: gave up waiting for its incremental run: %v", l.Name, ctx.Err()))
		case <-time.After(cmp.Or(c.LockPoll, time.Second)):
		}
		now = time.Now()
		l.Since, l.Expires = now, now.Add(lockTTL)
		ok, held, err = c.Store.AcquireRunLock(ctx, l, now)
	}
	switch {
	case err != nil:
		log.Warn("run lock unavailable; running without it", "lock", l.Name, "err", err)
		return func() {}, nil
	case !ok:
		return nil, c.refused(req, syncer.Errorf(syncer.CodeRunInProgress, "%s is already running: started %s%s; wait for it to finish",
			l.Name, held.Since.UTC().Format("2006-01-02 15:04:05 UTC"), syncer.ByWhom(held.By)))
	}
	renewing, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.renew(context.WithoutCancel(ctx), renewing, l, ttl(req), log)
	}()
	return func() {
		stop()
		<-done
		if err := c.Store.ReleaseRunLock(context.WithoutCancel(ctx), l); err != nil {
			log.Warn("release run lock", "lock", l.Name, "err", err)
		}
	}, nil
}

// renew renews a run lock for ttl every ttl/3, each renewal on ctx, until
// stop ends.
func (c *Core) renew(ctx, stop context.Context, l syncer.RunLock, ttl time.Duration, log *slog.Logger) {
	syncer.Every(stop, ttl/3, func() {
		l.Expires = time.Now().Add(ttl)
		if err := c.Store.RenewRunLock(ctx, l); err != nil {
			log.Error("renew run lock", "lock", l.Name, "err", err)
		}
	})
}

// belowReserve skips a scheduled sync run — full or incremental — when
// Salesforce's remaining daily API allowance is below the reserve, and
// returns the skipped run's summary (code 19: one alert, grouped like the
// others, resolved by the job's next successful run); nil when the run may
// go. A full run reads the allowance (one request); an incremental run,
// every minute, judges by what Salesforce last reported in its answers,
// and goes when that is unknown or older than recentAllowanceAge. An
// allowance that cannot be read lets the run go.
func (c *Core) belowReserve(ctx context.Context, req syncer.Request) *syncer.Summary {
	if c.Allowance == nil || req.By != syncer.BySchedule || !req.Job.IsSync() || req.Account != "" || req.DryRun || req.PlanID != "" {
		return nil
	}
	var a syncer.APIAllowance
	if req.Incremental {
		last, at, known := c.Allowance.LastAllowance()
		if !known || time.Since(at) > recentAllowanceAge {
			return nil
		}
		a = last
	} else {
		var err error
		if a, err = c.Allowance.APIAllowance(ctx); err != nil {
			c.log().Warn("read Salesforce API allowance; running anyway", "job", req.Job, "err", err)
			return nil
		}
	}
	if a.Max <= 0 || float64(a.Remaining) >= c.Reserve*float64(a.Max) {
		return nil
	}
	return c.refused(req, syncer.Errorf(syncer.CodeAPIReserve,
		"Salesforce API allowance below the reserve: %d of %d daily requests left, the reserve is %s (%d); the scheduled run was skipped",
		a.Remaining, a.Max, percent(c.Reserve), int(c.Reserve*float64(a.Max))))
}

// percent renders a share as a percentage ("10%").
func percent(share float64) string {
	return strconv.FormatFloat(share*100, 'f', -1, 64) + "%"
}

func (c *Core) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// DiscardPlan marks the stored plan id discarded by by.
func (c *Core) DiscardPlan(ctx context.Context, id, by string) error {
	return c.Store.DiscardPlan(ctx, id, by, time.Now())
}

// Plan returns the stored plan id.
func (c *Core) Plan(ctx context.Context, id string) (*syncer.StoredPlan, error) {
	return c.Store.GetPlan(ctx, id)
}

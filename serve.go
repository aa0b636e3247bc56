package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/metrics"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
)

// shutdownGrace bounds how long serve takes to stop after SIGTERM:
// Kubernetes waits 30 s (terminationGracePeriodSeconds) before SIGKILL.
const shutdownGrace = 25 * time.Second

// server is `zdsync serve`: the bot, the scheduler, the push queue and the
// HTTP endpoints over one App. It implements commands.Service.
type server struct {
	app      *App
	log      *slog.Logger
	notifier *bot.Notifier
	sched    *bot.Scheduler
	queue    *pushqueue.Queue
	sweeper  *syncer.Sweeper
	bot      *bot.Bot
	metrics  *metrics.Metrics
	elector  *store.Elector
	// freshness is FRESHNESS_MAX_AGE; started is when serve started (a
	// job that never succeeded is stale that long after the start).
	freshness time.Duration
	started   time.Time
	schedules bot.Schedules
}

// needServe checks the variables serve needs beyond the jobs'.
func (c *Config) needServe() error {
	return need([2]string{"SLACK_BOT_TOKEN", c.SlackBotToken}, [2]string{"SLACK_APP_TOKEN", c.SlackAppToken},
		[2]string{"SLACK_SUMMARY_CHANNEL", c.SlackSummaryChannel}, [2]string{"SLACK_ALERT_CHANNEL", c.SlackAlertChannel},
		[2]string{"ZENDESK_WEBHOOK_SECRET", c.ZendeskWebhookSecret})
}

// runServe runs the bot: Slack Socket Mode, the scheduler, the push queue
// and HTTP (webhooks, /healthz, /readyz), until ctx ends (SIGTERM); then it
// stops within shutdownGrace.
func (m *Main) runServe(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usagef("usage: zdsync serve (configuration comes from the environment)")
	}
	cfg, err := m.config(ctx)
	if err != nil {
		return err
	}
	if err := cfg.needServe(); err != nil {
		return err
	}
	writers, groups, err := commands.ParseWriters(strings.Join(cfg.SlackWriters, ","))
	if err != nil {
		return usagef("configuration: SLACK_WRITERS: %s", err)
	}
	schedules := bot.Schedules{GlobalOrgs: cfg.ScheduleGlobalOrgs, Federal: cfg.ScheduleFederal, CaseSweep: cfg.ScheduleCaseSweep}
	// Check the cron expressions now: a malformed one is a configuration
	// error (exit 2) before any network call, not after the logins.
	if err := schedules.Validate(); err != nil {
		return usagef("configuration: %s", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return usagef("configuration: HTTP_ADDR %q: %s", cfg.HTTPAddr, err)
	}
	defer ln.Close()

	app, err := m.app(ctx, cfg, syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCases)
	if err != nil {
		return err
	}
	s := &server{app: app, log: app.Log, metrics: app.Metrics, freshness: cfg.FreshnessMaxAge, started: time.Now()}

	slackHTTP := &http.Client{Timeout: cfg.HTTPTimeout}
	api := bot.NewClient(cfg.SlackBotToken, cfg.SlackAppToken, cfg.SlackAPIURL, slackHTTP)
	if s.notifier, err = bot.NewNotifier(bot.NotifierConfig{API: api, SummaryChannel: cfg.SlackSummaryChannel,
		AlertChannel: cfg.SlackAlertChannel, Alerts: app.DB, Logger: app.Log}); err != nil {
		return usagef("configuration: %s", err)
	}
	if s.elector, err = app.DB.NewElector("zdsync-scheduler", store.ElectorLogger(app.Log)); err != nil {
		return fmt.Errorf("scheduler leader election: %w", err)
	}
	defer s.elector.Close()
	schedOpts := []gocron.SchedulerOption{gocron.WithDistributedElector(s.elector)}
	s.schedules = schedules
	if s.sched, err = bot.NewScheduler(bot.SchedulerConfig{Schedules: schedules, Run: s.scheduled, Options: schedOpts, Logger: app.Log}); err != nil {
		return usagef("configuration: %s", err)
	}
	if s.queue, err = pushqueue.New(ctx, app.DB, app.Pusher, pushqueue.Config{Logger: app.Log, Done: s.pushed}); err != nil {
		return err
	}
	s.sweeper = &syncer.Sweeper{Zendesk: app.Global, Salesforce: app.SF, Cursors: app.DB, Queue: s.queue, Log: app.DB, Logger: app.Log}

	auth := commands.NewAuthorizer(writers, groups, bot.GroupMembers{API: api}, 0, nil)
	cmds := commands.New(commands.Config{Service: s, Authorizer: auth, Auditor: app.DB, Logger: app.Log})
	if s.bot, err = bot.New(bot.Config{BotToken: cfg.SlackBotToken, AppToken: cfg.SlackAppToken, APIURL: cfg.SlackAPIURL,
		HTTPClient: slackHTTP, Commands: cmds, Logger: app.Log}); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.metrics.SetLeaderFunc(s.elector.Leading)
	s.metrics.SetQueueFunc(func() (int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := s.queue.Counts(ctx)
		if err != nil {
			return -1, 0
		}
		return c.Queued, c.OldestQueued
	})
	for _, job := range append(slices.Clone(syncer.SyncJobs), syncer.JobCaseSweep) {
		if last, ok, err := app.DB.LastSuccessfulRun(ctx, job); err == nil && ok {
			s.metrics.SetLastSuccess(job, last.FinishedAt)
		}
	}
	mux.Handle("POST "+zendesk.WebhookPath, zendesk.NewWebhookHandler(cfg.ZendeskWebhookSecret, s.queue, app.Log))
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 2)
	go func() {
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	botDone := make(chan error, 1)
	go func() { botDone <- s.bot.Run(runCtx) }()
	if err := s.queue.Start(runCtx); err != nil {
		return err
	}
	s.sched.Start()
	go s.watchFreshness(runCtx)
	app.Log.Info("zdsync serving", "http_addr", ln.Addr().String(), "database", app.DB.Backend())
	if m.Ready != nil {
		m.Ready <- ln.Addr().String()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	case runErr = <-botDone:
		botDone <- runErr
	}
	app.Log.Info("zdsync stopping")
	stop()
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := s.sched.Shutdown(); err != nil {
		app.Log.Warn("scheduler shutdown", "err", err)
	}
	if err := httpSrv.Shutdown(shut); err != nil {
		app.Log.Warn("http shutdown", "err", err)
	}
	if err := s.queue.Stop(shut); err != nil {
		app.Log.Warn("queue shutdown", "err", err)
	}
	select {
	case <-botDone:
	case <-shut.Done():
		app.Log.Warn("slack bot did not stop in time")
	}
	return runErr
}

// ready answers /readyz: ready when the database answers and Slack is
// connected.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	dbErr := s.app.DB.Ping(ctx)
	slackUp := s.bot != nil && s.bot.Connected()
	s.metrics.SetReady("database", dbErr == nil)
	s.metrics.SetReady("slack", slackUp)
	switch {
	case dbErr != nil:
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
	case !slackUp:
		http.Error(w, "slack not connected", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ready")
	}
}

// report tells Slack about a finished run: a summary, an alert, or the
// quiet-run status; and asks for approval of deletions it held.
func (s *server) report(ctx context.Context, sum *syncer.Summary) {
	ctx = context.WithoutCancel(ctx)
	s.metrics.ObserveRun(sum)
	if err := s.notifier.Notify(ctx, sum); err != nil {
		s.log.Error("notify slack", "run_id", sum.RunID, "err", err)
	}
	if sum.HeldPlanID == "" {
		return
	}
	p, err := s.app.DB.GetPlan(ctx, sum.HeldPlanID)
	if err == nil {
		err = s.notifier.RequestApproval(ctx, p, sum)
	}
	if err != nil {
		s.log.Error("request approval", "plan_id", sum.HeldPlanID, "err", err)
	}
}

// run runs one job (the sweep included) and reports it.
func (s *server) run(ctx context.Context, job syncer.Job, opts syncer.Options) *syncer.Summary {
	var sum *syncer.Summary
	if job == syncer.JobCaseSweep {
		sum = s.sweeper.Run(ctx)
		if opts.DryRun {
			sum.DryRun = true
		}
		if err := s.app.DB.SaveRun(context.WithoutCancel(ctx), sum); err != nil {
			s.log.Error("save run", "run_id", sum.RunID, "err", err)
		}
	} else {
		sum = s.app.Runner.Run(ctx, job, opts)
	}
	if !sum.DryRun {
		s.report(ctx, sum)
	}
	return sum
}

// scheduled is the scheduler's RunFunc.
func (s *server) scheduled(ctx context.Context, job syncer.Job) (*syncer.Summary, error) {
	return s.run(ctx, job, syncer.Options{By: "schedule"}), nil
}

// pushed is called by the queue after every case push.
func (s *server) pushed(ctx context.Context, sum *syncer.Summary) {
	if err := s.app.DB.SaveRun(context.WithoutCancel(ctx), sum); err != nil {
		s.log.Error("save run", "run_id", sum.RunID, "err", err)
	}
	s.report(ctx, sum)
}

// SyncAccount implements commands.Service.
func (s *server) SyncAccount(ctx context.Context, scope syncer.Scope, sfid string, dryRun bool, by string) (*syncer.Summary, error) {
	job := syncer.JobGlobalOrgs
	if scope == syncer.Federal {
		job = syncer.JobFederalOrgs
	}
	return s.run(ctx, job, syncer.Options{DryRun: dryRun, Account: sfid, By: by}), nil
}

// RunJob implements commands.Service.
func (s *server) RunJob(ctx context.Context, job syncer.Job, dryRun bool, by string) (*syncer.Summary, error) {
	if job == syncer.JobCaseSweep && dryRun {
		return nil, errors.New("the case sweep has no dry run: it only enqueues pushes")
	}
	return s.run(ctx, job, syncer.Options{DryRun: dryRun, By: by}), nil
}

// RetryCase implements commands.Service: it pushes the ticket's last
// event again (created when it never was pushed).
func (s *server) RetryCase(ctx context.Context, ticketID int64, by string) (*syncer.Summary, error) {
	event := syncer.EventCreated
	if hist, err := s.app.DB.PushHistory(ctx, ticketID); err == nil && len(hist) > 0 {
		event = hist[len(hist)-1].Event
	}
	s.log.Info("case push retried", "ticket_id", ticketID, "event", event, "by", by)
	sum := s.app.Pusher.Push(ctx, ticketID, event)
	s.pushed(ctx, sum)
	return sum, nil
}

// PreviewFederalUsers implements commands.Service.
func (s *server) PreviewFederalUsers(ctx context.Context, by string) (*syncer.StoredPlan, *syncer.Summary, error) {
	sum := s.app.Runner.Run(ctx, syncer.JobFederalUsers, syncer.Options{DryRun: true, SavePlan: true, By: by})
	if sum.PlanID == "" {
		return nil, sum, nil
	}
	p, err := s.app.DB.GetPlan(ctx, sum.PlanID)
	return p, sum, err
}

// ApplyPlan implements commands.Service.
func (s *server) ApplyPlan(ctx context.Context, planID, by string) (*syncer.Summary, error) {
	sum := s.app.Runner.ApplyPlan(ctx, planID, by)
	s.report(ctx, sum)
	return sum, nil
}

// DiscardPlan implements commands.Service.
func (s *server) DiscardPlan(ctx context.Context, planID, by string) error {
	return s.app.DB.DiscardPlan(ctx, planID, by, time.Now())
}

// Status implements commands.Service.
func (s *server) Status(ctx context.Context) (commands.Status, error) {
	st := commands.Status{Jobs: s.sched.JobStatuses()}
	for i := range st.Jobs {
		runs, err := s.app.DB.ListRuns(ctx, st.Jobs[i].Job, 1)
		if err != nil {
			return st, err
		}
		if len(runs) > 0 {
			st.Jobs[i].LastRun = &runs[0]
		}
	}
	failed, err := s.app.DB.Pushes(ctx, syncer.PushFailed)
	if err != nil {
		return st, err
	}
	for _, p := range failed {
		st.FailedPushes = append(st.FailedPushes, commands.FailedPush{TicketID: p.TicketID, Code: p.Code, Message: p.Message, At: p.At})
	}
	alerts, err := s.app.DB.OpenAlerts(ctx)
	if err != nil {
		return st, err
	}
	for _, a := range alerts {
		st.OpenAlerts = append(st.OpenAlerts, commands.OpenAlert{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, RunID: a.LastRunID()})
	}
	return st, nil
}

// freshnessCheckEvery is how often serve looks for jobs that have not
// succeeded for too long.
const freshnessCheckEvery = time.Minute

// watchFreshness raises the freshness alarm: a scheduled job that has not
// succeeded for longer than FRESHNESS_MAX_AGE gets one alert (code 14,
// grouped like the others, resolved by its next successful run), so that a
// stuck scheduler is never silent. Only the leader checks.
func (s *server) watchFreshness(ctx context.Context) {
	t := time.NewTicker(freshnessCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkFreshness(ctx, time.Now())
		}
	}
}

// checkFreshness alerts once for each scheduled job whose last success is
// older than the freshness limit.
func (s *server) checkFreshness(ctx context.Context, now time.Time) {
	if !s.elector.Leading() {
		return
	}
	scheduled := map[syncer.Job]string{syncer.JobGlobalOrgs: s.schedules.GlobalOrgs, syncer.JobFederalOrgs: s.schedules.Federal,
		syncer.JobFederalUsers: s.schedules.Federal, syncer.JobCaseSweep: s.schedules.CaseSweep}
	for _, job := range append(slices.Clone(syncer.SyncJobs), syncer.JobCaseSweep) {
		if sched := scheduled[job]; sched == "" || strings.EqualFold(sched, bot.Off) {
			continue
		}
		since, what := s.started, "since zdsync started"
		last, ok, err := s.app.DB.LastSuccessfulRun(ctx, job)
		if err != nil {
			s.log.Error("freshness check", "job", job, "err", err)
			continue
		}
		if ok {
			since, what = last.FinishedAt, "since run "+last.RunID
		}
		age := now.Sub(since)
		if age <= s.freshness {
			continue
		}
		if _, open, err := s.app.DB.OpenAlert(ctx, job, syncer.CodeStale); err != nil || open {
			continue
		}
		sum := &syncer.Summary{RunID: syncer.NewID(now), Job: job, StartedAt: now, FinishedAt: now, Errors: []syncer.RecordError{},
			Code: syncer.CodeStale, Message: fmt.Sprintf("%s has not succeeded for %s (%s; limit FRESHNESS_MAX_AGE=%s)",
				job, age.Round(time.Minute), what, s.freshness)}
		s.log.Warn("job is stale", "job", job, "age", age.Round(time.Second).String())
		if err := s.notifier.AlertStale(ctx, sum); err != nil {
			s.log.Error("freshness alert", "job", job, "err", err)
		}
	}
}

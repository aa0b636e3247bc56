package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/metrics"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/schedule"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
)

// shutdownGrace bounds how long serve takes to stop after SIGTERM:
// Kubernetes waits 30 s (terminationGracePeriodSeconds) before SIGKILL.
const shutdownGrace = 25 * time.Second

// needServe checks the variables serve needs beyond the jobs'.
func (c *Config) needServe() error {
	return need([2]string{"SLACK_BOT_TOKEN", c.SlackBotToken}, [2]string{"SLACK_APP_TOKEN", c.SlackAppToken},
		[2]string{"SLACK_SUMMARY_CHANNEL", c.SlackSummaryChannel}, [2]string{"SLACK_ALERT_CHANNEL", c.SlackAlertChannel},
		[2]string{"ZENDESK_WEBHOOK_SECRET", c.ZendeskWebhookSecret})
}

// serving is what `zdsync serve` runs: the HTTP endpoints, the Slack bot,
// the push queue, the scheduler and the freshness alarm, all over one
// application core.
type serving struct {
	http      *http.Server
	bot       *bot.Bot
	queue     *pushqueue.Queue
	sched     *schedule.Scheduler
	freshness *app.Freshness
}

// runServe runs the bot: Slack Socket Mode, the scheduler, the push queue
// and HTTP (webhooks, /healthz, /readyz, /metrics), until ctx ends
// (SIGTERM); then it stops within shutdownGrace. Every configuration error
// is found before any network call.
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
	schedules := schedule.Schedules{GlobalOrgs: cfg.ScheduleGlobalOrgs, Federal: cfg.ScheduleFederal, CaseSweep: cfg.ScheduleCaseSweep,
		Incremental: cfg.ScheduleIncremental}
	if err := schedules.Validate(); err != nil {
		return usagef("configuration: %s", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return usagef("configuration: HTTP_ADDR %q: %s", cfg.HTTPAddr, err)
	}
	defer ln.Close()

	p, err := m.wire(ctx, cfg, syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCases)
	if err != nil {
		return err
	}
	elector, err := p.db.NewElector("zdsync-scheduler", store.ElectorLogger(p.log))
	if err != nil {
		return fmt.Errorf("scheduler leader election: %w", err)
	}
	defer elector.Close()
	sv, err := m.serving(ctx, cfg, p, schedules, elector, writers, groups)
	if err != nil {
		return err
	}
	return m.serve(ctx, ln, sv, p)
}

// serving wires the parts of serve over the core.
func (m *Main) serving(ctx context.Context, cfg Config, p *parts, schedules schedule.Schedules, elector *store.Elector, writers, groups []string) (*serving, error) {
	slackHTTP := &http.Client{Timeout: cfg.HTTPTimeout}
	api := bot.NewClient(cfg.SlackBotToken, cfg.SlackAppToken, cfg.SlackAPIURL, slackHTTP)
	notifier, err := bot.NewNotifier(bot.NotifierConfig{API: api, SummaryChannel: cfg.SlackSummaryChannel,
		AlertChannel: cfg.SlackAlertChannel, Alerts: p.db, Logger: p.log})
	if err != nil {
		return nil, usagef("configuration: %s", err)
	}
	sv := &serving{}
	if sv.sched, err = schedule.New(schedule.Config{Schedules: schedules, Run: p.core.Run, Logger: p.log,
		Options: []gocron.SchedulerOption{gocron.WithDistributedElector(elector)}}); err != nil {
		return nil, usagef("configuration: %s", err)
	}
	if sv.queue, err = pushqueue.New(ctx, p.db, p.core, pushqueue.Config{Logger: p.log}); err != nil {
		return nil, err
	}
	p.core.Sweeper = &syncer.Sweeper{Zendesk: p.global, Salesforce: p.sf, Cursors: p.db, Queue: sv.queue, Log: p.db, Logger: p.log}
	p.core.Reporters = []app.Reporter{p.metrics, notifier}
	p.core.Schedule = sv.sched
	sv.freshness = &app.Freshness{Store: p.db, Jobs: sv.sched.Jobs, Leading: elector.Leading, Alert: notifier.AlertStale,
		MaxAge: cfg.FreshnessMaxAge, Started: time.Now(), Log: p.log,
		IncrementalJobs: sv.sched.IncrementalJobs, IncrementalMaxAge: cfg.IncrementalMaxAge}

	auth := commands.NewAuthorizer(writers, groups, bot.GroupMembers{API: api}, 0, nil)
	cmds := commands.New(commands.Config{Service: p.core, Authorizer: auth, Auditor: p.db, Logger: p.log})
	if sv.bot, err = bot.New(bot.Config{BotToken: cfg.SlackBotToken, AppToken: cfg.SlackAppToken, APIURL: cfg.SlackAPIURL,
		HTTPClient: slackHTTP, Commands: cmds, Logger: p.log}); err != nil {
		return nil, err
	}
	sv.http = &http.Server{Handler: m.handler(ctx, cfg, p, sv, elector), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	return sv, nil
}

// handler is serve's HTTP API: the Zendesk webhook, /healthz, /readyz and
// /metrics.
func (m *Main) handler(ctx context.Context, cfg Config, p *parts, sv *serving, elector *store.Elector) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /readyz", readiness(p.db, sv.bot, p.metrics))
	mux.Handle("GET /metrics", p.metrics.Handler())
	p.metrics.SetLeaderFunc(elector.Leading)
	p.metrics.SetQueueFunc(func() (int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := sv.queue.Counts(ctx)
		if err != nil {
			return -1, 0
		}
		return c.Queued, c.OldestQueued
	})
	for _, job := range syncer.RunnableJobs {
		if last, ok, err := p.db.LastSuccessfulRun(ctx, job); err == nil && ok {
			p.metrics.SetLastSuccess(job, last.FinishedAt)
		}
	}
	mux.Handle("POST "+zendesk.WebhookPath, zendesk.NewWebhookHandler(cfg.ZendeskWebhookSecret, sv.queue, p.log))
	return mux
}

// serve starts everything and runs until ctx ends or a part fails, then
// stops everything within shutdownGrace.
func (m *Main) serve(ctx context.Context, ln net.Listener, sv *serving, p *parts) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if err := sv.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	botDone := make(chan error, 1)
	go func() { botDone <- sv.bot.Run(runCtx) }()
	if err := sv.queue.Start(runCtx); err != nil {
		return err
	}
	sv.sched.Start()
	go sv.freshness.Watch(runCtx)
	p.log.Info("zdsync serving", "http_addr", ln.Addr().String(), "database", p.db.Backend())
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
	p.log.Info("zdsync stopping")
	stop()
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := sv.sched.Shutdown(); err != nil {
		p.log.Warn("scheduler shutdown", "err", err)
	}
	if err := sv.http.Shutdown(shut); err != nil {
		p.log.Warn("http shutdown", "err", err)
	}
	if err := sv.queue.Stop(shut); err != nil {
		p.log.Warn("queue shutdown", "err", err)
	}
	select {
	case <-botDone:
	case <-shut.Done():
		p.log.Warn("slack bot did not stop in time")
	}
	return runErr
}

// readiness answers /readyz: ready when the database answers and Slack is
// connected.
func readiness(db *store.DB, b *bot.Bot, mt *metrics.Metrics) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		dbErr := db.Ping(ctx)
		slackUp := b != nil && b.Connected()
		mt.SetReady("database", dbErr == nil)
		mt.SetReady("slack", slackUp)
		switch {
		case dbErr != nil:
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		case !slackUp:
			http.Error(w, "slack not connected", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ready")
		}
	}
}

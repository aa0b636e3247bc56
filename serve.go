package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
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

// serving is what `zdsync serve` runs: the HTTP endpoints, the Slack bot
// and its notifier, the push queue, the scheduler, the freshness alarm and
// the watcher of the dependencies, all over one application core.
type serving struct {
	http      *http.Server
	bot       *bot.Bot
	notifier  *bot.Notifier
	queue     *pushqueue.Queue
	sched     *schedule.Scheduler
	freshness *app.Freshness
	watcher   *app.Watcher
}

// The dependencies serve starts without (README, "Several replicas on
// Postgres"): each is the job its alert is grouped under and the check of
// /readyz and zdsync_ready.
const (
	depSalesforce     syncer.Job = "salesforce"
	depZendeskGlobal  syncer.Job = "zendesk-global"
	depZendeskFederal syncer.Job = "zendesk-federal"
)

// dependencies are the checks of serve's dependencies: the Salesforce
// login, and one call to each Zendesk instance.
func dependencies(p *parts) []app.Dependency {
	deps := []app.Dependency{{Name: depSalesforce, Check: p.sf.Login}}
	for name, z := range map[syncer.Job]*zendesk.Client{depZendeskGlobal: p.global, depZendeskFederal: p.federal} {
		if z != nil {
			deps = append(deps, app.Dependency{Name: name, Check: func(ctx context.Context) error { _, err := z.OrgCount(ctx); return err }})
		}
	}
	return deps
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

	// Salesforce is logged in to at first use: serve starts while it is
	// down, and the watcher says so.
	p, err := m.wireWith(ctx, cfg, false, syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCases)
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
	pacer := bot.NewPacer(nil, p.log) // one for every post of the process
	sv := &serving{}
	var err error
	if sv.notifier, err = bot.NewNotifier(bot.NotifierConfig{API: api, Pacer: pacer, SummaryChannel: cfg.SlackSummaryChannel,
		AlertChannel: cfg.SlackAlertChannel, Store: p.db, Logger: p.log}); err != nil {
		return nil, usagef("configuration: %s", err)
	}
	sv.watcher = &app.Watcher{Deps: dependencies(p), Alert: sv.notifier.Alert, Resolve: sv.notifier.Resolve, Log: p.log,
		Answered: func(ctx context.Context, _ syncer.Job) {
			if err := sv.queue.Release(ctx); err != nil {
				p.log.Warn("release held pushes", "err", err)
			}
		}}
	if sv.sched, err = schedule.New(schedule.Config{Schedules: schedules, Run: p.core.Run, Logger: p.log,
		Options: []gocron.SchedulerOption{gocron.WithDistributedElector(elector)}}); err != nil {
		return nil, usagef("configuration: %s", err)
	}
	// A replica pushes as many cases at once as Salesforce requests it
	// may have in flight; a push is bounded by its retries and timeouts,
	// and waits while Salesforce or Zendesk Global has not answered since
	// the start.
	if sv.queue, err = pushqueue.New(ctx, p.db, p.core, pushqueue.Config{Workers: cfg.Salesforce.MaxConcurrency,
		PushTimeout: pushqueue.PushBound(cfg.CasePushRetries, cfg.CasePushRetryDelay, cfg.HTTPTimeout),
		Hold:        func() error { return sv.watcher.Down(depSalesforce, depZendeskGlobal) }, Logger: p.log}); err != nil {
		return nil, err
	}
	p.core.Sweeper = &syncer.Sweeper{Zendesk: p.global, Salesforce: p.sf, Cursors: p.db, Queue: sv.queue, Log: p.db, Logger: p.log}
	p.core.Reporters = []app.Reporter{p.metrics, sv.notifier}
	p.core.Schedule = sv.sched
	sv.freshness = &app.Freshness{Store: p.db, Jobs: sv.sched.Jobs, Leading: elector.Leading, Alert: sv.notifier.Alert,
		MaxAge: cfg.FreshnessMaxAge, Started: time.Now(), Log: p.log,
		IncrementalJobs: sv.sched.IncrementalJobs, IncrementalMaxAge: cfg.IncrementalMaxAge}

	auth := commands.NewAuthorizer(writers, groups, bot.GroupMembers{API: api}, 0, nil)
	cmds := commands.New(commands.Config{Service: p.core, Authorizer: auth, Auditor: p.db, Logger: p.log})
	if sv.bot, err = bot.New(bot.Config{BotToken: cfg.SlackBotToken, AppToken: cfg.SlackAppToken, APIURL: cfg.SlackAPIURL,
		HTTPClient: slackHTTP, Commands: cmds, Envelopes: p.db, Pacer: pacer, Logger: p.log}); err != nil {
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
	mux.Handle("GET /readyz", readiness(p.db, sv.watcher, sv.bot, p.metrics))
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
	go sv.notifier.Run(runCtx)
	go sv.watcher.Run(runCtx)
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

// readiness answers /readyz: ready when the database answers, which is
// all that the traffic routed to a replica (Zendesk's webhooks) needs:
// Slack, Salesforce and Zendesk being down does not make a replica unready
// (its webhooks are still stored, and the work that needs them waits).
// The body and zdsync_ready say how each dependency is.
func readiness(db *store.DB, watcher *app.Watcher, b *bot.Bot, mt *metrics.Metrics) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		dbErr := db.Ping(ctx)
		slackUp := b != nil && b.Connected()
		mt.SetReady("database", dbErr == nil)
		mt.SetReady("slack", slackUp)
		lines := []string{"slack: connected"}
		if !slackUp {
			lines[0] = "slack: not connected, reconnecting"
		}
		var states map[syncer.Job]error
		if watcher != nil {
			states = watcher.States()
		}
		for _, name := range slices.Sorted(maps.Keys(states)) {
			err := states[name]
			mt.SetReady(string(name), err == nil)
			state := "ok"
			if err != nil {
				state = fmt.Sprintf("down (code %s), retrying", syncer.ErrorCode(err))
			}
			lines = append(lines, string(name)+": "+state)
		}
		if dbErr != nil {
			http.Error(w, "database unreachable\n"+strings.Join(lines, "\n"), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready\n"+strings.Join(lines, "\n"))
	}
}

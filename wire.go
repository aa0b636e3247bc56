package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/metrics"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
)

// parts are zdsync wired together for one configuration: the store, the
// adapters the commands need, and the application core over them.
type parts struct {
	log     *slog.Logger
	db      *store.DB
	core    *app.Core
	global  *zendesk.Client
	federal *zendesk.Client
	sf      *app.LazySalesforce // nil when Salesforce is not configured
	metrics *metrics.Metrics
}

// The store keeps what the notifier needs for incremental runs (their
// alerts, their runs of the hour, the digest's cursor).
var _ bot.IncrementalStore = (*store.DB)(nil)

// rules returns the business rules of the configuration.
func (c *Config) rules() syncer.Rules {
	return syncer.Rules{GreatlyExpiredYears: c.GreatlyExpiredYears, MaxDeletes: c.DeleteLimit,
		ShrinkRatio: c.ShrinkRatio, ApprovalThreshold: c.ApprovalThreshold, DeleteGrace: time.Duration(c.DeleteGrace)}
}

func (m *Main) openStore(ctx context.Context, cfg Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	m.onClose(func() { db.Close() })
	return db, nil
}

// needs checks the configuration the jobs need: exit 2 before any network
// call when something is missing.
func (c *Config) needs(jobs []syncer.Job) (sf, global, federal bool, err error) {
	for _, j := range jobs {
		switch j {
		case syncer.JobGlobalOrgs:
			sf, global = true, true
		case syncer.JobFederalOrgs, syncer.JobFederalUsers:
			sf, federal = true, true
		case syncer.JobCases, syncer.JobCaseSweep:
			sf, global = true, true
			if err := need([2]string{"ZENDESK_CASE_ID_FIELD", nonZero(c.ZendeskCaseIDField)}); err != nil {
				return false, false, false, err
			}
		}
	}
	if sf {
		err = c.needSalesforce()
	}
	if err == nil && global {
		err = needZendesk("ZENDESK_GLOBAL_", c.ZendeskGlobal)
	}
	if err == nil && federal {
		err = needZendesk("ZENDESK_FEDERAL_", c.ZendeskFederal)
	}
	return sf, global, federal, err
}

// wire checks the configuration the jobs need, then builds the parts: the
// store, the Zendesk clients, the Salesforce client (logged in now, except
// for a case push alone, whose login is part of the push and retried with
// it), and the core with its runner and pusher.
func (m *Main) wire(ctx context.Context, cfg Config, jobs ...syncer.Job) (*parts, error) {
	return m.wireWith(ctx, cfg, !(len(jobs) == 1 && jobs[0] == syncer.JobCases), jobs...)
}

// wireWith is wire, logging in to Salesforce at once when login is set,
// else at its first use (serve starts while Salesforce is down).
func (m *Main) wireWith(ctx context.Context, cfg Config, login bool, jobs ...syncer.Job) (*parts, error) {
	needSF, _, _, err := cfg.needs(jobs)
	if err != nil {
		return nil, err
	}
	p := &parts{log: m.logger(cfg), metrics: metrics.New()}
	if p.db, err = m.openStore(ctx, cfg); err != nil {
		return nil, err
	}
	var global, federal syncer.Zendesk
	if cfg.ZendeskGlobal.configured() {
		if p.global, err = zendeskClient(cfg, cfg.ZendeskGlobal, p.metrics); err != nil {
			return nil, fmt.Errorf("ZENDESK_GLOBAL_URL: %w", err)
		}
		global = p.global
	}
	if cfg.ZendeskFederal.configured() {
		if p.federal, err = zendeskClient(cfg, cfg.ZendeskFederal, p.metrics); err != nil {
			return nil, fmt.Errorf("ZENDESK_FEDERAL_URL: %w", err)
		}
		federal = p.federal
	}
	if needSF || (cfg.Salesforce.URL != "" && cfg.Salesforce.ClientID != "") {
		salesforce.SetHTTPTimeout(cfg.HTTPTimeout) // before any request
		p.sf = &app.LazySalesforce{Connect: func(ctx context.Context) (app.SalesforceClient, error) {
			return salesforce.New(ctx, salesforce.Config{
				URL: cfg.Salesforce.URL, ClientID: cfg.Salesforce.ClientID, ClientSecret: cfg.Salesforce.ClientSecret,
				Username: cfg.Salesforce.Username, Password: cfg.Salesforce.Password, SecurityToken: cfg.Salesforce.SecurityToken,
				MaxConcurrency: cfg.Salesforce.MaxConcurrency,
			}) // a *syncer.Error whose Op already says "salesforce login"
		}}
		if login {
			if err := p.sf.Login(ctx); err != nil {
				return nil, err
			}
		}
	}
	p.core = m.core(cfg, p, global, federal)
	return p, nil
}

// core builds the application core over the adapters that are set.
func (m *Main) core(cfg Config, p *parts, global, federal syncer.Zendesk) *app.Core {
	runner := &syncer.Runner{Global: global, Federal: federal, Store: p.db, Rules: cfg.rules(), PlanTTL: cfg.PlanTTL, Log: p.log,
		Watermarks: p.db, Overlap: cfg.IncrementalOverlap}
	pusher := &syncer.Pusher{Retries: cfg.CasePushRetries, RetryDelay: cfg.CasePushRetryDelay, Logger: p.log, Log: p.db}
	c := &app.Core{Runner: runner, Pusher: pusher, Store: p.db, Reserve: float64(cfg.SalesforceAPIReserve), Log: p.log}
	if p.sf != nil {
		runner.Salesforce, c.Allowance, pusher.Salesforce = p.sf, p.sf, p.sf
	}
	if p.global != nil {
		pusher.Zendesk = p.global
	}
	return c
}

func nonZero(v int64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprint(v)
}

func zendeskClient(cfg Config, z ZendeskConfig, mt *metrics.Metrics) (*zendesk.Client, error) {
	return zendesk.New(zendesk.Config{URL: z.URL, Email: z.Email, Token: z.APIToken, Timeout: cfg.HTTPTimeout,
		RequestsPerMinute: cfg.ZendeskRateLimit, CaseIDField: cfg.ZendeskCaseIDField,
		Observe:     func(c zendesk.Call) { mt.ObserveCall(c.System, c.Endpoint, c.Method, c.Status, c.Duration) },
		ObserveWait: func(d time.Duration) { mt.ObserveRateLimitWait("zendesk", d) }})
}

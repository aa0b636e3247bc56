package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/metrics"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
)

// App is zdsync wired together for one configuration: the store, the
// adapters a command needs, the runner and the case pusher.
type App struct {
	Config  Config
	Log     *slog.Logger
	DB      *store.DB
	Runner  *syncer.Runner
	Pusher  *syncer.Pusher
	Global  *zendesk.Client
	Federal *zendesk.Client
	SF      *salesforce.Client
	// Metrics counts runs and API calls for /metrics (serve).
	Metrics *metrics.Metrics
}

// rules returns the business rules of the configuration.
func (c *Config) rules() syncer.Rules {
	r := syncer.DefaultRules()
	r.MaxDeletes = c.DeleteLimit
	r.ShrinkRatio = c.ShrinkRatio
	r.ApprovalThreshold = c.ApprovalThreshold
	r.GreatlyExpiredYears = c.GreatlyExpiredYears
	return r
}

func (m *Main) openStore(ctx context.Context, cfg Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	m.onClose(func() { db.Close() })
	return db, nil
}

// app checks the configuration a job needs (exit 2 before any network
// call when something is missing), then builds the parts. An empty job
// builds everything that is configured.
func (m *Main) app(ctx context.Context, cfg Config, jobs ...syncer.Job) (*App, error) {
	needSF, needGlobal, needFederal := false, false, false
	for _, j := range jobs {
		switch j {
		case syncer.JobGlobalOrgs:
			needSF, needGlobal = true, true
		case syncer.JobFederalOrgs, syncer.JobFederalUsers:
			needSF, needFederal = true, true
		case syncer.JobCases, syncer.JobCaseSweep:
			needSF, needGlobal = true, true
			if err := need([2]string{"ZENDESK_CASE_ID_FIELD", fmt.Sprint(nonZero(cfg.ZendeskCaseIDField))}); err != nil {
				return nil, err
			}
		}
	}
	if needSF {
		if err := cfg.needSalesforce(); err != nil {
			return nil, err
		}
	}
	if needGlobal {
		if err := needZendesk("ZENDESK_GLOBAL_", cfg.ZendeskGlobal); err != nil {
			return nil, err
		}
	}
	if needFederal {
		if err := needZendesk("ZENDESK_FEDERAL_", cfg.ZendeskFederal); err != nil {
			return nil, err
		}
	}
	a := &App{Config: cfg, Log: m.logger(cfg), Metrics: metrics.New()}
	var err error
	if a.DB, err = m.openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if cfg.ZendeskGlobal.URL != "" && cfg.ZendeskGlobal.APIToken != "" {
		if a.Global, err = m.zendesk(cfg, cfg.ZendeskGlobal, a.Metrics); err != nil {
			return nil, fmt.Errorf("ZENDESK_GLOBAL_URL: %w", err)
		}
	}
	if cfg.ZendeskFederal.URL != "" && cfg.ZendeskFederal.APIToken != "" {
		if a.Federal, err = m.zendesk(cfg, cfg.ZendeskFederal, a.Metrics); err != nil {
			return nil, fmt.Errorf("ZENDESK_FEDERAL_URL: %w", err)
		}
	}
	if needSF || (cfg.Salesforce.URL != "" && cfg.Salesforce.ClientID != "") {
		salesforce.SetHTTPTimeout(cfg.HTTPTimeout)
		if a.SF, err = salesforce.New(ctx, salesforce.Config{
			URL: cfg.Salesforce.URL, ClientID: cfg.Salesforce.ClientID, ClientSecret: cfg.Salesforce.ClientSecret,
			Username: cfg.Salesforce.Username, Password: cfg.Salesforce.Password, SecurityToken: cfg.Salesforce.SecurityToken,
			MaxConcurrency: cfg.Salesforce.MaxConcurrency,
		}); err != nil {
			return nil, err // a *syncer.Error whose Op already says "salesforce login"
		}
	}
	a.wire()
	return a, nil
}

func nonZero(v int64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprint(v)
}

func (m *Main) zendesk(cfg Config, z ZendeskConfig, mt *metrics.Metrics) (*zendesk.Client, error) {
	return zendesk.New(zendesk.Config{URL: z.URL, Email: z.Email, Token: z.APIToken, Timeout: cfg.HTTPTimeout,
		RequestsPerMinute: cfg.ZendeskRateLimit, CaseIDField: cfg.ZendeskCaseIDField,
		Observe:     func(c zendesk.Call) { mt.ObserveCall(c.System, c.Endpoint, c.Method, c.Status, c.Duration) },
		ObserveWait: func(d time.Duration) { mt.ObserveRateLimitWait("zendesk", d) }})
}

// wire builds the runner and pusher over whatever adapters are set.
func (a *App) wire() {
	a.Runner = &syncer.Runner{Store: a.DB, Rules: a.Config.rules(), PlanTTL: a.Config.PlanTTL, Log: a.Log}
	if a.SF != nil {
		a.Runner.Salesforce = a.SF
	}
	if a.Global != nil {
		a.Runner.Global = a.Global
	}
	if a.Federal != nil {
		a.Runner.Federal = a.Federal
	}
	retries := a.Config.CasePushRetries
	if retries == 0 {
		retries = -1 // Pusher: 0 means the default, negative none
	}
	delay := a.Config.CasePushRetryDelay
	if delay == 0 {
		delay = -1
	}
	a.Pusher = &syncer.Pusher{Retries: retries, RetryDelay: delay, Logger: a.Log, Log: a.DB}
	if a.SF != nil {
		a.Pusher.Salesforce = a.SF
	}
	if a.Global != nil {
		a.Pusher.Zendesk = a.Global
	}
}

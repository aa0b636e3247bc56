package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/bot"
)

// Config is zdsync's configuration: environment variables, read once. The
// names are a contract; the README's table ("Configuration") is generated
// from the tags below, which hold every default of zdsync. Every value
// means what it says, 0 included (the help says what 0 does where it could
// be read two ways).
type Config struct {
	Salesforce     SalesforceConfig `env:", prefix=SALESFORCE_"`
	ZendeskGlobal  ZendeskConfig    `env:", prefix=ZENDESK_GLOBAL_"`
	ZendeskFederal ZendeskConfig    `env:", prefix=ZENDESK_FEDERAL_"`

	DatabaseURL string `env:"DATABASE_URL" help:"SQLite file (default zdsync.db in the working directory) or postgres://… for several replicas"`

	SlackBotToken       string   `env:"SLACK_BOT_TOKEN" help:"Slack bot token xoxb-… (secret); needed by serve"`
	SlackAppToken       string   `env:"SLACK_APP_TOKEN" help:"Slack app-level token xapp-… for Socket Mode (secret); needed by serve"`
	SlackAPIURL         string   `env:"SLACK_API_URL" help:"override of the Slack API URL, for tests"`
	SlackAlertChannel   string   `env:"SLACK_ALERT_CHANNEL" help:"channel ID for failure alerts"`
	SlackSummaryChannel string   `env:"SLACK_SUMMARY_CHANNEL" help:"channel ID for run summaries and the quiet-run status message"`
	SlackWriters        []string `env:"SLACK_WRITERS" help:"comma-separated Slack user or user-group IDs allowed to run writing commands"`

	ZendeskWebhookSecret string        `env:"ZENDESK_WEBHOOK_SECRET" help:"signing secret of the Zendesk webhook that reports ticket events (secret); needed by serve"`
	ZendeskCaseIDField   int64         `env:"ZENDESK_CASE_ID_FIELD" help:"ID of the Zendesk Global ticket custom field holding the Salesforce case ID"`
	ZendeskRateLimit     int           `env:"ZENDESK_RATE_LIMIT, default=700" help:"requests a minute zdsync allows itself per Zendesk instance (Enterprise: 700)"`
	CasePushRetries      int           `env:"CASE_PUSH_RETRIES, default=3" help:"retries of a case push failing with a code retried soon (3, 4, 5, 10); 0: none"`
	CasePushRetryDelay   time.Duration `env:"CASE_PUSH_RETRY_DELAY, default=5s" help:"wait between case push attempts; 0: none"`

	HTTPAddr    string        `env:"HTTP_ADDR, default=:8080" help:"listen address of serve (webhooks, /healthz, /readyz, /metrics)"`
	HTTPTimeout time.Duration `env:"HTTP_TIMEOUT, default=30s" help:"timeout of each outbound API request (Salesforce, Zendesk, Slack)"`
	PlanTTL     time.Duration `env:"PLAN_TTL, default=30m" help:"how long a stored preview can be applied"`

	ScheduleGlobalOrgs string `env:"SCHEDULE_GLOBAL_ORGS, default=0 * * * *" help:"cron expression of global-orgs; off disables it"`
	ScheduleFederal    string `env:"SCHEDULE_FEDERAL, default=30 * * * *" help:"cron expression of federal-orgs then federal-users (skipped when federal-orgs failed as a whole); off disables it"`
	ScheduleCaseSweep  string `env:"SCHEDULE_CASE_SWEEP, default=*/10 * * * *" help:"cron expression of the case parity sweep; off disables it"`

	ScheduleIncremental string        `env:"SCHEDULE_INCREMENTAL, default=* * * * *" help:"cron expression of the incremental runs of global-orgs, and of federal-orgs then federal-users (see Near real time); off disables them"`
	IncrementalOverlap  time.Duration `env:"INCREMENTAL_OVERLAP, default=2m" help:"how far before its watermark an incremental run starts reading, for the clocks of zdsync and Salesforce and transactions that commit late; 0: none"`
	IncrementalMaxAge   time.Duration `env:"INCREMENTAL_MAX_AGE, default=15m" help:"serve alerts once (code 26) when a job's Salesforce changes have waited longer than this for a successful incremental or full run"`

	DeleteLimit         int     `env:"DELETE_LIMIT, default=500" help:"most org deletions one run may make; a plan with more deletes none; 0: no deletions at all"`
	ShrinkRatio         float64 `env:"SHRINK_RATIO, default=0.9" help:"a full run whose Salesforce result is below this share of the last successful run deletes nothing; 0: never"`
	ApprovalThreshold   int     `env:"APPROVAL_THRESHOLD, default=50" help:"a global-orgs run deleting more orgs than this holds the deletions for approval in Slack; 0: every deletion is held"`
	GreatlyExpiredYears int     `env:"GREATLY_EXPIRED_YEARS, default=3" help:"years after expiry an account is greatly expired and its Global org deleted"`
	DeleteGrace         Days    `env:"DELETE_GRACE, default=7d" help:"how long a greatly expired Global org stays tagged zdsync_pending_deletion before a full run deletes it (7d, 36h, …); 0: deleted at once, untagged"`

	SalesforceAPIReserve Percent `env:"SALESFORCE_API_RESERVE, default=10%" help:"share of Salesforce's daily API allowance left to other integrations: below it, scheduled full runs are skipped with one alert; 0%: never skipped"`

	FreshnessMaxAge time.Duration `env:"FRESHNESS_MAX_AGE, default=3h" help:"serve alerts once when a scheduled job has not succeeded for longer than this"`

	LogLevel string `env:"LOG_LEVEL, default=info" help:"debug, info, warn or error"`
}

// SalesforceConfig is the Salesforce login. Without Username, Password and
// SecurityToken the client-credentials flow is used.
type SalesforceConfig struct {
	URL           string `env:"URL" help:"Salesforce login domain, e.g. https://login.salesforce.com, https://test.salesforce.com"`
	ClientID      string `env:"CLIENT_ID" help:"connected app consumer key"`
	ClientSecret  string `env:"CLIENT_SECRET" help:"connected app consumer secret (secret)"`
	Username      string `env:"USERNAME" help:"password flow: user name; without USERNAME, PASSWORD and SECURITY_TOKEN the client-credentials flow is used"`
	Password      string `env:"PASSWORD" help:"password flow: password (secret)"`
	SecurityToken string `env:"SECURITY_TOKEN" help:"password flow: security token (secret)"`
	// MaxConcurrency defaults to salesforce.DefaultMaxConcurrency.
	MaxConcurrency int `env:"MAX_CONCURRENCY, default=10" help:"Salesforce API requests one replica has in flight at once, and case pushes it makes at once, 1 or more (the org allows 25 long-running requests in all)"`
}

// ZendeskConfig is the login of one Zendesk instance.
type ZendeskConfig struct {
	URL      string `env:"URL" help:"instance URL, e.g. https://example.zendesk.com (the client adds /api/v2)"`
	Email    string `env:"EMAIL" help:"agent e-mail of the API token"`
	APIToken string `env:"API_TOKEN" help:"API token (secret)"`
}

// configured reports whether the instance can be used: it has a URL and
// an API token.
func (z ZendeskConfig) configured() bool { return z.URL != "" && z.APIToken != "" }

// usageError is a usage or configuration error: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// LoadConfig reads the configuration from lookuper and checks the values
// every command needs.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: emptyIsUnset{l}}); err != nil {
		return c, usagef("configuration: %s", cleanEnvError(err))
	}
	for _, u := range []struct{ name, value string }{
		{"SALESFORCE_URL", c.Salesforce.URL}, {"ZENDESK_GLOBAL_URL", c.ZendeskGlobal.URL},
		{"ZENDESK_FEDERAL_URL", c.ZendeskFederal.URL}, {"SLACK_API_URL", c.SlackAPIURL},
	} {
		if u.value != "" && !isHTTPURL(u.value) {
			return c, usagef("configuration: %s: not an http(s) URL such as https://example.com", u.name)
		}
	}
	if strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		if _, err := url.Parse(c.DatabaseURL); err != nil {
			return c, usagef("configuration: DATABASE_URL: malformed postgres:// URL")
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return c, usagef("configuration: LOG_LEVEL: use debug, info, warn or error")
	}
	switch {
	case c.ZendeskCaseIDField < 0:
		return c, usagef("configuration: ZENDESK_CASE_ID_FIELD must be a positive field ID")
	case c.CasePushRetries < 0:
		return c, usagef("configuration: CASE_PUSH_RETRIES must be 0 or more")
	case c.CasePushRetryDelay < 0:
		return c, usagef("configuration: CASE_PUSH_RETRY_DELAY must not be negative")
	case c.HTTPTimeout <= 0:
		return c, usagef("configuration: HTTP_TIMEOUT must be positive")
	case c.FreshnessMaxAge <= 0:
		return c, usagef("configuration: FRESHNESS_MAX_AGE must be positive")
	case c.IncrementalOverlap < 0:
		return c, usagef("configuration: INCREMENTAL_OVERLAP must not be negative")
	case c.IncrementalMaxAge <= 0:
		return c, usagef("configuration: INCREMENTAL_MAX_AGE must be positive")
	case c.PlanTTL <= 0:
		return c, usagef("configuration: PLAN_TTL must be positive")
	case c.ShrinkRatio < 0 || c.ShrinkRatio > 1:
		return c, usagef("configuration: SHRINK_RATIO must be between 0 and 1")
	case c.DeleteLimit < 0 || c.ApprovalThreshold < 0 || c.GreatlyExpiredYears < 1:
		return c, usagef("configuration: DELETE_LIMIT and APPROVAL_THRESHOLD must be 0 or more, GREATLY_EXPIRED_YEARS 1 or more")
	case c.ZendeskRateLimit < 1:
		return c, usagef("configuration: ZENDESK_RATE_LIMIT must be 1 or more")
	case c.Salesforce.MaxConcurrency < 1:
		return c, usagef("configuration: SALESFORCE_MAX_CONCURRENCY must be 1 or more")
	}
	if err := bot.CheckTokens(c.SlackBotToken, c.SlackAppToken); err != nil {
		return c, usagef("configuration: %s", err)
	}
	return c, nil
}

// Percent is a share written as a percentage, "10%" (the form the README
// documents); it holds the share, 0.1.
type Percent float64

// EnvDecode reads "N%" with N from 0 to 100 (go-envconfig's DecoderCtx).
func (p *Percent) EnvDecode(_ context.Context, v string) error {
	n, ok := strings.CutSuffix(strings.TrimSpace(v), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
	if !ok || err != nil || f < 0 || f > 100 {
		return errors.New("not a percentage from 0% to 100%, such as 10%")
	}
	*p = Percent(f / 100)
	return nil
}

// Days is a duration that may also be written in whole days ("7d"), the
// way the README documents DELETE_GRACE; "36h" and "0" work too.
type Days time.Duration

// EnvDecode reads "Nd" or a Go duration, 0 or more (go-envconfig's
// DecoderCtx).
func (d *Days) EnvDecode(_ context.Context, v string) error {
	v = strings.TrimSpace(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return errors.New("not a number of days or a duration, such as 7d or 36h")
		}
		*d = Days(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 0 {
		return errors.New("not a number of days or a duration, such as 7d or 36h")
	}
	*d = Days(dur)
	return nil
}

// emptyIsUnset makes a variable set to the empty string count as unset,
// so that it takes its documented default (Kubernetes and compose files
// often carry `NAME=` for a variable nobody set) instead of a zero value
// (CASE_PUSH_RETRIES= would silently mean no retries). SCHEDULE_* keep
// their meaning of an empty value: off, never a default schedule.
type emptyIsUnset struct{ l envconfig.Lookuper }

func (e emptyIsUnset) Lookup(key string) (string, bool) {
	v, ok := e.l.Lookup(key)
	if ok && strings.TrimSpace(v) == "" && !strings.HasPrefix(key, "SCHEDULE_") {
		return "", false
	}
	return v, ok
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// configVar is one variable Config reads: its name, default and meaning.
type configVar struct{ name, def, help, field string }

// configVars lists every variable Config reads, from its struct tags (the
// README's configuration table is generated from it).
func configVars() []configVar {
	var out []configVar
	var walk func(t reflect.Type, prefix, path string)
	walk = func(t reflect.Type, prefix, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("env"), ",")
			if f.Type.Kind() == reflect.Struct {
				p := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(opts), "prefix="))
				walk(f.Type, prefix+p, path+f.Name+": ")
				continue
			}
			def := ""
			if _, d, ok := strings.Cut(opts, "default="); ok {
				def = "`" + d + "`"
			}
			out = append(out, configVar{prefix + name, def, f.Tag.Get("help"), path + f.Name})
		}
	}
	walk(reflect.TypeFor[Config](), "", "")
	return out
}

// cleanEnvError turns go-envconfig's error, which names the Go field and
// repeats the value, into one line naming the variable without its value
// (which may be a secret).
func cleanEnvError(err error) string {
	s := err.Error()
	for _, v := range configVars() {
		if rest, ok := strings.CutPrefix(s, v.field+": "); ok {
			reason := "invalid value"
			switch {
			case strings.Contains(rest, "number of days"):
				reason = "not a number of days or a duration, such as 7d or 36h"
			case strings.Contains(rest, "duration"):
				reason = "not a duration (use e.g. 30s, 5m)"
			case strings.Contains(rest, "ParseInt"), strings.Contains(rest, "ParseFloat"):
				reason = "not a number"
			case strings.Contains(rest, "missing required"):
				reason = "is required"
			case strings.Contains(rest, "percentage"):
				reason = "not a percentage from 0% to 100%, such as 10%"
			}
			return v.name + ": " + reason
		}
	}
	return "invalid environment"
}

// need checks that the named variables are set, naming the first missing.
func need(vars ...[2]string) error {
	for _, v := range vars {
		if strings.TrimSpace(v[1]) == "" {
			return usagef("configuration: %s is not set", v[0])
		}
	}
	return nil
}

// needSalesforce checks the Salesforce login variables.
func (c *Config) needSalesforce() error {
	sf := c.Salesforce
	if err := need([2]string{"SALESFORCE_URL", sf.URL}, [2]string{"SALESFORCE_CLIENT_ID", sf.ClientID},
		[2]string{"SALESFORCE_CLIENT_SECRET", sf.ClientSecret}); err != nil {
		return err
	}
	// The password flow needs all three; none means the client-credentials
	// flow. Some but not all is a configuration error, not a login failure.
	if sf.Username != "" || sf.Password != "" || sf.SecurityToken != "" {
		return need([2]string{"SALESFORCE_USERNAME", sf.Username}, [2]string{"SALESFORCE_PASSWORD", sf.Password},
			[2]string{"SALESFORCE_SECURITY_TOKEN", sf.SecurityToken})
	}
	return nil
}

// needZendesk checks the login variables of one Zendesk instance.
func needZendesk(prefix string, z ZendeskConfig) error {
	return need([2]string{prefix + "URL", z.URL}, [2]string{prefix + "EMAIL", z.Email}, [2]string{prefix + "API_TOKEN", z.APIToken})
}

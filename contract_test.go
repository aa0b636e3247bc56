package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// The contract tests of the README's "Command line" and "Configuration":
// what scripts and operators rely on.

func TestHelpFlagPrintsUsageAndExitsZero(t *testing.T) {
	for _, args := range [][]string{{"sync", "--help"}, {"sync", "global-orgs", "-h"}, {"plan", "--help"}, {"case", "push", "-help"}} {
		code, out, errOut := run(t, map[string]string{}, args...)
		if code != exitOK || !strings.Contains(out, "usage:") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", args, code, out, errOut)
		}
	}
}

// okEnv is a complete configuration pointing at nothing that answers.
func okEnv(t *testing.T) map[string]string {
	return map[string]string{"SALESFORCE_URL": "http://127.0.0.1:1", "SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": "s3cr3t-client",
		"ZENDESK_GLOBAL_URL": "http://127.0.0.1:1", "ZENDESK_GLOBAL_EMAIL": "a@b", "ZENDESK_GLOBAL_API_TOKEN": "zd-secret-token",
		"ZENDESK_FEDERAL_URL": "http://127.0.0.1:1", "ZENDESK_FEDERAL_EMAIL": "a@b", "ZENDESK_FEDERAL_API_TOKEN": "zd-secret-token",
		"ZENDESK_CASE_ID_FIELD": "360000000001", "DATABASE_URL": filepath.Join(t.TempDir(), "zdsync.db")}
}

// A usage or configuration error exits 2 with one line naming the
// variable, never its value, and changes nothing (not even the database).
func TestBadArgumentsAndVariablesExit2(t *testing.T) {
	tests := []struct {
		name   string
		set    map[string]string
		args   []string
		want   string
		secret string
	}{
		{"plan apply takes no --csv", nil, []string{"plan", "apply", "p1", "--csv"}, "--csv is for plan show only", ""},
		{"plan show takes --json or --csv", nil, []string{"plan", "show", "p1", "--json", "--csv"}, "--json and --csv exclude each other", ""},
		{"a malformed SALESFORCE_URL", map[string]string{"SALESFORCE_URL": "login.salesforce.com"}, []string{"sync", "global-orgs"}, "SALESFORCE_URL: not an http(s) URL", ""},
		{"a malformed ZENDESK_GLOBAL_URL is not echoed", map[string]string{"ZENDESK_GLOBAL_URL": "https://u:pw-s3cret@[x"}, []string{"sync", "global-orgs"}, "ZENDESK_GLOBAL_URL: not an http(s) URL", "pw-s3cret"},
		{"a malformed ZENDESK_FEDERAL_URL", map[string]string{"ZENDESK_FEDERAL_URL": "example.zendesk.com"}, []string{"sync", "federal-users"}, "ZENDESK_FEDERAL_URL", ""},
		{"a malformed SLACK_API_URL", map[string]string{"SLACK_API_URL": "::"}, []string{"sync", "global-orgs"}, "SLACK_API_URL", ""},
		{"half a password flow names the missing variable", map[string]string{"SALESFORCE_USERNAME": "u", "SALESFORCE_PASSWORD": "hunter2-pass"},
			[]string{"sync", "global-orgs"}, "SALESFORCE_SECURITY_TOKEN is not set", "hunter2-pass"},
		{"a malformed LOG_LEVEL", map[string]string{"LOG_LEVEL": "loud"}, []string{"sync", "global-orgs"}, "LOG_LEVEL", ""},
		{"a negative ZENDESK_CASE_ID_FIELD", map[string]string{"ZENDESK_CASE_ID_FIELD": "-5"}, []string{"case", "push", "12"}, "ZENDESK_CASE_ID_FIELD", ""},
		{"no Salesforce requests at once", map[string]string{"SALESFORCE_MAX_CONCURRENCY": "0"}, []string{"case", "push", "12"}, "SALESFORCE_MAX_CONCURRENCY must be 1 or more", ""},
		{"a malformed postgres DATABASE_URL is not echoed", map[string]string{"DATABASE_URL": "postgres://u:pg-s3cret@db:port/x"},
			[]string{"sync", "global-orgs"}, "DATABASE_URL: malformed", "pg-s3cret"},
		{"a bot token of the wrong type is not echoed", map[string]string{"SLACK_BOT_TOKEN": "xoxp-user-s3cret"},
			[]string{"sync", "global-orgs"}, "SLACK_BOT_TOKEN must be a bot token (xoxb-…)", "xoxp-user-s3cret"},
		{"an app token of the wrong type is not echoed", map[string]string{"SLACK_APP_TOKEN": "xoxb-app-s3cret"},
			[]string{"sync", "global-orgs"}, "SLACK_APP_TOKEN must be an app-level token", "xoxb-app-s3cret"},
		{"a malformed SALESFORCE_API_RESERVE", map[string]string{"SALESFORCE_API_RESERVE": "0.1"},
			[]string{"sync", "global-orgs"}, "SALESFORCE_API_RESERVE: not a percentage", ""},
		{"an account ID whose suffix cannot be its own", nil,
			[]string{"sync", "global-orgs", "--account", "001Dn00000AbCdEBAV"}, "cannot belong to the first 15", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := okEnv(t)
			db := env["DATABASE_URL"]
			for k, v := range tt.set {
				env[k] = v
			}
			code, out, errOut := run(t, env, tt.args...)
			first, _, _ := strings.Cut(errOut, "\n")
			if code != exitUsage || out != "" || !strings.HasPrefix(first, "zdsync: ") || !strings.Contains(first, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			if tt.secret != "" && strings.Contains(errOut, tt.secret) {
				t.Errorf("stderr echoes the secret: %q", errOut)
			}
			if _, err := os.Stat(db); err == nil {
				t.Errorf("the database %s was created", db)
			}
		})
	}
}

// A variable set to the empty string takes its documented default.
func TestEmptyVariableTakesItsDefault(t *testing.T) {
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"CASE_PUSH_RETRIES": "", "CASE_PUSH_RETRY_DELAY": "", "HTTP_ADDR": "", "HTTP_TIMEOUT": " ", "PLAN_TTL": "", "DELETE_LIMIT": "",
		"SCHEDULE_GLOBAL_ORGS": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CasePushRetries != 3 || cfg.CasePushRetryDelay != 5*time.Second || cfg.HTTPAddr != ":8080" || cfg.HTTPTimeout != 30*time.Second ||
		cfg.PlanTTL != 30*time.Minute || cfg.DeleteLimit != 500 {
		t.Errorf("empty variables did not take their defaults: %+v", cfg)
	}
	if cfg.ScheduleGlobalOrgs != "" {
		t.Errorf("an empty schedule became %q; it stays empty, which the scheduler reads as off", cfg.ScheduleGlobalOrgs)
	}
}

// The sandbox's rules, which the tests and benchmarks run the jobs with,
// are the configuration's defaults: a default deployment's.
func TestSandboxRulesAreTheConfigurationDefaults(t *testing.T) {
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.rules(); got != sandbox.Rules() {
		t.Errorf("configuration rules %+v, sandbox rules %+v", got, sandbox.Rules())
	}
	if cfg.SalesforceAPIReserve != 0.1 {
		t.Errorf("SALESFORCE_API_RESERVE defaults to %v, want 10%%", cfg.SalesforceAPIReserve)
	}
}

// serve checks its Slack tokens before any network call, and never echoes
// them.
func TestServeRefusesATokenOfTheWrongTypeBeforeAnyNetworkCall(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { calls.Add(1); http.Error(w, "no", 500) }))
	defer srv.Close()
	env := okEnv(t)
	for k, v := range map[string]string{"SALESFORCE_URL": srv.URL, "ZENDESK_GLOBAL_URL": srv.URL, "ZENDESK_FEDERAL_URL": srv.URL,
		"SLACK_API_URL": srv.URL + "/api/", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-not-an-app-s3cret", "SLACK_SUMMARY_CHANNEL": "C1",
		"SLACK_ALERT_CHANNEL": "C2", "ZENDESK_WEBHOOK_SECRET": "w", "HTTP_ADDR": "127.0.0.1:0"} {
		env[k] = v
	}
	code, out, errOut := run(t, env, "serve")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "SLACK_APP_TOKEN") || strings.Contains(errOut, "s3cret") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 naming SLACK_APP_TOKEN", code, out, errOut)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d network calls before the configuration error", n)
	}
}

// serve checks its cron expressions before any network call.
func TestServeRefusesABadScheduleBeforeAnyNetworkCall(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { calls.Add(1); http.Error(w, "no", 500) }))
	defer srv.Close()
	env := okEnv(t)
	for k, v := range map[string]string{"SALESFORCE_URL": srv.URL, "ZENDESK_GLOBAL_URL": srv.URL, "ZENDESK_FEDERAL_URL": srv.URL,
		"SLACK_API_URL": srv.URL + "/api/", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_SUMMARY_CHANNEL": "C1",
		"SLACK_ALERT_CHANNEL": "C2", "ZENDESK_WEBHOOK_SECRET": "w", "HTTP_ADDR": "127.0.0.1:0", "SCHEDULE_FEDERAL": "every hour"} {
		env[k] = v
	}
	code, out, errOut := run(t, env, "serve")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "SCHEDULE_FEDERAL") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 naming SCHEDULE_FEDERAL", code, out, errOut)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d network calls before the configuration error", n)
	}
}

// decodeOne checks that out is exactly one JSON object and returns it.
func decodeOne(t *testing.T, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var s map[string]any
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("stdout is not a JSON object (%v):\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", out)
	}
	return s
}

// A dry run's summary lists `changes` even when there are none, and
// `errors` is always a list.
func TestJSONDryRunWithoutChangesListsChanges(t *testing.T) {
	_, env := sandboxEnv(t, sandbox.Options{Seed: 3, Accounts: 30})
	if code, out, errOut := run(t, env, "sync", "federal-orgs"); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ := run(t, env, "sync", "federal-orgs", "--dry-run", "--json")
	s := decodeOne(t, out)
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
	ch, ok := s["changes"].([]any)
	if !ok || len(ch) != 0 {
		t.Errorf("changes = %#v; want [] for a dry run with nothing to do", s["changes"])
	}
	if e, ok := s["errors"].([]any); !ok || len(e) != 0 {
		t.Errorf("errors = %#v; want []", s["errors"])
	}
}

// With --json, a run that cannot start after its arguments and
// configuration were accepted still prints its one Summary, with the code.
func TestJSONWhenTheRunCannotStart(t *testing.T) {
	env := okEnv(t)
	code, out, errOut := run(t, env, "sync", "global-orgs", "--dry-run", "--json")
	s := decodeOne(t, out)
	if code != exitFail || s["job"] != "global-orgs" || s["dry_run"] != true || s["code"] != float64(4) || !strings.Contains(errOut, "zdsync: ") {
		t.Errorf("exit %d, summary %v, stderr %q; want exit 1 and code 4 (ConnectionFailed)", code, s, errOut)
	}
	for _, key := range []string{"created", "updated", "deleted", "unchanged", "skipped", "errors", "changes"} {
		if _, ok := s[key]; !ok {
			t.Errorf("summary has no %q", key)
		}
	}
	if strings.Contains(out+errOut, "s3cr3t-client") {
		t.Errorf("secret printed")
	}

	if s := decodeOne(t, out); !runFailureListed(s, 4) {
		t.Errorf("the run's own failure is not in errors with an empty record: %v", s["errors"])
	}

	// A case push logs in to Salesforce as part of the push: a login that
	// keeps failing with code 4 is retried like any other code 4, then
	// reported with its code.
	sb, sbEnv := sandboxEnv(t, sandbox.Options{Seed: 4, Accounts: 20})
	sbEnv["CASE_PUSH_RETRY_DELAY"] = "1ms"
	sb.Salesforce.RefuseConnections(1000)
	ticket := sb.Global.AddTicket(syncer.Ticket{Subject: "Help", Status: "new", OrgID: firstSyncedOrg(t, sb).ID})
	code, out, _ = run(t, sbEnv, "case", "push", fmt.Sprint(ticket), "--json")
	if s := decodeOne(t, out); code != exitFail || s["job"] != "cases" || s["code"] != float64(4) {
		t.Errorf("case push: exit %d, summary %v", code, s)
	}

	code, out, _ = run(t, env, "plan", "apply", "nope", "--json")
	if s := decodeOne(t, out); code != exitFail || s["plan_id"] != "nope" || s["code"] != float64(11) {
		t.Errorf("plan apply: exit %d, summary %v", code, s)
	}
}

// runFailureListed reports whether a --json summary lists the run's own
// failure, code and empty record, in errors.
func runFailureListed(s map[string]any, code float64) bool {
	errs, _ := s["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok && m["record"] == "" && m["code"] == code && m["message"] == s["message"] {
			return true
		}
	}
	return false
}

// firstSyncedOrg returns a Global org of the sandbox that belongs to the
// sync.
func firstSyncedOrg(t *testing.T, sb *sandbox.Sandbox) syncer.Org {
	t.Helper()
	for _, o := range sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) {
			return o
		}
	}
	t.Fatal("the sandbox has no org of the sync")
	return syncer.Org{}
}

// A case push whose Salesforce login fails once with code 4 (a refused
// connection) is retried like any other code 4, and succeeds.
func TestCasePushRetriesAFailedLogin(t *testing.T) {
	sb, env := sandboxEnv(t, sandbox.Options{Seed: 4, Accounts: 20})
	env["CASE_PUSH_RETRY_DELAY"] = "1ms"
	sb.Salesforce.RefuseConnections(1)
	ticket := sb.Global.AddTicket(syncer.Ticket{Subject: "Help", Status: "new", OrgID: firstSyncedOrg(t, sb).ID})
	code, out, errOut := run(t, env, "case", "push", fmt.Sprint(ticket), "--json")
	s := decodeOne(t, out)
	if code != exitOK || s["created"] != float64(1) || len(sb.Salesforce.Cases()) != 1 {
		t.Fatalf("exit %d, summary %v, %d cases\n%s", code, s, len(sb.Salesforce.Cases()), errOut)
	}
}

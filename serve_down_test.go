package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// served is one `zdsync serve` started by a test.
type served struct {
	base   string // http://host:port
	stderr *bytes.Buffer
	done   chan int // its exit code
	stop   func()
}

// startServe starts `zdsync serve` on a temp SQLite database and port :0
// against the sandboxes and a fake Slack, with env's variables on top of
// the defaults of the tests (no schedule, writer UWRITER), and waits until
// it listens.
func startServe(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, slack *slacktest.Server, env map[string]string) *served {
	t.Helper()
	vars := sb.Env()
	for k, v := range map[string]string{
		"DATABASE_URL": filepath.Join(t.TempDir(), "zdsync.db"), "HTTP_ADDR": "127.0.0.1:0",
		"SLACK_BOT_TOKEN": slacktest.BotToken, "SLACK_APP_TOKEN": slacktest.AppToken, "SLACK_API_URL": slack.APIURL(),
		"SLACK_SUMMARY_CHANNEL": "CSUMMARY", "SLACK_ALERT_CHANNEL": "CALERT", "SLACK_WRITERS": "UWRITER",
		"ZENDESK_WEBHOOK_SECRET": webhookSecret, "SCHEDULE_GLOBAL_ORGS": "off", "SCHEDULE_FEDERAL": "off",
		"SCHEDULE_CASE_SWEEP": "off", "LOG_LEVEL": "warn", "CASE_PUSH_RETRY_DELAY": "10ms",
	} {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	ready := make(chan string, 1)
	s := &served{stderr: &bytes.Buffer{}, done: make(chan int, 1)}
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: s.stderr, Env: envconfig.MapLookuper(vars), Ready: ready}
	serveCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	s.stop = stop
	go func() { s.done <- m.Run(serveCtx, []string{"serve"}) }()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case code := <-s.done:
		t.Fatalf("serve exited %d:\n%s", code, s.stderr.String())
	}
	return s
}

// webhookSecret is the webhook signing secret of the tests' replicas.
const webhookSecret = "hook-secret"

// sendWebhook posts a signed ticket event to the webhook of a replica at
// base and returns the status.
func sendWebhook(t *testing.T, base string, ticketID int64, event syncer.Event) int {
	t.Helper()
	body := fmt.Appendf(nil, `{"ticket_id": %d, "event": %q}`, ticketID, event)
	req, err := zendesktest.NewWebhookRequest(base+zendesk.WebhookPath, webhookSecret, body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// newTicket adds a new ticket to the first org of the sandbox's Global
// Zendesk that has a Salesforce account, and returns its ID.
func newTicket(sb *sandbox.Sandbox) int64 {
	var org syncer.Org
	for _, o := range sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) {
			org = o
			break
		}
	}
	return sb.Global.AddTicket(syncer.Ticket{Subject: "Help", Status: "new", OrgID: org.ID})
}

// waitForCase waits until the fake Salesforce holds a case, or ctx ends.
func waitForCase(ctx context.Context, sb *sandbox.Sandbox) {
	for len(sb.Salesforce.Cases()) == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// Salesforce refuses the login as serve starts: serve starts anyway and is
// ready (the webhook needs only the database), queues the webhooks it
// receives and holds their pushes instead of failing them, alerts once in
// Slack, and logs in again with backoff; once Salesforce lets it in, the
// held push is made and the alert resolved.
func TestServeStartsWhileSalesforceRefusesTheLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 9, Accounts: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	sb.Salesforce.RejectLogins(1 << 20)
	slack := slacktest.NewServer()
	defer slack.Close()
	srv := startServe(t, ctx, sb, slack, nil)

	resp, err := http.Get(srv.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %d while Salesforce is down: %s", resp.StatusCode, body)
	}
	id := newTicket(sb)
	if code := sendWebhook(t, srv.base, id, syncer.EventCreated); code/100 != 2 {
		t.Fatalf("webhook while Salesforce is down: %d", code)
	}

	// The alert, once, however many logins fail.
	alerts, err := slack.WaitMessages(ctx, "CALERT", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(alerts[0].Text, "salesforce") || !strings.Contains(string(alerts[0].Blocks), "code 9 AuthFailed") {
		t.Errorf("alert = %q %s", alerts[0].Text, alerts[0].Blocks)
	}
	for sb.Salesforce.Calls().Token < 3 && ctx.Err() == nil { // the start's login and two retries
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(slack.Messages("CALERT")); n != 1 {
		t.Errorf("%d alert messages after %d refused logins, want 1", n, sb.Salesforce.Calls().Token)
	}
	if n := len(sb.Salesforce.Cases()); n != 0 {
		t.Fatalf("%d cases while the login was refused", n)
	}
	resp, err = http.Get(srv.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "salesforce: down (code 9") {
		t.Errorf("/readyz does not say Salesforce is down: %s", body)
	}

	// Salesforce lets it in: the held push is made, the alert resolved.
	sb.Salesforce.RejectLogins(0)
	waitForCase(ctx, sb)
	if n := len(sb.Salesforce.Cases()); n != 1 {
		t.Fatalf("%d cases after Salesforce came back, want 1", n)
	}
	for !strings.Contains(string(slack.Messages("CALERT")[0].Blocks), "Resolved") && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(slack.Messages("CALERT")[0].Blocks), "Resolved") {
		t.Errorf("the alert was not resolved: %s", slack.Messages("CALERT")[0].Blocks)
	}
	if n := len(slack.Messages("CALERT")); n != 1 {
		t.Errorf("%d alert messages, want the one", n)
	}
	srv.stop()
	if code := <-srv.done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, srv.stderr.String())
	}
}

// Slack is unreachable as serve starts: serve starts, its webhook works
// and pushes are made; the bot keeps trying to connect.
func TestServeStartsWhileSlackIsDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 9, Accounts: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	slack := slacktest.NewServer()
	slack.Close() // nothing listens at its address any more
	srv := startServe(t, ctx, sb, slack, nil)
	id := newTicket(sb)
	if code := sendWebhook(t, srv.base, id, syncer.EventCreated); code/100 != 2 {
		t.Fatalf("webhook while Slack is down: %d", code)
	}
	waitForCase(ctx, sb)
	if n := len(sb.Salesforce.Cases()); n != 1 {
		t.Fatalf("%d cases, want 1", n)
	}
	resp, err := http.Get(srv.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %d while Slack is down", resp.StatusCode)
	}
	srv.stop()
	if code := <-srv.done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, srv.stderr.String())
	}
}

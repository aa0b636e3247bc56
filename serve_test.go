package main

import (
	"bytes"
	"context"
	"fmt"
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

// TestServe starts the whole program (`zdsync serve`) on a temp database
// and port :0 against the sandboxes and a fake Slack, and drives it the
// way Zendesk and an on-call engineer do.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 9, Accounts: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	slack := slacktest.NewServer()
	defer slack.Close()
	env := sb.Env()
	for k, v := range map[string]string{
		"DATABASE_URL": filepath.Join(t.TempDir(), "zdsync.db"), "HTTP_ADDR": "127.0.0.1:0",
		"SLACK_BOT_TOKEN": slacktest.BotToken, "SLACK_APP_TOKEN": slacktest.AppToken, "SLACK_API_URL": slack.APIURL(),
		"SLACK_SUMMARY_CHANNEL": "CSUMMARY", "SLACK_ALERT_CHANNEL": "CALERT", "SLACK_WRITERS": "UWRITER",
		"ZENDESK_WEBHOOK_SECRET": "hook-secret", "SCHEDULE_GLOBAL_ORGS": "off", "SCHEDULE_FEDERAL": "off",
		"SCHEDULE_CASE_SWEEP": "off", "LOG_LEVEL": "warn", "CASE_PUSH_RETRY_DELAY": "10ms",
	} {
		env[k] = v
	}
	ready := make(chan string, 1)
	var stderr bytes.Buffer
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: &stderr, Env: envconfig.MapLookuper(env), Ready: ready}
	done := make(chan int, 1)
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { done <- m.Run(serveCtx, []string{"serve"}) }()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
	base := "http://" + addr

	get := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if err := slack.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get("/readyz") != 200 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if code := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d once Slack is connected", code)
	}

	t.Run("a signed webhook makes one case; a forged one is refused", func(t *testing.T) {
		var org syncer.Org
		for _, o := range sb.Global.Orgs() {
			if syncer.IsAccountID(o.ExternalID) {
				org = o
				break
			}
		}
		id := sb.Global.AddTicket(syncer.Ticket{Subject: "Help", Description: "It broke", Status: "new", Priority: "normal", OrgID: org.ID})
		body := fmt.Appendf(nil, `{"ticket_id": %d, "event": "created"}`, id)
		forged, _ := zendesktest.NewWebhookRequest(base+zendesk.WebhookPath, "wrong-secret", body, time.Now())
		resp, err := http.DefaultClient.Do(forged)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged webhook: %d", resp.StatusCode)
		}
		for range 2 { // a redelivery
			req, _ := zendesktest.NewWebhookRequest(base+zendesk.WebhookPath, "hook-secret", body, time.Now())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("webhook: %d", resp.StatusCode)
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(sb.Salesforce.Cases()) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // let a second push, if any, happen
		if n := len(sb.Salesforce.Cases()); n != 1 {
			t.Errorf("%d cases, want 1", n)
		}
	})

	t.Run("a writer runs a job from Slack and a reader is refused", func(t *testing.T) {
		before := sb.Global.WriteCalls()
		x, err := slack.SendSlashCommand(ctx, slacktest.SlashCommand{User: "UREADER", Text: "run global-orgs"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := x.Responses(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if writes := sb.Global.WriteCalls() - before; writes != 0 || !strings.Contains(string(res[0].Body), "allowed only to the users and groups in SLACK_WRITERS") {
			t.Errorf("reader: %d writes, reply %s", writes, res[0].Body)
		}
		x, err = slack.SendSlashCommand(ctx, slacktest.SlashCommand{User: "UWRITER", Text: "run global-orgs"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Responses(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if sb.Global.WriteCalls() == before {
			t.Error("the run wrote nothing")
		}
		if _, err := slack.WaitMessages(ctx, "CSUMMARY", 1); err != nil {
			t.Errorf("no summary posted: %v", err)
		}
	})

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
	for _, secret := range []string{slacktest.BotToken, slacktest.AppToken, "hook-secret", zendesktest.DefaultToken} {
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("logs contain the secret %q", secret)
		}
	}
}

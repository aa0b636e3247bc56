package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/metrics"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
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
	srv := startServe(t, ctx, sb, slack, nil)
	base, stderr, done, stop := srv.base, srv.stderr, srv.done, srv.stop

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
			req, _ := zendesktest.NewWebhookRequest(base+zendesk.WebhookPath, webhookSecret, body, time.Now())
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

	t.Run("/metrics exposes runs, API calls, the queue and readiness", func(t *testing.T) {
		get("/readyz")
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		for _, series := range []string{`zdsync_runs_total{job="global-orgs",outcome="ok"}`, `zdsync_runs_total{job="cases",outcome="ok"}`,
			`zdsync_changes_total{action="update",job="global-orgs"}`, `zdsync_api_calls_total{`, `system="zendesk"`,
			"zdsync_push_queue_depth", "zdsync_push_queue_oldest_age_seconds", `zdsync_last_success_timestamp_seconds{job="global-orgs"}`,
			`zdsync_ready{check="database"} 1`, `zdsync_ready{check="slack"} 1`, "zdsync_scheduler_leader 1"} {
			if !strings.Contains(body.String(), series) {
				t.Errorf("/metrics lacks %s", series)
			}
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
	for _, secret := range []string{slacktest.BotToken, slacktest.AppToken, webhookSecret, zendesktest.DefaultToken} {
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("logs contain the secret %q", secret)
		}
	}
}

// freshnessFor builds the freshness alarm of serve over a SQLite store and
// a fake Slack, with every job scheduled.
func freshnessFor(t *testing.T) (*app.Freshness, *bot.Notifier, *store.DB, *slacktest.Server) {
	t.Helper()
	ctx := context.Background()
	slack := slacktest.NewServer()
	t.Cleanup(slack.Close)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "zdsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	api := bot.NewClient(slacktest.BotToken, slacktest.AppToken, slack.APIURL(), nil)
	n, err := bot.NewNotifier(bot.NotifierConfig{API: api, SummaryChannel: "CSUMMARY", AlertChannel: "CALERT", Store: db})
	if err != nil {
		t.Fatal(err)
	}
	f := &app.Freshness{Store: db, Jobs: func() []syncer.Job { return syncer.RunnableJobs }, Alert: n.Alert,
		MaxAge: 3 * time.Hour, Started: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Log: slog.New(slog.DiscardHandler)}
	return f, n, db, slack
}

func TestFreshnessAlarm(t *testing.T) {
	ctx := context.Background()
	f, n, db, slack := freshnessFor(t)
	start := f.Started
	ok := &syncer.Summary{RunID: "r-ok", Job: syncer.JobGlobalOrgs, StartedAt: start, FinishedAt: start.Add(time.Minute), Errors: []syncer.RecordError{}}
	if err := db.SaveRun(ctx, ok); err != nil {
		t.Fatal(err)
	}
	f.Check(ctx, start.Add(2*time.Hour))
	if n := len(slack.Messages("CALERT")); n != 0 {
		t.Fatalf("%d alerts within the limit", n)
	}
	f.Check(ctx, start.Add(4*time.Hour))
	msgs := slack.Messages("CALERT")
	stale := 0
	for _, m := range msgs {
		if strings.Contains(m.Text, "Stale") || strings.Contains(string(m.Blocks), "has not succeeded") {
			stale++
		}
	}
	// Every scheduled job is stale: global-orgs since its last run, the
	// others since the start.
	if stale != 4 {
		t.Fatalf("%d stale alerts, want one per scheduled job:\n%+v", stale, msgs)
	}
	f.Check(ctx, start.Add(5*time.Hour))
	if n := len(slack.Messages("CALERT")); n != len(msgs) {
		t.Errorf("the alarm fired again: %d messages", n)
	}
	// The job's next success resolves its alert.
	ok2 := &syncer.Summary{RunID: "r-ok2", Job: syncer.JobGlobalOrgs, StartedAt: start.Add(5 * time.Hour), FinishedAt: start.Add(5 * time.Hour), Errors: []syncer.RecordError{}}
	if err := n.Notify(ctx, ok2); err != nil {
		t.Fatal(err)
	}
	if _, open, _ := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeStale); open {
		t.Error("the stale alert is still open after a successful run")
	}
}

func TestReadyzTurnsUnreadyWhenTheDatabaseGoesAway(t *testing.T) {
	_, _, db, _ := freshnessFor(t)
	ready := readiness(db, nil, nil, metrics.New())
	probe := func() int {
		rec := httptest.NewRecorder()
		ready(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code
	}
	db.Close()
	if code := probe(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d with the database closed", code)
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// notifiers are the Slack notifiers of n replicas on one Postgres
// database and one fake Slack: each its own process's client and pacer,
// all on the clock now.
func notifiers(t *testing.T, n int, slack *slacktest.Server, now func() time.Time) ([]*bot.Notifier, *store.DB) {
	t.Helper()
	pg := storetest.Postgres(t)
	var out []*bot.Notifier
	var db *store.DB
	for range n {
		db = pg.Open(t)
		api := bot.NewClient(slacktest.BotToken, slacktest.AppToken, slack.APIURL(), nil)
		nt, err := bot.NewNotifier(bot.NotifierConfig{API: api, SummaryChannel: "CSUMMARY", AlertChannel: "CALERT",
			Store: db, Now: now, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nt)
	}
	return out, db
}

// Three replicas report a burst of quiet case pushes: one status message
// for the cluster, not edited within a minute of its post, then edited
// once, by one replica, showing every replica's pushes.
func TestReplicasShareOneStatusMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slack := slacktest.NewServer()
	defer slack.Close()
	var mu sync.Mutex
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	reps, _ := notifiers(t, 3, slack, now)
	const perReplica = 40
	var wg sync.WaitGroup
	for i, n := range reps {
		wg.Go(func() {
			for k := range perReplica {
				s := &syncer.Summary{RunID: fmt.Sprintf("r%d-%d", i, k), Job: syncer.JobCases, Created: 1, FinishedAt: now()}
				if err := n.Notify(ctx, s); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	msgs := slack.Messages("CSUMMARY")
	if len(msgs) != 1 || msgs[0].Updates != 0 {
		t.Fatalf("summary channel: %d messages, first edited %d times; want one status message, not yet edited", len(msgs), msgs[0].Updates)
	}
	mu.Lock()
	clock = clock.Add(bot.StatusEditInterval)
	mu.Unlock()
	for _, n := range reps {
		wg.Go(func() {
			if err := n.FlushStatus(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	msgs = slack.Messages("CSUMMARY")
	if len(msgs) != 1 || msgs[0].Updates != 1 {
		t.Fatalf("summary channel: %d messages, edited %d times; want the one message edited once", len(msgs), msgs[0].Updates)
	}
	if want := fmt.Sprintf("%d quiet runs in a row", 3*perReplica); !strings.Contains(string(msgs[0].Blocks), want) {
		t.Errorf("status message lacks %q: %s", want, msgs[0].Blocks)
	}
	if n := len(slack.Calls(bot.MethodUpdate)); n != 1 {
		t.Errorf("%d chat.update calls for %d pushes, want 1", n, 3*perReplica)
	}
}

// Three replicas raise nine different alerts at once, more than Slack
// lets an app post to one channel in a burst: the fake answers 429, each
// replica waits the Retry-After, and every alert arrives once.
func TestReplicasAlertsArriveThroughSlackRateLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slack := slacktest.NewServer()
	defer slack.Close()
	reps, db := notifiers(t, 3, slack, time.Now)
	jobs := []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers}
	codes := []syncer.Code{syncer.CodeConnectionFailed, syncer.CodeOpenTimeout, syncer.CodeBadResponse}
	var wg sync.WaitGroup
	for i, n := range reps {
		for _, job := range jobs {
			wg.Go(func() {
				s := &syncer.Summary{RunID: fmt.Sprintf("run-%d-%s", i, job), Job: job, Code: codes[i], Message: "down",
					StartedAt: time.Now(), FinishedAt: time.Now()}
				s.Errors = []syncer.RecordError{{Code: codes[i], Message: "down"}}
				if err := n.Notify(ctx, s); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	top := 0
	for _, m := range slack.Messages("CALERT") {
		if m.ThreadTS == "" {
			top++
		}
	}
	if top != len(jobs)*len(codes) {
		t.Errorf("%d alerts in the channel, want %d", top, len(jobs)*len(codes))
	}
	if open, err := db.OpenAlerts(ctx); err != nil || len(open) != len(jobs)*len(codes) {
		t.Errorf("%d open alerts (%v), want %d", len(open), err, len(jobs)*len(codes))
	}
	if len(slack.RateLimited(bot.MethodPostMessage)) == 0 {
		t.Error("Slack never answered 429: the test proves nothing")
	}
}

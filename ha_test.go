package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/schedule"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/store/storetest"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// TestReplicasRunEachTickOnce starts three replicas' schedulers on one
// Postgres with one fake clock: each tick runs on exactly one replica, and
// when the leader stops, another runs the next tick.
func TestReplicasRunEachTickOnce(t *testing.T) {
	pg := storetest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 9, 0, 30, 0, time.UTC))
	type run struct {
		replica int
		at      time.Time
	}
	runs := make(chan run, 32)
	type replica struct {
		db  *store.DB
		el  *store.Elector
		sc  *schedule.Scheduler
		off bool
	}
	var reps []*replica
	for i := range 3 {
		db, err := store.Open(ctx, pg.URL, pg.Options...)
		if err != nil {
			t.Fatal(err)
		}
		el, err := db.NewElector("zdsync-scheduler")
		if err != nil {
			t.Fatal(err)
		}
		sc, err := schedule.New(schedule.Config{
			Schedules: schedule.Schedules{GlobalOrgs: "* * * * *", Federal: "off", CaseSweep: "off"},
			Run: func(_ context.Context, req syncer.Request) *syncer.Summary {
				runs <- run{i, clock.Now()}
				return &syncer.Summary{Job: req.Job}
			},
			Options: []gocron.SchedulerOption{gocron.WithClock(clock), gocron.WithDistributedElector(el)},
			Logger:  quietLog(),
		})
		if err != nil {
			t.Fatal(err)
		}
		sc.Start()
		r := &replica{db: db, el: el, sc: sc}
		reps = append(reps, r)
		t.Cleanup(func() {
			if !r.off {
				r.sc.Shutdown()
				r.el.Close()
				r.db.Close()
			}
		})
	}
	tick := func(live int) run {
		t.Helper()
		if err := clock.BlockUntilContext(ctx, live); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		var got run
		select {
		case got = <-runs:
		case <-ctx.Done():
			t.Fatal("no replica ran the tick")
		}
		select {
		case again := <-runs:
			t.Fatalf("the tick ran twice: on replica %d and %d", got.replica, again.replica)
		case <-time.After(500 * time.Millisecond):
		}
		return got
	}
	first := tick(3)
	for range 2 {
		if r := tick(3); r.replica != first.replica {
			t.Errorf("tick ran on replica %d, the leader is %d", r.replica, first.replica)
		}
	}
	// The leader stops (its session ends): another replica takes over.
	leader := reps[first.replica]
	leader.sc.Shutdown()
	leader.el.Close()
	leader.db.Close()
	leader.off = true
	next := tick(2)
	if next.replica == first.replica {
		t.Fatalf("the stopped leader ran a tick")
	}
	if r := tick(2); r.replica != next.replica {
		t.Errorf("leadership moved again: %d then %d", next.replica, r.replica)
	}
}

// TestWebhooksOnAnyReplica sends ten ticket events round-robin to three
// replicas' webhook endpoints (and each again to another replica, as a
// redelivery) over one Postgres queue: ten cases, no duplicates.
func TestWebhooksOnAnyReplica(t *testing.T) {
	pg := storetest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 5, Accounts: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var hooks []string
	for range 3 {
		db, err := store.Open(ctx, pg.URL, pg.Options...)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		sf, err := salesforce.New(ctx, sb.SalesforceConfig())
		if err != nil {
			t.Fatal(err)
		}
		zd, err := zendesk.New(zendesk.Config{URL: sb.Global.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
			CaseIDField: sb.Options.CaseIDField, RequestsPerMinute: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		core := &app.Core{Pusher: &syncer.Pusher{Salesforce: sf, Zendesk: zd, Log: db}, Store: db}
		q, err := pushqueue.New(ctx, db, core, pushqueue.Config{PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(context.Background())
		srv := httptest.NewServer(zendesk.NewWebhookHandler(webhookSecret, q, quietLog()))
		defer srv.Close()
		hooks = append(hooks, srv.URL)
	}
	var orgs []syncer.Org
	for _, o := range sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) {
			orgs = append(orgs, o)
		}
	}
	var tickets []int64
	for i := range 10 {
		tickets = append(tickets, sb.Global.AddTicket(syncer.Ticket{Subject: fmt.Sprintf("ticket %d", i), Status: "new", OrgID: orgs[i%len(orgs)].ID}))
	}
	send := func(base string, id int64) {
		if code := sendWebhook(t, base, id, syncer.EventCreated); code/100 != 2 {
			t.Fatalf("webhook to %s: %d", base, code)
		}
	}
	for i, id := range tickets {
		send(hooks[i%3], id)
		send(hooks[(i+1)%3], id) // a redelivery, to another replica
	}
	for len(sb.Salesforce.Cases()) < len(tickets) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for a duplicate to appear
	byTicket := map[string]int{}
	for _, c := range sb.Salesforce.Cases() {
		byTicket[c.ZendeskTicketID]++
	}
	if len(sb.Salesforce.Cases()) != len(tickets) {
		t.Errorf("%d cases for %d tickets", len(sb.Salesforce.Cases()), len(tickets))
	}
	for tk, n := range byTicket {
		if n != 1 {
			t.Errorf("ticket %s has %d cases", tk, n)
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

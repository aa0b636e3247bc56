package pushqueue_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/store/storetest"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// The drain benchmark's burst and Salesforce latency.
const (
	drainTickets = 1000
	drainLatency = 100 * time.Millisecond
)

// BenchmarkCasePushDrain1000 measures how fast one replica drains a burst
// of 1,000 ticket-created webhooks when every Salesforce request takes
// 100 ms: the webhooks are delivered signed, over HTTP, to the webhook
// handler, which stores them in the durable queue (on SQLite, as one
// replica runs by default), and the queue's workers push them with the real
// Salesforce and Zendesk adapters over HTTP (Zendesk answers at once and
// its rate limit is lifted, so that Salesforce is what is measured).
// It reports pushes a second and the wall time ÷ the floor, the floor
// being the Salesforce requests made ÷ the requests in flight at once ×
// 100 ms. ZDSYNC_BENCH_WORKERS sets the queue's workers and
// ZDSYNC_BENCH_SF_CONCURRENCY the adapter's cap (both default to
// salesforce.DefaultMaxConcurrency, as in serve). ZDSYNC_BENCH_SERVE=1
// pushes through a serve replica's whole path: the application core (the
// ticket's run lock, the saved summary) and the Slack notifier (the
// quiet-runs counts, against the fake Slack); ZDSYNC_BENCH_POSTGRES=1
// puts the queue and the store on ZDSYNC_TEST_POSTGRES_URL, as several
// replicas run.
//
//	go test ./syncer/pushqueue -run '^$' -bench CasePushDrain1000 -benchtime 1x
func BenchmarkCasePushDrain1000(b *testing.B) {
	workers := benchEnvInt(b, "ZDSYNC_BENCH_WORKERS", salesforce.DefaultMaxConcurrency)
	sfConcurrency := benchEnvInt(b, "ZDSYNC_BENCH_SF_CONCURRENCY", salesforce.DefaultMaxConcurrency)
	for range b.N {
		benchDrain(b, workers, sfConcurrency, os.Getenv("ZDSYNC_BENCH_SERVE") == "1", os.Getenv("ZDSYNC_BENCH_POSTGRES") == "1")
	}
}

func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func benchDrain(b *testing.B, workers, sfConcurrency int, serve, postgres bool) {
	ctx := context.Background()
	sf := salesforcetest.NewServer(salesforcetest.WithAccounts(salesforcetest.Account{ID: itAccount, Name: "Acme", Type: "Customer"}))
	defer sf.Close()
	zd := zendesktest.NewServer()
	defer zd.Close()
	creds := sf.Credentials()
	sfc, err := salesforce.New(ctx, salesforce.Config{URL: sf.URL(), ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		Username: creds.Username, Password: creds.Password, SecurityToken: creds.SecurityToken, MaxConcurrency: sfConcurrency})
	if err != nil {
		b.Fatal(err)
	}
	zdc, err := zendesk.New(zendesk.Config{URL: zd.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
		CaseIDField: zendesktest.DefaultCaseIDField, RequestsPerMinute: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	d := storetest.SQLite(b)
	if postgres {
		d = storetest.Postgres(b)
	}
	db := d.Open(b)

	org := zd.AddOrg(syncer.Org{Name: "Acme", ExternalID: itAccount})
	uid := zd.AddUser(syncer.User{Name: "Ada Lovelace", Email: "ada@example.com", Role: "end-user"})
	ids := make([]int64, drainTickets)
	for i := range ids {
		ids[i] = zd.AddTicket(syncer.Ticket{Subject: fmt.Sprint("Ticket ", i), Description: "It broke.", OrgID: org, RequesterID: uid})
	}

	var mu sync.Mutex
	var failed []*syncer.Summary
	pushed := make(chan struct{}, drainTickets)
	var pusher pushqueue.Pusher = &syncer.Pusher{Salesforce: sfc, Zendesk: zdc, Log: db}
	slackCalls := func() int { return 0 }
	if serve {
		slack := slacktest.NewServer()
		slackCalls = func() int { return len(slack.Calls(bot.MethodPostMessage)) + len(slack.Calls(bot.MethodUpdate)) }
		defer slack.Close()
		n, err := bot.NewNotifier(bot.NotifierConfig{API: bot.NewClient(slacktest.BotToken, slacktest.AppToken, slack.APIURL(), nil),
			SummaryChannel: "CSUMMARY", AlertChannel: "CALERT", Store: db, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		pusher = &app.Core{Pusher: &syncer.Pusher{Salesforce: sfc, Zendesk: zdc, Log: db}, Store: db, Reporters: []app.Reporter{n}}
	}
	q, err := pushqueue.New(ctx, db, pusher, pushqueue.Config{Workers: workers, PollInterval: 0,
		Done: func(_ context.Context, s *syncer.Summary) {
			if !s.OK() {
				mu.Lock()
				failed = append(failed, s)
				mu.Unlock()
			}
			pushed <- struct{}{}
		}})
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		q.Stop(stopCtx)
	}()
	mux := http.NewServeMux()
	mux.Handle("POST "+zendesk.WebhookPath, zendesk.NewWebhookHandler(itSecret, q, nil))
	hook := httptest.NewServer(mux)
	defer hook.Close()
	sf.SetResponseDelay(drainLatency) // from here on: the login is done
	sf.ResetCalls()
	zdBefore := zd.TotalCalls()

	b.ResetTimer()
	start := time.Now()
	deliver(b, hook.URL+zendesk.WebhookPath, ids)
	for range drainTickets {
		<-pushed
	}
	elapsed := time.Since(start)
	b.StopTimer()

	if len(failed) != 0 {
		b.Fatalf("%d pushes failed, the first: %s", len(failed), failed[0].Message)
	}
	if n := len(sf.Cases()); n != drainTickets {
		b.Fatalf("%d cases, want %d", n, drainTickets)
	}
	calls := sf.Calls()
	inFlight := min(workers, sfConcurrency)
	floor := time.Duration(calls.API()) * drainLatency / time.Duration(inFlight)
	b.ReportMetric(float64(drainTickets)/elapsed.Seconds(), "pushes/s")
	b.ReportMetric(elapsed.Seconds()/floor.Seconds(), "wall/floor")
	b.ReportMetric(float64(calls.API())/drainTickets, "sf-calls/push")
	b.ReportMetric(float64(zd.TotalCalls()-zdBefore)/drainTickets, "zd-calls/push")
	b.ReportMetric(float64(calls.MaxInFlight), "sf-max-in-flight")
	b.ReportMetric(float64(slackCalls()), "slack-posts")
	b.Logf("%d pushes in %v with %d workers and %d Salesforce requests at once (%s, serve path %v): %d Salesforce requests, floor %v",
		drainTickets, elapsed.Round(time.Millisecond), workers, sfConcurrency, d.Backend, serve, calls.API(), floor)
}

// deliver sends the ticket-created webhook of each ticket, eight at a time,
// as Zendesk does during a burst.
func deliver(b *testing.B, url string, ids []int64) {
	next := make(chan int64)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range next {
				body := fmt.Sprintf(`{"ticket_id": "%d", "event": "created"}`, id)
				req, err := zendesktest.NewWebhookRequest(url, itSecret, []byte(body), time.Now())
				if err != nil {
					b.Error(err)
					continue
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("webhook of ticket %d answered %d", id, resp.StatusCode)
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
}

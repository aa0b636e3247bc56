package syncer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// The near-real-time benchmark (README, "Near real time"): the sandboxes
// at benchLatency a call, 100,000 global accounts, Zendesk at benchRPM;
// the schedule runs on a simulated clock, one tick a simulated minute,
// while every run itself takes the real time its calls take.
const (
	nrtMinutes       = 10 // simulated minutes of changes
	nrtChangesPerMin = 6  // changes at random moments of each minute, one of each kind
	nrtIdleMinutes   = 10 // idle ticks measured
	nrtBurst         = 1000
)

// nrtBench is the state of the near-real-time benchmark.
type nrtBench struct {
	sb      *sandbox.Sandbox
	clk     *clockwork.FakeClock
	r       *syncer.Runner
	fast    *syncer.Runner // unpaced, for the set-up full runs and markers
	db      *store.DB
	rng     *rand.Rand
	seq     int
	global  []salesforcetest.Account // synced global accounts with every kind of child record, not used yet
	fedAcct []salesforcetest.Account // synced federal accounts, not used yet
	users   []salesforcetest.Contact // contacts of a federal user of their own, not used yet
}

// pending is a change made in Salesforce, waiting to show in Zendesk.
type pending struct {
	kind    string
	at      time.Time // its SystemModstamp (simulated)
	visible func() bool
}

func newNRTBench(b *testing.B) *nrtBench {
	b.Helper()
	ctx := context.Background()
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(start.Add(-24 * time.Hour))
	accounts := 100_000
	if n, err := strconv.Atoi(os.Getenv("ZDSYNC_BENCH_ACCOUNTS")); err == nil && n > 0 {
		accounts = n // a smaller run, to try the benchmark out
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 1, GlobalAccounts: accounts, FederalAccounts: 300, Missing: 0, Stale: 0.001,
		ExactShares: true, Foreign: -1, NoDeletions: true, Now: start, Clock: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sb.Close)
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "zdsync.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	sf, err := salesforce.New(ctx, sb.SalesforceConfig())
	if err != nil {
		b.Fatal(err)
	}
	client := func(s *zendesktest.Server, rpm int, sleep func(context.Context, time.Duration) error) *zendesk.Client {
		c, err := zendesk.New(zendesk.Config{URL: s.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
			RequestsPerMinute: rpm, Sleep: sleep})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	clk.Advance(24 * time.Hour)
	nb := &nrtBench{sb: sb, clk: clk, db: db, rng: rand.New(rand.NewPCG(7, 13))}
	nb.r = &syncer.Runner{Salesforce: sf, Global: client(sb.Global, benchRPM, nil), Federal: client(sb.Federal, benchRPM, nil),
		Store: db, Watermarks: db, Overlap: 2 * time.Minute, Rules: sandbox.Rules(), Now: clk.Now}
	fast := *nb.r
	fast.Global, fast.Federal = client(sb.Global, 1<<20, noSleep), client(sb.Federal, 1<<20, noSleep)
	nb.fast = &fast
	// Zendesk in step: a full run of each job, fast, then the limits on.
	for _, job := range syncer.SyncJobs {
		s := nb.fast.Run(ctx, job, syncer.Options{})
		if !s.OK() {
			b.Fatalf("full %s: %s (%s)", job, s.Headline(), s.Message)
		}
		if err := db.SaveRun(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	nb.pick()
	sb.Salesforce.SetResponseDelay(benchLatency)
	for _, zd := range []*zendesktest.Server{sb.Global, sb.Federal} {
		zd.SetLatency(benchLatency)
		zd.SetRateLimit(benchRPM)
	}
	return nb
}

// pick finds the records the changes are made to, each used once.
func (nb *nrtBench) pick() {
	orgs := map[string]syncer.Org{}
	for _, o := range nb.sb.Global.Orgs() {
		orgs[o.ExternalID] = o
	}
	for _, a := range nb.sb.Salesforce.Accounts() {
		o, ok := orgs[a.ID]
		if ok && salesforcetest.MatchesGlobalQuery(&a) && len(a.CustomerSubscriptions) > 0 && len(a.ZuoraSubscriptions) > 0 &&
			liveSoldTo(a) >= 0 && !slices.Contains(o.Tags, "expired") {
			nb.global = append(nb.global, a)
		}
	}
	fedOrgs := map[string]bool{}
	for _, o := range nb.sb.Federal.Orgs() {
		fedOrgs[o.ExternalID] = true
	}
	for _, a := range nb.sb.Salesforce.Accounts() {
		if fedOrgs[a.ID] && salesforcetest.MatchesFederalQuery(&a) {
			nb.fedAcct = append(nb.fedAcct, a)
		}
	}
	byEmail := map[string]int{}
	for _, c := range nb.sb.Salesforce.Contacts() {
		byEmail[strings.ToLower(strings.TrimSpace(c.Email))]++
	}
	users := map[string]syncer.User{}
	for _, u := range nb.sb.Federal.Users() {
		users[strings.ToLower(u.Email)] = u
	}
	for _, c := range nb.sb.Salesforce.Contacts() {
		e := strings.ToLower(strings.TrimSpace(c.Email))
		if u, ok := users[e]; ok && byEmail[e] == 1 && !c.Inactive && u.OrgID != 0 && u.Name == strings.TrimSpace(c.Name) {
			nb.users = append(nb.users, c)
		}
	}
}

// setClock moves the simulated clock on to t.
func setClock(clk *clockwork.FakeClock, t time.Time) { clk.Advance(t.Sub(clk.Now())) }

// liveSoldTo returns the index of an account's first sold-to record not
// deleted, or -1.
func liveSoldTo(a salesforcetest.Account) int {
	return slices.IndexFunc(a.SoldTo, func(s salesforcetest.SoldTo) bool { return !s.IsDeleted })
}

// orgField returns a field of the org of account id in zd.
func orgField(zd *zendesktest.Server, id, field string) any {
	if o, ok := orgByExt(zd, id); ok {
		return o.Fields.Get(field)
	}
	return nil
}

// change makes one change of the given kind at the clock's time and
// returns how to tell it reached Zendesk.
func (nb *nrtBench) change(b *testing.B, kind string) pending {
	b.Helper()
	nb.seq++
	p := pending{kind: kind, at: nb.clk.Now()}
	sf, zd := nb.sb.Salesforce, nb.sb.Global
	next := func(list *[]salesforcetest.Account) salesforcetest.Account {
		if len(*list) == 0 {
			b.Fatalf("no %s record left to change", kind)
		}
		a := (*list)[0]
		*list = (*list)[1:]
		return a
	}
	switch kind {
	case "account", duringRun:
		a, owner := next(&nb.global), fmt.Sprintf("Owner %d", nb.seq)
		sf.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Owner = owner })
		p.visible = func() bool { return orgField(zd, a.ID, "account_owner") == owner }
	case "customer subscription", "Zuora subscription":
		a, end := next(&nb.global), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, nb.seq).Format(time.DateOnly)
		sf.UpdateAccount(a.ID, func(x *salesforcetest.Account) {
			if kind == "customer subscription" {
				x.CustomerSubscriptions[0].Status, x.CustomerSubscriptions[0].EndDate = "Active", end
			} else {
				x.ZuoraSubscriptions[0].Status, x.ZuoraSubscriptions[0].EndDate = "Active", end
			}
		})
		p.visible = func() bool { return orgField(zd, a.ID, syncer.FieldExpirationDate) == end }
	case "sold-to record":
		// Its org waits for its sold-to users (a run cut short), and
		// the sold-to record gets a new e-mail.
		a := next(&nb.global)
		o, _ := orgByExt(zd, a.ID)
		w := []syncer.OrgWrite{{ID: o.ID, ExternalID: o.ExternalID, Tags: append(slices.Clone(o.Tags), syncer.TagSoldToPending)}}
		if res := nb.fast.Global.UpdateOrgs(context.Background(), w); res[0].Err != nil {
			b.Fatal(res[0].Err)
		}
		email := fmt.Sprintf("buyer%d@example.com", nb.seq)
		sf.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.SoldTo[liveSoldTo(*x)].Email = email })
		p.visible = func() bool {
			return slices.ContainsFunc(zd.Users(), func(u syncer.User) bool { return u.Email == email })
		}
	case "federal account":
		a, owner := next(&nb.fedAcct), fmt.Sprintf("Federal Owner %d", nb.seq)
		sf.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Owner = owner })
		p.visible = func() bool { return orgField(nb.sb.Federal, a.ID, "account_owner") == owner }
	case "contact":
		if len(nb.users) == 0 {
			b.Fatal("no contact left to change")
		}
		c, name := nb.users[0], fmt.Sprintf("Contact Renamed %d", nb.seq)
		nb.users = nb.users[1:]
		sf.UpdateContact(c.ID, func(x *salesforcetest.Contact) { x.Name = name })
		email := strings.ToLower(strings.TrimSpace(c.Email))
		p.visible = func() bool {
			return slices.ContainsFunc(nb.sb.Federal.Users(), func(u syncer.User) bool { return strings.ToLower(u.Email) == email && u.Name == name })
		}
	}
	return p
}

var nrtKinds = []string{"account", "customer subscription", "Zuora subscription", "sold-to record", "federal account", "contact"}

// duringRun is the kind of the account changes committed while a tick's
// runs are under way.
const duringRun = "account, during a run"

// tick runs the scheduled incremental runs of one minute as serve does
// (global-orgs beside federal-orgs then federal-users) and returns their
// summaries and when each ended, in real time since the tick.
func (nb *nrtBench) tick(b *testing.B) (map[syncer.Job]*syncer.Summary, map[syncer.Job]time.Duration) {
	b.Helper()
	ctx := context.Background()
	out, took := map[syncer.Job]*syncer.Summary{}, map[syncer.Job]time.Duration{}
	var mu sync.Mutex
	start := time.Now()
	run := func(job syncer.Job) bool {
		s := nb.r.Run(ctx, job, syncer.Options{Incremental: true, By: syncer.BySchedule})
		if !s.QuietIncremental() {
			if err := nb.db.SaveRun(ctx, s); err != nil {
				b.Error(err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		out[job], took[job] = s, time.Since(start)
		if !s.OK() {
			b.Errorf("%s: %s (%s) %v", job, s.Headline(), s.Message, s.Errors)
		}
		return s.OK()
	}
	var wg sync.WaitGroup
	wg.Go(func() { run(syncer.JobGlobalOrgs) })
	wg.Go(func() {
		if run(syncer.JobFederalOrgs) {
			run(syncer.JobFederalUsers)
		}
	})
	wg.Wait()
	return out, took
}

// jobOfKind is the job whose run carries a kind of change over.
func jobOfKind(kind string) syncer.Job {
	switch kind {
	case "federal account":
		return syncer.JobFederalOrgs
	case "contact":
		return syncer.JobFederalUsers
	}
	return syncer.JobGlobalOrgs
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// BenchmarkNearRealTime measures near real time against the sandboxes at
// 100 ms a call, 100,000 global accounts and Zendesk at 700 requests a
// minute (a few minutes of real time):
//
//	go test -run '^$' -bench NearRealTime -benchtime 1x -timeout 30m -v ./syncer/
//
// Freshness: six kinds of change (account field, customer subscription,
// Zuora subscription, sold-to record, federal account, contact) at random
// moments of ten simulated minutes, and one more account change committed
// during each tick's runs; the time until Zendesk shows each (the
// simulated wait for the tick plus the real time of the run), p50/p95/max,
// and the changes that never arrived. Idle cost: Salesforce and Zendesk
// calls per idle minute per job. Busy cost: 1,000 accounts changed within
// one minute, carried over by one run, its calls against the minimum (one
// detection and one read per 2,000 accounts in Salesforce; one look-up,
// one bulk job and one job status per 100 orgs in Zendesk).
func BenchmarkNearRealTime(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		nb := newNRTBench(b)
		// A first tick describes Account once for the Salesforce client:
		// set-up, not a minute of the schedule.
		nb.clk.Advance(time.Minute)
		nb.tick(b)

		var waiting []pending
		var latencies []time.Duration
		byKind := map[string][]time.Duration{}
		settle := func(tick time.Time, took map[syncer.Job]time.Duration) {
			var still []pending
			for _, p := range waiting {
				if p.visible() {
					d := tick.Sub(p.at) + took[jobOfKind(p.kind)]
					latencies = append(latencies, d)
					byKind[p.kind] = append(byKind[p.kind], d)
					continue
				}
				still = append(still, p)
			}
			waiting = still
		}
		b.StartTimer()
		for m := range nrtMinutes + 2 {
			base := nb.clk.Now()
			if m < nrtMinutes {
				// The minute's changes, at random moments, in order.
				var at []time.Duration
				for range nrtChangesPerMin {
					at = append(at, time.Duration(nb.rng.Int64N(int64(time.Minute))))
				}
				slices.Sort(at)
				for i, d := range at {
					setClock(nb.clk, base.Add(d))
					waiting = append(waiting, nb.change(b, nrtKinds[(m+i)%len(nrtKinds)]))
				}
			}
			setClock(nb.clk, base.Add(time.Minute))
			tick := nb.clk.Now()
			if m < nrtMinutes {
				// One change committed while the tick's runs are under way:
				// at their third composite request, after the first
				// detections (caught by this tick or the next).
				composites := 0
				nb.sb.Salesforce.SetRequestHook(func(r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/composite") {
						if composites++; composites == 3 {
							waiting = append(waiting, nb.change(b, duringRun))
						}
					}
				})
			}
			_, took := nb.tick(b)
			nb.sb.Salesforce.SetRequestHook(nil)
			settle(tick, took)
		}
		b.StopTimer()
		b.ReportMetric(percentile(latencies, 0.5).Seconds(), "p50-s")
		b.ReportMetric(percentile(latencies, 0.95).Seconds(), "p95-s")
		b.ReportMetric(percentile(latencies, 1).Seconds(), "max-s")
		b.ReportMetric(float64(len(latencies)), "changes")
		b.ReportMetric(float64(len(waiting)), "misses")
		for _, k := range append(slices.Clone(nrtKinds), duringRun) {
			b.Logf("%-22s %2d changes, p50 %5.1fs, max %5.1fs", k, len(byKind[k]), percentile(byKind[k], 0.5).Seconds(), percentile(byKind[k], 1).Seconds())
		}

		// Idle: nothing changes.
		sfCalls, zdCalls := map[syncer.Job]int{}, map[syncer.Job]int{}
		for range nrtIdleMinutes {
			nb.clk.Advance(time.Minute)
			runs, _ := nb.tick(b)
			for job, s := range runs {
				sfCalls[job] += s.Incremental.SalesforceCalls
				zdCalls[job] += s.Incremental.ZendeskCalls
			}
		}
		worstSF, worstZD := 0.0, 0.0
		var idle []string
		for _, job := range syncer.SyncJobs {
			sf, zd := float64(sfCalls[job])/nrtIdleMinutes, float64(zdCalls[job])/nrtIdleMinutes
			idle = append(idle, fmt.Sprintf("%s %.2f + %.2f", job, sf, zd))
			worstSF, worstZD = max(worstSF, sf), max(worstZD, zd)
		}
		b.Logf("idle, Salesforce + Zendesk calls a minute: %s", strings.Join(idle, ", "))
		b.ReportMetric(worstSF, "idle-sf-calls/min/job")
		b.ReportMetric(worstZD, "idle-zd-calls/min/job")
		b.ReportMetric(worstSF*float64(len(syncer.SyncJobs))*24*60, "idle-sf-calls/day")

		// Busy: 1,000 accounts change within one minute.
		var burst []pending
		base := nb.clk.Now()
		for i := range nrtBurst {
			setClock(nb.clk, base.Add(time.Duration(i)*time.Minute/nrtBurst))
			burst = append(burst, nb.change(b, "account"))
		}
		setClock(nb.clk, base.Add(time.Minute))
		b.StartTimer()
		runs, took := nb.tick(b)
		b.StopTimer()
		s := runs[syncer.JobGlobalOrgs]
		arrived := 0
		for _, p := range burst {
			if p.visible() {
				arrived++
			}
		}
		minimum := 1 + ceilDiv(nrtBurst, 2000) + 3*ceilDiv(nrtBurst, 100)
		calls := s.Incremental.SalesforceCalls + s.Incremental.ZendeskCalls
		b.ReportMetric(float64(calls)/float64(minimum), "busy-calls/min")
		b.ReportMetric(float64(calls), "busy-calls")
		b.ReportMetric(float64(minimum), "busy-min-calls")
		b.ReportMetric(took[syncer.JobGlobalOrgs].Seconds(), "busy-run-s")
		b.ReportMetric(float64(nrtBurst-arrived), "busy-misses")
		b.Logf("burst: %s; %d Salesforce and %d Zendesk calls", s.Headline(), s.Incremental.SalesforceCalls, s.Incremental.ZendeskCalls)
		nb.clk.Advance(time.Minute)
		after, _ := nb.tick(b)
		b.ReportMetric(float64(after[syncer.JobGlobalOrgs].Incremental.SalesforceCalls+after[syncer.JobGlobalOrgs].Incremental.ZendeskCalls), "calls-minute-after-burst")
		b.StartTimer()
	}
}

package syncer_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// The conditions of the rate-limit benchmarks: an Enterprise-like limit on
// the fake Zendesk, the client paced at the same limit, and a realistic
// latency on every call of every fake.
const (
	benchRPM     = 700
	benchLatency = 100 * time.Millisecond
)

// benchLimiter is how the fake Zendesk enforces benchRPM: a fixed window
// of one minute (burst 0, the plan's documented limit) or a token bucket
// with the given burst (the stricter limits Zendesk is seen to answer 429
// with below the plan's rate).
type benchLimiter struct {
	name  string
	burst int
}

// benchLimiters are the limiters the rate-limit benchmarks run under:
// the fixed window, a lenient token bucket (burst 70: a tenth of a
// minute) and a strict one (burst 10).
var benchLimiters = []benchLimiter{{"fixed-window", 0}, {"bucket-burst-70", 70}, {"bucket-burst-10", 10}}

// apply makes zd enforce benchRPM with the limiter.
func (l benchLimiter) apply(zd *zendesktest.Server) { zd.SetTokenBucket(benchRPM, l.burst) }

// rateBench is a runner over a sandbox whose Zendesk instances enforce
// benchRPM and whose fakes answer after benchLatency, with the real
// adapters paced at benchRPM and really sleeping.
type rateBench struct {
	sb       *sandbox.Sandbox
	r        *syncer.Runner
	limiter  benchLimiter
	calls429 atomic.Int64

	mu       sync.Mutex
	fetchEnd time.Time // the last progress report before the plan's
	planEnd  time.Time // the plan's progress report
}

func newRateBench(b *testing.B, opts sandbox.Options, lim benchLimiter) *rateBench {
	b.Helper()
	ctx := context.Background()
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	}
	opts.Latency, opts.ZendeskRateLimit = benchLatency, benchRPM
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sb.Close)
	lim.apply(sb.Global)
	lim.apply(sb.Federal)
	sf, err := salesforce.New(ctx, sb.SalesforceConfig())
	if err != nil {
		b.Fatal(err)
	}
	rb := &rateBench{sb: sb, limiter: lim}
	zd := func(s *zendesktest.Server) *zendesk.Client {
		c, err := zendesk.New(zendesk.Config{URL: s.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
			RequestsPerMinute: benchRPM, Observe: func(c zendesk.Call) {
				if c.Status == 429 {
					rb.calls429.Add(1)
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "zdsync.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := opts.Now
	rb.r = &syncer.Runner{Salesforce: sf, Global: zd(sb.Global), Federal: zd(sb.Federal), Store: db,
		Rules: sandbox.Rules(), Now: func() time.Time { return now },
		Progress: func(_ syncer.Job, msg string) {
			rb.mu.Lock()
			defer rb.mu.Unlock()
			switch {
			case strings.HasPrefix(msg, "plan:"):
				rb.planEnd = time.Now()
			case rb.planEnd.IsZero():
				rb.fetchEnd = time.Now()
			}
		}}
	return rb
}

// measured is what one run at the rate limit cost.
type measured struct {
	s         *syncer.Summary
	wall      time.Duration
	calls     int       // requests the fake Zendesk received
	planStart time.Time // when the last fetch finished
	planEnd   time.Time
}

// run runs job once and returns what it cost. Memory is measured
// elsewhere (BenchmarkGlobalOrgsMemory100k, BenchmarkSyncProcessMemory):
// this process also holds the fakes and their garbage.
func (rb *rateBench) run(b *testing.B, job syncer.Job, zd *zendesktest.Server) measured {
	b.Helper()
	rb.mu.Lock()
	rb.fetchEnd, rb.planEnd = time.Time{}, time.Time{}
	rb.mu.Unlock()
	var m measured
	before := zd.TotalCalls()
	start := time.Now()
	m.s = rb.r.Run(context.Background(), job, syncer.Options{})
	m.wall = time.Since(start)
	m.calls = zd.TotalCalls() - before
	if !m.s.OK() {
		b.Fatalf("%s: %s (%s) %v", job, m.s.Headline(), m.s.Message, m.s.Errors)
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	m.planStart, m.planEnd = rb.fetchEnd, rb.planEnd
	return m
}

// report prints the ratios of a run against the limit: wall time over the
// time the minimum calls need at benchRPM, calls over the minimum, the
// 429s received (and their share of the calls) and plan time.
func (m measured) report(b *testing.B, prefix string, minimum int, limited int64) {
	b.Helper()
	ideal := time.Duration(float64(minimum) / benchRPM * float64(time.Minute))
	b.ReportMetric(m.wall.Seconds()/ideal.Seconds(), prefix+"wall/limit")
	b.ReportMetric(float64(m.calls)/float64(minimum), prefix+"calls/min")
	b.ReportMetric(float64(limited), prefix+"429s")
	b.ReportMetric(100*float64(limited)/float64(max(1, m.calls)), prefix+"429%")
	b.ReportMetric(float64(m.calls), prefix+"calls")
	b.ReportMetric(float64(minimum), prefix+"min-calls")
	b.ReportMetric(m.wall.Seconds(), prefix+"wall-s")
	if !m.planStart.IsZero() && !m.planEnd.IsZero() {
		b.ReportMetric(float64(m.planEnd.Sub(m.planStart).Milliseconds()), prefix+"plan-ms")
	}
}

// writesOnRepeat runs job again with the limits and latency off and a
// fast client, and returns the write requests it made: zero when the first
// run converged.
func (rb *rateBench) writesOnRepeat(b *testing.B, job syncer.Job, zd *zendesktest.Server) int {
	b.Helper()
	zd.SetRateLimit(0)
	zd.SetLatency(0)
	rb.sb.Salesforce.SetResponseDelay(0)
	defer func() {
		rb.limiter.apply(zd)
		zd.SetLatency(benchLatency)
		rb.sb.Salesforce.SetResponseDelay(benchLatency)
	}()
	fast, err := zendesk.New(zendesk.Config{URL: zd.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
		RequestsPerMinute: 1 << 20, Sleep: noSleep})
	if err != nil {
		b.Fatal(err)
	}
	r := *rb.r
	r.Progress = nil
	if job == syncer.JobGlobalOrgs {
		r.Global = fast
	} else {
		r.Federal = fast
	}
	before := zd.WriteCalls()
	if s := r.Run(context.Background(), job, syncer.Options{}); !s.OK() {
		b.Fatalf("repeated %s: %s", job, s.Message)
	}
	return zd.WriteCalls() - before
}

// jobCalls is the fewest calls the writes of a summary need: one bulk job
// and one status poll per 100 records of each action.
func jobCalls(s *syncer.Summary) int {
	return 2 * (ceilDiv(s.Created, 100) + ceilDiv(s.Updated, 100) + ceilDiv(s.Deleted, 100))
}

// BenchmarkGlobalOrgs100kAtRateLimit syncs 100,000 accounts against
// 100,000 orgs, 2% of them stale and none to delete, at 700 requests a
// minute and 100 ms a call: about 90 seconds of real time under each
// limiter of benchLimiters. It reports the wall time over what the rate
// limit allows for the minimum calls (reading the orgs, 100 a call, and
// one bulk job plus one poll per 100 changes), the calls over that
// minimum, the 429s received and their share of the calls, the writes of
// a repeated run and the plan time.
//
//	go test -run '^$' -bench 'GlobalOrgs100kAtRateLimit/bucket-burst-10' -benchtime 1x ./syncer/
func BenchmarkGlobalOrgs100kAtRateLimit(b *testing.B) {
	for _, lim := range benchLimiters {
		b.Run(lim.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				rb := newRateBench(b, sandbox.Options{Seed: 1, GlobalAccounts: benchAccounts(100_000), Missing: 0, Stale: 0.02, ExactShares: true,
					Foreign: -1, NoDeletions: true}, lim)
				orgs := rb.sb.Global.OrgCount()
				b.StartTimer()
				m := rb.run(b, syncer.JobGlobalOrgs, rb.sb.Global)
				b.StopTimer()
				accounts := m.s.Fetched
				minimum := min(ceilDiv(orgs, 100), ceilDiv(accounts, 100)) + jobCalls(m.s)
				m.report(b, "", minimum, rb.calls429.Load())
				b.ReportMetric(float64(accounts), "accounts")
				b.ReportMetric(float64(orgs), "orgs")
				b.ReportMetric(float64(m.s.Updated+m.s.Created+m.s.Deleted), "changes")
				b.ReportMetric(float64(rb.writesOnRepeat(b, syncer.JobGlobalOrgs, rb.sb.Global)), "writes-2nd-run")
				b.StartTimer()
			}
		})
	}
}

// benchAccounts is the number of accounts of a benchmark: def, or
// ZDSYNC_BENCH_ACCOUNTS when set (a smaller run while tuning).
func benchAccounts(def int) int {
	if n, err := strconv.Atoi(os.Getenv("ZDSYNC_BENCH_ACCOUNTS")); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkFederalAtRateLimit runs federal-orgs (about 11,000 accounts, a
// fifth of their orgs missing) and then federal-users (about 20,000
// contacts) at 700 requests a minute and 100 ms a call under each limiter
// of benchLimiters, and reports for each job the same ratios as
// BenchmarkGlobalOrgs100kAtRateLimit.
//
//	go test -run '^$' -bench 'FederalAtRateLimit/fixed-window' -benchtime 1x ./syncer/
func BenchmarkFederalAtRateLimit(b *testing.B) {
	for _, lim := range benchLimiters {
		b.Run(lim.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				rb := newRateBench(b, sandbox.Options{Seed: 1, Accounts: 10, FederalAccounts: 11000, Foreign: -1}, lim)
				orgs := rb.sb.Federal.OrgCount()
				b.StartTimer()
				m := rb.run(b, syncer.JobFederalOrgs, rb.sb.Federal)
				b.StopTimer()
				minimum := min(ceilDiv(orgs, 100), ceilDiv(m.s.Fetched, 100)) + jobCalls(m.s)
				m.report(b, "orgs-", minimum, rb.calls429.Load())
				b.ReportMetric(float64(rb.writesOnRepeat(b, syncer.JobFederalOrgs, rb.sb.Federal)), "orgs-writes-2nd-run")

				orgs, users := rb.sb.Federal.OrgCount(), len(rb.sb.Federal.Users())
				accounts := map[string]bool{}
				for _, c := range rb.sb.Salesforce.Contacts() {
					accounts[c.AccountID] = true
				}
				rb.calls429.Store(0)
				b.StartTimer()
				m = rb.run(b, syncer.JobFederalUsers, rb.sb.Federal)
				b.StopTimer()
				// The users are read in cursor pages; the upserts count as
				// creates and updates of one kind.
				minimum = min(ceilDiv(orgs, 100), ceilDiv(len(accounts), 100)) + ceilDiv(users, 100) +
					2*ceilDiv(m.s.Created+m.s.Updated, 100)
				m.report(b, "users-", minimum, rb.calls429.Load())
				b.ReportMetric(float64(rb.writesOnRepeat(b, syncer.JobFederalUsers, rb.sb.Federal)), "users-writes-2nd-run")
				b.StartTimer()
			}
		})
	}
}

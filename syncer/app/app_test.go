package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/store/storetest"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func noSleep(context.Context, time.Duration) error { return nil }

// reported is a Reporter that keeps what it is told.
type reported struct {
	mu   sync.Mutex
	runs []*syncer.Summary
}

func (r *reported) Report(_ context.Context, s *syncer.Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, s)
}

func (r *reported) all() []*syncer.Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*syncer.Summary(nil), r.runs...)
}

// startSandbox starts the sandboxes with opts, closed when the test ends.
func startSandbox(t *testing.T, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return sb
}

// coreOver builds a core over the sandbox's real adapters, on db: what one
// replica runs.
func coreOver(t *testing.T, sb *sandbox.Sandbox, db *store.DB) (*app.Core, *reported) {
	t.Helper()
	sf, err := salesforce.New(context.Background(), sb.SalesforceConfig())
	if err != nil {
		t.Fatal(err)
	}
	zd := func(s *zendesktest.Server) *zendesk.Client {
		c, err := zendesk.New(zendesk.Config{URL: s.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
			Sleep: noSleep, RequestsPerMinute: 1 << 20, CaseIDField: sb.Options.CaseIDField})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	global := zd(sb.Global)
	rep := &reported{}
	c := &app.Core{
		Runner: &syncer.Runner{Salesforce: sf, Global: global, Federal: zd(sb.Federal), Store: db, Rules: sandbox.Rules(),
			PlanTTL: 30 * time.Minute, Now: func() time.Time { return now }},
		Pusher:    &syncer.Pusher{Salesforce: sf, Zendesk: global, Log: db},
		Store:     db,
		Reporters: []app.Reporter{rep},
	}
	return c, rep
}

// TestAJobRunsOnceAtATimeAcrossReplicas runs two cores on one database (two
// replicas, or two processes on one SQLite file): while one runs
// global-orgs, the other's run of it is refused, told who runs it and
// since when; it is neither saved nor reported; and once the first run is
// done the job runs again.
func TestAJobRunsOnceAtATimeAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		sb := startSandbox(t, sandbox.Options{Seed: 8, Accounts: 30, Now: now})
		first, _ := coreOver(t, sb, d.Open(t))
		second, rep := coreOver(t, sb, d.Open(t))

		// Hold the first run inside its fetch (its first request).
		entered, release := make(chan struct{}), make(chan struct{})
		var held atomic.Bool
		sb.Global.OnRequest(func(string, string) {
			if held.CompareAndSwap(false, true) {
				close(entered)
				<-release
			}
		})
		done := make(chan *syncer.Summary, 1)
		go func() {
			done <- first.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: "UWRITER"}})
		}()
		<-entered
		busy := second.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}})
		if busy.Code != syncer.CodeRunInProgress || busy.OK() || !strings.Contains(busy.Message, "global-orgs is already running") ||
			!strings.Contains(busy.Message, "by <@UWRITER>") || !strings.Contains(busy.Message, "started ") {
			t.Errorf("second run: code %d %q; want 16, naming who started the first and when", busy.Code, busy.Message)
		}
		// A dry run writes nothing, so it needs no lock.
		if dry := second.Run(ctx, syncer.Request{Job: syncer.JobFederalOrgs, Options: syncer.Options{DryRun: true}}); !dry.OK() {
			t.Errorf("a dry run of another job: %s", dry.Message)
		}
		close(release)
		s := <-done
		sb.Global.OnRequest(nil)
		if !s.OK() {
			t.Fatalf("first run: %s (%s)", s.Headline(), s.Message)
		}
		runs, err := second.Store.ListRuns(ctx, syncer.JobGlobalOrgs, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.RunID == busy.RunID {
				t.Error("the refused run was saved")
			}
		}
		for _, r := range rep.all() {
			if r.RunID == busy.RunID {
				t.Error("the refused run was reported")
			}
		}
		if again := second.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}}); !again.OK() {
			t.Errorf("the job after the first run ended: %s (%s)", again.Headline(), again.Message)
		}
	})
}

// allowance is an AllowanceReader that answers as told.
type allowance struct {
	a   syncer.APIAllowance
	err error
}

func (a allowance) APIAllowance(context.Context) (syncer.APIAllowance, error) { return a.a, a.err }

func (a allowance) LastAllowance() (syncer.APIAllowance, time.Time, bool) {
	return syncer.APIAllowance{}, time.Time{}, false
}

// TestScheduledFullRunsLeaveTheAPIReserve checks SALESFORCE_API_RESERVE:
// below it, a scheduled full run is skipped with code 19 (saved and
// reported, so that it alerts once, grouped) without a call to Salesforce
// or Zendesk; any other run goes.
func TestScheduledFullRunsLeaveTheAPIReserve(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.Options{Seed: 8, Accounts: 30, Now: now})
	low := allowance{a: syncer.APIAllowance{Max: 100000, Remaining: 9999}}
	tests := []struct {
		name    string
		reader  syncer.AllowanceReader
		req     syncer.Request
		skipped bool
	}{
		{"a scheduled full run below the reserve is skipped", low,
			syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}}, true},
		{"a scheduled federal run below the reserve is skipped", low,
			syncer.Request{Job: syncer.JobFederalOrgs, Options: syncer.Options{By: syncer.BySchedule}}, true},
		{"a scheduled full run at the reserve goes", allowance{a: syncer.APIAllowance{Max: 100000, Remaining: 10000}},
			syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}}, false},
		{"a run a person asked for goes below the reserve", low,
			syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: "UWRITER"}}, false},
		{"a scheduled sweep is not a full sync run", low,
			syncer.Request{Job: syncer.JobCaseSweep, Options: syncer.Options{By: syncer.BySchedule, DryRun: true}}, false},
		{"an allowance that cannot be read lets the run go", allowance{err: errors.New("limits unreachable")},
			syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rep := coreOver(t, sb, storetest.SQLite(t).Open(t))
			c.Allowance, c.Reserve = tt.reader, 0.1
			queries, zendeskCalls := sb.Salesforce.Calls().Query, sb.Global.TotalCalls()+sb.Federal.TotalCalls()
			s := c.Run(ctx, tt.req)
			skipped := s.Code == syncer.CodeAPIReserve
			if skipped != tt.skipped {
				t.Fatalf("code %d (%s), skipped %v; want skipped %v", s.Code, s.Message, skipped, tt.skipped)
			}
			if !skipped {
				return
			}
			if sb.Salesforce.Calls().Query != queries || sb.Global.TotalCalls()+sb.Federal.TotalCalls() != zendeskCalls {
				t.Error("the skipped run called Salesforce or Zendesk")
			}
			if !strings.Contains(s.Message, "9999 of 100000") || !strings.Contains(s.Message, "10%") || s.OK() {
				t.Errorf("summary %q", s.Message)
			}
			if got := rep.all(); len(got) != 1 || got[0] != s {
				t.Errorf("reported %d runs, want the skipped one", len(got))
			}
			if runs, _ := c.Store.ListRuns(ctx, tt.req.Job, 0); len(runs) != 1 || runs[0].Code != syncer.CodeAPIReserve {
				t.Errorf("saved runs %+v", runs)
			}
		})
	}
}

// /zdsync status shows the remaining allowance against the reserve, or
// why it could not be read.
func TestStatusShowsTheAPIAllowance(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t).Open(t)
	c := &app.Core{Store: db, Allowance: allowance{a: syncer.APIAllowance{Max: 15000, Remaining: 14000}}, Reserve: 0.1}
	st, err := c.Status(ctx)
	if err != nil || st.Allowance == nil || st.Allowance.Remaining != 14000 || st.Reserve != 0.1 {
		t.Errorf("status %+v, %v", st, err)
	}
	c.Allowance = allowance{err: syncer.Errorf(syncer.CodeConnectionFailed, "limits unreachable")}
	if st, err := c.Status(ctx); err != nil || st.Allowance != nil || st.AllowanceError != "limits unreachable" {
		t.Errorf("status %+v, %v", st, err)
	}
}

// A request the core cannot run is refused with code 17 and saved.
func TestInvalidRequestsAreRefused(t *testing.T) {
	db := storetest.SQLite(t).Open(t)
	c := &app.Core{Store: db, Sweeper: &syncer.Sweeper{}}
	for _, req := range []syncer.Request{{Job: "everything"}, {Job: syncer.JobCaseSweep, Options: syncer.Options{DryRun: true}}} {
		if s := c.Run(context.Background(), req); s.Code != syncer.CodeInvalidInput || len(s.Errors) != 1 || s.Errors[0].Record != "" {
			t.Errorf("%+v: code %d (%s) errors %+v", req, s.Code, s.Message, s.Errors)
		}
	}
}

// Over HTTP, with the real Salesforce adapter reading the fake's
// /limits/: a scheduled full run below the reserve is skipped, one above
// it runs, and the status shows what is left.
func TestAPIReserveReadFromSalesforce(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.Options{Seed: 8, Accounts: 30, Now: now})
	c, _ := coreOver(t, sb, storetest.SQLite(t).Open(t))
	sf, err := salesforce.New(ctx, sb.SalesforceConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.Allowance, c.Reserve = sf, 0.1
	scheduled := syncer.Request{Job: syncer.JobFederalOrgs, Options: syncer.Options{By: syncer.BySchedule}}

	// Every request counts against the allowance, the read of it too.
	sb.Salesforce.SetAPIAllowance(15000, 1400)
	if s := c.Run(ctx, scheduled); s.Code != syncer.CodeAPIReserve || !strings.Contains(s.Message, "of 15000 daily requests left") {
		t.Errorf("below the reserve: code %d (%s)", s.Code, s.Message)
	}
	sb.Salesforce.SetAPIAllowance(15000, 5000)
	if s := c.Run(ctx, scheduled); !s.OK() {
		t.Errorf("above the reserve: code %d (%s)", s.Code, s.Message)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Allowance == nil || st.Allowance.Max != 15000 || st.Allowance.Remaining >= 5000 || st.Allowance.Remaining < 4000 {
		t.Errorf("status allowance %+v (%s), %v", st.Allowance, st.AllowanceError, err)
	}
}

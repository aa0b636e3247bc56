package syncer_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// The timeouts of the fault matrix: small, so that a response slower than
// the timeout costs a fraction of a second, and far above what a request
// to a small loopback sandbox takes.
const (
	faultZendeskTimeout    = 500 * time.Millisecond
	faultSalesforceTimeout = 500 * time.Millisecond
	faultSlow              = 30 * time.Second // the fakes stop waiting when the client gives up
)

// faultEnv is a small sandbox with the real adapters over HTTP: Zendesk
// clients with a tiny timeout and no real sleeps, a case pusher, a SQLite
// store, and tickets for the case push.
type faultEnv struct {
	sb      *sandbox.Sandbox
	r       *syncer.Runner
	db      *store.DB
	pusher  *syncer.Pusher
	sweeper *syncer.Sweeper // its queue pushes at once (pushingQueue)
	tickets []int64
}

// pushingQueue is a syncer.Enqueuer that pushes each event at once and
// keeps the summaries of the pushes, so that the sweep's faults are seen
// where they land.
type pushingQueue struct {
	pusher *syncer.Pusher
	mu     sync.Mutex
	sums   []*syncer.Summary
}

func (q *pushingQueue) Enqueue(ctx context.Context, id int64, ev syncer.Event) error {
	s := q.pusher.Push(ctx, id, ev)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sums = append(q.sums, s)
	return nil
}

// take returns the summaries kept and forgets them.
func (q *pushingQueue) take() []*syncer.Summary {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.sums
	q.sums = nil
	return out
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	// A small query page, so that a query has several pages and a session
	// can expire between two of them.
	base := newEnvWith(t, sandbox.Options{Seed: 17, Accounts: 60, FederalAccounts: 12, SalesforcePageSize: 10}, func(c *zendesk.Config) {
		c.Timeout, c.RateLimitWait, c.JobTimeout = faultZendeskTimeout, 2*time.Minute, 30*time.Second
	})
	sb := base.sb
	e := &faultEnv{sb: sb, r: base.r, db: base.db}
	e.pusher = &syncer.Pusher{Salesforce: base.r.Salesforce.(syncer.CaseStore), Zendesk: base.r.Global.(syncer.Tickets),
		Log: base.db, Retries: 1, Sleep: noSleep}
	e.sweeper = &syncer.Sweeper{Zendesk: e.pusher.Zendesk, Salesforce: e.pusher.Salesforce, Cursors: base.db,
		Queue: &pushingQueue{pusher: e.pusher}, Log: base.db}
	for _, o := range sb.Global.Orgs() {
		if len(e.tickets) == 2 {
			break
		}
		if syncer.IsAccountID(o.ExternalID) {
			uid := sb.Global.AddUser(syncer.User{Name: "Requester", Email: fmt.Sprintf("requester%d@example.com", o.ID)})
			e.tickets = append(e.tickets, sb.Global.AddTicket(syncer.Ticket{Subject: "Broken " + o.Name, Description: "It broke.", OrgID: o.ID, RequesterID: uid}))
		}
	}
	if len(e.tickets) != 2 {
		t.Fatalf("%d tickets for the case push", len(e.tickets))
	}
	return e
}

// faultJob is one job of the matrix: how to run it, and which Zendesk
// instance it writes to.
type faultJob struct {
	name    string
	job     syncer.Job // JobCases for the case push
	zendesk func(*faultEnv) *zendesktest.Server
	// prepare brings the sandbox to the state the job starts from.
	prepare func(*testing.T, *faultEnv)
}

// run runs the job once and returns its summaries (one per ticket for the
// case push; the sweep's, then one per push it made, for the case sweep).
func (j faultJob) run(e *faultEnv) []*syncer.Summary {
	if j.job == syncer.JobCaseSweep {
		s := e.sweeper.Run(context.Background())
		return append([]*syncer.Summary{s}, e.sweeper.Queue.(*pushingQueue).take()...)
	}
	if j.job != syncer.JobCases {
		s := e.r.Run(context.Background(), j.job, syncer.Options{})
		if err := e.db.SaveRun(context.Background(), s); err != nil { // the application core saves every run
			s.AddError("save run", err)
		}
		return []*syncer.Summary{s}
	}
	var out []*syncer.Summary
	for _, id := range e.tickets {
		out = append(out, e.pusher.Push(context.Background(), id, syncer.EventCreated))
	}
	return out
}

// fault is one misbehaviour of an outside system. expect is the code the
// faulty run must report (0: the run must absorb the fault and succeed);
// jobs, when set, limits the fault to those jobs; happened, when set,
// checks that the fault really occurred.
type fault struct {
	name     string
	inject   func(e *faultEnv, zd *zendesktest.Server)
	clear    func(e *faultEnv, zd *zendesktest.Server)
	happened func(e *faultEnv) bool
	expect   syncer.Code
	jobs     []syncer.Job
	// prepare, when set, runs before the fault is injected.
	prepare func(*testing.T, *faultEnv, faultJob)
}

func (f fault) appliesTo(j syncer.Job) bool { return f.jobs == nil || slices.Contains(f.jobs, j) }

var (
	syncJobs  = []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers}
	bulkJobs  = syncJobs
	userJobs  = []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalUsers} // sold-to users; federal users
	caseOnly  = []syncer.Job{syncer.JobCases}
	sweepOnly = []syncer.Job{syncer.JobCaseSweep}
	allFaults = []fault{
		// Zendesk.
		{name: "a 429 storm with Retry-After", inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.RateLimitNext(40, 2) }},
		{name: "a 429 storm outlasting the client's wait budget", expect: syncer.CodeRateLimited,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.RateLimitNext(100000, 60) }},
		{name: "a 5xx burst", inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.FailNext("", "", 4, 503) }},
		{name: "5xx answers outlasting the retries", expect: syncer.CodeAPIError,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.FailNext("", "", 100000, 502) }},
		{name: "connection resets", inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.DropNext("", "", 3, false) }},
		{name: "answers lost after the writes were made", inject: func(_ *faultEnv, zd *zendesktest.Server) {
			zd.DropNext("POST", "", 1, true)
			zd.DropNext("PUT", "", 1, true)
		}},
		{name: "responses slower than the client timeout", inject: func(_ *faultEnv, zd *zendesktest.Server) {
			zd.SlowNext("", "", 2, faultSlow)
		}},
		{name: "a bulk job that fails", expect: syncer.CodeAPIError, jobs: bulkJobs,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.FailNextJob("", 1) }},
		{name: "a bulk job with failing items", expect: syncer.CodeItemFailed, jobs: bulkJobs,
			inject: func(_ *faultEnv, zd *zendesktest.Server) {
				var n atomic.Int32
				zd.FailItems(func(string, map[string]any) bool { return n.Add(1) <= 2 })
			}},
		{name: "a job status that stays queued past its deadline", expect: syncer.CodeOpenTimeout, jobs: bulkJobs,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.StickNextJobs(1) }},
		{name: "job statuses as Zendesk writes them (float and null counters, bare results, failures keyed by position, partial results)",
			jobs: bulkJobs, inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.SetJobShape(zendesktest.RealJobShape()) }},
		{name: "the account's limit of queued jobs reached by another integration", jobs: bulkJobs,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.RefuseJobsNext(3) }},
		{name: "bulk user imports not enabled (403 on the bulk user endpoints)", jobs: userJobs,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.RefuseBulkUserImports(true) },
			happened: func(e *faultEnv) bool {
				return e.sb.Global.Calls()["POST /users.json"]+e.sb.Federal.Calls()["POST /users/create_or_update.json"] > 0
			}},
		{name: "a 403 for want of a permission", expect: syncer.CodeNotPermitted,
			inject: func(_ *faultEnv, zd *zendesktest.Server) { zd.ForbidNext("GET", "", 3) }},
		{name: "an incremental export over its own limit (429 on the export only)", jobs: sweepOnly,
			inject: func(_ *faultEnv, zd *zendesktest.Server) {
				zd.RateLimitEndpointNext("GET", "/incremental/tickets/cursor.json", 3, 30)
			},
			happened: func(e *faultEnv) bool { return e.sb.Global.Calls()["GET /incremental/tickets/cursor.json"] > 3 }},
		// Salesforce.
		{name: "UNABLE_TO_LOCK_ROW on every attempt", expect: syncer.CodeUnableToLockRow, jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailCaseWrites(2, salesforcetest.ErrUnableToLockRow)
			}},
		{name: "UNABLE_TO_LOCK_ROW once", jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailCaseWrites(1, salesforcetest.ErrUnableToLockRow)
			}},
		{name: "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", expect: syncer.CodeInsufficientAccess, jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailCaseWrites(1, salesforcetest.ErrInsufficientAccess)
			}},
		{name: "INVALID_SESSION_ID mid-run", inject: func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.ExpireSessionsAfter(1) },
			happened: func(e *faultEnv) bool { return e.sb.Salesforce.Calls().Unauthorized > 0 }},
		{name: "INVALID_SESSION_ID mid-run and a refused re-login", expect: syncer.CodeAuthFailed,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.ExpireSessionsAfter(1)
				e.sb.Salesforce.RejectLogins(1)
			}},
		{name: "a lock met by a trigger on every attempt", expect: syncer.CodeUnableToLockRow, jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailCaseWrites(2, salesforcetest.ErrTriggerUnableToLockRow)
			}},
		{name: "a lock met by a flow once", jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailCaseWrites(1, salesforcetest.ErrFlowUnableToLockRow)
			}},
		{name: "a parent reference refused to a trigger", expect: syncer.CodeInsufficientAccess, jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailCaseWrites(1, salesforcetest.ErrTriggerInsufficientAccess)
			}},
		{name: "the daily API allowance used up (REQUEST_LIMIT_EXCEEDED)", expect: syncer.CodeRateLimited,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.SetAPIAllowance(salesforcetest.DefaultDailyAPIRequests, 0)
			},
			clear: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.SetAPIAllowance(salesforcetest.DefaultDailyAPIRequests, salesforcetest.DefaultDailyAPIRequests)
			}},
		{name: "a Salesforce 429", expect: syncer.CodeRateLimited,
			inject:   func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.RateLimitNext(1, 30*time.Second) },
			happened: func(e *faultEnv) bool { return e.sb.Salesforce.Calls().Limited > 0 }},
		{name: "INVALID_SESSION_ID mid-run and a re-login answered 503", expect: syncer.CodeConnectionFailed, jobs: syncJobs,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.ExpireSessionsAfter(1)
				e.sb.Salesforce.FailLogins(1, http.StatusServiceUnavailable)
			}},
		{name: "INVALID_SESSION_ID and a re-login answered 503 once, retried", jobs: caseOnly,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.ExpireSessionsAfter(1)
				e.sb.Salesforce.FailLogins(1, http.StatusServiceUnavailable)
			},
			happened: func(e *faultEnv) bool { return e.sb.Salesforce.Calls().Unauthorized > 0 }},
		{name: "connection refused", expect: syncer.CodeConnectionFailed,
			inject: func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.RefuseConnections(1000) },
			clear:  func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.RefuseConnections(0) }},
		{name: "a maintenance page (503 HTML) on every call", expect: syncer.CodeConnectionFailed,
			inject: func(e *faultEnv, _ *zendesktest.Server) {
				e.sb.Salesforce.FailNext(1000, http.StatusServiceUnavailable)
			},
			clear: func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.FailNext(0, 0) }},
		{name: "timeouts", expect: syncer.CodeOpenTimeout,
			inject: func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.SetResponseDelay(faultSlow) },
			clear:  func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.SetResponseDelay(0) }},
		{name: "a truncated query result", jobs: []syncer.Job{syncer.JobFederalOrgs, syncer.JobFederalUsers},
			inject: func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.TruncateNextQuery(0.5) }},
		{name: "a truncated query result after a full run, with deletions due", expect: syncer.CodeGuardRefused,
			jobs: []syncer.Job{syncer.JobGlobalOrgs},
			prepare: func(t *testing.T, e *faultEnv, j faultJob) {
				if s := j.run(e)[0]; !s.OK() {
					t.Fatalf("full run: %s", s.Message)
				}
				for _, a := range e.sb.Salesforce.Accounts()[1:6] {
					e.sb.Salesforce.UpdateAccount(a.ID, expire)
				}
			},
			inject: func(e *faultEnv, _ *zendesktest.Server) { e.sb.Salesforce.TruncateNextQuery(0.5) }},
	}
	faultJobs = []faultJob{
		{name: "global-orgs", job: syncer.JobGlobalOrgs, zendesk: func(e *faultEnv) *zendesktest.Server { return e.sb.Global }},
		{name: "federal-orgs", job: syncer.JobFederalOrgs, zendesk: func(e *faultEnv) *zendesktest.Server { return e.sb.Federal }},
		{name: "federal-users", job: syncer.JobFederalUsers, zendesk: func(e *faultEnv) *zendesktest.Server { return e.sb.Federal },
			prepare: func(t *testing.T, e *faultEnv) {
				if s := e.r.Run(context.Background(), syncer.JobFederalOrgs, syncer.Options{}); !s.OK() {
					t.Fatalf("federal-orgs: %s", s.Message)
				}
			}},
		{name: "case push", job: syncer.JobCases, zendesk: func(e *faultEnv) *zendesktest.Server { return e.sb.Global }},
		{name: "case sweep", job: syncer.JobCaseSweep, zendesk: func(e *faultEnv) *zendesktest.Server { return e.sb.Global }},
	}
)

// TestFaultMatrix runs each job under each fault, then once more cleanly,
// and checks that every failure of the faulty run was reported with the
// fault's code, that Zendesk and Salesforce end in exactly the desired
// state (a dry run plans nothing; every ticket has its case), and that
// nothing was doubled (no two orgs with one external_id, no two users with
// one e-mail, no two cases for one ticket). Nothing sleeps: the adapters'
// waits are injected, and the only real waits are the tiny client
// timeouts of the slow-response faults.
func TestFaultMatrix(t *testing.T) {
	saved := http.DefaultClient.Timeout // go-salesforce's client
	salesforce.SetHTTPTimeout(faultSalesforceTimeout)
	t.Cleanup(func() { salesforce.SetHTTPTimeout(saved) })
	for _, j := range faultJobs {
		for _, f := range allFaults {
			if !f.appliesTo(j.job) {
				continue
			}
			t.Run(j.name+" under "+f.name, func(t *testing.T) {
				e := newFaultEnv(t)
				zd := j.zendesk(e)
				if j.prepare != nil {
					j.prepare(t, e)
				}
				if f.prepare != nil {
					f.prepare(t, e, j)
				}
				f.inject(e, zd)
				faulty := j.run(e)
				zd.ClearFaults()
				if f.clear != nil {
					f.clear(e, zd)
				}
				checkReported(t, f, faulty)
				if f.happened != nil && !f.happened(e) {
					t.Error("the fault did not happen")
				}
				if f.expect == syncer.CodeGuardRefused && faulty[0].Deleted != 0 {
					t.Errorf("the guard let %d deletions through", faulty[0].Deleted)
				}
				for _, s := range j.run(e) {
					if !s.OK() || s.Failed != 0 {
						t.Fatalf("clean run after the fault: %s (%s) %+v", s.Headline(), s.Message, s.Errors)
					}
				}
				checkConverged(t, e, j)
			})
		}
	}
}

// checkReported checks the faulty run's summaries: with expect 0, no
// failure; otherwise every failure carries the expected code, and (unless
// the fault may be absorbed) at least one was reported.
func checkReported(t *testing.T, f fault, sums []*syncer.Summary) {
	t.Helper()
	seen := false
	for _, s := range sums {
		if f.expect == syncer.CodeNone {
			if !s.OK() || s.Failed != 0 || len(s.Errors) != 0 {
				t.Errorf("the fault should have been absorbed: %s code %d (%s) %+v", s.Headline(), s.Code, s.Message, s.Errors)
			}
			continue
		}
		if s.Code != syncer.CodeNone && s.Code != f.expect {
			t.Errorf("run code %d (%s), want %d", s.Code, s.Message, f.expect)
		}
		if s.Code == f.expect {
			seen = true
		}
		for _, re := range s.Errors {
			if re.Code != f.expect {
				t.Errorf("error %+v, want code %d", re, f.expect)
			}
			seen = true
		}
	}
	if f.expect != syncer.CodeNone && !seen {
		t.Errorf("no failure with code %d was reported", f.expect)
	}
}

// checkConverged checks the desired state after the clean run.
func checkConverged(t *testing.T, e *faultEnv, j faultJob) {
	t.Helper()
	zd := j.zendesk(e)
	exts := map[string]int{}
	for _, o := range zd.Orgs() {
		if o.ExternalID != "" {
			if exts[o.ExternalID]++; exts[o.ExternalID] == 2 {
				t.Errorf("two orgs with external_id %s", o.ExternalID)
			}
		}
	}
	emails := map[string]int{}
	for _, u := range zd.Users() {
		if emails[syncer.NormalizeEmail(u.Email)]++; emails[syncer.NormalizeEmail(u.Email)] == 2 {
			t.Errorf("two users with e-mail %s", u.Email)
		}
	}
	if j.job != syncer.JobCases && j.job != syncer.JobCaseSweep {
		dry := e.r.Run(context.Background(), j.job, syncer.Options{DryRun: true})
		if n := dry.Created + dry.Updated + dry.Deleted; n != 0 || !dry.OK() {
			t.Errorf("a dry run after the clean run plans %d changes (%s): %+v", n, dry.Message, actionable(dry.Changes))
		}
		return
	}
	cases := map[string][]salesforcetest.Case{}
	for _, c := range e.sb.Salesforce.Cases() {
		cases[c.ZendeskTicketID] = append(cases[c.ZendeskTicketID], c)
	}
	field := map[int64]string{}
	for _, tk := range e.sb.Global.Tickets() {
		field[tk.ID] = tk.CaseID
	}
	for _, id := range e.tickets {
		cs := cases[fmt.Sprint(id)]
		if len(cs) != 1 {
			t.Errorf("ticket %d has %d cases", id, len(cs))
			continue
		}
		if field[id] != cs[0].ID {
			t.Errorf("ticket %d holds case ID %q, its case is %s", id, field[id], cs[0].ID)
		}
	}
}

// actionable returns the changes of a plan that write something.
func actionable(cs []syncer.Change) []syncer.Change {
	var out []syncer.Change
	for _, c := range cs {
		if c.Action != syncer.Skip {
			out = append(out, c)
		}
	}
	return out
}

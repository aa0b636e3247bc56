package syncer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// noSleep makes retries and job polls immediate: tests never wait on the
// wall clock.
func noSleep(context.Context, time.Duration) error { return nil }

// env is a runner over a sandbox, the real adapters over HTTP and a real
// SQLite store.
type env struct {
	sb *sandbox.Sandbox
	r  *syncer.Runner
	db *store.DB
}

func newEnv(t testing.TB, opts sandbox.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, nil)
}

// newEnvWith is newEnv with the Zendesk clients' configuration adjusted by
// tweak (a tiny timeout for the fault matrix, say).
func newEnvWith(t testing.TB, opts sandbox.Options, tweak func(*zendesk.Config)) *env {
	t.Helper()
	ctx := context.Background()
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	}
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	sf, err := salesforce.New(ctx, sb.SalesforceConfig())
	if err != nil {
		t.Fatal(err)
	}
	zd := func(s *zendesktest.Server) *zendesk.Client {
		cfg := zendesk.Config{URL: s.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
			Sleep: noSleep, RequestsPerMinute: 1 << 20, CaseIDField: sb.Options.CaseIDField}
		if tweak != nil {
			tweak(&cfg)
		}
		c, err := zendesk.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "zdsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := opts.Now
	rules := sandbox.Rules()
	rules.DeleteGrace = 0 // these tests delete at once; the grace period has tests of its own
	return &env{sb: sb, db: db, r: &syncer.Runner{Salesforce: sf, Global: zd(sb.Global), Federal: zd(sb.Federal), Store: db,
		Rules: rules, PlanTTL: 30 * time.Minute, Now: func() time.Time { return now }}}
}

// run runs a sync job and saves its summary, as the application core does
// (the shrink guard reads the last successful run).
func (e *env) run(t testing.TB, job syncer.Job, opts syncer.Options) *syncer.Summary {
	t.Helper()
	return e.saved(t, e.r.Run(context.Background(), job, opts))
}

// saved saves a run's summary and returns it.
func (e *env) saved(t testing.TB, s *syncer.Summary) *syncer.Summary {
	t.Helper()
	if err := e.db.SaveRun(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// orgByExt returns the Global org with the external ID.
func orgByExt(s *zendesktest.Server, ext string) (syncer.Org, bool) {
	for _, o := range s.Orgs() {
		if o.ExternalID == ext {
			return o, true
		}
	}
	return syncer.Org{}, false
}

func TestGlobalOrgsEndToEnd(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 7, Accounts: 400})
	foreignBefore := map[int64]syncer.Org{}
	var handTagged []syncer.Org
	for _, o := range e.sb.Global.Orgs() {
		if !syncer.IsAccountID(o.ExternalID) {
			foreignBefore[o.ID] = o
		}
		if o.Fields.Get("notes_for_agents") != nil {
			handTagged = append(handTagged, o)
		}
	}
	if len(foreignBefore) == 0 || len(handTagged) == 0 {
		t.Fatalf("sandbox has %d foreign orgs and %d hand-tagged orgs", len(foreignBefore), len(handTagged))
	}

	s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
	if !s.OK() || s.Created == 0 || s.Updated == 0 || s.Deleted == 0 || s.Failed != 0 {
		t.Fatalf("first run: %s (%s) errors %v", s.Headline(), s.Message, s.Errors)
	}
	t.Run("a second run makes zero write calls and counts its API calls", func(t *testing.T) {
		before := e.sb.Global.WriteCalls()
		zdBefore, sfBefore := e.sb.Global.TotalCalls(), e.sb.Salesforce.Calls().API()
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		seen := func() int { return e.sb.Global.TotalCalls() - zdBefore + e.sb.Salesforce.Calls().API() - sfBefore }
		// A listing page the run stopped reading was sent, and counted,
		// but the fake may count it only after the run has returned.
		for i := 0; i < 100 && seen() < s.APICalls; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if want := seen(); s.APICalls != want || want == 0 {
			t.Errorf("summary counts %d API calls, the fakes saw %d", s.APICalls, want)
		}
		if w := e.sb.Global.WriteCalls() - before; w != 0 || s.Created+s.Updated+s.Deleted != 0 || !s.OK() {
			t.Errorf("second run: %d write calls, %s", w, s.Headline())
		}
	})
	t.Run("a tag added by a person and an unmapped field survive", func(t *testing.T) {
		for _, before := range handTagged {
			after, ok := e.sb.Global.Org(before.ID)
			if !ok {
				continue // greatly expired and deleted
			}
			for _, tag := range before.Tags {
				if !syncer.OwnedTag(tag) && !slices.Contains(after.Tags, tag) {
					t.Errorf("org %d lost the person's tag %q: %v", before.ID, tag, after.Tags)
				}
			}
			if after.Fields.Get("notes_for_agents") != before.Fields.Get("notes_for_agents") {
				t.Errorf("org %d: unmapped field changed to %v", before.ID, after.Fields.Get("notes_for_agents"))
			}
		}
	})
	t.Run("an org without a Salesforce external ID is never touched", func(t *testing.T) {
		for id, before := range foreignBefore {
			after, ok := e.sb.Global.Org(id)
			if !ok || !after.UpdatedAt.Equal(before.UpdatedAt) || after.Name != before.Name {
				t.Errorf("foreign org %d changed: %+v → %+v", id, before, after)
			}
		}
	})
	t.Run("greatly expired orgs are deleted unless protected", func(t *testing.T) {
		for _, id := range e.sb.Protected {
			if _, ok := e.sb.Global.Org(id); !ok {
				t.Errorf("protected org %d was deleted", id)
			}
		}
		if s.Deleted == 0 {
			t.Error("nothing was deleted")
		}
		kept := 0
		for _, c := range s.Changes {
			if c.Action == syncer.Skip && strings.HasPrefix(c.Reason, "not deleted:") {
				kept++
			}
		}
		if kept != len(e.sb.Protected) {
			t.Errorf("%d deletions refused by the guards, want %d", kept, len(e.sb.Protected))
		}
	})
	t.Run("sold-to users of new orgs exist as end-users of their org", func(t *testing.T) {
		users := e.sb.Global.Users()
		if len(users) == 0 {
			t.Fatal("no sold-to users created")
		}
		for _, u := range users {
			if u.OrgID == 0 || u.Role != "end-user" {
				t.Errorf("user %+v", u)
			}
		}
	})
}

// Zendesk may answer a job's results in the object form its reference also
// documents ({"success": true}); a global-orgs run still creates, updates
// and deletes, makes the new orgs' sold-to users (their orgs' IDs found by
// look-up), and leaves nothing for a second run.
func TestGlobalOrgsWithJobResultsInTheObjectForm(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 12, Accounts: 300})
	e.sb.Global.SetResultsObject(true)
	s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
	if !s.OK() || s.Created == 0 || s.Updated == 0 || s.Deleted == 0 || s.Failed != 0 {
		t.Fatalf("first run: %s (%s) errors %v", s.Headline(), s.Message, s.Errors)
	}
	before := e.sb.Global.WriteCalls()
	if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); !s.OK() || e.sb.Global.WriteCalls() != before {
		t.Errorf("second run: %s, %d write calls", s.Headline(), e.sb.Global.WriteCalls()-before)
	}
}

func TestGuards(t *testing.T) {
	t.Run("an org tagged do_not_delete and an org with open tickets are kept", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
		kept := map[string]int{}
		for _, c := range s.Changes {
			if c.Action == syncer.Skip && strings.HasPrefix(c.Reason, "not deleted") {
				kept[c.Reason]++
			}
		}
		if kept["not deleted: tagged do_not_delete"] != 2 || kept["not deleted: has tickets that are not closed"] != 2 {
			t.Errorf("kept %v", kept)
		}
	})
	t.Run("more deletions than the limit delete nothing and fail with the guard code", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		e.r.Rules.MaxDeletes = 1
		before := len(e.sb.Global.Orgs())
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if s.Code != syncer.CodeGuardRefused || s.OK() || s.Deleted != 0 {
			t.Errorf("summary %s code %v", s.Headline(), s.Code)
		}
		if s.Created == 0 || len(e.sb.Global.Orgs()) < before {
			t.Errorf("the rest of the run should apply: %s", s.Headline())
		}
	})
	t.Run("a Salesforce result that shrank below the ratio deletes nothing", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); !s.OK() {
			t.Fatalf("first run failed: %s", s.Message)
		}
		// Make more accounts greatly expired, then let Salesforce answer
		// with a silently partial result.
		for _, a := range e.sb.Salesforce.Accounts()[:40] {
			e.sb.Salesforce.UpdateAccount(a.ID, expire)
		}
		e.sb.Salesforce.TruncateNextQuery(0.5)
		orgsBefore := len(e.sb.Global.Orgs())
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if s.Code != syncer.CodeGuardRefused || s.Deleted != 0 || len(e.sb.Global.Orgs()) != orgsBefore {
			t.Errorf("summary %s code %v message %q", s.Headline(), s.Code, s.Message)
		}
		if !strings.Contains(s.Message, "below 90%") {
			t.Errorf("message %q does not explain the guard", s.Message)
		}
		if !runFailureListed(s) {
			t.Errorf("the guard's refusal is not listed in errors with an empty record: %+v", s.Errors)
		}
	})
	t.Run("DELETE_LIMIT=0 deletes nothing and the run succeeds", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		e.r.Rules.MaxDeletes = 0
		before := len(e.sb.Global.Orgs())
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if !s.OK() || s.Deleted != 0 || s.Created == 0 || len(e.sb.Global.Orgs()) < before {
			t.Errorf("summary %s code %v (%s)", s.Headline(), s.Code, s.Message)
		}
	})
}

// runFailureListed reports whether a failed run lists its own failure in
// Errors too: its code and message, with an empty record.
func runFailureListed(s *syncer.Summary) bool {
	for _, e := range s.Errors {
		if e.Record == "" && e.Code == s.Code && e.Message == s.Message {
			return true
		}
	}
	return false
}

func TestFaultsSurvived(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*zendesktest.Server)
	}{
		{"a 429 burst with Retry-After", func(s *zendesktest.Server) { s.RateLimitNext(8, 1) }},
		{"a 5xx burst on updates", func(s *zendesktest.Server) { s.FailNext("PUT", "/organizations/update_many.json", 3, 503) }},
		{"a 5xx burst on job status polls", func(s *zendesktest.Server) { s.FailNext("GET", "/job_statuses/{id}.json", 3, 502) }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is survived with nothing lost", func(t *testing.T) {
			e := newEnv(t, sandbox.Options{Seed: 11})
			tt.inject(e.sb.Global)
			s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
			if !s.OK() || s.Failed != 0 {
				t.Fatalf("run under fault: %s (%s) %v", s.Headline(), s.Message, s.Errors)
			}
			again := e.run(t, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
			if n := again.Created + again.Updated + again.Deleted; n != 0 {
				t.Errorf("%d changes left after the faulty run: %v", n, again.Changes)
			}
		})
	}
	t.Run("a failing item inside a bulk job is reported with its record while the rest apply", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 11})
		plan := e.run(t, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
		var victim string
		for _, c := range plan.Changes {
			if c.Action == syncer.Create && c.Kind == "org" {
				victim = c.Key
				break
			}
		}
		e.sb.Global.FailItems(func(endpoint string, item map[string]any) bool {
			return endpoint == "/organizations/create_many.json" && item["external_id"] == victim
		})
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if s.OK() || s.Failed != 1 || len(s.Errors) != 1 || s.Errors[0].Record != victim || s.Errors[0].Code != syncer.CodeItemFailed {
			t.Fatalf("summary %s errors %+v", s.Headline(), s.Errors)
		}
		if s.Created == 0 {
			t.Error("the other records did not apply")
		}
		if _, ok := orgByExt(e.sb.Global, victim); ok {
			t.Error("the failing record was created")
		}
		e.sb.Global.FailItems(nil)
		if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); !s.OK() {
			t.Errorf("next run: %s", s.Message)
		}
		if _, ok := orgByExt(e.sb.Global, victim); !ok {
			t.Error("the next run did not create the record")
		}
	})
}

func TestDryRunAndAccount(t *testing.T) {
	t.Run("a dry run writes nothing and lists the changes", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 5})
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
		if e.sb.Global.WriteCalls() != 0 {
			t.Errorf("%d write calls", e.sb.Global.WriteCalls())
		}
		if !s.DryRun || len(s.Changes) == 0 || s.Created == 0 {
			t.Errorf("summary %s with %d changes", s.Headline(), len(s.Changes))
		}
	})
	t.Run("an account run changes only that org", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 5})
		full := e.run(t, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
		var target syncer.Change
		for _, c := range full.Changes {
			if c.Action == syncer.Update && c.Kind == "org" {
				target = c
				break
			}
		}
		before := map[int64]time.Time{}
		for _, o := range e.sb.Global.Orgs() {
			before[o.ID] = o.UpdatedAt
		}
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Account: target.Key})
		if !s.OK() || s.Updated != 1 || s.Created+s.Deleted != 0 || s.Fetched != 1 {
			t.Fatalf("account run: %s (%s)", s.Headline(), s.Message)
		}
		for _, o := range e.sb.Global.Orgs() {
			if changed := !o.UpdatedAt.Equal(before[o.ID]); changed != (o.ID == target.ID) {
				t.Errorf("org %d (%s) changed=%v", o.ID, o.ExternalID, changed)
			}
		}
		if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Account: target.Key}); s.Updated != 0 || s.Unchanged != 1 {
			t.Errorf("second account run: %s", s.Headline())
		}
		// The same ID typed in lower case is restored and runs alike.
		if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Account: strings.ToLower(target.Key), DryRun: true}); !s.OK() || s.Account != target.Key || s.Fetched != 1 {
			t.Errorf("account run with a lower-case ID: %s (%s)", s.Headline(), s.Message)
		}
	})
	t.Run("a valid ID that the query does not return is no such account, not in sync", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 5})
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Account: "001000000000042", DryRun: true})
		if !s.OK() || s.Fetched != 0 || s.Message != "no such account in the job's query" {
			t.Errorf("summary %s (%q)", s.Headline(), s.Message)
		}
	})
	t.Run("an ID whose suffix cannot be its own is refused before any call", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 5})
		calls := e.sb.Salesforce.Calls().Query
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Account: "001Dn00000AbCdEBAV"})
		if s.OK() || s.Code != syncer.CodeInvalidInput || e.sb.Salesforce.Calls().Query != calls || !runFailureListed(s) {
			t.Errorf("summary %s code %v (%s)", s.Headline(), s.Code, s.Message)
		}
	})
}

// expire makes an account greatly expired: no active subscription, renewal
// long past.
func expire(a *salesforcetest.Account) {
	a.CustomerSubscriptions, a.ZuoraSubscriptions = nil, nil
	a.NextRenewalDate = "2019-01-01"
}

func TestSoldToUsersAreNotLostWhenTheirJobFails(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 11})
	e.sb.Global.FailNextJob("/users/create_many.json", 100)
	s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
	if s.OK() || s.Failed == 0 {
		t.Fatalf("the user jobs should have failed: %s", s.Headline())
	}
	pending := 0
	for _, o := range e.sb.Global.Orgs() {
		if slices.Contains(o.Tags, syncer.TagSoldToPending) {
			pending++
		}
	}
	if pending == 0 || len(e.sb.Global.Users()) != 0 {
		t.Fatalf("%d orgs marked pending, %d users", pending, len(e.sb.Global.Users()))
	}
	e.sb.Global.ClearFaults()
	s = e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
	if !s.OK() || s.Created == 0 {
		t.Fatalf("next run: %s (%s)", s.Headline(), s.Message)
	}
	for _, o := range e.sb.Global.Orgs() {
		if slices.Contains(o.Tags, syncer.TagSoldToPending) {
			t.Errorf("org %s still marked pending", o.ExternalID)
		}
	}
	for _, u := range e.sb.Global.Users() {
		if u.OrgID == 0 {
			t.Errorf("user %s has no org", u.Email)
		}
	}
	before := e.sb.Global.WriteCalls()
	if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); e.sb.Global.WriteCalls() != before {
		t.Errorf("third run wrote: %s", s.Headline())
	}
}

// When Salesforce is slow to answer, the org listing stops after
// MaxHeldOrgs orgs instead of holding every org until the accounts arrive;
// the look-ups read the rest, and the run converges all the same.
func TestOrgListingStopsAtMaxHeldOrgs(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 5, Accounts: 600, Missing: 0, Stale: 0.3, Foreign: -1, NoDeletions: true})
	e.r.MaxHeldOrgs = 150
	e.sb.Salesforce.SetResponseDelay(300 * time.Millisecond) // the listing reaches the cap first
	before := e.sb.Global.Calls()
	s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
	if !s.OK() || s.Updated == 0 {
		t.Fatalf("run: %s (%s) %v", s.Headline(), s.Message, s.Errors)
	}
	calls := e.sb.Global.Calls()
	pages := calls["GET /organizations.json"] - before["GET /organizations.json"]
	lookups := calls["GET /organizations/show_many.json"] - before["GET /organizations/show_many.json"]
	if pages > 2 || lookups == 0 {
		t.Errorf("%d listing pages and %d look-ups; want the listing stopped at 150 orgs and the rest looked up", pages, lookups)
	}
	e.sb.Salesforce.SetResponseDelay(0)
	writes := e.sb.Global.WriteCalls()
	if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); !s.OK() || s.Updated+s.Created+s.Deleted != 0 || e.sb.Global.WriteCalls() != writes {
		t.Errorf("second run: %s, %d writes", s.Headline(), e.sb.Global.WriteCalls()-writes)
	}
}

// When the accounts arrive during the org listing and finishing it is the
// cheaper read (most accounts have no org yet), a listing that then fails
// gives way to look-ups. The run used to wait for the failed listing's
// result a second time, for ever.
func TestOrgListingFailingAfterItWasChosenGivesWayToLookUps(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 9, Accounts: 3000, Missing: 0.7, Foreign: -1, NoDeletions: true})
	// The listing's second page waits until the runner, knowing the
	// accounts, has weighed finishing the listing (its count call); that
	// call arms the failure, so the listing fails after it was chosen
	// however fast Salesforce answers.
	counted := make(chan struct{})
	var once, first sync.Once
	e.sb.Global.OnRequest(func(method, endpoint string) {
		switch endpoint {
		case "/organizations/count.json":
			once.Do(func() {
				e.sb.Global.FailNext("GET", "/organizations.json", 1000, 500)
				close(counted)
			})
		case "/organizations.json":
			gate := true
			first.Do(func() { gate = false })
			if gate {
				select {
				case <-counted:
				case <-time.After(20 * time.Second):
				}
			}
		}
	})
	done := make(chan *syncer.Summary, 1)
	go func() { done <- e.run(t, syncer.JobGlobalOrgs, syncer.Options{}) }()
	var s *syncer.Summary
	select {
	case s = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the run is stuck after its org listing failed")
	}
	calls := e.sb.Global.Calls()
	if calls["GET /organizations/count.json"] == 0 || calls["GET /organizations/show_many.json"] == 0 {
		t.Fatalf("the test did not fail the listing after it was chosen: calls %v", calls)
	}
	if !s.OK() || s.Created == 0 {
		t.Fatalf("run: %s (%s) %v", s.Headline(), s.Message, s.Errors)
	}
	e.sb.Global.OnRequest(nil)
	if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); !s.OK() || s.Created+s.Updated+s.Deleted != 0 {
		t.Errorf("second run: %s (%s)", s.Headline(), s.Message)
	}
}

// With bulk user imports not enabled on the account (Zendesk answers the
// bulk user endpoints 403), the sold-to users of new orgs and the federal
// users are still written, one at a time, and the run's summary says so
// once: in its notices, its JSON (notices) and its text.
func TestRefusedBulkUserImportsAreWorkedAroundAndNoticedOnce(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 5, Accounts: 300, FederalAccounts: 30})
	e.sb.Global.RefuseBulkUserImports(true)
	e.sb.Federal.RefuseBulkUserImports(true)
	for _, job := range []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers} {
		s := e.run(t, job, syncer.Options{})
		if !s.OK() || s.Failed != 0 {
			t.Fatalf("%s: %s (%s) %+v", job, s.Headline(), s.Message, s.Errors)
		}
		if job == syncer.JobFederalOrgs {
			if len(s.Notices) != 0 {
				t.Errorf("federal-orgs writes no user, yet notices %q", s.Notices)
			}
			continue
		}
		if len(s.Notices) != 1 || !strings.Contains(s.Notices[0], "Data imports are not enabled") {
			t.Errorf("%s notices %q, want one naming Zendesk's reason", job, s.Notices)
		}
		b, err := json.Marshal(s)
		if err != nil || !strings.Contains(string(b), `"notices":["Zendesk refused POST /users/`) {
			t.Errorf("%s JSON has no notices (%v)", job, err)
		}
		var text strings.Builder
		s.WriteText(&text, 5)
		if strings.Count(text.String(), "notice: ") != 1 {
			t.Errorf("%s text:\n%s", job, text.String())
		}
	}
	if n := e.sb.Global.Calls()["POST /users.json"]; n == 0 {
		t.Error("no sold-to user was created one at a time")
	}
	if n := e.sb.Federal.Calls()["POST /users/create_or_update.json"]; n == 0 {
		t.Error("no federal user was written one at a time")
	}
	for _, job := range []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalUsers} {
		if dry := e.run(t, job, syncer.Options{DryRun: true}); dry.Created+dry.Updated != 0 {
			t.Errorf("%s plans %d changes after the runs", job, dry.Created+dry.Updated)
		}
	}
}

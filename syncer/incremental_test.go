package syncer_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
)

// incEnv is an env whose runner can run incremental runs, on a simulated
// clock shared with the fake Salesforce, after a full run of each job.
type incEnv struct {
	*env
	clk *clockwork.FakeClock
}

func newIncEnv(t *testing.T, opts sandbox.Options) *incEnv {
	t.Helper()
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(start.Add(-24 * time.Hour)) // the data was entered the day before
	opts.Now, opts.Clock = start, clk.Now
	e := &incEnv{env: newEnv(t, opts), clk: clk}
	e.r.Now, e.r.Watermarks, e.r.Overlap = clk.Now, e.db, 2*time.Minute
	clk.Advance(24 * time.Hour)
	return e
}

// full runs a full run of each job, which must succeed, then lets a minute
// pass.
func (e *incEnv) full(t *testing.T, jobs ...syncer.Job) {
	t.Helper()
	for _, job := range jobs {
		if s := e.run(t, job, syncer.Options{}); !s.OK() {
			t.Fatalf("full %s: %s (%s) %v", job, s.Headline(), s.Message, s.Errors)
		}
	}
	e.clk.Advance(time.Minute)
}

// incremental runs an incremental run of job a minute later, which must
// succeed.
func (e *incEnv) incremental(t *testing.T, job syncer.Job) *syncer.Summary {
	t.Helper()
	e.clk.Advance(time.Minute)
	s := e.run(t, job, syncer.Options{Incremental: true})
	if !s.OK() || s.Incremental == nil {
		t.Fatalf("incremental %s: %s (%s) %v", job, s.Headline(), s.Message, s.Errors)
	}
	return s
}

// syncedAccount returns a Salesforce account of scope's query whose org
// exists in Zendesk and that has every kind of child record.
func (e *incEnv) syncedAccount(t *testing.T, federal bool) (salesforcetest.Account, syncer.Org) {
	t.Helper()
	zd := e.sb.Global
	if federal {
		zd = e.sb.Federal
	}
	for _, a := range e.sb.Salesforce.Accounts() {
		match := salesforcetest.MatchesGlobalQuery(&a)
		if federal {
			match = salesforcetest.MatchesFederalQuery(&a)
		}
		if !match || len(a.CustomerSubscriptions) == 0 || len(a.ZuoraSubscriptions) == 0 || len(a.SoldTo) == 0 {
			continue
		}
		if o, ok := orgByExt(zd, a.ID); ok && !slices.Contains(o.Tags, "expired") {
			return a, o
		}
	}
	t.Fatal("no synced account with every kind of child record")
	return salesforcetest.Account{}, syncer.Org{}
}

func TestIncrementalCarriesEachKindOfChange(t *testing.T) {
	tests := []struct {
		name   string
		change func(a *salesforcetest.Account)
		check  func(t *testing.T, before, after syncer.Org)
	}{
		{"an account field", func(a *salesforcetest.Account) { a.Owner = "Quinn Newowner" }, func(t *testing.T, _, o syncer.Org) {
			if got := o.Fields.Get("account_owner"); got != "Quinn Newowner" {
				t.Errorf("account_owner = %v", got)
			}
		}},
		{"a customer subscription", func(a *salesforcetest.Account) {
			for i := range a.CustomerSubscriptions {
				a.CustomerSubscriptions[i].Status, a.CustomerSubscriptions[i].Tier = "Active", "Ultimate"
				a.CustomerSubscriptions[i].EndDate = "2027-11-25"
			}
		}, func(t *testing.T, _, o syncer.Org) {
			if got := o.Fields.Get("support_level"); got != "ultimate" {
				t.Errorf("support_level = %v, want ultimate", got)
			}
		}},
		{"a Zuora subscription", func(a *salesforcetest.Account) {
			for i := range a.ZuoraSubscriptions {
				a.ZuoraSubscriptions[i].Status, a.ZuoraSubscriptions[i].EndDate = "Active", "2031-01-31"
			}
		}, func(t *testing.T, _, o syncer.Org) {
			if got := o.Fields.Get("expiration_date"); got != "2031-01-31" {
				t.Errorf("expiration_date = %v, want 2031-01-31", got)
			}
		}},
		{"a deleted Zuora subscription", func(a *salesforcetest.Account) {
			a.ZuoraSubscriptions = nil
			for i := range a.CustomerSubscriptions {
				a.CustomerSubscriptions[i].Status, a.CustomerSubscriptions[i].Tier = "Active", "Starter"
				a.CustomerSubscriptions[i].EndDate = "2027-11-25"
			}
		}, func(t *testing.T, _, o syncer.Org) {
			if got := o.Fields.Get("support_level"); got != "starter" {
				t.Errorf("support_level = %v, want starter", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" reaches Zendesk", func(t *testing.T) {
			e := newIncEnv(t, sandbox.Options{Seed: 21, Accounts: 150})
			e.full(t, syncer.JobGlobalOrgs)
			a, before := e.syncedAccount(t, false)
			if !e.sb.Salesforce.UpdateAccount(a.ID, tt.change) {
				t.Fatal("no such account")
			}
			s := e.incremental(t, syncer.JobGlobalOrgs)
			if s.Updated != 1 || s.Fetched != 1 {
				t.Errorf("incremental run: %s, read %d accounts; want the one account updated", s.Headline(), s.Fetched)
			}
			after, _ := e.sb.Global.Org(before.ID)
			tt.check(t, before, after)

			writes := e.sb.Global.WriteCalls()
			again := e.incremental(t, syncer.JobGlobalOrgs)
			if again.Created+again.Updated != 0 || e.sb.Global.WriteCalls() != writes || again.Fetched != 0 {
				t.Errorf("the change seen again within the overlap: %s, read %d accounts, %d writes",
					again.Headline(), again.Fetched, e.sb.Global.WriteCalls()-writes)
			}
			if again.Incremental.Changed == 0 || again.Incremental.New != 0 {
				t.Errorf("second run saw %d changes, %d new; want the same change again, carried over already", again.Incremental.Changed, again.Incremental.New)
			}
		})
	}
}

func TestIncrementalCreatesTheUserOfAChangedSoldToRecord(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 22, Accounts: 150})
	e.full(t, syncer.JobGlobalOrgs)
	a, org := e.syncedAccount(t, false)
	// A run was cut short after creating the org: it still carries the
	// marker, and its sold-to user is created once the sold-to record is
	// fixed.
	tagPending(t, e, org)
	if !e.sb.Salesforce.UpdateAccount(a.ID, func(x *salesforcetest.Account) {
		x.SoldTo = []salesforcetest.SoldTo{{ID: x.SoldTo[0].ID, Name: "Buyer Fixed", Email: "buyer.fixed@example.com"}}
	}) {
		t.Fatal("no such account")
	}
	s := e.incremental(t, syncer.JobGlobalOrgs)
	if s.Created != 1 {
		t.Fatalf("incremental run: %s; want the sold-to user created", s.Headline())
	}
	found := false
	for _, u := range e.sb.Global.Users() {
		if u.Email == "buyer.fixed@example.com" && u.OrgID == org.ID {
			found = true
		}
	}
	after, _ := e.sb.Global.Org(org.ID)
	if !found || slices.Contains(after.Tags, syncer.TagSoldToPending) {
		t.Errorf("user found %v, org tags %v", found, after.Tags)
	}
}

// tagPending adds sold_to_pending to an org in Zendesk, as a run cut short
// leaves it.
func tagPending(t *testing.T, e *incEnv, o syncer.Org) {
	t.Helper()
	w := []syncer.OrgWrite{{ID: o.ID, ExternalID: o.ExternalID, Tags: append(slices.Clone(o.Tags), syncer.TagSoldToPending)}}
	if res := e.r.Global.UpdateOrgs(context.Background(), w); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
}

// syncedContact returns an active contact that federal-users has synced
// and its user (named and in an org as the contact says).
func (e *incEnv) syncedContact(t *testing.T) (syncer.User, salesforcetest.Contact) {
	t.Helper()
	var user syncer.User
	var contact salesforcetest.Contact
	for _, c := range e.sb.Salesforce.Contacts() {
		for _, u := range e.sb.Federal.Users() {
			if strings.EqualFold(u.Email, strings.TrimSpace(c.Email)) && u.OrgID != 0 && u.Name == strings.TrimSpace(c.Name) && !c.Inactive {
				user, contact = u, c
			}
		}
	}
	if user.ID == 0 {
		t.Fatal("no contact with a user")
	}
	return user, contact
}

func TestIncrementalCarriesContactChanges(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 23, Accounts: 40, FederalAccounts: 30})
	e.full(t, syncer.JobFederalOrgs, syncer.JobFederalUsers)
	user, contact := e.syncedContact(t)
	e.sb.Salesforce.UpdateContact(contact.ID, func(c *salesforcetest.Contact) { c.Name = "Renamed Contact" })
	s := e.incremental(t, syncer.JobFederalUsers)
	if s.Updated != 1 {
		t.Errorf("incremental run: %s; want the user renamed", s.Headline())
	}
	for _, u := range e.sb.Federal.Users() {
		if u.ID == user.ID && u.Name != "Renamed Contact" {
			t.Errorf("user name = %q", u.Name)
		}
	}

	t.Run("the contacts of an account that joins the query arrive after its org", func(t *testing.T) {
		var joined salesforcetest.Account
		for _, a := range e.sb.Salesforce.Accounts() {
			if !salesforcetest.MatchesFederalQuery(&a) && (a.Type == "Customer" || a.Type == "Former Customer") {
				joined = a
				break
			}
		}
		if joined.ID == "" {
			t.Fatal("no customer account outside the federal query")
		}
		e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "New Federal", Email: "new.federal@agency.example", AccountID: joined.ID})
		e.sb.Salesforce.UpdateAccount(joined.ID, func(a *salesforcetest.Account) { a.SupportInstance = "federal-support" })
		orgs := e.incremental(t, syncer.JobFederalOrgs)
		users := e.run(t, syncer.JobFederalUsers, syncer.Options{Incremental: true})
		if orgs.Created != 1 || users.Created != 1 {
			t.Errorf("orgs: %s; users: %s", orgs.Headline(), users.Headline())
		}
	})
}

func TestIncrementalLeavesAnAccountMovedOutOfTheQueryAlone(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 24, Accounts: 150})
	e.full(t, syncer.JobGlobalOrgs)
	a, before := e.syncedAccount(t, false)
	if a.ID == salesforcetest.SpecialAccountID {
		t.Skip("the special account is always in the query")
	}
	e.sb.Salesforce.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Type, x.Name = "Prospect", "Gone Elsewhere" })
	writes := e.sb.Global.WriteCalls()
	s := e.incremental(t, syncer.JobGlobalOrgs)
	after, ok := e.sb.Global.Org(before.ID)
	if !ok || after.Name != before.Name || !after.UpdatedAt.Equal(before.UpdatedAt) || e.sb.Global.WriteCalls() != writes {
		t.Errorf("org %d changed: %+v → %+v (%s)", before.ID, before, after, s.Headline())
	}
}

func TestIncrementalRightAfterAFullRunWritesNothing(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 25, Accounts: 150, FederalAccounts: 20})
	e.full(t, syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers)
	for _, job := range []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers} {
		gw, fw := e.sb.Global.WriteCalls(), e.sb.Federal.WriteCalls()
		zd := e.sb.Global.TotalCalls() + e.sb.Federal.TotalCalls()
		describes := e.sb.Salesforce.Calls().Describe
		s := e.incremental(t, job)
		if s.Created+s.Updated+s.Deleted != 0 || e.sb.Global.WriteCalls() != gw || e.sb.Federal.WriteCalls() != fw {
			t.Errorf("%s: %s", job, s.Headline())
		}
		// The adapter describes Account once; then an idle run costs one
		// composite request and no Zendesk call.
		sf := s.Incremental.SalesforceCalls - (e.sb.Salesforce.Calls().Describe - describes)
		if sf != 1 || s.Incremental.ZendeskCalls != 0 || e.sb.Global.TotalCalls()+e.sb.Federal.TotalCalls() != zd {
			t.Errorf("%s: %d Salesforce calls (the describe aside) and %d Zendesk calls, want 1 and 0", job, sf,
				e.sb.Global.TotalCalls()+e.sb.Federal.TotalCalls()-zd)
		}
	}
}

func TestIncrementalNeverDeletes(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 26, Accounts: 150})
	e.full(t, syncer.JobGlobalOrgs)
	a, org := e.syncedAccount(t, false)
	e.sb.Salesforce.UpdateAccount(a.ID, expire)
	s := e.incremental(t, syncer.JobGlobalOrgs)
	if _, ok := e.sb.Global.Org(org.ID); !ok || s.Deleted != 0 {
		t.Fatalf("the greatly expired org was deleted by an incremental run: %s", s.Headline())
	}
	if !slices.ContainsFunc(s.Changes, func(c syncer.Change) bool {
		return c.Action == syncer.Skip && strings.Contains(c.Reason, "incremental runs leave deletions to full runs")
	}) {
		t.Errorf("changes %+v do not say the deletion is left to a full run", s.Changes)
	}
}

func TestWatermark(t *testing.T) {
	t.Run("survives a restart and moves only when the run did its work", func(t *testing.T) {
		e := newIncEnv(t, sandbox.Options{Seed: 27, Accounts: 150})
		e.full(t, syncer.JobGlobalOrgs)
		s := e.incremental(t, syncer.JobGlobalOrgs)
		wm, ok, err := e.db.Watermark(context.Background(), syncer.JobGlobalOrgs)
		if err != nil || !ok || !wm.At.Equal(e.clk.Now()) || !s.Incremental.Watermark.Equal(wm.At) {
			t.Fatalf("watermark %v %v %v; run says %v", wm.At, ok, err, s.Incremental.Watermark)
		}
		a, org := e.syncedAccount(t, false)
		e.sb.Salesforce.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Owner = "After Restart" })

		// A run whose Salesforce read fails as a whole leaves it.
		e.clk.Advance(time.Minute)
		e.sb.Salesforce.RateLimitNext(1, 0)
		if failed := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Incremental: true}); failed.OK() || failed.Incremental.Watermark != (time.Time{}) {
			t.Fatalf("the failed run: %s code %v watermark %v", failed.Headline(), failed.Code, failed.Incremental.Watermark)
		}
		if again, _, _ := e.db.Watermark(context.Background(), syncer.JobGlobalOrgs); !again.At.Equal(wm.At) {
			t.Fatalf("a failed run moved the watermark to %v", again.At)
		}

		// A restart: the database reopened, a new runner.
		db2 := reopen(t, e)
		r2 := *e.r
		r2.Store, r2.Watermarks = db2, db2
		e.clk.Advance(time.Hour) // past the overlap: only the watermark can find the change
		s2 := r2.Run(context.Background(), syncer.JobGlobalOrgs, syncer.Options{Incremental: true})
		if !s2.OK() || s2.Updated != 1 {
			t.Fatalf("after the restart: %s (%s)", s2.Headline(), s2.Message)
		}
		if o, _ := e.sb.Global.Org(org.ID); o.Fields.Get("account_owner") != "After Restart" {
			t.Errorf("account_owner = %v", o.Fields.Get("account_owner"))
		}
	})

	t.Run("a change committed just before the watermark is caught by the overlap", func(t *testing.T) {
		for _, overlap := range []time.Duration{2 * time.Minute, 0} {
			e := newIncEnv(t, sandbox.Options{Seed: 28, Accounts: 150})
			e.r.Overlap = overlap
			e.full(t, syncer.JobGlobalOrgs)
			first := e.incremental(t, syncer.JobGlobalOrgs)
			a, org := e.syncedAccount(t, false)
			// A long transaction: stamped 30 s before the watermark,
			// committed (visible) only after the run that set it.
			late := first.Incremental.Watermark.Add(-30 * time.Second)
			e.sb.Salesforce.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Owner, x.SystemModstamp = "Late Commit", late })
			e.incremental(t, syncer.JobGlobalOrgs)
			o, _ := e.sb.Global.Org(org.ID)
			caught := o.Fields.Get("account_owner") == "Late Commit"
			if caught != (overlap > 0) {
				t.Errorf("overlap %s: late commit caught = %v", overlap, caught)
			}
		}
	})

	t.Run("a change committed while a run is in progress is caught by the next", func(t *testing.T) {
		e := newIncEnv(t, sandbox.Options{Seed: 29, Accounts: 150})
		e.full(t, syncer.JobGlobalOrgs)
		a, org := e.syncedAccount(t, false)
		b, orgB := otherSyncedAccount(t, e, a.ID)
		e.sb.Salesforce.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Owner = "First Change" })
		composites := 0
		e.sb.Salesforce.SetRequestHook(func(r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/composite") {
				return
			}
			if composites++; composites == 2 { // the read of the changed accounts: the detection is done
				e.clk.Advance(10 * time.Second)
				e.sb.Salesforce.UpdateAccount(b.ID, func(x *salesforcetest.Account) { x.Owner = "During The Run" })
			}
		})
		first := e.incremental(t, syncer.JobGlobalOrgs)
		e.sb.Salesforce.SetRequestHook(nil)
		if first.Updated != 1 {
			t.Fatalf("first run: %s", first.Headline())
		}
		e.clk.Advance(time.Hour) // past any overlap: the watermark alone must not skip it
		e.incremental(t, syncer.JobGlobalOrgs)
		if o, _ := e.sb.Global.Org(orgB.ID); o.Fields.Get("account_owner") != "During The Run" {
			t.Errorf("the change made during the run was skipped: %v", o.Fields.Get("account_owner"))
		}
		if o, _ := e.sb.Global.Org(org.ID); o.Fields.Get("account_owner") != "First Change" {
			t.Errorf("first change: %v", o.Fields.Get("account_owner"))
		}
	})

	t.Run("an account whose write failed is retried by the next runs", func(t *testing.T) {
		e := newIncEnv(t, sandbox.Options{Seed: 30, Accounts: 150})
		e.full(t, syncer.JobGlobalOrgs)
		a, org := e.syncedAccount(t, false)
		e.sb.Salesforce.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Owner = "Refused Once" })
		e.sb.Global.FailItems(func(_ string, item map[string]any) bool { return fmt.Sprint(item["id"]) == fmt.Sprint(org.ID) })
		e.clk.Advance(time.Minute)
		failed := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Incremental: true})
		if failed.OK() || failed.Failed != 1 {
			t.Fatalf("run with the refused write: %s", failed.Headline())
		}
		if wm, _, _ := e.db.Watermark(context.Background(), syncer.JobGlobalOrgs); !slices.Equal(wm.Retry, []string{a.ID}) {
			t.Fatalf("retry list %v, want %s", wm.Retry, a.ID)
		}
		e.sb.Global.FailItems(nil)
		e.clk.Advance(time.Hour)
		s := e.incremental(t, syncer.JobGlobalOrgs)
		if o, _ := e.sb.Global.Org(org.ID); o.Fields.Get("account_owner") != "Refused Once" || s.Incremental.Retried != 1 {
			t.Errorf("retried run: %s, owner %v", s.Headline(), o.Fields.Get("account_owner"))
		}
		if wm, _, _ := e.db.Watermark(context.Background(), syncer.JobGlobalOrgs); len(wm.Retry) != 0 {
			t.Errorf("retry list %v after the account applied", wm.Retry)
		}
	})
}

// otherSyncedAccount is a synced account other than the one with ID id.
func otherSyncedAccount(t *testing.T, e *incEnv, id string) (salesforcetest.Account, syncer.Org) {
	t.Helper()
	for _, a := range e.sb.Salesforce.Accounts() {
		if a.ID == id || !salesforcetest.MatchesGlobalQuery(&a) {
			continue
		}
		if o, ok := orgByExt(e.sb.Global, a.ID); ok && !slices.Contains(o.Tags, "greatly_expired") {
			return a, o
		}
	}
	t.Fatal("no second synced account")
	return salesforcetest.Account{}, syncer.Org{}
}

// reopen opens the env's database file again, as a restarted process does.
func reopen(t *testing.T, e *incEnv) *store.DB {
	t.Helper()
	var file string
	if err := e.db.SQL().QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestQuietIncremental(t *testing.T) {
	inc := &syncer.IncrementalRun{}
	settle := syncer.Change{Action: syncer.Update, Kind: "org", Key: "0014M00001sGJ8xQAG", AfterUsers: true}
	skip := syncer.Change{Action: syncer.Skip, Kind: "user", Key: "a@b.example", Reason: "ambiguous"}
	tests := []struct {
		name  string
		s     syncer.Summary
		quiet bool
	}{
		{"an incremental run that read nothing is quiet", syncer.Summary{Incremental: inc}, true},
		{"one that only skipped is quiet", syncer.Summary{Incremental: inc, Skipped: 1, Changes: []syncer.Change{skip}}, true},
		{"one that updated is not", syncer.Summary{Incremental: inc, Updated: 1}, false},
		{"one that only cleared a sold-to marker wrote, so it is not", syncer.Summary{Incremental: inc, Changes: []syncer.Change{settle}}, false},
		{"one that failed is not", syncer.Summary{Incremental: inc, Code: syncer.CodeConnectionFailed}, false},
		{"a dry run is not", syncer.Summary{Incremental: inc, DryRun: true}, false},
		{"a full run is not", syncer.Summary{}, false},
	}
	for _, tt := range tests {
		if got := tt.s.QuietIncremental(); got != tt.quiet {
			t.Errorf("%s: quiet = %v", tt.name, got)
		}
	}
}

// An e-mail on contacts of two accounts is ambiguous in an incremental run
// too, though only one of the accounts changed: the run reads the other
// contacts with the e-mail, as a full run would see them.
func TestIncrementalKeepsAmbiguousEmailsAmbiguous(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 23, Accounts: 40, FederalAccounts: 30})
	e.full(t, syncer.JobFederalOrgs, syncer.JobFederalUsers)
	_, contact := e.syncedContact(t)
	var other salesforcetest.Account
	for _, a := range e.sb.Salesforce.Accounts() {
		if a.ID != contact.AccountID && salesforcetest.MatchesFederalQuery(&a) {
			other = a
		}
	}
	if other.ID == "" {
		t.Fatal("no second federal account")
	}
	// The same e-mail on another account's contact, entered long before.
	e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "Namesake", Email: contact.Email, AccountID: other.ID,
		SystemModstamp: e.clk.Now().Add(-48 * time.Hour)})
	e.sb.Salesforce.UpdateContact(contact.ID, func(c *salesforcetest.Contact) { c.Name = "Renamed Contact" })
	s := e.incremental(t, syncer.JobFederalUsers)
	if s.Updated != 0 || !slices.ContainsFunc(s.Changes, func(c syncer.Change) bool {
		return c.Action == syncer.Skip && strings.HasPrefix(c.Reason, syncer.ReasonAmbiguous)
	}) {
		t.Errorf("incremental run: %s, changes %+v; want the e-mail skipped as ambiguous", s.Headline(), s.Changes)
	}
}

// An incremental run reads a few accounts: it settles the grace periods of
// those and leaves every other org's where it was, since-date included.
func TestIncrementalKeepsOtherGracePeriods(t *testing.T) {
	e := newIncEnv(t, sandbox.Options{Seed: 27, Accounts: 150})
	e.r.Rules.DeleteGrace = 7 * 24 * time.Hour
	e.full(t, syncer.JobGlobalOrgs)
	ctx := context.Background()
	before, err := e.db.PendingDeletions(ctx, syncer.Global)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 {
		t.Fatal("the full run left no org pending deletion: the sandbox needs greatly expired accounts")
	}
	a, _ := e.syncedAccount(t, false)
	e.sb.Salesforce.UpdateAccount(a.ID, expire)
	if s := e.incremental(t, syncer.JobGlobalOrgs); len(s.Pending) != 1 || s.Pending[0].Account != a.ID {
		t.Fatalf("the incremental run tagged %+v, want only %s", s.Pending, a.ID)
	}
	after, err := e.db.PendingDeletions(ctx, syncer.Global)
	if err != nil {
		t.Fatal(err)
	}
	since := map[string]time.Time{}
	for _, p := range after {
		since[p.Account] = p.Since
	}
	for _, p := range before {
		if got, ok := since[p.Account]; !ok || !got.Equal(p.Since) {
			t.Errorf("org of %s: pending since %v before the incremental run, %v (listed %v) after", p.Account, p.Since, got, ok)
		}
	}
	if _, ok := since[a.ID]; !ok || len(after) != len(before)+1 {
		t.Errorf("after the incremental run %d orgs are pending (before %d), %s listed %v", len(after), len(before), a.ID, ok)
	}
}

package salesforce_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
)

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

// changedFake is a fake with generated global and federal data, stamped at
// t0 by a clock the test moves.
func changedFake(t *testing.T, opts ...salesforcetest.Option) (*salesforcetest.Server, *clockwork.FakeClock) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(t0)
	accounts := salesforcetest.Generate(3, 60, salesforcetest.GenerateOptions{})
	fed, contacts := salesforcetest.GenerateFederal(3, 20, salesforcetest.GenerateOptions{})
	srv := salesforcetest.NewServer(append([]salesforcetest.Option{salesforcetest.WithClock(clk.Now),
		salesforcetest.WithAccounts(append(accounts, fed...)...), salesforcetest.WithContacts(contacts...)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv, clk
}

// firstSelected returns the first account the query of scope selects that
// has each kind of child record.
func firstSelected(t *testing.T, srv *salesforcetest.Server, federal bool) salesforcetest.Account {
	t.Helper()
	for _, a := range srv.Accounts() {
		match := salesforcetest.MatchesGlobalQuery(&a)
		if federal {
			match = salesforcetest.MatchesFederalQuery(&a)
		}
		if match && len(a.CustomerSubscriptions) > 0 && len(a.ZuoraSubscriptions) > 0 && len(a.SoldTo) > 0 {
			return a
		}
	}
	t.Fatal("no account with every kind of child record")
	return salesforcetest.Account{}
}

func objects(ms []syncer.Modified) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Object+" of "+m.AccountID)
	}
	sort.Strings(out)
	return out
}

func TestModifiedFindsEachKindOfChangeInOneCall(t *testing.T) {
	srv, clk := changedFake(t)
	c := newClient(t, srv)
	ctx := context.Background()
	a := firstSelected(t, srv, false)
	since := t0.Add(time.Minute)

	ms, err := c.Modified(ctx, syncer.JobGlobalOrgs, since)
	if err != nil || len(ms) != 0 {
		t.Fatalf("before any change: %v, %v", objects(ms), err)
	}
	clk.Advance(2 * time.Minute)
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Name += " Renamed" })
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.CustomerSubscriptions[0].Plan = "GitLab Ultimate - 3 Years" })
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.ZuoraSubscriptions = x.ZuoraSubscriptions[1:] }) // deleted
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.SoldTo[0].Email = "new.buyer@example.com" })
	srv.ResetCalls()

	ms, err = c.Modified(ctx, syncer.JobGlobalOrgs, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Account of " + a.ID, "Customer_Subscription__c of " + a.ID,
		"Zuora__CustomerAccount__c of " + a.ID, "Zuora__Subscription__c of " + a.ID}
	if got := objects(ms); !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	for _, m := range ms {
		if !m.Stamp.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("%s stamped %s, want %s", m.Object, m.Stamp, t0.Add(2*time.Minute))
		}
	}
	calls := srv.Calls()
	if calls.API() != 1 || calls.Composite != 1 || calls.CompositeQueries != 4 || calls.Describe != 0 {
		t.Errorf("calls = %+v, want one composite request of 4 queries (the describe was cached)", calls)
	}
}

func TestModifiedDescribesOnceAndFindsTheLookupFields(t *testing.T) {
	srv, _ := changedFake(t)
	c := newClient(t, srv)
	for _, job := range []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobGlobalOrgs} {
		if _, err := c.Modified(context.Background(), job, t0); err != nil {
			t.Fatalf("%s: %v", job, err)
		}
	}
	if got := srv.Calls().Describe; got != 1 {
		t.Errorf("describe calls = %d, want 1", got)
	}
}

func TestModifiedFindsFederalContactsAndAccounts(t *testing.T) {
	srv, clk := changedFake(t)
	c := newClient(t, srv)
	var contact salesforcetest.Contact
	for _, x := range srv.Contacts() {
		if x.Email != "" && x.AccountID != "" {
			contact = x
			break
		}
	}
	fed := firstSelected(t, srv, true)
	clk.Advance(time.Hour)
	srv.UpdateContact(contact.ID, func(x *salesforcetest.Contact) { x.Name = "Renamed Person" })
	srv.UpdateAccount(fed.ID, func(x *salesforcetest.Account) { x.Territory = "PUBSEC_FED_CIVILIAN" })
	srv.RemoveContacts(srv.Contacts()[len(srv.Contacts())-1].ID)

	ms, err := c.Modified(context.Background(), syncer.JobFederalUsers, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := objects(ms)
	for _, want := range []string{"Contact of " + contact.AccountID, "Account of " + fed.ID} {
		if !slices.Contains(got, want) {
			t.Errorf("changes %v lack %q", got, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("changes = %v, want the contact, the account and the deleted contact", got)
	}
}

func TestModifiedReportsAHiddenRelationship(t *testing.T) {
	srv, _ := changedFake(t, salesforcetest.WithHiddenRelationships("Zuora__Subscriptions__r"))
	c := newClient(t, srv)
	_, err := c.Modified(context.Background(), syncer.JobGlobalOrgs, t0)
	wantCode(t, err, syncer.CodeBadResponse)
	if !strings.Contains(err.Error(), "Zuora__Subscriptions__r") {
		t.Errorf("error %q does not name the relationship", err)
	}
}

func TestAccountsByIDReadsManyAccountsInOneCall(t *testing.T) {
	accounts := salesforcetest.Generate(5, 7000, salesforcetest.GenerateOptions{})
	srv := salesforcetest.NewServer(salesforcetest.WithAccounts(accounts...))
	defer srv.Close()
	c := newClient(t, srv)
	ctx := context.Background()
	all, err := c.Accounts(ctx, syncer.Global, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	want := map[string]syncer.Account{}
	for i, a := range all {
		if i%10 != 0 { // nine in ten of the selected accounts, and one the query does not select
			ids = append(ids, a.ID)
			want[a.ID] = a
		}
	}
	for _, a := range accounts {
		if !salesforcetest.MatchesGlobalQuery(&a) {
			ids = append(ids, a.ID)
			break
		}
	}
	if len(ids) <= 2*2000 {
		t.Fatalf("only %d IDs: the test needs more than two statements' worth", len(ids))
	}
	srv.ResetCalls()
	got, err := c.AccountsByID(ctx, syncer.Global, ids)
	if err != nil {
		t.Fatal(err)
	}
	if calls := srv.Calls(); calls.API() != 1 || calls.CompositeQueries != 3 {
		t.Errorf("calls = %+v, want one composite request of 3 statements", calls)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d accounts, want %d (the one outside the query left out)", len(got), len(want))
	}
	for _, a := range got {
		if w, ok := want[a.ID]; !ok || fmt.Sprint(w) != fmt.Sprint(a) {
			t.Errorf("account %s read by ID differs from the full query's", a.ID)
		}
	}
}

func TestFederalContactsByEmailQuotesTheEmails(t *testing.T) {
	fed, contacts := salesforcetest.GenerateFederal(3, 5, salesforcetest.GenerateOptions{})
	contacts = append(contacts, salesforcetest.Contact{Name: "Pat O'Brien", Email: "pat.o'brien@agency.example", AccountID: fed[0].ID})
	srv := salesforcetest.NewServer(salesforcetest.WithAccounts(fed...), salesforcetest.WithContacts(contacts...))
	defer srv.Close()
	if !salesforcetest.MatchesFederalQuery(&fed[0]) {
		t.Skip("the first generated federal account is not in the federal query")
	}
	c := newClient(t, srv)
	got, err := c.FederalContactsByEmail(context.Background(), []string{"PAT.O'BRIEN@agency.example", `back\slash@x.example`})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "Pat O'Brien" {
		t.Errorf("contacts = %+v, want Pat O'Brien's, found case-insensitively", got)
	}
	byAccount, err := c.FederalContactsByAccount(context.Background(), []string{fed[0].ID})
	if err != nil || !slices.ContainsFunc(byAccount, func(x syncer.Contact) bool { return x.Name == "Pat O'Brien" }) {
		t.Errorf("contacts of %s = %+v, %v", fed[0].ID, byAccount, err)
	}
}

func TestLongIDListsWouldNotFitAGet(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf("'0015g0000%09d'", i)
	}
	q := salesforce.GlobalAccountsSOQL + " AND Account.Id IN (" + fmt.Sprint(ids) + ")"
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/services/data/v62.0/query/?q="+url.QueryEscape(q), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestURITooLong {
		t.Errorf("GET of a %d-byte URI answered %d, want 414 (URIs are limited to %d bytes)", len(req.URL.String()), resp.StatusCode, salesforcetest.MaxURIBytes)
	}
}

// Every answer reports the org's API usage (Sforce-Limit-Info): the client
// keeps the last one, with no request of its own.
func TestLastAllowanceComesFromTheAnswers(t *testing.T) {
	srv, _ := changedFake(t)
	c := newClient(t, srv)
	if _, _, known := c.LastAllowance(); known {
		t.Error("an allowance is known before any answer")
	}
	srv.SetAPIAllowance(15000, 5000)
	before := srv.Calls().API()
	if _, err := c.Modified(context.Background(), syncer.JobGlobalOrgs, t0); err != nil {
		t.Fatal(err)
	}
	a, at, known := c.LastAllowance()
	used := srv.Calls().API() - before
	if !known || at.IsZero() || a.Max != 15000 || a.Remaining != 5000-used {
		t.Errorf("last allowance %+v at %v (known %v), want 15000 with %d remaining", a, at, known, 5000-used)
	}
}

package salesforcetest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
)

// composite posts a composite request of GET subrequests and returns each
// result's status and body.
func composite(t *testing.T, srv *salesforcetest.Server, urls ...string) (int, []struct {
	Body           json.RawMessage `json:"body"`
	HTTPStatusCode int             `json:"httpStatusCode"`
}) {
	t.Helper()
	var subs []map[string]string
	for i, u := range urls {
		subs = append(subs, map[string]string{"method": "GET", "url": u, "referenceId": fmt.Sprint("r", i)})
	}
	body, _ := json.Marshal(map[string]any{"compositeRequest": subs})
	resp, err := login(t, srv).DoRequest(http.MethodPost, "/composite", body)
	var out struct {
		CompositeResponse []struct {
			Body           json.RawMessage `json:"body"`
			HTTPStatusCode int             `json:"httpStatusCode"`
		} `json:"compositeResponse"`
	}
	if err != nil {
		return 400, nil
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out.CompositeResponse
}

func queryURL(all bool, q string) string {
	r := "query"
	if all {
		r = "queryAll"
	}
	return "/services/data/v62.0/" + r + "/?q=" + url.QueryEscape(q)
}

// Records are stamped on insert and update (an account only when its own
// fields change, a child record on its own), a removed child record stays
// for queryAll as deleted, and a stamp the caller gives is kept (a change
// committed late).
func TestSystemModstamps(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(t0)
	srv := salesforcetest.NewServer(salesforcetest.WithClock(clk.Now), salesforcetest.WithAccounts(salesforcetest.Account{
		ID: "001000000000001AAA", Name: "Acme", Type: "Customer",
		ZuoraSubscriptions: []salesforcetest.ZuoraSubscription{{Name: "S1", Status: "Active"}, {Name: "S2", Status: "Active"}}}))
	defer srv.Close()
	a := srv.Accounts()[0]
	if !a.SystemModstamp.Equal(t0) || a.ZuoraSubscriptions[0].ID == "" || !a.ZuoraSubscriptions[1].SystemModstamp.Equal(t0) {
		t.Fatalf("inserted: %+v", a)
	}
	clk.Advance(time.Minute)
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.ZuoraSubscriptions = x.ZuoraSubscriptions[:1] })
	clk.Advance(time.Minute)
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.ZuoraSubscriptions[0].SupportLevel = "Premium" })
	b := srv.Accounts()[0]
	if !b.SystemModstamp.Equal(t0) || !b.ZuoraSubscriptions[0].SystemModstamp.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after child changes: account %s, child %s", b.SystemModstamp, b.ZuoraSubscriptions[0].SystemModstamp)
	}
	q := "SELECT Id, Zuora__Account__c, SystemModstamp FROM Zuora__Subscription__c WHERE SystemModstamp >= 2026-12-03T08:00:30Z"
	status, res := composite(t, srv, queryURL(false, q), queryURL(true, q))
	if status != 200 || len(res) != 2 {
		t.Fatalf("composite: %d %v", status, res)
	}
	if n := strings.Count(string(res[0].Body), `"Id"`); n != 1 {
		t.Errorf("query found %d changed subscriptions, want the changed one: %s", n, res[0].Body)
	}
	if n := strings.Count(string(res[1].Body), `"Id"`); n != 2 || !strings.Contains(string(res[1].Body), "2026-12-03T08:01:00.000+0000") {
		t.Errorf("queryAll found %d, want the deleted one too, stamped at its deletion: %s", n, res[1].Body)
	}
	late := t0.Add(30 * time.Second)
	srv.UpdateAccount(a.ID, func(x *salesforcetest.Account) { x.Name, x.SystemModstamp = "Acme Late", late })
	if c := srv.Accounts()[0]; !c.SystemModstamp.Equal(late) {
		t.Errorf("a given stamp was not kept: %s", c.SystemModstamp)
	}
}

// The fake refuses what Salesforce refuses: more than 5 queries in one
// composite request, an unknown sObject or lookup field, a dateTime that
// is not a SOQL literal, a statement over 100,000 characters.
func TestChangeQueriesAreCheckedAsSalesforceChecksThem(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	ok := queryURL(true, "SELECT Id, AccountId, SystemModstamp FROM Contact WHERE SystemModstamp >= 2026-12-03T08:00:00Z")
	if status, res := composite(t, srv, ok, ok, ok, ok, ok); status != 200 || len(res) != 5 || res[4].HTTPStatusCode != 200 {
		t.Fatalf("5 queries: %d %+v", status, res)
	}
	if _, res := composite(t, srv, ok, ok, ok, ok, ok, ok); len(res) != 1 || res[0].HTTPStatusCode != 400 || !bytes.Contains(res[0].Body, []byte("LIMIT_EXCEEDED")) {
		t.Errorf("6 queries in one composite request: %+v, want one LIMIT_EXCEEDED result", res)
	}
	for q, code := range map[string]string{
		"SELECT Id, AccountId, SystemModstamp FROM Subscription__c WHERE SystemModstamp >= 2026-12-03T08:00:00Z":         "INVALID_TYPE",
		"SELECT Id, Account__c, SystemModstamp FROM Zuora__Subscription__c WHERE SystemModstamp >= 2026-12-03T08:00:00Z": "INVALID_FIELD",
		"SELECT Id, AccountId, SystemModstamp FROM Contact WHERE SystemModstamp >= 2026-12-03T08:00:00.000Z":             "MALFORMED_QUERY",
		"SELECT Id, AccountId, SystemModstamp FROM Contact WHERE SystemModstamp >= '2026-12-03T08:00:00Z'":               "MALFORMED_QUERY",
		salesforcetest.GlobalAccountsQuery + strings.Repeat(" ", salesforcetest.MaxSOQLLength):                           "MALFORMED_QUERY",
	} {
		_, res := composite(t, srv, queryURL(false, q))
		if len(res) != 1 || res[0].HTTPStatusCode != 400 || !bytes.Contains(res[0].Body, []byte(code)) {
			t.Errorf("%.60s…: %+v, want %s", q, res, code)
		}
	}
}

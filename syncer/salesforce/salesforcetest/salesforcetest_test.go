package salesforcetest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	gosf "github.com/k-capehart/go-salesforce/v2"

	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
)

func login(t *testing.T, srv *salesforcetest.Server) *gosf.Salesforce {
	t.Helper()
	c := srv.Credentials()
	sf, err := gosf.Init(gosf.Creds{Domain: srv.URL(), ConsumerKey: c.ClientID, ConsumerSecret: c.ClientSecret,
		Username: c.Username, Password: c.Password, SecurityToken: c.SecurityToken})
	if err != nil {
		t.Fatal(err)
	}
	return sf
}

func TestTokenResponseFieldsAreStrings(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	c := srv.Credentials()
	for _, form := range []url.Values{
		{"grant_type": {"password"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "username": {c.Username}, "password": {c.Password + c.SecurityToken}},
		{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}},
	} {
		resp, err := http.PostForm(srv.URL()+"/services/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 || body["instance_url"] != srv.URL() {
			t.Errorf("%s: status %d, body %v", form.Get("grant_type"), resp.StatusCode, body)
		}
		for k, v := range body {
			if _, ok := v.(string); !ok {
				t.Errorf("%s: field %s is %T, want a string", form.Get("grant_type"), k, v)
			}
		}
	}
	resp, err := http.PostForm(srv.URL()+"/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "username": {c.Username}, "password": {"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"error":"invalid_grant"`) {
		t.Errorf("bad password: %d %s", resp.StatusCode, b)
	}
}

func TestAPICallsNeedABearerToken(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	resp, err := http.Get(srv.URL() + "/services/data/v62.0/query/?q=" + url.QueryEscape(salesforcetest.GlobalAccountsQuery))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"errorCode":"INVALID_SESSION_ID"`) {
		t.Errorf("got %d %s", resp.StatusCode, b)
	}
}

func TestMalformedQuery(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	var recs []map[string]any
	for _, q := range []string{
		"SELECT Id FROM Account",
		strings.Replace(salesforcetest.GlobalAccountsQuery, "'Partner'", "'Partners'", 1),
		salesforcetest.FederalAccountsQuery + "\n  AND Account.Account_ID_18__c = 'x'",
	} {
		err := login(t, srv).Query(q, &recs)
		if err == nil || !strings.Contains(err.Error(), `"errorCode":"MALFORMED_QUERY"`) {
			t.Errorf("query %.40q: err = %v", q, err)
		}
	}
}

func TestWireFormat(t *testing.T) {
	srv := salesforcetest.NewServer(salesforcetest.WithAccounts(
		salesforcetest.Account{ID: "001000000000001AAA", Name: "Fed", Type: "Customer", Territory: "PUBSEC_DOD",
			SolutionsArchitect: "Sam", Restricted: "Restricted Party", CARR: 1234.5,
			CustomerSubscriptions: []salesforcetest.CustomerSubscription{
				{Status: "Active", Tier: "Ultimate", EndDate: "2026-01-01", Seats: 10.0},
				{Status: "Expired", Tier: "Premium"},
			},
			SoldTo: []salesforcetest.SoldTo{{Name: "B1", Email: "a@x.example"}, {Name: "B2", Email: "b@x.example", IsDeleted: true}},
		},
	), salesforcetest.WithContacts(
		salesforcetest.Contact{Name: "A", Email: "a@x.example", AccountID: "001000000000001AAA"},
		salesforcetest.Contact{Name: "B", AccountID: "001000000000001AAA", BlankAccountID: true},
	))
	defer srv.Close()
	sf := login(t, srv)

	var accts []map[string]any
	if err := sf.Query(salesforcetest.FederalAccountsQuery, &accts); err != nil {
		t.Fatal(err)
	}
	if len(accts) != 1 {
		t.Fatalf("got %d accounts", len(accts))
	}
	a := accts[0]
	if a["Restricted_Account__c"] != "Restricted Party" || a["CARR_This_Account__c"] != 1234.5 || a["Technical_Account_Manager_Name__c"] != nil {
		t.Errorf("fields: %v", a)
	}
	sa, _ := a["Solutions_Architect_Lookup__r"].(map[string]any)
	if sa["Name"] != "Sam" || sa["attributes"] == nil {
		t.Errorf("Solutions_Architect_Lookup__r = %v", a["Solutions_Architect_Lookup__r"])
	}
	cs, _ := a["Customer_Subscriptions__r"].(map[string]any)
	if cs["totalSize"] != 1.0 || cs["done"] != true || len(cs["records"].([]any)) != 1 {
		t.Errorf("Customer_Subscriptions__r = %v: want only the active one", cs)
	}
	if v, ok := a["Zuora__Subscriptions__r"]; !ok || v != nil {
		t.Errorf("empty subquery = %v, %v: want null", v, ok)
	}
	st, _ := a["Zuora__R00N40000001kyLcEAI__r"].(map[string]any)
	if st["totalSize"] != 1.0 {
		t.Errorf("sold-to = %v: want the deleted one left out", st)
	}
	if _, ok := a["Account_Demographics_Territory__c"]; ok {
		t.Error("a field the query does not select is returned")
	}

	var contacts []map[string]any
	if err := sf.Query(salesforcetest.FederalContactsQuery, &contacts); err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 2 {
		t.Fatalf("got %d contacts", len(contacts))
	}
	acc, _ := contacts[0]["Account"].(map[string]any)
	if acc["Account_ID_18__c"] != "001000000000001AAA" || acc["Name"] != "Fed" || contacts[0]["Inactive_Contact__c"] != false {
		t.Errorf("contact = %v", contacts[0])
	}
	if acc, _ := contacts[1]["Account"].(map[string]any); acc["Account_ID_18__c"] != nil || contacts[1]["Email"] != nil {
		t.Errorf("contact with blank account ID = %v", contacts[1])
	}
}

func TestPagingNeverSaysNotDoneWithoutNextRecordsURL(t *testing.T) {
	srv := salesforcetest.NewServer(salesforcetest.WithPageSize(7),
		salesforcetest.WithAccounts(salesforcetest.Generate(3, 50, salesforcetest.GenerateOptions{})...))
	defer srv.Close()
	sf := login(t, srv)
	next := "/query/?q=" + url.QueryEscape(salesforcetest.GlobalAccountsQuery)
	total := 0
	for pages := 0; ; pages++ {
		resp, err := sf.DoRequest(http.MethodGet, next, nil)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			TotalSize      int
			Done           bool
			NextRecordsURL string `json:"nextRecordsUrl"`
			Records        []json.RawMessage
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		total += len(page.Records)
		if page.Done {
			if page.NextRecordsURL != "" || total != page.TotalSize {
				t.Errorf("last page: %+v, %d records read", page.NextRecordsURL, total)
			}
			break
		}
		if !strings.HasPrefix(page.NextRecordsURL, "/services/data/v62.0/query/01g") || len(page.Records) != 7 {
			t.Fatalf("page %d: next %q, %d records", pages, page.NextRecordsURL, len(page.Records))
		}
		next = strings.TrimPrefix(page.NextRecordsURL, "/services/data/v62.0")
	}
}

func TestSubqueryPagesAndTheirInvalidation(t *testing.T) {
	a := func(id string) salesforcetest.Account {
		return salesforcetest.Account{ID: id, Name: id, Type: "Customer", SoldTo: []salesforcetest.SoldTo{
			{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}}
	}
	srv := salesforcetest.NewServer(salesforcetest.WithPageSize(1), salesforcetest.WithSubqueryPageSize(2),
		salesforcetest.WithAccounts(a("001000000000001AAA"), a("001000000000002AAA")))
	defer srv.Close()
	sf := login(t, srv)
	type page struct {
		TotalSize      int
		Done           bool
		NextRecordsURL string `json:"nextRecordsUrl"`
		Records        []map[string]json.RawMessage
	}
	get := func(uri string) (page, error) {
		var p page
		resp, err := sf.DoRequest(http.MethodGet, strings.TrimPrefix(uri, "/services/data/v62.0"), nil)
		if err != nil {
			return p, err
		}
		defer resp.Body.Close()
		return p, json.NewDecoder(resp.Body).Decode(&p)
	}
	first, err := get("/query/?q=" + url.QueryEscape(salesforcetest.GlobalAccountsQuery))
	if err != nil || len(first.Records) != 1 {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	var soldTo page
	if err := json.Unmarshal(first.Records[0]["Zuora__R00N40000001kyLcEAI__r"], &soldTo); err != nil {
		t.Fatal(err)
	}
	if soldTo.Done || soldTo.TotalSize != 5 || len(soldTo.Records) != 2 || !strings.HasPrefix(soldTo.NextRecordsURL, "/services/data/v62.0/query/01g") {
		t.Fatalf("first page of the subquery: %+v", soldTo)
	}
	more, err := get(soldTo.NextRecordsURL)
	if err != nil || more.Done || more.TotalSize != 5 || len(more.Records) != 2 || more.NextRecordsURL == "" {
		t.Fatalf("second page of the subquery: %+v, %v", more, err)
	}
	// The parent's next page invalidates the child locators of the page
	// before it.
	second, err := get(first.NextRecordsURL)
	if err != nil || len(second.Records) != 1 {
		t.Fatalf("second page: %+v, %v", second, err)
	}
	if _, err := get(more.NextRecordsURL); err == nil || !strings.Contains(err.Error(), "INVALID_QUERY_LOCATOR") {
		t.Errorf("child page after the parent's next page: %v, want INVALID_QUERY_LOCATOR", err)
	}
}

func TestGenerateIsDeterministicAndUnique(t *testing.T) {
	a := salesforcetest.Generate(42, 2000, salesforcetest.GenerateOptions{})
	b := salesforcetest.Generate(42, 2000, salesforcetest.GenerateOptions{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different data")
	}
	c := salesforcetest.Generate(43, 2000, salesforcetest.GenerateOptions{})
	if c[1].ID == a[1].ID {
		t.Error("different seeds give the same IDs")
	}
	fed, _ := salesforcetest.GenerateFederal(42, 2000, salesforcetest.GenerateOptions{})
	seenID, seenName := map[string]bool{}, map[string]bool{}
	for _, x := range append(a, fed...) {
		if len(x.ID) != 18 || seenID[x.ID] || seenName[x.Name] {
			t.Fatalf("ID %q or name %q is not 18 characters and unique", x.ID, x.Name)
		}
		seenID[x.ID], seenName[x.Name] = true, true
	}
	if a[0].ID != salesforcetest.SpecialAccountID {
		t.Error("the special account is not generated")
	}
}

func TestGenerateCoversEveryKindOfAccount(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	accts := salesforcetest.Generate(7, 5000, salesforcetest.GenerateOptions{Now: now})
	count := map[string]int{}
	for i := range accts {
		a := &accts[i]
		g, f := salesforcetest.MatchesGlobalQuery(a), salesforcetest.MatchesFederalQuery(a)
		switch {
		case !g:
			count["outside every query"]++
		case a.Type == "Partner":
			count["qualifying partner"]++
		}
		if a.Type == "Partner" && !g {
			count["partner missing a criterion"]++
		}
		if f {
			count["federal"]++
		}
		if a.Territory == "PUBSEC_" || strings.Contains(a.Territory, "SLED") {
			count["excluded federal territory"]++
		}
		if a.SupportInstance == "federal-support" {
			count["federal support instance"]++
		}
		latest := ""
		for _, s := range a.CustomerSubscriptions {
			latest = max(latest, s.EndDate.(string))
			if s.Status == "Active" {
				count["active customer subscription"]++
			} else {
				count["inactive customer subscription"]++
			}
		}
		for _, s := range a.ZuoraSubscriptions {
			latest = max(latest, s.EndDate.(string))
		}
		if r, _ := a.NextRenewalDate.(string); latest == "" {
			latest = r
		}
		if latest != "" && latest < now.AddDate(-3, 0, 0).Format(time.DateOnly) {
			count["greatly expired"]++
		}
		if len(a.SoldTo) > 0 {
			count["sold-to"]++
		}
	}
	for _, k := range []string{"outside every query", "qualifying partner", "partner missing a criterion", "federal",
		"excluded federal territory", "federal support instance", "active customer subscription",
		"inactive customer subscription", "greatly expired", "sold-to"} {
		if count[k] == 0 {
			t.Errorf("no %s account generated", k)
		}
	}
}

func TestGenerateFederalContactsCoverEveryDirtyCase(t *testing.T) {
	accts, contacts := salesforcetest.GenerateFederal(9, 2, salesforcetest.GenerateOptions{})
	byID := map[string]*salesforcetest.Account{}
	for i := range accts {
		byID[accts[i].ID] = &accts[i]
	}
	has := map[string]bool{}
	emails := map[string]map[string]bool{} // normalized e-mail -> accounts
	for i := range contacts {
		c := &contacts[i]
		switch {
		case c.AccountID == "":
			has["no account"] = true
		case c.BlankAccountID:
			has["blank account ID"] = true
		case c.Inactive:
			has["inactive"] = true
		case c.Email == "":
			has["missing e-mail"] = true
		case c.Name == "":
			has["missing name"] = true
		case c.Email != strings.ToLower(strings.TrimSpace(c.Email)) && strings.HasPrefix(c.Email, " "):
			has["mixed case with spaces"] = true
		}
		if c.Email != "" && c.AccountID != "" {
			e := strings.ToLower(strings.TrimSpace(c.Email))
			if emails[e] == nil {
				emails[e] = map[string]bool{}
			} else if emails[e][c.AccountID] {
				has["duplicate within an account"] = true
			}
			emails[e][c.AccountID] = true
		}
		if c.AccountID != "" && !salesforcetest.MatchesFederalContactsQuery(c, byID[c.AccountID]) && !c.Inactive {
			t.Errorf("contact %+v of a generated federal account is not selected", c)
		}
	}
	for _, accs := range emails {
		if len(accs) > 1 {
			has["same e-mail on two accounts"] = true
		}
	}
	for _, k := range []string{"no account", "blank account ID", "inactive", "missing e-mail", "missing name",
		"mixed case with spaces", "duplicate within an account", "same e-mail on two accounts"} {
		if !has[k] {
			t.Errorf("no contact with %s", k)
		}
	}
}

func TestGeneratedNamesStayUniqueBeyondTheWordCombinations(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range salesforcetest.Generate(5, 30_000, salesforcetest.GenerateOptions{}) {
		if seen[a.Name] {
			t.Fatalf("name %q generated twice", a.Name)
		}
		seen[a.Name] = true
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	for b.Loop() {
		salesforcetest.Generate(1, 100_000, salesforcetest.GenerateOptions{})
	}
}

func BenchmarkGlobalQuery10k(b *testing.B) {
	srv := salesforcetest.NewServer(salesforcetest.WithAccounts(salesforcetest.Generate(1, 10_000, salesforcetest.GenerateOptions{})...))
	defer srv.Close()
	c := srv.Credentials()
	sf, err := gosf.Init(gosf.Creds{Domain: srv.URL(), ConsumerKey: c.ClientID, ConsumerSecret: c.ClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var recs []map[string]any
		if err := sf.Query(salesforcetest.GlobalAccountsQuery, &recs); err != nil {
			b.Fatal(err)
		}
	}
}

// apiGet logs in with the client-credentials flow and GETs path (after
// /services/data/v62.0) with the access token.
func apiGet(t *testing.T, srv *salesforcetest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	c := srv.Credentials()
	resp, err := http.PostForm(srv.URL()+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/services/data/v62.0"+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func TestDailyAPIAllowance(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	srv.SetAPIAllowance(15000, 2)
	resp, body := apiGet(t, srv, "/limits/")
	var limits map[string]struct{ Max, Remaining int }
	if err := json.Unmarshal(body, &limits); err != nil || resp.StatusCode != 200 {
		t.Fatalf("limits: %d %s", resp.StatusCode, body)
	}
	if d := limits["DailyApiRequests"]; d.Max != 15000 || d.Remaining != 1 {
		t.Errorf("DailyApiRequests = %+v, want 15000 and 1 (the read used one)", d)
	}
	if got := resp.Header.Get("Sforce-Limit-Info"); got != "api-usage=14999/15000" {
		t.Errorf("Sforce-Limit-Info = %q", got)
	}
	apiGet(t, srv, "/limits/") // the last request of the day
	resp, body = apiGet(t, srv, "/query/?q="+url.QueryEscape(salesforcetest.GlobalAccountsQuery))
	if resp.StatusCode != 403 || string(body) != `[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]` {
		t.Errorf("with the allowance used up: %d %s", resp.StatusCode, body)
	}
	if _, remaining := srv.APIAllowance(); remaining != 0 {
		t.Errorf("%d remaining", remaining)
	}
	if c := srv.Calls(); c.Limits != 2 || c.Query != 0 || c.Limited != 1 {
		t.Errorf("calls = %+v", c)
	}
}

func TestRateLimitNext(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	srv.RateLimitNext(1, 20*time.Second)
	resp, body := apiGet(t, srv, "/limits/")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "20" || !strings.HasPrefix(string(body), "<html>") {
		t.Errorf("first request: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := apiGet(t, srv, "/limits/"); resp.StatusCode != 200 {
		t.Errorf("second request: %d", resp.StatusCode)
	}
}

func TestFailLogins(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	srv.FailLogins(1, http.StatusServiceUnavailable)
	c := srv.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}
	for _, want := range []int{503, 200} {
		resp, err := http.PostForm(srv.URL()+"/services/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token request: %d, want %d", resp.StatusCode, want)
		}
	}
}

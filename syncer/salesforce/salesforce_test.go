package salesforce_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
)

func configFor(srv *salesforcetest.Server, passwordFlow bool) salesforce.Config {
	c := srv.Credentials()
	cfg := salesforce.Config{URL: srv.URL(), ClientID: c.ClientID, ClientSecret: c.ClientSecret}
	if passwordFlow {
		cfg.Username, cfg.Password, cfg.SecurityToken = c.Username, c.Password, c.SecurityToken
	}
	return cfg
}

func newClient(t *testing.T, srv *salesforcetest.Server) *salesforce.Client {
	t.Helper()
	c, err := salesforce.New(context.Background(), configFor(srv, true))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func wantCode(t *testing.T, err error, want syncer.Code) {
	t.Helper()
	if got := syncer.ErrorCode(err); got != want {
		t.Fatalf("error code = %v, want %v (error: %v)", got, want, err)
	}
	var e *syncer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *syncer.Error", err)
	}
}

func TestLogin(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	creds := srv.Credentials()

	tests := []struct {
		name    string
		cfg     salesforce.Config
		want    syncer.Code
		secrets []string
	}{
		{"password flow logs in", configFor(srv, true), syncer.CodeNone, nil},
		{"client-credentials flow logs in", configFor(srv, false), syncer.CodeNone, nil},
		{"wrong password is refused", func() salesforce.Config {
			c := configFor(srv, true)
			c.Password = "s3cret-wrong-password"
			return c
		}(), syncer.CodeAuthFailed, []string{"s3cret-wrong-password", creds.ClientSecret, creds.SecurityToken}},
		{"wrong client secret is refused", func() salesforce.Config {
			c := configFor(srv, false)
			c.ClientSecret = "wrong-client-secret"
			return c
		}(), syncer.CodeAuthFailed, []string{"wrong-client-secret"}},
		{"password without security token is a configuration error", func() salesforce.Config {
			c := configFor(srv, true)
			c.SecurityToken = ""
			return c
		}(), syncer.CodeAuthFailed, []string{creds.Password}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := salesforce.New(context.Background(), tt.cfg)
			if tt.want == syncer.CodeNone {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				if _, err := c.Accounts(context.Background(), syncer.Global, ""); err != nil {
					t.Fatalf("query after login: %v", err)
				}
				return
			}
			wantCode(t, err, tt.want)
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestLoginToUnreachableHostIsConnectionFailed(t *testing.T) {
	srv := salesforcetest.NewServer()
	cfg := configFor(srv, true)
	srv.Close()
	_, err := salesforce.New(context.Background(), cfg)
	wantCode(t, err, syncer.CodeConnectionFailed)
}

// fixture returns accounts and contacts covering each branch of the
// documented WHERE clauses, named after what they test.
func fixture() (map[string]salesforcetest.Account, []salesforcetest.Contact) {
	id := func(n int) string { return fmt.Sprintf("0010000000000%02dAAA", n) }
	accts := map[string]salesforcetest.Account{
		"customer":                  {ID: id(1), Name: "Customer", Type: "Customer", Territory: "AMER_ENT_WEST"},
		"former customer":           {ID: id(2), Name: "Former", Type: "Former Customer", Territory: "EMEA_COMM_UKI"},
		"special account":           {ID: salesforcetest.SpecialAccountID, Name: "Special", Type: "Vendor"},
		"qualifying partner":        {ID: id(3), Name: "Partner OK", Type: "Partner", PartnerStatus: "Authorized", PartnerType: "Channel", PartnerTrack: "Select"},
		"partner with bad status":   {ID: id(4), Name: "Partner status", Type: "Partner", PartnerStatus: "Pending", PartnerType: "Channel", PartnerTrack: "Select"},
		"partner with bad type":     {ID: id(5), Name: "Partner type", Type: "Partner", PartnerStatus: "Former", PartnerType: "Referral", PartnerTrack: "Open"},
		"partner with bad track":    {ID: id(6), Name: "Partner track", Type: "Partner", PartnerStatus: "Former", PartnerType: "Alliance", PartnerTrack: "Legacy"},
		"prospect":                  {ID: id(7), Name: "Prospect", Type: "Prospect"},
		"federal by territory":      {ID: id(8), Name: "Fed DOD", Type: "Customer", Territory: "PUBSEC_DOD", SolutionsArchitect: "Sam Architect"},
		"territory exactly PUBSEC_": {ID: id(9), Name: "Fed underscore", Type: "Customer", Territory: "PUBSEC_"},
		"SLED territory":            {ID: id(10), Name: "Fed SLED", Type: "Former Customer", Territory: "PUBSEC_SLED_EAST"},
		"federal support instance":  {ID: id(11), Name: "Fed instance", Type: "Customer", Territory: "AMER_ENT_EAST", SupportInstance: "federal-support"},
		"federal prospect":          {ID: id(12), Name: "Fed prospect", Type: "Prospect", Territory: "PUBSEC_DOD"},
		"lower-case territory":      {ID: id(13), Name: "Fed lower", Type: "Customer", Territory: "pubsec_fed_civ"},
	}
	contacts := []salesforcetest.Contact{
		{Name: "Active Fed", Email: "active@fed.example", AccountID: id(8)},
		{Name: "Inactive Fed", Email: "inactive@fed.example", AccountID: id(8), Inactive: true},
		{Name: "Instance Fed", Email: "instance@fed.example", AccountID: id(11)},
		{Name: "SLED", Email: "sled@fed.example", AccountID: id(10)},
		{Name: "Commercial", Email: "commercial@example.com", AccountID: id(1)},
		{Name: "Orphan", Email: "orphan@example.com"},
	}
	return accts, contacts
}

func loadFixture(opts ...salesforcetest.Option) (*salesforcetest.Server, map[string]salesforcetest.Account) {
	accts, contacts := fixture()
	srv := salesforcetest.NewServer(opts...)
	for _, a := range accts {
		srv.AddAccounts(a)
	}
	srv.AddContacts(contacts...)
	return srv, accts
}

func ids(as []syncer.Account) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

func idsOf(accts map[string]salesforcetest.Account, names ...string) []string {
	var out []string
	for _, n := range names {
		a, ok := accts[n]
		if !ok {
			panic("no fixture account " + n)
		}
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

func TestAccountQueriesSelectExactlyTheDocumentedRecords(t *testing.T) {
	for _, pageSize := range []int{salesforcetest.MaxQueryBatchSize, 2} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) {
			srv, accts := loadFixture(salesforcetest.WithPageSize(pageSize))
			defer srv.Close()
			c := newClient(t, srv)
			ctx := context.Background()

			tests := []struct {
				name  string
				scope syncer.Scope
				want  []string
			}{
				{"global query selects customers, former customers, the special ID and qualifying partners", syncer.Global,
					idsOf(accts, "customer", "former customer", "special account", "qualifying partner",
						"federal by territory", "territory exactly PUBSEC_", "SLED territory", "federal support instance", "lower-case territory")},
				{"federal query selects PUBSEC territories except PUBSEC_ and SLED, and the federal support instance", syncer.Federal,
					idsOf(accts, "federal by territory", "federal support instance", "lower-case territory")},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					srv.ResetCalls()
					got, err := c.Accounts(ctx, tt.scope, "")
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ids(got), tt.want) {
						t.Errorf("got %v\nwant %v", ids(got), tt.want)
					}
					calls := srv.Calls()
					wantMore := (len(tt.want)+pageSize-1)/pageSize - 1
					if calls.Query != 1 || calls.QueryMore != wantMore {
						t.Errorf("calls = %+v, want 1 query and %d more pages", calls, wantMore)
					}
				})
			}
		})
	}
}

func TestFederalContactsQuery(t *testing.T) {
	srv, accts := loadFixture(salesforcetest.WithPageSize(1))
	defer srv.Close()
	c := newClient(t, srv)
	got, err := c.FederalContacts(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, ct := range got {
		emails = append(emails, ct.Email)
	}
	slices.Sort(emails)
	want := []string{"active@fed.example", "instance@fed.example"}
	if !slices.Equal(emails, want) {
		t.Errorf("contacts = %v, want %v", emails, want)
	}

	one, err := c.FederalContacts(context.Background(), accts["federal support instance"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 || one[0].Email != "instance@fed.example" {
		t.Errorf("single-account contacts = %+v", one)
	}
}

func TestSingleAccountMode(t *testing.T) {
	srv, accts := loadFixture()
	defer srv.Close()
	c := newClient(t, srv)
	ctx := context.Background()
	fed := accts["federal by territory"].ID

	tests := []struct {
		name  string
		scope syncer.Scope
		id    string
		want  []string
	}{
		{"a federal account is found by the global query", syncer.Global, fed, []string{fed}},
		{"a federal account is found by the federal query", syncer.Federal, fed, []string{fed}},
		{"the 15-character form of an ID finds the same account", syncer.Federal, fed[:15], []string{fed}},
		{"a commercial customer is not found by the federal query", syncer.Federal, accts["customer"].ID, nil},
		{"a prospect is not found by the global query", syncer.Global, accts["prospect"].ID, nil},
		{"the special ID is found by the global query", syncer.Global, salesforcetest.SpecialAccountID, []string{salesforcetest.SpecialAccountID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Accounts(ctx, tt.scope, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestInvalidAccountIDIsRefusedBeforeAnyCall(t *testing.T) {
	srv, _ := loadFixture()
	defer srv.Close()
	c := newClient(t, srv)
	for _, id := range []string{"001' OR Name != '", "0010000000000", "0010000000000 1AAA", "00100000000000ÄAAA"} {
		_, err := c.Accounts(context.Background(), syncer.Global, id)
		wantCode(t, err, syncer.CodeInvalidInput)
		_, err = c.FederalContacts(context.Background(), id)
		wantCode(t, err, syncer.CodeInvalidInput)
	}
	if q := srv.Calls().Query; q != 0 {
		t.Errorf("%d queries made with invalid IDs", q)
	}
}

func TestSingleAccountQueryText(t *testing.T) {
	q, err := salesforce.AccountsQuery(syncer.Federal, "001000000000001AAA")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(q, strings.Split(salesforce.FederalAccountsSOQL, "\nWHERE\n")[0]+"\nWHERE\n  (\n") ||
		!strings.HasSuffix(q, "\n  )\n  AND Account.Account_ID_18__c = '001000000000001AAA'") {
		t.Errorf("unexpected single-account query:\n%s", q)
	}
	full, _ := salesforce.AccountsQuery(syncer.Global, "")
	if full != salesforce.GlobalAccountsSOQL {
		t.Error("the full global query is not the documented one")
	}
}

func TestCases(t *testing.T) {
	srv, accts := loadFixture()
	defer srv.Close()
	c := newClient(t, srv)
	ctx := context.Background()

	if _, found, err := c.FindCase(ctx, 42); err != nil || found {
		t.Fatalf("FindCase before create = %v, %v", found, err)
	}
	in := syncer.Case{Subject: "Pipeline broken", Description: "It fails", Priority: "High", Origin: "Zendesk",
		AccountID: accts["customer"].ID, Email: "jo@example.com", Name: "Jo", TicketID: 42, TicketURL: "https://z.example/agent/tickets/42"}
	id, err := c.CreateCase(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	cases := srv.Cases()
	if len(cases) != 1 || cases[0].ID != id {
		t.Fatalf("cases = %+v, id %q", cases, id)
	}
	got := cases[0]
	if got.Subject != in.Subject || got.ZendeskTicketID != "42" || got.ZendeskTicketURL != in.TicketURL ||
		got.AccountID != in.AccountID || got.SuppliedEmail != in.Email || got.Status != "New" {
		t.Errorf("stored case = %+v", got)
	}

	found, ok, err := c.FindCase(ctx, 42)
	if err != nil || !ok {
		t.Fatalf("FindCase = %v, %v", ok, err)
	}
	if found.ID != id || found.TicketID != 42 || found.Subject != in.Subject || found.Status != "New" {
		t.Errorf("found case = %+v", found)
	}

	if err := c.CloseCase(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := srv.Cases()[0]; got.Status != salesforce.CaseStatusClosed || got.Subject != in.Subject || got.Priority != "High" {
		t.Errorf("closed case = %+v: want Status Closed and the other fields untouched", got)
	}

	statuses, err := c.CaseStatuses(ctx, []string{id, id[:15], "500000000000000AAA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 2 || statuses[id] != "Closed" || statuses[id[:15]] != "Closed" {
		t.Errorf("statuses = %v", statuses)
	}
}

func TestCaseWithoutSubjectIsRefused(t *testing.T) {
	srv, _ := loadFixture()
	defer srv.Close()
	_, err := newClient(t, srv).CreateCase(context.Background(), syncer.Case{TicketID: 7})
	wantCode(t, err, syncer.CodeAPIError)
	if !strings.Contains(err.Error(), "REQUIRED_FIELD_MISSING") {
		t.Errorf("message %q does not name the Salesforce error code", err)
	}
}

func TestCaseStatusesChunksTheIDs(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	var all []string
	for i := range salesforce.MaxIDsPerQuery + 50 {
		all = append(all, srv.AddCase(salesforcetest.Case{Subject: fmt.Sprint(i), Status: "Working"}).ID)
	}
	c := newClient(t, srv)
	st, err := c.CaseStatuses(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(all) {
		t.Errorf("got %d statuses, want %d", len(st), len(all))
	}
	if q := srv.Calls().Query; q != 2 {
		t.Errorf("%d queries, want 2", q)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		do      func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error
		want    syncer.Code
		message string
	}{
		{"a lock conflict on create is UnableToLockRow", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.FailCaseWrites(1, salesforcetest.ErrUnableToLockRow)
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1})
			return err
		}, syncer.CodeUnableToLockRow, "UNABLE_TO_LOCK_ROW"},
		{"a lock conflict on close is UnableToLockRow", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			id := srv.AddCase(salesforcetest.Case{Subject: "s"}).ID
			srv.FailCaseWrites(1, salesforcetest.ErrUnableToLockRow)
			return c.CloseCase(ctx, id)
		}, syncer.CodeUnableToLockRow, "UNABLE_TO_LOCK_ROW"},
		{"a case for a missing account is InsufficientAccess", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1, AccountID: "001999999999999AAA"})
			return err
		}, syncer.CodeInsufficientAccess, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"},
		{"an injected insufficient-access failure is InsufficientAccess", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.FailCaseWrites(1, salesforcetest.ErrInsufficientAccess)
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1})
			return err
		}, syncer.CodeInsufficientAccess, "insufficient access rights"},
		{"a lock met by a trigger on create is UnableToLockRow", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.FailCaseWrites(1, salesforcetest.ErrTriggerUnableToLockRow)
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1})
			return err
		}, syncer.CodeUnableToLockRow, "UNABLE_TO_LOCK_ROW (wrapped in CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY)"},
		{"a lock met by a flow on close is UnableToLockRow", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			id := srv.AddCase(salesforcetest.Case{Subject: "s"}).ID
			srv.FailCaseWrites(1, salesforcetest.ErrFlowUnableToLockRow)
			return c.CloseCase(ctx, id)
		}, syncer.CodeUnableToLockRow, "UNABLE_TO_LOCK_ROW (wrapped in CANNOT_EXECUTE_FLOW_TRIGGER)"},
		{"a parent reference refused to a trigger is InsufficientAccess", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.FailCaseWrites(1, salesforcetest.ErrTriggerInsufficientAccess)
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1})
			return err
		}, syncer.CodeInsufficientAccess, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY (wrapped in CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY)"},
		{"a used-up daily API allowance is RateLimited", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.SetAPIAllowance(15000, 0)
			_, err := c.Accounts(ctx, syncer.Global, "")
			return err
		}, syncer.CodeRateLimited, "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."},
		{"a used-up daily API allowance on create is RateLimited", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.SetAPIAllowance(15000, 0)
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1})
			return err
		}, syncer.CodeRateLimited, "REQUEST_LIMIT_EXCEEDED"},
		{"a 429 is RateLimited", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.RateLimitNext(1, 30*time.Second)
			_, err := c.Accounts(ctx, syncer.Federal, "")
			return err
		}, syncer.CodeRateLimited, "429 Too Many Requests (retry after 30s)"},
		{"a 429 on close is RateLimited", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			id := srv.AddCase(salesforcetest.Case{Subject: "s"}).ID
			srv.RateLimitNext(1, 0)
			return c.CloseCase(ctx, id)
		}, syncer.CodeRateLimited, "429 Too Many Requests"},
		{"a 429 reading the allowance is RateLimited", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.RateLimitNext(1, 0)
			_, err := c.APIAllowance(ctx)
			return err
		}, syncer.CodeRateLimited, "429 Too Many Requests"},
		{"closing a case that does not exist is an API error", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			return c.CloseCase(ctx, "500999999999999AAA")
		}, syncer.CodeAPIError, "NOT_FOUND"},
		{"a maintenance page is ConnectionFailed", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.FailNext(1, http.StatusServiceUnavailable)
			_, err := c.Accounts(ctx, syncer.Global, "")
			return err
		}, syncer.CodeConnectionFailed, "503 Service Unavailable with a page"},
		{"a 500 page on create is ConnectionFailed", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.FailNext(1, http.StatusInternalServerError)
			_, err := c.CreateCase(ctx, syncer.Case{Subject: "s", TicketID: 1})
			return err
		}, syncer.CodeConnectionFailed, "500 Internal Server Error"},
		{"a dropped connection is ConnectionFailed", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.RefuseConnections(1)
			_, err := c.Accounts(ctx, syncer.Global, "")
			return err
		}, syncer.CodeConnectionFailed, "connection to Salesforce failed"},
		{"a refused connection is ConnectionFailed", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.Close()
			_, err := c.Accounts(ctx, syncer.Global, "")
			return err
		}, syncer.CodeConnectionFailed, "connection to Salesforce failed"},
		{"a slow answer is OpenTimeout", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			salesforce.SetHTTPTimeout(20 * time.Millisecond)
			defer salesforce.SetHTTPTimeout(0)
			srv.SetResponseDelay(time.Minute) // ends when the client gives up
			_, err := c.Accounts(ctx, syncer.Federal, "")
			srv.SetResponseDelay(0)
			return err
		}, syncer.CodeOpenTimeout, "did not answer in time"},
		{"a session that expires and cannot be renewed is AuthFailed", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			srv.ExpireSessions()
			srv.RejectLogins(1)
			_, err := c.Accounts(ctx, syncer.Global, "")
			return err
		}, syncer.CodeAuthFailed, "Salesforce refused the login (400 Bad Request: invalid_grant, authentication failure)"},
		{"a canceled context makes no call", func(t *testing.T, srv *salesforcetest.Server, c *salesforce.Client) error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			before := srv.Calls().API()
			_, err := c.Accounts(cctx, syncer.Global, "")
			if srv.Calls().API() != before {
				t.Error("a call was made with a canceled context")
			}
			return err
		}, syncer.CodeInternal, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := loadFixture()
			defer srv.Close()
			c := newClient(t, srv)
			err := tt.do(t, srv, c)
			wantCode(t, err, tt.want)
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("message %q does not contain %q", err, tt.message)
			}
			for _, s := range []string{srv.Credentials().Password, srv.Credentials().ClientSecret, srv.Credentials().SecurityToken, "00DFAKE"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message %q contains a secret", err)
				}
			}
		})
	}
}

func TestExpiredSessionIsRenewedOnce(t *testing.T) {
	srv, _ := loadFixture()
	defer srv.Close()
	c := newClient(t, srv)
	srv.ExpireSessions()
	got, err := c.Accounts(context.Background(), syncer.Federal, "")
	if err != nil {
		t.Fatalf("query after session expiry: %v", err)
	}
	if len(got) != 3 {
		t.Errorf("got %d accounts, want 3", len(got))
	}
	if calls := srv.Calls(); calls.Token != 2 || calls.Unauthorized != 1 {
		t.Errorf("calls = %+v, want 2 logins and 1 refused call", calls)
	}
}

func TestConcurrentQueriesAcrossASessionExpiry(t *testing.T) {
	// The session times out while 16 paged queries are running: each
	// request that meets the expired session waits for one new login and
	// is sent again, and every query returns all its pages.
	srv, _ := loadFixture(salesforcetest.WithPageSize(2))
	defer srv.Close()
	c := newClient(t, srv)
	srv.ExpireSessionsAfter(20)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			got, err := c.Accounts(context.Background(), syncer.Global, "")
			if err == nil && len(got) != 9 {
				err = fmt.Errorf("got %d accounts, want 9", len(got))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if calls := srv.Calls(); calls.Token != 2 || calls.Unauthorized == 0 {
		t.Errorf("calls = %+v, want one re-login after the expiry", calls)
	}
}

func TestTruncatedResultIsReturnedAsComplete(t *testing.T) {
	srv := salesforcetest.NewServer(salesforcetest.WithAccounts(salesforcetest.Generate(1, 100, salesforcetest.GenerateOptions{})...))
	defer srv.Close()
	c := newClient(t, srv)
	full, err := c.Accounts(context.Background(), syncer.Global, "")
	if err != nil {
		t.Fatal(err)
	}
	srv.TruncateNextQuery(0.5)
	half, err := c.Accounts(context.Background(), syncer.Global, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(half) != len(full)/2 {
		t.Errorf("truncated result has %d accounts, full %d", len(half), len(full))
	}
}

func TestPagedSubqueryResultsAreReadWhole(t *testing.T) {
	// Salesforce may page a subquery's result when a record has many
	// children: done:false and a nextRecordsUrl inside the record. Every
	// subscription and sold-to contact must still be read, before the
	// parent's next page invalidates the child locators.
	account := func(n, children int) salesforcetest.Account {
		a := salesforcetest.Account{ID: fmt.Sprintf("0010000000000%02dAAA", n), Name: fmt.Sprint("Account ", n),
			Type: "Customer", Territory: "PUBSEC_DOD"}
		for i := range children {
			end := fmt.Sprintf("2030-01-%02d", i+1)
			a.CustomerSubscriptions = append(a.CustomerSubscriptions, salesforcetest.CustomerSubscription{Status: "Active", EndDate: end, Tier: "Premium"})
			a.ZuoraSubscriptions = append(a.ZuoraSubscriptions, salesforcetest.ZuoraSubscription{Name: fmt.Sprint("A-S", i), Status: "Active", EndDate: end, SupportLevel: "Standard"})
			a.SoldTo = append(a.SoldTo, salesforcetest.SoldTo{Name: fmt.Sprint("Sold to ", i), Email: fmt.Sprintf("sold%d@example.com", i)})
		}
		return a
	}
	want := map[string]int{} // account ID -> children in each subquery
	var accts []salesforcetest.Account
	for n, children := range []int{7, 0, 2, 3, 5} {
		a := account(n+1, children)
		accts = append(accts, a)
		want[a.ID] = children
	}
	srv := salesforcetest.NewServer(salesforcetest.WithAccounts(accts...),
		salesforcetest.WithPageSize(2), salesforcetest.WithSubqueryPageSize(2))
	defer srv.Close()
	c := newClient(t, srv)
	for _, scope := range []syncer.Scope{syncer.Global, syncer.Federal} {
		t.Run(string(scope), func(t *testing.T) {
			got, err := c.Accounts(context.Background(), scope, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d accounts, want %d", len(got), len(want))
			}
			for _, a := range got {
				n := want[a.ID]
				if len(a.Subscriptions) != 2*n || len(a.SoldTo) != n || len(a.Problems) != 0 {
					t.Errorf("account %s: %d subscriptions, %d sold-to, problems %v; want %d, %d, none",
						a.ID, len(a.Subscriptions), len(a.SoldTo), a.Problems, 2*n, n)
				} else if n > 0 && (a.SoldTo[n-1].Email != fmt.Sprintf("sold%d@example.com", n-1) ||
					a.Subscriptions[n-1].EndDate != fmt.Sprintf("2030-01-%02d", n)) {
					t.Errorf("account %s: children out of order: %+v %+v", a.ID, a.Subscriptions, a.SoldTo)
				}
			}
		})
	}
}

func TestAPIAllowance(t *testing.T) {
	srv, _ := loadFixture()
	defer srv.Close()
	c := newClient(t, srv)
	ctx := context.Background()
	srv.SetAPIAllowance(15000, 14998)
	got, err := c.APIAllowance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (syncer.APIAllowance{Max: 15000, Remaining: 14997}); got != want { // the read is a request too
		t.Errorf("allowance = %+v, want %+v", got, want)
	}
	if _, err := c.Accounts(ctx, syncer.Federal, ""); err != nil {
		t.Fatal(err)
	}
	if got, err = c.APIAllowance(ctx); err != nil || got.Remaining != 14995 {
		t.Errorf("after a query: allowance = %+v, %v; want 14995 remaining", got, err)
	}
	if max, remaining := srv.APIAllowance(); max != 15000 || remaining != got.Remaining {
		t.Errorf("the fake holds %d of %d", remaining, max)
	}
}

func TestCreateCaseAfterTheAllowanceIsRestored(t *testing.T) {
	srv, _ := loadFixture()
	defer srv.Close()
	c := newClient(t, srv)
	srv.SetAPIAllowance(15000, 0)
	_, err := c.CreateCase(context.Background(), syncer.Case{Subject: "s", TicketID: 9})
	wantCode(t, err, syncer.CodeRateLimited)
	if len(srv.Cases()) != 0 {
		t.Fatal("a refused create made a case")
	}
	srv.SetAPIAllowance(15000, 15000)
	if _, err := c.CreateCase(context.Background(), syncer.Case{Subject: "s", TicketID: 9}); err != nil {
		t.Fatal(err)
	}
}

package zendesk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// fakeClock is a clock that moves only when the client sleeps: job delays
// and rate-limit windows of a sandbox on it pass without real waiting.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock d ahead, unless ctx is done.
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func newClient(t *testing.T, url string, mod ...func(*zendesk.Config)) *zendesk.Client {
	t.Helper()
	cfg := zendesk.Config{
		URL: url, Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
		Timeout: 5 * time.Second, RequestsPerMinute: 1_000_000, CaseIDField: zendesktest.DefaultCaseIDField,
		Sleep: noSleep,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := zendesk.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setup(t *testing.T, opts ...zendesktest.Option) (*zendesktest.Server, *zendesk.Client) {
	t.Helper()
	srv := zendesktest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, newClient(t, srv.URL())
}

func extID(i int) string { return fmt.Sprintf("001A%014d", i) }

func orgWrites(n int) []syncer.OrgWrite {
	out := make([]syncer.OrgWrite, n)
	for i := range out {
		out[i] = syncer.OrgWrite{ExternalID: extID(i), Name: fmt.Sprintf("Org %d", i), Tags: []string{"sub_x"},
			Fields: map[string]any{"salesforce_id": extID(i)}}
	}
	return out
}

func mustOK(t *testing.T, res []syncer.WriteResult) {
	t.Helper()
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("result %d: %v", i, r.Err)
		}
	}
}

func TestListReadsEveryPage(t *testing.T) {
	srv, c := setup(t)
	for i := range 250 {
		srv.AddOrg(syncer.Org{Name: fmt.Sprintf("Org %d", i), ExternalID: extID(i)})
	}
	for i := range 150 {
		srv.AddUser(syncer.User{Name: "U", Email: fmt.Sprintf("u%d@example.com", i)})
	}
	orgs, err := c.ListOrgs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 250 || orgs[249].ExternalID != extID(249) {
		t.Fatalf("got %d orgs", len(orgs))
	}
	users, err := c.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 150 {
		t.Fatalf("got %d users", len(users))
	}
	calls := c.Calls()
	if calls["GET /organizations.json"] != 3 || calls["GET /users.json"] != 2 {
		t.Fatalf("calls = %v", calls)
	}
}

func TestBulkWritesOverOneHundredRecords(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	writes := orgWrites(250)
	res := c.CreateOrgs(ctx, writes)
	mustOK(t, res)
	byExt := map[string]syncer.Org{}
	for _, o := range srv.Orgs() {
		byExt[o.ExternalID] = o
	}
	if len(byExt) != 250 {
		t.Fatalf("server has %d orgs", len(byExt))
	}
	for i, r := range res {
		if byExt[extID(i)].ID != r.ID {
			t.Fatalf("result %d has ID %d, org %s is %d", i, r.ID, extID(i), byExt[extID(i)].ID)
		}
	}
	if n := srv.Calls()["POST /organizations/create_many.json"]; n != 3 {
		t.Fatalf("create_many calls = %d, want 3", n)
	}
	if n := c.Calls()["GET /job_statuses/{id}.json"]; n != 3 {
		t.Fatalf("job status polls = %d, want one a job", n)
	}

	updates := make([]syncer.OrgWrite, 250)
	for i := range updates {
		updates[i] = syncer.OrgWrite{ID: res[i].ID, Name: fmt.Sprintf("Renamed %d", i)}
	}
	ures := c.UpdateOrgs(ctx, updates)
	mustOK(t, ures)
	for i, r := range ures {
		if r.ID != res[i].ID {
			t.Fatalf("update result %d maps to %d, want %d", i, r.ID, res[i].ID)
		}
	}
	o, _ := srv.Org(res[200].ID)
	if o.Name != "Renamed 200" {
		t.Fatalf("org 200 is %q", o.Name)
	}

	ids := make([]int64, 250)
	for i, r := range res {
		ids[i] = r.ID
	}
	mustOK(t, c.DeleteOrgs(ctx, ids))
	if n := len(srv.Orgs()); n != 0 {
		t.Fatalf("%d orgs left", n)
	}
	if n := srv.Calls()["DELETE /organizations/destroy_many.json"]; n != 3 {
		t.Fatalf("destroy_many calls = %d", n)
	}
}

func TestUpdateSendsOnlyOwnedFields(t *testing.T) {
	srv, c := setup(t)
	id := srv.AddOrg(syncer.Org{Name: "Acme", ExternalID: extID(1), Tags: []string{"hand_added", "sub_old"},
		Fields: syncer.FieldsOf(map[string]any{"salesforce_id": extID(1), "aar": "old", "unmapped": "keep me"})})
	mustOK(t, c.UpdateOrgs(context.Background(), []syncer.OrgWrite{{ID: id, Fields: map[string]any{"aar": "new"}}}))
	o, _ := srv.Org(id)
	if o.Name != "Acme" || o.ExternalID != extID(1) {
		t.Fatalf("name or external ID changed: %+v", o)
	}
	if strings.Join(o.Tags, ",") != "hand_added,sub_old" {
		t.Fatalf("tags = %v", o.Tags)
	}
	if o.Fields.Get("aar") != "new" || o.Fields.Get("unmapped") != "keep me" || o.Fields.Get("salesforce_id") != extID(1) {
		t.Fatalf("fields = %v", o.Fields)
	}
	mustOK(t, c.UpdateOrgs(context.Background(), []syncer.OrgWrite{{ID: id, Tags: []string{"hand_added", "sub_new"}}}))
	o, _ = srv.Org(id)
	if strings.Join(o.Tags, ",") != "hand_added,sub_new" || o.Fields.Get("unmapped") != "keep me" {
		t.Fatalf("after tag update: %+v", o)
	}
}

func TestRateLimitAndServerErrorBurstsLoseNothing(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	srv.RateLimitNext(4, 1)
	res := c.CreateOrgs(ctx, orgWrites(150))
	mustOK(t, res)
	srv.FailNext("PUT", "/organizations/update_many.json", 2, http.StatusServiceUnavailable)
	srv.FailNext("GET", "/job_statuses/{id}.json", 2, http.StatusBadGateway)
	updates := make([]syncer.OrgWrite, 150)
	for i := range updates {
		updates[i] = syncer.OrgWrite{ID: res[i].ID, Fields: map[string]any{"aar": "x"}}
	}
	mustOK(t, c.UpdateOrgs(ctx, updates))
	orgs := srv.Orgs()
	if len(orgs) != 150 {
		t.Fatalf("server has %d orgs, want 150", len(orgs))
	}
	for _, o := range orgs {
		if o.Fields.Get("aar") != "x" {
			t.Fatalf("org %s not updated", o.ExternalID)
		}
	}
	if n := srv.Calls()["POST /organizations/create_many.json"]; n < 2 {
		t.Fatalf("create_many calls = %d", n)
	}
}

func TestRateLimitOutlastingTheWaitBudgetFailsWithCode6(t *testing.T) {
	srv, c := setup(t)
	// Retry-After 120 s: the default budget of 10 minutes of waiting is
	// spent after five 429s; the rest of the burst is never reached.
	srv.RateLimitNext(30, 120)
	_, err := c.ListOrgs(context.Background())
	if syncer.ErrorCode(err) != syncer.CodeRateLimited {
		t.Fatalf("err = %v", err)
	}
	res := c.CreateOrgs(context.Background(), orgWrites(2))
	if syncer.ErrorCode(res[1].Err) != syncer.CodeRateLimited || !strings.Contains(res[1].Err.Error(), extID(1)) {
		t.Fatalf("res = %+v", res)
	}
}

func TestFailingItemIsReportedWhileTheRestApply(t *testing.T) {
	srv, c := setup(t)
	srv.FailItems(func(endpoint string, item map[string]any) bool { return item["name"] == "Org 2" })
	res := c.CreateOrgs(context.Background(), orgWrites(5))
	for i, r := range res {
		if i == 2 {
			if syncer.ErrorCode(r.Err) != syncer.CodeItemFailed || !strings.Contains(r.Err.Error(), extID(2)) ||
				!strings.Contains(r.Err.Error(), "injected") {
				t.Fatalf("failing item: %v", r.Err)
			}
			continue
		}
		if r.Err != nil || r.ID == 0 {
			t.Fatalf("item %d: %+v", i, r)
		}
	}
	if n := len(srv.Orgs()); n != 4 {
		t.Fatalf("server has %d orgs, want 4", n)
	}
}

func TestDuplicateNameFailsOnlyThatOrg(t *testing.T) {
	srv, c := setup(t)
	srv.AddOrg(syncer.Org{Name: "Org 1"})
	res := c.CreateOrgs(context.Background(), orgWrites(3))
	if syncer.ErrorCode(res[1].Err) != syncer.CodeItemFailed || res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("res = %+v", res)
	}
}

func TestCreateWhoseAnswerIsLostIsNotDuplicated(t *testing.T) {
	srv, c := setup(t)
	srv.DropNext("POST", "/organizations/create_many.json", 1, true)
	res := c.CreateOrgs(context.Background(), orgWrites(3))
	mustOK(t, res)
	orgs := srv.Orgs()
	if len(orgs) != 3 {
		t.Fatalf("server has %d orgs, want 3", len(orgs))
	}
	for i, o := range orgs {
		if res[i].ID != o.ID {
			t.Fatalf("result %d = %d, want %d", i, res[i].ID, o.ID)
		}
	}
	calls := srv.Calls()
	if calls["POST /organizations/create_many.json"] != 1 || calls["GET /organizations/show_many.json"] != 1 {
		t.Fatalf("calls = %v", calls)
	}
}

func TestCreateWhoseRequestIsLostIsSentAgain(t *testing.T) {
	srv, c := setup(t)
	srv.DropNext("POST", "/organizations/create_many.json", 1, false)
	mustOK(t, c.CreateOrgs(context.Background(), orgWrites(3)))
	if n := len(srv.Orgs()); n != 3 {
		t.Fatalf("server has %d orgs", n)
	}
	if n := srv.Calls()["POST /organizations/create_many.json"]; n != 2 {
		t.Fatalf("create_many calls = %d", n)
	}
}

func TestWholeJobFailureFailsEachRecord(t *testing.T) {
	srv, c := setup(t)
	srv.FailNextJob("/organizations/create_many.json", 1)
	res := c.CreateOrgs(context.Background(), orgWrites(3))
	for i, r := range res {
		if syncer.ErrorCode(r.Err) != syncer.CodeAPIError || !strings.Contains(r.Err.Error(), extID(i)) {
			t.Fatalf("result %d: %v", i, r.Err)
		}
	}
	if n := len(srv.Orgs()); n != 0 {
		t.Fatalf("server has %d orgs", n)
	}
}

func TestJobStuckInQueueTimesOut(t *testing.T) {
	srv := zendesktest.NewServer()
	defer srv.Close()
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) { cfg.JobTimeout = time.Minute })
	srv.StickNextJobs(1)
	res := c.CreateOrgs(context.Background(), orgWrites(2))
	if syncer.ErrorCode(res[0].Err) != syncer.CodeOpenTimeout {
		t.Fatalf("res = %+v", res)
	}
	if n := c.Calls()["GET /job_statuses/{id}.json"]; n > 15 {
		t.Fatalf("%d polls for one job", n)
	}
}

func TestJobsWithProcessingDelayArePolledUntilDone(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := zendesktest.NewServer(zendesktest.WithClock(clock), zendesktest.WithJobDelay(5*time.Second))
	defer srv.Close()
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			now = now.Add(d)
			mu.Unlock()
			return ctx.Err()
		}
	})
	mustOK(t, c.CreateOrgs(context.Background(), orgWrites(100)))
	if n := len(srv.Orgs()); n != 100 {
		t.Fatalf("server has %d orgs", n)
	}
	if n := c.Calls()["GET /job_statuses/{id}.json"]; n > 2 {
		t.Fatalf("%d polls for one job", n)
	}
}

func TestServerRateLimitWindowIsHonoured(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := zendesktest.NewServer(zendesktest.WithClock(clock), zendesktest.WithRateLimit(5))
	defer srv.Close()
	var slept time.Duration
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) {
		cfg.MaxRetries = 3
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			now = now.Add(d)
			slept += d
			mu.Unlock()
			return ctx.Err()
		}
	})
	for i := range 250 {
		srv.AddOrg(syncer.Org{Name: fmt.Sprintf("Org %d", i)})
	}
	for range 4 {
		if _, err := c.ListOrgs(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if slept < time.Minute {
		t.Fatalf("client waited %s for a 5-a-minute limit", slept)
	}
}

func TestUsersCreateAndUpsertByEmail(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	orgID := srv.AddOrg(syncer.Org{Name: "Acme"})
	agent := srv.AddUser(syncer.User{Name: "Agent", Email: "Agent@Example.com", Role: "agent"})
	res := c.CreateUsers(ctx, []syncer.UserWrite{{Email: "agent@example.com", Name: "A", OrgID: orgID}, {Email: "new@example.com", Name: "New", OrgID: orgID}})
	if !res[0].Exists || syncer.ErrorCode(res[0].Err) != syncer.CodeItemFailed {
		t.Fatalf("existing e-mail: %+v", res[0])
	}
	if res[1].Err != nil || res[1].ID == 0 {
		t.Fatalf("new user: %+v", res[1])
	}
	ures := c.UpsertUsers(ctx, []syncer.UserWrite{{Email: "AGENT@example.com", Name: "Agent Renamed", OrgID: orgID}, {Email: "third@example.com", Name: "Third"}})
	mustOK(t, ures)
	if ures[0].ID != agent {
		t.Fatalf("upsert matched %d, want %d", ures[0].ID, agent)
	}
	users := srv.Users()
	if len(users) != 3 {
		t.Fatalf("server has %d users", len(users))
	}
	for _, u := range users {
		if u.ID == agent && (u.Name != "Agent Renamed" || u.OrgID != orgID || u.Role != "agent") {
			t.Fatalf("agent after upsert: %+v", u)
		}
		if u.Email == "new@example.com" && (u.Role != "end-user" || u.OrgID != orgID) {
			t.Fatalf("new user: %+v", u)
		}
	}
	found, err := c.UsersByEmail(ctx, []string{"NEW@example.com", "nobody@example.com"})
	if err != nil || len(found) != 1 || found[0].ID != res[1].ID {
		t.Fatalf("UsersByEmail = %+v, %v", found, err)
	}
}

func TestLostUserCreateIsNotDuplicated(t *testing.T) {
	srv, c := setup(t)
	srv.DropNext("POST", "/users/create_many.json", 1, true)
	res := c.CreateUsers(context.Background(), []syncer.UserWrite{{Email: "a@example.com", Name: "A"}, {Email: "b@example.com", Name: "B"}})
	mustOK(t, res)
	if n := len(srv.Users()); n != 2 {
		t.Fatalf("server has %d users", n)
	}
}

func TestOrgsByExternalIDAndOpenTickets(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	var ids []string
	for i := range 130 {
		srv.AddOrg(syncer.Org{Name: fmt.Sprintf("Org %d", i), ExternalID: extID(i)})
		ids = append(ids, extID(i))
	}
	orgs, err := c.OrgsByExternalID(ctx, append(ids, "missing"))
	if err != nil || len(orgs) != 130 {
		t.Fatalf("got %d orgs, %v", len(orgs), err)
	}
	closedOnly := orgs[0].ID
	open := orgs[1].ID
	for range 120 {
		srv.AddTicket(syncer.Ticket{OrgID: closedOnly, Status: "closed"})
	}
	srv.AddTicket(syncer.Ticket{OrgID: open, Status: "closed"})
	srv.AddTicket(syncer.Ticket{OrgID: open, Status: "solved"})
	if has, err := c.OrgHasOpenTickets(ctx, closedOnly); err != nil || has {
		t.Fatalf("closed-only org: %v %v", has, err)
	}
	if has, err := c.OrgHasOpenTickets(ctx, open); err != nil || !has {
		t.Fatalf("open org: %v %v", has, err)
	}
}

func TestTickets(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	orgID := srv.AddOrg(syncer.Org{Name: "Acme", ExternalID: extID(7)})
	req := srv.AddUser(syncer.User{Name: "Requester", Email: "req@example.com", OrgID: orgID})
	id := srv.AddTicket(syncer.Ticket{Subject: "Help", Description: "Broken", Priority: "high", OrgID: orgID, RequesterID: req})
	srv.SetTicketCustomField(id, 42, 12.5) // a numeric field the library cannot decode

	tk, err := c.GetTicket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Subject != "Help" || tk.OrgID != orgID || tk.RequesterEmail != "req@example.com" || tk.RequesterName != "Requester" ||
		tk.CaseID != "" || tk.Priority != "high" || !strings.HasSuffix(tk.URL, fmt.Sprintf("/agent/tickets/%d", id)) {
		t.Fatalf("ticket = %+v", tk)
	}
	if err := c.SetTicketCaseID(ctx, id, "500XX0000012345AAA"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Tickets()[0].CaseID; got != "500XX0000012345AAA" {
		t.Fatalf("case ID on server = %q", got)
	}
	srv.SetTicketCustomField(id, zendesktest.DefaultCaseIDField, 123456)
	if tk, err = c.GetTicket(ctx, id); err != nil || tk.CaseID != "123456" {
		t.Fatalf("numeric case ID: %q %v", tk.CaseID, err)
	}
	org, err := c.GetOrg(ctx, orgID)
	if err != nil || org.ExternalID != extID(7) {
		t.Fatalf("GetOrg = %+v %v", org, err)
	}
	_, err = c.GetTicket(ctx, 999999)
	if syncer.ErrorCode(err) != syncer.CodeAPIError {
		t.Fatalf("missing ticket: %v", err)
	}
}

func TestTicketsSinceFollowsTheCursor(t *testing.T) {
	srv, c := setup(t, zendesktest.WithExportPageSize(2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		srv.AddTicket(syncer.Ticket{Subject: fmt.Sprint(i), CreatedAt: base.Add(time.Duration(i) * time.Hour), UpdatedAt: base.Add(time.Duration(i) * time.Hour)})
	}
	ctx := context.Background()
	var got []string
	cursor := ""
	for range 10 {
		tickets, next, end, err := c.TicketsSince(ctx, cursor, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tickets {
			got = append(got, tk.Subject)
		}
		cursor = next
		if end {
			break
		}
	}
	if strings.Join(got, ",") != "1,2,3,4" {
		t.Fatalf("exported %v", got)
	}
	srv.AddTicket(syncer.Ticket{Subject: "5", UpdatedAt: base.Add(10 * time.Hour)})
	tickets, _, end, err := c.TicketsSince(ctx, cursor, time.Time{})
	if err != nil || !end || len(tickets) != 1 || tickets[0].Subject != "5" {
		t.Fatalf("after new ticket: %+v %v %v", tickets, end, err)
	}
}

func TestErrorsCarryCodesAndNoSecrets(t *testing.T) {
	srv := zendesktest.NewServer(zendesktest.WithCredentials("agent@example.com", "the-real-token"))
	defer srv.Close()
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) { cfg.Token = "wrong-secret-token" })
	_, err := c.ListOrgs(context.Background())
	if syncer.ErrorCode(err) != syncer.CodeAuthFailed {
		t.Fatalf("err = %v", err)
	}
	res := c.CreateOrgs(context.Background(), orgWrites(1))
	for _, e := range []error{err, res[0].Err} {
		if s := fmt.Sprintf("%v %+v", e, e); strings.Contains(s, "wrong-secret-token") || strings.Contains(s, "Basic ") {
			t.Fatalf("error leaks the credentials: %s", s)
		}
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"organizations": [ {not json`))
	}))
	defer bad.Close()
	_, err = newClient(t, bad.URL).OrgsByExternalID(context.Background(), []string{"x"})
	if syncer.ErrorCode(err) != syncer.CodeBadResponse {
		t.Fatalf("malformed JSON: %v", err)
	}
}

func TestConnectionFailuresAndTimeoutsGetTheirCodes(t *testing.T) {
	srv, c := setup(t)
	srv.DropNext("", "", 100, false)
	res := c.UpsertUsers(context.Background(), []syncer.UserWrite{{Email: "a@example.com", Name: "A"}})
	if syncer.ErrorCode(res[0].Err) != syncer.CodeConnectionFailed {
		t.Fatalf("dropped connections: %v", res[0].Err)
	}

	slow := zendesktest.NewServer()
	defer slow.Close()
	slow.SlowNext("", "", 100, 2*time.Second)
	c2 := newClient(t, slow.URL(), func(cfg *zendesk.Config) { cfg.Timeout = 20 * time.Millisecond; cfg.MaxRetries = 1 })
	_, err := c2.ListOrgs(context.Background())
	if syncer.ErrorCode(err) != syncer.CodeOpenTimeout {
		t.Fatalf("slow answers: %v", err)
	}
}

func TestObserveSeesEveryCall(t *testing.T) {
	srv := zendesktest.NewServer()
	defer srv.Close()
	var mu sync.Mutex
	var seen []zendesk.Call
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) {
		cfg.Observe = func(call zendesk.Call) { mu.Lock(); seen = append(seen, call); mu.Unlock() }
	})
	mustOK(t, c.CreateOrgs(context.Background(), orgWrites(3)))
	if len(seen) != c.TotalCalls() || len(seen) != 2 || seen[0].Endpoint != "/organizations/create_many.json" || seen[0].Status != 200 {
		t.Fatalf("observed %+v, total %d", seen, c.TotalCalls())
	}
}

// The Job Statuses reference documents "results" as an array of per-record
// results or as one object ({"success": true}). In the object form the
// records of a completed job are still settled one by one: creates are
// looked up for their IDs (and a record the job did not make fails), and
// updates and deletes succeed when the object says every record did.
func TestJobResultsInTheObjectForm(t *testing.T) {
	srv, c := setup(t)
	srv.SetResultsObject(true)
	ctx := context.Background()
	created := c.CreateOrgs(ctx, orgWrites(3))
	mustOK(t, created)
	for i, r := range created {
		if o, ok := srv.Org(r.ID); !ok || o.ExternalID != extID(i) {
			t.Fatalf("created %d: ID %d is not the org Zendesk made (%+v)", i, r.ID, o)
		}
	}
	mustOK(t, c.UpdateOrgs(ctx, []syncer.OrgWrite{{ID: created[0].ID, Name: "Renamed"}}))
	if o, _ := srv.Org(created[0].ID); o.Name != "Renamed" {
		t.Fatalf("update did not apply: %+v", o)
	}
	mustOK(t, c.DeleteOrgs(ctx, []int64{created[1].ID}))
	if _, ok := srv.Org(created[1].ID); ok {
		t.Fatal("delete did not apply")
	}

	srv.FailItems(func(_ string, item map[string]any) bool { return item["name"] == "Org 11" })
	res := c.CreateOrgs(ctx, orgWrites(13)[10:])
	for i, r := range res {
		switch {
		case i == 1 && (syncer.ErrorCode(r.Err) != syncer.CodeItemFailed || !strings.Contains(r.Err.Error(), extID(11))):
			t.Fatalf("the record the job did not make: %+v", r)
		case i != 1 && (r.Err != nil || r.ID == 0):
			t.Fatalf("record %d the job made: %+v", i, r)
		}
	}
	res = c.UpdateOrgs(ctx, []syncer.OrgWrite{{ID: created[2].ID, Name: "Org 11"}})
	if syncer.ErrorCode(res[0].Err) != syncer.CodeItemFailed {
		t.Fatalf("an update in a job that says not every record succeeded: %+v", res[0])
	}
}

// A job an administrator kills, and a result whose details are not the
// documented string, are reported with their codes, not misread.
func TestKilledJobsAndUnexpectedDetails(t *testing.T) {
	var mu sync.Mutex
	status := "killed"
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			_, _ = w.Write([]byte(`{"job_status": {"id": "j1", "status": "queued", "results": null}}`))
			return
		}
		if status == "killed" {
			_, _ = w.Write([]byte(`{"job_status": {"id": "j1", "status": "killed", "message": "Killed by an admin"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"job_status": {"id": "j1", "status": "completed", "results": [
			{"index": 0, "id": 7, "status": "Created", "success": true},
			{"index": 1, "error": "RecordInvalid", "details": {"name": [{"description": "Name is too long"}]}, "status": "Failed"}]}}`))
	}))
	defer fake.Close()
	c := newClient(t, fake.URL)
	res := c.CreateOrgs(context.Background(), orgWrites(2))
	for i, r := range res {
		if syncer.ErrorCode(r.Err) != syncer.CodeAPIError || !strings.Contains(r.Err.Error(), "killed") {
			t.Fatalf("record %d of a killed job: %+v", i, r)
		}
	}
	mu.Lock()
	status = "completed"
	mu.Unlock()
	res = c.CreateOrgs(context.Background(), orgWrites(2))
	if res[0].Err != nil || res[0].ID != 7 {
		t.Fatalf("the record that succeeded: %+v", res[0])
	}
	if syncer.ErrorCode(res[1].Err) != syncer.CodeItemFailed || !strings.Contains(res[1].Err.Error(), "Name is too long") {
		t.Fatalf("the record with object details: %+v", res[1])
	}
}

// TestEveryRequestAcceptsJSON runs the adapter against an API that, as the
// Zendesk reference says it may ("You must set an Accept: application/json
// header on all requests", Requests), refuses a request without that
// header: the library's own requests do not set it.
func TestEveryRequestAcceptsJSON(t *testing.T) {
	srv := zendesktest.NewServer()
	t.Cleanup(srv.Close)
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var refused []string
	strict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "application/json") {
			mu.Lock()
			refused = append(refused, r.Method+" "+r.URL.Path)
			mu.Unlock()
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotAcceptable)
			_, _ = w.Write([]byte("Accept: application/json is required"))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(strict.Close)
	c := newClient(t, strict.URL)
	ctx := context.Background()

	orgID := srv.AddOrg(syncer.Org{Name: "Acme", ExternalID: extID(1)})
	req := srv.AddUser(syncer.User{Name: "R", Email: "r@example.com", OrgID: orgID})
	id := srv.AddTicket(syncer.Ticket{Subject: "Help", OrgID: orgID, RequesterID: req, Status: "open"})
	if _, err := c.ListOrgs(ctx); err != nil {
		t.Errorf("ListOrgs: %v", err)
	}
	if _, err := c.ListUsers(ctx); err != nil {
		t.Errorf("ListUsers: %v", err)
	}
	if _, err := c.GetOrg(ctx, orgID); err != nil {
		t.Errorf("GetOrg: %v", err)
	}
	if n, err := c.OrgCount(ctx); err != nil || n != 1 {
		t.Errorf("OrgCount = %d, %v", n, err)
	}
	if orgs, err := c.OrgsByExternalID(ctx, []string{extID(1)}); err != nil || len(orgs) != 1 {
		t.Errorf("OrgsByExternalID = %v, %v", orgs, err)
	}
	if users, err := c.UsersByEmail(ctx, []string{"r@example.com"}); err != nil || len(users) != 1 {
		t.Errorf("UsersByEmail = %v, %v", users, err)
	}
	if open, err := c.OrgHasOpenTickets(ctx, orgID); err != nil || !open {
		t.Errorf("OrgHasOpenTickets = %v, %v", open, err)
	}
	if tk, err := c.GetTicket(ctx, id); err != nil || tk.RequesterEmail != "r@example.com" {
		t.Errorf("GetTicket = %+v, %v", tk, err)
	}
	if err := c.SetTicketCaseID(ctx, id, "500XX0000012345AAA"); err != nil {
		t.Errorf("SetTicketCaseID: %v", err)
	}
	if _, _, _, err := c.TicketsSince(ctx, "", time.Now().Add(-time.Hour)); err != nil {
		t.Errorf("TicketsSince: %v", err)
	}
	res := c.CreateOrgs(ctx, []syncer.OrgWrite{{ExternalID: extID(2), Name: "Beta"}})
	mustOK(t, res)
	mustOK(t, c.UpdateOrgs(ctx, []syncer.OrgWrite{{ID: res[0].ID, Tags: []string{"x"}}}))
	mustOK(t, c.UpsertUsers(ctx, []syncer.UserWrite{{Name: "U", Email: "u@example.com"}}))
	mustOK(t, c.DeleteOrgs(ctx, []int64{res[0].ID}))
	mu.Lock()
	defer mu.Unlock()
	if len(refused) > 0 {
		t.Fatalf("requests sent without Accept: application/json: %v", refused)
	}
}

// A ticket page that says more follow but gives no new cursor leaves the
// org's other tickets unread: that is an error, never "no open tickets",
// which would let the deletion guard pass the org.
func TestOrgTicketsWithMoreButNoCursorIsAnError(t *testing.T) {
	for _, cursor := range []string{`""`, `"same"`} {
		fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"tickets": [{"id": 1, "status": "closed"}], "meta": {"has_more": true, "after_cursor": %s}}`, cursor)
		}))
		c := newClient(t, fake.URL)
		open, err := c.OrgHasOpenTickets(context.Background(), 42)
		fake.Close()
		if err == nil || syncer.ErrorCode(err) != syncer.CodeBadResponse {
			t.Errorf("after_cursor %s: open %v, err %v; want code %d", cursor, open, err, syncer.CodeBadResponse)
		}
	}
}

// An update of an existing user writes its name and organization only: its
// verification is not the sync's to change. A new user is made verified,
// without a verification e-mail.
func TestUpsertLeavesAnExistingUsersVerificationAlone(t *testing.T) {
	srv, c := setup(t)
	orgID := srv.AddOrg(syncer.Org{Name: "Acme"})
	old := srv.AddUser(syncer.User{Name: "Old", Email: "old@example.com", Role: "end-user"})
	srv.SetUserVerified(old, false)
	res := c.UpsertUsers(context.Background(), []syncer.UserWrite{
		{Email: "old@example.com", Name: "Old Renamed", OrgID: orgID, Existing: true},
		{Email: "new@example.com", Name: "New", OrgID: orgID},
	})
	mustOK(t, res)
	if srv.UserVerified(old) {
		t.Error("the update verified an existing user")
	}
	if !srv.UserVerified(res[1].ID) {
		t.Error("the new user is not verified")
	}
	for _, u := range srv.Users() {
		if u.ID == old && (u.Name != "Old Renamed" || u.OrgID != orgID) {
			t.Errorf("existing user after the update: %+v", u)
		}
	}
}

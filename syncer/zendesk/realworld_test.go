package zendesk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// The 401 and 403 answers below are those Zendesk is seen to send (Zendesk
// API clients' recorded responses and tests): a 401 is a credentials
// problem, a 403 a missing feature or permission, told apart by its body.
func TestForbiddenIsNotACredentialsProblem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   syncer.Code
		reason string
	}{
		{"401 couldn't authenticate", 401, `{"error":"Couldn't authenticate you"}`, syncer.CodeAuthFailed, ""},
		{"403 with an error object (agent or plan without access)", 403,
			`{"error": {"title": "Forbidden", "message": "You do not have access to this page. Please contact the account owner of this help desk for further help."}}`,
			syncer.CodeNotPermitted, "You do not have access to this page"},
		{"403 with a description (OAuth token without a scope)", 403,
			`{"error": "Forbidden", "description": "You are missing the following required scopes: read"}`,
			syncer.CodeNotPermitted, "You are missing the following required scopes: read"},
		{"403 data imports not enabled", 403, `{"error": "Forbidden", "message": "Data imports are not enabled"}`,
			syncer.CodeNotPermitted, "Data imports are not enabled"},
		{"403 without a reason (a proxy's page)", 403, `<html>Forbidden</html>`, syncer.CodeNotPermitted, "<html>Forbidden</html>"},
		{"403 that refuses the credentials", 403, `{"error":"Couldn't authenticate you"}`, syncer.CodeAuthFailed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer fake.Close()
			_, err := newClient(t, fake.URL).GetOrg(context.Background(), 1)
			if syncer.ErrorCode(err) != tc.want {
				t.Fatalf("code %d (%v), want %d", syncer.ErrorCode(err), err, tc.want)
			}
			if !strings.Contains(syncer.ErrorMessage(err), tc.reason) {
				t.Errorf("message %q does not carry Zendesk's reason %q", syncer.ErrorMessage(err), tc.reason)
			}
		})
	}

	srv, c := setup(t)
	srv.ForbidNext("GET", "/organizations.json", 1)
	if _, err := c.ListOrgs(context.Background()); syncer.ErrorCode(err) != syncer.CodeNotPermitted {
		t.Fatalf("the sandbox's 403: %v", err)
	}
}

// An account without bulk user imports answers 403 to the bulk user
// endpoints; the users are still created, one at a time through the
// per-user endpoints, the run's notices say so once, and later calls do
// not ask the bulk endpoints again.
func TestRefusedBulkUserImportsFallBackToPerUserEndpoints(t *testing.T) {
	srv, c := setup(t)
	srv.RefuseBulkUserImports(true)
	orgID := srv.AddOrg(syncer.Org{Name: "Acme"})
	agent := srv.AddUser(syncer.User{Name: "Agent", Email: "agent@example.com", Role: "agent"})
	ctx, notices := syncer.WithNotices(context.Background())

	users := make([]syncer.UserWrite, 250)
	for i := range users {
		users[i] = syncer.UserWrite{Email: fmt.Sprintf("u%d@example.com", i), Name: fmt.Sprint("User ", i), OrgID: orgID}
	}
	users[7].Email = "AGENT@example.com"
	res := c.CreateUsers(ctx, users)
	for i, r := range res {
		switch {
		case i == 7 && (!r.Exists || syncer.ErrorCode(r.Err) != syncer.CodeItemFailed || !strings.Contains(r.Err.Error(), "already being used")):
			t.Fatalf("the taken e-mail: %+v", r)
		case i != 7 && (r.Err != nil || r.ID == 0):
			t.Fatalf("user %d: %+v", i, r)
		}
	}
	for _, u := range srv.Users() {
		if u.ID != agent && (u.OrgID != orgID || u.Role != "end-user" || !srv.UserVerified(u.ID)) {
			t.Fatalf("user created one at a time: %+v", u)
		}
	}
	calls := srv.Calls()
	if calls["POST /users.json"] != 250 || calls["POST /users/create_many.json"] > 3 {
		t.Fatalf("calls %v", calls)
	}

	ures := c.UpsertUsers(ctx, []syncer.UserWrite{{Email: "agent@example.com", Name: "Agent Renamed", OrgID: orgID, Existing: true},
		{Email: "fresh@example.com", Name: "Fresh"}})
	mustOK(t, ures)
	if ures[0].ID != agent {
		t.Fatalf("upsert matched %d, want the agent %d", ures[0].ID, agent)
	}
	mustOK(t, c.CreateUsers(ctx, []syncer.UserWrite{{Email: "later@example.com", Name: "Later"}}))
	calls = srv.Calls()
	if calls["POST /users/create_or_update.json"] != 2 || calls["POST /users/create_many.json"] > 3 || calls["POST /users.json"] != 251 {
		t.Fatalf("calls after the refusal was learnt %v", calls)
	}
	got := notices()
	if len(got) != 2 || !strings.Contains(got[0], "Data imports are not enabled") || !strings.Contains(got[0], "POST /users.json") ||
		!strings.Contains(got[1], "/users/create_or_update.json") {
		t.Fatalf("notices %q", got)
	}
}

// Job statuses as Zendesk writes them (float and null counters, bare
// results, failures keyed by position, results that do not cover every
// record) are decoded and mapped onto the right records; a record without
// a result of its own is settled by reading it back, and a failure keeps
// its details.
func TestJobStatusesAsZendeskWritesThem(t *testing.T) {
	clock := newFakeClock()
	srv := zendesktest.NewServer(zendesktest.WithJobDelay(2*time.Second), zendesktest.WithClock(clock.Now))
	defer srv.Close()
	srv.SetJobShape(zendesktest.RealJobShape())
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) { cfg.Sleep = clock.Sleep })
	ctx := context.Background()
	srv.FailItems(func(_ string, item map[string]any) bool { return item["name"] == "Org 3" || item["name"] == "Broken" })

	created := c.CreateOrgs(ctx, orgWrites(6))
	for i, r := range created {
		o, ok := srv.Org(r.ID)
		switch {
		case i == 3 && (syncer.ErrorCode(r.Err) != syncer.CodeItemFailed || !strings.Contains(r.Err.Error(), "injected item failure") ||
			!strings.Contains(r.Err.Error(), extID(3))):
			t.Fatalf("the failed create keeps its details and its record: %+v", r)
		case i != 3 && (r.Err != nil || !ok || o.ExternalID != extID(i)):
			t.Fatalf("create %d: %+v (org %+v)", i, r, o)
		}
	}

	before := srv.Calls()["GET /organizations/show_many.json"]
	updates := []syncer.OrgWrite{}
	for i, r := range created {
		if i != 3 {
			updates = append(updates, syncer.OrgWrite{ID: r.ID, Tags: []string{"sub_gold"}, Fields: map[string]any{"renewal_date": "2026-01-31"}})
		}
	}
	updates[2].Name = "Broken"
	res := c.UpdateOrgs(ctx, updates)
	for i, r := range res {
		switch {
		case i == 2 && (syncer.ErrorCode(r.Err) != syncer.CodeItemFailed || !strings.Contains(r.Err.Error(), "injected item failure") || r.ID != updates[2].ID):
			t.Fatalf("the failure keyed by its position is the third record's: %+v", r)
		case i != 2 && r.Err != nil:
			t.Fatalf("update %d without a result of its own was not settled by reading it back: %+v", i, r)
		}
	}
	if n := srv.Calls()["GET /organizations/show_many.json"] - before; n != 1 {
		t.Fatalf("%d show_many calls to read back one job's records, want 1", n)
	}

	ids := []int64{created[0].ID, created[1].ID, created[2].ID}
	mustOK(t, c.DeleteOrgs(ctx, ids))
	for _, id := range ids {
		if _, ok := srv.Org(id); ok {
			t.Fatalf("org %d not deleted", id)
		}
	}
	ures := c.UpsertUsers(ctx, []syncer.UserWrite{{Email: "a@example.com", Name: "A"}, {Email: "b@example.com", Name: "B"}, {Email: "c@example.com", Name: "C"}})
	mustOK(t, ures)
	for i, u := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		found, _ := c.UsersByEmail(ctx, []string{u})
		if len(found) != 1 || found[0].ID != ures[i].ID {
			t.Fatalf("upsert %d: %+v, found %+v", i, ures[i], found)
		}
	}
}

// A record a completed job gave no result, and that reading it back shows
// was not written, fails with a message that says so.
func TestRecordWithoutResultThatWasNotWrittenFails(t *testing.T) {
	srv := zendesktest.NewServer()
	defer srv.Close()
	a := srv.AddOrg(syncer.Org{Name: "A", ExternalID: extID(1)})
	b := srv.AddOrg(syncer.Org{Name: "B", ExternalID: extID(2)})
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPut:
			_, _ = w.Write([]byte(`{"job_status": {"id": "j1", "status": "queued", "total": null, "progress": null, "results": null}}`))
		case strings.Contains(r.URL.Path, "job_statuses"):
			fmt.Fprintf(w, `{"job_status": {"id": "j1", "status": "completed", "total": 2.0, "progress": 2.0,
				"results": [{"id": %d, "status": "Updated"}]}}`, a)
		default: // show_many: A renamed, B as it was
			fmt.Fprintf(w, `{"organizations": [{"id": %d, "name": "A2"}, {"id": %d, "name": "B"}]}`, a, b)
		}
	}))
	defer fake.Close()
	res := newClient(t, fake.URL).UpdateOrgs(context.Background(), []syncer.OrgWrite{{ID: a, Name: "A2"}, {ID: b, Name: "B2"}})
	if res[0].Err != nil {
		t.Fatalf("the record with its result: %+v", res[0])
	}
	if syncer.ErrorCode(res[1].Err) != syncer.CodeItemFailed || !strings.Contains(res[1].Err.Error(), "not written") {
		t.Fatalf("the record that was not written: %+v", res[1])
	}
}

// A 429 of the incremental export, which has its own limit of 10 a
// minute, pauses the export only: the other requests of the client go on.
func TestExportRateLimitPausesTheExportOnly(t *testing.T) {
	srv := zendesktest.NewServer()
	defer srv.Close()
	org := srv.AddOrg(syncer.Org{Name: "Acme"})
	srv.AddTicket(syncer.Ticket{Subject: "Hi", OrgID: org})
	var mu sync.Mutex
	var waits []time.Duration
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) {
		cfg.ObserveWait = func(d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }
	})
	observed := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		w := waits
		waits = nil
		return w
	}
	ctx := context.Background()
	srv.RateLimitEndpointNext("GET", "/incremental/tickets/cursor.json", 1, 45)
	if _, _, _, err := c.TicketsSince(ctx, "", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w := observed(); len(w) == 0 || w[0] != 45*time.Second {
		t.Fatalf("the export's own wait: %v", w)
	}
	if _, err := c.GetOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListOrgs(ctx); err != nil {
		t.Fatal(err)
	}
	if w := observed(); len(w) != 0 {
		t.Fatalf("requests outside the export waited %v for the export's limit", w)
	}
	if _, _, _, err := c.TicketsSince(ctx, "", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w := observed(); len(w) == 0 || w[0] < 40*time.Second {
		t.Fatalf("the next export request did not wait out the pause: %v", w)
	}
}

// The account's limit on queued jobs (30, Rate limits: Job limit) is
// answered 429 to a bulk request over it: the bulk requests wait and are
// sent again, every record is written, and the reads do not wait.
func TestQueuedJobLimitPausesTheBulkRequestsOnly(t *testing.T) {
	clock := newFakeClock()
	srv := zendesktest.NewServer(zendesktest.WithJobDelay(30*time.Second), zendesktest.WithMaxQueuedJobs(1), zendesktest.WithClock(clock.Now))
	defer srv.Close()
	var mu sync.Mutex
	var waits []time.Duration
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) {
		cfg.MaxJobsInFlight, cfg.Sleep = 3, clock.Sleep
		cfg.ObserveWait = func(d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }
	})
	mustOK(t, c.CreateOrgs(context.Background(), orgWrites(300)))
	if n := srv.OrgCount(); n != 300 {
		t.Fatalf("%d orgs created", n)
	}
	if n := srv.Calls()["POST /organizations/create_many.json"]; n <= 3 {
		t.Fatalf("%d create_many calls: the job limit was never met", n)
	}
	mu.Lock()
	waits = nil
	mu.Unlock()
	if _, err := c.ListOrgs(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 0 {
		t.Fatalf("a read waited %v for the job limit", waits)
	}
}

// paced sends requests GET /organizations/{id}.json from 8 goroutines
// through a client paced at perMinute with real sleeps, against a sandbox
// that enforces the token bucket perMinuteAllowed with the given burst,
// and returns how many were answered 429.
func paced(t *testing.T, perMinute, perMinuteAllowed, burst, requests int) int {
	t.Helper()
	srv := zendesktest.NewServer(zendesktest.WithTokenBucket(perMinuteAllowed, burst))
	defer srv.Close()
	id := srv.AddOrg(syncer.Org{Name: "Acme"})
	var limited atomic.Int64
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) {
		cfg.RequestsPerMinute, cfg.Sleep = perMinute, nil
		cfg.Observe = func(call zendesk.Call) {
			if call.Status == http.StatusTooManyRequests {
				limited.Add(1)
			}
		}
	})
	work := make(chan struct{}, requests)
	for range requests {
		work <- struct{}{}
	}
	close(work)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range work {
				if _, err := c.GetOrg(context.Background(), id); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("429s: %d of %d requests", limited.Load(), requests)
	return int(limited.Load())
}

// Against a limiter that allows only small bursts (a token bucket, as the
// limits Zendesk answers 429 with below the plan's rate are), the client
// settles after its first 429s into a smooth pace: the pause a 429 asks
// for does not end in a burst of the requests it held or of the tokens
// gathered meanwhile, so the 429s stay with the first burst (none should
// follow it; about 27 did before). About 8 seconds of real time: the
// pacing under test is real.
func TestPacingSettlesUnderASmallBurstLimiter(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time pacing")
	}
	if limited := paced(t, 1200, 1200, 3, 150); limited > 10 {
		t.Fatalf("%d requests answered 429: the client did not settle into a smooth pace", limited)
	}
}

// Against a limiter stricter than the configured rate (Zendesk answers
// 429 below the plan's rate), the client slows its pace down to what the
// API allows instead of meeting a 429 after every pause (about 43 of 120
// did before). About 9 seconds of real time.
func TestPacingConvergesOnAStricterLimiter(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time pacing")
	}
	// Configured at 100 a second; the API allows 40.
	if limited := paced(t, 6000, 2400, 2, 120); limited > 24 {
		t.Fatalf("%d requests answered 429: the pace did not converge on the API's", limited)
	}
}

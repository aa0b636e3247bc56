package zendesk_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

func TestOrgsByExternalIDRunsLookUpsConcurrentlyAndKeepsOrder(t *testing.T) {
	srv := zendesktest.NewServer(zendesktest.WithLatency(20 * time.Millisecond))
	t.Cleanup(srv.Close)
	var ids []string
	for i := range 450 {
		ext := fmt.Sprintf("0014M00001%08d", i)
		srv.AddOrg(syncer.Org{Name: "Org " + ext, ExternalID: ext})
		ids = append(ids, ext)
	}
	var inFlight, peak atomic.Int32
	srv.OnRequest(func(string, string) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.AfterFunc(15*time.Millisecond, func() { inFlight.Add(-1) })
	})
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) { cfg.MaxReadsInFlight = 4 })
	orgs, err := c.OrgsByExternalID(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != len(ids) || srv.Calls()["GET /organizations/show_many.json"] != 5 {
		t.Fatalf("%d orgs in %v", len(orgs), srv.Calls())
	}
	for i, o := range orgs {
		if o.ExternalID != ids[i] {
			t.Fatalf("org %d is %s, want %s", i, o.ExternalID, ids[i])
		}
	}
	if p := peak.Load(); p < 2 || p > 4 {
		t.Errorf("%d look-ups in flight at most, want 2 to 4", p)
	}
}

func TestOrgsByExternalIDFailsWithTheFirstError(t *testing.T) {
	srv := zendesktest.NewServer()
	t.Cleanup(srv.Close)
	srv.FailNext("GET", "/organizations/show_many.json", 1000, 500)
	c := newClient(t, srv.URL(), func(cfg *zendesk.Config) { cfg.MaxRetries = -1 })
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("0014M00001%08d", i)
	}
	if _, err := c.OrgsByExternalID(context.Background(), ids); syncer.ErrorCode(err) != syncer.CodeAPIError {
		t.Fatalf("err %v", err)
	}
}

func TestEachOrgPageHandsOverPagesAndStopsWhenCancelled(t *testing.T) {
	srv := zendesktest.NewServer()
	t.Cleanup(srv.Close)
	for i := range 250 {
		srv.AddOrg(syncer.Org{Name: fmt.Sprint("Org ", i)})
	}
	c := newClient(t, srv.URL())
	var pages, orgs int
	if err := c.EachOrgPage(context.Background(), func(p []syncer.Org) { pages++; orgs += len(p) }); err != nil || pages != 3 || orgs != 250 {
		t.Fatalf("pages %d orgs %d err %v", pages, orgs, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pages = 0
	err := c.EachOrgPage(ctx, func([]syncer.Org) { pages++; cancel() })
	if err == nil || pages != 1 {
		t.Fatalf("after cancel: pages %d err %v", pages, err)
	}
}

func TestRateLimitWaitsAreObserved(t *testing.T) {
	srv := zendesktest.NewServer()
	defer srv.Close()
	var waits []time.Duration
	c, err := zendesk.New(zendesk.Config{URL: srv.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
		Sleep: func(context.Context, time.Duration) error { return nil }, ObserveWait: func(d time.Duration) { waits = append(waits, d) }})
	if err != nil {
		t.Fatal(err)
	}
	srv.RateLimitNext(2, 7)
	if _, err := c.ListOrgs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(waits) < 2 || waits[0] != 7*time.Second {
		t.Errorf("waits observed: %v", waits)
	}
}

// A client allowed more requests than the account has (ZENDESK_RATE_LIMIT
// set above the plan's limit) paces itself by the limit the API reports:
// it used to take every answer for "nearly exhausted" and sleep about 6
// seconds before each request.
func TestRateLimitAboveTheAccountsDoesNotSlowEveryRequest(t *testing.T) {
	srv := zendesktest.NewServer() // reports X-Rate-Limit 2500, nearly all remaining
	defer srv.Close()
	for i := range 500 {
		srv.AddOrg(syncer.Org{Name: fmt.Sprint("Org ", i)})
	}
	var waits []time.Duration
	c, err := zendesk.New(zendesk.Config{URL: srv.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
		RequestsPerMinute: 1_000_000, Sleep: func(context.Context, time.Duration) error { return nil },
		ObserveWait: func(d time.Duration) { waits = append(waits, d) }})
	if err != nil {
		t.Fatal(err)
	}
	if orgs, err := c.ListOrgs(context.Background()); err != nil || len(orgs) != 500 {
		t.Fatalf("%d orgs, err %v", len(orgs), err)
	}
	if len(waits) != 0 {
		t.Errorf("waited %v with the account's budget nearly untouched", waits)
	}
}

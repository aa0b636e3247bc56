package salesforce_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
)

// waitFor waits until cond holds, failing the test if it does not within
// a generous bound (the condition, not the time, is what is tested).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// clientWith logs in to srv with the password flow and the given
// concurrency cap.
func clientWith(t *testing.T, srv *salesforcetest.Server, maxConcurrency int) *salesforce.Client {
	t.Helper()
	cfg := configFor(srv, true)
	cfg.MaxConcurrency = maxConcurrency
	c, err := salesforce.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// findCases runs n FindCase calls at once and returns their errors.
func findCases(c *salesforce.Client, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = c.FindCase(context.Background(), int64(i+1)) })
	}
	wg.Wait()
	return errs
}

func TestCallsRunInParallelUpToTheCap(t *testing.T) {
	const maxConcurrency, calls = 4, 12
	srv := salesforcetest.NewServer()
	defer srv.Close()
	c := clientWith(t, srv, maxConcurrency)
	release := srv.HoldRequests()
	defer release()
	done := make(chan []error)
	go func() { done <- findCases(c, calls) }()
	waitFor(t, fmt.Sprintf("%d requests are in flight at once", maxConcurrency),
		func() bool { return srv.InFlight() == maxConcurrency })
	release()
	for i, err := range <-done {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if got := srv.Calls(); got.MaxInFlight != maxConcurrency || got.Query != calls {
		t.Errorf("calls = %+v, want %d queries, at most %d at once", got, calls, maxConcurrency)
	}
}

func TestTheDefaultCapIsTenRequests(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	c := clientWith(t, srv, 0)
	release := srv.HoldRequests()
	defer release()
	done := make(chan []error)
	go func() { done <- findCases(c, 25) }()
	waitFor(t, "10 requests are in flight at once", func() bool { return srv.InFlight() == salesforce.DefaultMaxConcurrency })
	release()
	<-done
	if got := srv.Calls().MaxInFlight; got != salesforce.DefaultMaxConcurrency {
		t.Errorf("%d requests in flight at once, want %d", got, salesforce.DefaultMaxConcurrency)
	}
}

func TestASessionExpiringUnderLoadIsRenewedByOneLogin(t *testing.T) {
	const calls = 16
	srv, accts := loadFixture()
	defer srv.Close()
	c := clientWith(t, srv, calls)
	release := srv.HoldRequests()
	defer release()
	done := make(chan []error)
	go func() {
		errs := make([]error, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				if i%2 == 0 {
					_, _, errs[i] = c.FindCase(context.Background(), int64(i+1))
					return
				}
				_, errs[i] = c.CreateCase(context.Background(), syncer.Case{Subject: "s", TicketID: int64(i + 1), AccountID: accts["customer"].ID})
			})
		}
		wg.Wait()
		done <- errs
	}()
	waitFor(t, "every call is in flight", func() bool { return srv.InFlight() == calls })
	srv.ExpireSessions() // every call in flight now holds an expired session
	release()
	for i, err := range <-done {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	got := srv.Calls()
	if got.Token != 2 || got.Unauthorized != calls || got.Query+got.CaseCreate != calls {
		t.Errorf("calls = %+v, want 2 logins, %d refused calls, each call answered once", got, calls)
	}
	if n := len(srv.Cases()); n != calls/2 {
		t.Errorf("%d cases created, want %d", n, calls/2)
	}
}

func TestAFailedReloginUnderLoadFailsEveryWaitingCallWithCode9(t *testing.T) {
	const calls = 8
	srv := salesforcetest.NewServer()
	defer srv.Close()
	c := clientWith(t, srv, calls)
	release := srv.HoldRequests()
	defer release()
	done := make(chan []error)
	go func() { done <- findCases(c, calls) }()
	waitFor(t, "every call is in flight", func() bool { return srv.InFlight() == calls })
	srv.ExpireSessions()
	srv.RejectLogins(1)
	release()
	for _, err := range <-done {
		wantCode(t, err, syncer.CodeAuthFailed)
	}
	if got := srv.Calls().Token; got != 2 {
		t.Errorf("%d token requests, want the first login and one re-login for all the waiting calls", got)
	}
	// The next call logs in again, and succeeds.
	if _, _, err := c.FindCase(context.Background(), 1); err != nil {
		t.Fatalf("call after the refused login: %v", err)
	}
	if got := srv.Calls().Token; got != 3 {
		t.Errorf("%d token requests, want 3", got)
	}
}

func TestAContextEndsACallInFlight(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	c := clientWith(t, srv, 1)
	release := srv.HoldRequests()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, _, err := c.FindCase(ctx, 1); done <- err }()
	waitFor(t, "the call is in flight", func() bool { return srv.InFlight() == 1 })
	queued := make(chan error)
	go func() { _, _, err := c.FindCase(ctx, 2); queued <- err }() // waits for the only slot
	cancel()
	wantCode(t, <-done, syncer.CodeInternal)
	wantCode(t, <-queued, syncer.CodeInternal)
	if got := srv.Calls().Query; got != 0 {
		t.Errorf("%d queries answered, want none", got)
	}
}

func TestLoginServiceUnavailableIsConnectionFailed(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	srv.FailLogins(1, http.StatusServiceUnavailable)
	_, err := salesforce.New(context.Background(), configFor(srv, true))
	wantCode(t, err, syncer.CodeConnectionFailed)

	c := newClient(t, srv)
	srv.ExpireSessions()
	srv.FailLogins(1, http.StatusServiceUnavailable)
	_, _, err = c.FindCase(context.Background(), 1)
	wantCode(t, err, syncer.CodeConnectionFailed)
	if _, _, err := c.FindCase(context.Background(), 1); err != nil {
		t.Errorf("call once the login service is back: %v", err)
	}
}

func TestNegativeConcurrencyIsRefused(t *testing.T) {
	srv := salesforcetest.NewServer()
	defer srv.Close()
	cfg := configFor(srv, true)
	cfg.MaxConcurrency = -1
	_, err := salesforce.New(context.Background(), cfg)
	wantCode(t, err, syncer.CodeInternal)
	if srv.Calls().Token != 0 {
		t.Error("a login was tried with an invalid configuration")
	}
}

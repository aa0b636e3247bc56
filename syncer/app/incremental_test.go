package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// incrementalCore is coreOver with the runner set for incremental runs,
// on the wall clock (the sandbox's seeded records are a day old).
func incrementalCore(t *testing.T, sb *sandbox.Sandbox, d storetest.Database) (*app.Core, *reported) {
	t.Helper()
	db := d.Open(t)
	c, rep := coreOver(t, sb, db)
	c.Runner.Now, c.Runner.Watermarks, c.Runner.Overlap = time.Now, db, 2*time.Minute
	c.LockPoll = 10 * time.Millisecond
	return c, rep
}

// Two replicas on one database never run the same job's incremental run
// at once: while one runs, the other's tick is refused (code 16), not
// saved, not reported; a full run waits for the incremental run to end
// instead of being refused; an incremental tick meeting a full run is
// refused.
func TestIncrementalRunsOfAJobNeverOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		sb := startSandbox(t, sandbox.Options{Seed: 9, Accounts: 40, Now: now})
		first, _ := incrementalCore(t, sb, d)
		second, rep := incrementalCore(t, sb, d)
		tick := syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule, Incremental: true}}

		// Hold the first replica's incremental run in its Salesforce read.
		release := sb.Salesforce.HoldRequests()
		done := make(chan *syncer.Summary, 1)
		go func() { done <- first.Run(ctx, tick) }()
		waitFor(t, func() bool { return sb.Salesforce.InFlight() > 0 })
		busy := second.Run(ctx, tick)
		if busy.Code != syncer.CodeRunInProgress || !strings.Contains(busy.Message, "global-orgs is already running") {
			t.Errorf("the second replica's tick: code %d %q, want 16", busy.Code, busy.Message)
		}
		if len(rep.all()) != 0 {
			t.Errorf("the refused tick was reported")
		}

		// A full run meanwhile waits for the incremental run, then runs.
		tries := &lockTries{Store: second.Store}
		second.Store = tries
		full := make(chan *syncer.Summary, 1)
		go func() {
			full <- second.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}})
		}()
		waitFor(t, func() bool { return tries.n.Load() >= 3 }) // refused, and still trying
		release()
		if s := <-done; !s.OK() || s.Incremental == nil {
			t.Fatalf("the held incremental run: %s (%s)", s.Headline(), s.Message)
		}
		if s := <-full; !s.OK() || s.Incremental != nil {
			t.Fatalf("the full run after the incremental one: code %d %s (%s)", s.Code, s.Headline(), s.Message)
		}

		// An incremental tick meeting a full run is refused at once.
		release = sb.Salesforce.HoldRequests()
		go func() {
			done <- first.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: "UWRITER"}})
		}()
		waitFor(t, func() bool { return sb.Salesforce.InFlight() > 0 })
		if s := second.Run(ctx, tick); s.Code != syncer.CodeRunInProgress {
			t.Errorf("an incremental tick during a full run: code %d (%s)", s.Code, s.Message)
		}
		release()
		<-done
	})
}

// lockTries counts the attempts to take a run lock.
type lockTries struct {
	app.Store
	n atomic.Int64
}

func (l *lockTries) AcquireRunLock(ctx context.Context, lock syncer.RunLock, now time.Time) (bool, syncer.RunLock, error) {
	l.n.Add(1)
	return l.Store.AcquireRunLock(ctx, lock, now)
}

// waitFor waits, briefly, for a condition the test's goroutines bring
// about.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// schedules is a Schedule with global-orgs and its incremental runs.
type schedules struct{}

func (schedules) JobStatuses() []syncer.JobStatus {
	return []syncer.JobStatus{{Job: syncer.JobGlobalOrgs, Schedule: "0 * * * *",
		Incremental: &syncer.IncrementalStatus{Schedule: "* * * * *"}}}
}

// A quiet incremental run (nothing changed) is reported (counted) but not
// stored; one that changed something is stored; status shows the job's
// freshness and this hour's tally.
func TestQuietIncrementalRunsAreNotStored(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.Options{Seed: 9, Accounts: 40, Now: now})
	c, rep := incrementalCore(t, sb, storetest.SQLite(t))
	c.Schedule = schedules{}
	if s := c.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs}); !s.OK() {
		t.Fatalf("full run: %s", s.Message)
	}
	quiet := c.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{Incremental: true}})
	if !quiet.QuietIncremental() {
		t.Fatalf("incremental run right after the full run: %s", quiet.Headline())
	}
	if _, stored, err := c.Store.LatestRun(ctx, syncer.JobGlobalOrgs, true); stored || err != nil {
		t.Errorf("the quiet incremental run was stored (%v)", err)
	}
	if got := rep.all(); len(got) != 2 || got[1] != quiet {
		t.Errorf("reported %d runs, want the full and the quiet one", len(got))
	}

	changed := ""
	for _, o := range sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) && sb.Salesforce.UpdateAccount(o.ExternalID, func(a *salesforcetest.Account) { a.Owner = "Someone New" }) {
			changed = o.ExternalID
			break
		}
	}
	s := c.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{Incremental: true}})
	if changed == "" || s.Updated != 1 {
		t.Fatalf("incremental run after a change of %q: %s", changed, s.Headline())
	}
	if last, stored, _ := c.Store.LatestRun(ctx, syncer.JobGlobalOrgs, true); !stored || last.RunID != s.RunID {
		t.Errorf("the incremental run that changed something was not stored")
	}
	if full, _, _ := c.Store.LastSuccessfulRun(ctx, syncer.JobGlobalOrgs); full == nil || full.Incremental != nil {
		t.Errorf("the last successful full run is %+v, want the full run", full)
	}

	st, err := c.Status(ctx)
	if err != nil || len(st.Jobs) != 1 || st.Jobs[0].Incremental == nil {
		t.Fatalf("status %+v, %v", st, err)
	}
	inc := st.Jobs[0].Incremental
	if inc.Caught.IsZero() || inc.Freshness <= 0 || inc.Freshness > time.Minute || inc.Tally.Runs != 2 ||
		inc.Tally.SalesforceCalls < 2 || inc.LastRun == nil || inc.LastRun.RunID != s.RunID {
		t.Errorf("incremental status %+v", inc)
	}
	if st.Jobs[0].LastRun == nil || st.Jobs[0].LastRun.Incremental != nil {
		t.Errorf("status shows %+v as the job's last run, want its last full run", st.Jobs[0].LastRun)
	}
}

// recentAllowance is an allowance reader that also reports what the last
// answer said, and counts its reads.
type recentAllowance struct {
	last  syncer.APIAllowance
	at    time.Time
	reads atomic.Int64
}

func (r *recentAllowance) APIAllowance(context.Context) (syncer.APIAllowance, error) {
	r.reads.Add(1)
	return r.last, nil
}

func (r *recentAllowance) LastAllowance() (syncer.APIAllowance, time.Time, bool) {
	return r.last, r.at, !r.at.IsZero()
}

// A scheduled incremental run is skipped below the API reserve as a full
// run is, judged by the allowance Salesforce last reported (no request of
// its own); unknown or old, it goes.
func TestScheduledIncrementalRunsLeaveTheAPIReserve(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.Options{Seed: 9, Accounts: 30, Now: now})
	tick := syncer.Request{Job: syncer.JobFederalOrgs, Options: syncer.Options{By: syncer.BySchedule, Incremental: true}}
	low := syncer.APIAllowance{Max: 100000, Remaining: 5000}
	for _, tt := range []struct {
		name    string
		at      time.Time
		skipped bool
	}{
		{"reported a minute ago, below the reserve: skipped", time.Now().Add(-time.Minute), true},
		{"never reported: goes", time.Time{}, false},
		{"reported an hour ago: goes", time.Now().Add(-time.Hour), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := incrementalCore(t, sb, storetest.SQLite(t))
			r := &recentAllowance{last: low, at: tt.at}
			c.Allowance, c.Reserve = r, 0.1
			s := c.Run(ctx, tick)
			if skipped := s.Code == syncer.CodeAPIReserve; skipped != tt.skipped {
				t.Errorf("code %d (%s), want skipped %v", s.Code, s.Message, tt.skipped)
			}
			if r.reads.Load() != 0 {
				t.Errorf("the incremental run read the allowance %d times", r.reads.Load())
			}
		})
	}
}

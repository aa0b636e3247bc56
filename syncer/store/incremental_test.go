package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store"
)

// A job's watermark is stored with the versions it carried over, the
// accounts to retry and the hour's tally, and never moves back, whichever
// process saves last.
func TestWatermarks(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	eachBackend(t, func(t *testing.T, db *store.DB) {
		if _, ok, err := db.Watermark(ctx, syncer.JobGlobalOrgs); ok || err != nil {
			t.Fatalf("a job without a watermark: %v, %v", ok, err)
		}
		w := syncer.Watermark{Job: syncer.JobGlobalOrgs, At: t0, Seen: map[string]time.Time{"Account/001": t0.Add(-time.Minute)},
			Retry: []string{"0014M00001sGJ8xQAG"}, Tally: syncer.Tally{Since: t0.Truncate(time.Hour), Runs: 3, SalesforceCalls: 4, ZendeskCalls: 5}}
		if err := db.SaveWatermark(ctx, w); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.Watermark(ctx, syncer.JobGlobalOrgs)
		if err != nil || !ok || !got.At.Equal(t0) || !got.Seen["Account/001"].Equal(t0.Add(-time.Minute)) ||
			len(got.Retry) != 1 || got.Tally.Runs != 3 || got.Tally.ZendeskCalls != 5 {
			t.Fatalf("read back %+v, %v, %v", got, ok, err)
		}
		older := w
		older.At, older.Retry = t0.Add(-time.Hour), nil
		if err := db.SaveWatermark(ctx, older); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := db.Watermark(ctx, syncer.JobGlobalOrgs); !got.At.Equal(t0) || len(got.Retry) != 1 {
			t.Errorf("an older watermark replaced a later one: %+v", got)
		}
		if _, ok, _ := db.Watermark(ctx, syncer.JobFederalOrgs); ok {
			t.Error("another job has the watermark")
		}
	})
}

// Incremental runs are stored apart from full runs: the guards' last
// successful run is a full one, the digest finds the incremental runs
// that changed something by when they finished, and the status the
// latest of each kind.
func TestIncrementalRunsAreKeptApart(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	eachBackend(t, func(t *testing.T, db *store.DB) {
		runs := []*syncer.Summary{
			{RunID: "full", Job: syncer.JobGlobalOrgs, StartedAt: t0, FinishedAt: t0.Add(time.Minute), Fetched: 1000},
			{RunID: "inc-1", Job: syncer.JobGlobalOrgs, StartedAt: t0.Add(2 * time.Minute), FinishedAt: t0.Add(2 * time.Minute), Updated: 1,
				Incremental: &syncer.IncrementalRun{}},
			{RunID: "inc-quiet", Job: syncer.JobGlobalOrgs, StartedAt: t0.Add(3 * time.Minute), FinishedAt: t0.Add(3 * time.Minute), Unchanged: 4,
				Incremental: &syncer.IncrementalRun{}},
			{RunID: "inc-late", Job: syncer.JobFederalUsers, StartedAt: t0.Add(59 * time.Minute), FinishedAt: t0.Add(61 * time.Minute), Created: 2,
				Incremental: &syncer.IncrementalRun{}},
		}
		for _, s := range runs {
			if err := db.SaveRun(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if last, _, _ := db.LastSuccessfulRun(ctx, syncer.JobGlobalOrgs); last == nil || last.RunID != "full" {
			t.Errorf("last successful run = %+v, want the full one", last)
		}
		if latest, _, _ := db.LatestRun(ctx, syncer.JobGlobalOrgs, true); latest == nil || latest.RunID != "inc-quiet" || latest.Incremental == nil {
			t.Errorf("latest incremental run = %+v", latest)
		}
		if latest, _, _ := db.LatestRun(ctx, syncer.JobGlobalOrgs, false); latest == nil || latest.RunID != "full" {
			t.Errorf("latest full run = %+v", latest)
		}
		got, err := db.IncrementalRuns(ctx, t0, t0.Add(time.Hour))
		if err != nil || len(got) != 1 || got[0].RunID != "inc-1" {
			t.Errorf("incremental runs of the hour = %+v, %v; want inc-1 only (inc-late finished after the hour)", got, err)
		}
	})
}

// An alert is resolved once, by one caller.
func TestResolveAlert(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	eachBackend(t, func(t *testing.T, db *store.DB) {
		a := &syncer.Alert{Job: syncer.JobGlobalOrgs, Code: syncer.CodeBehind, Count: 1, FirstAt: t0, LastAt: t0}
		if err := db.SaveAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
		if done, err := db.ResolveAlert(ctx, a.ID, t0.Add(time.Minute)); !done || err != nil {
			t.Fatalf("resolve = %v, %v", done, err)
		}
		if done, err := db.ResolveAlert(ctx, a.ID, t0.Add(2*time.Minute)); done || err != nil {
			t.Errorf("second resolve = %v, %v; want false", done, err)
		}
		if _, open, _ := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeBehind); open {
			t.Error("still open")
		}
	})
}

// A run lock says whether an incremental run holds it.
func TestRunLockOfAnIncrementalRun(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	eachBackend(t, func(t *testing.T, db *store.DB) {
		l := syncer.RunLock{Name: "global-orgs", Holder: "inc", By: "schedule", Since: t0, Expires: t0.Add(time.Minute), Incremental: true}
		if ok, _, err := db.AcquireRunLock(ctx, l, t0); !ok || err != nil {
			t.Fatal(ok, err)
		}
		full := syncer.RunLock{Name: "global-orgs", Holder: "full", By: "schedule", Since: t0, Expires: t0.Add(time.Minute)}
		if ok, held, err := db.AcquireRunLock(ctx, full, t0); ok || err != nil || !held.Incremental || held.Holder != "inc" {
			t.Errorf("acquire by a full run = %v, %+v, %v; want refused by the incremental holder", ok, held, err)
		}
	})
}

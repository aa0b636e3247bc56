package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store"
)

// TestRunLock checks the lease behind "a job runs at most once at a time":
// one holder at a time, the second told who holds it and since when, a
// renewal by the holder only, a release, and an expired lease taken over.
func TestRunLock(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	lease := func(holder, by string, at time.Time) syncer.RunLock {
		return syncer.RunLock{Name: "global-orgs", Holder: holder, By: by, Since: at, Expires: at.Add(time.Minute)}
	}
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ok, _, err := db.AcquireRunLock(ctx, lease("run-a", "schedule", t0), t0)
		if err != nil || !ok {
			t.Fatalf("first acquire = %v, %v", ok, err)
		}
		ok, held, err := db.AcquireRunLock(ctx, lease("run-b", "UWRITER", t0.Add(time.Second)), t0.Add(time.Second))
		if err != nil || ok || held.Holder != "run-a" || held.By != "schedule" || !held.Since.Equal(t0) {
			t.Fatalf("second acquire = %v, %+v, %v; want refused, naming run-a since %s", ok, held, err, t0)
		}
		if err := db.RenewRunLock(ctx, lease("run-b", "", t0)); !errors.Is(err, syncer.ErrNotFound) {
			t.Errorf("renew by a non-holder = %v, want ErrNotFound", err)
		}
		renewed := lease("run-a", "schedule", t0)
		renewed.Expires = t0.Add(3 * time.Minute)
		if err := db.RenewRunLock(ctx, renewed); err != nil {
			t.Fatal(err)
		}
		// Past the first minute, the renewed lease still holds.
		if ok, _, _ := db.AcquireRunLock(ctx, lease("run-c", "cli", t0.Add(2*time.Minute)), t0.Add(2*time.Minute)); ok {
			t.Error("a renewed lease was taken before it expired")
		}
		// Once expired (its holder crashed), another run takes it.
		if ok, _, err := db.AcquireRunLock(ctx, lease("run-d", "cli", t0.Add(3*time.Minute)), t0.Add(3*time.Minute)); !ok || err != nil {
			t.Fatalf("acquire of an expired lease = %v, %v", ok, err)
		}
		if err := db.ReleaseRunLock(ctx, lease("run-a", "", t0)); err != nil { // no longer its: a no-op
			t.Fatal(err)
		}
		if ok, _, _ := db.AcquireRunLock(ctx, lease("run-e", "cli", t0.Add(4*time.Minute)), t0.Add(3*time.Minute)); ok {
			t.Error("a release by a former holder freed the lease")
		}
		if err := db.ReleaseRunLock(ctx, lease("run-d", "", t0)); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := db.AcquireRunLock(ctx, lease("run-f", "cli", t0.Add(4*time.Minute)), t0.Add(4*time.Minute)); !ok || err != nil {
			t.Fatalf("acquire after release = %v, %v", ok, err)
		}
	})
}

// TestRunLockRace lets many callers race for one lease: exactly one wins.
func TestRunLockRace(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 8 {
			wg.Go(func() {
				l := syncer.RunLock{Name: "federal-orgs", Holder: string(rune('a' + i)), Since: now, Expires: now.Add(time.Minute)}
				ok, _, err := db.AcquireRunLock(ctx, l, now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d callers took the lease, want 1", won)
		}
	})
}

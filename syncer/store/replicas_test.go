package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// Several replicas receiving one Slack envelope: exactly one claims it
// while it is remembered; once expired it is forgotten and deleted.
func TestEnvelopeIsClaimedOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		replicas := []interface {
			ClaimEnvelope(context.Context, string, time.Time, time.Duration) (bool, error)
		}{d.Open(t), d.Open(t), d.Open(t)}
		firsts := make(chan bool, 3*len(replicas))
		var wg sync.WaitGroup
		for _, r := range replicas {
			for range 3 {
				wg.Go(func() {
					first, err := r.ClaimEnvelope(ctx, "env-1", t0, 30*time.Minute)
					if err != nil {
						t.Error(err)
					}
					firsts <- first
				})
			}
		}
		wg.Wait()
		close(firsts)
		n := 0
		for f := range firsts {
			if f {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d replicas ran the envelope, want 1", n)
		}
		db := d.Open(t)
		if first, _ := db.ClaimEnvelope(ctx, "env-2", t0, 30*time.Minute); !first {
			t.Error("another envelope was taken for a redelivery")
		}
		if first, _ := db.ClaimEnvelope(ctx, "env-1", t0.Add(29*time.Minute), 30*time.Minute); first {
			t.Error("a redelivery within the window was claimed again")
		}
		if n, err := db.DeleteExpiredEnvelopes(ctx, t0.Add(30*time.Minute)); err != nil || n != 2 {
			t.Errorf("deleted %d expired envelopes (%v), want 2", n, err)
		}
		if first, _ := db.ClaimEnvelope(ctx, "env-1", t0.Add(31*time.Minute), 30*time.Minute); !first {
			t.Error("an envelope past its window was not forgotten")
		}
	})
}

// The quiet-runs status message is one for all replicas: one of them
// posts it, the counts every replica adds are kept, and at most one edit
// is claimed per interval, and only when there is something new to show.
func TestStatusMessageIsSharedByReplicas(t *testing.T) {
	ctx := context.Background()
	const ch = "CSUMMARY"
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		a, b := d.Open(t), d.Open(t)
		var wg sync.WaitGroup
		for i := range 40 {
			r := a
			if i%2 == 1 {
				r = b
			}
			wg.Go(func() {
				q := syncer.QuietRun{Job: syncer.JobCases, Last: t0.Add(time.Duration(i) * time.Second), Silent: i % 3 / 2, RunID: "run-c"}
				if err := r.CountQuietRun(ctx, ch, q, t0); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if err := a.CountQuietRun(ctx, ch, syncer.QuietRun{Job: syncer.JobGlobalOrgs, Last: t0, RunID: "run-g"}, t0); err != nil {
			t.Fatal(err)
		}
		runs, err := b.QuietRuns(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		byJob := map[syncer.Job]syncer.QuietRun{}
		for _, q := range runs {
			byJob[q.Job] = q
		}
		if c := byJob[syncer.JobCases]; c.Count != 40 || c.Silent != 13 || !c.Last.Equal(t0.Add(39*time.Second)) {
			t.Errorf("cases: %+v, want 40 runs, 13 silent, the last at +39s", c)
		}
		if g := byJob[syncer.JobGlobalOrgs]; g.Count != 1 || g.RunID != "run-g" {
			t.Errorf("global-orgs: %+v", g)
		}

		// One replica posts it.
		okA, _ := a.ClaimStatusPost(ctx, ch, t0, time.Minute)
		okB, _ := b.ClaimStatusPost(ctx, ch, t0, time.Minute)
		if !okA || okB {
			t.Fatalf("post claimed by a=%v b=%v, want a only", okA, okB)
		}
		if err := a.SetStatusMessage(ctx, ch, "1700.1", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.ClaimStatusPost(ctx, ch, t0.Add(2*time.Minute), time.Minute); ok {
			t.Error("a second status message was claimed")
		}
		// Nothing new since the post: no edit.
		if _, ok, _ := b.ClaimStatusEdit(ctx, ch, t0.Add(2*time.Minute), t0.Add(time.Minute)); ok {
			t.Error("an edit with nothing new to show")
		}
		// A new count: one edit, once the interval has passed.
		t1 := t0.Add(90 * time.Second)
		if err := b.CountQuietRun(ctx, ch, syncer.QuietRun{Job: syncer.JobCases, Last: t1}, t1); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := a.ClaimStatusEdit(ctx, ch, t1, t1.Add(-time.Minute*2)); ok {
			t.Error("an edit within the interval")
		}
		tsA, okA, _ := a.ClaimStatusEdit(ctx, ch, t1, t1.Add(-time.Minute))
		_, okB, _ = b.ClaimStatusEdit(ctx, ch, t1, t1.Add(-time.Minute))
		if !okA || okB || tsA != "1700.1" {
			t.Fatalf("edit claimed by a=%v (%q) b=%v, want a only", okA, tsA, okB)
		}
		if err := a.StatusShown(ctx, ch, tsA, t1.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		t2 := t1.Add(time.Hour)
		if _, ok, _ := b.ClaimStatusEdit(ctx, ch, t2, t2.Add(-time.Minute)); ok {
			t.Error("an edit after the counts were shown")
		}
		// A run that was not quiet ends its job's line: an edit shows it.
		if err := b.EndQuietRuns(ctx, ch, syncer.JobGlobalOrgs, t2); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.ClaimStatusEdit(ctx, ch, t2, t2.Add(-time.Minute)); !ok {
			t.Error("no edit after a job's quiet runs ended")
		}
		if runs, _ := a.QuietRuns(ctx, ch); len(runs) != 1 || runs[0].Job != syncer.JobCases || runs[0].Count != 41 {
			t.Errorf("quiet runs after global-orgs changed something: %+v", runs)
		}
		// Someone deleted the message: it is forgotten, and posted anew.
		if err := b.ForgetStatusMessage(ctx, ch, "1700.1"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := a.ClaimStatusPost(ctx, ch, t2, time.Minute); !ok {
			t.Error("a forgotten status message could not be posted again")
		}
	})
}

// Replicas failing alike at once each count their repeat of the open
// alert: none is lost to another's write. The run IDs keep the first and
// the newest.
func TestAlertRepeatsCountAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		db := d.Open(t)
		a := &syncer.Alert{Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Channel: "C1", TS: "1.0",
			Count: 1, FirstAt: t0, LastAt: t0, RunIDs: []string{"run-0"}}
		if err := db.SaveAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
		replicas := []interface {
			RepeatAlert(context.Context, int64, string, time.Time, int) (*syncer.Alert, error)
		}{db, d.Open(t), d.Open(t)}
		const each = 10
		var wg sync.WaitGroup
		for r, rep := range replicas {
			for i := range each {
				wg.Go(func() {
					if _, err := rep.RepeatAlert(ctx, a.ID, fmt.Sprintf("run-%d-%d", r, i), t0.Add(time.Minute), 5); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		got, ok, err := db.OpenAlert(ctx, a.Job, a.Code)
		if err != nil || !ok {
			t.Fatalf("OpenAlert = %v, %v", ok, err)
		}
		if want := 1 + len(replicas)*each; got.Count != want {
			t.Errorf("count = %d, want %d: repeats were lost", got.Count, want)
		}
		if len(got.RunIDs) != 5 || got.RunIDs[0] != "run-0" || !got.LastAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("run IDs %v, last at %v; want run-0 and the newest 4, last at %v", got.RunIDs, got.LastAt, t0.Add(time.Minute))
		}
		if _, err := db.ResolveAlerts(ctx, a.Job, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RepeatAlert(ctx, a.ID, "late", t0.Add(3*time.Minute), 5); !errors.Is(err, syncer.ErrNotFound) {
			t.Errorf("a repeat of a resolved alert = %v, want ErrNotFound", err)
		}
	})
}

package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// Two people press Apply on one preview on two replicas at once: the plan
// is applied once. The losing press, and any later one, is refused quietly
// (Summary.Refused: answered to the presser, never reported, so no failure
// summary and no alert), says who applied the plan and when, and is
// recorded under the plan's own job. An unknown plan is refused the same
// way, and recorded nowhere (it has no job).
func TestALosingApplyIsQuiet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		sb := startSandbox(t, sandbox.Options{Seed: 8, Accounts: 30, Now: now})
		first, repFirst := coreOver(t, sb, d.Open(t))
		second, repSecond := coreOver(t, sb, d.Open(t))
		preview := first.Run(ctx, syncer.Request{Job: syncer.JobFederalUsers, Options: syncer.Options{DryRun: true, SavePlan: true, By: "UWRITER"}})
		if !preview.OK() || preview.PlanID == "" {
			t.Fatalf("preview: %s (%s)", preview.Headline(), preview.Message)
		}
		apply := func(c interface {
			Run(context.Context, syncer.Request) *syncer.Summary
		}, by string) *syncer.Summary {
			return c.Run(ctx, syncer.Request{PlanID: preview.PlanID, Options: syncer.Options{By: by}})
		}

		// Hold the first apply inside its fetch, after it marked the plan
		// applied.
		entered, release := make(chan struct{}), make(chan struct{})
		var held atomic.Bool
		sb.Federal.OnRequest(func(string, string) {
			if held.CompareAndSwap(false, true) {
				close(entered)
				<-release
			}
		})
		done := make(chan *syncer.Summary, 1)
		go func() { done <- apply(first, "UFIRST") }()
		<-entered
		losing := apply(second, "USECOND")
		close(release)
		won := <-done
		sb.Federal.OnRequest(nil)
		if !won.OK() || won.Refused || won.Created+won.Updated == 0 {
			t.Fatalf("the first Apply: %s (%s), refused=%v", won.Headline(), won.Message, won.Refused)
		}
		later := apply(second, "USECOND")
		for name, s := range map[string]*syncer.Summary{"the press while it applied": losing, "a later press": later} {
			if !s.Refused || s.Code != syncer.CodePlanStale || s.Job != syncer.JobFederalUsers {
				t.Errorf("%s: refused=%v code %d job %q, want refused with code 11 under federal-users", name, s.Refused, s.Code, s.Job)
			}
			if !strings.Contains(s.Message, "already applied by <@UFIRST> at ") {
				t.Errorf("%s: %q, want who applied it and when", name, s.Message)
			}
		}
		var applies []*syncer.Summary
		for _, r := range append(repFirst.all(), repSecond.all()...) {
			if !r.DryRun {
				applies = append(applies, r)
			}
		}
		if len(applies) != 1 || applies[0].RunID != won.RunID {
			t.Errorf("reported %d applies, want only the one that won", len(applies))
		}
		saved, err := second.Store.ListRuns(ctx, syncer.JobFederalUsers, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range saved {
			found = found || r.RunID == later.RunID
		}
		if !found {
			t.Error("the refused Apply was not recorded under the plan's job")
		}

		unknown := second.Run(ctx, syncer.Request{PlanID: "no-such-plan", Options: syncer.Options{By: "USECOND"}})
		if !unknown.Refused || unknown.Job != "" || !strings.Contains(unknown.Message, "not found") {
			t.Errorf("unknown plan: refused=%v job %q %q", unknown.Refused, unknown.Job, unknown.Message)
		}
		if n := len(repSecond.all()); n != 0 {
			t.Errorf("the second replica reported %d runs", n)
		}
	})
}

// A press on an expired preview is refused quietly too.
func TestApplyOfAnExpiredPlanIsQuiet(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.Options{Seed: 8, Accounts: 30, Now: now})
	c, rep := coreOver(t, sb, storetest.SQLite(t).Open(t))
	preview := c.Run(ctx, syncer.Request{Job: syncer.JobFederalUsers, Options: syncer.Options{DryRun: true, SavePlan: true}})
	c.Runner.Now = func() time.Time { return now.Add(time.Hour) } // past PLAN_TTL
	before := len(rep.all())
	s := c.Run(ctx, syncer.Request{PlanID: preview.PlanID, Options: syncer.Options{By: "UWRITER"}})
	if !s.Refused || !strings.Contains(s.Message, "expired") {
		t.Errorf("apply of an expired plan: refused=%v %q", s.Refused, s.Message)
	}
	if n := len(rep.all()) - before; n != 0 {
		t.Errorf("%d runs reported", n)
	}
}

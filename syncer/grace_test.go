package syncer_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newEnvOn is newEnv on database d, with a fake clock at the sandbox's day.
func newEnvOn(t *testing.T, opts sandbox.Options, d storetest.Database) (*env, *clock) {
	t.Helper()
	e := newEnv(t, opts)
	e.db = d.Open(t)
	e.r.Store = e.db
	c := &clock{now: e.r.Now()}
	e.r.Now = c.Now
	return e, c
}

// renew gives an account an active subscription ending a year after now.
func renew(now time.Time) func(*salesforcetest.Account) {
	return func(a *salesforcetest.Account) {
		end := now.AddDate(1, 0, 0).Format(time.DateOnly)
		a.NextRenewalDate = end
		a.ZuoraSubscriptions = []salesforcetest.ZuoraSubscription{{Name: "A-S00099999", Status: "Active", EndDate: end, SupportLevel: "Premium", Number: "A-S00099999"}}
	}
}

func tagged(e *env, id int64, tag string) bool {
	o, ok := e.sb.Global.Org(id)
	return ok && slices.Contains(o.Tags, tag)
}

// TestGracePeriodBeforeDeletion: a greatly expired org is tagged
// zdsync_pending_deletion and listed with its deletion date; the tag goes
// when the account renews or someone tags the org do_not_delete; the first
// full run after DELETE_GRACE (on a fake clock) deletes the rest, except
// those with open tickets; a run of one account never does.
func TestGracePeriodBeforeDeletion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		e, clk := newEnvOn(t, sandbox.Options{Seed: 3, Accounts: 200}, d)
		const grace = 7 * 24 * time.Hour
		e.r.Rules.DeleteGrace = grace
		start := clk.Now()

		first := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if !first.OK() || first.Deleted != 0 || len(first.Pending) < 4 {
			t.Fatalf("first run: %s, %d newly pending (%s)", first.Headline(), len(first.Pending), first.Message)
		}
		for _, p := range first.Pending {
			if !tagged(e, p.OrgID, syncer.TagPendingDeletion) || !p.DeleteAfter.Equal(start.Add(grace)) || !p.New {
				t.Errorf("pending %+v: tagged %v", p, tagged(e, p.OrgID, syncer.TagPendingDeletion))
			}
		}
		for _, id := range e.sb.Protected[:2] { // tagged do_not_delete by a person
			if tagged(e, id, syncer.TagPendingDeletion) {
				t.Errorf("org %d tagged do_not_delete got the pending tag", id)
			}
		}
		var text strings.Builder
		first.WriteText(&text, 50)
		if !strings.Contains(text.String(), "newly pending deletion") ||
			!strings.Contains(text.String(), "to be deleted on or after "+start.Add(grace).Format(time.DateOnly)) {
			t.Errorf("the summary does not list the newly pending orgs with their date:\n%s", text.String())
		}
		if again := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); again.Created+again.Updated+again.Deleted != 0 || len(again.Pending) != 0 {
			t.Errorf("a second run: %s, %d newly pending", again.Headline(), len(again.Pending))
		}

		// One account renews; a person tags another org do_not_delete.
		ticketKept := map[int64]bool{e.sb.Protected[2]: true, e.sb.Protected[3]: true}
		var others []syncer.PendingDeletion // pending orgs without open tickets
		for _, p := range first.Pending {
			if !ticketKept[p.OrgID] {
				others = append(others, p)
			}
		}
		renewed, kept := others[0], others[1]
		e.sb.Salesforce.UpdateAccount(renewed.Account, renew(clk.Now()))
		o, _ := e.sb.Global.Org(kept.OrgID)
		if res := e.r.Global.UpdateOrgs(ctx, []syncer.OrgWrite{{ID: kept.OrgID, Tags: append(o.Tags, syncer.TagDoNotDelete)}}); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		clk.Add(3 * 24 * time.Hour)
		if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{}); !s.OK() || s.Deleted != 0 {
			t.Fatalf("run during the grace period: %s (%s)", s.Headline(), s.Message)
		}
		for _, p := range []syncer.PendingDeletion{renewed, kept} {
			if tagged(e, p.OrgID, syncer.TagPendingDeletion) {
				t.Errorf("org %d (%s) still pending after it renewed or was tagged do_not_delete", p.OrgID, p.Account)
			}
		}
		st, err := (&app.Core{Runner: e.r, Store: e.db}).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Deletions) != len(first.Pending)-2 || !st.Deletions[0].DeleteAfter.Equal(start.Add(grace)) {
			t.Errorf("status lists %d deletions in the next 7 days (%+v), want %d", len(st.Deletions), st.Deletions, len(first.Pending)-2)
		}

		// Past the grace: a run of one account does not delete; a full run does.
		clk.Add(4*24*time.Hour + time.Hour)
		victim := others[2]
		if s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{Account: victim.Account}); s.Deleted != 0 || !tagged(e, victim.OrgID, syncer.TagPendingDeletion) {
			t.Errorf("a run of one account deleted a pending org: %s", s.Headline())
		}
		last := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		want := 0
		for _, p := range first.Pending {
			if p == renewed || p == kept {
				continue
			}
			_, exists := e.sb.Global.Org(p.OrgID)
			switch {
			case ticketKept[p.OrgID] && (!exists || !tagged(e, p.OrgID, syncer.TagPendingDeletion)):
				t.Errorf("org %d with open tickets: exists %v, still pending %v", p.OrgID, exists, tagged(e, p.OrgID, syncer.TagPendingDeletion))
			case !ticketKept[p.OrgID] && exists:
				t.Errorf("org %d (%s) not deleted after the grace period", p.OrgID, p.Account)
			case !ticketKept[p.OrgID]:
				want++
			}
		}
		if last.Deleted != want || want == 0 {
			t.Errorf("last run deleted %d, want %d: %s", last.Deleted, want, last.Headline())
		}
		left, err := e.db.PendingDeletions(ctx, syncer.Global)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != len(ticketKept) {
			t.Errorf("pending after the deletions: %+v; want the %d orgs with open tickets", left, len(ticketKept))
		}

		// Undoing the first run takes the pending tag away from the orgs
		// still there, and they leave the list.
		undo := e.saved(t, e.r.Undo(ctx, first.RunID, "", syncer.Options{By: "UWRITER"}))
		if undo.Updated == 0 {
			t.Fatalf("undo of the first run: %s (%s)", undo.Headline(), undo.Message)
		}
		for id := range ticketKept {
			if tagged(e, id, syncer.TagPendingDeletion) {
				t.Errorf("org %d still tagged pending after the undo", id)
			}
		}
		if left, err := e.db.PendingDeletions(ctx, syncer.Global); err != nil || len(left) != 0 {
			t.Errorf("pending after the undo: %+v %v", left, err)
		}
	})
}

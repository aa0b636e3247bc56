package syncer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

func TestMassDeletionHeldForApproval(t *testing.T) {
	ctx := context.Background()
	t.Run("deletions above the threshold are held; approving applies exactly them", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		e.r.Rules.ApprovalThreshold = 2
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if s.HeldPlanID == "" || s.Deleted != 0 || s.Created == 0 || !s.OK() {
			t.Fatalf("run: %s held=%q (%s)", s.Headline(), s.HeldPlanID, s.Message)
		}
		p, err := e.db.GetPlan(ctx, s.HeldPlanID)
		if err != nil {
			t.Fatal(err)
		}
		held := map[int64]bool{}
		for _, c := range p.Changes {
			if c.Action != syncer.Delete {
				t.Fatalf("held plan has a %s", c.Action)
			}
			held[c.ID] = true
		}
		if len(held) <= 2 {
			t.Fatalf("held %d deletions", len(held))
		}
		for id := range held {
			if _, ok := e.sb.Global.Org(id); !ok {
				t.Fatalf("org %d deleted before approval", id)
			}
		}
		orgs := len(e.sb.Global.Orgs())
		a := e.r.ApplyPlan(ctx, p.ID, "UWRITER")
		if !a.OK() || a.Deleted != len(held) {
			t.Fatalf("approve: %s (%s) %v", a.Headline(), a.Message, a.Errors)
		}
		for id := range held {
			if _, ok := e.sb.Global.Org(id); ok {
				t.Errorf("approved org %d still there", id)
			}
		}
		if got := len(e.sb.Global.Orgs()); got != orgs-len(held) {
			t.Errorf("%d orgs, want %d: something else was deleted", got, orgs-len(held))
		}
		for _, id := range e.sb.Protected {
			if _, ok := e.sb.Global.Org(id); !ok {
				t.Errorf("protected org %d deleted by the approval", id)
			}
		}
	})
	t.Run("a discarded approval deletes nothing", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		e.r.Rules.ApprovalThreshold = 2
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if err := e.db.DiscardPlan(ctx, s.HeldPlanID, "UWRITER", e.r.Now()); err != nil {
			t.Fatal(err)
		}
		orgs := len(e.sb.Global.Orgs())
		a := e.r.ApplyPlan(ctx, s.HeldPlanID, "UWRITER")
		if a.OK() || !strings.Contains(a.Message, "discarded") || len(e.sb.Global.Orgs()) != orgs {
			t.Errorf("apply of a discarded plan: %s %q", a.Headline(), a.Message)
		}
	})
	t.Run("an org that got a ticket since the approval request is kept", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		e.r.Rules.ApprovalThreshold = 2
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		p, err := e.db.GetPlan(ctx, s.HeldPlanID)
		if err != nil {
			t.Fatal(err)
		}
		victim := p.Changes[0].ID
		e.sb.Global.AddTicket(syncer.Ticket{Subject: "new", Status: "open", OrgID: victim})
		a := e.r.ApplyPlan(ctx, p.ID, "UWRITER")
		if a.Deleted != len(p.Changes)-1 {
			t.Errorf("approve: %s", a.Headline())
		}
		if _, ok := e.sb.Global.Org(victim); !ok {
			t.Error("an org with an open ticket was deleted")
		}
	})
	t.Run("APPROVAL_THRESHOLD=0 holds every deletion for approval", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Seed: 3})
		e.r.Rules.ApprovalThreshold = 0
		orgs := len(e.sb.Global.Orgs())
		s := e.run(t, syncer.JobGlobalOrgs, syncer.Options{})
		if s.HeldPlanID == "" || s.Deleted != 0 || !s.OK() || len(e.sb.Global.Orgs()) < orgs {
			t.Errorf("run: %s held=%q (%s)", s.Headline(), s.HeldPlanID, s.Message)
		}
	})
}

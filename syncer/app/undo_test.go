package app_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// sameOrg compares what an undo restores of an org: name, external_id,
// tags and fields.
func sameOrg(a, b syncer.Org) bool {
	tags := func(o syncer.Org) []string { t := slices.Clone(o.Tags); slices.Sort(t); return t }
	return a.Name == b.Name && a.ExternalID == b.ExternalID && slices.Equal(tags(a), tags(b)) && maps.EqualFunc(a.Fields.Map(), b.Fields.Map(),
		func(x, y any) bool { return jsonText(x) == jsonText(y) })
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func byExternalID(orgs []syncer.Org) map[string]syncer.Org {
	m := map[string]syncer.Org{}
	for _, o := range orgs {
		if syncer.IsAccountID(o.ExternalID) {
			m[o.ExternalID] = o
		}
	}
	return m
}

func errorFor(s *syncer.Summary, key string, code syncer.Code) bool {
	return slices.ContainsFunc(s.Errors, func(e syncer.RecordError) bool { return e.Record == key && e.Code == code })
}

// TestUndo undoes a global-orgs run that created, updated and deleted
// orgs, through a stored plan as Slack's Apply does: deleted orgs come back
// with their fields, tags and members; updates revert; records changed
// since are skipped with code 11; undoing twice is refused (code 23); and
// the undo is undone in turn.
func TestUndo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		sb := startSandbox(t, sandbox.Options{Seed: 3, Accounts: 200, Now: now})
		db := d.Open(t)
		c, _ := coreOver(t, sb, db)
		c.Runner.Rules.DeleteGrace, c.Runner.Rules.ApprovalThreshold = 0, 1000

		plan := c.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{DryRun: true}})
		var doomed syncer.Change
		for _, ch := range plan.Changes {
			if ch.Action == syncer.Delete {
				doomed = ch
				break
			}
		}
		if doomed.ID == 0 {
			t.Fatal("the sandbox plans no deletion")
		}
		members := []int64{
			sb.Global.AddUser(syncer.User{Name: "Member One", Email: "one@doomed.example", OrgID: doomed.ID}),
			sb.Global.AddUser(syncer.User{Name: "Member Two", Email: "two@doomed.example", OrgID: doomed.ID}),
		}
		before := byExternalID(sb.Global.Orgs())
		run := c.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}})
		if !run.OK() || run.Created == 0 || run.Updated == 0 || run.Deleted == 0 {
			t.Fatalf("run: %s (%s)", run.Headline(), run.Message)
		}
		after := byExternalID(sb.Global.Orgs())

		// Since the run: a person edits a field it wrote, another org it
		// created gets a ticket, a third is renamed.
		var created, updated, deleted []string
		for _, ch := range run.Changes {
			switch {
			case ch.Kind != "org" || ch.AfterUsers:
			case ch.Action == syncer.Create:
				created = append(created, ch.Key)
			case ch.Action == syncer.Update && slices.ContainsFunc(ch.Diffs, func(d syncer.FieldDiff) bool { return d.Field == "account_owner" }):
				updated = append(updated, ch.Key)
			case ch.Action == syncer.Update:
				updated = append([]string{ch.Key}, updated...) // other updates first: the edited one is the last
			case ch.Action == syncer.Delete:
				deleted = append(deleted, ch.Key)
			}
		}
		edited, ticketed, renamed := updated[len(updated)-1], created[0], created[1]
		zd := c.Runner.Global
		for _, w := range []syncer.OrgWrite{
			{ID: after[edited].ID, Fields: map[string]any{"account_owner": "Someone Else"}},
			{ID: after[renamed].ID, Name: "Renamed By Hand"},
		} {
			if res := zd.UpdateOrgs(ctx, []syncer.OrgWrite{w}); res[0].Err != nil {
				t.Fatal(res[0].Err)
			}
		}
		sb.Global.AddTicket(syncer.Ticket{Subject: "New customer question", Status: "new", OrgID: after[ticketed].ID})

		preview := c.Run(ctx, syncer.Request{UndoOf: run.RunID, Options: syncer.Options{DryRun: true, SavePlan: true, By: "UWRITER"}})
		if preview.Job != syncer.JobGlobalOrgs || preview.UndoOf != run.RunID || preview.PlanID == "" || !preview.OK() {
			t.Fatalf("preview: job %q undo_of %q plan %q: %s (%s)", preview.Job, preview.UndoOf, preview.PlanID, preview.Headline(), preview.Message)
		}
		if preview.Created != len(deleted) || preview.Deleted != len(created)-2 {
			t.Errorf("preview %s; want %d re-created and %d deleted", preview.Headline(), len(deleted), len(created)-2)
		}
		writes := sb.Global.WriteCalls()
		undo := c.Run(ctx, syncer.Request{PlanID: preview.PlanID, Options: syncer.Options{By: "UWRITER"}})
		if undo.Job != syncer.JobGlobalOrgs || undo.UndoOf != run.RunID || undo.By != "UWRITER" || sb.Global.WriteCalls() == writes {
			t.Fatalf("undo: job %q undo_of %q by %q: %s (%s)", undo.Job, undo.UndoOf, undo.By, undo.Headline(), undo.Message)
		}
		for _, key := range []string{edited, ticketed, renamed} {
			if !errorFor(undo, key, syncer.CodePlanStale) {
				t.Errorf("record %s changed since the run is not reported with code 11: %+v", key, undo.Errors)
			}
		}
		if undo.Code != syncer.CodePlanStale || undo.Failed != 0 {
			t.Errorf("undo code %v, %d failed; want code 11 (the records skipped) and nothing failed: %+v", undo.Code, undo.Failed, undo.Errors)
		}

		now := byExternalID(sb.Global.Orgs())
		for _, key := range deleted {
			o, ok := now[key]
			if !ok || !sameOrg(o, before[key]) {
				t.Errorf("deleted org %s not restored: %+v, was %+v", key, o, before[key])
			}
		}
		restored, attached := now[doomed.Key], 0
		for _, u := range sb.Global.Users() {
			if slices.Contains(members, u.ID) && u.OrgID == restored.ID && restored.ID != 0 {
				attached++
			}
		}
		if attached != len(members) {
			t.Errorf("%d of the %d members of the deleted org are attached to the re-created org %d", attached, len(members), restored.ID)
		}
		for _, key := range updated {
			if key == edited {
				if o := now[key]; o.Fields.Get("account_owner") != "Someone Else" {
					t.Errorf("the field edited since was overwritten: %v", o.Fields.Get("account_owner"))
				}
				continue
			}
			if !sameOrg(now[key], before[key]) {
				t.Errorf("updated org %s not reverted:\n now %+v\n was %+v", key, now[key], before[key])
			}
		}
		for _, key := range created {
			_, exists := now[key]
			if exists != (key == ticketed || key == renamed) {
				t.Errorf("created org %s exists %v after the undo", key, exists)
			}
		}

		t.Run("an undo is refused the second time, whole or one record", func(t *testing.T) {
			for _, req := range []syncer.Request{
				{UndoOf: run.RunID, Options: syncer.Options{By: "UWRITER"}},
				{UndoOf: run.RunID, Options: syncer.Options{DryRun: true, SavePlan: true, By: "UWRITER"}},
				{UndoOf: run.RunID, UndoRecord: deleted[0], Options: syncer.Options{By: "UWRITER"}},
			} {
				again := c.Run(ctx, req)
				if again.Code != syncer.CodeAlreadyUndone || again.PlanID != "" || !strings.Contains(again.Message, "already undone by run "+undo.RunID) {
					t.Errorf("%+v: code %v %q", req, again.Code, again.Message)
				}
			}
			if again := c.Run(ctx, syncer.Request{PlanID: preview.PlanID, Options: syncer.Options{By: "UWRITER"}}); again.Code != syncer.CodePlanStale {
				t.Errorf("the applied undo plan applied again: %s", again.Message)
			}
		})
		t.Run("the history of the run names its undo, and who ran it", func(t *testing.T) {
			h, err := c.History(ctx, run.RunID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if h.Run == nil || h.Run.By != syncer.BySchedule || !slices.Equal(h.UndoneBy, []string{undo.RunID}) || len(h.Changes) == 0 {
				t.Errorf("history of the run: run %v, undone by %v (want %s), %d changes", h.Run != nil, h.UndoneBy, undo.RunID, len(h.Changes))
			}
			h, err = c.History(ctx, doomed.Key, 0)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, e := range h.Changes {
				lines = append(lines, syncer.HistoryLine(e))
			}
			if len(lines) < 3 || !strings.Contains(lines[0], "delete org") || !strings.Contains(lines[0], "by the schedule") ||
				!strings.Contains(lines[1], "create org") || !strings.Contains(lines[1], "undo of "+run.RunID) || !strings.Contains(lines[1], "by <@UWRITER>") {
				t.Errorf("history of the deleted org:\n%s", strings.Join(lines, "\n"))
			}
		})
		t.Run("an undo can be undone", func(t *testing.T) {
			redo := c.Run(ctx, syncer.Request{UndoOf: undo.RunID, Options: syncer.Options{By: "UONCALL"}})
			if redo.UndoOf != undo.RunID || redo.Deleted != len(deleted) || redo.Updated == 0 || redo.Failed != 0 {
				t.Fatalf("redo: %s (%s) %+v", redo.Headline(), redo.Message, redo.Errors)
			}
			now := byExternalID(sb.Global.Orgs())
			for _, key := range deleted {
				if _, ok := now[key]; ok {
					t.Errorf("org %s re-created by the undo is still there after its undo", key)
				}
			}
			if key := updated[0]; !sameOrg(now[key], after[key]) {
				t.Errorf("org %s is not as the run left it again:\n now %+v\n run %+v", key, now[key], after[key])
			}
		})
	})
}

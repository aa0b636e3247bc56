package syncer_test

import (
	"context"
	"slices"
	"testing"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// TestUndoFederalUsers undoes a federal-users run over HTTP: users it
// renamed get their names back, users it created stay (and are reported
// as left), a user renamed since is skipped with code 11; one record can
// be undone on its own, and then not again.
func TestUndoFederalUsers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{Seed: 21, Accounts: 20, FederalAccounts: 60})
	if s := e.run(t, syncer.JobFederalOrgs, syncer.Options{}); !s.OK() {
		t.Fatal(s.Message)
	}
	before := map[string]syncer.User{}
	for _, u := range e.sb.Federal.Users() {
		before[u.Email] = u
	}
	run := e.run(t, syncer.JobFederalUsers, syncer.Options{})
	var renamed []string
	created := 0
	for _, c := range run.Changes {
		switch {
		case c.Kind == "user" && c.Action == syncer.Update && slices.ContainsFunc(c.Diffs, func(d syncer.FieldDiff) bool { return d.Field == "name" }):
			renamed = append(renamed, c.Key)
		case c.Kind == "user" && c.Action == syncer.Create:
			created++
		}
	}
	if !run.OK() || len(renamed) < 3 || created == 0 {
		t.Fatalf("federal-users: %s, %d renamed", run.Headline(), len(renamed))
	}
	// One user is renamed by a person since the run; one is undone alone.
	since, alone := renamed[0], renamed[1]
	if res := e.r.Federal.UpsertUsers(ctx, []syncer.UserWrite{{Email: since, Name: "Renamed By Hand", OrgID: before[since].OrgID, Existing: true}}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	one := e.saved(t, e.r.Undo(ctx, run.RunID, alone, syncer.Options{By: "UWRITER"}))
	if one.Job != syncer.JobFederalUsers || one.UndoRecord != alone || one.Updated != 1 || !one.OK() {
		t.Fatalf("undo of %s alone: %s (%s)", alone, one.Headline(), one.Message)
	}
	if again := e.r.Undo(ctx, run.RunID, alone, syncer.Options{}); again.Code != syncer.CodeAlreadyUndone {
		t.Errorf("the same record undone twice: code %v %q", again.Code, again.Message)
	}

	undo := e.saved(t, e.r.Undo(ctx, run.RunID, "", syncer.Options{By: "UWRITER"}))
	if undo.Updated != len(renamed)-2 || undo.Code != syncer.CodePlanStale || !errorFor(undo, since, syncer.CodePlanStale) {
		t.Errorf("undo: %s, code %v, errors %+v", undo.Headline(), undo.Code, undo.Errors)
	}
	left := 0
	for _, c := range undo.Changes {
		if c.Kind == "user" && c.Action == syncer.Skip && c.SkipCode == syncer.CodeNone && c.Reason != "" {
			left++
		}
	}
	if left < created {
		t.Errorf("%d users reported left in place, the run created %d", left, created)
	}
	now := map[string]syncer.User{}
	for _, u := range e.sb.Federal.Users() {
		now[u.Email] = u
	}
	for _, email := range renamed {
		want := before[email].Name
		if email == since {
			want = "Renamed By Hand"
		}
		if now[email].Name != want {
			t.Errorf("user %s is named %q after the undo, want %q", email, now[email].Name, want)
		}
	}
}

func errorFor(s *syncer.Summary, key string, code syncer.Code) bool {
	return slices.ContainsFunc(s.Errors, func(e syncer.RecordError) bool { return e.Record == key && e.Code == code })
}

package syncer

import (
	"slices"
	"strings"
	"testing"
)

// deletion is the planned deletion of the org id of account key.
func deletion(id int64, key string, tags ...string) Change {
	return Change{Action: Delete, Kind: "org", Key: key, ID: id, Reason: "greatly expired",
		Before: mustJSON(Org{ID: id, ExternalID: key, Tags: tags})}
}

// TestGuard checks the guards, a pure function of the plan, the facts
// fetch gathered and the rules, case by case.
func TestGuard(t *testing.T) {
	rules := Rules{GreatlyExpiredYears: 3, MaxDeletes: 3, ShrinkRatio: 0.9, ApprovalThreshold: 50}
	update := Change{Action: Update, Kind: "org", Key: "001A", ID: 9}
	plan := Plan{Changes: []Change{update, deletion(1, "001B"), deletion(2, "001C", TagDoNotDelete), deletion(3, "001D")}}
	checked := map[int64]bool{1: false, 3: false}
	last := &Summary{RunID: "run-1", Fetched: 1000}
	tests := []struct {
		name    string
		plan    Plan
		facts   Facts
		rules   Rules
		deleted []int64 // the orgs still deleted
		reason  string  // in the reason of every refused deletion
		refusal Code    // the run's refusal, if any
		errors  int     // record errors
	}{
		{name: "a plan without deletions passes untouched", plan: Plan{Changes: []Change{update}}, rules: rules},
		{name: "orgs without open tickets are deleted, one tagged do_not_delete is kept",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, LastRun: last, OpenTickets: checked}, rules: rules,
			deleted: []int64{1, 3}, reason: "tagged do_not_delete"},
		{name: "an org with tickets that are not closed is kept",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, OpenTickets: map[int64]bool{1: true, 3: false}}, rules: rules,
			deleted: []int64{3}, reason: "not deleted"},
		{name: "an org whose tickets could not be checked is kept and reported",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, OpenTickets: map[int64]bool{3: false},
				TicketErrs: map[int64]error{1: Errorf(CodeOpenTimeout, "timeout")}}, rules: rules,
			deleted: []int64{3}, reason: "not deleted", errors: 1},
		{name: "an org whose tickets were never checked is kept",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, OpenTickets: map[int64]bool{3: false}}, rules: rules,
			deleted: []int64{3}, reason: "not deleted"},
		{name: "a full run whose result shrank below the ratio deletes nothing and is refused",
			plan: plan, facts: Facts{Full: true, Fetched: 800, LastRun: last, OpenTickets: checked}, rules: rules,
			reason: "below 90% of the 1000 of the last successful run run-1", refusal: CodeGuardRefused},
		{name: "a single-account run is not held to the shrink guard",
			plan: plan, facts: Facts{Fetched: 1, LastRun: last, OpenTickets: checked}, rules: rules, deleted: []int64{1, 3}},
		{name: "a last run that cannot be read refuses every deletion",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, LastRunErr: Errorf(CodeInternal, "db down"), OpenTickets: checked}, rules: rules,
			reason: "cannot read the last successful run", refusal: CodeGuardRefused},
		{name: "more deletions than the limit: none, and the run is refused",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, OpenTickets: checked}, rules: Rules{MaxDeletes: 2, ShrinkRatio: 0.9},
			reason: "3 deletions exceed the limit of 2", refusal: CodeGuardRefused},
		{name: "DELETE_LIMIT=0 deletes nothing, and the run does not fail for it",
			plan: plan, facts: Facts{Full: true, Fetched: 1000, OpenTickets: checked}, rules: Rules{MaxDeletes: 0, ShrinkRatio: 0.9},
			reason: "DELETE_LIMIT=0"},
		{name: "approved deletions pass the count guards but not the per-org ones",
			plan: plan, facts: Facts{Approved: true, Fetched: 800, LastRun: last, OpenTickets: map[int64]bool{1: true, 3: false}},
			rules: Rules{MaxDeletes: 0, ShrinkRatio: 0.9}, deleted: []int64{3}, reason: "not deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := string(mustJSON(tt.plan))
			v := guard(tt.plan, tt.facts, tt.rules)
			if string(mustJSON(tt.plan)) != before {
				t.Fatal("guard changed its input plan")
			}
			var deleted []int64
			for _, c := range v.Plan.Changes {
				switch {
				case c.Action == Delete:
					deleted = append(deleted, c.ID)
				case c.Kind == "org" && c.ID != update.ID && !strings.Contains(c.Reason, tt.reason):
					t.Errorf("org %d kept with reason %q, want %q", c.ID, c.Reason, tt.reason)
				}
			}
			if len(v.Plan.Changes) != len(tt.plan.Changes) || !slices.Equal(deleted, tt.deleted) {
				t.Errorf("deleted %v of %d changes, want %v", deleted, len(v.Plan.Changes), tt.deleted)
			}
			if got := ErrorCode(v.Refusal); got != tt.refusal {
				t.Errorf("refusal %v, want code %d", v.Refusal, tt.refusal)
			}
			if len(v.Errors) != tt.errors {
				t.Errorf("record errors %+v, want %d", v.Errors, tt.errors)
			}
		})
	}
}

// The orgs whose tickets fetch checks are those the count guards let be
// deleted, without the ones tagged do_not_delete.
func TestDeletionCandidates(t *testing.T) {
	plan := Plan{Changes: []Change{deletion(1, "001B"), deletion(2, "001C", TagDoNotDelete), deletion(3, "001D")}}
	if got := deletionCandidates(plan, Facts{Full: true}, Rules{MaxDeletes: 5}); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("candidates = %v, want [1 3]", got)
	}
	if got := deletionCandidates(plan, Facts{Full: true}, Rules{MaxDeletes: 2}); got != nil {
		t.Errorf("candidates over the limit = %v, want none: the limit refuses them all", got)
	}
	if got := deletionCandidates(plan, Facts{Approved: true}, Rules{MaxDeletes: 0}); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("approved candidates = %v, want [1 3]", got)
	}
}

package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// ApprovalTTL is how long held mass deletions can be approved.
const ApprovalTTL = 24 * time.Hour

// Facts are what the guards need to know besides the plan, gathered by the
// fetch stage (Runner.facts) before any guard runs.
type Facts struct {
	// Full is set for a run of every account (not one account).
	Full bool
	// Fetched is how many Salesforce records this run read.
	Fetched int
	// LastRun is the last successful full run of the job (nil when there
	// is none); LastRunErr says why it could not be read.
	LastRun    *Summary
	LastRunErr error
	// OpenTickets says, for each org the count guards would let be
	// deleted, whether it has tickets that are not closed; TicketErrs
	// holds the orgs whose tickets could not be checked.
	OpenTickets map[int64]bool
	TicketErrs  map[int64]error
	// Approved is set when a person approved the deletions (a held plan):
	// the count guards, which ask for that approval, do not apply.
	Approved bool
}

// Verdict is what the guards make of a plan: the plan with each refused
// deletion turned into a skip with its reason, the run's own refusal when
// the count guards refused every deletion (a *Error with CodeGuardRefused),
// and the orgs whose tickets could not be checked.
type Verdict struct {
	Plan    Plan
	Refusal error
	Errors  []RecordError
}

// guard refuses the deletions of a plan that look wrong, before anything is
// written: every deletion of a full run whose Salesforce result shrank
// below Rules.ShrinkRatio of the last successful run's, or of a run with
// more deletions than Rules.MaxDeletes (0 deletes nothing); and each
// deletion of an org tagged do_not_delete, with tickets that are not
// closed, or whose tickets could not be checked. It is pure: the facts
// come from fetch.
func guard(p Plan, f Facts, rules Rules) Verdict {
	v := Verdict{Plan: Plan{Changes: slices.Clone(p.Changes), Unchanged: p.Unchanged, Warnings: p.Warnings}}
	dels := v.Plan.deletions()
	if len(dels) == 0 {
		return v
	}
	if reason, refused := countGuard(len(dels), f, rules); reason != "" {
		for _, i := range dels {
			v.Plan.refuse(i, reason)
		}
		if refused {
			v.Refusal = Errorf(CodeGuardRefused, "%s", reason)
		}
		return v
	}
	for _, i := range dels {
		c := v.Plan.Changes[i]
		switch {
		case taggedDoNotDelete(c):
			v.Plan.refuse(i, "tagged "+TagDoNotDelete)
		case f.TicketErrs[c.ID] != nil:
			err := f.TicketErrs[c.ID]
			v.Plan.refuse(i, "could not check its tickets: "+ErrorMessage(err))
			code := ErrorCode(err)
			v.Errors = append(v.Errors, RecordError{Code: code, Name: code.Info().Name, Record: c.Key,
				Message: ErrorMessage(WithOp(err, "check tickets of org", fmt.Sprint(c.ID)))})
		default:
			switch open, checked := f.OpenTickets[c.ID]; {
			case !checked:
				v.Plan.refuse(i, "its tickets were not checked")
			case open:
				v.Plan.refuse(i, "has tickets that are not closed")
			}
		}
	}
	return v
}

// countGuard applies the guards on the run as a whole and returns why
// every deletion is refused ("" when none is), and whether that is a
// refusal of the run (a limit of 0 is a setting, not a refusal).
func countGuard(deletions int, f Facts, rules Rules) (reason string, refused bool) {
	switch {
	case f.Approved:
		return "", false
	case f.Full && f.LastRunErr != nil:
		return "cannot read the last successful run to check the shrink guard: " + ErrorMessage(f.LastRunErr), true
	case f.Full && f.LastRun != nil && f.LastRun.Fetched > 0 && float64(f.Fetched) < rules.ShrinkRatio*float64(f.LastRun.Fetched):
		return fmt.Sprintf("Salesforce returned %d accounts, below %.0f%% of the %d of the last successful run %s",
			f.Fetched, rules.ShrinkRatio*100, f.LastRun.Fetched, f.LastRun.RunID), true
	case rules.MaxDeletes == 0:
		return "deletions are turned off (DELETE_LIMIT=0)", false
	case deletions > rules.MaxDeletes:
		return fmt.Sprintf("%d deletions exceed the limit of %d per run", deletions, rules.MaxDeletes), true
	}
	return "", false
}

// deletionCandidates returns the orgs whose tickets the guards need
// checked: those of the deletions the count guards let through, except
// orgs tagged do_not_delete.
func deletionCandidates(p Plan, f Facts, rules Rules) []int64 {
	dels := p.deletions()
	if reason, _ := countGuard(len(dels), f, rules); reason != "" {
		return nil
	}
	var ids []int64
	for _, i := range dels {
		if !taggedDoNotDelete(p.Changes[i]) {
			ids = append(ids, p.Changes[i].ID)
		}
	}
	return ids
}

func taggedDoNotDelete(c Change) bool {
	var o Org
	_ = json.Unmarshal(c.Before, &o)
	return slices.Contains(o.Tags, TagDoNotDelete)
}

// deletions returns the indexes of the plan's deletions.
func (p *Plan) deletions() []int {
	var dels []int
	for i, c := range p.Changes {
		if c.Action == Delete {
			dels = append(dels, i)
		}
	}
	return dels
}

// refuse turns a planned deletion into a skip with its reason.
func (p *Plan) refuse(i int, reason string) {
	p.Changes[i].Action = Skip
	p.Changes[i].Reason = "not deleted: " + reason
}

// hold holds the plan's deletions for approval when there are more than
// Rules.ApprovalThreshold of them: they are stored as a plan for a person
// to approve (Summary.HeldPlanID) and skipped by this run. It is the only
// guard that writes. It returns the changes to apply.
func (r *Runner) hold(ctx context.Context, p Plan, s *Summary, by string) []Change {
	kept := p.deletions()
	if len(kept) <= r.Rules.ApprovalThreshold || r.Store == nil {
		return p.Changes
	}
	held := &StoredPlan{ID: NewID(r.now()), Job: s.Job, CreatedAt: r.now(), CreatedBy: by}
	held.ExpiresAt = held.CreatedAt.Add(ApprovalTTL)
	for _, i := range kept {
		held.Changes = append(held.Changes, p.Changes[i])
	}
	if err := r.Store.SavePlan(ctx, held); err != nil {
		for _, i := range kept {
			p.refuse(i, "could not hold for approval: "+err.Error())
		}
		s.Fail(Errorf(CodeInternal, "hold deletions for approval: %v", err))
		return p.Changes
	}
	for _, i := range kept {
		p.refuse(i, "held for approval in plan "+held.ID)
	}
	s.HeldPlanID = held.ID
	r.log().Warn("deletions held for approval", "job", s.Job, "run_id", s.RunID, "plan_id", held.ID, "deletions", len(kept))
	return p.Changes
}

package syncer

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// graceState reads from the store since when the Global orgs in their
// grace period have been pending (README, "Grace period before
// deletion"), for a global-orgs run with a grace period; a run of one
// account reads only its own. A store that cannot be read fails the run:
// planning without the dates would start every grace period again.
func (r *Runner) graceState(ctx context.Context, job Job, account string) (GraceState, error) {
	g := GraceState{Full: account == ""}
	if job != JobGlobalOrgs || r.Rules.DeleteGrace <= 0 || r.Store == nil {
		return g, nil
	}
	pending, err := r.Store.PendingDeletions(ctx, Global)
	if err != nil {
		return g, Errorf(CodeInternal, "read the orgs pending deletion: %v", err)
	}
	g.Since = make(map[string]time.Time, len(pending))
	for _, p := range pending {
		if account == "" || p.Account == account {
			g.Since[p.Account] = p.Since
		}
	}
	return g, nil
}

// settlePending records, after a global-orgs run wrote its changes, which
// orgs are in their grace period now: the pending orgs of the plan, except
// those this run failed to tag; an org deleted, renewed or tagged
// do_not_delete leaves the list. A full run replaces the whole list, a
// run of one account its own entry, an incremental run the entries of the
// accounts it read (only, see pendingScope). The orgs this run tagged are
// listed in the summary with their deletion date.
func (r *Runner) settlePending(ctx context.Context, p Plan, applied []Change, s *Summary, only []string) {
	if s.Job != JobGlobalOrgs || r.Store == nil {
		return
	}
	failed := failedRecords(s)
	deleted := map[string]bool{}
	for _, c := range applied {
		if c.Action == Delete && c.Kind == "org" && !failed[c.Key] {
			deleted[c.Key] = true
		}
	}
	var keep []PendingDeletion
	for _, pd := range p.Pending {
		if (pd.New && failed[pd.Account]) || deleted[pd.Account] {
			continue // not tagged (the next run tags it and its grace starts then), or gone
		}
		keep = append(keep, pd)
	}
	accounts := only // nil: the whole list
	if s.Account != "" {
		accounts = []string{s.Account}
	}
	if accounts != nil && len(accounts) == 0 {
		return // an incremental run that read no account
	}
	if err := r.Store.SavePending(ctx, Global, accounts, keep); err != nil {
		s.AddError("pending deletions", Errorf(CodeInternal, "record the orgs pending deletion: %v", err))
		return
	}
	s.Pending = newlyPending(keep)
}

// failedRecords are the records a run reported an error for.
func failedRecords(s *Summary) map[string]bool {
	failed := map[string]bool{}
	for _, e := range s.Errors {
		if e.Record != "" {
			failed[e.Record] = true
		}
	}
	return failed
}

// forgetPending drops from the grace-period list the orgs that a run
// that is not a full one (a stored plan, an undo) deleted, or whose
// pending tag it took away.
func (r *Runner) forgetPending(ctx context.Context, job Job, applied []Change, s *Summary) {
	if job != JobGlobalOrgs || r.Store == nil {
		return
	}
	failed := failedRecords(s)
	var gone []string
	for _, c := range applied {
		untagged := c.Action == Update && c.Org != nil && c.Org.Tags != nil && !slices.Contains(c.Org.Tags, TagPendingDeletion)
		if c.Kind == "org" && (c.Action == Delete || untagged) && !failed[c.Key] {
			gone = append(gone, c.Key)
		}
	}
	if len(gone) == 0 {
		return
	}
	if err := r.Store.SavePending(ctx, Global, gone, nil); err != nil {
		s.AddError("pending deletions", Errorf(CodeInternal, "forget the orgs no longer pending deletion: %v", err))
	}
}

// newlyPending returns the orgs a plan tags pending deletion.
func newlyPending(all []PendingDeletion) []PendingDeletion {
	var out []PendingDeletion
	for _, p := range all {
		if p.New {
			out = append(out, p)
		}
	}
	return out
}

// PendingLine renders one org pending deletion on one line, the same in
// summaries, the status and explain: "0015g00000ABCDEFGH Acme (org 123):
// to be deleted on or after 2026-12-02".
func PendingLine(p PendingDeletion) string {
	s := p.Account
	if p.Name != "" {
		s += " " + p.Name
	}
	if p.OrgID != 0 {
		s += fmt.Sprintf(" (org %d)", p.OrgID)
	}
	return s + ": to be deleted on or after " + p.DeleteAfter.UTC().Format(time.DateOnly)
}

// pendingScope returns the accounts whose grace-period entries a run may
// settle: nil (all of them) for a full run, the accounts it read for an
// incremental run, which knows nothing of the others.
func pendingScope(in *fetched, incremental bool) []string {
	if !incremental {
		return nil
	}
	ids := make([]string, 0, len(in.accounts))
	for _, a := range in.accounts {
		ids = append(ids, a.ID)
	}
	return ids
}

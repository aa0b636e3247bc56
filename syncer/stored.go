package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// fingerprint summarises the data a plan was computed from: the records
// read and the plan's changes, with the before-image of each record they
// change.
func (f *fetched) fingerprint(p Plan) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, v := range []any{f.accounts, f.contacts, f.orgs, f.users, p.Changes} {
		_ = enc.Encode(v)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// savePlan stores a dry run's plan — every change it lists, skips and
// their reasons included — so that Runner.ApplyPlan can execute exactly
// its changes within PlanTTL.
func (r *Runner) savePlan(ctx context.Context, s *Summary, in *fetched, p Plan, opts Options) {
	sp := &StoredPlan{ID: NewID(r.now()), Job: s.Job, Account: opts.Account, CreatedAt: r.now(), CreatedBy: opts.By,
		Fingerprint: in.fingerprint(p), Changes: p.Changes}
	sp.ExpiresAt = sp.CreatedAt.Add(r.PlanTTL)
	if err := r.Store.SavePlan(ctx, sp); err != nil {
		s.Fail(Errorf(CodeInternal, "save plan: %v", err))
		return
	}
	s.PlanID = sp.ID
}

// ApplyPlan applies a stored plan: exactly the changes it lists, each only
// if it still holds. It refuses an expired, discarded or already applied
// plan; it fetches and plans again, and a change whose record changed in
// Salesforce or Zendesk since the preview is skipped with CodePlanStale
// while the others apply. Approved deletions pass the per-org guards
// again, not the count guards their approval replaces.
func (r *Runner) ApplyPlan(ctx context.Context, id, by string) *Summary {
	start := r.now()
	s := NewSummary("", start) // the job is the plan's, once it is read
	s.PlanID = id
	ctx, calls := WithCallCounter(ctx)
	ctx, notices := WithNotices(ctx)
	defer func() { s.APICalls, s.Notices = calls(), notices(); s.Finish(r.now()) }()
	p, err := r.Store.GetPlan(ctx, id)
	if err != nil {
		s.Fail(&Error{Code: CodePlanStale, Message: fmt.Sprintf("plan %s: %s", id, ErrorMessage(err)), Err: err})
		return s
	}
	s.Job, s.Account = p.Job, p.Account
	if err := PlanApplicable(p, start); err != nil {
		s.Fail(err)
		return s
	}
	if err := r.Store.MarkPlanApplied(ctx, id, s.RunID, by, start); err != nil {
		s.Fail(&Error{Code: CodePlanStale, Message: fmt.Sprintf("plan %s: %s", id, ErrorMessage(err)), Err: err})
		return s
	}
	r.log().Info("applying stored plan", "job", p.Job, "run_id", s.RunID, "plan_id", id, "by", by, "changes", len(p.Changes))
	if p.UndoOf != "" {
		r.applyUndoPlan(ctx, p, s)
		return s
	}
	in, err := r.fetch(ctx, p.Job, p.Account)
	if err != nil {
		s.Fail(WithOp(err, "fetch", ""))
		return s
	}
	s.Fetched = in.count()
	still := stillPlanned(p, r.plan(p.Job, in), in, s)
	v := guard(still, r.facts(ctx, p.Job, still, s.Fetched, p.Account == "", true), r.Rules)
	s.guarded(v, r.log())
	r.apply(ctx, p.Job, v.Plan.Changes, s)
	r.forgetPending(ctx, p.Job, v.Plan.Changes, s)
	return s
}

// PlanApplicable refuses a discarded, applied or expired plan.
func PlanApplicable(p *StoredPlan, now time.Time) error {
	switch {
	case p.Discarded:
		return Errorf(CodePlanStale, "plan %s was discarded; make a new preview", p.ID)
	case !p.AppliedAt.IsZero():
		return Errorf(CodePlanStale, "plan %s was already applied%s at %s (run %s); nothing applied again", p.ID,
			ByWhom(p.AppliedBy), p.AppliedAt.UTC().Format("2006-01-02 15:04:05 UTC"), p.AppliedRun)
	case !now.Before(p.ExpiresAt):
		return Errorf(CodePlanStale, "plan %s expired at %s; make a new preview", p.ID, p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// stillPlanned returns the stored plan's changes that still hold against
// fresh, the plan made now from the same query: all of them when the data
// has not changed since the preview; otherwise each change that fresh
// plans the same way, the others skipped and reported with CodePlanStale.
// The preview's skips stay skips.
func stillPlanned(p *StoredPlan, fresh Plan, in *fetched, s *Summary) Plan {
	if in.fingerprint(fresh) == p.Fingerprint {
		return Plan{Changes: p.Changes}
	}
	now := map[string]Change{}
	for _, c := range fresh.Changes {
		now[c.Kind+"/"+c.Key] = c
	}
	var out Plan
	for _, c := range p.Changes {
		if c.Action != Skip {
			n, ok := now[c.Kind+"/"+c.Key]
			if why := stillHolds(c, n, ok); why != "" {
				s.Skipped++
				s.AddError(c.Key, &Error{Code: CodePlanStale, Message: "not applied: " + why})
				continue
			}
		}
		out.Changes = append(out.Changes, c)
	}
	return out
}

// stillHolds says why a planned change no longer holds against the change
// planned from fresh data ("" when it holds).
func stillHolds(planned, now Change, found bool) string {
	if !found {
		return "the record changed since the preview and needs no change now"
	}
	if now.Action != planned.Action {
		return fmt.Sprintf("the record changed since the preview: it now needs %s instead of %s", now.Action, planned.Action)
	}
	if string(now.Before) != string(planned.Before) {
		return "the record changed in Zendesk since the preview"
	}
	if now.ID != planned.ID || string(mustJSON(now.Org)) != string(mustJSON(planned.Org)) || string(mustJSON(now.User)) != string(mustJSON(planned.User)) {
		return "the record changed since the preview: the change would now be different"
	}
	return ""
}

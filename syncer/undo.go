package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Undo reverses an applied run, or one record of it (README, "Undo"). It
// is a run like any other: its summary has the undone run's job and
// UndoOf set to it, and its changes go to the audit with their
// before-images, so that an undo can be undone too. It plans from the
// run's audited changes and the records as they are now (PlanUndo), passes
// the guards, and applies; a dry run stops there and may store its plan
// (opts.SavePlan), which ApplyPlan applies exactly. A run already undone
// (or that record of it) is refused with CodeAlreadyUndone.
func (r *Runner) Undo(ctx context.Context, runID, record string, opts Options) *Summary {
	s := NewSummary("", r.now())
	s.DryRun, s.UndoOf, s.UndoRecord = opts.DryRun, runID, record
	ctx, calls := WithCallCounter(ctx)
	defer func() { s.APICalls = calls(); s.Finish(r.now()) }()
	u, err := r.planUndo(ctx, runID, record, s)
	if err != nil {
		s.Fail(err)
		return s
	}
	if u == nil {
		return s // nothing to undo: s says why
	}
	v := guard(u.plan, u.facts, r.Rules)
	s.guarded(v, r.log())
	if opts.DryRun {
		s.Changes = v.Plan.Changes
		s.countPlanned(v.Plan.Changes)
		if opts.SavePlan {
			sp := &StoredPlan{ID: NewID(r.now()), Job: s.Job, CreatedAt: r.now(), CreatedBy: opts.By, Fingerprint: u.fingerprint,
				Changes: v.Plan.Changes, UndoOf: runID, UndoRecord: record}
			sp.ExpiresAt = sp.CreatedAt.Add(r.PlanTTL)
			if err := r.Store.SavePlan(ctx, sp); err != nil {
				s.Fail(Errorf(CodeInternal, "save plan: %v", err))
				return s
			}
			s.PlanID = sp.ID
		}
		return s
	}
	r.log().Info("undoing run", "job", s.Job, "run_id", s.RunID, "undo_of", runID, "record", record, "by", opts.By)
	s.Changes = v.Plan.Changes
	r.apply(ctx, s.Job, v.Plan.Changes, s)
	r.forgetPending(ctx, s.Job, v.Plan.Changes, s)
	return s
}

// undoPlan is an undo planned: its plan, the facts its guards need and
// the fingerprint of the state it was planned from.
type undoPlan struct {
	plan        Plan
	facts       Facts
	fingerprint string
}

// planUndo checks that run runID can be undone (its record when record is
// set), reads the records it changed as they are now and plans the undo.
// It sets the summary's job. It returns nil, and no error, when there is
// nothing to undo (s.Message says so).
func (r *Runner) planUndo(ctx context.Context, runID, record string, s *Summary) (*undoPlan, error) {
	if r.Store == nil {
		return nil, Errorf(CodeInternal, "undo needs the store")
	}
	run, err := r.Store.GetRun(ctx, runID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "no run %s is recorded", runID)
	}
	if err != nil {
		return nil, Errorf(CodeInternal, "read run %s: %v", runID, err)
	}
	s.Job = run.Job
	switch {
	case !run.Job.IsSync():
		return nil, Errorf(CodeInvalidInput, "run %s is a %s run: only runs of global-orgs, federal-orgs and federal-users can be undone", runID, run.Job)
	case run.DryRun:
		return nil, Errorf(CodeInvalidInput, "run %s was a dry run: it changed nothing", runID)
	}
	all, err := r.Store.Changes(ctx, runID)
	if err != nil {
		return nil, Errorf(CodeInternal, "read the changes of run %s: %v", runID, err)
	}
	done, err := r.undone(ctx, runID, record, s.RunID)
	if err != nil {
		return nil, err
	}
	var applied []AppliedChange
	for _, c := range all {
		if c.Code != CodeNone || c.Action == Skip || (record != "" && c.Key != record) {
			continue
		}
		applied = append(applied, c)
	}
	if len(applied) == 0 {
		if record != "" {
			return nil, Errorf(CodeNotFound, "run %s changed no record %s", runID, record)
		}
		s.Message = "run " + runID + " changed nothing: nothing to undo"
		return nil, nil
	}
	var kept []AppliedChange
	var skips []Change
	for _, c := range applied {
		if by, ok := done[c.Key]; ok {
			if !slices.ContainsFunc(skips, func(k Change) bool { return k.Kind == c.Kind && k.Key == c.Key }) {
				skips = append(skips, Change{Action: Skip, Kind: c.Kind, Key: c.Key, Name: c.Name, Reason: "already undone by run " + by})
			}
			continue
		}
		kept = append(kept, c)
	}
	state, err := r.undoState(ctx, run.Job, kept)
	if err != nil {
		return nil, WithOp(err, "read the records run "+runID+" changed", "")
	}
	p := PlanUndo(runID, kept, state)
	p.Changes = append(skips, p.Changes...)
	u := &undoPlan{plan: p, facts: Facts{OpenTickets: map[int64]bool{}, TicketErrs: map[int64]error{}}}
	for _, c := range p.Changes {
		if c.Action == Delete {
			u.facts.OpenTickets[c.ID] = false // PlanUndo deletes only orgs without any ticket
		}
	}
	u.fingerprint = undoFingerprint(state, p)
	return u, nil
}

// undone refuses an undo that was applied already — the whole run, or
// this record of it — by an earlier undo that changed something. For an
// undo of the whole run after undos of some of its records, it returns
// those records (with the run that undid each), which the undo leaves
// out. self is the undo being planned.
func (r *Runner) undone(ctx context.Context, runID, record, self string) (map[string]string, error) {
	undos, err := r.Store.UndoRuns(ctx, runID)
	if err != nil {
		return nil, Errorf(CodeInternal, "read the undos of run %s: %v", runID, err)
	}
	done := map[string]string{}
	for _, u := range undos {
		if u.RunID == self {
			continue
		}
		changes, err := r.Store.Changes(ctx, u.RunID)
		if err != nil {
			return nil, Errorf(CodeInternal, "read the changes of run %s: %v", u.RunID, err)
		}
		var keys []string
		for _, c := range changes {
			if c.Code == CodeNone && c.Action != Skip {
				keys = append(keys, c.Key)
			}
		}
		if len(keys) == 0 {
			continue // it changed nothing: nothing was undone
		}
		refuse := func(what string) error {
			return Errorf(CodeAlreadyUndone, "%s was already undone by run %s (started %s by %s); to put the changes back, undo run %s",
				what, u.RunID, u.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), ByWho(u.By), u.RunID)
		}
		switch {
		case u.UndoRecord == "" && record == "":
			return nil, refuse("run " + runID)
		case u.UndoRecord == "" || u.UndoRecord == record:
			if record != "" && slices.Contains(keys, record) {
				return nil, refuse("record " + record + " of run " + runID)
			}
		}
		for _, k := range keys {
			done[k] = u.RunID
		}
	}
	return done, nil
}

// undoState reads the records the changes touched, as they are now: the
// orgs by external ID, the users by e-mail, and whether each org the run
// created has tickets.
func (r *Runner) undoState(ctx context.Context, job Job, changes []AppliedChange) (UndoState, error) {
	zd, _ := r.target(job)
	var st UndoState
	var exts, emails []string
	created := map[int64]bool{}
	for _, c := range changes {
		switch c.Kind {
		case "org":
			if !slices.Contains(exts, c.Key) {
				exts = append(exts, c.Key)
			}
			if c.Action == Create {
				created[c.ID] = true
			}
		case "user":
			emails = append(emails, c.Key)
		}
	}
	if len(exts) > 0 {
		if err := zd.EachOrgByExternalID(ctx, exts, func(page []Org) { st.Orgs = append(st.Orgs, page...) }); err != nil {
			return st, err
		}
	}
	if len(emails) > 0 {
		var err error
		if st.Users, err = zd.UsersByEmail(ctx, emails); err != nil {
			return st, err
		}
	}
	slices.SortFunc(st.Orgs, func(a, b Org) int { return int(a.ID - b.ID) })
	st.Tickets = map[int64]bool{}
	for _, o := range st.Orgs {
		if !created[o.ID] {
			continue
		}
		has, err := zd.OrgHasTickets(ctx, o.ID)
		if err != nil {
			return st, WithOp(err, "check the tickets of org", fmt.Sprint(o.ID))
		}
		st.Tickets[o.ID] = has
	}
	return st, nil
}

// undoFingerprint summarises the state an undo was planned from and its
// plan: a stored undo applies unchanged only if both are the same again.
func undoFingerprint(st UndoState, p Plan) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, v := range []any{st.Orgs, st.Users, st.Tickets, p.Changes} {
		_ = enc.Encode(v)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// applyUndoPlan applies a stored undo plan: the undo is checked and
// planned again (an undo applied meanwhile refuses it), and the stored
// changes apply only as far as the fresh plan makes exactly the same ones;
// the others are skipped with CodePlanStale.
func (r *Runner) applyUndoPlan(ctx context.Context, p *StoredPlan, s *Summary) {
	s.UndoOf, s.UndoRecord = p.UndoOf, p.UndoRecord
	u, err := r.planUndo(ctx, p.UndoOf, p.UndoRecord, s)
	if err != nil {
		s.Fail(err)
		return
	}
	changes := p.Changes
	if u == nil {
		changes = nil
	} else if u.fingerprint != p.Fingerprint {
		fresh := map[string]bool{}
		for _, c := range u.plan.Changes {
			fresh[string(mustJSON(c))] = true
		}
		changes = nil
		for _, c := range p.Changes {
			if c.Action != Skip && !fresh[string(mustJSON(c))] {
				s.Skipped++
				s.AddError(c.Key, &Error{Code: CodePlanStale, Message: "not applied: the record changed since the preview"})
				continue
			}
			changes = append(changes, c)
		}
	}
	facts := Facts{OpenTickets: map[int64]bool{}}
	if u != nil {
		facts = u.facts
	}
	v := guard(Plan{Changes: changes}, facts, r.Rules)
	s.guarded(v, r.log())
	s.Changes = v.Plan.Changes
	r.apply(ctx, p.Job, v.Plan.Changes, s)
	r.forgetPending(ctx, p.Job, v.Plan.Changes, s)
}

// UndoLine says in one line what an undo plan or run reverses.
func UndoLine(runID, record string) string {
	if record != "" {
		return fmt.Sprintf("undo of record %s of run %s", record, runID)
	}
	return "undo of run " + runID
}

package syncer

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// defaultApplyBatch is Runner.ApplyBatch's default.
const defaultApplyBatch = 2000

// apply is the apply stage: it executes the changes — org creates and
// updates (concurrently), then users (sold-to users get the ID of their new
// org), then the clearing of sold_to_pending, then deletions — and counts
// each outcome, reports failures with their code and writes every outcome
// to the audit.
func (r *Runner) apply(ctx context.Context, job Job, changes []Change, s *Summary) {
	zd, _ := r.target(job)
	a := &applier{r: r, ctx: ctx, job: job, s: s, newOrg: map[string]int64{}, usersFailed: map[string]bool{}}
	var creates, updates, members, users, deletes, settles []Change
	for _, c := range changes {
		switch {
		case c.AfterUsers:
			settles = append(settles, c)
		case c.Action == Skip:
			s.Skipped++
			if c.SkipCode != CodeNone && !s.DryRun {
				s.AddError(c.Key, &Error{Code: c.SkipCode, Message: c.Reason})
			}
		case c.Kind == "membership":
			members = append(members, c)
		case c.Kind == "user":
			users = append(users, c)
		case c.Action == Create:
			creates = append(creates, c)
		case c.Action == Update:
			updates = append(updates, c)
		case c.Action == Delete:
			deletes = append(deletes, c)
		}
	}
	a.total = len(creates) + len(updates) + len(members) + len(users) + len(deletes) + len(settles)
	var wg sync.WaitGroup
	wg.Go(func() {
		a.step("org creates", creates, func(cs []Change) []WriteResult { return zd.CreateOrgs(ctx, orgWrites(cs)) })
	})
	wg.Go(func() {
		a.step("org updates", updates, func(cs []Change) []WriteResult { return zd.UpdateOrgs(ctx, orgWrites(cs)) })
	})
	wg.Wait()
	a.step("memberships", a.membersReady(members), func(cs []Change) []WriteResult {
		ms := make([]Membership, len(cs))
		for i, c := range cs {
			ms[i] = *c.Member
		}
		return zd.AddMembers(ctx, ms)
	})
	a.step("users", a.usersReady(users), func(cs []Change) []WriteResult {
		ws := make([]UserWrite, len(cs))
		for i, c := range cs {
			ws[i] = *c.User
		}
		if job == JobGlobalOrgs {
			return zd.CreateUsers(ctx, ws)
		}
		return zd.UpsertUsers(ctx, ws)
	})
	a.step("sold-to markers", a.settlesReady(settles), func(cs []Change) []WriteResult { return zd.UpdateOrgs(ctx, orgWrites(cs)) })
	a.step("org deletions", a.withMembers(zd, deletes), func(cs []Change) []WriteResult {
		ids := make([]int64, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		return zd.DeleteOrgs(ctx, ids)
	})
}

// maxMemberReads is how many org membership listings the deletion step
// has in flight at once (each deletion's before-image keeps its members).
const maxMemberReads = 8

// withMembers reads the memberships of each org to delete into its
// before-image (a DeletedOrg), so that an undo can attach the users
// again. An org whose members cannot be read is not deleted: its
// deletion fails with the read's code, and the next run tries again.
func (a *applier) withMembers(zd Zendesk, deletes []Change) []Change {
	ready := make([]Change, len(deletes))
	errs := make([]error, len(deletes))
	sem := make(chan struct{}, maxMemberReads)
	var wg sync.WaitGroup
	for i, c := range deletes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			members, err := zd.OrgMembers(a.ctx, c.ID)
			if err != nil {
				errs[i] = WithOp(err, "read the members of org", fmt.Sprint(c.ID))
				return
			}
			var d DeletedOrg
			_ = json.Unmarshal(c.Before, &d.Org)
			d.Members = append([]Membership{}, members...)
			c.Before = mustJSON(d)
			ready[i] = c
		})
	}
	wg.Wait()
	var out, failed []Change
	var results []WriteResult
	for i, c := range deletes {
		if errs[i] != nil {
			failed = append(failed, c)
			results = append(results, WriteResult{ID: c.ID, Err: errs[i]})
			continue
		}
		out = append(out, ready[i])
	}
	if len(failed) > 0 {
		a.record(failed, results)
	}
	return out
}

// membersReady gives the memberships of orgs created in this run (an
// undo's re-created orgs) their org's ID; one whose org was not created is
// skipped (the org's failure is reported).
func (a *applier) membersReady(members []Change) []Change {
	var ready []Change
	for _, c := range members {
		if c.Member.OrgID == 0 {
			id, ok := a.newOrg[c.Parent]
			if !ok {
				a.s.Skipped++
				continue
			}
			m := *c.Member
			m.OrgID = id
			c.Member = &m
		}
		ready = append(ready, c)
	}
	return ready
}

// applier is one apply stage under way.
type applier struct {
	r   *Runner
	ctx context.Context
	job Job

	mu          sync.Mutex
	s           *Summary
	newOrg      map[string]int64 // account ID → ID of the org created for it
	usersFailed map[string]bool  // accounts with a sold-to user not created
	total, done int
}

// step writes list in batches of Runner.ApplyBatch, recording each batch's
// outcomes.
func (a *applier) step(kind string, list []Change, write func([]Change) []WriteResult) {
	batch := cmp.Or(a.r.ApplyBatch, defaultApplyBatch)
	for start := 0; start < len(list); start += batch {
		part := list[start:min(start+batch, len(list))]
		a.record(part, write(part))
		a.mu.Lock()
		a.done += len(part)
		n := a.done
		a.mu.Unlock()
		a.r.progress(a.job, "Zendesk: %d/%d changes applied (%s)", n, a.total, kind)
	}
}

// record counts the outcome of each written change and writes them to the
// audit.
func (a *applier) record(batch []Change, results []WriteResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.s
	audit := make([]AppliedChange, len(batch))
	for i, c := range batch {
		res := results[i]
		ac := AppliedChange{Change: c, At: a.r.now()}
		switch {
		case res.Exists:
			s.Skipped++
			ac.Action, ac.Reason = Skip, "a user with this e-mail already exists; left as it is"
		case res.Err != nil:
			s.Failed++
			s.AddError(c.Key, res.Err)
			if c.Kind == "user" && c.Parent != "" {
				a.usersFailed[c.Parent] = true
			}
			ac.Code, ac.Message = ErrorCode(res.Err), ErrorMessage(res.Err)
			a.r.log().Warn("write failed", "job", a.job, "run_id", s.RunID, "action", c.Action, "kind", c.Kind, "key", c.Key,
				"code", int(ac.Code), "err", ac.Message)
		default:
			if counted(c) {
				s.count(c.Action)
			}
			if c.Kind == "org" && c.Action == Create {
				a.newOrg[c.Key] = res.ID
			}
			if ac.ID == 0 {
				ac.ID = res.ID
			}
		}
		audit[i] = ac
	}
	if a.r.Store == nil {
		return
	}
	if err := a.r.Store.RecordChanges(context.WithoutCancel(a.ctx), s.RunID, audit); err != nil {
		a.r.log().Error("audit", "job", a.job, "run_id", s.RunID, "err", err)
		s.AddError("audit", fmt.Errorf("record changes: %w", err))
	}
}

// usersReady gives the sold-to users of orgs created in this run their
// org's ID; a user whose org was not created is skipped (the org's failure
// is reported).
func (a *applier) usersReady(users []Change) []Change {
	var ready []Change
	for _, c := range users {
		if c.Parent != "" && c.User.OrgID == 0 {
			id, ok := a.newOrg[c.Parent]
			if !ok {
				a.s.Skipped++
				a.usersFailed[c.Parent] = true
				continue
			}
			u := *c.User
			u.OrgID = id
			c.User = &u
		}
		ready = append(ready, c)
	}
	return ready
}

// settlesReady returns the clearings of sold_to_pending whose org exists
// and whose users were all created.
func (a *applier) settlesReady(settles []Change) []Change {
	var ready []Change
	for _, c := range settles {
		if c.ID == 0 {
			c.ID = a.newOrg[c.Key]
			w := *c.Org
			w.ID = c.ID
			c.Org = &w
		}
		if c.ID != 0 && !a.usersFailed[c.Key] {
			ready = append(ready, c)
		}
	}
	return ready
}

func orgWrites(cs []Change) []OrgWrite {
	out := make([]OrgWrite, len(cs))
	for i, c := range cs {
		out[i] = *c.Org
	}
	return out
}

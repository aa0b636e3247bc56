package syncer

import (
	"context"
	"slices"
	"time"
)

// The incremental run of a sync job (README, "Near real time"): the fetch
// stage reads only what changed in Salesforce since the job's watermark,
// and the rest of the pipeline — plan, guard, apply — is a full run's, so
// that every account is judged by the same rules. Incremental runs never
// delete: deleting greatly expired orgs is left to full runs (expiry comes
// with time, not with an edit).
//
// The window read starts at the watermark (or at the start of the last
// successful full run, when that is later: that run read everything
// before it) less Runner.Overlap, which catches a change committed after
// the watermark with an older SystemModstamp (a long transaction, the
// clocks of zdsync and Salesforce a little apart). The records read twice
// thanks to the overlap cost one detection query, not a read: the
// watermark keeps the versions already carried over (Watermark.Seen).
// A run that did its work moves the watermark to when it started reading
// (what was committed during the run is after it); the accounts whose
// changes failed to apply stay on Watermark.Retry, read again by every
// run until they apply. A run that failed as a whole leaves the watermark
// where it was.

// increment is one incremental run under way: its window and what it
// read.
type increment struct {
	src     ChangeSource
	prev    Watermark
	from    time.Time // the window's start
	advance bool      // a success moves the watermark (not a --since window later than the job's)
	start   time.Time // when the run started reading: the next watermark
	mods    []Modified
	fresh   int
	retried int
	sfCalls func() int
}

// startIncrement works out the window of an incremental run of job.
func (r *Runner) startIncrement(ctx context.Context, job Job, opts Options) (*increment, error) {
	src := r.Salesforce
	if src == nil || r.Watermarks == nil {
		return nil, Errorf(CodeInternal, "incremental runs need Salesforce and a watermark store")
	}
	wm, _, err := r.Watermarks.Watermark(ctx, job)
	if err != nil {
		return nil, WithOp(err, "read the watermark of", string(job))
	}
	wm.Job = job
	var last *Summary
	if r.Store != nil {
		if last, _, err = r.Store.LastSuccessfulRun(ctx, job); err != nil {
			return nil, WithOp(err, "read the last successful run of", string(job))
		}
	}
	base := wm.Caught(last)
	if base.IsZero() {
		base = r.now()
		r.log().Warn("no watermark and no successful full run: reading the changes from now on", "job", job)
	}
	inc := &increment{src: src, prev: wm, from: base.Add(-r.Overlap), advance: true}
	if !opts.Since.IsZero() {
		// A window later than the job's would skip changes: it reads,
		// but the watermark stays.
		inc.advance = !opts.Since.After(inc.from)
		inc.from = opts.Since
	}
	return inc, nil
}

// fetchChanged is the fetch stage of an incremental run: what changed in
// Salesforce since the window's start, the accounts (or federal
// contacts) behind it read with the job's documented query, and their
// orgs (and users) in Zendesk.
func (r *Runner) fetchChanged(ctx context.Context, job Job, inc *increment) (*fetched, error) {
	sfCtx, sfCalls := WithCallCounter(ctx)
	inc.sfCalls = sfCalls
	inc.start = r.now()
	mods, err := inc.src.Modified(sfCtx, job, inc.from)
	if err != nil {
		return nil, err
	}
	inc.mods = mods
	ids := inc.accountsToRead()
	zd, scope := r.target(job)
	f := &fetched{scope: scope}
	// The grace periods under way, so that an account read again keeps
	// its org's since-date; an incremental run deletes nothing (not Full).
	if f.grace, err = r.graceState(ctx, job, ""); err != nil {
		return nil, err
	}
	f.grace.Full = false
	r.progress(job, "Salesforce: %d records changed since %s, %d accounts to read", len(mods), inc.from.UTC().Format(time.RFC3339), len(ids))
	if len(ids) == 0 {
		return f, nil
	}
	sink := func(page []Org) { f.orgs = append(f.orgs, page...) }
	if job != JobFederalUsers {
		if f.accounts, err = inc.src.AccountsByID(sfCtx, scope, ids); err != nil {
			return nil, err
		}
		keys := accountKeys(f.accounts, func(a Account) string { return a.ID })
		if len(keys) == 0 {
			return f, nil
		}
		return f, zd.EachOrgByExternalID(ctx, keys, sink)
	}
	if f.contacts, err = r.changedContacts(sfCtx, inc.src, ids); err != nil {
		return nil, err
	}
	emails := contactEmails(f.contacts)
	g := newGroup(ctx)
	if len(emails) > 0 {
		g.Go(func(ctx context.Context) (err error) { f.users, err = zd.UsersByEmail(ctx, emails); return err })
	}
	if keys := accountKeys(f.contacts, func(c Contact) string { return c.AccountID }); len(keys) > 0 {
		g.Go(func(ctx context.Context) error { return zd.EachOrgByExternalID(ctx, keys, sink) })
	}
	return f, g.Wait()
}

// changedContacts reads the federal contacts of the accounts ids, and the
// other contacts with their e-mails: an e-mail on contacts of two
// accounts is ambiguous whichever of them changed, as in a full run.
func (r *Runner) changedContacts(ctx context.Context, src ChangeSource, ids []string) ([]Contact, error) {
	contacts, err := src.FederalContactsByAccount(ctx, ids)
	if err != nil {
		return nil, err
	}
	emails := contactEmails(contacts)
	if len(emails) == 0 {
		return contacts, nil
	}
	more, err := src.FederalContactsByEmail(ctx, emails)
	if err != nil {
		return nil, err
	}
	return append(contacts, more...), nil
}

// accountsToRead returns the accounts of the changed records not carried
// over yet, and those to retry, sorted.
func (inc *increment) accountsToRead() []string {
	want := map[string]bool{}
	for _, m := range inc.mods {
		if seen, ok := inc.prev.Seen[m.key()]; ok && seen.Equal(m.Stamp) {
			continue
		}
		inc.fresh++
		if IsAccountID(m.AccountID) {
			want[m.AccountID] = true
		}
	}
	for _, id := range inc.prev.Retry {
		if IsAccountID(id) {
			want[id] = true
			inc.retried++
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// accountKeys returns the distinct account IDs of records, sorted.
func accountKeys[T any](records []T, id func(T) string) []string {
	var out []string
	for _, rec := range records {
		if k := id(rec); IsAccountID(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// contactEmails returns the distinct usable e-mails of contacts,
// normalized, sorted.
func contactEmails(contacts []Contact) []string {
	var out []string
	for _, c := range contacts {
		if e := NormalizeEmail(c.Email); ValidEmail(e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// leaveDeletions turns the deletions of an incremental run's plan into
// skips: deleting greatly expired orgs is left to full runs.
func leaveDeletions(p Plan) Plan {
	for i, c := range p.Changes {
		if c.Action == Delete {
			p.Changes[i].Action = Skip
			p.Changes[i].Reason = "not deleted: " + c.Reason + "; incremental runs leave deletions to full runs"
		}
	}
	return p
}

// report fills the incremental part of a run's summary (nothing for a run
// that is not incremental); calls is the run's count of API calls.
func (inc *increment) report(s *Summary, calls int) {
	if inc == nil {
		return
	}
	if s.Incremental == nil {
		s.Incremental = &IncrementalRun{}
	}
	s.Incremental.Since, s.Incremental.Changed, s.Incremental.New, s.Incremental.Retried = inc.from, len(inc.mods), inc.fresh, inc.retried
	if inc.sfCalls != nil {
		s.Incremental.SalesforceCalls = inc.sfCalls()
	}
	s.Incremental.ZendeskCalls = calls - s.Incremental.SalesforceCalls
}

// advance moves the job's watermark after an incremental run that did its
// work: to when the run started reading, keeping the versions read within
// the next window's overlap and the accounts whose changes failed. A run
// that failed as a whole, or whose failures cannot be traced to accounts,
// leaves it where it was.
func (r *Runner) advance(ctx context.Context, inc *increment, s *Summary, calls func() int) {
	if inc == nil || s.DryRun || !inc.advance || s.Code != CodeNone {
		return
	}
	retry, ok := failedAccounts(s)
	if !ok {
		return
	}
	next := Watermark{Job: s.Job, At: inc.start, Retry: retry, Seen: map[string]time.Time{}, Tally: inc.prev.Tally}
	if inc.prev.At.After(next.At) {
		next.At = inc.prev.At
	}
	cut := next.At.Add(-r.Overlap).Truncate(time.Second) // the next window starts no earlier
	for _, m := range inc.mods {
		if !m.Stamp.Before(cut) {
			next.Seen[m.key()] = m.Stamp
		}
	}
	inc.report(s, calls())
	if hour := r.now().UTC().Truncate(time.Hour); !next.Tally.Since.Equal(hour) {
		next.Tally = Tally{Since: hour}
	}
	next.Tally.Runs++
	next.Tally.SalesforceCalls += s.Incremental.SalesforceCalls
	next.Tally.ZendeskCalls += s.Incremental.ZendeskCalls
	if err := r.Watermarks.SaveWatermark(context.WithoutCancel(ctx), next); err != nil {
		s.Fail(WithOp(err, "save the watermark of", string(s.Job)))
		return
	}
	s.Incremental.Watermark = next.At
}

// failedAccounts returns the accounts of a run's failed records (for a
// user, the account of its contact), and false when a failure is not a
// record's.
func failedAccounts(s *Summary) ([]string, bool) {
	accountOf := map[string]string{}
	for _, c := range s.Changes {
		switch {
		case c.Kind == "org":
			accountOf[c.Key] = c.Key
		case c.Parent != "":
			accountOf[c.Key] = c.Parent
		}
	}
	var out []string
	for _, e := range s.Errors {
		if e.Code.Silent() {
			continue
		}
		a, ok := accountOf[e.Record]
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

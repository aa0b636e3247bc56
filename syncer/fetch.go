package syncer

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// fetched is what the fetch stage read: the input of a plan.
type fetched struct {
	scope    Scope
	accounts []Account
	contacts []Contact
	orgs     []Org // the orgs read, unless planned as they were read
	users    []User
	// planner has the orgs of a full org job, compared with their
	// accounts as they were read (see orgPlanner).
	planner *orgPlanner
	// grace is what the store knows of the orgs in their grace period.
	grace GraceState
}

// count is how many Salesforce records were read (Summary.Fetched).
func (f *fetched) count() int { return len(f.accounts) + len(f.contacts) }

// fetch reads Salesforce and Zendesk concurrently: the accounts (or the
// federal contacts) of the job's query, and the Zendesk orgs (and users)
// they need. The org read overlaps the Salesforce query (see readOrgs).
func (r *Runner) fetch(ctx context.Context, job Job, account string) (*fetched, error) {
	zd, scope := r.target(job)
	f := &fetched{scope: scope}
	var err error
	if f.grace, err = r.graceState(ctx, job, account); err != nil {
		return nil, err
	}
	g := newGroup(ctx)
	// keys receives the account IDs whose orgs are needed, once Salesforce
	// answered; it is closed without a value when Salesforce failed.
	keys := make(chan []string, 1)
	g.Go(func(ctx context.Context) error { return r.fetchOrgs(ctx, job, zd, f, account, keys) })
	if job == JobFederalUsers {
		contacts := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			defer close(contacts)
			return r.fetchContacts(ctx, f, account, keys)
		})
		g.Go(func(ctx context.Context) error { return r.fetchUsers(ctx, zd, f, account, contacts) })
	} else {
		g.Go(func(ctx context.Context) error { return r.fetchAccounts(ctx, job, f, account, keys) })
	}
	return f, g.Wait()
}

// fetchAccounts runs the job's account query and sends the account IDs on
// keys.
func (r *Runner) fetchAccounts(ctx context.Context, job Job, f *fetched, account string, keys chan<- []string) error {
	defer close(keys)
	var err error
	f.accounts, err = r.Salesforce.Accounts(ctx, f.scope, account)
	r.progress(job, "Salesforce: %d accounts fetched", len(f.accounts))
	return sendKeys(keys, f.accounts, err, func(a Account) string { return a.ID })
}

// fetchContacts runs the federal contacts query and sends their account
// IDs on keys.
func (r *Runner) fetchContacts(ctx context.Context, f *fetched, account string, keys chan<- []string) error {
	defer close(keys)
	var err error
	f.contacts, err = r.Salesforce.FederalContacts(ctx, account)
	r.progress(JobFederalUsers, "Salesforce: %d contacts fetched", len(f.contacts))
	return sendKeys(keys, f.contacts, err, func(c Contact) string { return c.AccountID })
}

// sendKeys sends the account IDs of records read from Salesforce on keys,
// unless the query failed with err.
func sendKeys[T any](keys chan<- []string, records []T, err error, id func(T) string) error {
	if err != nil {
		return err
	}
	ids := make([]string, len(records))
	for i, rec := range records {
		ids[i] = id(rec)
	}
	keys <- ids
	return nil
}

// fetchUsers lists the federal users, or for one account looks up the
// users with its contacts' e-mails once the contacts are read.
func (r *Runner) fetchUsers(ctx context.Context, zd Zendesk, f *fetched, account string, contacts <-chan struct{}) (err error) {
	defer func() { r.progress(JobFederalUsers, "Zendesk: %d users listed", len(f.users)) }()
	if account == "" {
		f.users, err = zd.ListUsers(ctx)
		return err
	}
	<-contacts
	var emails []string
	for _, c := range f.contacts {
		if e := NormalizeEmail(c.Email); ValidEmail(e) {
			emails = append(emails, e)
		}
	}
	if len(emails) == 0 || ctx.Err() != nil {
		return nil
	}
	f.users, err = zd.UsersByEmail(ctx, emails)
	return err
}

// fetchOrgs reads the orgs the job needs: for one account, its org; for
// federal-users, the orgs of the contacts' accounts; for a full org job,
// the orgs of the accounts, compared with them as they arrive.
func (r *Runner) fetchOrgs(ctx context.Context, job Job, zd OrgReader, f *fetched, account string, keys <-chan []string) error {
	read := orgRead{zd: zd, maxHeld: cmp.Or(r.MaxHeldOrgs, defaultMaxHeldOrgs), log: r.log()}
	switch {
	case account != "":
		read.sink = func(page []Org) { f.orgs = append(f.orgs, page...) }
		err := zd.EachOrgByExternalID(ctx, []string{account}, read.sink)
		r.progress(job, "Zendesk: %d orgs read", len(f.orgs))
		return err
	case job == JobFederalUsers:
		seen := map[string]bool{}
		read.sink = func(page []Org) {
			f.orgs = append(f.orgs, page...)
			for _, o := range page {
				seen[o.ExternalID] = true
			}
		}
		read.have = func(id string) bool { return seen[id] }
	default:
		// The sink is called once the accounts are known.
		read.sink = func(page []Org) {
			if f.planner == nil {
				f.planner = newOrgPlanner(f.scope, f.accounts, r.now(), r.Rules)
				f.planner.grace = f.grace
			}
			f.planner.Add(page)
		}
		read.have = func(id string) bool { return f.planner != nil && f.planner.Matched(id) }
	}
	n, err := read.run(ctx, keys)
	r.progress(job, "Zendesk: %d orgs read", n)
	return err
}

// relevantOrgs returns the orgs, once each, whose external_id is one of
// ids, sorted by ID: the same input gives the same plan fingerprint however
// the orgs were read.
func relevantOrgs(ids []string, orgs []Org) []Org {
	want := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		want[id] = struct{}{}
	}
	var out []Org
	for _, o := range orgs {
		if _, ok := want[o.ExternalID]; ok {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Org) int { return cmp.Compare(a.ID, b.ID) })
	return slices.CompactFunc(out, func(a, b Org) bool { return a.ID == b.ID })
}

// facts gathers what the guards need to know besides the plan, when the
// plan deletes something: the last successful full run of the job (for the
// shrink guard) and whether each org the count guards would let be deleted
// has tickets that are not closed. approved deletions (a stored plan a
// person approved) skip the count guards.
func (r *Runner) facts(ctx context.Context, job Job, p Plan, fetchedCount int, full, approved bool) Facts {
	f := Facts{Full: full, Fetched: fetchedCount, Approved: approved}
	if len(p.deletions()) == 0 {
		return f
	}
	if full && !approved && r.Store != nil {
		f.LastRun, _, f.LastRunErr = r.Store.LastSuccessfulRun(ctx, job)
	}
	zd, _ := r.target(job)
	f.OpenTickets, f.TicketErrs = map[int64]bool{}, map[int64]error{}
	for _, id := range deletionCandidates(p, f, r.Rules) {
		open, err := zd.OrgHasOpenTickets(ctx, id)
		if err != nil {
			f.TicketErrs[id] = err
			continue
		}
		f.OpenTickets[id] = open
	}
	return f
}

// group runs functions concurrently and returns the first error; the
// first error cancels the others' context.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) *group {
	g := &group{}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// Go runs fn in a goroutine.
func (g *group) Go(fn func(ctx context.Context) error) {
	g.wg.Go(func() {
		if err := fn(g.ctx); err != nil {
			g.once.Do(func() { g.err = err; g.cancel() })
		}
	})
}

// Wait waits for every function and returns the first error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

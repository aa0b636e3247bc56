package syncer

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Runner runs the sync jobs: fetch → plan → guard → apply → report.
type Runner struct {
	Salesforce Salesforce
	Global     Zendesk // Zendesk Global
	Federal    Zendesk // Zendesk US Federal
	Store      Store
	Rules      Rules
	// PlanTTL is how long a stored plan can be applied (default 30m).
	PlanTTL time.Duration
	// ApplyBatch is how many records are handed to the Zendesk adapter at
	// once, between progress reports (default 2000).
	ApplyBatch int
	// MaxHeldOrgs bounds the orgs the listing reads before Salesforce has
	// answered (default 20,000): they are held until they can be compared
	// with their accounts. Past it the listing stops, and what it did not
	// reach is looked up by external ID once the accounts are known.
	MaxHeldOrgs int
	Now         func() time.Time
	Log         *slog.Logger
	// Progress, if set, is told about long phases (records fetched,
	// records applied), for a terminal.
	Progress func(job Job, msg string)
}

// Options modify one run.
type Options struct {
	DryRun   bool
	SavePlan bool   // store a dry run's plan (Summary.PlanID)
	Account  string // only this Salesforce account
	By       string // who asked: "cli", "schedule", a Slack user
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) progress(job Job, format string, args ...any) {
	if r.Progress != nil {
		r.Progress(job, fmt.Sprintf(format, args...))
	}
}

// NewID returns a new run or plan ID: sortable by time, unique.
func NewID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// fetched is the input of a plan.
type fetched struct {
	scope    Scope
	accounts []Account
	contacts []Contact
	orgs     []Org // the orgs read, unless planned as they were read
	users    []User
	// planner has the orgs of a full org job, compared with their
	// accounts as they were read (see orgPlanner).
	planner *orgPlanner
}

func (f *fetched) count() int { return len(f.accounts) + len(f.contacts) }

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

func (r *Runner) target(job Job) (Zendesk, Scope) {
	if job == JobGlobalOrgs {
		return r.Global, Global
	}
	return r.Federal, Federal
}

// orgPager is the capability of a Zendesk target to hand over its org
// listing page by page, so that a listing stopped early keeps what it read.
// syncer/zendesk implements it; a target without it is listed whole.
type orgPager interface {
	EachOrgPage(ctx context.Context, fn func(page []Org)) error
}

// fetch reads Salesforce and Zendesk concurrently.
//
// The orgs a plan needs are those whose external_id is one of the account
// IDs Salesforce returns (PlanOrgs and PlanUsers ignore every other org).
// Zendesk's cursor listing is sequential: at 100 ms a call, 100,000 orgs
// take 100 s, more than the 86 s a 700-a-minute budget needs for the same
// 1,000 calls. So the orgs are read in two overlapping ways: the listing
// runs while Salesforce is queried; if it reaches its end first (small
// instances), that is the whole read; otherwise it is stopped when the
// accounts arrive, and the account IDs it has not yet seen are looked up
// with show_many, 100 a call, several calls in flight, paced by the
// adapter's rate limiter. Either way about one call per 100 orgs is made,
// and the Salesforce query's time is not lost. Zendesk's external_id is
// unique per org, so the listing and the look-ups never need each other's
// duplicates.
func (r *Runner) fetch(ctx context.Context, job Job, account string) (*fetched, error) {
	zd, scope := r.target(job)
	f := &fetched{scope: scope}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				fail(err)
			}
		}()
	}
	// keys receives the account IDs whose orgs are needed, once Salesforce
	// answered; it is closed without a value when Salesforce failed.
	keys := make(chan []string, 1)
	run(func() (err error) {
		n := 0
		switch {
		case account != "":
			f.orgs, err = zd.OrgsByExternalID(ctx, []string{account})
			n = len(f.orgs)
		case job == JobFederalUsers:
			seen := map[string]bool{}
			n, err = r.orgsFor(ctx, zd, keys, func(page []Org) {
				f.orgs = append(f.orgs, page...)
				for _, o := range page {
					seen[o.ExternalID] = true
				}
			}, func(id string) bool { return seen[id] })
		default:
			// The sink is called once the accounts are known.
			n, err = r.orgsFor(ctx, zd, keys, func(page []Org) {
				if f.planner == nil {
					f.planner = newOrgPlanner(scope, f.accounts, r.now(), r.Rules)
				}
				f.planner.Add(page)
			}, func(id string) bool { return f.planner != nil && f.planner.Matched(id) })
		}
		r.progress(job, "Zendesk: %d orgs read", n)
		return err
	})
	if job == JobFederalUsers {
		contactsDone := make(chan struct{})
		run(func() error {
			defer close(contactsDone)
			defer close(keys)
			c, err := r.Salesforce.FederalContacts(ctx, account)
			f.contacts = c
			r.progress(job, "Salesforce: %d contacts fetched", len(c))
			if err == nil {
				ids := make([]string, 0, len(c))
				for _, ct := range c {
					ids = append(ids, ct.AccountID)
				}
				keys <- ids
			}
			return err
		})
		run(func() (err error) {
			if account == "" {
				f.users, err = zd.ListUsers(ctx)
			} else {
				<-contactsDone
				var emails []string
				for _, c := range f.contacts {
					if e := NormalizeEmail(c.Email); ValidEmail(e) {
						emails = append(emails, e)
					}
				}
				if len(emails) > 0 && ctx.Err() == nil {
					f.users, err = zd.UsersByEmail(ctx, emails)
				}
			}
			r.progress(job, "Zendesk: %d users listed", len(f.users))
			return err
		})
	} else {
		run(func() error {
			defer close(keys)
			a, err := r.Salesforce.Accounts(ctx, scope, account)
			f.accounts = a
			r.progress(job, "Salesforce: %d accounts fetched", len(a))
			if err == nil {
				ids := make([]string, 0, len(a))
				for _, acc := range a {
					ids = append(ids, acc.ID)
				}
				keys <- ids
			}
			return err
		})
	}
	wg.Wait()
	return f, firstErr
}

// orgsFor reads the orgs whose external_id is one of the keys (see fetch)
// and hands them to sink page by page, never before the keys are known:
// the listing's pages read before that are held until then. have reports
// whether an org of an account ID has been handed over. It returns how
// many orgs it handed over, which may include orgs of no account.
func (r *Runner) orgsFor(ctx context.Context, zd Zendesk, keys <-chan []string, sink func([]Org), have func(string) bool) (int, error) {
	pager, ok := zd.(orgPager)
	if !ok {
		orgs, err := zd.ListOrgs(ctx)
		if err != nil {
			return 0, err
		}
		if _, ok := <-keys; !ok {
			return 0, nil
		}
		sink(orgs)
		return len(orgs), nil
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu      sync.Mutex
		held    [][]Org // pages read before the keys are known
		ready   bool    // the keys are known: pages go to sink
		listed  int
		handed  int
		hand    = func(page []Org) { sink(page); handed += len(page) } // under mu
		release = func() {
			mu.Lock()
			defer mu.Unlock()
			ready = true
			for _, page := range held {
				hand(page)
			}
			held = nil
		}
	)
	maxHeld := cmp.Or(r.MaxHeldOrgs, defaultMaxHeldOrgs)
	capped := false // the listing was stopped at maxHeld
	done := make(chan error, 1)
	go func() {
		done <- pager.EachOrgPage(lctx, func(page []Org) {
			mu.Lock()
			defer mu.Unlock()
			listed += len(page)
			if ready {
				hand(page)
				return
			}
			held = append(held, page)
			if listed >= maxHeld {
				capped = true
				stop()
			}
		})
	}()
	var ids []string
	var known bool
	select {
	case err := <-done:
		mu.Lock()
		quiet := capped // stopped on purpose: the look-ups read the rest
		mu.Unlock()
		if err != nil && !quiet {
			// The listing failed: the look-ups below read what is
			// needed once the keys are known.
			r.log().Warn("org listing failed; looking the orgs up instead", "err", err)
		}
		ids, known = <-keys
		if known {
			release()
		}
		if known && err == nil {
			return handed, nil
		}
	case ids, known = <-keys:
		if known {
			release()
		}
		mu.Lock()
		seen := listed
		mu.Unlock()
		if !known || !r.listingIsCheaper(ctx, zd, ids, seen) {
			stop()
		}
		if err := <-done; err == nil {
			return handed, nil // the listing reached its end
		}
	}
	if !known {
		return 0, nil // Salesforce failed; its error is the run's
	}
	// The listing has stopped: every page it read has been handed over.
	var rest []string
	asked := make(map[string]bool)
	for _, id := range ids {
		if IsAccountID(id) && !have(id) && !asked[id] {
			asked[id] = true
			rest = append(rest, id)
		}
	}
	if lp, ok := zd.(orgLookupPager); ok {
		err := lp.EachOrgByExternalID(ctx, rest, hand)
		return handed, err
	}
	found, err := zd.OrgsByExternalID(ctx, rest)
	if err != nil {
		return handed, err
	}
	hand(found)
	return handed, nil
}

// orgLookupPager is the capability of a Zendesk target to hand over the
// orgs it looks up by external ID call by call, so that they need not all
// be held; syncer/zendesk implements it.
type orgLookupPager interface {
	EachOrgByExternalID(ctx context.Context, ids []string, fn func(page []Org)) error
}

// defaultMaxHeldOrgs is Runner.MaxHeldOrgs's default: about 15 MB of orgs.
const defaultMaxHeldOrgs = 20_000

// orgCounter is the capability of a Zendesk target to count its orgs in
// one call; syncer/zendesk implements it.
type orgCounter interface {
	OrgCount(ctx context.Context) (int, error)
}

// listingIsCheaper decides, when the accounts arrive while the org listing
// is still going, whether finishing the listing costs clearly fewer calls
// than looking up the accounts not seen yet (it does when many accounts
// have no org yet, as in federal-orgs). The look-ups run in parallel and
// the listing does not, so the listing must win by a margin.
func (r *Runner) listingIsCheaper(ctx context.Context, zd Zendesk, ids []string, seen int) bool {
	counter, ok := zd.(orgCounter)
	if !ok {
		return false
	}
	total, err := counter.OrgCount(ctx)
	if err != nil {
		return false
	}
	pages := (max(total-seen, 0) + 99) / 100
	lookups := (max(len(ids)-seen, 0) + 99) / 100
	return pages*10 < lookups*8
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

func (r *Runner) plan(job Job, f *fetched) Plan {
	switch {
	case job == JobFederalUsers:
		ids := make([]string, len(f.contacts))
		for i, c := range f.contacts {
			ids[i] = c.AccountID
		}
		return PlanUsers(f.contacts, f.users, relevantOrgs(ids, f.orgs))
	case f.planner != nil:
		return f.planner.Plan()
	}
	return PlanOrgs(f.scope, f.accounts, f.orgs, r.now(), r.Rules)
}

// Run runs one job and returns its summary, which it also stores. The
// summary's Code says whether the run failed (see Summary.OK).
func (r *Runner) Run(ctx context.Context, job Job, opts Options) *Summary {
	start := r.now()
	s := &Summary{RunID: NewID(start), Job: job, DryRun: opts.DryRun, Account: opts.Account, StartedAt: start, Errors: []RecordError{}}
	log := r.log().With("job", job, "run_id", s.RunID)
	log.Info("run started", "dry_run", opts.DryRun, "account", opts.Account, "by", opts.By)
	ctx, calls := WithCallCounter(ctx)
	r.execute(ctx, job, opts, s, log)
	s.APICalls = calls()
	r.finish(ctx, s, log)
	return s
}

func (r *Runner) finish(ctx context.Context, s *Summary, log *slog.Logger) {
	if s.Code == CodeNone {
		s.Code = s.FirstFailure()
		if s.Code != CodeNone && s.Message == "" {
			s.Message = fmt.Sprintf("%d record(s) failed", s.Failed)
		}
	}
	s.FinishedAt = r.now()
	s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
	if r.Store != nil {
		if err := r.Store.SaveRun(context.WithoutCancel(ctx), s); err != nil {
			log.Error("save run", "err", err)
			if s.Code == CodeNone {
				s.Code, s.Message = CodeInternal, "the run's summary could not be stored: "+err.Error()
			}
		}
	}
	log.Info("run finished", "ok", s.OK(), "code", int(s.Code), "created", s.Created, "updated", s.Updated,
		"deleted", s.Deleted, "unchanged", s.Unchanged, "skipped", s.Skipped, "failed", s.Failed, "duration_ms", s.DurationMS)
}

func (r *Runner) execute(ctx context.Context, job Job, opts Options, s *Summary, log *slog.Logger) {
	if job != JobGlobalOrgs && job != JobFederalOrgs && job != JobFederalUsers {
		s.Code, s.Message = CodeInternal, fmt.Sprintf("%s is not a sync job", job)
		return
	}
	if opts.Account != "" {
		id, err := NormalizeAccountID(opts.Account)
		if err != nil {
			s.Code, s.Message = CodeAPIError, ErrorMessage(err)
			return
		}
		opts.Account, s.Account = id, id
	}
	f, err := r.fetch(ctx, job, opts.Account)
	if err != nil {
		s.Code, s.Message = ErrorCode(err), "fetch: "+ErrorMessage(err)
		return
	}
	s.Fetched = f.count()
	plan := r.plan(job, f)
	s.Warnings = plan.Warnings
	s.Unchanged = plan.Unchanged
	r.progress(job, "plan: %d to create, %d to update, %d to delete, %d unchanged, %d skipped",
		plan.Count(Create), plan.Count(Update), plan.Count(Delete), plan.Unchanged, plan.Count(Skip))

	if job == JobGlobalOrgs {
		r.guard(ctx, &plan, s, opts, log)
	}
	if opts.DryRun {
		s.Changes = plan.Changes
		for _, c := range plan.Changes {
			if !c.AfterUsers {
				s.count(c.Action)
			}
		}
		if opts.SavePlan {
			p := &StoredPlan{ID: NewID(r.now()), Job: job, Account: opts.Account, CreatedAt: r.now(), CreatedBy: opts.By,
				Fingerprint: f.fingerprint(plan), Changes: actionable(plan.Changes)}
			p.ExpiresAt = p.CreatedAt.Add(r.planTTL())
			if err := r.Store.SavePlan(ctx, p); err != nil {
				s.Code, s.Message = CodeInternal, "save plan: "+err.Error()
				return
			}
			s.PlanID = p.ID
		}
		return
	}
	s.Changes = plan.Changes
	r.apply(ctx, job, plan.Changes, s, log)
}

func (r *Runner) planTTL() time.Duration {
	if r.PlanTTL > 0 {
		return r.PlanTTL
	}
	return 30 * time.Minute
}

// actionable returns the changes that write something.
func actionable(changes []Change) []Change {
	var out []Change
	for _, c := range changes {
		if c.Action != Skip {
			out = append(out, c)
		}
	}
	return out
}

func (s *Summary) count(a Action) {
	switch a {
	case Create:
		s.Created++
	case Update:
		s.Updated++
	case Delete:
		s.Deleted++
	case Skip:
		s.Skipped++
	}
}

// deletions returns the indexes of the plan's deletions.
func deletions(p *Plan) []int {
	var dels []int
	for i, c := range p.Changes {
		if c.Action == Delete {
			dels = append(dels, i)
		}
	}
	return dels
}

// refuse turns a planned deletion into a skip with its reason.
func refuse(p *Plan, i int, reason string) {
	p.Changes[i].Action = Skip
	p.Changes[i].Reason = "not deleted: " + reason
}

// guard refuses the deletions of a plan that look wrong, before anything is
// written: a Salesforce result that shrank sharply against the last
// successful run, too many deletions, orgs tagged do_not_delete or with
// tickets that are not closed. Refused deletions become skips with their
// reason. More deletions than the approval threshold are held as a stored
// plan for a person to approve.
func (r *Runner) guard(ctx context.Context, p *Plan, s *Summary, opts Options, log *slog.Logger) {
	dels := deletions(p)
	if len(dels) == 0 {
		return
	}
	refuseAll := func(reason string) {
		for _, i := range dels {
			refuse(p, i, reason)
		}
		s.Code, s.Message = CodeGuardRefused, reason
		log.Warn("guard refused deletions", "reason", reason, "deletions", len(dels))
	}
	if opts.Account == "" && r.Store != nil {
		last, ok, err := r.Store.LastSuccessfulRun(ctx, JobGlobalOrgs)
		if err != nil {
			refuseAll("cannot read the last successful run to check the shrink guard: " + err.Error())
			return
		}
		if ok && last.Fetched > 0 && float64(s.Fetched) < r.Rules.ShrinkRatio*float64(last.Fetched) {
			refuseAll(fmt.Sprintf("Salesforce returned %d accounts, below %.0f%% of the %d of the last successful run %s",
				s.Fetched, r.Rules.ShrinkRatio*100, last.Fetched, last.RunID))
			return
		}
	}
	if r.Rules.MaxDeletes > 0 && len(dels) > r.Rules.MaxDeletes {
		refuseAll(fmt.Sprintf("%d deletions exceed the limit of %d per run", len(dels), r.Rules.MaxDeletes))
		return
	}
	r.guardOrgs(ctx, p, s)
	kept := deletions(p)
	if opts.DryRun || r.Rules.ApprovalThreshold <= 0 || len(kept) <= r.Rules.ApprovalThreshold || r.Store == nil {
		return
	}
	held := &StoredPlan{ID: NewID(r.now()), Job: JobGlobalOrgs, CreatedAt: r.now(), CreatedBy: opts.By}
	held.ExpiresAt = held.CreatedAt.Add(ApprovalTTL)
	for _, i := range kept {
		held.Changes = append(held.Changes, p.Changes[i])
	}
	if err := r.Store.SavePlan(ctx, held); err != nil {
		for _, i := range kept {
			refuse(p, i, "could not hold for approval: "+err.Error())
		}
		s.Code, s.Message = CodeInternal, "hold deletions for approval: "+err.Error()
		return
	}
	for _, i := range kept {
		refuse(p, i, "held for approval in plan "+held.ID)
	}
	s.HeldPlanID = held.ID
	log.Warn("deletions held for approval", "plan_id", held.ID, "deletions", len(kept))
}

// ApprovalTTL is how long held mass deletions can be approved.
const ApprovalTTL = 24 * time.Hour

// guardOrgs refuses the deletion of each org tagged do_not_delete or with
// tickets that are not closed (or whose tickets could not be checked).
func (r *Runner) guardOrgs(ctx context.Context, p *Plan, s *Summary) {
	for _, i := range deletions(p) {
		var o Org
		_ = json.Unmarshal(p.Changes[i].Before, &o)
		if slices.Contains(o.Tags, TagDoNotDelete) {
			refuse(p, i, "tagged "+TagDoNotDelete)
			continue
		}
		open, err := r.Global.OrgHasOpenTickets(ctx, p.Changes[i].ID)
		switch {
		case err != nil:
			refuse(p, i, "could not check its tickets: "+ErrorMessage(err))
			s.AddError(p.Changes[i].Key, fmt.Errorf("check tickets of org %d: %w", p.Changes[i].ID, err))
			s.Failed++
		case open:
			refuse(p, i, "has tickets that are not closed")
		}
	}
}

// apply executes the changes: org creates and updates (concurrently), then
// users (sold-to users get the ID of their new org), then deletions; each
// outcome is counted, reported with its code and written to the audit.
func (r *Runner) apply(ctx context.Context, job Job, changes []Change, s *Summary, log *slog.Logger) {
	zd, _ := r.target(job)
	var creates, updates, users, deletes, settles []Change
	for _, c := range changes {
		switch {
		case c.AfterUsers:
			settles = append(settles, c)
		case c.Action == Skip:
			s.Skipped++
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
	var mu sync.Mutex
	newOrg := map[string]int64{}
	usersFailed := map[string]bool{} // accounts with a sold-to user not created
	record := func(batch []Change, results []WriteResult) {
		mu.Lock()
		defer mu.Unlock()
		audit := make([]AppliedChange, len(batch))
		for i, c := range batch {
			res := results[i]
			ac := AppliedChange{Change: c, At: r.now()}
			switch {
			case res.Exists:
				s.Skipped++
				ac.Action, ac.Reason = Skip, "a user with this e-mail already exists; left as it is"
			case res.Err != nil:
				s.Failed++
				s.AddError(c.Key, res.Err)
				if c.Kind == "user" && c.Parent != "" {
					usersFailed[c.Parent] = true
				}
				ac.Code, ac.Message = ErrorCode(res.Err), ErrorMessage(res.Err)
				log.Warn("write failed", "action", c.Action, "kind", c.Kind, "key", c.Key, "code", int(ac.Code), "err", ac.Message)
			default:
				if !c.AfterUsers {
					s.count(c.Action)
				}
				if c.Kind == "org" && c.Action == Create {
					newOrg[c.Key] = res.ID
				}
				if ac.ID == 0 {
					ac.ID = res.ID
				}
			}
			audit[i] = ac
		}
		if r.Store != nil {
			if err := r.Store.RecordChanges(context.WithoutCancel(ctx), s.RunID, audit); err != nil {
				log.Error("audit", "err", err)
				s.AddError("audit", fmt.Errorf("record changes: %w", err))
			}
		}
	}
	total := len(creates) + len(updates) + len(users) + len(deletes) + len(settles)
	done := 0
	step := func(kind string, list []Change, write func([]Change) []WriteResult) {
		batch := r.ApplyBatch
		if batch <= 0 {
			batch = 2000
		}
		for start := 0; start < len(list); start += batch {
			part := list[start:min(start+batch, len(list))]
			record(part, write(part))
			mu.Lock()
			done += len(part)
			n := done
			mu.Unlock()
			r.progress(job, "Zendesk: %d/%d changes applied (%s)", n, total, kind)
		}
	}
	orgWrites := func(cs []Change) []OrgWrite {
		out := make([]OrgWrite, len(cs))
		for i, c := range cs {
			out[i] = *c.Org
		}
		return out
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		step("org creates", creates, func(cs []Change) []WriteResult { return zd.CreateOrgs(ctx, orgWrites(cs)) })
	})
	wg.Go(func() {
		step("org updates", updates, func(cs []Change) []WriteResult { return zd.UpdateOrgs(ctx, orgWrites(cs)) })
	})
	wg.Wait()

	if len(users) > 0 {
		var ready []Change
		for _, c := range users {
			if c.Parent != "" && c.User.OrgID == 0 {
				id, ok := newOrg[c.Parent]
				if !ok {
					s.Skipped++
					usersFailed[c.Parent] = true
					continue // its org was not created; reported there
				}
				u := *c.User
				u.OrgID = id
				c.User = &u
			}
			ready = append(ready, c)
		}
		step("users", ready, func(cs []Change) []WriteResult {
			ws := make([]UserWrite, len(cs))
			for i, c := range cs {
				ws[i] = *c.User
			}
			if job == JobGlobalOrgs {
				return zd.CreateUsers(ctx, ws)
			}
			return zd.UpsertUsers(ctx, ws)
		})
	}
	var clear []Change
	for _, c := range settles {
		if c.ID == 0 {
			c.ID = newOrg[c.Key]
			w := *c.Org
			w.ID = c.ID
			c.Org = &w
		}
		if c.ID != 0 && !usersFailed[c.Key] {
			clear = append(clear, c)
		}
	}
	step("sold-to markers", clear, func(cs []Change) []WriteResult { return zd.UpdateOrgs(ctx, orgWrites(cs)) })
	step("org deletions", deletes, func(cs []Change) []WriteResult {
		ids := make([]int64, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		return zd.DeleteOrgs(ctx, ids)
	})
}

// ApplyPlan applies a stored plan: exactly the changes it lists, each only
// if it still holds. It refuses an expired, discarded or already applied
// plan; it fetches and plans again, and a change whose record changed in
// Salesforce or Zendesk since the preview is skipped with CodePlanStale
// while the others apply.
func (r *Runner) ApplyPlan(ctx context.Context, id, by string) *Summary {
	start := r.now()
	s := &Summary{RunID: NewID(start), StartedAt: start, Errors: []RecordError{}, PlanID: id}
	log := r.log().With("run_id", s.RunID, "plan_id", id)
	ctx, calls := WithCallCounter(ctx)
	defer func() { s.APICalls = calls(); r.finish(ctx, s, log) }()
	p, err := r.Store.GetPlan(ctx, id)
	if err != nil {
		s.Job = JobFederalUsers
		s.Code, s.Message = CodePlanStale, fmt.Sprintf("plan %s: %s", id, ErrorMessage(err))
		return s
	}
	s.Job, s.Account = p.Job, p.Account
	switch {
	case p.Discarded:
		s.Code, s.Message = CodePlanStale, fmt.Sprintf("plan %s was discarded; make a new preview", id)
		return s
	case !p.AppliedAt.IsZero():
		s.Code, s.Message = CodePlanStale, fmt.Sprintf("plan %s was already applied at %s (run %s); nothing applied again", id, p.AppliedAt.UTC().Format(time.RFC3339), p.AppliedRun)
		return s
	case !start.Before(p.ExpiresAt):
		s.Code, s.Message = CodePlanStale, fmt.Sprintf("plan %s expired at %s; make a new preview", id, p.ExpiresAt.UTC().Format(time.RFC3339))
		return s
	}
	if err := r.Store.MarkPlanApplied(ctx, id, s.RunID, start); err != nil {
		s.Code, s.Message = CodePlanStale, fmt.Sprintf("plan %s: %s", id, ErrorMessage(err))
		return s
	}
	log.Info("applying stored plan", "job", p.Job, "by", by, "changes", len(p.Changes))
	f, err := r.fetch(ctx, p.Job, p.Account)
	if err != nil {
		s.Code, s.Message = ErrorCode(err), "fetch: "+ErrorMessage(err)
		return s
	}
	s.Fetched = f.count()
	plan := r.plan(p.Job, f)
	same := f.fingerprint(plan) == p.Fingerprint
	fresh := map[string]Change{}
	if !same {
		for _, c := range plan.Changes {
			fresh[c.Kind+"/"+c.Key] = c
		}
	}
	var hold []Change
	for _, c := range p.Changes {
		if !same {
			now, ok := fresh[c.Kind+"/"+c.Key]
			if why := stillHolds(c, now, ok); why != "" {
				s.Skipped++
				s.AddError(c.Key, &Error{Code: CodePlanStale, Message: "not applied: " + why})
				continue
			}
		}
		hold = append(hold, c)
	}
	if p.Job == JobGlobalOrgs {
		// Approved deletions: the approval replaces the count limits, not
		// the per-org guards.
		approved := Plan{Changes: hold}
		r.guardOrgs(ctx, &approved, s)
		hold = approved.Changes
	}
	r.apply(ctx, p.Job, hold, s, log)
	return s
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

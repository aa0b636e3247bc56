package syncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// Runner runs the sync jobs — fetch → plan → guard → apply → report — and
// applies stored plans. Saving the summary it returns is its caller's (the
// application core saves every run's, whatever the job).
type Runner struct {
	Salesforce Salesforce
	Global     Zendesk // Zendesk Global
	Federal    Zendesk // Zendesk US Federal
	Store      Store
	Rules      Rules
	// Watermarks keep how far incremental runs have carried Salesforce's
	// changes over; Overlap (INCREMENTAL_OVERLAP) is how far before its
	// watermark an incremental run starts reading (incremental.go).
	Watermarks Watermarks
	Overlap    time.Duration
	// PlanTTL is how long a stored plan can be applied (PLAN_TTL).
	PlanTTL time.Duration
	// ApplyBatch is how many records are handed to the Zendesk adapter at
	// once, between progress reports (0: defaultApplyBatch).
	ApplyBatch int
	// MaxHeldOrgs bounds the orgs the listing reads before Salesforce has
	// answered (0: defaultMaxHeldOrgs): they are held until they can be
	// compared with their accounts. Past it the listing stops, and what it
	// did not reach is looked up by external ID once the accounts are
	// known.
	MaxHeldOrgs int
	Now         func() time.Time
	Log         *slog.Logger
	// Progress, if set, is told about long phases (records fetched,
	// records applied), for a terminal.
	Progress func(job Job, msg string)
}

// Run runs one sync job and returns its summary. The summary's Code says
// whether the run failed (see Summary.OK). A dry run stops after the
// guards, and stores its plan when opts.SavePlan is set. An incremental
// run (opts.Incremental) reads only what changed, never deletes, and moves
// the job's watermark when it did its work.
func (r *Runner) Run(ctx context.Context, job Job, opts Options) *Summary {
	s := NewSummary(job, r.now())
	s.DryRun, s.Account = opts.DryRun, opts.Account
	ctx, calls := WithCallCounter(ctx)
	ctx, notices := WithNotices(ctx)
	var inc *increment
	defer func() { s.APICalls, s.Notices = calls(), notices(); inc.report(s, s.APICalls); s.Finish(r.now()) }()
	if err := checkRun(job, &opts); err != nil {
		s.Fail(err)
		return s
	}
	s.Account = opts.Account

	in, inc, err := r.read(ctx, job, opts)
	if err != nil {
		s.Fail(WithOp(err, "fetch", ""))
		return s
	}
	plan := r.plan(job, in)
	if inc != nil {
		plan = leaveDeletions(plan)
	}
	s.planned(in, plan)
	r.progress(job, "plan: %d to create, %d to update, %d to delete, %d unchanged, %d skipped",
		plan.Count(Create), plan.Count(Update), plan.Count(Delete), plan.Unchanged, plan.Count(Skip))

	facts := r.facts(ctx, job, plan, in.count(), opts.Account == "" && inc == nil, false)
	v := guard(plan, facts, r.Rules)
	s.guarded(v, r.log())
	if opts.DryRun {
		s.Changes = v.Plan.Changes
		s.Pending = newlyPending(plan.Pending)
		s.countPlanned(v.Plan.Changes)
		if opts.SavePlan {
			r.savePlan(ctx, s, in, v.Plan, opts)
		}
		return s
	}
	changes := r.hold(ctx, v.Plan, s, opts.By)
	s.Changes = changes
	r.apply(ctx, job, changes, s)
	r.settlePending(ctx, plan, changes, s, pendingScope(in, inc != nil))
	r.advance(ctx, inc, s, calls)
	return s
}

// read is the fetch stage: of everything the job reads, or for an
// incremental run of what changed (with the run under way).
func (r *Runner) read(ctx context.Context, job Job, opts Options) (*fetched, *increment, error) {
	if !opts.Incremental {
		in, err := r.fetch(ctx, job, opts.Account)
		return in, nil, err
	}
	inc, err := r.startIncrement(ctx, job, opts)
	if err != nil {
		return nil, nil, err
	}
	in, err := r.fetchChanged(ctx, job, inc)
	return in, inc, err
}

// checkRun refuses what is not a sync job, and an account or a stored plan
// with an incremental run, and normalizes the account ID.
func checkRun(job Job, opts *Options) error {
	switch {
	case !job.IsSync():
		return Errorf(CodeInvalidInput, "%s is not a sync job", job)
	case opts.Incremental && opts.Account != "":
		return Errorf(CodeInvalidInput, "an incremental run reads every changed account: it takes no account")
	case opts.Incremental && opts.SavePlan:
		return Errorf(CodeInvalidInput, "an incremental run cannot store its plan")
	case !opts.Incremental && !opts.Since.IsZero():
		return Errorf(CodeInvalidInput, "a start of the window (since) is for incremental runs only")
	}
	if opts.Account == "" {
		return nil
	}
	id, err := NormalizeID(opts.Account)
	if err != nil {
		return err
	}
	opts.Account = id
	return nil
}

// plan is the plan stage: pure, from what fetch read.
func (r *Runner) plan(job Job, in *fetched) Plan {
	switch {
	case job == JobFederalUsers:
		ids := make([]string, len(in.contacts))
		for i, c := range in.contacts {
			ids[i] = c.AccountID
		}
		return PlanUsers(in.contacts, in.users, relevantOrgs(ids, in.orgs))
	case in.planner != nil:
		return in.planner.Plan()
	}
	return PlanOrgsGrace(in.scope, in.accounts, in.orgs, r.now(), r.Rules, in.grace)
}

// target returns the Zendesk instance and scope of a job.
func (r *Runner) target(job Job) (Zendesk, Scope) {
	if job.Scope() == Global {
		return r.Global, Global
	}
	return r.Federal, Federal
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

package app

import (
	"context"
	"slices"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// incrementalStatus fills what status shows of a job's incremental runs:
// how fresh Zendesk is, this hour's tally, the accounts being retried and
// the last stored incremental run.
func (c *Core) incrementalStatus(ctx context.Context, job syncer.Job, inc *syncer.IncrementalStatus, now time.Time) error {
	wm, _, err := c.Store.Watermark(ctx, job)
	if err != nil {
		return err
	}
	full, _, err := c.Store.LastSuccessfulRun(ctx, job)
	if err != nil {
		return err
	}
	if inc.Caught = wm.Caught(full); !inc.Caught.IsZero() {
		inc.Freshness = now.Sub(inc.Caught)
	}
	inc.Tally, inc.Retrying = wm.Tally, len(wm.Retry)
	last, ok, err := c.Store.LatestRun(ctx, job, true)
	if ok {
		inc.LastRun = last
	}
	return err
}

// allowanceTimeout bounds the read of the API allowance that /zdsync
// status shows, so that a slow Salesforce does not hold the answer.
const allowanceTimeout = 10 * time.Second

// Status reports what /zdsync status shows: each scheduled job with its
// schedule, next and last full run, and how fresh its incremental runs
// keep Zendesk; the case pushes that failed; the open alerts; and
// Salesforce's remaining API allowance against the reserve.
func (c *Core) Status(ctx context.Context) (syncer.Status, error) {
	st := syncer.Status{Reserve: c.Reserve}
	if c.Schedule != nil {
		st.Jobs = c.Schedule.JobStatuses()
	}
	now := time.Now()
	for i := range st.Jobs {
		j := &st.Jobs[i]
		last, ok, err := c.Store.LatestRun(ctx, j.Job, false)
		if err != nil {
			return st, err
		}
		if ok {
			j.LastRun = last
		}
		if j.Incremental != nil {
			if err := c.incrementalStatus(ctx, j.Job, j.Incremental, now); err != nil {
				return st, err
			}
		}
	}
	failed, err := c.Store.Pushes(ctx, syncer.PushFailed)
	if err != nil {
		return st, err
	}
	for _, p := range failed {
		st.FailedPushes = append(st.FailedPushes, syncer.FailedPush{TicketID: p.TicketID, Code: p.Code, Message: p.Message, At: p.At})
	}
	alerts, err := c.Store.OpenAlerts(ctx)
	if err != nil {
		return st, err
	}
	for _, a := range alerts {
		st.OpenAlerts = append(st.OpenAlerts, syncer.OpenAlert{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, RunID: a.LastRunID()})
	}
	if st.Deletions, err = c.dueDeletions(ctx); err != nil {
		return st, err
	}
	if c.Allowance != nil {
		actx, cancel := context.WithTimeout(ctx, allowanceTimeout)
		defer cancel()
		if a, err := c.Allowance.APIAllowance(actx); err != nil {
			st.AllowanceError = syncer.ErrorMessage(err)
		} else {
			st.Allowance = &a
		}
	}
	return st, nil
}

// dueDeletions lists the Global orgs whose grace period before deletion
// ends within syncer.DeletionHorizon, soonest first (with their deletion
// date under the grace period configured now).
func (c *Core) dueDeletions(ctx context.Context) ([]syncer.PendingDeletion, error) {
	if c.Runner == nil || c.Runner.Rules.DeleteGrace <= 0 {
		return nil, nil
	}
	pending, err := c.Store.PendingDeletions(ctx, syncer.Global)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if c.Runner.Now != nil {
		now = c.Runner.Now()
	}
	horizon := now.Add(syncer.DeletionHorizon)
	var due []syncer.PendingDeletion
	for _, p := range pending {
		p.DeleteAfter = p.Since.Add(c.Runner.Rules.DeleteGrace)
		if !p.DeleteAfter.After(horizon) {
			due = append(due, p)
		}
	}
	slices.SortStableFunc(due, func(a, b syncer.PendingDeletion) int { return a.DeleteAfter.Compare(b.DeleteAfter) })
	return due, nil
}

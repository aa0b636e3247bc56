package app

import (
	"context"
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

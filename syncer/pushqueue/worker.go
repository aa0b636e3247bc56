package pushqueue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/zdsync/zdsync/syncer"
)

// worker runs one push per job.
type worker struct {
	river.WorkerDefaults[Args]
	pusher Pusher
	done   func(ctx context.Context, s *syncer.Summary)
	hold   func() error
	held   *heldJobs
	timing Timing
	log    *slog.Logger
}

// Timeout is River's job timeout (Timing.Job).
func (w *worker) Timeout(*river.Job[Args]) time.Duration { return w.timing.Job }

// NextRetry runs a push interrupted for the first time (River rescued it
// from a replica that died, or it timed out) again at once, so that it
// resumes within ResumeWithin; one interrupted again waits River's
// growing delay.
func (w *worker) NextRetry(job *river.Job[Args]) time.Time {
	if job.Attempt <= 1 {
		return time.Now()
	}
	return time.Time{}
}

// Work pushes the job's ticket event once (with the Pusher's own retries),
// within the push's bound.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	if w.hold != nil {
		if err := w.hold(); err != nil {
			w.log.Info("push held: a system it needs is down", "ticket_id", job.Args.TicketID, "event", job.Args.Event,
				"in", holdDelay.String(), "err", err)
			w.held.set(job.ID, true)
			return river.JobSnooze(holdDelay)
		}
		w.held.set(job.ID, false)
	}
	pctx, cancel := context.WithTimeout(ctx, cmp.Or(w.timing.Push, MaxPushTime))
	defer cancel()
	s := w.pusher.Push(pctx, job.Args.TicketID, job.Args.Event)
	if w.done != nil {
		w.done(context.WithoutCancel(ctx), s)
	}
	if s.OK() {
		return nil
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The process is stopping: run it again as soon as a client
		// starts, without counting an attempt.
		return river.JobSnooze(0)
	case pctx.Err() != nil:
		// Timed out: River runs it again, up to MaxInterruptions.
		return fmt.Errorf("push of ticket %d interrupted: %w", job.Args.TicketID, pctx.Err())
	case s.Code == syncer.CodeRunInProgress:
		// Another push of the ticket is running (a Retry in Slack, say):
		// this one runs after it, and finds its work done.
		return river.JobSnooze(inProgressDelay)
	case s.Code.RetryLater():
		d := retryLaterDelay(job.Metadata)
		w.log.Warn("push rate limited; queued again", "ticket_id", job.Args.TicketID, "event", job.Args.Event,
			"code", int(s.Code), "job_id", job.ID, "in", d.String())
		return river.JobSnooze(d)
	}
	w.log.Warn("push failed; kept as failed for a later retry", "ticket_id", job.Args.TicketID, "event", job.Args.Event,
		"code", int(s.Code), "job_id", job.ID)
	// The push made its own retries: River must not add more.
	return river.JobCancel(fmt.Errorf("push failed with code %s: %s", s.Code, s.Message))
}

// holdDelay is how long a push held by Config.Hold waits before it asks
// again, unless Release makes it available sooner.
const holdDelay = time.Minute

// inProgressDelay is how long a push that found another push of its
// ticket running waits before it runs (a push is bounded by MaxPushTime).
const inProgressDelay = 15 * time.Second

// The delays of a push that failed with a code retried later: the first
// is retryLaterFirst, each next one twice the last, up to retryLaterMax.
// A rate limit that lasts (Salesforce's allowance is a rolling 24 hours)
// is retried hourly, never dropped: a snooze does not use up River's
// attempts.
const (
	retryLaterFirst = time.Minute
	retryLaterMax   = time.Hour
)

// retryLaterDelay returns the delay before the next try of a job that was
// snoozed as many times as its metadata's "snoozes" (River counts them).
func retryLaterDelay(metadata []byte) time.Duration {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m)
	d := retryLaterFirst
	for range min(m.Snoozes, 10) {
		d *= 2
	}
	return min(d, retryLaterMax)
}

// heldJobs are the IDs of the jobs this process held (Config.Hold).
type heldJobs struct {
	mu  sync.Mutex
	ids map[int64]bool
}

func (h *heldJobs) set(id int64, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if held {
		h.ids[id] = true
	} else {
		delete(h.ids, id)
	}
}

func (h *heldJobs) take() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := slices.Collect(maps.Keys(h.ids))
	clear(h.ids)
	return ids
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// FreshnessCheckEvery is how often Freshness.Watch looks for jobs that
// have not succeeded for too long.
const FreshnessCheckEvery = time.Minute

// Freshness raises the freshness alarm: a scheduled job that has not
// succeeded for longer than MaxAge (FRESHNESS_MAX_AGE) gets one alert
// (code 14, grouped like the others, resolved by its next successful run),
// so that a stuck scheduler is never silent. Only the scheduler's leader
// checks.
type Freshness struct {
	Store Store
	// Jobs returns the jobs that run on a schedule.
	Jobs func() []syncer.Job
	// Leading reports whether this replica leads the schedule.
	Leading func() bool
	// Alert raises the alarm of a stale job (the Slack notifier's).
	Alert   func(ctx context.Context, s *syncer.Summary) error
	MaxAge  time.Duration
	Started time.Time // a job that never succeeded is stale MaxAge after this
	Log     *slog.Logger
}

// Watch checks every FreshnessCheckEvery until ctx ends.
func (f *Freshness) Watch(ctx context.Context) {
	t := time.NewTicker(FreshnessCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.Check(ctx, time.Now())
		}
	}
}

// Check alerts once for each scheduled job whose last success (or the
// start, when it never succeeded) is older than MaxAge at now.
func (f *Freshness) Check(ctx context.Context, now time.Time) {
	if f.Leading != nil && !f.Leading() {
		return
	}
	log := f.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, job := range f.Jobs() {
		since, what := f.Started, "since zdsync started"
		last, ok, err := f.Store.LastSuccessfulRun(ctx, job)
		if err != nil {
			log.Error("freshness check", "job", job, "err", err)
			continue
		}
		if ok {
			since, what = last.FinishedAt, "since run "+last.RunID
		}
		age := now.Sub(since)
		if age <= f.MaxAge {
			continue
		}
		if _, open, err := f.Store.OpenAlert(ctx, job, syncer.CodeStale); err != nil || open {
			continue
		}
		s := syncer.NewSummary(job, now)
		s.Code, s.Message = syncer.CodeStale, fmt.Sprintf("%s has not succeeded for %s (%s; limit FRESHNESS_MAX_AGE=%s)",
			job, age.Round(time.Minute), what, f.MaxAge)
		s.FinishedAt = now
		log.Warn("job is stale", "job", job, "age", age.Round(time.Second).String())
		if err := f.Alert(ctx, s); err != nil {
			log.Error("freshness alert", "job", job, "err", err)
		}
	}
}

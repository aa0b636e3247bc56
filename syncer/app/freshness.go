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
// and a job whose incremental runs have not carried Salesforce's changes
// over for longer than IncrementalMaxAge (INCREMENTAL_MAX_AGE) gets one
// (code 26, resolved by its next successful incremental or full run), so
// that a stuck scheduler is never silent. Only the scheduler's leader
// checks.
type Freshness struct {
	Store Store
	// Jobs returns the jobs whose full runs run on a schedule;
	// IncrementalJobs (nil: none) those whose incremental runs do.
	Jobs              func() []syncer.Job
	IncrementalJobs   func() []syncer.Job
	IncrementalMaxAge time.Duration
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
	syncer.Every(ctx, FreshnessCheckEvery, func() { f.Check(ctx, time.Now()) })
}

// Check alerts once for each scheduled job whose last success (or the
// start, when it never succeeded) is older than MaxAge at now, and for
// each job with scheduled incremental runs whose changes have waited
// longer than IncrementalMaxAge.
func (f *Freshness) Check(ctx context.Context, now time.Time) {
	if f.Leading != nil && !f.Leading() {
		return
	}
	for _, job := range f.Jobs() {
		since, what := f.Started, "since zdsync started"
		last, ok, err := f.Store.LastSuccessfulRun(ctx, job)
		if err != nil {
			f.log().Error("freshness check", "job", job, "err", err)
			continue
		}
		if ok {
			since, what = last.FinishedAt, "since run "+last.RunID
		}
		if age := now.Sub(since); age > f.MaxAge {
			f.alertOnce(ctx, job, syncer.CodeStale, now, fmt.Sprintf("%s has not succeeded for %s (%s; limit FRESHNESS_MAX_AGE=%s)",
				job, age.Round(time.Minute), what, f.MaxAge))
		}
	}
	if f.IncrementalJobs == nil {
		return
	}
	for _, job := range f.IncrementalJobs() {
		wm, _, err := f.Store.Watermark(ctx, job)
		if err != nil {
			f.log().Error("freshness check", "job", job, "err", err)
			continue
		}
		last, _, err := f.Store.LastSuccessfulRun(ctx, job)
		if err != nil {
			f.log().Error("freshness check", "job", job, "err", err)
			continue
		}
		caught, what := wm.Caught(last), "when the last successful run started reading"
		if caught.IsZero() {
			caught, what = f.Started, "when zdsync started; no run succeeded since"
		}
		if age := now.Sub(caught); age > f.IncrementalMaxAge {
			f.alertOnce(ctx, job, syncer.CodeBehind, now, fmt.Sprintf("%s: Salesforce's changes since %s (%s ago: %s) may not be in Zendesk yet (limit INCREMENTAL_MAX_AGE=%s)",
				job, caught.UTC().Format("2006-01-02 15:04 UTC"), age.Round(time.Minute), what, f.IncrementalMaxAge))
		}
	}
}

// alertOnce raises the alert of job and code at now, unless it is open.
func (f *Freshness) alertOnce(ctx context.Context, job syncer.Job, code syncer.Code, now time.Time, message string) {
	if _, open, err := f.Store.OpenAlert(ctx, job, code); err != nil || open {
		return
	}
	s := syncer.NewSummary(job, now)
	s.Code, s.Message, s.FinishedAt = code, message, now
	f.log().Warn("job is stale", "job", job, "code", int(code), "message", message)
	if err := f.Alert(ctx, s); err != nil {
		f.log().Error("freshness alert", "job", job, "err", err)
	}
}

func (f *Freshness) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.New(slog.DiscardHandler)
}

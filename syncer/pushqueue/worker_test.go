package pushqueue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/zdsync/zdsync/syncer"
)

type stubPusher struct{ s *syncer.Summary }

func (p stubPusher) Push(context.Context, int64, syncer.Event) *syncer.Summary { return p.s }

func TestWorkerLeavesRetriesToThePusher(t *testing.T) {
	job := &river.Job[Args]{JobRow: &rivertype.JobRow{ID: 1}, Args: Args{TicketID: 5, Event: syncer.EventCreated}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		s     *syncer.Summary
		check func(error) bool
	}{
		{"a push that did its work completes the job", context.Background(), &syncer.Summary{}, func(err error) bool { return err == nil }},
		{"a silent code completes the job", context.Background(), &syncer.Summary{Code: syncer.CodeNoCaseID}, func(err error) bool { return err == nil }},
		{"a failed push cancels the job so River does not retry it", context.Background(), &syncer.Summary{Code: syncer.CodeUnableToLockRow},
			func(err error) bool { var e *river.JobCancelError; return errors.As(err, &e) }},
		{"a push interrupted by shutdown is snoozed to run again at start", cancelled, &syncer.Summary{Code: syncer.CodeUnableToLockRow},
			func(err error) bool { var e *river.JobSnoozeError; return errors.As(err, &e) && e.Duration == 0 }},
		{"a rate-limited push goes back to the queue, not failed for good", context.Background(), &syncer.Summary{Code: syncer.CodeRateLimited},
			func(err error) bool {
				var e *river.JobSnoozeError
				return errors.As(err, &e) && e.Duration == retryLaterFirst
			}},
		{"a push that found another push of its ticket running waits for it", context.Background(), &syncer.Summary{Code: syncer.CodeRunInProgress},
			func(err error) bool {
				var e *river.JobSnoozeError
				return errors.As(err, &e) && e.Duration == inProgressDelay
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *syncer.Summary
			w := &worker{pusher: stubPusher{tt.s}, log: slog.New(slog.DiscardHandler),
				done: func(_ context.Context, s *syncer.Summary) { got = s }}
			if err := w.Work(tt.ctx, job); !tt.check(err) {
				t.Errorf("Work = %v", err)
			}
			if got != tt.s {
				t.Errorf("Done not called with the summary")
			}
		})
	}
}

// Each snooze of a rate-limited push doubles its delay, up to an hour.
func TestRetryLaterDelayGrows(t *testing.T) {
	for _, tt := range []struct {
		metadata string
		want     time.Duration
	}{
		{`{}`, time.Minute},
		{`{"snoozes": 1}`, 2 * time.Minute},
		{`{"snoozes": 3}`, 8 * time.Minute},
		{`{"snoozes": 6}`, time.Hour},
		{`{"snoozes": 500}`, time.Hour},
		{`not json`, time.Minute},
	} {
		if got := retryLaterDelay([]byte(tt.metadata)); got != tt.want {
			t.Errorf("retryLaterDelay(%s) = %s, want %s", tt.metadata, got, tt.want)
		}
	}
}

// A push's time is bounded, and River's settings follow from the bound so
// that the pushes of a replica that died resume on another within
// ResumeWithin: with serve's defaults (3 retries 5 s apart, HTTP_TIMEOUT
// 30 s) and with any bound up to MaxPushTime.
func TestPushTimingResumesWithinTheBound(t *testing.T) {
	if got := PushBound(3, 5*time.Second, 30*time.Second); got != MaxPushTime {
		t.Errorf("PushBound of the defaults = %v, want the cap %v", got, MaxPushTime)
	}
	if got := PushBound(1, time.Second, 10*time.Second); got != 21*time.Second {
		t.Errorf("PushBound(1, 1s, 10s) = %v, want 2 attempts × 10s + 1s", got)
	}
	for _, push := range []time.Duration{time.Second, 21 * time.Second, MaxPushTime} {
		tm := TimingFor(push)
		if tm.Job <= tm.Push || tm.RescueAfter <= tm.Job {
			t.Errorf("push %v: job timeout %v and rescue %v must each be above the one before", push, tm.Job, tm.RescueAfter)
		}
		if tm.Resume > ResumeWithin {
			t.Errorf("push %v: a dead replica's pushes resume after up to %v, more than %v", push, tm.Resume, ResumeWithin)
		}
	}
}

// A push running past its bound is interrupted, and River runs it again:
// at once the first time (a rescued or timed-out push resumes promptly),
// after River's growing delay later.
func TestPushPastItsBoundIsInterrupted(t *testing.T) {
	job := &river.Job[Args]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1}, Args: Args{TicketID: 5, Event: syncer.EventCreated}}
	w := &worker{pusher: blockingPusher{}, timing: TimingFor(10 * time.Millisecond), log: slog.New(slog.DiscardHandler)}
	err := w.Work(context.Background(), job)
	var snooze *river.JobSnoozeError
	var cancelled *river.JobCancelError
	if err == nil || errors.As(err, &snooze) || errors.As(err, &cancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Work = %v, want an interruption River retries", err)
	}
	if next := w.NextRetry(job); time.Until(next) > 0 || time.Since(next) > time.Second {
		t.Errorf("first retry at %v, want now", next)
	}
	job.Attempt = 2
	if next := w.NextRetry(job); !next.IsZero() {
		t.Errorf("second retry at %v, want River's default", next)
	}
}

// blockingPusher pushes until its context ends.
type blockingPusher struct{}

func (blockingPusher) Push(ctx context.Context, _ int64, _ syncer.Event) *syncer.Summary {
	<-ctx.Done()
	return &syncer.Summary{Code: syncer.CodeOpenTimeout, Message: ctx.Err().Error()}
}

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

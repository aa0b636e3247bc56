package bot_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/bot"
)

// pacerAt is a Pacer on a fake clock, and a context for waiting on it.
func pacerAt(t *testing.T) (*bot.Pacer, *clockwork.FakeClock, context.Context) {
	t.Helper()
	clock := clockwork.NewFakeClockAt(epoch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return bot.NewPacer(clock, quietLogger()), clock, ctx
}

// advanceUntil advances the fake clock by step each time a waiter sleeps
// on it, until done is closed.
func advanceUntil(t *testing.T, ctx context.Context, clock *clockwork.FakeClock, step time.Duration, done <-chan struct{}) {
	t.Helper()
	for {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := clock.BlockUntilContext(wctx, 1)
		cancel()
		select {
		case <-done:
			return
		default:
		}
		if ctx.Err() != nil {
			t.Fatal("the pacer never finished")
		}
		if err == nil {
			clock.Advance(step)
		}
	}
}

func TestPacerSpacesCallsToTheDocumentedRate(t *testing.T) {
	tests := []struct {
		name, method string
		// want is when each of seven calls in a row is made.
		want []time.Duration
	}{
		{"chat.postMessage: one a second a channel after a short burst", bot.MethodPostMessage,
			[]time.Duration{0, 0, 0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}},
		{"chat.update (Tier 3): 50 a minute after a short burst", bot.MethodUpdate,
			[]time.Duration{0, 0, 0, 0, 0, 1200 * time.Millisecond, 2400 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clock, ctx := pacerAt(t)
			pace, ok := bot.PaceOf(tt.method)
			if !ok {
				t.Fatalf("%s is not paced", tt.method)
			}
			var at []time.Duration
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range len(tt.want) {
					_ = p.Call(ctx, tt.method, "C1", bot.PrioritySummary, func() error {
						at = append(at, clock.Since(epoch))
						return nil
					})
				}
			}()
			advanceUntil(t, ctx, clock, pace.Every/4, done)
			if !slices.Equal(at, tt.want) {
				t.Errorf("calls at %v, want %v", at, tt.want)
			}
		})
	}
}

func TestPacerKeepsChannelsApart(t *testing.T) {
	p, clock, ctx := pacerAt(t)
	for range 3 {
		_ = p.Call(ctx, bot.MethodPostMessage, "C1", bot.PrioritySummary, func() error { return nil })
	}
	// C1 has used its burst; C2 has not: its call goes at once.
	var at time.Time
	if err := p.Call(ctx, bot.MethodPostMessage, "C2", bot.PrioritySummary, func() error { at = clock.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	if !at.Equal(epoch) {
		t.Errorf("the call to another channel waited until %v", at)
	}
}

func TestPacerLetsAlertsGoFirst(t *testing.T) {
	p, clock, ctx := pacerAt(t)
	for range 5 { // chat.update's burst, used up
		_ = p.Call(ctx, bot.MethodUpdate, "", bot.PrioritySummary, func() error { return nil })
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	call := func(name string, prio bot.Priority) {
		wg.Go(func() {
			_ = p.Call(ctx, bot.MethodUpdate, "", prio, func() error {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return nil
			})
		})
	}
	call("status", bot.PriorityStatus)
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // the status edit waits for the next slot
		t.Fatal(err)
	}
	call("alert", bot.PriorityAlert)
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	advanceUntil(t, ctx, clock, 100*time.Millisecond, done)
	if !slices.Equal(order, []string{"alert", "status"}) {
		t.Errorf("order %v, want the alert first", order)
	}
}

func TestPacerWaitsOutA429AndCallsAgain(t *testing.T) {
	p, clock, ctx := pacerAt(t)
	var at []time.Duration
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = p.Call(ctx, bot.MethodPostMessage, "C1", bot.PriorityAlert, func() error {
			at = append(at, clock.Since(epoch))
			if len(at) < 3 {
				return &slack.RateLimitedError{RetryAfter: 30 * time.Second}
			}
			return nil
		})
	}()
	advanceUntil(t, ctx, clock, 5*time.Second, done)
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, 30 * time.Second, time.Minute}; !slices.Equal(at, want) {
		t.Errorf("attempts at %v, want %v (each after the Retry-After)", at, want)
	}
	// Another error is returned at once, not retried.
	calls := 0
	boom := errors.New("channel_not_found")
	if err := p.Call(ctx, bot.MethodPostMessage, "C9", bot.PriorityAlert, func() error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Errorf("err %v after %d calls, want channel_not_found after 1", err, calls)
	}
}

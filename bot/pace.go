package bot

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/slack-go/slack"
)

// Slack's documented rate limits of the Web API methods the bot posts with
// ("Rate limits", https://api.slack.com/apis/rate-limits, and each method's
// page). They apply per method, per workspace, per app: every replica
// paces itself at these rates, and a 429 (replicas together beyond a
// limit) pauses that method on the replica that received it for the
// Retry-After Slack sends.
const (
	// PostMessageInterval: chat.postMessage "generally allows posting one
	// message per second per channel", with short bursts
	// (https://api.slack.com/methods/chat.postMessage, "Rate limiting").
	PostMessageInterval = time.Second
	// Tier3PerMinute: chat.update is a Tier 3 method, "50+ per minute"
	// (https://api.slack.com/methods/chat.update).
	Tier3PerMinute = 50
	// Tier4PerMinute: files.getUploadURLExternal and
	// files.completeUploadExternal are Tier 4 methods, "100+ per minute"
	// (https://api.slack.com/methods/files.getUploadURLExternal,
	// https://api.slack.com/methods/files.completeUploadExternal).
	Tier4PerMinute = 100
)

// The Web API methods the pacer spaces.
const (
	MethodPostMessage    = "chat.postMessage"
	MethodUpdate         = "chat.update"
	MethodGetUploadURL   = "files.getUploadURLExternal"
	MethodCompleteUpload = "files.completeUploadExternal"
)

// minRetryAfter is the wait after a 429 without a usable Retry-After.
const minRetryAfter = time.Second

// Pace is the pacing of one method: on average one call every Every, at
// most Burst at once after a quiet spell, per channel when PerChannel.
type Pace struct {
	Every      time.Duration
	Burst      int
	PerChannel bool
}

// PaceOf returns the pacing of a Web API method the bot posts with:
// Slack's documented rate, with a burst smaller than Slack tolerates; false
// for a method the bot does not pace.
func PaceOf(method string) (Pace, bool) {
	switch method {
	case MethodPostMessage:
		return Pace{Every: PostMessageInterval, Burst: 3, PerChannel: true}, true
	case MethodUpdate:
		return Pace{Every: time.Minute / Tier3PerMinute, Burst: 5}, true
	case MethodGetUploadURL, MethodCompleteUpload:
		return Pace{Every: time.Minute / Tier4PerMinute, Burst: 10}, true
	}
	return Pace{}, false
}

// Priority orders the calls waiting for the same method: lower first.
type Priority int

// The priorities of the bot's posts.
const (
	// PriorityAlert: failure alerts, their replies and mass-deletion
	// approvals go first.
	PriorityAlert Priority = iota
	// PriorityReply: answers to people (button presses, attachments).
	PriorityReply
	// PrioritySummary: run summaries.
	PrioritySummary
	// PriorityStatus: the quiet-runs status message.
	PriorityStatus
)

// Pacer spaces the bot's Web API calls to Slack's documented rate limits
// (PaceOf) and waits out every 429 for its Retry-After, so that a message
// the bot must post is delayed, never dropped. Calls waiting for the same
// method (and channel) go in Priority order, alerts first. It is safe for
// concurrent use; the zero value is not: use NewPacer. The incremental
// digest and every other poster of the bot call Slack through it.
type Pacer struct {
	clock clockwork.Clock
	log   *slog.Logger

	mu    sync.Mutex
	seq   uint64
	lanes map[string]*lane
}

// lane is the pacing state of one method (and channel): a token bucket of
// Pace.Burst calls refilled one every Pace.Every, kept as the time its
// next call would be due at the steady rate (tat, the generic cell rate
// algorithm: exact, no rounding), and the calls waiting, in order.
type lane struct {
	pace    Pace
	tat     time.Time
	waiting []waiter
	wake    chan struct{}
}

// next is when the lane allows its next call.
func (l *lane) next() time.Time {
	return l.tat.Add(-time.Duration(l.pace.Burst-1) * l.pace.Every)
}

type waiter struct {
	prio Priority
	seq  uint64
}

func (w waiter) before(o waiter) bool { return w.prio < o.prio || w.prio == o.prio && w.seq < o.seq }

// NewPacer returns a Pacer on clock (nil: the real clock), logging the
// 429s it waits out to log (nil: discarded).
func NewPacer(clock clockwork.Clock, log *slog.Logger) *Pacer {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pacer{clock: clock, log: log, lanes: map[string]*lane{}}
}

// Call makes call, a call of Slack's Web API method in channel, when the
// method's pace allows, after the calls of higher priority waiting for the
// same method; when Slack answers 429, it waits the Retry-After and calls
// again, until call returns something else or ctx ends. A method without a
// pace is called at once.
func (p *Pacer) Call(ctx context.Context, method, channel string, prio Priority, call func() error) error {
	pace, ok := PaceOf(method)
	if !ok {
		return call()
	}
	key := method
	if pace.PerChannel {
		key += " " + channel
	}
	p.mu.Lock()
	p.seq++
	w := waiter{prio: prio, seq: p.seq}
	p.mu.Unlock()
	for {
		if err := p.take(ctx, key, pace, w); err != nil {
			return err
		}
		err := call()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return err
		}
		d := max(rl.RetryAfter, minRetryAfter)
		p.log.WarnContext(ctx, "slack rate limited; waiting", "method", method, "channel", channel, "retry_after", d.String())
		p.pause(key, d)
	}
}

func (p *Pacer) lane(key string, pace Pace) *lane {
	l := p.lanes[key]
	if l == nil {
		l = &lane{pace: pace, wake: make(chan struct{})}
		p.lanes[key] = l
	}
	return l
}

// changed wakes the waiters of l; p.mu is held.
func (l *lane) changed() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// take waits until w is the first waiter of the lane key and a call is
// allowed, and takes the allowance.
func (p *Pacer) take(ctx context.Context, key string, pace Pace, w waiter) error {
	p.mu.Lock()
	l := p.lane(key, pace)
	i, _ := slices.BinarySearchFunc(l.waiting, w, func(a, b waiter) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	l.waiting = slices.Insert(l.waiting, i, w)
	for {
		now := p.clock.Now()
		var wait <-chan time.Time
		if l.waiting[0] == w {
			d := l.next().Sub(now)
			if d <= 0 {
				l.tat = later(l.tat, now).Add(pace.Every)
				l.waiting = l.waiting[1:]
				l.changed()
				p.mu.Unlock()
				return nil
			}
			wait = p.clock.After(d)
		}
		wake := l.wake
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			p.mu.Lock()
			l.waiting = slices.DeleteFunc(l.waiting, func(o waiter) bool { return o == w })
			l.changed()
			p.mu.Unlock()
			return ctx.Err()
		case <-wait:
		case <-wake:
		}
		p.mu.Lock()
	}
}

// pause holds the lane key for d (a 429's Retry-After); then its calls go
// at the steady rate, without a burst.
func (p *Pacer) pause(key string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[key]
	resume := p.clock.Now().Add(d)
	l.tat = later(l.tat, resume.Add(time.Duration(l.pace.Burst-1)*l.pace.Every))
	l.changed()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

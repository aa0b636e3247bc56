package zendesk

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Documented limits of particular endpoints, besides the account's limit a
// minute ("Endpoint rate limits", Zendesk API, Rate limits).
const (
	// TicketUpdatesPerMinute is the limit of "Update Ticket": "100
	// requests per minute per account" (the case push writes the case ID
	// back with one update a ticket).
	TicketUpdatesPerMinute = 100
	// MaxQueuedJobs is the account's "Job limit": at most 30 background
	// jobs queued or running at once; a bulk request over it is answered
	// 429 (Rate limits, Job limit).
	MaxQueuedJobs = 30
)

// smoothFor is how long a scope keeps its smooth pace (a burst of one)
// after a 429: a limiter that answered 429 to a burst answers 429 to the
// next one, and a client that refills its burst during every pause sends
// it again after every pause.
const smoothFor = 10 * time.Minute

// spreadFactor is how much faster than its pace a smoothing scope may
// spend the tokens it gathered (its burst): the requests a scope saved
// while it was slower than its pace (sequential reads bound by latency)
// are caught up at twice the pace rather than all at once, so that a
// limiter allowing only small bursts answers one 429, not one for every
// token, before the scope turns smooth.
const spreadFactor = 2

// spreadBurst is how many requests a smoothing scope sends at once before
// spreadFactor paces them: enough for a case push or a single-account run
// to go without waiting, well below the bursts Zendesk is seen to refuse.
const spreadBurst = 5

// A scope that meets a 429 again while already at its smooth pace is
// paced slower (slowerBy, down to minPaceShare of its configured pace):
// some Zendesk limit is stricter than the configured one. It speeds up
// again by a twentieth of its pace every recoverAfter without a 429, so
// that it converges on the rate the API really allows.
const (
	slowerBy     = 0.8
	minPaceShare = 0.1
	recoverAfter = 30 * time.Second
)

// limitScope is the set of requests one Zendesk limit governs: the
// account's limit a minute governs every request; the incremental
// exports, ticket updates and bulk job submissions have limits of their
// own. A 429 pauses the scope whose limit it reports, and only that one:
// an export over its 10 a minute must not stall the case pushes.
type limitScope struct {
	limiter *rate.Limiter // nil: the scope is only paused, never paced
	burst   int           // the limiter's burst at its normal pace
	// smooths: a 429 brings the limiter to a burst of one for smoothFor,
	// and its burst is spent at most spreadFactor times its pace. The
	// account's limit does (its burst is a tenth of a minute's requests);
	// an endpoint limit whose burst is its whole minute need not.
	smooths bool
	spread  *rate.Limiter // smoothing scopes: spreadFactor × pace, burst spreadBurst

	pace rate.Limit // the configured pace, which the limiter's may be below

	mu          sync.Mutex
	pausedUntil time.Time
	smoothUntil time.Time
	paceChanged time.Time // when the limiter's pace last changed
}

func newScope(perMinute, burst int, smooths bool) *limitScope {
	s := &limitScope{burst: max(1, burst), smooths: smooths}
	if perMinute > 0 {
		s.pace = rate.Limit(float64(perMinute) / 60)
		s.limiter = rate.NewLimiter(s.pace, s.burst)
		if smooths {
			s.spread = rate.NewLimiter(s.pace*spreadFactor, spreadBurst)
		}
	}
	return s
}

// paused returns how long the scope is still paused.
func (s *limitScope) paused() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Until(s.pausedUntil)
}

// pause holds the scope's requests for d and makes its pace smooth: a
// burst of one, so that the tokens it would gather during the pause are
// not spent in one burst when the pause ends. A 429 of a request sent
// after the last pause ended, at the smooth pace already, slows the pace
// down; the 429s of requests sent in the same burst as the first do not.
func (s *limitScope) pause(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	fresh := !now.Before(s.pausedUntil)
	if until := now.Add(d); until.After(s.pausedUntil) {
		s.pausedUntil = until
	}
	if !s.smooths || s.limiter == nil {
		return
	}
	if fresh && s.limiter.Burst() == 1 {
		s.limiter.SetLimitAt(now, max(s.pace*minPaceShare, s.limiter.Limit()*slowerBy))
	}
	s.paceChanged = now
	s.smoothUntil = now.Add(d + smoothFor)
	s.limiter.SetBurstAt(now, 1)
}

// take waits, with sleep, for the scope's pacing to allow one request,
// speeding a slowed pace up again and restoring the normal burst once
// smoothFor has passed without a 429.
func (s *limitScope) take(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	if s.limiter == nil {
		return nil
	}
	s.mu.Lock()
	now := time.Now()
	if s.limiter.Limit() < s.pace && now.Sub(s.paceChanged) >= recoverAfter {
		s.limiter.SetLimitAt(now, min(s.pace, s.limiter.Limit()+s.pace/20))
		s.paceChanged = now
	}
	if s.limiter.Burst() != s.burst && now.After(s.smoothUntil) {
		s.limiter.SetBurstAt(now, s.burst)
	}
	r := s.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	var sr *rate.Reservation
	if s.spread != nil {
		sr = s.spread.ReserveN(now, 1)
		d = max(d, sr.DelayFrom(now))
	}
	s.mu.Unlock()
	if d > 0 {
		if err := sleep(ctx, d); err != nil {
			r.Cancel()
			if sr != nil {
				sr.Cancel()
			}
			return err
		}
	}
	return nil
}

// scopes returns the limit scopes of a request, the account's first.
func (t *transport) scopes(method, endpoint string) []*limitScope {
	switch {
	case strings.HasPrefix(endpoint, "/incremental/"):
		return []*limitScope{t.account, t.export}
	case method == http.MethodPut && endpoint == "/tickets/{id}.json":
		return []*limitScope{t.account, t.ticketUpdates}
	case method != http.MethodGet && strings.HasSuffix(endpoint, "_many.json"):
		return []*limitScope{t.account, t.jobs}
	}
	return []*limitScope{t.account}
}

// governing returns the scope a 429 answer reports on: the queued-jobs
// limit when a bulk request's answer names it, the endpoint's own limit
// for an endpoint that has one, else the account's.
func (t *transport) governing(scopes []*limitScope, body []byte) *limitScope {
	own := scopes[len(scopes)-1]
	if own == t.jobs {
		if bytes.Contains(bytes.ToLower(body), []byte("job")) {
			return own
		}
		return scopes[0]
	}
	return own
}

// gate waits until a request of scopes may be sent: until their pauses
// end and their pacing allows it. A pause that began while the request
// waited for its turn holds it too, and it then takes its turn again, so
// that the requests a pause held leave one by one at the scope's pace
// rather than all at once when it ends. The number of rounds is bounded,
// so that an injected sleep that does not wait cannot spin.
func (t *transport) gate(ctx context.Context, scopes []*limitScope) error {
	for round := 0; round < 3; round++ {
		if d := longestPause(scopes); d > 0 {
			t.waited(d)
			if err := t.sleep(ctx, d); err != nil {
				return err
			}
		}
		for _, s := range scopes {
			if err := s.take(ctx, t.sleep); err != nil {
				return err
			}
		}
		if longestPause(scopes) <= 0 {
			break
		}
	}
	if d := t.slowdown(); d > 0 {
		t.waited(d)
		return t.sleep(ctx, d)
	}
	return nil
}

func longestPause(scopes []*limitScope) time.Duration {
	var d time.Duration
	for _, s := range scopes {
		d = max(d, s.paused())
	}
	return d
}

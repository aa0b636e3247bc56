package zendesktest

import (
	"math"
	"strings"
	"time"
)

// Documented limits of the Zendesk API the fake can enforce ("Rate
// limits", Zendesk API).
const (
	// ExportRequestsPerMinute is the incremental exports' own limit: "You
	// can make up to 10 requests per minute to these endpoints"
	// (Incremental Exports); see WithExportRateLimit.
	ExportRequestsPerMinute = 10
	// MaxQueuedJobs is the "Job limit": at most 30 background jobs queued
	// or running at once per account. The fake enforces it unless
	// WithMaxQueuedJobs says otherwise.
	MaxQueuedJobs = 30
	// tooManyJobsRetryAfter is the Retry-After of a bulk request refused
	// over MaxQueuedJobs: about the time a small job takes.
	tooManyJobsRetryAfter = 5
)

// rateLimit is one limit of requests a minute: a fixed window of one
// minute (what X-Rate-Limit-Remaining counts down, and what Zendesk's
// plan limit is documented as), and optionally a token bucket that allows
// only small bursts, as the limits Zendesk answers 429 with below the
// plan's headline rate do.
type rateLimit struct {
	perMinute int
	burst     int // > 0: enforce a token bucket of perMinute with this burst instead of the window
	window    time.Time
	windowN   int
	tokens    float64
	last      time.Time
}

// WithTokenBucket makes the server enforce its rate limit as a token
// bucket: perMinute requests a minute on average, but at most burst at
// once, answering 429 with Retry-After (the whole seconds until a token
// is back) to a request that finds the bucket empty. X-Rate-Limit and
// X-Rate-Limit-Remaining still report the minute window, as Zendesk's
// headers report the plan's limit and not the stricter ones. This is
// the limiter people meet in practice: 429s at 5 requests a second
// against a 700-a-minute account.
func WithTokenBucket(perMinute, burst int) Option {
	return func(s *Server) { s.rate = rateLimit{perMinute: perMinute, burst: burst} }
}

// SetTokenBucket changes the server's rate limit to a token bucket (see
// WithTokenBucket); a burst of 0 restores the fixed window of perMinute
// (see WithRateLimit). The bucket starts full.
func (s *Server) SetTokenBucket(perMinute, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rateLimit{perMinute: perMinute, burst: burst}
}

// WithExportRateLimit makes the incremental export endpoints answer 429,
// with Retry-After, past perMinute requests in one minute window: their
// own limit besides the account's (ExportRequestsPerMinute).
func WithExportRateLimit(perMinute int) Option {
	return func(s *Server) { s.exportRate = rateLimit{perMinute: perMinute} }
}

// WithMaxQueuedJobs sets how many bulk jobs may be queued or running at
// once (default MaxQueuedJobs; negative: no limit). A bulk request over
// it is answered 429 with Retry-After, and no job is made.
func WithMaxQueuedJobs(n int) Option {
	return func(s *Server) { s.maxJobs = n }
}

// rateHeaders are what a response says of the account's limit:
// X-Rate-Limit, X-Rate-Limit-Remaining and ratelimit-reset (the seconds
// until the minute window starts again; "ratelimit-reset: 41", Rate
// limits).
type rateHeaders struct{ limit, remaining, reset int }

// count counts one request against the limit at now and returns the
// headers of the minute window and, when the request is refused, the
// Retry-After seconds. A zero limit refuses nothing.
func (l *rateLimit) count(now time.Time) (h rateHeaders, retryAfter int) {
	if l.perMinute <= 0 {
		return rateHeaders{unlimitedRemaining, unlimitedRemaining, 60}, 0
	}
	if l.window.IsZero() || !now.Before(l.window.Add(time.Minute)) {
		l.window, l.windowN = now, 0
	}
	l.windowN++
	toReset := max(1, int(math.Ceil(l.window.Add(time.Minute).Sub(now).Seconds())))
	h = rateHeaders{limit: l.perMinute, remaining: max(0, l.perMinute-l.windowN), reset: toReset}
	if l.burst <= 0 {
		if l.windowN > l.perMinute {
			retryAfter = toReset
		}
		return h, retryAfter
	}
	perSecond := float64(l.perMinute) / 60
	if l.last.IsZero() {
		l.tokens = float64(l.burst)
	} else if now.After(l.last) {
		l.tokens = min(float64(l.burst), l.tokens+now.Sub(l.last).Seconds()*perSecond)
	}
	l.last = now
	if l.tokens < 1 {
		return h, max(1, int(math.Ceil((1-l.tokens)/perSecond)))
	}
	l.tokens--
	return h, 0
}

// countRate counts one request against the account's limit and, for an
// incremental export, against the exports' own, and returns the rate
// limit headers and, when the request is refused, its Retry-After
// seconds. The caller holds s.mu.
func (s *Server) countRate(endpoint string) (h rateHeaders, retryAfter int) {
	now := s.now()
	h, retryAfter = s.rate.count(now)
	if strings.HasPrefix(endpoint, "/incremental/") {
		if _, r := s.exportRate.count(now); r > 0 && retryAfter == 0 {
			retryAfter = r
		}
	}
	return h, retryAfter
}

// jobsActive returns how many bulk jobs are queued or running at now: not
// yet applied within the job delay, or stuck. The caller holds s.mu.
func (s *Server) jobsActive(now time.Time) int {
	n := 0
	for _, j := range s.jobs {
		if j.Stuck || (!j.Applied && !j.Fail && now.Sub(j.Created) < s.jobDelay) {
			n++
		}
	}
	return n
}

// SetRateLimit changes the requests a minute the server allows (see
// WithRateLimit); 0 means no limit. The current window starts again.
func (s *Server) SetRateLimit(perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rateLimit{perMinute: perMinute}
}

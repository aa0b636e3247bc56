package slacktest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Slack's documented rates that the fake enforces.
const (
	// PostMessagesPerMinute: chat.postMessage "generally allows posting
	// one message per second per channel"
	// (https://api.slack.com/methods/chat.postMessage, "Rate limiting").
	PostMessagesPerMinute = 60
	// Tier3PerMinute is the rate of Tier 3 methods (chat.update), "50+
	// per minute"; Tier4PerMinute of Tier 4 methods
	// (files.getUploadURLExternal, files.completeUploadExternal), "100+
	// per minute" ("Rate limits", https://api.slack.com/apis/rate-limits).
	Tier3PerMinute = 50
	Tier4PerMinute = 100
)

// RateLimit is how the fake limits one Web API method: PerMinute calls a
// minute on average and at most Burst at once (a token bucket), per
// channel when PerChannel. A call beyond it is answered 429 Too Many
// Requests with a Retry-After header (seconds) and {"ok": false, "error":
// "ratelimited"}, as Slack does ("Rate limits", "Responding to rate
// limiting conditions").
type RateLimit struct {
	PerMinute  int
	Burst      int
	PerChannel bool
}

// DefaultRateLimits are the limits a new Server enforces: each method's
// documented rate, with the short bursts Slack tolerates.
func DefaultRateLimits() map[string]RateLimit {
	return map[string]RateLimit{
		"chat.postMessage":             {PerMinute: PostMessagesPerMinute, Burst: 4, PerChannel: true},
		"chat.update":                  {PerMinute: Tier3PerMinute, Burst: 10},
		"files.getUploadURLExternal":   {PerMinute: Tier4PerMinute, Burst: 20},
		"files.completeUploadExternal": {PerMinute: Tier4PerMinute, Burst: 20},
	}
}

// bucket is the token bucket of one rate-limited method (and channel).
type bucket struct {
	tokens float64
	at     time.Time
}

// SetRateLimit sets the rate limit of a Web API method; a zero PerMinute
// lifts it.
func (s *Server) SetRateLimit(method string, l RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.PerMinute <= 0 {
		delete(s.limits, method)
	} else {
		s.limits[method] = l
	}
	for k := range s.buckets {
		if k == method || strings.HasPrefix(k, method+" ") {
			delete(s.buckets, k)
		}
	}
}

// RateLimited returns the calls of method answered 429 so far.
func (s *Server) RateLimited(method string) []Event {
	return s.filter(func(e Event) bool { return e.Kind == "ratelimited" && e.Method == method })
}

// retryAfter takes a token of method's limit (in channel) and returns 0,
// or, when none is left, how long until one is; s.mu is held.
func (s *Server) retryAfter(method, channel string, now time.Time) time.Duration {
	l, ok := s.limits[method]
	if !ok {
		return 0
	}
	key := method
	if l.PerChannel {
		key += " " + channel
	}
	every := time.Minute / time.Duration(l.PerMinute)
	b := s.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(l.Burst), at: now}
		s.buckets[key] = b
	}
	b.tokens = min(float64(l.Burst), b.tokens+float64(now.Sub(b.at))/float64(every))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(every))
}

// writeRateLimited answers a call beyond its method's rate limit as Slack
// does: 429, Retry-After in whole seconds (rounded up) and "ratelimited".
func writeRateLimited(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "ratelimited"})
}

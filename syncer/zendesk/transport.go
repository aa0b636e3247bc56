package zendesk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// Call describes one HTTP request the adapter made (one attempt), for the
// Config.Observe hook: metrics by system, endpoint pattern, method and status.
type Call struct {
	// System is always "zendesk".
	System string
	// Endpoint is the path pattern below /api/v2, as in
	// "/organizations/{id}/tickets.json".
	Endpoint string
	// Method is the HTTP method.
	Method string
	// Status is the HTTP status answered, or 0 when no answer came.
	Status int
	// Duration is how long the attempt took.
	Duration time.Duration
}

type ctxKey int

// idempotentKey marks a request as safe to send again after a lost answer
// (5xx, reset, timeout) even though its method is POST.
const idempotentKey ctxKey = 1

func withIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey, true)
}

// transport paces, retries and counts every request of one Client.
type transport struct {
	base http.RoundTripper
	// The limit scopes: the account's limit a minute, and the endpoints
	// with limits of their own (see limitScope).
	account, export, ticketUpdates, jobs *limitScope
	timeout                              time.Duration
	maxRetries                           int
	rpm                                  int
	sleep                                func(ctx context.Context, d time.Duration) error
	observe                              func(Call)
	// observeWait, when set, is told of every wait the rate limit
	// imposes (a 429's Retry-After, slowing down near the limit).
	observeWait func(time.Duration)

	mu        sync.Mutex
	calls     map[string]int
	remaining int // last X-Rate-Limit-Remaining seen, -1 before any
	// limit is the account's limit a minute as the API reports it
	// (X-Rate-Limit, else the highest remainder seen); 0 before any.
	limit int
	// resetAt is when the window of remaining starts again, as the API
	// last reported it (ratelimit-reset); zero when it did not.
	resetAt time.Time
	// inflight counts the requests sent and not answered yet: what the
	// last remaining seen does not count.
	inflight int
	// nextSlot is when the next request may go while the window's
	// remainder is spread over its time left (see slowdown).
	nextSlot time.Time
	// rateLimitBudget bounds the total Retry-After waiting of one request.
	rateLimitBudget time.Duration
}

// errRateLimited is returned, wrapped, when 429s outlast every retry.
var errRateLimited = errors.New("rate limited")

func (t *transport) count(method, endpoint string) {
	t.mu.Lock()
	t.calls[method+" "+endpoint]++
	t.mu.Unlock()
}

func (t *transport) idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	v, _ := req.Context().Value(idempotentKey).(bool)
	return v
}

// RoundTrip sends req, pacing it with the limits of its scopes (see
// limitScope), slowing down when the API reports few remaining requests,
// waiting Retry-After on 429 (and pausing the scope the 429 governs) and
// retrying with backoff 5xx answers and connection failures of idempotent
// requests. Each attempt gets its own timeout; the answer's body is read
// whole before it is returned, so that the timeout covers it.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.Header.Get("Accept") == "" {
		// "You must set an Accept: application/json header on all
		// requests" (Zendesk API, Requests); the library sets only
		// Content-Type.
		req = req.Clone(ctx)
		req.Header.Set("Accept", "application/json")
	}
	endpoint := endpointPattern(req.URL.Path)
	scopes := t.scopes(req.Method, endpoint)
	idem := t.idempotent(req)
	failures, limited := 0, 0
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(ctx)
			req.Body = body
		}
		if err := t.gate(ctx, scopes); err != nil {
			return nil, err
		}
		resp, err := t.attempt(req, endpoint)
		if err != nil {
			if ctx.Err() != nil || !idem || failures >= t.maxRetries {
				return nil, err
			}
			if err := t.sleep(ctx, backoff(failures)); err != nil {
				return nil, err
			}
			failures++
			continue
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			// A limit clears after Retry-After: 429s are waited out up
			// to a budget of time, not counted as failures, and the
			// scope the limit governs waits too.
			wait := retryAfter(resp.Header, backoff(limited))
			if t.maxRetries < 0 || waited+wait > t.rateLimitBudget {
				return resp, nil
			}
			waited += wait
			limited++
			body, _ := io.ReadAll(resp.Body)
			t.governing(scopes, body).pause(wait)
			t.waited(wait)
			if err := t.sleep(ctx, wait); err != nil {
				return nil, err
			}
		case resp.StatusCode >= 500 && idem:
			if failures >= t.maxRetries {
				return resp, nil
			}
			if err := t.sleep(ctx, retryAfter(resp.Header, backoff(failures))); err != nil {
				return nil, err
			}
			failures++
		default:
			return resp, nil
		}
	}
}

// waited reports a rate-limit wait to the observer.
func (t *transport) waited(d time.Duration) {
	if t.observeWait != nil {
		t.observeWait(d)
	}
}

// attempt sends one request with its own timeout and reads the answer.
func (t *transport) attempt(req *http.Request, endpoint string) (*http.Response, error) {
	t.count(req.Method, endpoint)
	t.mu.Lock()
	t.inflight++
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inflight--
		t.mu.Unlock()
	}()
	syncer.CountCall(req.Context())
	actx, cancel := context.WithTimeout(req.Context(), t.timeout)
	defer cancel()
	start := time.Now()
	resp, err := t.base.RoundTrip(req.WithContext(actx))
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil && actx.Err() == context.DeadlineExceeded && req.Context().Err() == nil {
		err = &timeoutError{err: err}
	}
	status := 0
	if err == nil {
		status = resp.StatusCode
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		t.noteRemaining(resp.Header)
	}
	if t.observe != nil {
		t.observe(Call{System: "zendesk", Endpoint: endpoint, Method: req.Method, Status: status, Duration: time.Since(start)})
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// timeoutError is a request that ran out of its per-attempt timeout.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string   { return "request timed out: " + e.err.Error() }
func (e *timeoutError) Unwrap() error   { return e.err }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

func (t *transport) noteRemaining(h http.Header) {
	n, err := strconv.Atoi(h.Get("X-Rate-Limit-Remaining"))
	if err != nil || n < 0 {
		return
	}
	limit, err := strconv.Atoi(h.Get("X-Rate-Limit"))
	reset, rerr := strconv.Atoi(h.Get("Ratelimit-Reset"))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remaining = n
	if err == nil && limit > 0 {
		t.limit = limit
	} else {
		t.limit = max(t.limit, n)
	}
	t.resetAt = time.Time{}
	if rerr == nil && reset >= 0 {
		t.resetAt = time.Now().Add(time.Duration(reset) * time.Second)
	}
}

// slowdown returns the extra wait before the next request when the API
// reported that few requests remain in its window (below lowRemaining).
// When it also said when the window starts again (ratelimit-reset), what
// remains is spread over the time left, so that a client paced at the
// limit is not slowed at the end of every window; otherwise the pacing
// interval is stretched in proportion to how close to zero the remainder
// is, so that the window refills instead of ending in a 429.
//
// The budget is the smaller of ZENDESK_RATE_LIMIT and the limit the API
// reports: configured above the account's real limit, the client would
// otherwise take every answer for "nearly exhausted" and sleep seconds
// before each request.
func (t *transport) slowdown() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	rem, rpm := t.remaining, t.rpm
	if t.limit > 0 {
		rpm = min(rpm, t.limit)
	}
	low := lowRemaining(rpm)
	if rem < 0 || rem >= low {
		return 0
	}
	interval := time.Minute / time.Duration(max(rpm, 1))
	if t.resetAt.IsZero() {
		return interval * time.Duration(low-rem)
	}
	now := time.Now()
	left := t.resetAt.Sub(now)
	if left <= 0 {
		return 0 // the window has started again
	}
	// The requests still in flight will use some of what remains; the
	// rest is spread over the time left, each request taking the next
	// slot, so that requests waiting at once do not leave at once.
	spacing := left
	if avail := rem - t.inflight; avail > 0 {
		spacing = left / time.Duration(avail)
	}
	if spacing <= interval {
		return 0
	}
	slot := t.nextSlot
	if slot.Before(now) {
		slot = now
	}
	t.nextSlot = slot.Add(spacing)
	return slot.Sub(now)
}

// lowRemaining is the X-Rate-Limit-Remaining below which the client slows
// down: a tenth of the per-minute budget, at least 5.
func lowRemaining(rpm int) int { return max(5, rpm/10) }

// retryAfter reads the Retry-After header (seconds), or returns def.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(time.Second))
		}
	}
	return def
}

// backoff is the wait before retry number attempt+1: 500ms doubling, at
// most 30s.
func backoff(attempt int) time.Duration {
	d := time.Duration(float64(500*time.Millisecond) * math.Pow(2, float64(attempt)))
	return min(d, 30*time.Second)
}

// endpointPattern turns a request path into the pattern calls are counted
// under: the path below /api/v2, numeric segments and job IDs as {id}.
func endpointPattern(path string) string {
	p := path
	if i := strings.Index(p, "/api/v2"); i >= 0 {
		p = p[i+len("/api/v2"):]
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		base := strings.TrimSuffix(seg, ".json")
		if base == "" {
			continue
		}
		numeric := strings.Trim(base, "0123456789") == ""
		if numeric || (i > 0 && segs[i-1] == "job_statuses" && base != "show_many") {
			segs[i] = "{id}" + seg[len(base):]
		}
	}
	return strings.Join(segs, "/")
}

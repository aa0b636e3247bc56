package zendesktest

import (
	"net/http"
	"strings"
	"time"
)

// fault is one injected misbehaviour, applied to the next matching requests.
type fault struct {
	method   string // "" matches any method
	endpoint string // "" matches any endpoint; else an Endpoint pattern
	times    int
	status   int // answer this status instead of handling
	body     any // the answer's body with status; nil: a generic error
	retry    int // Retry-After seconds with a 429
	drop     bool
	after    bool // handle the request, then drop the connection
	delay    time.Duration
}

func (f *fault) matches(method, endpoint string) bool {
	return (f.method == "" || strings.EqualFold(f.method, method)) && (f.endpoint == "" || f.endpoint == endpoint)
}

// FailNext answers the next n requests matching method and endpoint (an
// Endpoint pattern such as "/organizations/create_many.json"; empty strings
// match anything) with the given 5xx status, without handling them.
func (s *Server) FailNext(method, endpoint string, n, status int) {
	s.addFault(&fault{method: method, endpoint: endpoint, times: n, status: status})
}

// RateLimitNext answers the next n requests (of any endpoint) with 429 Too
// Many Requests and Retry-After: retryAfter seconds, as Zendesk does when the
// account's rate limit is used up by another integration.
func (s *Server) RateLimitNext(n, retryAfter int) {
	s.addFault(&fault{times: n, status: http.StatusTooManyRequests, retry: retryAfter})
}

// RateLimitEndpointNext answers the next n requests matching method and
// endpoint with 429 Too Many Requests and Retry-After: retryAfter seconds,
// as an endpoint with a limit of its own does (the incremental exports'
// 10 a minute) while the account's limit is far from used up.
func (s *Server) RateLimitEndpointNext(method, endpoint string, n, retryAfter int) {
	s.addFault(&fault{method: method, endpoint: endpoint, times: n, status: http.StatusTooManyRequests, retry: retryAfter})
}

// ForbiddenBody is the answer Zendesk is seen to give a request its
// agent or plan has no access to (recorded by Zendesk API clients):
// 403 with an error object carrying title and message.
var ForbiddenBody = map[string]any{"error": map[string]any{"title": "Forbidden",
	"message": "You do not have access to this page. Please contact the account owner of this help desk for further help."}}

// DataImportsDisabledBody is the answer to the bulk user endpoints of an
// account whose bulk user imports are not enabled: "A 403 Forbidden error
// is returned if data imports are not enabled" (Create Many Users); the
// message is the one published for it.
var DataImportsDisabledBody = map[string]any{"error": "Forbidden", "message": "Data imports are not enabled"}

// ForbidNext answers the next n requests matching method and endpoint
// with 403 Forbidden and ForbiddenBody, without handling them.
func (s *Server) ForbidNext(method, endpoint string, n int) {
	s.addFault(&fault{method: method, endpoint: endpoint, times: n, status: http.StatusForbidden, body: ForbiddenBody})
}

// RefuseBulkUserImports makes POST /users/create_many.json and
// /users/create_or_update_many.json answer 403 Forbidden with
// DataImportsDisabledBody, as an account without bulk user imports does
// until Zendesk Customer Support enables them; the per-user endpoints
// keep working. false enables them again.
func (s *Server) RefuseBulkUserImports(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseBulkUsers = on
}

// RefuseJobsNext answers the next n bulk requests with 429 Too Many
// Requests, as Zendesk does to a bulk request while the account has its
// limit of jobs queued or running (MaxQueuedJobs) because of another
// integration's jobs; no job is made.
func (s *Server) RefuseJobsNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobRefusals += n
}

// DropNext closes the connection of the next n matching requests without
// answering. With afterHandling the request is handled first (its records
// are written) and only the answer is lost.
func (s *Server) DropNext(method, endpoint string, n int, afterHandling bool) {
	s.addFault(&fault{method: method, endpoint: endpoint, times: n, drop: true, after: afterHandling})
}

// SlowNext delays the answer to the next n matching requests by d (a real
// sleep, the only one in the package; the request's context still ends it).
func (s *Server) SlowNext(method, endpoint string, n int, d time.Duration) {
	s.addFault(&fault{method: method, endpoint: endpoint, times: n, delay: d})
}

// FailItems makes every bulk job item for which pred returns true fail with
// a validation error, while the other items of the job apply. endpoint is
// the bulk endpoint pattern ("/users/create_many.json") and item the
// record as sent (for destroy_many, {"id": <id>}). nil clears it.
func (s *Server) FailItems(pred func(endpoint string, item map[string]any) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.itemFault = pred
}

// FailNextJob makes the next n jobs submitted to endpoint (empty: any bulk
// endpoint) end with status "failed" and no results; nothing is written.
func (s *Server) FailNextJob(endpoint string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failJobs[endpoint] += n
}

// StickNextJobs makes the next n submitted jobs stay "queued" forever;
// nothing is written.
func (s *Server) StickNextJobs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuckJobs += n
}

func (s *Server) addFault(f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// takeFault returns the first fault matching the request and uses it up.
// The caller holds s.mu.
func (s *Server) takeFault(method, endpoint string) *fault {
	for i, f := range s.faults {
		if f.matches(method, endpoint) {
			f.times--
			if f.times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// ClearFaults drops every injected fault still pending: FailNext,
// RateLimitNext, RateLimitEndpointNext, ForbidNext, DropNext, SlowNext,
// FailItems, FailNextJob, StickNextJobs, RefuseJobsNext and
// RefuseBulkUserImports, and
// restores the plain job shape (SetJobShape). Jobs already stuck stay
// stuck.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.itemFault, s.stuckJobs, s.jobRefusals, s.refuseBulkUsers, s.shape = nil, nil, 0, 0, false, JobShape{}
	clear(s.failJobs)
}

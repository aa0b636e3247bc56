package salesforcetest

import (
	"net/http"
	"time"
)

// DefaultDailyAPIRequests is the daily API allowance of a fake unless
// SetAPIAllowance says otherwise: the 100,000 requests every Enterprise
// Edition org starts from before its per-license additions (Salesforce
// Developer Limits and Allocations Quick Reference, "API Request Limits
// and Allocations").
const DefaultDailyAPIRequests = 100_000

// SetAPIAllowance sets the org's daily API allowance: its maximum and what
// remains of it. Each API request the fake answers (logins excluded, its
// GET …/limits/ included) takes one from what remains; while nothing
// remains, every API request is answered as Salesforce answers when the
// allowance is used up: HTTP 403, [{"message":"TotalRequests Limit
// exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]. The default is
// DefaultDailyAPIRequests, all of it remaining.
func (s *Server) SetAPIAllowance(maximum, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowance = [2]int{maximum, remaining}
}

// APIAllowance returns the daily API allowance's maximum and what remains
// of it.
func (s *Server) APIAllowance() (maximum, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allowance[0], s.allowance[1]
}

// RateLimitNext makes the next n API requests (logins excluded) be answered
// 429 Too Many Requests with Retry-After (whole seconds; none when
// retryAfter is 0) and a small HTML page, as a proxy in front of the API
// answers: only the status says what happened.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitNext, s.retryAfter = n, retryAfter
}

// FailNext makes the next n API requests (logins excluded) be answered
// with status and a small HTML page, as Salesforce's edge answers during
// an outage or maintenance ("503 Service Unavailable"): no JSON error list.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// handleLimits serves the org's limits (REST API Developer Guide, "List Org
// Limits"): the daily API allowance and, for a realistic answer, a few other
// limits the fake does not enforce.
func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request) {
	type limit struct {
		Max       int `json:"Max"`
		Remaining int `json:"Remaining"`
	}
	s.mu.Lock()
	s.calls.Limits++
	daily := limit{s.allowance[0], s.allowance[1]}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]limit{
		"ConcurrentAsyncGetReportInstances": {200, 200},
		"ConcurrentSyncReportRuns":          {20, 20},
		"DailyApiRequests":                  daily,
		"DailyAsyncApexExecutions":          {250000, 250000},
		"DailyBulkApiBatches":               {15000, 15000},
		"DataStorageMB":                     {1024, 1010},
	})
}

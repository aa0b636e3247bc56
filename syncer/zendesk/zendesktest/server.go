// Package zendesktest provides an in-memory fake of the Zendesk Support API,
// served over real HTTP on loopback the way net/http/httptest serves
// handlers. It speaks the wire format the real API speaks (cursor pages, bulk
// jobs answered with job statuses, show_many, users search, the incremental
// ticket export, rate limit headers), enforces what the real API enforces
// (100 records a bulk job, page sizes, unique names and e-mails, basic
// authentication with an API token), counts the calls it receives and can be
// told to fail in each documented way.
//
// Nothing in it sleeps except the explicit slow-response fault; its clock is
// injectable so that rate limit windows and timestamps are testable without
// waiting.
package zendesktest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented limits the fake enforces.
const (
	// MaxPageSize is the largest page[size] of a cursor-paginated list
	// ("page[size] … maximum of 100", Zendesk API, Pagination).
	MaxPageSize = 100
	// MaxJobItems is the largest number of records one bulk request takes
	// ("Accepts an array of up to 100 … objects", create_many, update_many,
	// destroy_many and create_or_update_many).
	MaxJobItems = 100
	// ExportPageSize is the number of tickets in one page of the incremental
	// ticket export ("up to 1000 items per page", Incremental Exports).
	ExportPageSize = 1000
	// DefaultEmail and DefaultToken are the credentials the server accepts
	// unless WithCredentials says otherwise.
	DefaultEmail = "agent@example.com"
	DefaultToken = "test-token"
	// DefaultCaseIDField is the ID of the ticket custom field AddTicket puts
	// syncer.Ticket.CaseID in, unless WithCaseIDField says otherwise.
	DefaultCaseIDField int64 = 360000000001
	// unlimitedRemaining is the X-Rate-Limit-Remaining reported when no
	// rate limit is configured: the Enterprise Plus limit, per minute.
	unlimitedRemaining = 2500
)

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the agent e-mail and API token the server accepts
// (basic authentication as "{email}/token:{token}").
func WithCredentials(email, token string) Option {
	return func(s *Server) { s.email, s.token = email, token }
}

// WithRateLimit makes the server answer 429 Too Many Requests, with
// Retry-After, once more than perMinute requests arrive in one minute window
// of its clock. Zero (the default) means no limit.
func WithRateLimit(perMinute int) Option {
	return func(s *Server) { s.rate = rateLimit{perMinute: perMinute} }
}

// WithClock sets the clock the server uses for rate limit windows, job
// processing delays and timestamps.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithJobDelay makes bulk jobs stay queued until d has passed on the
// server's clock; their records are written when the job completes. With
// zero (the default) a job's records are written when it is submitted and
// its status turns completed at the first poll.
func WithJobDelay(d time.Duration) Option {
	return func(s *Server) { s.jobDelay = d }
}

// WithCaseIDField sets the ID of the ticket custom field in which AddTicket
// stores syncer.Ticket.CaseID and from which Tickets reads it back.
func WithCaseIDField(id int64) Option {
	return func(s *Server) { s.caseField = id }
}

// WithExportPageSize sets how many tickets one incremental export page holds
// (default ExportPageSize), so that tests can cross pages cheaply.
func WithExportPageSize(n int) Option {
	return func(s *Server) { s.exportPage = n }
}

// WithLatency makes the server wait d before handling each request (a real
// sleep, ended early when the client gives up), as a remote API would:
// what benchmarks measure pacing and concurrency against.
func WithLatency(d time.Duration) Option {
	return func(s *Server) { s.latency = d }
}

// Server is a fake Zendesk instance. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	latency   time.Duration
	onRequest func(method, endpoint string)
	// resultsObject: job statuses carry "results" in the documented
	// object form ({"success": …}) instead of the per-record array.
	resultsObject bool
	shape         JobShape

	mu         sync.Mutex
	email      string
	token      string
	rate       rateLimit // the account's limit a minute
	exportRate rateLimit // the incremental exports' own limit
	maxJobs    int       // bulk jobs queued or running at once; < 0: no limit
	now        func() time.Time
	jobDelay   time.Duration
	caseField  int64
	exportPage int

	nextID int64
	orgs   map[int64]*org
	users  map[int64]*user
	// Indexes, so that the fake stays fast with 100,000s of records.
	orgByNameIdx  map[string]int64   // lower-case name → ID
	orgByExtIdx   map[string][]int64 // external_id → IDs
	userByMailIdx map[string]int64   // lower-case e-mail → ID
	orgIDs        []int64            // sorted org IDs; nil when stale
	userIDs       []int64            // sorted user IDs; nil when stale
	tickets       map[int64]*ticket
	jobs          map[string]*job
	jobSeq        int

	calls      map[string]int
	writeCalls int

	faults    []*fault
	itemFault func(endpoint string, item map[string]any) bool
	failJobs  map[string]int
	stuckJobs int
	// jobRefusals: the next bulk requests answered 429 (job limit).
	jobRefusals int
	// refuseBulkUsers: the bulk user endpoints answer 403 (bulk user
	// imports not enabled).
	refuseBulkUsers bool
}

// NewServer starts a fake Zendesk on loopback. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		email:      DefaultEmail,
		token:      DefaultToken,
		now:        time.Now,
		caseField:  DefaultCaseIDField,
		exportPage: ExportPageSize,
		maxJobs:    MaxQueuedJobs,
		nextID:     1000,
		orgs:       map[int64]*org{},
		users:      map[int64]*user{},

		orgByNameIdx:  map[string]int64{},
		orgByExtIdx:   map[string][]int64{},
		userByMailIdx: map[string]int64{},
		tickets:       map[int64]*ticket{},
		jobs:          map[string]*job{},
		calls:         map[string]int{},
		failJobs:      map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL returns the base URL of the instance, as in https://example.zendesk.com
// (the API lives under URL()+"/api/v2").
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client that trusts the server (plain HTTP here).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Calls returns how many requests the server received, keyed by method and
// endpoint pattern as in "POST /organizations/create_many.json" or
// "GET /job_statuses/{id}.json". Rejected requests (429, 5xx faults) count.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// WriteCalls returns how many requests other than GET the server received.
func (s *Server) WriteCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeCalls
}

// TotalCalls returns how many requests the server received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.calls {
		n += v
	}
	return n
}

// Endpoint returns the pattern a request path is counted under: the path
// below /api/v2 with numeric segments and job IDs replaced by {id}, as in
// "/organizations/{id}/tickets.json".
func Endpoint(path string) string {
	p := strings.TrimPrefix(path, "/api/v2")
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		base := strings.TrimSuffix(seg, ".json")
		if base == "" {
			continue
		}
		isNum := true
		for _, r := range base {
			if r < '0' || r > '9' {
				isNum = false
				break
			}
		}
		if isNum || (i > 0 && segs[i-1] == "job_statuses" && base != "show_many") {
			segs[i] = "{id}" + strings.TrimPrefix(seg, base)
		}
	}
	return strings.Join(segs, "/")
}

// takeID returns want, a record's given ID (later new IDs follow it), or
// a new ID when want is 0. The caller holds s.mu.
func (s *Server) takeID(want int64) int64 {
	if want == 0 {
		return s.newID()
	}
	s.nextID = max(s.nextID, want)
	return want
}

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) apiURL(kind string, id int64) string {
	return fmt.Sprintf("%s/api/v2/%s/%d.json", s.srv.URL, kind, id)
}

// OnRequest sets a function called with the method and endpoint pattern of
// every request as it arrives, before it is handled (nil clears it); tests
// use it to act at a precise moment of a run, such as killing a process
// once some bulk jobs arrived. It runs without the server's lock, so it
// may call the server's methods (a fault armed there applies to the
// request at hand).
func (s *Server) OnRequest(fn func(method, endpoint string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = fn
}

// SetLatency changes the wait before each request is handled (see
// WithLatency); 0 turns it off.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func encodeCursor(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return string(b), err == nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "description": desc})
}

func parseIDs(s string) ([]int64, bool) {
	var out []int64
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

// The sorted ID lists of orgs and users, kept so that the fake stays fast
// with 100,000s of records: a nil list is stale, rebuilt when next needed.

// appendSorted returns the sorted ids with id added: appended when it
// sorts last, else nil (stale).
func appendSorted(ids []int64, id int64) []int64 {
	if n := len(ids); ids != nil && (n == 0 || ids[n-1] < id) {
		return append(ids, id)
	}
	return nil
}

// sortedKeys returns ids, or the keys of m sorted when ids is stale.
func sortedKeys[T any](ids []int64, m map[int64]T) []int64 {
	if ids == nil {
		ids = make([]int64, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		slices.Sort(ids)
	}
	return ids
}

// domains returns the records of m with the given ids in their domain
// form, in order.
func domains[R, D any](ids []int64, m map[int64]R, domain func(R) D) []D {
	out := make([]D, 0, len(ids))
	for _, id := range ids {
		out = append(out, domain(m[id]))
	}
	return out
}

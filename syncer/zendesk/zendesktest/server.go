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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
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

type org struct {
	ID          int64          `json:"id"`
	URL         string         `json:"url"`
	Name        string         `json:"name"`
	ExternalID  *string        `json:"external_id"`
	Tags        []string       `json:"tags"`
	Fields      map[string]any `json:"organization_fields"`
	Details     string         `json:"details"`
	Notes       string         `json:"notes"`
	DomainNames []string       `json:"domain_names"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

type user struct {
	ID         int64          `json:"id"`
	URL        string         `json:"url"`
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	OrgID      *int64         `json:"organization_id"`
	Role       string         `json:"role"`
	Verified   bool           `json:"verified"`
	Active     bool           `json:"active"`
	Tags       []string       `json:"tags"`
	Fields     map[string]any `json:"user_fields"`
	ExternalID *string        `json:"external_id"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

type customField struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

type ticket struct {
	ID           int64         `json:"id"`
	URL          string        `json:"url"`
	Subject      string        `json:"subject"`
	Description  string        `json:"description"`
	Priority     *string       `json:"priority"`
	Status       string        `json:"status"`
	OrgID        *int64        `json:"organization_id"`
	RequesterID  int64         `json:"requester_id"`
	CustomFields []customField `json:"custom_fields"`
	Tags         []string      `json:"tags"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// jobResult is one item of a job status's results, in the documented shape.
type jobResult struct {
	Index   *int   `json:"index,omitempty"`
	ID      int64  `json:"id,omitempty"`
	Action  string `json:"action,omitempty"`
	Status  string `json:"status,omitempty"`
	Success bool   `json:"success"`
	Error   string `json:"error,omitempty"`
	Details string `json:"details,omitempty"`
	Email   string `json:"email,omitempty"`
}

type job struct {
	ID       string
	Type     string
	Endpoint string
	Items    []map[string]any
	IDs      []int64
	Created  time.Time
	Status   string // queued, completed, failed
	Stuck    bool
	Fail     bool
	Applied  bool
	Results  []jobResult
	Message  string
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

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) apiURL(kind string, id int64) string {
	return fmt.Sprintf("%s/api/v2/%s/%d.json", s.srv.URL, kind, id)
}

// --- seeding and inspection ---

// AddOrg stores an organization as if it existed in Zendesk and returns its
// ID (o.ID is used when set). It panics on a duplicate name, as Zendesk
// refuses one.
func (s *Server) AddOrg(o syncer.Org) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgByName(o.Name) != nil {
		panic("zendesktest: duplicate organization name " + o.Name)
	}
	id := o.ID
	if id == 0 {
		id = s.newID()
	} else if id > s.nextID {
		s.nextID = id
	}
	now := s.now().UTC()
	rec := &org{ID: id, URL: s.apiURL("organizations", id), Name: o.Name, Tags: append([]string{}, o.Tags...),
		Fields: o.Fields.Map(), CreatedAt: now, UpdatedAt: now, DomainNames: []string{}}
	if o.ExternalID != "" {
		ext := o.ExternalID
		rec.ExternalID = &ext
	}
	if !o.UpdatedAt.IsZero() {
		rec.UpdatedAt = o.UpdatedAt
	}
	s.putOrg(rec)
	return id
}

// Orgs returns every organization, ordered by ID.
func (s *Server) Orgs() []syncer.Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]syncer.Org, 0, len(s.orgs))
	for _, id := range s.sortedOrgIDs() {
		out = append(out, s.orgs[id].domain())
	}
	return out
}

// OrgCount returns how many organizations exist.
func (s *Server) OrgCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.orgs)
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

// SetRateLimit changes the requests a minute the server allows (see
// WithRateLimit); 0 means no limit. The current window starts again.
func (s *Server) SetRateLimit(perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rateLimit{perMinute: perMinute}
}

// SetResultsObject makes job statuses carry "results" in the object form
// the Job Statuses reference also documents, {"success": true} when every
// record of a completed job succeeded ({"success": false} otherwise, and
// {} before it completes), instead of one result a record. false restores
// the array.
func (s *Server) SetResultsObject(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resultsObject = on
}

// SetLatency changes the wait before each request is handled (see
// WithLatency); 0 turns it off.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Org returns the organization with the given ID.
func (s *Server) Org(id int64) (syncer.Org, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[id]
	if !ok {
		return syncer.Org{}, false
	}
	return o.domain(), true
}

func (o *org) domain() syncer.Org {
	d := syncer.Org{ID: o.ID, Name: o.Name, Tags: append([]string{}, o.Tags...), Fields: syncer.FieldsOf(o.Fields), UpdatedAt: o.UpdatedAt}
	if o.ExternalID != nil {
		d.ExternalID = *o.ExternalID
	}
	return d
}

// AddUser stores a user as if it existed in Zendesk and returns its ID. It
// panics on a duplicate e-mail (compared case-insensitively).
func (s *Server) AddUser(u syncer.User) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Email != "" && s.userByEmail(u.Email) != nil {
		panic("zendesktest: duplicate user e-mail " + u.Email)
	}
	id := u.ID
	if id == 0 {
		id = s.newID()
	} else if id > s.nextID {
		s.nextID = id
	}
	role := u.Role
	if role == "" {
		role = "end-user"
	}
	now := s.now().UTC()
	rec := &user{ID: id, URL: s.apiURL("users", id), Name: u.Name, Email: u.Email, Role: role, Active: true, Verified: true,
		Tags: append([]string{}, u.Tags...), Fields: copyMap(u.Fields), CreatedAt: now, UpdatedAt: now}
	if u.OrgID != 0 {
		oid := u.OrgID
		rec.OrgID = &oid
	}
	if u.ExternalID != "" {
		ext := u.ExternalID
		rec.ExternalID = &ext
	}
	s.putUser(rec)
	return id
}

// Users returns every user, ordered by ID.
func (s *Server) Users() []syncer.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]syncer.User, 0, len(s.users))
	for _, id := range s.sortedUserIDs() {
		out = append(out, s.users[id].domain())
	}
	return out
}

// UserVerified reports whether the user's primary identity is verified.
func (s *Server) UserVerified(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	return ok && u.Verified
}

// SetUserVerified sets whether the user's primary identity is verified
// (AddUser makes users verified).
func (s *Server) SetUserVerified(id int64, verified bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.Verified = verified
	}
}

func (u *user) domain() syncer.User {
	d := syncer.User{ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role, Tags: append([]string{}, u.Tags...), Fields: copyMap(u.Fields)}
	if u.OrgID != nil {
		d.OrgID = *u.OrgID
	}
	if u.ExternalID != nil {
		d.ExternalID = *u.ExternalID
	}
	return d
}

// AddTicket stores a ticket and returns its ID. Its CaseID, when set, goes
// in the case-ID custom field; an empty Status means "new"; CreatedAt and
// UpdatedAt default to the server's clock.
func (s *Server) AddTicket(t syncer.Ticket) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := t.ID
	if id == 0 {
		id = s.newID()
	} else if id > s.nextID {
		s.nextID = id
	}
	now := s.now().UTC()
	rec := &ticket{ID: id, URL: s.apiURL("tickets", id), Subject: t.Subject, Description: t.Description,
		Status: t.Status, RequesterID: t.RequesterID, Tags: []string{}, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if rec.Status == "" {
		rec.Status = "new"
	}
	if t.Priority != "" {
		p := t.Priority
		rec.Priority = &p
	}
	if t.OrgID != 0 {
		oid := t.OrgID
		rec.OrgID = &oid
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = now
	}
	var cv any
	if t.CaseID != "" {
		cv = t.CaseID
	}
	rec.CustomFields = []customField{{ID: s.caseField, Value: cv}}
	s.tickets[id] = rec
	return id
}

// SetTicketStatus changes a ticket's status and its updated_at.
func (s *Server) SetTicketStatus(id int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tickets[id]; ok {
		t.Status = status
		t.UpdatedAt = s.now().UTC()
	}
}

// SetTicketCustomField sets one custom field of a ticket to value (a string,
// a number, a bool or nil, as Zendesk stores them).
func (s *Server) SetTicketCustomField(id, fieldID int64, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tickets[id]; ok {
		setCustomField(t, fieldID, value)
	}
}

func setCustomField(t *ticket, fieldID int64, value any) {
	for i := range t.CustomFields {
		if t.CustomFields[i].ID == fieldID {
			t.CustomFields[i].Value = value
			return
		}
	}
	t.CustomFields = append(t.CustomFields, customField{ID: fieldID, Value: value})
}

// Tickets returns every ticket, ordered by ID, with CaseID read from the
// case-ID custom field.
func (s *Server) Tickets() []syncer.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []syncer.Ticket
	for _, t := range sortedTickets(s.tickets) {
		d := syncer.Ticket{ID: t.ID, Subject: t.Subject, Description: t.Description, Status: t.Status,
			RequesterID: t.RequesterID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
		if t.Priority != nil {
			d.Priority = *t.Priority
		}
		if t.OrgID != nil {
			d.OrgID = *t.OrgID
		}
		for _, cf := range t.CustomFields {
			if cf.ID == s.caseField && cf.Value != nil {
				d.CaseID = fmt.Sprint(cf.Value)
			}
		}
		out = append(out, d)
	}
	return out
}

// --- helpers ---

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedTickets(m map[int64]*ticket) []*ticket {
	out := make([]*ticket, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) orgByName(name string) *org {
	if id, ok := s.orgByNameIdx[strings.ToLower(name)]; ok {
		return s.orgs[id]
	}
	return nil
}

// orgByExternalID returns the first (lowest ID) org with the external ID.
func (s *Server) orgByExternalID(ext string) *org {
	if ids := s.orgByExtIdx[ext]; len(ids) > 0 {
		return s.orgs[ids[0]]
	}
	return nil
}

// orgsByExternalID returns every org with the external ID, by ID.
func (s *Server) orgsByExternalID(ext string) []*org {
	var out []*org
	for _, id := range s.orgByExtIdx[ext] {
		out = append(out, s.orgs[id])
	}
	return out
}

func (s *Server) userByEmail(email string) *user {
	if id, ok := s.userByMailIdx[strings.ToLower(email)]; ok {
		return s.users[id]
	}
	return nil
}

// putOrg stores a new org and indexes it. The caller holds s.mu.
func (s *Server) putOrg(o *org) {
	s.orgs[o.ID] = o
	s.orgByNameIdx[strings.ToLower(o.Name)] = o.ID
	if o.ExternalID != nil {
		s.indexExt(*o.ExternalID, o.ID)
	}
	if n := len(s.orgIDs); s.orgIDs != nil && (n == 0 || s.orgIDs[n-1] < o.ID) {
		s.orgIDs = append(s.orgIDs, o.ID)
	} else {
		s.orgIDs = nil
	}
}

func (s *Server) indexExt(ext string, id int64) {
	ids := append(s.orgByExtIdx[ext], id)
	slices.Sort(ids)
	s.orgByExtIdx[ext] = ids
}

func (s *Server) unindexExt(ext string, id int64) {
	ids := slices.DeleteFunc(s.orgByExtIdx[ext], func(x int64) bool { return x == id })
	if len(ids) == 0 {
		delete(s.orgByExtIdx, ext)
	} else {
		s.orgByExtIdx[ext] = ids
	}
}

// renameOrg changes an org's name and its index entry. The caller holds s.mu.
func (s *Server) renameOrg(o *org, name string) {
	if s.orgByNameIdx[strings.ToLower(o.Name)] == o.ID {
		delete(s.orgByNameIdx, strings.ToLower(o.Name))
	}
	o.Name = name
	s.orgByNameIdx[strings.ToLower(name)] = o.ID
}

// setOrgExternalID changes an org's external ID and its index entry. The
// caller holds s.mu.
func (s *Server) setOrgExternalID(o *org, ext string) {
	if o.ExternalID != nil {
		s.unindexExt(*o.ExternalID, o.ID)
	}
	o.ExternalID = &ext
	s.indexExt(ext, o.ID)
}

// dropOrg deletes an org and its index entries. The caller holds s.mu.
func (s *Server) dropOrg(id int64) {
	o, ok := s.orgs[id]
	if !ok {
		return
	}
	delete(s.orgs, id)
	if s.orgByNameIdx[strings.ToLower(o.Name)] == id {
		delete(s.orgByNameIdx, strings.ToLower(o.Name))
	}
	if o.ExternalID != nil {
		s.unindexExt(*o.ExternalID, id)
	}
	if i, found := slices.BinarySearch(s.orgIDs, id); found {
		s.orgIDs = slices.Delete(s.orgIDs, i, i+1)
	}
}

// putUser stores a new user and indexes it. The caller holds s.mu.
func (s *Server) putUser(u *user) {
	s.users[u.ID] = u
	if u.Email != "" {
		s.userByMailIdx[strings.ToLower(u.Email)] = u.ID
	}
	if n := len(s.userIDs); s.userIDs != nil && (n == 0 || s.userIDs[n-1] < u.ID) {
		s.userIDs = append(s.userIDs, u.ID)
	} else {
		s.userIDs = nil
	}
}

// sortedOrgIDs returns the org IDs in order. The caller holds s.mu and
// must not modify the slice.
func (s *Server) sortedOrgIDs() []int64 {
	if s.orgIDs == nil {
		s.orgIDs = make([]int64, 0, len(s.orgs))
		for id := range s.orgs {
			s.orgIDs = append(s.orgIDs, id)
		}
		slices.Sort(s.orgIDs)
	}
	return s.orgIDs
}

// sortedUserIDs returns the user IDs in order. The caller holds s.mu and
// must not modify the slice.
func (s *Server) sortedUserIDs() []int64 {
	if s.userIDs == nil {
		s.userIDs = make([]int64, 0, len(s.users))
		for id := range s.users {
			s.userIDs = append(s.userIDs, id)
		}
		slices.Sort(s.userIDs)
	}
	return s.userIDs
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

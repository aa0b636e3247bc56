// Package salesforcetest is an in-memory fake of the Salesforce REST API for
// tests, benchmarks and the demo. Like net/http/httptest it runs a real HTTP
// server on loopback, so the real go-salesforce client talks to it over real
// HTTP and the wire format (OAuth token responses, query pages with
// nextRecordsUrl, sObject create and update answers, error bodies) is the one
// Salesforce sends.
//
// The fake understands the three documented queries of the sync jobs
// (salesforce.GlobalAccountsSOQL, FederalAccountsSOQL, FederalContactsSOQL;
// optionally with the single-account condition) and answers each with
// exactly the records its WHERE clause selects, evaluated in Go. It also
// serves the Case sObject the case push writes, counts the calls it receives
// and can be told to fail in each documented way.
//
// Typical use:
//
//	accounts := salesforcetest.Generate(1, 5000, salesforcetest.GenerateOptions{})
//	fed, contacts := salesforcetest.GenerateFederal(1, 300, salesforcetest.GenerateOptions{})
//	srv := salesforcetest.NewServer(
//		salesforcetest.WithAccounts(append(accounts, fed...)...),
//		salesforcetest.WithContacts(contacts...))
//	defer srv.Close()
//	// log in at srv.URL() with salesforcetest.DefaultClientID, DefaultClientSecret
//	// (and DefaultUsername, DefaultPassword, DefaultSecurityToken for the password flow)
//	srv.FailCaseWrites(1, salesforcetest.ErrUnableToLockRow)
package salesforcetest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The default credentials of a fake; the demo logs in with them.
const (
	DefaultClientID      = "zdsync-fake-client-id"
	DefaultClientSecret  = "zdsync-fake-client-secret"
	DefaultUsername      = "integration@zdsync.example"
	DefaultPassword      = "fake-password"
	DefaultSecurityToken = "fakeSecurityToken"
)

// APIVersion is the REST API version go-salesforce v2.5.2 hard-codes in
// its request paths; the fake serves only this version.
const APIVersion = "v62.0"

// MaxQueryBatchSize is the largest number of records Salesforce returns in
// one query page ("up to 2,000 records can be returned at a time", REST API
// Developer Guide, Query); it is the fake's default page size.
const MaxQueryBatchSize = 2000

// MaxURIBytes is the longest request URI Salesforce accepts: "in each
// REST call, the maximum length for the combined URI and headers is 16,384
// bytes … If the URI itself exceeds this limit, the request returns a 414
// URI Too Long error" (Salesforce Help, knowledge article 000386264,
// "Maximum number of rows returned by SOQL queries over the REST API").
const MaxURIBytes = 16_384

// The error codes a fake can be told to fail case writes with.
const (
	ErrUnableToLockRow     = "UNABLE_TO_LOCK_ROW"
	ErrInsufficientAccess  = "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
	errInvalidSession      = "INVALID_SESSION_ID"
	errMalformedQuery      = "MALFORMED_QUERY"
	errInvalidQueryLocator = "INVALID_QUERY_LOCATOR"
	errRequestLimit        = "REQUEST_LIMIT_EXCEEDED"
)

// Failures of case writes that automation in the org wraps: the error a
// trigger, flow or validation rule answers with, whose message carries the
// real cause. Give them to FailCaseWrites like an error code.
const (
	// ErrTriggerUnableToLockRow is an Apex trigger on Case whose own DML
	// met a lock: CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, "…first error:
	// UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this
	// record: []…".
	ErrTriggerUnableToLockRow = "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY/" + ErrUnableToLockRow
	// ErrFlowUnableToLockRow is a record-triggered flow that met a lock:
	// CANNOT_EXECUTE_FLOW_TRIGGER, "…This error occurred when the flow
	// tried to update records: UNABLE_TO_LOCK_ROW: unable to obtain
	// exclusive access to this record…".
	ErrFlowUnableToLockRow = "CANNOT_EXECUTE_FLOW_TRIGGER/" + ErrUnableToLockRow
	// ErrTriggerInsufficientAccess is an Apex trigger on Case whose own
	// DML was refused a parent reference:
	// CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, "…first error:
	// INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, insufficient access
	// rights on cross-reference id: …".
	ErrTriggerInsufficientAccess = "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY/" + ErrInsufficientAccess
)

// DefaultDailyAPIRequests is the daily API allowance of a fake unless
// SetAPIAllowance says otherwise: the 100,000 requests every Enterprise
// Edition org starts from before its per-license additions (Salesforce
// Developer Limits and Allocations Quick Reference, "API Request Limits
// and Allocations").
const DefaultDailyAPIRequests = 100_000

const dataPrefix = "/services/data/" + APIVersion

// caseEpoch is the CreatedDate of the first case a fake creates; each later
// case is one second younger, so ORDER BY CreatedDate is creation order
// without reading the wall clock.
var caseEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Credentials are the credentials a fake accepts. The password flow needs
// all five; the client-credentials flow needs ClientID and ClientSecret.
type Credentials struct {
	ClientID      string // the connected app's consumer key
	ClientSecret  string // the connected app's consumer secret
	Username      string // the integration user (password flow)
	Password      string // its password (password flow)
	SecurityToken string // its security token, appended to the password (password flow)
}

// DefaultCredentials returns the credentials a fake accepts unless told
// otherwise.
func DefaultCredentials() Credentials {
	return Credentials{DefaultClientID, DefaultClientSecret, DefaultUsername, DefaultPassword, DefaultSecurityToken}
}

// Calls counts the requests a fake received, per endpoint.
type Calls struct {
	// Token counts POST /services/oauth2/token (logins and re-logins).
	Token int
	// Query counts first pages of queries (GET …/query/?q=…).
	Query int
	// QueryMore counts further pages (GET …/query/01g…-2000).
	QueryMore int
	// CaseCreate counts POST …/sobjects/Case.
	CaseCreate int
	// CaseUpdate counts PATCH …/sobjects/Case/{id}.
	CaseUpdate int
	// Limits counts GET …/limits/.
	Limits int
	// Composite counts POST …/composite (one API call however many
	// queries it carries); CompositeQueries counts the queries they
	// carried.
	Composite        int
	CompositeQueries int
	// Describe counts GET …/sobjects/{object}/describe.
	Describe int
	// Unauthorized counts API requests refused with INVALID_SESSION_ID.
	Unauthorized int
	// Limited counts API requests refused with 429 (RateLimitNext) or
	// REQUEST_LIMIT_EXCEEDED (the allowance used up).
	Limited int
	// Refused counts connections closed on accept by RefuseConnections.
	Refused int
	// MaxInFlight is the largest number of API requests (logins excluded)
	// the fake was answering at once.
	MaxInFlight int
}

// API returns the number of REST API calls answered, logins excluded.
func (c Calls) API() int {
	return c.Query + c.QueryMore + c.Composite + c.Describe + c.CaseCreate + c.CaseUpdate + c.Limits
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials makes the fake accept c instead of DefaultCredentials.
func WithCredentials(c Credentials) Option { return func(s *Server) { s.creds = c } }

// WithPageSize sets the number of records in a query page (default and
// maximum MaxQueryBatchSize).
func WithPageSize(n int) Option {
	return func(s *Server) {
		if n > 0 && n <= MaxQueryBatchSize {
			s.pageSize = n
		}
	}
}

// WithSubqueryPageSize makes the fake page the result of each subquery
// (subscriptions, sold-to contacts) n records at a time, as Salesforce may
// when a record has many children ("Subquery results are like regular query
// results in that you might need to use queryMore() to retrieve all the
// records if there are many children", SOQL and SOSL Reference,
// "Understanding Query Results"): the nested result has done:false and its
// own nextRecordsUrl, served like any further query page. As in Salesforce,
// the next page of the parent query invalidates the child locators of the
// page before it. 0 (the default) sends every child in the nested result.
func WithSubqueryPageSize(n int) Option {
	return func(s *Server) {
		if n >= 0 {
			s.subPageSize = n
		}
	}
}

// WithAccounts loads accounts into the fake, as AddAccounts does once
// every option is applied (with the clock of WithClock).
func WithAccounts(accounts ...Account) Option {
	return func(s *Server) { s.initial.accounts = append(s.initial.accounts, accounts...) }
}

// WithContacts loads contacts into the fake, as AddContacts does once
// every option is applied.
func WithContacts(contacts ...Contact) Option {
	return func(s *Server) { s.initial.contacts = append(s.initial.contacts, contacts...) }
}

// WithRequiredCaseFields sets the Case fields a create must carry (default
// Subject); a create without one fails with REQUIRED_FIELD_MISSING.
func WithRequiredCaseFields(fields ...string) Option {
	return func(s *Server) { s.requiredCaseFields = fields }
}

// WithResponseDelay makes the fake wait d before answering each request, as
// SetResponseDelay does.
func WithResponseDelay(d time.Duration) Option { return func(s *Server) { s.delay = d } }

// Server is a running fake Salesforce. Its methods are safe for concurrent
// use.
type Server struct {
	srv                *httptest.Server
	creds              Credentials
	pageSize           int
	subPageSize        int
	requiredCaseFields []string

	mu           sync.Mutex
	accounts     map[string]*Account
	order        []string
	contacts     map[string]*Contact
	contactOrder []string
	cases        []*Case
	caseByID     map[string]*Case
	tokens       map[string]bool
	cursors      map[string]*cursor
	children     map[string]*childCursor
	seq          uint64
	calls        Calls
	inFlight     int
	held         chan struct{}       // API requests wait for it to close (HoldRequests)
	allowance    [2]int              // the daily API allowance: Max, Remaining
	clock        func() time.Time    // SystemModstamp's clock (WithClock); nil: the wall clock
	hook         func(*http.Request) // SetRequestHook
	deleted      []tombstone         // deleted child records and contacts, for queryAll
	hidden       []string            // child relationships the describe leaves out
	initial      struct {            // WithAccounts, WithContacts
		accounts []Account
		contacts []Contact
	}

	// faults
	caseFailures []string
	rejectLogins int
	failLogins   int // token requests still to answer loginStatus
	loginStatus  int
	limitNext    int           // API requests still to answer 429
	retryAfter   time.Duration // their Retry-After
	expireIn     int           // sessions expire once this many more API calls are answered (0: never)
	truncateNext float64
	delay        time.Duration
	refuseConns  int
}

// NewServer starts a fake Salesforce on a loopback port. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		creds:              DefaultCredentials(),
		pageSize:           MaxQueryBatchSize,
		requiredCaseFields: []string{"Subject"},
		accounts:           map[string]*Account{},
		contacts:           map[string]*Contact{},
		caseByID:           map[string]*Case{},
		tokens:             map[string]bool{},
		cursors:            map[string]*cursor{},
		children:           map[string]*childCursor{},
		allowance:          [2]int{DefaultDailyAPIRequests, DefaultDailyAPIRequests},
	}
	for _, o := range opts {
		o(s)
	}
	s.addAccountsLocked(s.initial.accounts)
	s.addContactsLocked(s.initial.contacts)
	s.initial.accounts, s.initial.contacts = nil, nil
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", s.handleToken)
	mux.HandleFunc("GET "+dataPrefix+"/query", s.authed(s.handleQuery))
	mux.HandleFunc("GET "+dataPrefix+"/query/{$}", s.authed(s.handleQuery))
	mux.HandleFunc("GET "+dataPrefix+"/query/{locator}", s.authed(s.handleQueryMore))
	mux.HandleFunc("GET "+dataPrefix+"/queryAll", s.authed(s.handleQueryAll))
	mux.HandleFunc("GET "+dataPrefix+"/queryAll/{$}", s.authed(s.handleQueryAll))
	mux.HandleFunc("GET "+dataPrefix+"/queryAll/{locator}", s.authed(s.handleQueryMore))
	mux.HandleFunc("POST "+dataPrefix+"/composite", s.authed(s.handleComposite))
	mux.HandleFunc("POST "+dataPrefix+"/composite/{$}", s.authed(s.handleComposite))
	mux.HandleFunc("GET "+dataPrefix+"/sobjects/{object}/describe", s.authed(s.handleDescribe))
	mux.HandleFunc("GET "+dataPrefix+"/sobjects/{object}/describe/{$}", s.authed(s.handleDescribe))
	mux.HandleFunc("POST "+dataPrefix+"/sobjects/Case", s.authed(s.handleCaseCreate))
	mux.HandleFunc("POST "+dataPrefix+"/sobjects/Case/{$}", s.authed(s.handleCaseCreate))
	mux.HandleFunc("PATCH "+dataPrefix+"/sobjects/Case/{id}", s.authed(s.handleCaseUpdate))
	mux.HandleFunc("GET "+dataPrefix+"/limits", s.authed(s.handleLimits))
	mux.HandleFunc("GET "+dataPrefix+"/limits/{$}", s.authed(s.handleLimits))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	})
	s.srv = httptest.NewUnstartedServer(s.counted(s.delayed(mux)))
	s.srv.Listener = &gateListener{Listener: s.srv.Listener, s: s}
	s.srv.Start()
	return s
}

// URL returns the fake's base URL (http://127.0.0.1:PORT, no trailing
// slash): the login domain and, after login, the instance URL.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the fake down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// Credentials returns the credentials the fake accepts.
func (s *Server) Credentials() Credentials { return s.creds }

// Calls returns the requests received so far, per endpoint.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// ResetCalls sets every counter back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = Calls{}
}

// AddAccounts stores copies of accounts; an account whose ID is already
// stored replaces it in place. Query results list accounts in the order
// they were first added. Accounts and their child records get IDs and
// SystemModstamps as UpdateAccount gives them.
func (s *Server) AddAccounts(accounts ...Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAccountsLocked(accounts)
}

func (s *Server) addAccountsLocked(accounts []Account) {
	for _, a := range accounts {
		old, ok := s.accounts[a.ID]
		if !ok {
			s.order = append(s.order, a.ID)
		}
		c := clone(a)
		s.stampAccountLocked(old, c)
		s.accounts[a.ID] = c
	}
}

// UpdateAccount applies fn to a copy of the account with the given ID and
// stores the result, stamped as an update (its SystemModstamp when its own
// fields changed, each changed or new child's, a removed child kept as
// deleted); it reports whether the account exists. fn must not change the
// ID; a SystemModstamp fn sets is kept (a change committed late).
func (s *Server) UpdateAccount(id string, fn func(*Account)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return false
	}
	c := clone(*a)
	fn(c)
	c.ID = id
	s.stampAccountLocked(a, c)
	s.accounts[id] = c
	return true
}

// RemoveAccounts deletes the accounts with the given IDs. Contacts keep
// their AccountID and, their account gone, are no longer selected.
func (s *Server) RemoveAccounts(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range ids {
		if _, ok := s.accounts[id]; ok {
			gone[id] = true
			delete(s.accounts, id)
		}
	}
	s.order = filterOut(s.order, gone)
}

// Accounts returns copies of the stored accounts, in query order.
func (s *Server) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Account, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *clone(*s.accounts[id]))
	}
	return out
}

// AddContacts stores copies of contacts, assigning an ID to those without
// one; a contact whose ID is already stored replaces it in place.
func (s *Server) AddContacts(contacts ...Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addContactsLocked(contacts)
}

func (s *Server) addContactsLocked(contacts []Contact) {
	for _, c := range contacts {
		if c.ID == "" {
			s.seq++
			c.ID = makeID("003", 'X', 0, s.seq)
		}
		old, ok := s.contacts[c.ID]
		if !ok {
			s.contactOrder = append(s.contactOrder, c.ID)
		}
		cc := c
		s.stampContactLocked(old, &cc)
		s.contacts[c.ID] = &cc
	}
}

// RemoveContacts deletes the contacts with the given IDs (queryAll still
// returns them, deleted).
func (s *Server) RemoveContacts(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range ids {
		if c, ok := s.contacts[id]; ok {
			gone[id] = true
			delete(s.contacts, id)
			s.deleted = append(s.deleted, tombstone{object: objContact, id: id, accountID: c.AccountID, stamp: s.now()})
		}
	}
	s.contactOrder = filterOut(s.contactOrder, gone)
}

// Contacts returns copies of the stored contacts, in query order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contactOrder))
	for _, id := range s.contactOrder {
		out = append(out, *s.contacts[id])
	}
	return out
}

// Cases returns copies of the cases created so far, oldest first.
func (s *Server) Cases() []Case {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Case, 0, len(s.cases))
	for _, c := range s.cases {
		out = append(out, *c)
	}
	return out
}

// AddCase stores a case as if it had been created earlier (for tests of
// FindCase and CaseStatuses); it assigns the ID, case number and created
// date when they are empty and returns the stored case.
func (s *Server) AddCase(c Case) Case {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.storeCaseLocked(c)
}

func (s *Server) storeCaseLocked(c Case) *Case {
	n := len(s.cases) + 1
	if c.ID == "" {
		c.ID = makeID("500", 'C', 0, uint64(n))
	}
	if c.CaseNumber == "" {
		c.CaseNumber = fmt.Sprintf("%08d", n)
	}
	if c.CreatedDate.IsZero() {
		c.CreatedDate = caseEpoch.Add(time.Duration(n) * time.Second)
	}
	if c.Status == "" {
		c.Status = "New" // the Status picklist's default value
	}
	cp := &c
	s.cases = append(s.cases, cp)
	s.caseByID[c.ID] = cp
	return cp
}

// FailCaseWrites makes the next n case creates or updates fail with the
// given Salesforce error code (ErrUnableToLockRow, ErrInsufficientAccess or
// any other code) or wrapped failure (ErrTriggerUnableToLockRow, …), as
// Salesforce answers: HTTP 400 and [{"message":…,"errorCode":…,"fields":[]}].
func (s *Server) FailCaseWrites(n int, errorCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.caseFailures = append(s.caseFailures, errorCode)
	}
}

// ExpireSessions invalidates every access token issued so far: the next API
// call is answered 401 INVALID_SESSION_ID, and go-salesforce logs in again
// once and retries.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ExpireSessionsAfter makes every access token expire once the next n API
// calls have been accepted, as when a session times out in the middle of a
// run (a query between two pages, a case push between its find and its
// create): the call after them is answered 401 INVALID_SESSION_ID, and
// go-salesforce logs in again once and retries.
func (s *Server) ExpireSessionsAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireIn = n
}

// RejectLogins makes the next n token requests fail with invalid_grant even
// with the right credentials (with ExpireSessions: a failed re-login).
func (s *Server) RejectLogins(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectLogins = n
}

// SetResponseDelay makes the fake wait d before answering each request (0
// turns it off). The wait ends early when the client gives up, so a client
// timeout shorter than d ends the request without the test sleeping d.
func (s *Server) SetResponseDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// RefuseConnections makes the fake drop its open connections and close the
// next n connections as soon as they are accepted (with a TCP reset), so
// the client sees a connection failure.
func (s *Server) RefuseConnections(n int) {
	s.mu.Lock()
	s.refuseConns = n
	s.mu.Unlock()
	s.srv.CloseClientConnections()
}

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

// FailLogins makes the next n token requests be answered with the given
// HTTP status (a 5xx: the login service unavailable) and an HTML page.
func (s *Server) FailLogins(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLogins, s.loginStatus = n, status
}

// TruncateNextQuery makes the next account or contact query return only the
// first fraction (0 < fraction < 1) of the records it selects, reported as
// the complete result (done:true, totalSize of the shortened list): a
// silently partial answer.
func (s *Server) TruncateNextQuery(fraction float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncateNext = fraction
}

func filterOut(ids []string, gone map[string]bool) []string {
	if len(gone) == 0 {
		return ids
	}
	out := ids[:0]
	for _, id := range ids {
		if !gone[id] {
			out = append(out, id)
		}
	}
	return out
}

// gateListener closes accepted connections while the fake is refusing them.
type gateListener struct {
	net.Listener
	s *Server
}

// Accept returns the next connection the fake is not refusing.
func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		refuse := l.s.refuseConns > 0
		if refuse {
			l.s.refuseConns--
			l.s.calls.Refused++
		}
		l.s.mu.Unlock()
		if !refuse {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, not an orderly close
		}
		_ = c.Close()
	}
}

// HoldRequests makes API requests (logins excluded) wait, in flight,
// until release is called: a test can then see how many a client has in
// flight at once (InFlight) and act while they wait. Calling release again
// does nothing.
func (s *Server) HoldRequests() (release func()) {
	held := make(chan struct{})
	s.mu.Lock()
	s.held = held
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		if s.held == held {
			s.held = nil
		}
		s.mu.Unlock()
		close(held)
	})
}

// InFlight returns the number of API requests the fake is answering (or
// holding) now.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// counted keeps MaxInFlight: the API requests being answered at once,
// their delays and holds included. It also refuses a request whose URI
// is longer than Salesforce accepts (414) and calls the request hook.
func (s *Server) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, dataPrefix+"/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(r.RequestURI) > MaxURIBytes {
			writeHTML(w, http.StatusRequestURITooLong, "URI Too Long")
			return
		}
		s.mu.Lock()
		s.inFlight++
		s.calls.MaxInFlight = max(s.calls.MaxInFlight, s.inFlight)
		held, hook := s.held, s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) delayed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		d := s.delay
		s.mu.Unlock()
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authed checks the bearer token of an API call, as Salesforce does, then
// the injected 429s and the daily API allowance, which the call uses one
// of; the answer reports the org's usage in Sforce-Limit-Info (REST API
// Developer Guide, "Limit Info Header").
func (s *Server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		valid := ok && s.tokens[tok]
		limited, exhausted := false, false
		switch {
		case !valid:
			s.calls.Unauthorized++
		case s.limitNext > 0:
			s.limitNext--
			s.calls.Limited++
			limited = true
		case s.allowance[1] <= 0:
			s.calls.Limited++
			exhausted = true
		default:
			s.allowance[1]--
			if s.expireIn > 0 {
				if s.expireIn--; s.expireIn == 0 {
					clear(s.tokens) // this call is answered; the next one is not
				}
			}
		}
		retryAfter := s.retryAfter
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.allowance[0]-s.allowance[1], s.allowance[0]))
		s.mu.Unlock()
		switch {
		case !valid:
			writeErrors(w, http.StatusUnauthorized, errInvalidSession, "Session expired or invalid")
		case limited:
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
			}
			writeHTML(w, http.StatusTooManyRequests, "Too Many Requests")
		case exhausted:
			// As Salesforce answers it: no "fields".
			writeJSON(w, http.StatusForbidden, []map[string]string{{"message": "TotalRequests Limit exceeded.", "errorCode": errRequestLimit}})
		default:
			next(w, r)
		}
	}
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

// handleToken serves the OAuth 2.0 token endpoint for the password and
// client-credentials flows. Every field of the answer is a JSON string.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, "invalid_request", "malformed request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Token++
	if s.failLogins > 0 {
		s.failLogins--
		writeHTML(w, s.loginStatus, http.StatusText(s.loginStatus))
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant != "password" && grant != "client_credentials" {
		writeOAuthError(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	if r.PostForm.Get("client_id") != s.creds.ClientID {
		writeOAuthError(w, "invalid_client_id", "client identifier invalid")
		return
	}
	if r.PostForm.Get("client_secret") != s.creds.ClientSecret {
		writeOAuthError(w, "invalid_client", "invalid client credentials")
		return
	}
	if grant == "password" && (s.creds.Username == "" ||
		r.PostForm.Get("username") != s.creds.Username ||
		r.PostForm.Get("password") != s.creds.Password+s.creds.SecurityToken) {
		writeOAuthError(w, "invalid_grant", "authentication failure")
		return
	}
	if s.rejectLogins > 0 {
		s.rejectLogins--
		writeOAuthError(w, "invalid_grant", "authentication failure")
		return
	}
	s.seq++
	token := fmt.Sprintf("00DFAKE00000000001!AQ%016x", s.seq)
	s.tokens[token] = true
	resp := map[string]string{
		"access_token": token,
		"instance_url": s.srv.URL,
		"id":           s.srv.URL + "/id/00DFAKE00000000001/005FAKE00000000001",
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(caseEpoch.Add(time.Duration(s.seq)*time.Second).UnixMilli(), 10),
		"signature":    "ZmFrZS1zaWduYXR1cmU=",
	}
	if grant == "client_credentials" {
		resp["scope"] = "api"
	}
	writeJSON(w, http.StatusOK, resp)
}

// writeHTML answers an HTML page with the given status and title.
func writeHTML(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>\n", status, title, title)
}

func writeOAuthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// apiError is one element of a Salesforce REST error body.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

func writeErrors(w http.ResponseWriter, status int, code, message string, fields ...string) {
	writeJSON(w, status, errorBody(code, message, fields...))
}

// errorBody is a Salesforce REST error body: a list of one error.
func errorBody(code, message string, fields ...string) []apiError {
	if fields == nil {
		fields = []string{}
	}
	return []apiError{{Message: message, ErrorCode: code, Fields: fields}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

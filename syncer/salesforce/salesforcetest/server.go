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
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// APIVersion is the REST API version go-salesforce v2.5.2 hard-codes in
// its request paths; the fake serves only this version.
const APIVersion = "v62.0"

// MaxQueryBatchSize is the largest number of records Salesforce returns in
// one query page ("up to 2,000 records can be returned at a time", REST API
// Developer Guide, Query); it is the fake's default page size.
const MaxQueryBatchSize = 2000

const dataPrefix = "/services/data/" + APIVersion

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
	failNext     int           // API requests still to answer failStatus with a page
	failStatus   int
	expireIn     int // sessions expire once this many more API calls are answered (0: never)
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

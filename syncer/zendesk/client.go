// Package zendesk is zdsync's adapter over one Zendesk Support instance. It
// implements syncer.Zendesk (organizations, users and organization
// memberships, read in cursor pages and written through bulk jobs of at
// most 100 records) and syncer.Tickets (the case push), on top of
// github.com/nukosuke/go-zendesk.
//
// The library is used for what it does well (its client, credentials and
// cursor iterators, its raw Get/Post/Put); what it lacks or gets wrong is
// done here: bulk endpoints and job statuses, payloads that carry only the
// fields the sync owns, ticket decoding with numeric custom fields, the
// incremental export, the per-user fallback when Zendesk refuses the bulk
// user endpoints, and everything about rate limits, which lives in the
// http.Client's RoundTripper (pacing per limit scope, 429 Retry-After,
// retries, counting).
// Every error is a *syncer.Error carrying a pipeline code; none contains the
// API token or the Authorization header.
package zendesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	gz "github.com/nukosuke/go-zendesk/zendesk"

	"github.com/zdsync/zdsync/syncer"
)

// Documented limits and defaults.
const (
	// DefaultRequestsPerMinute is the rate limit of the smallest plan
	// ("Team: 200 requests per minute", Zendesk API, Rate limits); used when
	// Config.RequestsPerMinute is zero.
	DefaultRequestsPerMinute = 200
	// ExportRequestsPerMinute is the separate limit of the incremental
	// export endpoints ("10 requests per minute", Incremental Exports).
	ExportRequestsPerMinute = 10
	// MaxJobItems is the most records one bulk request takes ("Accepts an
	// array of up to 100 … objects": organizations create_many, update_many,
	// destroy_many; users create_many, create_or_update_many).
	MaxJobItems = 100
	// MaxShowMany is the most IDs or external IDs one show_many request
	// takes ("Accepts a comma-separated list of up to 100", Show Many
	// Organizations).
	MaxShowMany = 100
	// PageSize is the cursor page size the adapter asks for ("page[size]
	// … maximum of 100", Pagination).
	PageSize = 100
	// DefaultTimeout is the per-request timeout when Config.Timeout is zero
	// (HTTP_TIMEOUT's default).
	DefaultTimeout = 30 * time.Second
	// DefaultMaxJobsInFlight is how many bulk jobs a Client keeps queued
	// or running at once, across all its bulk calls, when
	// Config.MaxJobsInFlight is zero. Zendesk limits the jobs an account may
	// have queued or running (MaxQueuedJobs); 20 leaves room for other
	// integrations while keeping enough jobs in flight that the
	// status-poll waits (seconds a job) overlap instead of adding up.
	DefaultMaxJobsInFlight = 20
	// DefaultMaxReadsInFlight is how many look-ups (show_many) run at
	// once when Config.MaxReadsInFlight is zero: enough to keep a 700-a-minute
	// budget busy at a few hundred milliseconds a call.
	DefaultMaxReadsInFlight = 8
	// DefaultMaxRetries is how many times one request is retried (after 429,
	// 5xx or a lost connection) when Config.MaxRetries is zero.
	DefaultMaxRetries = 5
	// DefaultRateLimitWait is how long one request may wait out 429s
	// when Config.RateLimitWait is zero.
	DefaultRateLimitWait = 10 * time.Minute
	// DefaultJobTimeout is how long a bulk job may stay queued or working
	// before its records fail with CodeOpenTimeout.
	DefaultJobTimeout = 5 * time.Minute
)

// Config configures a Client.
type Config struct {
	// URL is the instance's base URL, as in https://example.zendesk.com;
	// the client adds /api/v2.
	URL string
	// Email and Token are the agent e-mail and API token (basic
	// authentication as "{email}/token:{token}").
	Email string
	Token string
	// Timeout bounds each HTTP request (each attempt); default
	// DefaultTimeout.
	Timeout time.Duration
	// RequestsPerMinute paces requests; default DefaultRequestsPerMinute.
	RequestsPerMinute int
	// MaxJobsInFlight bounds the bulk jobs the Client has queued or running
	// at once, over all its calls; default DefaultMaxJobsInFlight, at most
	// MaxQueuedJobs (the account's limit).
	MaxJobsInFlight int
	// MaxReadsInFlight bounds concurrent look-ups (show_many); default
	// DefaultMaxReadsInFlight.
	MaxReadsInFlight int
	// MaxRetries bounds retries of one request; default DefaultMaxRetries.
	// A negative value disables retries.
	MaxRetries int
	// RateLimitWait bounds the total time one request waits out 429
	// answers (their Retry-After) before it fails with CodeRateLimited;
	// default DefaultRateLimitWait.
	RateLimitWait time.Duration
	// JobTimeout bounds the waiting for one bulk job (the sum of the poll
	// waits); default DefaultJobTimeout.
	JobTimeout time.Duration
	// CaseIDField is the ID of the ticket custom field holding the
	// Salesforce case ID.
	CaseIDField int64
	// Sleep waits d or until ctx ends; tests inject a zero sleep. Default: a
	// real sleep honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, when set, is called after every HTTP attempt, for metrics.
	Observe func(Call)
	// ObserveWait, when set, is told of every wait imposed by the rate
	// limit (Retry-After of a 429, slowing down near the limit), for
	// metrics.
	ObserveWait func(time.Duration)
	// Transport is the underlying RoundTripper; default a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// Client is a Zendesk instance seen through the adapter. It implements
// syncer.Zendesk and syncer.Tickets and is safe for concurrent use.
type Client struct {
	api        *gz.Client
	http       *http.Client
	tr         *transport
	base       string        // instance URL without /api/v2
	apiBase    string        // base + /api/v2
	jobs       chan struct{} // one slot a bulk job in flight
	reads      int
	jobTimeout time.Duration
	caseField  int64
	sleep      func(ctx context.Context, d time.Duration) error
	cred       *gz.APITokenCredential
	refused    refusals // bulk endpoints Zendesk refused with 403
}

var (
	_ syncer.Zendesk = (*Client)(nil)
	_ syncer.Tickets = (*Client)(nil)
)

// New returns a Client for cfg. It makes no request.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("zendesk: invalid URL %q", cfg.URL)
	}
	if cfg.Email == "" || cfg.Token == "" {
		return nil, errors.New("zendesk: email and API token are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.MaxJobsInFlight <= 0 {
		cfg.MaxJobsInFlight = DefaultMaxJobsInFlight
	}
	cfg.MaxJobsInFlight = min(cfg.MaxJobsInFlight, MaxQueuedJobs)
	if cfg.MaxReadsInFlight <= 0 {
		cfg.MaxReadsInFlight = DefaultMaxReadsInFlight
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = DefaultJobTimeout
	}
	if cfg.RateLimitWait <= 0 {
		cfg.RateLimitWait = DefaultRateLimitWait
	}
	if cfg.Sleep == nil {
		cfg.Sleep = syncer.Sleep
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr := &transport{
		base:            cfg.Transport,
		account:         newScope(cfg.RequestsPerMinute, cfg.RequestsPerMinute/10, true),
		export:          newScope(ExportRequestsPerMinute, ExportRequestsPerMinute, false),
		ticketUpdates:   newScope(TicketUpdatesPerMinute, TicketUpdatesPerMinute/10, false),
		jobs:            newScope(0, 0, false),
		timeout:         cfg.Timeout,
		maxRetries:      cfg.MaxRetries,
		rateLimitBudget: cfg.RateLimitWait,
		rpm:             cfg.RequestsPerMinute,
		sleep:           cfg.Sleep,
		observe:         cfg.Observe,
		observeWait:     cfg.ObserveWait,
		calls:           map[string]int{},
		remaining:       -1,
	}
	// The timeout is applied per attempt by the transport: an
	// http.Client.Timeout would also cover Retry-After waits.
	hc := &http.Client{Transport: tr}
	api, err := gz.NewClient(hc)
	if err != nil {
		return nil, fmt.Errorf("zendesk: %w", err)
	}
	base := strings.TrimRight(cfg.URL, "/")
	if err := api.SetEndpointURL(base + "/api/v2"); err != nil {
		return nil, fmt.Errorf("zendesk: invalid URL %q", cfg.URL)
	}
	cred := gz.NewAPITokenCredential(cfg.Email, cfg.Token)
	api.SetCredential(cred)
	return &Client{
		api: api, http: hc, tr: tr, base: base, apiBase: base + "/api/v2",
		jobs: make(chan struct{}, cfg.MaxJobsInFlight), reads: cfg.MaxReadsInFlight, jobTimeout: cfg.JobTimeout, caseField: cfg.CaseIDField,
		sleep: cfg.Sleep, cred: cred,
	}, nil
}

// Calls returns how many HTTP requests (attempts, retries included) the
// client made, keyed by method and endpoint pattern, as in
// "POST /organizations/create_many.json".
func (c *Client) Calls() map[string]int {
	c.tr.mu.Lock()
	defer c.tr.mu.Unlock()
	out := make(map[string]int, len(c.tr.calls))
	for k, v := range c.tr.calls {
		out[k] = v
	}
	return out
}

// TotalCalls returns how many HTTP requests the client made.
func (c *Client) TotalCalls() int {
	n := 0
	for _, v := range c.Calls() {
		n += v
	}
	return n
}

// --- raw requests and errors ---

// get sends a GET through the library and decodes the JSON answer into out.
func (c *Client) get(ctx context.Context, op, record, path string, out any) error {
	body, err := c.api.Get(ctx, path)
	if err != nil {
		return classify(op, record, err)
	}
	return decode(op, record, body, out)
}

// do sends a request of our own (for answers the library refuses, such as
// destroy_many's 200 with a job) and decodes the JSON answer into out.
func (c *Client) do(ctx context.Context, op, record, method, path string, payload, out any) error {
	status, b, err := c.send(ctx, op, record, method, path, payload)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return statusError(op, record, status, b)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decode(op, record, b, out)
}

// send sends a request of our own and returns the answer's status and
// body, whatever the status; err is set only when no answer came.
func (c *Client) send(ctx context.Context, op, record, method, path string, payload any) (int, []byte, error) {
	var body io.Reader
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return 0, nil, &syncer.Error{Code: syncer.CodeInternal, Op: op, Record: record, Message: "encode request: " + err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.apiBase+path, body)
	if err != nil {
		return 0, nil, &syncer.Error{Code: syncer.CodeInternal, Op: op, Record: record, Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.credentials())
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, classify(op, record, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, classify(op, record, err)
	}
	return resp.StatusCode, b, nil
}

func (c *Client) credentials() (string, string) {
	return c.cred.Email(), c.cred.Secret()
}

func decode(op, record string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return &syncer.Error{Code: syncer.CodeBadResponse, Op: op, Record: record,
			Message: "the API answered malformed JSON: " + err.Error()}
	}
	return nil
}

// classify turns an error of the library or of net/http into a
// *syncer.Error with its pipeline code. Messages never carry credentials:
// they hold the status and the answer's body, or the network error.
func classify(op, record string, err error) *syncer.Error {
	var se *syncer.Error
	if errors.As(err, &se) {
		return se
	}
	var ze gz.Error
	if errors.As(err, &ze) {
		b, _ := io.ReadAll(ze.Body())
		return statusError(op, record, ze.Status(), b)
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return &syncer.Error{Code: syncer.CodeBadResponse, Op: op, Record: record, Message: "the API answered malformed JSON: " + err.Error()}
	}
	if errors.Is(err, context.Canceled) {
		return &syncer.Error{Code: syncer.CodeConnectionFailed, Op: op, Record: record, Message: "request cancelled", Err: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &syncer.Error{Code: syncer.CodeOpenTimeout, Op: op, Record: record, Message: "Zendesk did not answer in time: " + safeNetMessage(err)}
	}
	if isConnError(err) {
		return &syncer.Error{Code: syncer.CodeConnectionFailed, Op: op, Record: record, Message: "connection to Zendesk failed: " + safeNetMessage(err)}
	}
	return &syncer.Error{Code: syncer.CodeAPIError, Op: op, Record: record, Message: safeNetMessage(err)}
}

func isConnError(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// safeNetMessage is err's text; url.Error holds only method, URL (no
// credentials: they travel in a header) and cause.
func safeNetMessage(err error) string { return err.Error() }

// maxBodyInMessage bounds how much of an error answer goes into a message.
const maxBodyInMessage = 500

func statusError(op, record string, status int, body []byte) *syncer.Error {
	text := strings.TrimSpace(string(body))
	if len(text) > maxBodyInMessage {
		text = text[:maxBodyInMessage] + "…"
	}
	msg := fmt.Sprintf("Zendesk answered %d %s", status, http.StatusText(status))
	if text != "" {
		msg += ": " + text
	}
	code := syncer.CodeAPIError
	switch status {
	case http.StatusUnauthorized:
		code = syncer.CodeAuthFailed
	case http.StatusForbidden:
		// "403 Forbidden means Zendesk authenticated the request, but the
		// authenticated identity lacks permission" (Troubleshooting 401
		// and 403 errors): a plan without the feature, an agent without
		// the permission, bulk user imports not enabled. Only an answer
		// that says the credentials were not accepted is AuthFailed.
		code = syncer.CodeNotPermitted
		if reason := forbiddenReason(body); reason != "" {
			msg = forbiddenPrefix + reason
			if authRefusal(reason) {
				code = syncer.CodeAuthFailed
			}
		}
	case http.StatusTooManyRequests:
		code = syncer.CodeRateLimited
	}
	return &syncer.Error{Code: code, Op: op, Record: record, Message: msg, Err: &httpStatusError{status: status}}
}

// forbiddenPrefix begins the message of a 403 whose reason was read.
const forbiddenPrefix = "Zendesk refused the request (403 Forbidden): "

// forbiddenReason reads Zendesk's reason out of an error answer, in the
// shapes it is seen to send: {"error": "Forbidden", "description": "…"},
// {"error": {"title": "Forbidden", "message": "…"}}, {"error": "…",
// "message": "…"}, or a bare {"error": "…"}. It returns "" for an answer
// with none of them (an HTML page from a proxy, say).
func forbiddenReason(body []byte) string {
	var e struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"description"`
		Message     string          `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var title string
	var nested struct {
		Title   string `json:"title"`
		Message string `json:"message"`
	}
	if json.Unmarshal(e.Error, &title) != nil && json.Unmarshal(e.Error, &nested) == nil {
		title = nested.Title
		if e.Message == "" {
			e.Message = nested.Message
		}
	}
	var parts []string
	for _, p := range []string{e.Description, e.Message} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 && strings.TrimSpace(title) != "" && !strings.EqualFold(title, "Forbidden") {
		parts = append(parts, strings.TrimSpace(title))
	}
	reason := strings.Join(parts, " ")
	if len(reason) > maxBodyInMessage {
		reason = reason[:maxBodyInMessage] + "…"
	}
	return reason
}

// authRefusal reports whether a 403's reason says that the credentials
// themselves were refused, as a 401 does ("Couldn't authenticate you").
func authRefusal(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "authenticate") || strings.Contains(r, "invalid credentials") || strings.Contains(r, "invalid token")
}

// httpStatusError records the HTTP status of a refused request (and
// nothing else: no headers, no credentials). A 404 matches
// syncer.ErrNotFound.
type httpStatusError struct{ status int }

func (e *httpStatusError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

func (e *httpStatusError) Is(target error) bool {
	return target == syncer.ErrNotFound && e.status == http.StatusNotFound
}

// lostAnswer reports whether err means the request may have been processed
// although no usable answer came back (timeout, reset, 5xx).
func lostAnswer(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch syncer.ErrorCode(err) {
	case syncer.CodeConnectionFailed, syncer.CodeOpenTimeout:
		return true
	}
	var he *httpStatusError
	return errors.As(err, &he) && he.status >= 500
}

// chunks cuts n indexes into runs of at most size.
func chunks(n, size int) [][]int {
	var out [][]int
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		idx := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			idx = append(idx, i)
		}
		out = append(out, idx)
	}
	return out
}

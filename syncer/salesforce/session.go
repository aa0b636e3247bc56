package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gosf "github.com/k-capehart/go-salesforce/v2"

	"github.com/zdsync/zdsync/syncer"
)

// How the adapter shares one Salesforce session among concurrent calls.
//
// go-salesforce keeps the access token of a login in its *Salesforce and,
// when a request is answered INVALID_SESSION_ID, logs in again and rewrites
// that token in place, unguarded: two requests at once race on it. So no
// request of the adapter ever takes that path. Each request carries a
// context (given through a go-salesforce RequestOption) that marks it as
// the adapter's, and a RoundTripper installed once on http.DefaultClient,
// the client go-salesforce sends with, turns the answer of a marked request
// that reports an expired session into errSessionExpired before the library
// reads it. The Client then logs in again once for every request that met
// the expired session (single flight: the first logs in, the others wait
// for that login), swaps in the new *gosf.Salesforce, and each request is
// sent once more. Logins are the only thing serialized; the requests
// themselves run in parallel, at most MaxConcurrency at a time.
//
// The same RoundTripper gives the adapter what go-salesforce drops: the
// status of a 429 (whose body need not be JSON) and the OAuth error of a
// refused login (the library keeps only "400 Bad Request: failed
// authentication"). Requests that are not the adapter's, and answers it
// does not need to see, pass through unchanged.

// DefaultMaxConcurrency is how many requests a Client has in flight at once
// unless Config.MaxConcurrency says otherwise. Salesforce refuses new
// requests with REQUEST_LIMIT_EXCEEDED while an org has 25 requests of 20
// seconds or longer running (5 in Developer Edition and trial orgs; Salesforce
// Developer Limits and Allocations Quick Reference, "API Request Limits and
// Allocations"); 10 leaves room for the org's other integrations.
const DefaultMaxConcurrency = 10

// tokenPath is the path of Salesforce's OAuth 2.0 token endpoint, after
// the login domain.
const tokenPath = "/services/oauth2/token"

// maxErrorBody bounds how much of an error answer the transport reads.
const maxErrorBody = 1 << 20

// errSessionExpired is what the transport answers, instead of the response,
// to an adapter request whose session Salesforce no longer accepts.
var errSessionExpired = errors.New("Salesforce session expired or invalid (INVALID_SESSION_ID)")

// errSessionRefused is the error of a request refused INVALID_SESSION_ID
// again right after a new login.
var errSessionRefused = errors.New("Salesforce refused the session of a new login (INVALID_SESSION_ID)")

// rateLimitedError is a 429 Too Many Requests answer.
type rateLimitedError struct {
	retryAfter time.Duration // 0 when the answer named no wait
}

func (e *rateLimitedError) Error() string {
	if e.retryAfter > 0 {
		return "Salesforce answered 429 Too Many Requests (retry after " + e.retryAfter.String() + ")"
	}
	return "Salesforce answered 429 Too Many Requests"
}

// unavailableError is a 5xx answer that is not the API's JSON: an HTML
// page of Salesforce's edge (an outage, or maintenance: "503 Service
// Unavailable") rather than the REST API's own error list.
type unavailableError struct{ status int }

func (e *unavailableError) Error() string {
	return "Salesforce answered " + strconv.Itoa(e.status) + " " + http.StatusText(e.status) +
		" with a page, not the API's JSON: it is down or in maintenance (see status.salesforce.com)"
}

// loginError is the answer of the token endpoint to a refused login: its
// status and the OAuth error (RFC 6749, section 5.2), e.g. invalid_grant
// "authentication failure".
type loginError struct {
	status      int
	code        string // the OAuth "error"
	description string // its "error_description"
}

func (e *loginError) Error() string {
	s := "Salesforce refused the login (" + strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	if e.code != "" {
		s += ": " + e.code
		if e.description != "" {
			s += ", " + truncate(e.description, 200)
		}
	}
	return s + ")"
}

// adapterRequest marks the context of the adapter's own requests.
type adapterRequest struct{}

// withContext returns the go-salesforce RequestOption that sends a request
// with ctx, marked as the adapter's: ctx cancels it, and the transport
// answers it as the adapter needs.
func withContext(ctx context.Context) gosf.RequestOption {
	marked := context.WithValue(ctx, adapterRequest{}, true)
	return func(r *http.Request) { *r = *r.WithContext(marked) }
}

var installTransport sync.Once

// useTransport installs the adapter's RoundTripper on http.DefaultClient,
// once, around the transport it had.
func useTransport() {
	installTransport.Do(func() {
		base := http.DefaultClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		http.DefaultClient.Transport = transport{base: base}
	})
}

// transport is the RoundTripper the adapter installs on http.DefaultClient.
type transport struct{ base http.RoundTripper }

// RoundTrip sends r; see the comment at the top of this file for what it
// changes in the answers of the adapter's requests and of token requests.
func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Context().Value(adapterRequest{}) != nil:
		return apiAnswer(resp)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, tokenPath):
		return tokenAnswer(resp)
	}
	return resp, nil
}

// apiAnswer returns a REST API answer, or the error that stands for it: a
// 429 is a *rateLimitedError, a 401 or an answer naming INVALID_SESSION_ID
// is errSessionExpired, and a 5xx page that is not JSON an
// *unavailableError.
func apiAnswer(resp *http.Response) (*http.Response, error) {
	if resp.StatusCode < http.StatusBadRequest {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, &rateLimitedError{retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode == http.StatusUnauthorized || namesErrorCode(body, sfInvalidSessionID):
		return nil, errSessionExpired
	case resp.StatusCode >= http.StatusInternalServerError && !json.Valid(body):
		return nil, &unavailableError{status: resp.StatusCode}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// tokenAnswer returns a successful token answer, or the *loginError of a
// refused one.
func tokenAnswer(resp *http.Response) (*http.Response, error) {
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	e := &loginError{status: resp.StatusCode}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oauth) == nil {
		e.code, e.description = oauth.Error, oauth.Description
	}
	return nil, e
}

// namesErrorCode reports whether body is a Salesforce error list with an
// element of the given errorCode.
func namesErrorCode(body []byte, code string) bool {
	var msgs []gosf.SalesforceErrorMessage
	if json.Unmarshal(body, &msgs) != nil {
		return false
	}
	for _, m := range msgs {
		if m.ErrorCode == code {
			return true
		}
	}
	return false
}

// retryAfter reads a Retry-After header given in seconds (0 if absent or
// not a number of seconds).
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// session is the result of one login: its client, or its error.
type session struct {
	sf  *gosf.Salesforce
	err error
}

// current returns the session requests use now (it waits while a login is
// in flight).
func (c *Client) current() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// renew logs in again unless another request already replaced old, and
// returns the session to use: one login, however many requests met old.
func (c *Client) renew(old *session) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == old {
		sf, err := gosf.Init(c.creds)
		c.cur = &session{sf: sf, err: err}
	}
	return c.cur
}

// do sends one REST API request (uri is the path after /services/data/vXX.X)
// and decodes its JSON answer into out (nil: the answer is discarded). It
// waits for one of the Client's MaxConcurrency slots, and when Salesforce
// answers that the session expired, it logs in again (once for all the
// requests that met it) and sends the request once more.
func (c *Client) do(ctx context.Context, method, uri string, body []byte, out any) error {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.slots }()
	s := c.current()
	if s.err != nil { // the last login failed: try again
		if s = c.renew(s); s.err != nil {
			return s.err
		}
	}
	resp, err := c.send(ctx, s, method, uri, body)
	if errors.Is(err, errSessionExpired) {
		if s = c.renew(s); s.err != nil {
			return s.err
		}
		if resp, err = c.send(ctx, s, method, uri, body); errors.Is(err, errSessionExpired) {
			return errSessionRefused
		}
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.usage.note(resp.Header.Get(limitInfoHeader), time.Now())
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// send sends one request with session s, counting it.
func (c *Client) send(ctx context.Context, s *session, method, uri string, body []byte) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	syncer.CountCall(ctx)
	return s.sf.DoRequest(method, uri, body, withContext(ctx))
}

// Package salesforce is zdsync's adapter over
// github.com/k-capehart/go-salesforce/v2: it runs the documented SOQL queries
// (syncer.Salesforce), writes the cases of the case push (syncer.CaseStore),
// reads the org's daily API allowance (syncer.AllowanceReader) and turns
// every failure into a *syncer.Error with its pipeline code.
//
// go-salesforce has no context, no timeout and no injectable HTTP client: it
// uses http.DefaultClient (give it a timeout once with SetHTTPTimeout). Its
// automatic re-login is not goroutine-safe; the adapter keeps its requests
// off it and logs in again itself, once for all the requests that need it,
// so that its methods run in parallel (session.go).
package salesforce

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gosf "github.com/k-capehart/go-salesforce/v2"

	"github.com/zdsync/zdsync/syncer"
)

// Config holds what New needs to log in. URL is the login domain
// (https://login.salesforce.com, https://test.salesforce.com or a fake's
// URL). The password flow is used when Username, Password and
// SecurityToken are all set, the client-credentials flow when none is.
type Config struct {
	URL           string // SALESFORCE_URL: login domain, no trailing slash needed
	ClientID      string // SALESFORCE_CLIENT_ID: the connected app's consumer key
	ClientSecret  string // SALESFORCE_CLIENT_SECRET: the connected app's consumer secret
	Username      string // SALESFORCE_USERNAME (password flow)
	Password      string // SALESFORCE_PASSWORD (password flow)
	SecurityToken string // SALESFORCE_SECURITY_TOKEN (password flow), appended to the password
	// MaxConcurrency is how many requests the Client has in flight at
	// once (SALESFORCE_MAX_CONCURRENCY); 0 means DefaultMaxConcurrency.
	MaxConcurrency int
}

// Client is a logged-in Salesforce connection implementing
// syncer.Salesforce, syncer.CaseStore and syncer.AllowanceReader. Its
// methods are safe for concurrent use and run in parallel, sharing one
// session; at most MaxConcurrency requests are in flight at once.
type Client struct {
	creds gosf.Creds
	slots chan struct{} // one per request in flight

	mu  sync.Mutex // guards cur; held while logging in
	cur *session   // the session requests use

	children children // Account's child relationships, described once (incremental.go)
	usage    usage    // the allowance the last answer reported (limits.go)
}

var (
	_ syncer.Salesforce      = (*Client)(nil)
	_ syncer.CaseStore       = (*Client)(nil)
	_ syncer.AllowanceReader = (*Client)(nil)
)

// SetHTTPTimeout gives the process-wide http.DefaultClient, which
// go-salesforce uses for every request, a timeout (HTTP_TIMEOUT). Call it
// once at start-up, before any request; 0 means no timeout.
func SetHTTPTimeout(d time.Duration) {
	http.DefaultClient.Timeout = d
}

// New logs in to Salesforce and returns a Client. A refused login is a
// *syncer.Error with CodeAuthFailed; a network failure has CodeConnectionFailed
// or CodeOpenTimeout. Messages never contain the credentials.
func New(ctx context.Context, cfg Config) (*Client, error) {
	const op = "salesforce login"
	if err := ctx.Err(); err != nil {
		return nil, classify(op, "", err)
	}
	domain := strings.TrimRight(cfg.URL, "/")
	if domain == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, &syncer.Error{Code: syncer.CodeAuthFailed, Op: op,
			Message: "the login URL, client ID and client secret must all be set"}
	}
	if cfg.MaxConcurrency < 0 {
		return nil, &syncer.Error{Code: syncer.CodeInternal, Op: op,
			Message: "the maximum number of concurrent requests must not be negative"}
	}
	creds := gosf.Creds{Domain: domain, ConsumerKey: cfg.ClientID, ConsumerSecret: cfg.ClientSecret}
	set := 0
	for _, v := range []string{cfg.Username, cfg.Password, cfg.SecurityToken} {
		if v != "" {
			set++
		}
	}
	switch set {
	case 3:
		creds.Username, creds.Password, creds.SecurityToken = cfg.Username, cfg.Password, cfg.SecurityToken
	case 0: // client-credentials flow
	default:
		// go-salesforce would silently fall back to the client-credentials
		// flow; say so instead.
		return nil, &syncer.Error{Code: syncer.CodeAuthFailed, Op: op,
			Message: "the password flow needs the username, password and security token all set (or none, for the client-credentials flow)"}
	}
	useTransport()
	c := &Client{creds: creds, slots: make(chan struct{}, cmp.Or(cfg.MaxConcurrency, DefaultMaxConcurrency))}
	if s := c.renew(nil); s.err != nil {
		return nil, classify(op, "", s.err)
	}
	return c, nil
}

// call runs fn unless ctx is already done, and classifies its error.
func (c *Client) call(ctx context.Context, op, record string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return classify(op, record, err)
	}
	if err := fn(); err != nil {
		return classify(op, record, err)
	}
	return nil
}

// Accounts runs the documented account query of scope (with the
// single-account condition when accountID is set) and decodes each record
// with syncer.DecodeAccount (syncer.DecodeAccountSources for one account).
func (c *Client) Accounts(ctx context.Context, scope syncer.Scope, accountID string) ([]syncer.Account, error) {
	op := "query " + string(scope) + " accounts"
	q, err := AccountsQuery(scope, accountID)
	if err != nil {
		return nil, syncer.WithOp(err, op, accountID)
	}
	var out []syncer.Account
	shared := new(syncer.Interner)
	err = c.call(ctx, op, accountID, func() error {
		return c.queryEach(ctx, q, func(total int, r map[string]any) {
			if out == nil {
				out = make([]syncer.Account, 0, total) // one allocation for 100,000 accounts, not twenty
			}
			if accountID != "" { // one account: keep what explain shows
				out = append(out, syncer.DecodeAccountSources(r))
				return
			}
			out = append(out, syncer.DecodeAccount(r, shared))
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FederalContacts runs the documented federal contacts query (with the
// single-account condition when accountID is set) and decodes each record
// with syncer.DecodeContact.
func (c *Client) FederalContacts(ctx context.Context, accountID string) ([]syncer.Contact, error) {
	const op = "query federal contacts"
	q, err := ContactsQuery(accountID)
	if err != nil {
		return nil, syncer.WithOp(err, op, accountID)
	}
	var out []syncer.Contact
	err = c.call(ctx, op, accountID, func() error {
		return c.queryEach(ctx, q, func(total int, r map[string]any) {
			if out == nil {
				out = make([]syncer.Contact, 0, total)
			}
			out = append(out, syncer.DecodeContact(r))
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queryPage is one page of a query's answer.
type queryPage struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// queryEach runs a SOQL query and hands each record to fn, page by page,
// with the query's totalSize (a hint: bounded, it sizes the result),
// following nextRecordsUrl. go-salesforce's Query holds every page, then a
// mapstructure copy of every record, before anything is decoded: two
// generic copies of the whole result (about 10 KB an account) at once.
// Reading the pages here, through the library's DoRequest (same
// authentication, same error bodies), keeps one page of raw records at a
// time. A page that says it is not the last but names no next page is an
// error, where the library would loop for ever.
//
// A subquery's result is paged too when a record has many children
// (done:false and its own nextRecordsUrl inside the record; SOQL and SOSL
// Reference, "Understanding Query Results"). The library does not follow
// it; queryEach reads the rest of each such result into the record before
// fn sees it, and before the parent's next page, which invalidates the
// child locators of the page before it.
func (c *Client) queryEach(ctx context.Context, q string, fn func(total int, rec map[string]any)) error {
	var page queryPage
	if err := c.getPage(ctx, "/query/?q="+url.QueryEscape(q), &page); err != nil {
		return err
	}
	return c.readPages(ctx, page, fn)
}

// readPages hands the records of a query answer's first page to fn, then
// those of the pages after it (see queryEach).
func (c *Client) readPages(ctx context.Context, page queryPage, fn func(total int, rec map[string]any)) error {
	for {
		total := min(max(page.TotalSize, 0), maxSizeHint)
		for i, r := range page.Records {
			if err := c.completeSubqueries(ctx, r); err != nil {
				return err
			}
			fn(total, r)
			page.Records[i] = nil
		}
		if page.Done {
			return nil
		}
		if page.NextRecordsURL == "" {
			return errNoNextPage()
		}
		uri := nextPagePath(page.NextRecordsURL)
		page = queryPage{}
		if err := c.getPage(ctx, uri, &page); err != nil {
			return err
		}
	}
}

// errNoNextPage is the error of a page that is not the last but names no
// next one (a new value each time: classify sets its Op).
func errNoNextPage() error {
	return &syncer.Error{Code: syncer.CodeBadResponse,
		Message: "Salesforce answered a query page with done:false and no nextRecordsUrl"}
}

// getPage reads one query page at uri into page.
func (c *Client) getPage(ctx context.Context, uri string, page any) error {
	return c.do(ctx, http.MethodGet, uri, nil, page)
}

// completeSubqueries reads the remaining pages of each subquery result of
// rec that is not done ({"totalSize","done":false,"nextRecordsUrl","records"})
// and leaves it done, with all its records.
func (c *Client) completeSubqueries(ctx context.Context, rec map[string]any) error {
	for _, v := range rec {
		sub, ok := v.(map[string]any)
		if !ok {
			continue
		}
		done, isResult := sub["done"].(bool)
		records, hasRecords := sub["records"].([]any)
		if !isResult || !hasRecords || done {
			continue
		}
		next, _ := sub["nextRecordsUrl"].(string)
		for !done {
			if next == "" {
				return errNoNextPage()
			}
			var page struct {
				Done           bool   `json:"done"`
				NextRecordsURL string `json:"nextRecordsUrl"`
				Records        []any  `json:"records"`
			}
			if err := c.getPage(ctx, nextPagePath(next), &page); err != nil {
				return err
			}
			records = append(records, page.Records...)
			done, next = page.Done, page.NextRecordsURL
		}
		sub["records"], sub["done"] = records, true
		delete(sub, "nextRecordsUrl")
	}
	return nil
}

// nextPagePath turns a nextRecordsUrl (/services/data/v62.0/query/…) into
// the path DoRequest expects after the version.
func nextPagePath(u string) string {
	return strings.TrimPrefix(u, "/services/data/"+apiVersion)
}

// maxSizeHint bounds the room reserved from a query's totalSize, so that a
// malformed answer cannot make the client reserve gigabytes.
const maxSizeHint = 1_000_000

// apiVersion is the REST API version go-salesforce v2.5.2 hard-codes in
// every request path.
const apiVersion = "v62.0"

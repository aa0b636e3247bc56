package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// The reads of an incremental run (syncer.ChangeSource).
//
// What changed is found with one composite request: a query of the job's
// accounts (its documented WHERE clause) whose SystemModstamp is at or
// after the start of the window, and one query per child sObject behind
// the documented query's subqueries (for federal-users: of Contact). The
// child sObjects and the fields that look up their account are read from
// the relationship names in the documented SOQL with one describe of
// Account, not guessed, and kept for the life of the Client. The changes
// are not one query because SOQL refuses semi-joins joined with OR ("You
// can't use OR with semi-joins", SOQL and SOSL Reference, "Semi-Join and
// Anti-Join Limitations"), and the child queries go through queryAll so
// that a deleted subscription is seen too.
//
// The changed accounts are then read with the documented query plus
// AND Account.Id IN (…), the way a single-account run adds its one
// condition, so that an incremental run judges them by exactly the rules of
// a full run. The ID lists go into composite requests rather than GET
// URIs: "the maximum length for the combined URI and headers is 16,384
// bytes" (Salesforce Help, knowledge article 000386264, "Maximum number of
// rows returned by SOQL queries over the REST API", which suggests a
// composite request for longer queries), about 450 IDs beside the
// documented query, while a statement may be maxSOQLLength characters.
// Each statement carries at most maxIDsPerQuery IDs, so that its answer is
// one page, and one composite request carries maxCompositeQueries of them.

// Salesforce's limits behind the incremental reads.
const (
	// maxSOQLLength is the longest SOQL statement: "By default, 100,000
	// characters" (Salesforce Developer Limits and Allocations Quick
	// Reference, "SOQL and SOSL Limits for Search Queries"). SOQL sets no
	// other bound on the values of an IN list; each string in a WHERE
	// clause may be 4,000 characters (same table), far more than an ID or
	// an e-mail (80 characters in an Email field).
	maxSOQLLength = 100_000
	// maxWhereString is that bound on one string of a WHERE clause.
	maxWhereString = 4_000
	// maxCompositeQueries is how many queries one composite request may
	// carry: "You can have up to 25 subrequests in a single call. Up to 5
	// of these subrequests can be sObject Collections or query operations"
	// (REST API Developer Guide, "Composite"). "The entire series of
	// requests counts as a single call toward your API limits" (same
	// page).
	maxCompositeQueries = 5
	// maxIDsPerQuery is how many records one query page returns at most
	// ("up to 2,000 records can be returned at a time", REST API Developer
	// Guide, "Query"): one statement per page's worth of IDs.
	maxIDsPerQuery = 2000
)

// compositePath is the REST resource of composite requests.
const compositePath = "/composite"

// modstampLayout is how Salesforce writes a dateTime in a query answer,
// e.g. 2026-12-03T08:00:00.000+0000.
const modstampLayout = "2006-01-02T15:04:05.000-0700"

// soqlDateTime writes t as a SOQL dateTime literal (SOQL and SOSL
// Reference, "Date Formats and Date Literals in WHERE":
// YYYY-MM-DDThh:mm:ssZ), rounded down to the second: a window that starts
// a little early reads a change twice, never misses one.
func soqlDateTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// ModifiedAccountsQuery returns the query of the accounts of scope's
// documented query whose SystemModstamp is at or after since.
func ModifiedAccountsQuery(scope syncer.Scope, since time.Time) (string, error) {
	q, err := AccountsQuery(scope, "")
	if err != nil {
		return "", err
	}
	_, where, _ := strings.Cut(q, "\nWHERE\n")
	return "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp >= " + soqlDateTime(since) + " AND (\n" + where + "\n)", nil
}

// ModifiedRecordsQuery returns the query of the records of a child sObject
// whose SystemModstamp is at or after since, with the field that looks up
// their account.
func ModifiedRecordsQuery(object, field string, since time.Time) string {
	return "SELECT Id, " + field + ", SystemModstamp FROM " + object + " WHERE SystemModstamp >= " + soqlDateTime(since)
}

// childRelationship is what the adapter reads of one of Account's child
// relationships in its describe result (REST API Developer Guide,
// "sObject Describe": childRelationships[]).
type childRelationship struct {
	ChildSObject     string  `json:"childSObject"`
	Field            string  `json:"field"`
	RelationshipName *string `json:"relationshipName"`
}

// children caches Account's child relationships: one describe a Client.
type children struct {
	mu   sync.Mutex
	rels []childRelationship
}

// describePath is the REST resource of Account's describe result.
const describePath = "/sobjects/Account/describe"

// accountChildren returns Account's child relationships, described at the
// first call (a failed describe is tried again at the next).
func (c *Client) accountChildren(ctx context.Context) ([]childRelationship, error) {
	c.children.mu.Lock()
	defer c.children.mu.Unlock()
	if c.children.rels != nil {
		return c.children.rels, nil
	}
	const op = "describe Account"
	var d struct {
		ChildRelationships []childRelationship `json:"childRelationships"`
	}
	if err := c.call(ctx, op, "", func() error { return c.do(ctx, http.MethodGet, describePath, nil, &d) }); err != nil {
		return nil, err
	}
	if len(d.ChildRelationships) == 0 {
		return nil, &syncer.Error{Code: syncer.CodeBadResponse, Op: op, Message: "Salesforce described Account without child relationships"}
	}
	c.children.rels = d.ChildRelationships
	return c.children.rels, nil
}

// tracked is a child sObject an incremental run watches, and the field of
// it that looks up the account.
type tracked struct{ object, field string }

// subqueryRe finds the relationship names of a documented query's
// subqueries: "(SELECT … FROM Customer_Subscriptions__r …)".
var subqueryRe = regexp.MustCompile(`\(SELECT[^()]*?FROM\s+(\w+)`)

// trackedFor returns the child sObjects whose changes can change a run of
// job: those behind the relationship names of its documented account
// query's subqueries, or for federal-users Contact (whose Account. is the
// documented contacts query's parent relationship).
func (c *Client) trackedFor(ctx context.Context, job syncer.Job) ([]tracked, error) {
	rels, err := c.accountChildren(ctx)
	if err != nil {
		return nil, err
	}
	const op = "find the child records the query reads"
	if job == syncer.JobFederalUsers {
		for _, r := range rels {
			if r.ChildSObject == "Contact" && parentRelationship(r.Field) == "Account" {
				return []tracked{{r.ChildSObject, r.Field}}, nil
			}
		}
		return nil, &syncer.Error{Code: syncer.CodeBadResponse, Op: op,
			Message: "Salesforce's describe of Account has no Contact lookup (the federal contacts query reads Contact.Account)"}
	}
	q, err := AccountsQuery(job.Scope(), "")
	if err != nil {
		return nil, err
	}
	var out []tracked
	for _, m := range subqueryRe.FindAllStringSubmatch(q, -1) {
		found := false
		for _, r := range rels {
			if r.RelationshipName != nil && strings.EqualFold(*r.RelationshipName, m[1]) {
				out, found = append(out, tracked{r.ChildSObject, r.Field}), true
				break
			}
		}
		if !found {
			return nil, &syncer.Error{Code: syncer.CodeBadResponse, Op: op, Message: "Salesforce's describe of Account has no child relationship " +
				m[1] + ", which the documented query reads: check the integration user's access to it"}
		}
	}
	return out, nil
}

// parentRelationship is the relationship name of a lookup field: AccountId
// → Account, Account__c → Account__r (SOQL and SOSL Reference,
// "Relationship Names").
func parentRelationship(field string) string {
	if base, ok := strings.CutSuffix(field, "__c"); ok {
		return base + "__r"
	}
	return strings.TrimSuffix(field, "Id")
}

// Modified returns the records a run of job reads whose SystemModstamp is
// at or after since (syncer.ChangeSource): one composite request, unless
// more than a page of them changed.
func (c *Client) Modified(ctx context.Context, job syncer.Job, since time.Time) ([]syncer.Modified, error) {
	op := "find what changed for " + string(job)
	watched, err := c.trackedFor(ctx, job)
	if err != nil {
		return nil, err
	}
	accounts, err := ModifiedAccountsQuery(job.Scope(), since)
	if err != nil {
		return nil, syncer.WithOp(err, op, "")
	}
	queries := []string{accounts}
	for _, t := range watched {
		queries = append(queries, ModifiedRecordsQuery(t.object, t.field, since))
	}
	var out []syncer.Modified
	var bad error
	err = c.eachRecord(ctx, op, queries, true, func(i, _ int, rec map[string]any) {
		m := syncer.Modified{Object: "Account", ID: text(rec["Id"])}
		m.AccountID = m.ID
		if i > 0 {
			m.Object, m.AccountID = watched[i-1].object, text(rec[watched[i-1].field])
		}
		stamp, perr := time.Parse(modstampLayout, text(rec["SystemModstamp"]))
		if perr != nil || m.ID == "" {
			bad = &syncer.Error{Code: syncer.CodeBadResponse, Op: op,
				Message: "Salesforce answered a record without an Id or a SystemModstamp such as 2026-12-03T08:00:00.000+0000"}
			return
		}
		m.Stamp = stamp
		out = append(out, m)
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// text is a JSON string value, "" for anything else.
func text(v any) string {
	s, _ := v.(string)
	return s
}

// AccountsByID runs the documented account query of scope restricted to
// the accounts ids (syncer.ChangeSource).
func (c *Client) AccountsByID(ctx context.Context, scope syncer.Scope, ids []string) ([]syncer.Account, error) {
	op := "query changed " + string(scope) + " accounts"
	q, err := AccountsQuery(scope, "")
	if err != nil {
		return nil, syncer.WithOp(err, op, "")
	}
	stmts, err := idStatements(q, ids)
	if err != nil {
		return nil, syncer.WithOp(err, op, "")
	}
	var out []syncer.Account
	shared := new(syncer.Interner)
	err = c.eachRecord(ctx, op, stmts, false, func(_, total int, r map[string]any) {
		if out == nil {
			out = make([]syncer.Account, 0, total)
		}
		out = append(out, syncer.DecodeAccount(r, shared))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FederalContactsByAccount runs the documented federal contacts query
// restricted to the contacts of the accounts ids (syncer.ChangeSource).
func (c *Client) FederalContactsByAccount(ctx context.Context, ids []string) ([]syncer.Contact, error) {
	stmts, err := idStatements(FederalContactsSOQL, ids)
	if err != nil {
		return nil, syncer.WithOp(err, "query the federal contacts of changed accounts", "")
	}
	return c.contactsOf(ctx, "query the federal contacts of changed accounts", stmts)
}

// FederalContactsByEmail runs the documented federal contacts query
// restricted to the contacts with one of the e-mails (compared
// case-insensitively, as SOQL compares text) (syncer.ChangeSource).
func (c *Client) FederalContactsByEmail(ctx context.Context, emails []string) ([]syncer.Contact, error) {
	const op = "query the federal contacts of e-mails"
	var quoted []string
	for _, e := range emails {
		if e != "" && len(e) <= maxWhereString {
			quoted = append(quoted, quote(e))
		}
	}
	stmts, err := inStatements(FederalContactsSOQL, "Contact.Email", quoted)
	if err != nil {
		return nil, syncer.WithOp(err, op, "")
	}
	return c.contactsOf(ctx, op, stmts)
}

// contactsOf runs contact queries and decodes their records.
func (c *Client) contactsOf(ctx context.Context, op string, stmts []string) ([]syncer.Contact, error) {
	var out []syncer.Contact
	err := c.eachRecord(ctx, op, stmts, false, func(_, _ int, r map[string]any) { out = append(out, syncer.DecodeContact(r)) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// idStatements returns the documented query q restricted to the records of
// the accounts ids, in as few statements as the limits allow.
func idStatements(q string, ids []string) ([]string, error) {
	quoted := make([]string, 0, len(ids))
	for _, id := range ids {
		n, err := syncer.NormalizeID(id)
		if err != nil {
			return nil, err
		}
		quoted = append(quoted, "'"+n+"'")
	}
	return inStatements(q, "Account.Id", quoted)
}

// inStatements returns the documented query q with AND field IN (…) over
// the quoted values, cut into statements of at most maxIDsPerQuery values
// and maxSOQLLength characters.
func inStatements(q, field string, quoted []string) ([]string, error) {
	build := func(values []string) (string, error) {
		return withCondition(q, field+" IN ("+strings.Join(values, ", ")+")")
	}
	empty, err := build(nil)
	if err != nil {
		return nil, err
	}
	var out []string
	var part []string
	size := len(empty)
	flush := func() error {
		if len(part) == 0 {
			return nil
		}
		s, err := build(part)
		out, part, size = append(out, s), nil, len(empty)
		return err
	}
	for _, v := range quoted {
		if len(part) >= maxIDsPerQuery || size+len(v)+2 > maxSOQLLength {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		part, size = append(part, v), size+len(v)+2
	}
	return out, flush()
}

// quote writes s as a SOQL string literal, with the escape sequences SOQL
// defines for quotes, backslashes and control characters (SOQL and SOSL
// Reference, "Quoted String Escape Sequences").
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// compositeAnswer is the answer of a composite request (REST API Developer
// Guide, "Composite Response Body").
type compositeAnswer struct {
	CompositeResponse []struct {
		Body           json.RawMessage `json:"body"`
		HTTPStatusCode int             `json:"httpStatusCode"`
		ReferenceID    string          `json:"referenceId"`
	} `json:"compositeResponse"`
}

// eachRecord runs queries (all: as queryAll), maxCompositeQueries to a
// composite request, and hands each record to fn with the index of its
// query and the query's totalSize, following each answer's further pages
// as queryEach does. A query Salesforce refuses fails the whole read.
func (c *Client) eachRecord(ctx context.Context, op string, queries []string, all bool, fn func(query, total int, rec map[string]any)) error {
	resource := "/query/?q="
	if all {
		resource = "/queryAll/?q="
	}
	for start := 0; start < len(queries); start += maxCompositeQueries {
		batch := queries[start:min(start+maxCompositeQueries, len(queries))]
		subs := make([]map[string]string, len(batch))
		for i, q := range batch {
			subs[i] = map[string]string{"method": http.MethodGet, "referenceId": "q" + strconv.Itoa(start+i),
				"url": "/services/data/" + apiVersion + resource + url.QueryEscape(q)}
		}
		body, err := json.Marshal(map[string]any{"allOrNone": false, "compositeRequest": subs})
		if err != nil {
			return syncer.WithOp(err, op, "")
		}
		var answer compositeAnswer
		if err := c.call(ctx, op, "", func() error { return c.do(ctx, http.MethodPost, compositePath, body, &answer) }); err != nil {
			return err
		}
		for _, r := range answer.CompositeResponse {
			// A refused query, or a request refused as a whole (one
			// result, its referenceId null: "LIMIT_EXCEEDED").
			if r.HTTPStatusCode >= http.StatusBadRequest {
				return classify(op, "", errors.New(string(r.Body)))
			}
		}
		if len(answer.CompositeResponse) != len(batch) {
			return &syncer.Error{Code: syncer.CodeBadResponse, Op: op,
				Message: "Salesforce answered a composite request with " + strconv.Itoa(len(answer.CompositeResponse)) + " results for " + strconv.Itoa(len(batch)) + " queries"}
		}
		for _, r := range answer.CompositeResponse {
			i, err := strconv.Atoi(strings.TrimPrefix(r.ReferenceID, "q"))
			if err != nil || i < start || i >= start+len(batch) {
				return &syncer.Error{Code: syncer.CodeBadResponse, Op: op, Message: "Salesforce answered a composite request with an unknown referenceId " + truncate(r.ReferenceID, 40)}
			}
			var page queryPage
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return classify(op, "", err)
			}
			err = c.call(ctx, op, "", func() error {
				return c.readPages(ctx, page, func(total int, rec map[string]any) { fn(i, total, rec) })
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

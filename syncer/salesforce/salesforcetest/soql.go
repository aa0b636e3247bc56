package salesforcetest

import (
	"fmt"
	"regexp"
	"strings"
)

// queryKind names a query the fake understands.
type queryKind int

const (
	kindGlobalAccounts queryKind = iota + 1
	kindFederalAccounts
	kindFederalContacts
	kindCaseByTicket
	kindCasesByID
	kindModified // the records of one sObject changed since a time (changes.go)
)

// The conditions the adapter adds to a documented query, after wrapping
// its WHERE clause in parentheses and AND: one account (README, "Command
// line": "--account SFID … one extra Account_ID_18__c = '…' condition"),
// or the accounts and the e-mails an incremental run reads (changes.go).
const (
	accountCondition  = "Account.Account_ID_18__c = '"
	accountsCondition = "Account.Id IN ("
	emailsCondition   = "Contact.Email IN ("
)

// parsedQuery is what the fake understood of a SOQL text.
type parsedQuery struct {
	kind     queryKind
	filter   queryFilter   // documented queries: the extra condition, if any
	modified modifiedQuery // kindModified
	fields   []string      // case queries: the selected fields
	ticketID string        // kindCaseByTicket
	caseIDs  []string      // kindCasesByID
	// accountID is the account of kindAccountByID.
	accountID string
}

type documented struct {
	kind     queryKind
	full     string // normalized query
	filtered string // normalized query with its WHERE clause wrapped, up to the AND of an extra condition
	where    string // its WHERE clause in parentheses, normalized
}

var documentedQueries = func() []documented {
	var ds []documented
	for _, q := range []struct {
		kind queryKind
		text string
	}{
		{kindGlobalAccounts, GlobalAccountsQuery},
		{kindFederalAccounts, FederalAccountsQuery},
		{kindFederalContacts, FederalContactsQuery},
	} {
		head, where, ok := strings.Cut(q.text, "\nWHERE\n")
		if !ok {
			panic("salesforcetest: documented query without WHERE")
		}
		ds = append(ds, documented{
			kind:     q.kind,
			full:     normalize(q.text),
			filtered: normalize(head+" WHERE ("+where+") AND") + " ",
			where:    normalize("(" + where + ")"),
		})
	}
	return ds
}()

// normalize collapses runs of white space into one space and drops the
// spaces just inside parentheses, so that queries compare by their tokens.
func normalize(q string) string {
	s := strings.Join(strings.Fields(q), " ")
	s = strings.ReplaceAll(s, "( ", "(")
	s = strings.ReplaceAll(s, " )", ")")
	return s
}

// caseFields are the Case fields the fake stores, in the order it knows them.
var caseFields = []string{
	"Id", "CaseNumber", "Subject", "Description", "Priority", "Status", "Origin",
	"AccountId", "SuppliedEmail", "SuppliedName", "Zendesk_Ticket_ID__c",
	"Zendesk_Ticket_URL__c", "CreatedDate",
}

var (
	caseByTicketRe = regexp.MustCompile(`^SELECT (.+) FROM Case WHERE Zendesk_Ticket_ID__c = '([^'\\]*)' ORDER BY CreatedDate LIMIT 1$`)
	casesByIDRe    = regexp.MustCompile(`^SELECT (.+) FROM Case WHERE Id IN \(([^)]*)\)$`)
	idRe           = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)
)

// queryError is a query the fake refuses, with the Salesforce errorCode
// (MALFORMED_QUERY, INVALID_FIELD) and message it answers.
type queryError struct {
	code    string
	message string
}

// Error returns the code and the message.
func (e *queryError) Error() string { return e.code + ": " + e.message }

// parseQuery recognizes the three documented queries (optionally with the
// condition of one account, of accounts or of e-mails), the queries of
// changed records (changes.go) and the adapter's two Case queries.
func parseQuery(q string) (parsedQuery, error) {
	n := normalize(q)
	for _, d := range documentedQueries {
		if n == d.full {
			return parsedQuery{kind: d.kind}, nil
		}
		if rest, ok := strings.CutPrefix(n, d.filtered); ok {
			f, err := parseFilter(d.kind, rest)
			if err != nil {
				return parsedQuery{}, err
			}
			return parsedQuery{kind: d.kind, filter: f}, nil
		}
	}
	if m, ok, err := parseModified(n); ok || err != nil {
		return parsedQuery{kind: kindModified, modified: m}, err
	}
	if m := caseByTicketRe.FindStringSubmatch(n); m != nil {
		fields, err := parseCaseFields(m[1])
		if err != nil {
			return parsedQuery{}, err
		}
		return parsedQuery{kind: kindCaseByTicket, fields: fields, ticketID: m[2]}, nil
	}
	if m := casesByIDRe.FindStringSubmatch(n); m != nil {
		fields, err := parseCaseFields(m[1])
		if err != nil {
			return parsedQuery{}, err
		}
		var ids []string
		for _, part := range strings.Split(m[2], ",") {
			id := strings.TrimSpace(part)
			if len(id) < 2 || id[0] != '\'' || id[len(id)-1] != '\'' || !idRe.MatchString(id[1:len(id)-1]) {
				return parsedQuery{}, &queryError{"MALFORMED_QUERY", fmt.Sprintf("invalid ID field: %s", id)}
			}
			ids = append(ids, id[1:len(id)-1])
		}
		return parsedQuery{kind: kindCasesByID, fields: fields, caseIDs: ids}, nil
	}
	if pq, ok, err := parseAccountByID(n); ok {
		return pq, err
	}
	return parsedQuery{}, &queryError{"MALFORMED_QUERY", "unexpected token: the fake Salesforce understands only the documented queries, the queries of changed records, the adapter's Case queries and Account fields by ID"}
}

func parseCaseFields(list string) ([]string, error) {
	var fields []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		known := false
		for _, k := range caseFields {
			if strings.EqualFold(f, k) {
				f, known = k, true
				break
			}
		}
		if !known {
			return nil, &queryError{"INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity 'Case'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", f)}
		}
		fields = append(fields, f)
	}
	return fields, nil
}

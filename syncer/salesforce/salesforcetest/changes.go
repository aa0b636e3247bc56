package salesforcetest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The queries an incremental run makes, besides the documented ones with
// an extra condition:
//
//	SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp >= <dateTime> AND (<a documented accounts WHERE clause>)
//	SELECT Id, <lookup field>, SystemModstamp FROM <child sObject> WHERE SystemModstamp >= <dateTime>
//
// for the child sObjects behind the accounts' child relationships (their
// lookup fields as the describe call names them, describe.go) and Contact
// (its AccountId). As queryAll, the child queries also return the records
// deleted since (IsDeleted, in the Recycle Bin). The fake refuses what
// Salesforce would: an unknown sObject (INVALID_TYPE), a field the sObject
// does not have (INVALID_FIELD), a dateTime not in a SOQL format
// (MALFORMED_QUERY).

// MaxSOQLLength is the longest SOQL statement Salesforce accepts: 100,000
// characters (Salesforce Developer Limits and Allocations Quick Reference,
// "SOQL and SOSL Limits for Search Queries").
const MaxSOQLLength = 100_000

// lookupFields are the fake's child sObjects and the field of each that
// looks up its account.
var lookupFields = map[string]string{
	objCustomerSubscription: "Account__c",
	objZuoraSubscription:    "Zuora__Account__c",
	objSoldTo:               "Zuora__Account__c",
	objContact:              "AccountId",
}

// modifiedQuery is a query of the records of one sObject changed since a
// time.
type modifiedQuery struct {
	object string
	field  string              // the lookup field selected ("" for Account)
	since  time.Time           // SystemModstamp >= since
	scope  func(*Account) bool // Account: the documented WHERE clause it carries
}

var (
	modifiedAccountsRe = regexp.MustCompile(`^SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp (>=|>) (\S+) AND (\(.*\))$`)
	modifiedChildrenRe = regexp.MustCompile(`^SELECT Id, (\w+), SystemModstamp FROM (\w+) WHERE SystemModstamp (>=|>) (\S+)$`)
)

// parseModified recognizes a query of changed records (n normalized); ok
// is false when n is not one.
func parseModified(n string) (m modifiedQuery, ok bool, err error) {
	var op, at string
	if g := modifiedAccountsRe.FindStringSubmatch(n); g != nil {
		op, at = g[1], g[2]
		m.object = "Account"
		for _, d := range documentedQueries {
			if g[3] == d.where && d.kind == kindGlobalAccounts {
				m.scope = MatchesGlobalQuery
			}
			if g[3] == d.where && d.kind == kindFederalAccounts {
				m.scope = MatchesFederalQuery
			}
		}
		if m.scope == nil {
			return m, true, &queryError{"MALFORMED_QUERY", "the fake Salesforce filters changed accounts only by a documented accounts WHERE clause"}
		}
	} else if g := modifiedChildrenRe.FindStringSubmatch(n); g != nil {
		m.field, m.object, op, at = g[1], g[2], g[3], g[4]
		want, known := lookupFields[m.object]
		switch {
		case !known:
			return m, true, &queryError{"INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.", m.object)}
		case !strings.EqualFold(m.field, want):
			return m, true, &queryError{"INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", m.field, m.object)}
		}
		m.field = want
	} else {
		return m, false, nil
	}
	// SOQL dateTime literals: YYYY-MM-DDThh:mm:ss+hh:mm, -hh:mm or Z,
	// unquoted (SOQL and SOSL Reference, "Date Formats and Date Literals
	// in WHERE").
	t, perr := time.Parse("2006-01-02T15:04:05Z07:00", at)
	if perr != nil || strings.Contains(at, ".") {
		return m, true, &queryError{"MALFORMED_QUERY", fmt.Sprintf("value of filter criterion for field 'SystemModstamp' must be of type dateTime and should not be enclosed in quotes: %s", at)}
	}
	m.since = t
	if op == ">" {
		m.since = t.Add(time.Second) // whole seconds: > t is >= t+1s
	}
	return m, true, nil
}

// modifiedLocked returns the records of a query of changed records,
// rendered as Salesforce answers them (all: with the deleted ones).
func (s *Server) modifiedLocked(m modifiedQuery, all bool) []any {
	var rows []any
	row := func(id, accountID string, stamp time.Time, deleted bool) {
		if stamp.Before(m.since) {
			return
		}
		r := map[string]any{"attributes": attrs(m.object, id), "Id": id, "SystemModstamp": stamp.UTC().Format(ModstampFormat)}
		if m.field != "" {
			r[m.field] = str(accountID)
		}
		if deleted && !all {
			return
		}
		rows = append(rows, r)
	}
	switch m.object {
	case "Account":
		for _, id := range s.order {
			if a := s.accounts[id]; m.scope(a) {
				row(a.ID, "", a.SystemModstamp, false)
			}
		}
	case objContact:
		for _, id := range s.contactOrder {
			c := s.contacts[id]
			row(c.ID, c.AccountID, c.SystemModstamp, false)
		}
	default:
		for _, id := range s.order {
			a := s.accounts[id]
			switch m.object {
			case objCustomerSubscription:
				for _, c := range a.CustomerSubscriptions {
					row(c.ID, a.ID, c.SystemModstamp, false)
				}
			case objZuoraSubscription:
				for _, c := range a.ZuoraSubscriptions {
					row(c.ID, a.ID, c.SystemModstamp, false)
				}
			case objSoldTo:
				for _, c := range a.SoldTo {
					row(c.ID, a.ID, c.SystemModstamp, c.IsDeleted)
				}
			}
		}
	}
	for _, t := range s.deleted {
		if t.object == m.object {
			row(t.id, t.accountID, t.stamp, true)
		}
	}
	return rows
}

// queryFilter is the extra condition of a documented query: one account,
// a list of accounts, or a list of contacts' e-mails. Its zero value
// selects every record.
type queryFilter struct {
	accountIDs map[string]bool // nil: every account
	emails     map[string]bool // lower case; nil: every contact
}

// accounts reports whether the filter selects the account (of a contact).
func (f queryFilter) accounts(a *Account) bool { return f.accountIDs == nil || f.accountIDs[a.ID] }

// contacts reports whether the filter selects the contact.
func (f queryFilter) contacts(c *Contact) bool {
	return f.emails == nil || f.emails[strings.ToLower(c.Email)]
}

// parseFilter reads the extra condition after "<documented query with its
// WHERE wrapped> AND ".
func parseFilter(kind queryKind, rest string) (queryFilter, error) {
	var f queryFilter
	switch {
	case strings.HasPrefix(rest, accountCondition):
		id, ok := strings.CutSuffix(strings.TrimPrefix(rest, accountCondition), "'")
		if !ok || !idRe.MatchString(id) {
			break
		}
		f.accountIDs = map[string]bool{id: true}
		return f, nil
	case strings.HasPrefix(rest, accountsCondition):
		values, err := parseStrings(strings.TrimPrefix(rest, accountsCondition))
		if err != nil {
			return f, err
		}
		f.accountIDs = map[string]bool{}
		for _, id := range values {
			if !idRe.MatchString(id) {
				return f, &queryError{"INVALID_QUERY_FILTER_OPERATOR", fmt.Sprintf("invalid ID field: %s", id)}
			}
			f.accountIDs[caseSafeIDOf(id)] = true
		}
		return f, nil
	case strings.HasPrefix(rest, emailsCondition) && kind == kindFederalContacts:
		values, err := parseStrings(strings.TrimPrefix(rest, emailsCondition))
		if err != nil {
			return f, err
		}
		f.emails = map[string]bool{}
		for _, e := range values {
			f.emails[strings.ToLower(e)] = true
		}
		return f, nil
	}
	return f, &queryError{"MALFORMED_QUERY", "unexpected token: the fake Salesforce adds only an account, accounts or e-mails condition to a documented query"}
}

// parseStrings reads "'a', 'b')": quoted SOQL strings (with their
// backslash escapes) separated by commas, up to the closing parenthesis
// that must end the query.
func parseStrings(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		if len(s) == 0 || s[0] != '\'' {
			return nil, &queryError{"MALFORMED_QUERY", "expecting a quoted string in the IN list"}
		}
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '\''; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(unescape(s[i]))
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, &queryError{"MALFORMED_QUERY", "unterminated string in the IN list"}
		}
		out = append(out, b.String())
		s = strings.TrimLeft(s[i+1:], " ")
		switch {
		case s == ")":
			if len(out) == 0 || slices.Contains(out, "") {
				return nil, &queryError{"MALFORMED_QUERY", "empty value in the IN list"}
			}
			return out, nil
		case strings.HasPrefix(s, ","):
			s = s[1:]
		default:
			return nil, &queryError{"MALFORMED_QUERY", "expecting ',' or ')' in the IN list"}
		}
	}
}

// unescape returns the character of a SOQL escape sequence \c (SOQL and
// SOSL Reference, "Quoted String Escape Sequences").
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	}
	return c
}

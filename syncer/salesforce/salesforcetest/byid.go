package salesforcetest

import (
	"fmt"
	"regexp"
	"strings"
)

// kindAccountByID is a query of chosen Account fields for one account by
// ID: what explain reads to say which conditions of the documented
// queries an account meets (the documented queries stay verbatim).
const kindAccountByID queryKind = 100

var accountByIDRe = regexp.MustCompile(`^SELECT (.+) FROM Account WHERE Account_ID_18__c = '([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)'$`)

// accountFields are the Account fields a by-ID query may select, with how
// the fake answers each (empty text is null, as Salesforce sends it).
var accountFields = map[string]func(a *Account) any{
	"Id":                                func(a *Account) any { return a.ID },
	"Account_ID_18__c":                  func(a *Account) any { return a.ID },
	"Name":                              func(a *Account) any { return str(a.Name) },
	"Type":                              func(a *Account) any { return str(a.Type) },
	"Partners_Partner_Status__c":        func(a *Account) any { return str(a.PartnerStatus) },
	"Partners_Partner_Type__c":          func(a *Account) any { return str(a.PartnerType) },
	"Partner_Track__c":                  func(a *Account) any { return str(a.PartnerTrack) },
	"Account_Demographics_Territory__c": func(a *Account) any { return str(a.Territory) },
	"Support_Instance__c":               func(a *Account) any { return str(a.SupportInstance) },
	"Account_Demographics_Geo__c":       func(a *Account) any { return a.Geo },
	"Next_Renewal_Date__c":              func(a *Account) any { return a.NextRenewalDate },
}

// parseAccountByID recognizes "SELECT f1, f2 FROM Account WHERE
// Account_ID_18__c = '<id>'" (normalized); ok is false for another query.
func parseAccountByID(n string) (pq parsedQuery, ok bool, err error) {
	m := accountByIDRe.FindStringSubmatch(n)
	if m == nil {
		return parsedQuery{}, false, nil
	}
	var fields []string
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimPrefix(strings.TrimSpace(f), "Account.")
		known := false
		for k := range accountFields {
			if strings.EqualFold(f, k) {
				f, known = k, true
				break
			}
		}
		if !known {
			return parsedQuery{}, true, &queryError{"INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", f)}
		}
		fields = append(fields, f)
	}
	return parsedQuery{kind: kindAccountByID, fields: fields, accountID: caseSafeIDOf(m[2])}, true, nil
}

// answerAccountByID answers a by-ID Account query: one record, or none.
func (s *Server) answerAccountByID(pq parsedQuery) queryPage {
	s.mu.Lock()
	page := queryPage{Done: true, Records: []any{}}
	if a, ok := s.accounts[pq.accountID]; ok {
		rec := map[string]any{"attributes": attrs("Account", a.ID)}
		for _, f := range pq.fields {
			rec[f] = accountFields[f](a)
		}
		page.Records, page.TotalSize = append(page.Records, rec), 1
	}
	s.mu.Unlock()
	return page
}

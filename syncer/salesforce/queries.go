package salesforce

import (
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

// accountIDLength15 and accountIDLength18 are the two lengths of a
// Salesforce record ID: the case-sensitive 15-character form and the
// case-insensitive 18-character form (Account_ID_18__c).
const (
	accountIDLength15 = 15
	accountIDLength18 = 18
)

// NormalizeID checks that id is a Salesforce record ID (15 or 18 ASCII
// letters and digits) and returns its 18-character form. Anything else is a
// *syncer.Error with CodeAPIError, so no unchecked text is ever put into
// SOQL.
func NormalizeID(id string) (string, error) {
	if len(id) != accountIDLength15 && len(id) != accountIDLength18 {
		return "", syncer.Errorf(syncer.CodeAPIError, "invalid Salesforce ID %q: want 15 or 18 letters and digits", truncate(id, 40))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "", syncer.Errorf(syncer.CodeAPIError, "invalid Salesforce ID %q: want 15 or 18 letters and digits", truncate(id, 40))
		}
	}
	if len(id) == accountIDLength15 {
		return caseSafeID(id), nil
	}
	return id, nil
}

// caseSafeID appends to a 15-character ID the three characters that encode
// which of its letters are upper case, giving the 18-character form.
func caseSafeID(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	b := []byte(id15)
	for chunk := 0; chunk < 3; chunk++ {
		flags := 0
		for i := 0; i < 5; i++ {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				flags |= 1 << i
			}
		}
		b = append(b, alphabet[flags])
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// withAccount returns the documented query q restricted to one account: its
// WHERE clause wrapped in parentheses, then
// AND Account.Account_ID_18__c = '<id>'. The same text serves the Account
// and the Contact query (Account. names the contact's account there).
func withAccount(q, accountID string) (string, error) {
	id, err := NormalizeID(accountID)
	if err != nil {
		return "", err
	}
	head, where, ok := strings.Cut(q, "\nWHERE\n")
	if !ok {
		return "", syncer.Errorf(syncer.CodeInternal, "documented query has no WHERE clause")
	}
	return head + "\nWHERE\n  (\n" + where + "\n  )\n  AND Account.Account_ID_18__c = '" + id + "'", nil
}

// AccountsQuery returns the SOQL Accounts runs for scope: the documented
// query verbatim, or with the single-account condition when accountID is
// set.
func AccountsQuery(scope syncer.Scope, accountID string) (string, error) {
	var q string
	switch scope {
	case syncer.Global:
		q = GlobalAccountsSOQL
	case syncer.Federal:
		q = FederalAccountsSOQL
	default:
		return "", syncer.Errorf(syncer.CodeInternal, "unknown scope %q", scope)
	}
	if accountID == "" {
		return q, nil
	}
	return withAccount(q, accountID)
}

// ContactsQuery returns the SOQL FederalContacts runs: the documented query
// verbatim, or with the single-account condition when accountID is set.
func ContactsQuery(accountID string) (string, error) {
	if accountID == "" {
		return FederalContactsSOQL, nil
	}
	return withAccount(FederalContactsSOQL, accountID)
}

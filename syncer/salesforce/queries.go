package salesforce

import (
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

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
	id, err := syncer.NormalizeID(accountID)
	if err != nil {
		return "", err
	}
	return withCondition(q, "Account.Account_ID_18__c = '"+id+"'")
}

// withCondition returns the documented query q with its WHERE clause
// wrapped in parentheses, then AND cond: the same rules, for fewer
// records.
func withCondition(q, cond string) (string, error) {
	head, where, ok := strings.Cut(q, "\nWHERE\n")
	if !ok {
		return "", syncer.Errorf(syncer.CodeInternal, "documented query has no WHERE clause")
	}
	return head + "\nWHERE\n  (\n" + where + "\n  )\n  AND " + cond, nil
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

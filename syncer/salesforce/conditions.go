package salesforce

import (
	"context"
	"fmt"
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

// conditionFields are the account fields the WHERE clauses of the two
// documented account queries test. Explain reads them by ID, so that it
// can say why an account is or is not selected, while the queries
// themselves stay verbatim.
var conditionFields = []string{
	"Account_ID_18__c", "Name", "Type", "Partners_Partner_Status__c", "Partners_Partner_Type__c", "Partner_Track__c",
	"Account_Demographics_Territory__c", "Support_Instance__c",
}

// ConditionsQuery returns the SOQL AccountConditions runs: the fields the
// documented queries filter on, for one account by ID.
func ConditionsQuery(accountID string) (string, error) {
	id, err := syncer.NormalizeID(accountID)
	if err != nil {
		return "", err
	}
	return "SELECT " + strings.Join(conditionFields, ", ") + " FROM Account WHERE Account_ID_18__c = '" + id + "'", nil
}

// AccountConditions reads by ID the fields the documented account
// queries filter on and evaluates each condition of their WHERE clauses
// (syncer.QueryConditions). An ID no account has is Exists false.
func (c *Client) AccountConditions(ctx context.Context, accountID string) (syncer.AccountConditions, error) {
	const op = "read account conditions"
	q, err := ConditionsQuery(accountID)
	if err != nil {
		return syncer.AccountConditions{}, syncer.WithOp(err, op, accountID)
	}
	var rec map[string]any
	err = c.call(ctx, op, accountID, func() error {
		return c.queryEach(ctx, q, func(_ int, r map[string]any) { rec = r })
	})
	if err != nil {
		return syncer.AccountConditions{}, err
	}
	if rec == nil {
		return syncer.AccountConditions{}, nil
	}
	f := func(name string) string {
		s, _ := rec[name].(string)
		return strings.TrimSpace(s)
	}
	v := conditionValues{id: f("Account_ID_18__c"), typ: f("Type"), status: f("Partners_Partner_Status__c"),
		ptype: f("Partners_Partner_Type__c"), track: f("Partner_Track__c"),
		territory: f("Account_Demographics_Territory__c"), instance: f("Support_Instance__c")}
	return syncer.AccountConditions{Exists: true, Name: f("Name"), Global: v.global(), Federal: v.federal()}, nil
}

// conditionValues are an account's values of the fields the documented
// queries filter on ("" for null).
type conditionValues struct {
	id, typ, status, ptype, track, territory, instance string
}

// The conditions of the documented WHERE clauses, in their text (see
// GlobalAccountsSOQL and FederalAccountsSOQL; a test checks that each
// appears there).
const (
	soqlCustomerType    = "Account.Type IN ('Customer', 'Former Customer')"
	soqlSpecialAccount  = "Account.Account_ID_18__c = '0014M00001sGJ8xQAG'"
	soqlPartnerType     = "Account.Type = 'Partner'"
	soqlPartnerStatus   = "Account.Partners_Partner_Status__c IN ('Authorized', 'Former')"
	soqlPartnerKind     = "Account.Partners_Partner_Type__c IN ('Alliance', 'Channel')"
	soqlPartnerTrack    = "Account.Partner_Track__c IN ('Open', 'Select', 'Technology')"
	soqlFederalCustomer = "Type IN ('Customer', 'Former Customer')"
	soqlTerritory       = "Account_Demographics_Territory__c LIKE 'PUBSEC%' AND Account_Demographics_Territory__c != 'PUBSEC_' AND (NOT Account_Demographics_Territory__c LIKE '%SLED%')"
	soqlSupportInstance = "Support_Instance__c = 'federal-support'"
	specialAccountID    = "0014M00001sGJ8xQAG"
)

// eq is SOQL's = on text: case-insensitive; null equals nothing.
func eq(v, want string) bool { return v != "" && strings.EqualFold(v, want) }

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if eq(v, s) {
			return true
		}
	}
	return false
}

// shown renders a value as SOQL would print it: quoted, or null.
func shown(field, v string) string {
	if v == "" {
		return field + " is null"
	}
	return fmt.Sprintf("%s = '%s'", field, v)
}

// global evaluates the WHERE clause of the global accounts query:
// (customer type OR the account named by ID) OR (partner AND its status,
// type and track).
func (v conditionValues) global() syncer.QueryVerdict {
	customer := oneOf(v.typ, "Customer", "Former Customer")
	special := v.id == specialAccountID
	partner := eq(v.typ, "Partner")
	status := oneOf(v.status, "Authorized", "Former")
	kind := oneOf(v.ptype, "Alliance", "Channel")
	track := oneOf(v.track, "Open", "Select", "Technology")
	m := syncer.QueryVerdict{Conditions: []syncer.Condition{
		{Name: "customer type", SOQL: soqlCustomerType, Holds: customer, Values: shown("Type", v.typ)},
		{Name: "the account the query names by ID", SOQL: soqlSpecialAccount, Holds: special, Values: shown("Account_ID_18__c", v.id)},
		{Name: "partner", SOQL: soqlPartnerType, Holds: partner, Values: shown("Type", v.typ)},
		{Name: "partner status", SOQL: soqlPartnerStatus, Holds: status, Values: shown("Partners_Partner_Status__c", v.status)},
		{Name: "partner type", SOQL: soqlPartnerKind, Holds: kind, Values: shown("Partners_Partner_Type__c", v.ptype)},
		{Name: "partner track", SOQL: soqlPartnerTrack, Holds: track, Values: shown("Partner_Track__c", v.track)},
	}}
	partnerOK := partner && status && kind && track
	m.Selected = customer || special || partnerOK
	switch {
	case customer:
		m.Decides = "selected as a customer: " + shown("Type", v.typ)
	case special:
		m.Decides = "selected by ID: the query names this account"
	case partnerOK:
		m.Decides = fmt.Sprintf("selected as a partner: status '%s', type '%s', track '%s'", v.status, v.ptype, v.track)
	case partner:
		m.Decides = "not selected: a partner failing the partner criteria (" + failing(m.Conditions[3:]) + ")"
	default:
		m.Decides = "not selected: " + shown("Type", v.typ) + " is neither a customer type nor Partner"
	}
	return m
}

// federal evaluates the WHERE clause of the federal accounts query:
// customer type AND (federal territory OR federal support instance).
func (v conditionValues) federal() syncer.QueryVerdict {
	customer := oneOf(v.typ, "Customer", "Former Customer")
	t := strings.ToUpper(v.territory)
	// LIKE is case-insensitive; '_' is a wildcard only in LIKE, so
	// != 'PUBSEC_' excludes exactly "PUBSEC_".
	territory := strings.HasPrefix(t, "PUBSEC") && t != "PUBSEC_" && !strings.Contains(t, "SLED")
	instance := eq(v.instance, "federal-support")
	m := syncer.QueryVerdict{Conditions: []syncer.Condition{
		{Name: "customer type", SOQL: soqlFederalCustomer, Holds: customer, Values: shown("Type", v.typ)},
		{Name: "federal territory", SOQL: soqlTerritory, Holds: territory, Values: shown("Account_Demographics_Territory__c", v.territory)},
		{Name: "federal support instance", SOQL: soqlSupportInstance, Holds: instance, Values: shown("Support_Instance__c", v.instance)},
	}}
	m.Selected = customer && (territory || instance)
	switch {
	case !customer:
		m.Decides = "not selected: " + shown("Type", v.typ) + " is not a customer type"
	case territory:
		m.Decides = "selected: a customer in the federal territory '" + v.territory + "'"
	case instance:
		m.Decides = "selected: a customer on the federal support instance"
	default:
		m.Decides = "not selected: a customer outside the federal territory (" + shown("Account_Demographics_Territory__c", v.territory) +
			") and not on the federal support instance (" + shown("Support_Instance__c", v.instance) + ")"
	}
	return m
}

// failing lists the values of the conditions that do not hold.
func failing(conds []syncer.Condition) string {
	var out []string
	for _, c := range conds {
		if !c.Holds {
			out = append(out, c.Values)
		}
	}
	return strings.Join(out, ", ")
}

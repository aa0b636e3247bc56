package syncer

import (
	"fmt"
	"strconv"
	"strings"
)

// Salesforce account fields the rules read besides the mapped ones.
const (
	sfPartnerStatus = "Partners_Partner_Status__c"
	sfPartnerType   = "Partners_Partner_Type__c"
	sfPartnerTrack  = "Partner_Track__c"
	sfNextRenewal   = "Next_Renewal_Date__c"
)

// Relationship names of the three subqueries of the account queries.
const (
	relCustomerSubscriptions = "Customer_Subscriptions__r"
	relZuoraSubscriptions    = "Zuora__Subscriptions__r"
	relSoldTo                = "Zuora__R00N40000001kyLcEAI__r"
)

// lookup reads a dotted field path ("Solutions_Architect_Lookup__r.Name")
// from a record; a missing or null parent yields nil.
func lookup(rec map[string]any, path string) any {
	for {
		head, rest, dotted := strings.Cut(path, ".")
		v := rec[head]
		if !dotted {
			return v
		}
		next, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		rec, path = next, rest
	}
}

// text renders a scalar as text: strings trimmed, numbers without exponent.
// ok is false for values that are not scalars.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return strings.TrimSpace(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// subRecords returns the records of a subquery, which Salesforce sends as
// {"totalSize":n,"done":true,"records":[…]} or as null when empty.
func subRecords(rec map[string]any, rel string) ([]map[string]any, *FieldProblem) {
	v := rec[rel]
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &FieldProblem{Field: rel, Value: short(v), Message: "subquery result is not an object"}
	}
	list, ok := obj["records"].([]any)
	if !ok {
		if obj["records"] == nil {
			return nil, nil
		}
		return nil, &FieldProblem{Field: rel, Value: short(obj["records"]), Message: "subquery records are not a list"}
	}
	out := make([]map[string]any, 0, len(list))
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// short renders a value for a problem report, bounded in length.
func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// DecodeAccount turns one record of a documented account query, as decoded
// from Salesforce's JSON (parent fields as nested objects, subqueries as
// {"totalSize","done","records"} objects or null), into an Account. It never
// fails: values of unexpected types are listed in Account.Problems and left
// out, so one bad value never fails the whole query. Repeated values are
// shared through shared (one per query; may be nil).
func DecodeAccount(rec map[string]any, shared *Interner) Account {
	return decodeAccount(rec, shared, false)
}

// DecodeAccountSources is DecodeAccount for a read of one account: each
// subscription keeps its Source, which explain shows (a bulk read leaves
// them out: they are unique to each subscription and would cost memory
// for nothing).
func DecodeAccountSources(rec map[string]any) Account {
	return decodeAccount(rec, nil, true)
}

func decodeAccount(rec map[string]any, shared *Interner, sources bool) Account {
	var a Account
	str := func(field string) string {
		s, ok := text(lookup(rec, field))
		if !ok {
			a.Problems = append(a.Problems, FieldProblem{Field: field, Value: short(lookup(rec, field)), Message: "not a text value"})
		}
		return s
	}
	a.ID = str("Account_ID_18__c")
	a.Name = str("Name")
	a.Type = str("Type")
	for _, m := range OrgFields {
		if m.Salesforce == "" {
			continue // derived from the subscriptions
		}
		v := lookup(rec, m.Salesforce)
		if v == nil {
			continue
		}
		if m.Zendesk != FieldSalesforceID { // the ID is unique: nothing to share
			v = shared.Value(v)
		}
		a.Fields.Set(m.Salesforce, v)
	}
	for _, f := range []string{sfPartnerStatus, sfPartnerType, sfPartnerTrack} {
		if s := str(f); s != "" {
			a.Fields.Set(f, shared.Value(s))
		}
	}

	// The queries select active subscriptions only; the rules read their
	// tier and end date.
	for _, sub := range []struct{ rel, tier, end, what string }{
		{relCustomerSubscriptions, "Product_Tier_Name_Short__c", "Current_Term_End_Date__c", "customer subscription"},
		{relZuoraSubscriptions, "Support_Level__c", "Zuora__SubscriptionEndDate__c", "Zuora subscription"},
	} {
		recs, p := subRecords(rec, sub.rel)
		if p != nil {
			a.Problems = append(a.Problems, *p)
		}
		for _, r := range recs {
			tier, ok := text(r[sub.tier])
			if !ok {
				a.Problems = append(a.Problems, FieldProblem{Field: sub.rel + "." + sub.tier, Value: short(r[sub.tier]), Message: "not a text value"})
			}
			var end string
			if v, ok := normalize(Date, r[sub.end]); ok && v != nil {
				end = v.(string)
			}
			s := Subscription{Tier: shared.String(tier), EndDate: shared.String(end)}
			if sources {
				s.Source = subscriptionSource(sub.what, r)
			}
			a.Subscriptions = append(a.Subscriptions, s)
		}
	}

	recs, p := subRecords(rec, relSoldTo)
	if p != nil {
		a.Problems = append(a.Problems, *p)
	}
	for _, r := range recs {
		name, _ := text(r["Name"])
		email, _ := text(r["Zuora__SoldToWorkEmail__c"])
		a.SoldTo = append(a.SoldTo, SoldTo{Name: name, Email: email})
	}
	return a
}

// DecodeContact turns one record of the federal contacts query into a
// Contact. It never fails: unusable values become empty and the contact is
// dropped by the rules downstream.
func DecodeContact(rec map[string]any) Contact {
	var c Contact
	c.Name, _ = text(rec["Name"])
	c.Email, _ = text(rec["Email"])
	c.AccountID, _ = text(lookup(rec, "Account.Account_ID_18__c"))
	c.AccountName, _ = text(lookup(rec, "Account.Name"))
	switch v := rec["Inactive_Contact__c"].(type) {
	case bool:
		c.Inactive = v
	case string:
		c.Inactive = strings.EqualFold(v, "true")
	}
	return c
}

// subscriptionSource names a subscription for people: a Zuora one by its
// number (else its name), a customer one by its plan name.
func subscriptionSource(what string, r map[string]any) string {
	for _, f := range []string{"Zuora__SubscriptionNumber__c", "Name", "Plan_Name__c"} {
		if v, ok := text(r[f]); ok && v != "" {
			return what + " " + v
		}
	}
	return what
}

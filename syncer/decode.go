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
// out, so one bad value never fails the whole query.
func DecodeAccount(rec map[string]any) Account {
	a := Account{Fields: map[string]any{}}
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
		if m.Salesforce != "" {
			a.Fields[m.Salesforce] = lookup(rec, m.Salesforce)
		}
	}
	for _, f := range []string{sfPartnerStatus, sfPartnerType, sfPartnerTrack} {
		a.Fields[f] = str(f)
	}

	subs := func(rel, source string, fields [6]string) []Subscription {
		recs, p := subRecords(rec, rel)
		if p != nil {
			a.Problems = append(a.Problems, *p)
		}
		var out []Subscription
		for _, r := range recs {
			s := Subscription{Source: source}
			for i, dst := range []*string{&s.Name, &s.Number, &s.Status, &s.Tier, &s.Plan} {
				if fields[i] == "" {
					continue
				}
				v, ok := text(r[fields[i]])
				if !ok {
					a.Problems = append(a.Problems, FieldProblem{Field: rel + "." + fields[i], Value: short(r[fields[i]]), Message: "not a text value"})
				}
				*dst = v
			}
			s.StartDate, s.EndDate = subDates(r, source)
			if f, ok := normalize(Decimal, r["Entitled_Seats__c"]); ok && f != nil {
				s.Seats = f.(float64)
			}
			out = append(out, s)
		}
		return out
	}
	a.CustomerSubscriptions = subs(relCustomerSubscriptions, "customer",
		[6]string{"", "", "Current_Subscription_Status__c", "Product_Tier_Name_Short__c", "Plan_Name__c"})
	a.ZuoraSubscriptions = subs(relZuoraSubscriptions, "zuora",
		[6]string{"Name", "Zuora__SubscriptionNumber__c", "Zuora__Status__c", "Support_Level__c", "Zuora__OpportunityName__c"})

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

// subDates returns the start and end dates of a subscription record.
func subDates(r map[string]any, source string) (start, end string) {
	startField, endField := "Current_Term_Start_Date__c", "Current_Term_End_Date__c"
	if source == "zuora" {
		startField, endField = "Zuora__SubscriptionStartDate__c", "Zuora__SubscriptionEndDate__c"
	}
	if v, ok := normalize(Date, r[startField]); ok && v != nil {
		start = v.(string)
	}
	if v, ok := normalize(Date, r[endField]); ok && v != nil {
		end = v.(string)
	}
	return start, end
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

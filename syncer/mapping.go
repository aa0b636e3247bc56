package syncer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldType is the type of a Zendesk organization field the sync writes.
// Salesforce values are normalised to it in one place (normalize), and
// Zendesk values are compared in its canonical text form (canon).
type FieldType string

// The field types of the mapping.
const (
	Text     FieldType = "text"
	Decimal  FieldType = "decimal"
	Integer  FieldType = "integer"
	Date     FieldType = "date"
	Checkbox FieldType = "checkbox"
)

// FieldMapping maps one Salesforce account field (or a value derived from
// the account's subscriptions) to one Zendesk organization field.
type FieldMapping struct {
	Zendesk    string    // organization_fields key
	Salesforce string    // API name of the account field; "" when derived
	Type       FieldType // how the value is normalised and compared
	Scope      Scope     // "" for both jobs, else only that scope
	Derived    string    // how a derived value is computed (README)
}

// Derived field keys.
const (
	FieldSalesforceID   = "salesforce_id"
	FieldSupportLevel   = "support_level"
	FieldExpirationDate = "expiration_date"
)

// OrgFields is the one field mapping table, from Salesforce account fields to
// Zendesk organization fields. The org's name comes from Account.Name and its
// external_id from Account_ID_18__c. Fields not named here are never written.
var OrgFields = []FieldMapping{
	{Zendesk: FieldSalesforceID, Salesforce: "Account_ID_18__c", Type: Text},
	{Zendesk: "aar", Salesforce: "CARR_This_Account__c", Type: Decimal},
	{Zendesk: "account_owner", Salesforce: "Account_Owner_Calc__c", Type: Text},
	{Zendesk: "account_type", Salesforce: "Type", Type: Text},
	{Zendesk: "number_of_seats", Salesforce: "Number_of_Licenses_This_Account__c", Type: Integer},
	{Zendesk: "sales_segmentation", Salesforce: "Ultimate_Parent_Sales_Segment_Employees__c", Type: Text},
	{Zendesk: "technical_account_manager", Salesforce: "Technical_Account_Manager_Name__c", Type: Text},
	{Zendesk: "health_score", Salesforce: "GS_Health_Score_Color__c", Type: Text},
	{Zendesk: "renewal_date", Salesforce: "Next_Renewal_Date__c", Type: Date},
	{Zendesk: "restricted_account", Salesforce: "Restricted_Account__c", Type: Checkbox},
	{Zendesk: "org_region", Salesforce: "Account_Demographics_Geo__c", Type: Text, Scope: Global},
	{Zendesk: "solutions_architect", Salesforce: "Solutions_Architect_Lookup__r.Name", Type: Text, Scope: Federal},
	{Zendesk: FieldSupportLevel, Type: Text, Derived: "highest tier of the active customer and Zuora subscriptions (ultimate > premium > starter)"},
	{Zendesk: FieldExpirationDate, Type: Date, Derived: "latest end date of the active subscriptions, else Next_Renewal_Date__c"},
}

// MappedFields returns the mapping rows that apply to scope.
func MappedFields(scope Scope) []FieldMapping {
	if scope == Federal {
		return federalFields
	}
	return globalFields
}

// The mapping rows of each scope, computed once from OrgFields.
var globalFields, federalFields = fieldsOf(Global), fieldsOf(Federal)

func fieldsOf(scope Scope) []FieldMapping {
	var out []FieldMapping
	for _, m := range OrgFields {
		if m.Scope == "" || m.Scope == scope {
			out = append(out, m)
		}
	}
	return out
}

// TagRule is one family of tags the sync owns. Every other tag on an org or
// user belongs to people and survives every update.
type TagRule struct {
	Prefix string // owned prefix, e.g. "sub_"; empty for an exact tag
	Exact  string // owned exact tag
	Scope  Scope  // "" for both jobs
	Rule   string // when the sync sets it (README)
}

// TagRules is the one table of tags the sync owns.
var TagRules = []TagRule{
	{Prefix: "sub_", Rule: "sub_<tier> for each tier among the active subscriptions"},
	{Prefix: "support_level_", Rule: "support_level_<level> for the support level"},
	{Prefix: "partner_", Scope: Global, Rule: "partner_<status>, partner_type_<type>, partner_track_<track> for accounts of type Partner"},
	{Exact: "expired", Rule: "the expiration date is in the past"},
	{Exact: "greatly_expired", Rule: "the expiration date is 3 or more years in the past"},
	{Exact: TagSoldToPending, Scope: Global, Rule: "on a new org until its sold-to users are created, so that a run cut short creates them next time"},
	{Exact: TagPendingDeletion, Scope: Global, Rule: "the account is greatly expired: the org waits DELETE_GRACE before a full run deletes it; removed when the account renews or the org is tagged do_not_delete"},
}

// TagSoldToPending marks a Global org whose sold-to users are not all
// created yet: set when the org is created, cleared once its users are.
// A run that dies in between (or whose user job fails) leaves it, and the
// next run creates the users then.
const TagSoldToPending = "sold_to_pending"

// TagPendingDeletion marks a greatly expired Global org that a full run
// will delete once it has carried the tag for Rules.DeleteGrace (README,
// "Grace period before deletion").
const TagPendingDeletion = "zdsync_pending_deletion"

// OwnedTag reports whether the sync owns tag (in any scope: a tag the sync
// could set is never treated as a person's tag).
func OwnedTag(tag string) bool {
	for _, r := range TagRules {
		if (r.Exact != "" && tag == r.Exact) || (r.Prefix != "" && strings.HasPrefix(tag, r.Prefix)) {
			return true
		}
	}
	return false
}

// TagDoNotDelete protects an org from deletion. People set it; the sync
// never does.
const TagDoNotDelete = "do_not_delete"

// supportTiers ranks support levels, highest first, with the names
// Salesforce uses for them (current and legacy tier names, Zuora support
// levels).
var supportTiers = []struct {
	Level   string
	Aliases []string
}{
	{"ultimate", []string{"ultimate", "gold"}},
	{"premium", []string{"premium", "silver", "priority"}},
	{"starter", []string{"starter", "bronze", "standard", "basic"}},
}

// tierOf returns the support level named by a tier or support-level value.
func tierOf(name string) (level string, rank int, ok bool) {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for i, t := range supportTiers {
		for _, w := range words {
			if slices.Contains(t.Aliases, w) {
				return t.Level, len(supportTiers) - i, true
			}
		}
	}
	return "", 0, false
}

// tagWord turns a Salesforce value into a tag fragment: lower case, runs of
// other characters as one underscore.
func tagWord(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// normalize turns a raw Salesforce value into the Zendesk value of type t:
// string, float64, int64, bool or nil (empty). ok is false when the value
// cannot be used; the field is then left alone and a problem reported.
func normalize(t FieldType, v any) (out any, ok bool) {
	if v == nil {
		return nil, true
	}
	switch t {
	case Text:
		switch x := v.(type) {
		case string:
			if s := strings.TrimSpace(x); s != "" {
				return s, true
			}
			return nil, true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case bool:
			return strconv.FormatBool(x), true
		}
	case Decimal, Integer:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			s := strings.TrimSpace(x)
			if s == "" {
				return nil, true
			}
			p, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
			if err != nil {
				return nil, false
			}
			f = p
		default:
			return nil, false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		if t == Integer {
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, false
			}
			return int64(f), true
		}
		return f, true
	case Date:
		s, isStr := v.(string)
		if !isStr {
			return nil, false
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, true
		}
		if len(s) >= 10 {
			if _, err := time.Parse(time.DateOnly, s[:10]); err == nil {
				return s[:10], true
			}
		}
		return nil, false
	case Checkbox:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			s := strings.ToLower(strings.TrimSpace(x))
			switch s {
			case "", "no", "false", "none", "not restricted", "unrestricted", "n":
				return false, true
			case "yes", "true", "y":
				return true, true
			}
			if strings.Contains(s, "restricted") {
				return true, true
			}
		}
	}
	return nil, false
}

// SameFieldValue reports whether two values of the organization field key
// are the same once canonical for its type (a date and its midnight
// timestamp, 12 and 12.0, "" and null), as the plan compares them; a
// field the mapping does not name compares as text.
func SameFieldValue(key string, a, b any) bool {
	t := Text
	for _, m := range OrgFields {
		if m.Zendesk == key {
			t = m.Type
		}
	}
	return canon(t, a) == canon(t, b)
}

// canon renders a Zendesk or normalised value of type t as canonical text,
// so that values are compared the same whichever side they came from ("" is
// empty, whatever the type).
func canon(t FieldType, v any) string {
	if v == nil {
		return ""
	}
	switch t {
	case Decimal, Integer:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case int64:
			return strconv.FormatInt(x, 10)
		case int:
			return strconv.Itoa(x)
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return strconv.FormatFloat(f, 'f', -1, 64)
			}
			return strings.TrimSpace(x)
		}
	case Date:
		if s, ok := v.(string); ok && len(s) >= 10 {
			return s[:10]
		}
	case Checkbox:
		switch x := v.(type) {
		case bool:
			if x {
				return "true"
			}
			return ""
		case string:
			if x == "true" {
				return "true"
			}
			return ""
		}
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	return fmt.Sprint(v)
}

package salesforcetest

import (
	"strings"
	"time"
)

// SpecialAccountID is the one account the global query selects by ID
// whatever its type ("OR Account.Account_ID_18__c = '0014M00001sGJ8xQAG'" in
// the documented global query, GlobalAccountsQuery).
const SpecialAccountID = "0014M00001sGJ8xQAG"

// Account is one Salesforce account of the fake, with every field the
// documented queries select or filter on. String fields left empty are sent
// as null, as Salesforce sends empty fields. Fields typed any are sent as
// they are, so a test can give them a value of an unexpected type (a
// Restricted_Account__c that is true or "Restricted Party", an amount that is
// a string); nil is sent as null.
type Account struct {
	// ID is Account_ID_18__c and the record Id: 18 characters, unique.
	ID string
	// Name is Name.
	Name string
	// Type is Type ("Customer", "Former Customer", "Partner", "Prospect", …).
	Type string
	// CARR is CARR_This_Account__c, normally a number.
	CARR any
	// Employees is Ultimate_Parent_Sales_Segment_Employees__c.
	Employees any
	// Owner is Account_Owner_Calc__c.
	Owner any
	// Licenses is Number_of_Licenses_This_Account__c, normally a number.
	Licenses any
	// TAM is Technical_Account_Manager_Name__c.
	TAM any
	// Geo is Account_Demographics_Geo__c (selected by the global query only).
	Geo any
	// HealthScore is GS_Health_Score_Color__c.
	HealthScore any
	// NextRenewalDate is Next_Renewal_Date__c, normally "YYYY-MM-DD".
	NextRenewalDate any
	// Restricted is Restricted_Account__c: a checkbox (bool) in some orgs, a
	// picklist ("Restricted Party") in others.
	Restricted any
	// PartnerStatus is Partners_Partner_Status__c.
	PartnerStatus string
	// PartnerType is Partners_Partner_Type__c.
	PartnerType string
	// PartnerTrack is Partner_Track__c.
	PartnerTrack string
	// Territory is Account_Demographics_Territory__c (filtered on by the
	// federal queries, never selected).
	Territory string
	// SupportInstance is Support_Instance__c (filtered on by the federal
	// queries, never selected).
	SupportInstance string
	// SolutionsArchitect is Solutions_Architect_Lookup__r.Name; empty means
	// the lookup is blank and the parent is sent as null.
	SolutionsArchitect string
	// CustomerSubscriptions is the Customer_Subscriptions__r child relationship.
	CustomerSubscriptions []CustomerSubscription
	// ZuoraSubscriptions is the Zuora__Subscriptions__r child relationship.
	ZuoraSubscriptions []ZuoraSubscription
	// SoldTo is the Zuora__R00N40000001kyLcEAI__r child relationship (Zuora
	// customer accounts with their sold-to contact).
	SoldTo []SoldTo
	// SystemModstamp is when a user or automation last changed the
	// account's own fields (its children have their own); the fake sets
	// it on insert and update (see AddAccounts).
	SystemModstamp time.Time
}

// CustomerSubscription is one Customer_Subscriptions__r child record.
type CustomerSubscription struct {
	// Status is Current_Subscription_Status__c ("Active", "Expired", …); the
	// queries return only the active ones.
	Status string
	// EndDate is Current_Term_End_Date__c, normally "YYYY-MM-DD".
	EndDate any
	// StartDate is Current_Term_Start_Date__c, normally "YYYY-MM-DD".
	StartDate any
	// Seats is Entitled_Seats__c, normally a number.
	Seats any
	// Tier is Product_Tier_Name_Short__c ("Ultimate", "Premium", "Starter").
	Tier any
	// Plan is Plan_Name__c.
	Plan any
	// ID is the record Id and SystemModstamp its last change, both set by
	// the fake (see AddAccounts).
	ID             string
	SystemModstamp time.Time
}

// ZuoraSubscription is one Zuora__Subscriptions__r child record.
type ZuoraSubscription struct {
	// Name is Name.
	Name string
	// Status is Zuora__Status__c; the queries return only the active ones.
	Status string
	// EndDate is Zuora__SubscriptionEndDate__c, normally "YYYY-MM-DD".
	EndDate any
	// StartDate is Zuora__SubscriptionStartDate__c, normally "YYYY-MM-DD".
	StartDate any
	// SupportLevel is Support_Level__c ("Premium", "Standard", …).
	SupportLevel any
	// OpportunityName is Zuora__OpportunityName__c.
	OpportunityName any
	// Number is Zuora__SubscriptionNumber__c.
	Number any
	// ID is the record Id and SystemModstamp its last change, both set by
	// the fake (see AddAccounts).
	ID             string
	SystemModstamp time.Time
}

// SoldTo is one Zuora__R00N40000001kyLcEAI__r child record: a Zuora
// customer account and its sold-to work e-mail.
type SoldTo struct {
	// Name is Name.
	Name string
	// Email is Zuora__SoldToWorkEmail__c.
	Email any
	// IsDeleted is IsDeleted; the queries return only records not deleted.
	IsDeleted bool
	// ID is the record Id and SystemModstamp its last change, both set by
	// the fake (see AddAccounts).
	ID             string
	SystemModstamp time.Time
}

// Contact is one Salesforce contact of the fake.
type Contact struct {
	// ID is the record Id; AddContacts assigns one when it is empty.
	ID string
	// Name is Name; empty is sent as null.
	Name string
	// Email is Email; empty is sent as null.
	Email string
	// AccountID is the ID of the contact's account; empty means the contact
	// has no account, and then, as in Salesforce, the federal contacts query
	// does not select it (its Account.Type is null).
	AccountID string
	// Inactive is Inactive_Contact__c.
	Inactive bool
	// BlankAccountID makes the response carry Account.Account_ID_18__c as
	// null although the contact is selected through its account: the closest
	// a query result comes to a contact "with no account". Use it to test
	// the downstream rule that drops such contacts.
	BlankAccountID bool
	// SystemModstamp is the contact's last change, set by the fake on
	// insert and update (see AddContacts).
	SystemModstamp time.Time
}

// Case is one Salesforce case of the fake, as the adapter writes it.
type Case struct {
	ID               string    // Id, 18 characters
	CaseNumber       string    // CaseNumber, assigned by the fake
	Subject          string    // Subject
	Description      string    // Description
	Priority         string    // Priority
	Status           string    // Status; "New" (the picklist default) when not given
	Origin           string    // Origin
	AccountID        string    // AccountId, an existing account's 18-character ID
	SuppliedEmail    string    // SuppliedEmail
	SuppliedName     string    // SuppliedName
	ZendeskTicketID  string    // Zendesk_Ticket_ID__c (text)
	ZendeskTicketURL string    // Zendesk_Ticket_URL__c
	CreatedDate      time.Time // CreatedDate; cases are one second apart from 2025-01-01
}

func clone(a Account) *Account {
	c := a
	c.CustomerSubscriptions = append([]CustomerSubscription(nil), a.CustomerSubscriptions...)
	c.ZuoraSubscriptions = append([]ZuoraSubscription(nil), a.ZuoraSubscriptions...)
	c.SoldTo = append([]SoldTo(nil), a.SoldTo...)
	return &c
}

// eq is SOQL's = on text: case-insensitive, and null equals nothing.
func eq(v, want string) bool { return v != "" && strings.EqualFold(v, want) }

func in(v string, set ...string) bool {
	for _, s := range set {
		if eq(v, s) {
			return true
		}
	}
	return false
}

// MatchesGlobalQuery reports whether the WHERE clause of the global accounts
// query selects a.
func MatchesGlobalQuery(a *Account) bool {
	return (in(a.Type, "Customer", "Former Customer") || eq(a.ID, SpecialAccountID)) ||
		(eq(a.Type, "Partner") &&
			in(a.PartnerStatus, "Authorized", "Former") &&
			in(a.PartnerType, "Alliance", "Channel") &&
			in(a.PartnerTrack, "Open", "Select", "Technology"))
}

// MatchesFederalQuery reports whether the WHERE clause of the federal
// accounts query selects a. SOQL LIKE is case-insensitive; '_' is a wildcard
// only in LIKE, so != 'PUBSEC_' excludes exactly "PUBSEC_".
func MatchesFederalQuery(a *Account) bool {
	if !in(a.Type, "Customer", "Former Customer") {
		return false
	}
	t := strings.ToUpper(a.Territory)
	territory := t != "" && strings.HasPrefix(t, "PUBSEC") && t != "PUBSEC_" && !strings.Contains(t, "SLED")
	return territory || eq(a.SupportInstance, "federal-support")
}

// MatchesFederalContactsQuery reports whether the federal contacts query
// selects c, whose account is a (nil when it has none).
func MatchesFederalContactsQuery(c *Contact, a *Account) bool {
	return !c.Inactive && a != nil && MatchesFederalQuery(a)
}

// caseSafeID returns the 18-character form of a 15-character Salesforce ID:
// the ID followed by three characters encoding which of its letters are
// upper case.
func caseSafeID(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	b := []byte(id15)
	for chunk := 0; chunk < 3; chunk++ {
		flags := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				flags |= 1 << i
			}
		}
		b = append(b, alphabet[flags])
	}
	return string(b)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// makeID builds an 18-character ID from a 3-character key prefix, a
// 1-character namespace, a 5-character seed part and a 6-character counter.
func makeID(prefix string, ns byte, seedPart uint64, n uint64) string {
	b := make([]byte, 0, 18)
	b = append(b, prefix...)
	b = append(b, ns)
	b = appendBase62(b, seedPart, 5)
	b = appendBase62(b, n, 6)
	return caseSafeID(string(b))
}

func appendBase62(b []byte, v uint64, width int) []byte {
	var tmp [11]byte
	for i := width - 1; i >= 0; i-- {
		tmp[i] = base62[v%62]
		v /= 62
	}
	return append(b, tmp[:width]...)
}

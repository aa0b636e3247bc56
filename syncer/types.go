package syncer

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Account is a Salesforce account as the sync sees it. Fields holds the raw
// values of the fields the rules read; Problems lists values that could not
// be understood, per field, without failing the query.
type Account struct {
	ID            string
	Name          string
	Type          string
	Fields        AccountFields
	Subscriptions []Subscription // active customer, then Zuora, subscriptions
	SoldTo        []SoldTo
	Problems      []FieldProblem
}

// Subscription is one active customer or Zuora subscription of an account:
// what the rules read of it.
type Subscription struct {
	Tier    string // Product_Tier_Name_Short__c or Support_Level__c
	EndDate string // YYYY-MM-DD
	// Source names the subscription for people ("Zuora subscription
	// A-S00012345", "customer subscription GitLab Premium"); it is kept
	// only by a read of one account (DecodeAccountSources), for explain.
	Source string
}

// SoldTo is a sold-to contact of a Zuora subscription.
type SoldTo struct {
	Name  string
	Email string
}

// FieldProblem says that a record's field held a value the sync could not
// use; the field is left alone and the problem reported.
type FieldProblem struct {
	Field   string `json:"field"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

// Contact is a Salesforce contact from the federal contacts query.
type Contact struct {
	Name        string
	Email       string
	AccountID   string
	AccountName string
	Inactive    bool
}

// Org is a Zendesk organization. Fields are its organization_fields.
type Org struct {
	ID         int64       `json:"id"`
	Name       string      `json:"name"`
	ExternalID string      `json:"external_id"`
	Tags       []string    `json:"tags"`
	Fields     FieldValues `json:"organization_fields"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// OrgWrite is the payload of an org create or update: only what the sync
// owns. On update, ID is set and only the changed parts are set: Name when
// not empty, Tags when not nil (the full tag list, owned and preserved),
// Fields with only the keys to change.
type OrgWrite struct {
	ID         int64
	ExternalID string
	Name       string
	Tags       []string
	Fields     map[string]any
}

// User is a Zendesk user.
type User struct {
	ID         int64          `json:"id"`
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	OrgID      int64          `json:"organization_id"`
	Role       string         `json:"role"`
	Tags       []string       `json:"tags"`
	Fields     map[string]any `json:"user_fields"`
	ExternalID string         `json:"external_id"`
}

// UserWrite is the payload of a user create or update: only what the sync
// owns. Users are always end-users created without a welcome e-mail.
type UserWrite struct {
	Email string
	Name  string
	OrgID int64
	// Existing: the user exists, so only its name and organization are
	// written (a new user is also marked verified, without an e-mail).
	Existing bool `json:",omitempty"`
}

// Membership is a user's membership of a Zendesk organization (Zendesk's
// organization_memberships). The before-image of a deleted org keeps its
// memberships, so that an undo attaches the users again.
type Membership struct {
	UserID  int64 `json:"user_id"`
	OrgID   int64 `json:"organization_id,omitempty"`
	Default bool  `json:"default,omitempty"`
}

// DeletedOrg is the before-image of an org deletion: the org and the
// memberships it had when it was deleted.
type DeletedOrg struct {
	Org
	Members []Membership `json:"members"`
}

// WriteResult is the outcome of writing one record. ID is the Zendesk ID of
// the record written; Err (an *Error with a code) is set when it failed;
// Exists is set when a create failed because the record already exists.
type WriteResult struct {
	ID     int64
	Err    error
	Exists bool
}

// Ticket is a Zendesk ticket as the case push sees it.
type Ticket struct {
	ID             int64
	Subject        string
	Description    string
	Priority       string
	Status         string
	OrgID          int64
	RequesterID    int64
	RequesterEmail string
	RequesterName  string
	CaseID         string // value of the case-ID custom field
	URL            string // agent URL of the ticket
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Case is a Salesforce case made from a Zendesk ticket.
type Case struct {
	ID          string
	Subject     string
	Description string
	Priority    string
	Status      string
	Origin      string
	AccountID   string
	Email       string
	Name        string
	TicketID    int64
	TicketURL   string
}

// AccountFields holds the raw values of the account fields the rules read
// (the Salesforce fields of OrgFields and the partner fields), keyed by
// their Salesforce API name, parent fields dotted as in
// "Solutions_Architect_Lookup__r.Name". It keeps one slot a field rather
// than a map: a sync holds every account at once, and a map of fifteen
// entries costs about a kilobyte an account.
type AccountFields struct{ values []any }

// accountFieldNames are the fields AccountFields holds, in slot order;
// accountFieldSlot is the inverse.
var accountFieldNames, accountFieldSlot = func() ([]string, map[string]int) {
	var names []string
	for _, m := range OrgFields {
		if m.Salesforce != "" {
			names = append(names, m.Salesforce)
		}
	}
	names = append(names, sfPartnerStatus, sfPartnerType, sfPartnerTrack)
	slot := make(map[string]int, len(names))
	for i, n := range names {
		slot[n] = i
	}
	return names, slot
}()

// Get returns the raw value of the Salesforce field name, nil when it is
// empty or not one the rules read.
func (f AccountFields) Get(name string) any {
	if i, ok := accountFieldSlot[name]; ok && i < len(f.values) {
		return f.values[i]
	}
	return nil
}

// Set sets the raw value of the Salesforce field name. It panics for a
// field the rules do not read: that is a mistake in the code, not in the
// data.
func (f *AccountFields) Set(name string, v any) {
	i, ok := accountFieldSlot[name]
	if !ok {
		panic("syncer: AccountFields.Set of unread field " + name)
	}
	if f.values == nil {
		f.values = make([]any, len(accountFieldNames))
	}
	f.values[i] = v
}

// MarshalJSON renders the fields as an object keyed by Salesforce API name
// (for the plan fingerprint and for people reading a dump).
func (f AccountFields) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(f.values))
	for i, v := range f.values {
		if v != nil {
			m[accountFieldNames[i]] = v
		}
	}
	return json.Marshal(m)
}

// FieldValues are an org's organization_fields: a list sorted by key
// rather than a map, because a sync holds every org at once and a map of a
// dozen fields costs twice the room. In JSON it is an object.
type FieldValues []FieldValue

// FieldValue is one organization field's value.
type FieldValue struct {
	Key   string
	Value any
}

// FieldsOf returns the values of m as FieldValues.
func FieldsOf(m map[string]any) FieldValues {
	f := make(FieldValues, 0, len(m))
	for k, v := range m {
		f = append(f, FieldValue{k, v})
	}
	f.Sort()
	return f
}

// Sort puts values built in any order in key order, as Lookup and Set need.
func (f FieldValues) Sort() {
	slices.SortFunc(f, func(a, b FieldValue) int { return strings.Compare(a.Key, b.Key) })
}

// find returns where the field key is, or would be inserted.
func (f FieldValues) find(key string) (int, bool) {
	return slices.BinarySearchFunc(f, key, func(v FieldValue, k string) int { return strings.Compare(v.Key, k) })
}

// Lookup returns the value of the field key and whether the org has it.
func (f FieldValues) Lookup(key string) (any, bool) {
	i, ok := f.find(key)
	if !ok {
		return nil, false
	}
	return f[i].Value, true
}

// Get returns the value of the field key, nil when the org has none.
func (f FieldValues) Get(key string) any {
	v, _ := f.Lookup(key)
	return v
}

// Set sets the value of the field key.
func (f *FieldValues) Set(key string, v any) {
	i, ok := f.find(key)
	if ok {
		(*f)[i].Value = v
		return
	}
	*f = slices.Insert(*f, i, FieldValue{key, v})
}

// Map returns the values as a map.
func (f FieldValues) Map() map[string]any {
	m := make(map[string]any, len(f))
	for _, v := range f {
		m[v.Key] = v.Value
	}
	return m
}

// MarshalJSON renders the values as an object, as Zendesk does.
func (f FieldValues) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	return json.Marshal(f.Map())
}

// UnmarshalJSON reads an object.
func (f *FieldValues) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		*f = nil
		return nil
	}
	*f = FieldsOf(m)
	return nil
}

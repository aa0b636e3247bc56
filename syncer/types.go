package syncer

import "time"

// Account is a Salesforce account as the sync sees it. Fields holds the raw
// values of the mapped fields keyed by their Salesforce API name (parent
// fields dotted, as in "Solutions_Architect_Lookup__r.Name"); Problems lists
// values that could not be understood, per field, without failing the query.
type Account struct {
	ID                    string
	Name                  string
	Type                  string
	Fields                map[string]any
	CustomerSubscriptions []Subscription
	ZuoraSubscriptions    []Subscription
	SoldTo                []SoldTo
	Problems              []FieldProblem
}

// Subscription is one active customer or Zuora subscription of an account.
type Subscription struct {
	Source    string // "customer" or "zuora"
	Name      string
	Number    string
	Status    string
	Tier      string // Product_Tier_Name_Short__c or Support_Level__c
	Plan      string // Plan_Name__c or Zuora__OpportunityName__c
	StartDate string // YYYY-MM-DD
	EndDate   string // YYYY-MM-DD
	Seats     float64
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
	ID         int64          `json:"id"`
	Name       string         `json:"name"`
	ExternalID string         `json:"external_id"`
	Tags       []string       `json:"tags"`
	Fields     map[string]any `json:"organization_fields"`
	UpdatedAt  time.Time      `json:"updated_at"`
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

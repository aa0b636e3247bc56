package salesforcetest

import (
	"net/http"
	"slices"
	"sort"
)

// childRelationship is one entry of a describe result's childRelationships
// (REST API Developer Guide, "sObject Describe"; the shape a real org
// answers, relationshipName null where the child has no relationship
// name).
type childRelationship struct {
	CascadeDelete       bool     `json:"cascadeDelete"`
	ChildSObject        string   `json:"childSObject"`
	DeprecatedAndHidden bool     `json:"deprecatedAndHidden"`
	Field               string   `json:"field"`
	JunctionIDListNames []string `json:"junctionIdListNames"`
	JunctionReferenceTo []string `json:"junctionReferenceTo"`
	RelationshipName    *string  `json:"relationshipName"`
	RestrictedDelete    bool     `json:"restrictedDelete"`
}

// accountChildren are the child relationships the fake's Account
// describes: those the documented queries read (their child sObjects and
// lookup fields as the fake stores them, lookupFields) among the standard
// ones and a few without a relationship name, sorted by child sObject as
// Salesforce sorts them.
func accountChildren() []childRelationship {
	rel := func(child, field, name string, cascade bool) childRelationship {
		r := childRelationship{CascadeDelete: cascade, ChildSObject: child, Field: field,
			JunctionIDListNames: []string{}, JunctionReferenceTo: []string{}}
		if name != "" {
			r.RelationshipName = &name
		}
		return r
	}
	out := []childRelationship{
		rel("AIInsightValue", "SobjectLookupValueId", "", true),
		rel("Account", "ParentId", "ChildAccounts", false),
		rel("AccountChangeEvent", "ParentId", "", false),
		rel("AccountContactRelation", "AccountId", "AccountContactRelations", true),
		rel("AccountHistory", "AccountId", "Histories", true),
		rel("Asset", "AccountId", "Assets", true),
		rel("Case", "AccountId", "Cases", false),
		rel(objContact, lookupFields[objContact], "Contacts", false),
		rel(objCustomerSubscription, lookupFields[objCustomerSubscription], "Customer_Subscriptions__r", true),
		rel("Opportunity", "AccountId", "Opportunities", false),
		rel("Task", "WhatId", "Tasks", true),
		rel(objSoldTo, lookupFields[objSoldTo], "Zuora__R00N40000001kyLcEAI__r", false),
		rel(objZuoraSubscription, lookupFields[objZuoraSubscription], "Zuora__Subscriptions__r", false),
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ChildSObject < out[j].ChildSObject })
	return out
}

// WithHiddenRelationships makes the fake's describe of Account leave out
// the child relationships with the given names, as Salesforce leaves out
// those of objects the user cannot read.
func WithHiddenRelationships(names ...string) Option {
	return func(s *Server) { s.hidden = append(s.hidden, names...) }
}

// handleDescribe serves GET …/sobjects/Account/describe: the object's
// metadata, of which zdsync reads the child relationships. Other objects
// are not described by the fake.
func (s *Server) handleDescribe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls.Describe++
	s.mu.Unlock()
	if r.PathValue("object") != "Account" {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	field := func(name, typ, label string) map[string]any {
		return map[string]any{"name": name, "type": typ, "label": label, "custom": len(name) > 3 && name[len(name)-3:] == "__c",
			"nillable": name != "Id", "referenceTo": []string{}, "relationshipName": nil}
	}
	var rels []childRelationship
	for _, r := range accountChildren() {
		if r.RelationshipName == nil || !slices.Contains(s.hidden, *r.RelationshipName) {
			rels = append(rels, r)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"actionOverrides": []any{}, "activateable": false, "childRelationships": rels,
		"createable": true, "custom": false, "customSetting": false, "deletable": true,
		"fields": []any{field("Id", "id", "Account ID"), field("Name", "string", "Account Name"),
			field("Type", "picklist", "Account Type"), field("SystemModstamp", "datetime", "System Modstamp"),
			field("Account_ID_18__c", "string", "Account ID 18")},
		"keyPrefix": "001", "label": "Account", "labelPlural": "Accounts", "name": "Account",
		"queryable": true, "retrieveable": true, "searchable": true, "updateable": true,
		"urls": map[string]string{"describe": dataPrefix + "/sobjects/Account/describe", "sobject": dataPrefix + "/sobjects/Account"},
	})
}

package syncer

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

var today = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const acctA = "0014M00001aaaaaAAA"

// testRules are the rules of the tests: the configuration's defaults.
var testRules = Rules{GreatlyExpiredYears: 3, MaxDeletes: 500, ShrinkRatio: 0.9, ApprovalThreshold: 50}

func account(id string, mods ...func(*Account)) Account {
	a := Account{ID: id, Name: "Acme " + id[len(id)-4:], Type: "Customer",
		Subscriptions: []Subscription{{Tier: "Premium", EndDate: "2027-02-01"}, {Tier: "Ultimate", EndDate: "2027-01-01"}},
		SoldTo:        []SoldTo{{Name: "Sam Sold", Email: " Sam@Example.com "}, {Name: "Sam again", Email: "sam@example.com"}},
	}
	for k, v := range map[string]any{
		"Account_ID_18__c":                   id,
		"CARR_This_Account__c":               1200.5,
		"Account_Owner_Calc__c":              "Olive Owner",
		"Type":                               "Customer",
		"Number_of_Licenses_This_Account__c": 25.0,
		"Next_Renewal_Date__c":               "2027-03-01",
		"Restricted_Account__c":              false,
		"Account_Demographics_Geo__c":        "AMER",
	} {
		a.Fields.Set(k, v)
	}
	for _, m := range mods {
		m(&a)
	}
	return a
}

// inSync returns the org a created account would have after the sync.
func inSync(t *testing.T, id int64, a Account) Org {
	t.Helper()
	p := PlanOrgs(Global, []Account{a}, nil, today, testRules)
	if len(p.Changes) == 0 || p.Changes[0].Action != Create {
		t.Fatalf("expected a create, got %+v", p.Changes)
	}
	w := p.Changes[0].Org
	fields := map[string]any{}
	for k, v := range w.Fields {
		fields[k] = v
	}
	tags := slices.DeleteFunc(slices.Clone(w.Tags), func(t string) bool { return t == TagSoldToPending })
	return Org{ID: id, Name: w.Name, ExternalID: w.ExternalID, Tags: tags, Fields: FieldsOf(fields)}
}

func TestDesire(t *testing.T) {
	tests := []struct {
		name  string
		acct  Account
		check func(t *testing.T, d DesiredOrg)
	}{
		{"support level is the highest tier across both kinds of subscription", account(acctA), func(t *testing.T, d DesiredOrg) {
			if d.Fields[FieldSupportLevel] != "ultimate" {
				t.Errorf("support_level = %v", d.Fields[FieldSupportLevel])
			}
			for _, tag := range []string{"sub_ultimate", "sub_premium", "support_level_ultimate"} {
				if !slices.Contains(d.Tags, tag) {
					t.Errorf("missing tag %s in %v", tag, d.Tags)
				}
			}
		}},
		{"expiration is the latest subscription end date", account(acctA), func(t *testing.T, d DesiredOrg) {
			if d.Fields[FieldExpirationDate] != "2027-02-01" {
				t.Errorf("expiration_date = %v", d.Fields[FieldExpirationDate])
			}
		}},
		{"expiration falls back to the next renewal date", account(acctA, func(a *Account) { a.Subscriptions = nil }), func(t *testing.T, d DesiredOrg) {
			if d.Fields[FieldExpirationDate] != "2027-03-01" || d.Fields[FieldSupportLevel] != nil {
				t.Errorf("fields = %v", d.Fields)
			}
		}},
		{"an account expired three years ago is greatly expired", account(acctA, func(a *Account) {
			a.Subscriptions = nil
			a.Fields.Set("Next_Renewal_Date__c", "2023-11-01")
		}), func(t *testing.T, d DesiredOrg) {
			if !d.GreatlyExpired || !slices.Contains(d.Tags, "greatly_expired") || !slices.Contains(d.Tags, "expired") {
				t.Errorf("greatly expired = %v, tags %v", d.GreatlyExpired, d.Tags)
			}
		}},
		{"an account expired two years ago is expired but not greatly", account(acctA, func(a *Account) {
			a.Subscriptions = nil
			a.Fields.Set("Next_Renewal_Date__c", "2024-12-01")
		}), func(t *testing.T, d DesiredOrg) {
			if d.GreatlyExpired || !slices.Contains(d.Tags, "expired") {
				t.Errorf("greatly expired = %v, tags %v", d.GreatlyExpired, d.Tags)
			}
		}},
		{"three calendar years to the day are greatly expired, a day less is not (2024 has a 29 February)", account(acctA, func(a *Account) {
			a.Subscriptions = []Subscription{{Tier: "Premium", EndDate: "2023-11-26"}}
		}), func(t *testing.T, d DesiredOrg) {
			if d.GreatlyExpired || !slices.Contains(d.Tags, "expired") {
				t.Errorf("expired 2023-11-26, today 2026-11-25: greatly expired = %v, tags %v", d.GreatlyExpired, d.Tags)
			}
			a := account(acctA, func(a *Account) { a.Subscriptions = []Subscription{{Tier: "Premium", EndDate: "2023-11-25"}} })
			if d := Desire(Global, a, today, testRules); !d.GreatlyExpired {
				t.Errorf("expired 2023-11-25, today 2026-11-25: not greatly expired, tags %v", d.Tags)
			}
		}},
		{"an evergreen subscription (no end date) never expires, whatever the renewal date", account(acctA, func(a *Account) {
			a.Subscriptions = []Subscription{{Tier: "Premium", EndDate: ""}, {Tier: "Starter", EndDate: "2020-01-01"}}
			a.Fields.Set("Next_Renewal_Date__c", "2021-01-01")
		}), func(t *testing.T, d DesiredOrg) {
			if d.GreatlyExpired || slices.Contains(d.Tags, "expired") || slices.Contains(d.Tags, "greatly_expired") {
				t.Errorf("greatly expired = %v, tags %v", d.GreatlyExpired, d.Tags)
			}
		}},
		{"a restricted picklist value is a checked box", account(acctA, func(a *Account) { a.Fields.Set("Restricted_Account__c", "Restricted Party") }), func(t *testing.T, d DesiredOrg) {
			if d.Fields["restricted_account"] != true {
				t.Errorf("restricted = %v", d.Fields["restricted_account"])
			}
		}},
		{"a value of the wrong type is reported and left out", account(acctA, func(a *Account) { a.Fields.Set("Number_of_Licenses_This_Account__c", map[string]any{"x": 1}) }), func(t *testing.T, d DesiredOrg) {
			if _, ok := d.Fields["number_of_seats"]; ok || len(d.Problems) != 1 {
				t.Errorf("fields %v problems %v", d.Fields, d.Problems)
			}
		}},
		{"partners get partner tags in the global scope", account(acctA, func(a *Account) {
			a.Type = "Partner"
			a.Fields.Set("Partners_Partner_Status__c", "Authorized")
			a.Fields.Set("Partners_Partner_Type__c", "Alliance")
			a.Fields.Set("Partner_Track__c", "Open")
		}), func(t *testing.T, d DesiredOrg) {
			for _, tag := range []string{"partner_authorized", "partner_type_alliance", "partner_track_open"} {
				if !slices.Contains(d.Tags, tag) {
					t.Errorf("missing %s in %v", tag, d.Tags)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, Desire(Global, tt.acct, today, testRules)) })
	}
}

func TestPlanOrgs(t *testing.T) {
	a := account(acctA)
	org := inSync(t, 7, a)
	tests := []struct {
		name  string
		scope Scope
		accts []Account
		orgs  []Org
		check func(t *testing.T, p Plan)
	}{
		{"a new account creates an org and its distinct sold-to users", Global, []Account{a}, nil, func(t *testing.T, p Plan) {
			if p.Count(Create) != 2 || p.Changes[1].Kind != "user" || p.Changes[1].Key != "sam@example.com" || p.Changes[1].Parent != acctA {
				t.Errorf("changes %+v", p.Changes)
			}
		}},
		{"a new org carries sold_to_pending until its users are created", Global, []Account{a}, nil, func(t *testing.T, p Plan) {
			last := p.Changes[len(p.Changes)-1]
			if !slices.Contains(p.Changes[0].Org.Tags, TagSoldToPending) || !last.AfterUsers || slices.Contains(last.Org.Tags, TagSoldToPending) {
				t.Errorf("changes %+v", p.Changes)
			}
		}},
		{"an org left sold_to_pending by a run cut short gets its users and loses the marker", Global, []Account{a},
			[]Org{func() Org { o := org; o.Tags = append(slices.Clone(o.Tags), TagSoldToPending, "vip"); return o }()}, func(t *testing.T, p Plan) {
				if p.Count(Create) != 1 || p.Changes[0].Kind != "user" || p.Changes[0].User.OrgID != 7 || p.Count(Update) != 0 {
					t.Fatalf("changes %+v", p.Changes)
				}
				last := p.Changes[len(p.Changes)-1]
				if !last.AfterUsers || last.ID != 7 || slices.Contains(last.Org.Tags, TagSoldToPending) || !slices.Contains(last.Org.Tags, "vip") {
					t.Errorf("settle %+v", last)
				}
			}},
		{"the federal scope creates no contacts", Federal, []Account{a}, nil, func(t *testing.T, p Plan) {
			if p.Count(Create) != 1 || p.Changes[0].Kind != "org" {
				t.Errorf("changes %+v", p.Changes)
			}
		}},
		{"an org in sync is unchanged", Global, []Account{a}, []Org{org}, func(t *testing.T, p Plan) {
			if len(p.Changes) != 0 || p.Unchanged != 1 {
				t.Errorf("changes %+v unchanged %d", p.Changes, p.Unchanged)
			}
		}},
		{"a tag added by a person survives an update", Global, []Account{account(acctA, func(a *Account) { a.Name = "Renamed" })},
			[]Org{func() Org { o := org; o.Tags = append(slices.Clone(o.Tags), "vip_handled_by_jane"); return o }()}, func(t *testing.T, p Plan) {
				if p.Count(Update) != 1 || p.Changes[0].Org.Name != "Renamed" || p.Changes[0].Org.Tags != nil {
					t.Errorf("update %+v", p.Changes)
				}
			}},
		{"an account twice in the result is planned once", Global, []Account{account(acctA, func(a *Account) { a.Name = "Renamed" }), account(acctA, func(a *Account) { a.Name = "Renamed" })},
			[]Org{org}, func(t *testing.T, p Plan) {
				if len(p.Changes) != 1 || p.Changes[0].Action != Update {
					t.Errorf("changes %+v", p.Changes)
				}
			}},
		{"a stale owned tag is replaced and the person's tag kept", Global, []Account{a},
			[]Org{func() Org { o := org; o.Tags = []string{"sub_starter", "vip"}; return o }()}, func(t *testing.T, p Plan) {
				if p.Count(Update) != 1 {
					t.Fatalf("changes %+v", p.Changes)
				}
				tags := p.Changes[0].Org.Tags
				if !slices.Contains(tags, "vip") || slices.Contains(tags, "sub_starter") || !slices.Contains(tags, "sub_ultimate") {
					t.Errorf("tags %v", tags)
				}
			}},
		{"an unmapped org field is never written", Global, []Account{account(acctA, func(a *Account) { a.Fields.Set("Account_Owner_Calc__c", "New Owner") })},
			[]Org{func() Org {
				o := org
				o.Fields = FieldsOf(map[string]any{"notes_for_agents": "x", "account_owner": "Old"})
				return o
			}()}, func(t *testing.T, p Plan) {
				if p.Count(Update) != 1 {
					t.Fatalf("changes %+v", p.Changes)
				}
				if _, ok := p.Changes[0].Org.Fields["notes_for_agents"]; ok {
					t.Errorf("unmapped field written: %v", p.Changes[0].Org.Fields)
				}
				if p.Changes[0].Org.Fields["account_owner"] != "New Owner" {
					t.Errorf("fields %v", p.Changes[0].Org.Fields)
				}
			}},
		{"numbers and dates in Zendesk's own forms compare equal", Global, []Account{a},
			[]Org{func() Org {
				o := org
				o.Fields = slices.Clone(org.Fields)
				o.Fields.Set("number_of_seats", 25.0)
				o.Fields.Set("aar", "1200.50")
				o.Fields.Set("renewal_date", "2027-03-01T00:00:00+00:00")
				o.Fields.Set("restricted_account", false)
				return o
			}()}, func(t *testing.T, p Plan) {
				if len(p.Changes) != 0 {
					t.Errorf("changes %+v", p.Changes)
				}
			}},
		{"an org without a Salesforce external ID is never touched", Global, []Account{a},
			[]Org{{ID: 9, Name: "Acme 0AAA", ExternalID: "legacy-42"}}, func(t *testing.T, p Plan) {
				if p.Count(Create) != 2 || p.Count(Update) != 0 || p.Count(Delete) != 0 {
					t.Errorf("changes %+v", p.Changes)
				}
			}},
		{"a greatly expired account's org is deleted", Global, []Account{account(acctA, func(a *Account) {
			a.Subscriptions = nil
			a.Fields.Set("Next_Renewal_Date__c", "2020-01-01")
		})}, []Org{org}, func(t *testing.T, p Plan) {
			if p.Count(Delete) != 1 || p.Changes[0].ID != 7 {
				t.Errorf("changes %+v", p.Changes)
			}
		}},
		{"a greatly expired account without an org creates nothing", Global, []Account{account(acctA, func(a *Account) {
			a.Subscriptions = nil
			a.Fields.Set("Next_Renewal_Date__c", "2020-01-01")
		})}, nil, func(t *testing.T, p Plan) {
			if len(p.Changes) != 0 {
				t.Errorf("changes %+v", p.Changes)
			}
		}},
		{"the federal scope never deletes", Federal, []Account{account(acctA, func(a *Account) {
			a.Subscriptions = nil
			a.Fields.Set("Next_Renewal_Date__c", "2020-01-01")
		})}, []Org{org}, func(t *testing.T, p Plan) {
			if p.Count(Delete) != 0 || p.Count(Update) != 1 {
				t.Errorf("changes %+v", p.Changes)
			}
		}},
		{"two orgs with one external ID are skipped, never guessed", Global, []Account{a},
			[]Org{org, func() Org { o := org; o.ID = 8; return o }()}, func(t *testing.T, p Plan) {
				if len(p.Changes) != 1 || p.Changes[0].Action != Skip || !strings.Contains(p.Changes[0].Reason, "7, 8") {
					t.Errorf("changes %+v", p.Changes)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, PlanOrgs(tt.scope, tt.accts, tt.orgs, today, testRules)) })
	}
}

func TestPlanUsers(t *testing.T) {
	const acctB = "0014M00001bbbbbBBB"
	orgs := []Org{{ID: 1, ExternalID: acctA}, {ID: 2, ExternalID: acctB}}
	c := func(name, email, acct string) Contact { return Contact{Name: name, Email: email, AccountID: acct} }
	tests := []struct {
		name     string
		contacts []Contact
		users    []User
		want     map[string]Action // key → action
		reason   string
	}{
		{"a new contact becomes a user of its account's org", []Contact{c("Ann", "ann@x.gov", acctA)}, nil, map[string]Action{"ann@x.gov": Create}, ""},
		{"a contact with no e-mail is dropped", []Contact{c("Ann", "", acctA)}, nil, map[string]Action{"Ann": Skip}, ReasonNoEmail},
		{"a contact with no name is dropped", []Contact{c(" ", "ann@x.gov", acctA)}, nil, map[string]Action{"ann@x.gov": Skip}, ReasonNoName},
		{"a contact with no account is dropped", []Contact{c("Ann", "ann@x.gov", "")}, nil, map[string]Action{"ann@x.gov": Skip}, ReasonNoAccount},
		{"an inactive contact is dropped", []Contact{{Name: "Ann", Email: "ann@x.gov", AccountID: acctA, Inactive: true}}, nil, map[string]Action{"ann@x.gov": Skip}, ReasonInactive},
		{"mixed case and spaces match the existing user", []Contact{c("Ann", "  ANN@X.gov ", acctA)},
			[]User{{ID: 5, Name: "Ann", Email: "ann@x.gov", OrgID: 1, Role: "end-user"}}, map[string]Action{}, ""},
		{"the same e-mail twice on one account is one user", []Contact{c("Ann", "ann@x.gov", acctA), c("Ann B", "Ann@x.gov", acctA)}, nil, map[string]Action{"ann@x.gov": Create}, ""},
		{"an e-mail on two accounts is ambiguous and skipped", []Contact{c("Ann", "ann@x.gov", acctA), c("Ann", "ann@x.gov", acctB)}, nil, map[string]Action{"ann@x.gov": Skip}, acctA + ", " + acctB},
		{"an account without a federal org is skipped", []Contact{c("Ann", "ann@x.gov", "0014M00001cccccCCC")}, nil, map[string]Action{"ann@x.gov": Skip}, ReasonNoOrg},
		{"a renamed contact updates the user", []Contact{c("Ann New", "ann@x.gov", acctA)},
			[]User{{ID: 5, Name: "Ann", Email: "ann@x.gov", OrgID: 1, Role: "end-user"}}, map[string]Action{"ann@x.gov": Update}, ""},
		{"an agent is never changed", []Contact{c("Ann New", "ann@x.gov", acctB)},
			[]User{{ID: 5, Name: "Ann", Email: "ann@x.gov", OrgID: 1, Role: "agent"}}, map[string]Action{"ann@x.gov": Skip}, ReasonNotEndUser},
	}
	t.Run("contacts sharing an e-mail name the user the same whatever their order", func(t *testing.T) {
		ab := PlanUsers([]Contact{c("Bea", "ann@x.gov", acctA), c("Ann", "ann@x.gov", acctA)}, nil, orgs)
		ba := PlanUsers([]Contact{c("Ann", "ann@x.gov", acctA), c("Bea", "ann@x.gov", acctA)}, nil, orgs)
		if len(ab.Changes) != 1 || len(ba.Changes) != 1 || ab.Changes[0].User.Name != "Ann" || ba.Changes[0].User.Name != "Ann" {
			t.Errorf("plans differ with the contacts' order: %+v / %+v", ab.Changes, ba.Changes)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanUsers(tt.contacts, tt.users, orgs)
			got := map[string]Action{}
			for _, ch := range p.Changes {
				if _, dup := got[ch.Key]; dup {
					t.Errorf("two changes for %s", ch.Key)
				}
				got[ch.Key] = ch.Action
				if tt.reason != "" && !strings.Contains(ch.Reason, tt.reason) {
					t.Errorf("reason %q does not mention %q", ch.Reason, tt.reason)
				}
				if ch.Action == Create && ch.User.OrgID != 1 {
					t.Errorf("user attached to org %d", ch.User.OrgID)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("changes %+v, want %v", p.Changes, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

func TestDecodeAccount(t *testing.T) {
	var rec map[string]any
	raw := `{"attributes":{"type":"Account"},"Account_ID_18__c":"0014M00001aaaaaAAA","Name":"Acme","Type":"Customer",
	"CARR_This_Account__c":100,"Restricted_Account__c":"Restricted Party",
	"Solutions_Architect_Lookup__r":{"attributes":{"type":"User"},"Name":"Sol Arch"},
	"Customer_Subscriptions__r":{"totalSize":1,"done":true,"records":[{"Current_Subscription_Status__c":"Active","Product_Tier_Name_Short__c":"Premium","Current_Term_End_Date__c":"2027-01-01","Entitled_Seats__c":10}]},
	"Zuora__Subscriptions__r":null,
	"Zuora__R00N40000001kyLcEAI__r":{"totalSize":1,"done":true,"records":[{"Name":"S","Zuora__SoldToWorkEmail__c":"s@x.com"}]}}`
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	a := DecodeAccount(rec, nil)
	if a.ID != acctA || a.Name != "Acme" || len(a.Subscriptions) != 1 || a.Subscriptions[0] != (Subscription{Tier: "Premium", EndDate: "2027-01-01"}) || len(a.SoldTo) != 1 || a.Fields.Get("Solutions_Architect_Lookup__r.Name") != "Sol Arch" || len(a.Problems) != 0 {
		t.Errorf("decoded %+v", a)
	}
	d := Desire(Federal, a, today, testRules)
	if d.Fields["solutions_architect"] != "Sol Arch" || d.Fields["restricted_account"] != true || d.Fields["aar"] != 100.0 {
		t.Errorf("desired %v", d.Fields)
	}
	if _, ok := d.Fields["org_region"]; ok {
		t.Errorf("federal org got a global field")
	}
}

func FuzzDecodeAccount(f *testing.F) {
	f.Add(`{"Account_ID_18__c":"0014M00001aaaaaAAA","Customer_Subscriptions__r":{"records":[{"Entitled_Seats__c":"x"}]}}`)
	f.Add(`{"Zuora__Subscriptions__r":[1,2],"Solutions_Architect_Lookup__r":"x","Next_Renewal_Date__c":12}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var rec map[string]any
		if json.Unmarshal([]byte(raw), &rec) != nil {
			return
		}
		a := DecodeAccount(rec, nil)
		for _, s := range []Scope{Global, Federal} {
			Desire(s, a, today, testRules)
		}
		DecodeContact(rec)
	})
}

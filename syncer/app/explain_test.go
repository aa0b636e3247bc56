package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// accountID is the 18-character form of a 15-character Salesforce ID.
func accountID(t *testing.T, id15 string) string {
	t.Helper()
	id, err := syncer.NormalizeID(id15)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// job returns the explanation of one job.
func job(t *testing.T, ex *syncer.Explanation, j syncer.Job) syncer.JobExplanation {
	t.Helper()
	for _, je := range ex.Jobs {
		if je.Job == j {
			if je.Error != "" {
				t.Fatalf("%s: %s", j, je.Error)
			}
			return je
		}
	}
	t.Fatalf("no explanation of %s in %+v", j, ex)
	return syncer.JobExplanation{}
}

func value(je syncer.JobExplanation, field string) syncer.FieldExplanation {
	for _, v := range je.Values {
		if v.Field == field {
			return v
		}
	}
	return syncer.FieldExplanation{}
}

func hasNote(je syncer.JobExplanation, part string) bool {
	return slices.ContainsFunc(je.Notes, func(n string) bool { return strings.Contains(n, part) })
}

// TestExplain explains a customer, a partner, a federal account, excluded
// accounts and a greatly expired account kept by a guard, reading live
// from the fake Salesforce (the documented queries with the account's ID,
// and the query conditions by ID) and Zendesk over HTTP, on a real store.
func TestExplain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		sb := startSandbox(t, sandbox.Options{Seed: 5, Accounts: 20, Now: now})
		customer, partner, federal := accountID(t, "001Ex0000000001"), accountID(t, "001Ex0000000002"), accountID(t, "001Ex0000000003")
		prospect, reseller, expired := accountID(t, "001Ex0000000004"), accountID(t, "001Ex0000000005"), accountID(t, "001Ex0000000006")
		sb.Salesforce.AddAccounts(
			salesforcetest.Account{ID: customer, Name: "Explain Customer", Type: "Customer", Owner: "Ann Owner", NextRenewalDate: "2027-01-31",
				ZuoraSubscriptions:    []salesforcetest.ZuoraSubscription{{Name: "A-S00012345", Number: "A-S00012345", Status: "Active", SupportLevel: "Premium", EndDate: "2027-03-31"}},
				CustomerSubscriptions: []salesforcetest.CustomerSubscription{{Status: "Active", Tier: "Starter", EndDate: "2026-12-31", Plan: "GitLab Starter"}}},
			salesforcetest.Account{ID: partner, Name: "Explain Partner", Type: "Partner", PartnerStatus: "Authorized", PartnerType: "Channel", PartnerTrack: "Select",
				NextRenewalDate: "2027-01-31"},
			salesforcetest.Account{ID: federal, Name: "Explain Agency", Type: "Customer", Territory: "PUBSEC_FED", NextRenewalDate: "2027-06-30"},
			salesforcetest.Account{ID: prospect, Name: "Explain Prospect", Type: "Prospect"},
			salesforcetest.Account{ID: reseller, Name: "Explain Reseller", Type: "Partner", PartnerStatus: "Prospect", PartnerType: "Channel", PartnerTrack: "Open"},
			salesforcetest.Account{ID: expired, Name: "Explain Expired", Type: "Former Customer", NextRenewalDate: "2019-01-01"},
		)
		orgID := sb.Global.AddOrg(syncer.Org{Name: "Explain Customer", ExternalID: customer, Fields: syncer.FieldsOf(map[string]any{"account_owner": "Former Owner"})})
		expiredOrg := sb.Global.AddOrg(syncer.Org{Name: "Explain Expired", ExternalID: expired, Tags: []string{"expired", "greatly_expired"}})
		sb.Global.AddTicket(syncer.Ticket{Subject: "Still open", Status: "open", OrgID: expiredOrg})
		c, _ := coreOver(t, sb, d.Open(t))
		c.Runner.Rules.DeleteGrace = 0
		both := []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs}
		writes := sb.Global.WriteCalls() + sb.Federal.WriteCalls()
		queries := sb.Salesforce.Calls().Query

		t.Run("a customer: the subscription that gives its support level, the org now and the diff", func(t *testing.T) {
			ex := c.Explain(ctx, customer, both)
			if ex.Code != syncer.CodeNone || ex.Name != "Explain Customer" {
				t.Fatalf("explain: code %v %q", ex.Code, ex.Message)
			}
			g := job(t, ex, syncer.JobGlobalOrgs)
			if !g.InQuery || !g.Query.Selected || !strings.Contains(g.Query.Decides, "selected as a customer: Type = 'Customer'") {
				t.Errorf("global verdict %v %+v", g.InQuery, g.Query)
			}
			if v := value(g, "support_level"); v.Value != "premium" || !strings.Contains(v.From, "Zuora subscription A-S00012345") || !strings.Contains(v.From, "ending 2027-03-31") {
				t.Errorf("support_level %+v", v)
			}
			if v := value(g, "expiration_date"); v.Value != "2027-03-31" || !strings.Contains(v.From, "A-S00012345") {
				t.Errorf("expiration_date %+v", v)
			}
			if len(g.Orgs) != 1 || g.Orgs[0].ID != orgID || g.InSync {
				t.Errorf("orgs %+v, in sync %v", g.Orgs, g.InSync)
			}
			if !slices.ContainsFunc(g.Next, func(ch syncer.Change) bool {
				return ch.Action == syncer.Update && slices.Contains(ch.Diffs, syncer.FieldDiff{Field: "account_owner", Before: "Former Owner", After: "Ann Owner"})
			}) {
				t.Errorf("next run %+v does not change account_owner Former Owner → Ann Owner", g.Next)
			}
			f := job(t, ex, syncer.JobFederalOrgs)
			if f.InQuery || !strings.Contains(f.Query.Decides, "outside the federal territory") {
				t.Errorf("federal verdict %v %q", f.InQuery, f.Query.Decides)
			}
			var text strings.Builder
			ex.WriteText(&text)
			for _, want := range []string{"global-orgs: in the query", "✓ customer type", "support_level = premium ←", "Zendesk now: org ", "account_owner: Former Owner → Ann Owner"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("the text lacks %q:\n%s", want, text.String())
				}
			}
			byOrg := c.Explain(ctx, fmt.Sprint(orgID), both)
			if byOrg.Code != syncer.CodeNone || byOrg.Account != customer {
				t.Errorf("explain by org ID %d: account %q code %v %q", orgID, byOrg.Account, byOrg.Code, byOrg.Message)
			}
		})
		t.Run("a partner: the partner criteria decide", func(t *testing.T) {
			ex := c.Explain(ctx, partner, both)
			g := job(t, ex, syncer.JobGlobalOrgs)
			if !g.InQuery || !strings.Contains(g.Query.Decides, "selected as a partner: status 'Authorized', type 'Channel', track 'Select'") {
				t.Errorf("global verdict %v %q", g.InQuery, g.Query.Decides)
			}
			if v := value(g, "tags (owned)"); !strings.Contains(v.Value, "partner_authorized") || !strings.Contains(v.From, "partner_") {
				t.Errorf("tags %+v", v)
			}
			if len(g.Orgs) != 0 || !slices.ContainsFunc(g.Next, func(ch syncer.Change) bool { return ch.Action == syncer.Create }) {
				t.Errorf("an account without an org: orgs %+v, next %+v", g.Orgs, g.Next)
			}
			if f := job(t, ex, syncer.JobFederalOrgs); f.InQuery || !strings.Contains(f.Query.Decides, "Type = 'Partner' is not a customer type") {
				t.Errorf("federal verdict %q", f.Query.Decides)
			}
		})
		t.Run("a federal account: the territory decides", func(t *testing.T) {
			ex := c.Explain(ctx, federal, []syncer.Job{syncer.JobFederalOrgs})
			f := job(t, ex, syncer.JobFederalOrgs)
			if !f.InQuery || !strings.Contains(f.Query.Decides, "a customer in the federal territory 'PUBSEC_FED'") || len(ex.Jobs) != 1 {
				t.Errorf("federal verdict %v %q (%d jobs)", f.InQuery, f.Query.Decides, len(ex.Jobs))
			}
		})
		t.Run("excluded accounts: the failing conditions are named, and nothing is planned", func(t *testing.T) {
			ex := c.Explain(ctx, prospect, both)
			g := job(t, ex, syncer.JobGlobalOrgs)
			if g.InQuery || !g.InSync || len(g.Next) != 0 || !strings.Contains(g.Query.Decides, "Type = 'Prospect' is neither a customer type nor Partner") {
				t.Errorf("prospect: %v %v %q", g.InQuery, g.Next, g.Query.Decides)
			}
			g = job(t, c.Explain(ctx, reseller, both), syncer.JobGlobalOrgs)
			if g.InQuery || !strings.Contains(g.Query.Decides, "a partner failing the partner criteria (Partners_Partner_Status__c = 'Prospect')") {
				t.Errorf("reseller: %q", g.Query.Decides)
			}
			if unknown := c.Explain(ctx, accountID(t, "001Ex0000000999"), both); unknown.Message != "no Salesforce account has this ID" {
				t.Errorf("unknown account: %q", unknown.Message)
			}
		})
		t.Run("a greatly expired account kept by a guard", func(t *testing.T) {
			g := job(t, c.Explain(ctx, expired, both), syncer.JobGlobalOrgs)
			if !hasNote(g, "greatly expired since 2022-01-01") || !hasNote(g, fmt.Sprintf("kept while org %d has tickets that are not closed", expiredOrg)) {
				t.Errorf("notes %q", g.Notes)
			}
			if !slices.ContainsFunc(g.Next, func(ch syncer.Change) bool {
				return ch.Action == syncer.Skip && ch.Reason == "not deleted: has tickets that are not closed"
			}) {
				t.Errorf("next run %+v", g.Next)
			}
			c.Runner.Rules.DeleteGrace = sandbox.Rules().DeleteGrace
			defer func() { c.Runner.Rules.DeleteGrace = 0 }()
			g = job(t, c.Explain(ctx, expired, both), syncer.JobGlobalOrgs)
			if !hasNote(g, "the next run tags the org "+syncer.TagPendingDeletion) {
				t.Errorf("with a grace period, notes %q", g.Notes)
			}
		})
		if w := sb.Global.WriteCalls() + sb.Federal.WriteCalls(); w != writes {
			t.Errorf("explain wrote to Zendesk: %d write calls", w-writes)
		}
		if sb.Salesforce.Calls().Query == queries {
			t.Errorf("explain did not read Salesforce live")
		}
		t.Run("after a run, explain shows the account in sync and its last change, by whom", func(t *testing.T) {
			if s := c.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{Account: customer, By: "UWRITER"}}); !s.OK() || s.Updated != 1 {
				t.Fatalf("run: %s (%s)", s.Headline(), s.Message)
			}
			ex := c.Explain(ctx, customer, both)
			if g := job(t, ex, syncer.JobGlobalOrgs); !g.InSync {
				t.Errorf("not in sync after the run: %+v", g.Next)
			}
			if len(ex.Recent) != 1 || ex.Recent[0].By != "UWRITER" || ex.Recent[0].Job != syncer.JobGlobalOrgs ||
				!strings.Contains(syncer.HistoryLine(ex.Recent[0]), "by <@UWRITER>") {
				t.Errorf("recent %+v", ex.Recent)
			}
		})
	})
}

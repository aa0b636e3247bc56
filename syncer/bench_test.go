package syncer_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// ceilDiv is the number of pages or jobs n records need at size per call.
func ceilDiv(n, size int) int { return (n + size - 1) / size }

// minimumCalls is the fewest Zendesk calls a run with this plan needs:
// the listing pages, one bulk job per 100 records of each kind plus one
// status poll per job, one ticket check per deletion candidate, and one
// membership listing per deletion (its before-image).
func minimumCalls(listed int, s *syncer.Summary) int {
	perKind := map[string]int{}
	candidates := 0
	for _, c := range s.Changes {
		switch {
		case c.Action == syncer.Skip && len(c.Reason) > 12 && c.Reason[:12] == "not deleted:":
			candidates++
		case c.Action != syncer.Skip:
			perKind[c.Kind+string(c.Action)]++
			if c.Action == syncer.Delete {
				candidates += 2
			}
		}
	}
	calls := ceilDiv(max(listed, 1), 100) + candidates
	for _, n := range perKind {
		calls += 2 * ceilDiv(n, 100)
	}
	return calls
}

// BenchmarkGlobalOrgs10k syncs 10,000 accounts through the sandboxes and
// reports Zendesk API calls made over the minimum the job needs.
func BenchmarkGlobalOrgs10k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, sandbox.Options{Seed: 1, Accounts: 10000})
		e.r.Rules.MaxDeletes, e.r.Rules.ApprovalThreshold = 10000, 10000 // no limit: the generator expires ~5%
		listed := len(e.sb.Global.Orgs())
		plan := e.run(b, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
		before := e.sb.Global.TotalCalls()
		b.StartTimer()
		s := e.run(b, syncer.JobGlobalOrgs, syncer.Options{})
		b.StopTimer()
		if !s.OK() {
			b.Fatalf("run failed: %s", s.Message)
		}
		calls := e.sb.Global.TotalCalls() - before
		b.ReportMetric(float64(calls)/float64(minimumCalls(listed, plan)), "calls/min")
		b.ReportMetric(float64(calls), "zendesk-calls")
		b.ReportMetric(float64(s.Created+s.Updated+s.Deleted), "changes")
		again := e.sb.Global.WriteCalls()
		e.run(b, syncer.JobGlobalOrgs, syncer.Options{})
		b.ReportMetric(float64(e.sb.Global.WriteCalls()-again), "writes-2nd-run")
		b.StartTimer()
	}
}

// BenchmarkFederalUsers20k syncs about 20,000 federal contacts and reports
// Zendesk API calls over the minimum.
func BenchmarkFederalUsers20k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, sandbox.Options{Seed: 1, Accounts: 10, FederalAccounts: 11000})
		if s := e.run(b, syncer.JobFederalOrgs, syncer.Options{}); !s.OK() {
			b.Fatalf("federal-orgs: %s", s.Message)
		}
		orgs, users := len(e.sb.Federal.Orgs()), len(e.sb.Federal.Users())
		plan := e.run(b, syncer.JobFederalUsers, syncer.Options{DryRun: true})
		before := e.sb.Federal.TotalCalls()
		b.StartTimer()
		s := e.run(b, syncer.JobFederalUsers, syncer.Options{})
		b.StopTimer()
		if !s.OK() {
			b.Fatalf("run failed: %s", s.Message)
		}
		calls := e.sb.Federal.TotalCalls() - before
		min := minimumCalls(orgs, plan) + ceilDiv(users, 100)
		b.ReportMetric(float64(calls)/float64(min), "calls/min")
		b.ReportMetric(float64(s.Fetched), "contacts")
		b.StartTimer()
	}
}

// BenchmarkPlan100k measures planning 100,000 accounts against 100,000
// orgs (2% of them stale): time per plan and memory.
func BenchmarkPlan100k(b *testing.B) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	raw := salesforcetest.Generate(1, 100000, salesforcetest.GenerateOptions{Now: now})
	accounts := make([]syncer.Account, 0, len(raw))
	for _, a := range raw {
		accounts = append(accounts, fromFake(a))
	}
	orgs := make([]syncer.Org, 0, len(accounts))
	for i, a := range accounts {
		d := syncer.Desire(syncer.Global, a, now, sandbox.Rules())
		fields := map[string]any{}
		for k, v := range d.Fields {
			if v != nil {
				fields[k] = v
			}
		}
		if i%50 == 0 {
			fields["account_owner"] = "Someone Else"
		}
		orgs = append(orgs, syncer.Org{ID: int64(i + 1), Name: d.Name, ExternalID: a.ID, Tags: d.Tags, Fields: syncer.FieldsOf(fields)})
	}
	runtime.GC()
	var ms runtime.MemStats
	b.ReportAllocs()
	for b.Loop() {
		p := syncer.PlanOrgs(syncer.Global, accounts, orgs, now, sandbox.Rules())
		if p.Count(syncer.Update) < 1000 {
			b.Fatalf("plan has %d updates", p.Count(syncer.Update))
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

// fromFake turns a fake account into a domain account the way the adapter
// would (via its JSON record), without HTTP.
func fromFake(a salesforcetest.Account) syncer.Account {
	rec := map[string]any{"Account_ID_18__c": a.ID, "Name": a.Name, "Type": a.Type,
		"CARR_This_Account__c": a.CARR, "Account_Owner_Calc__c": a.Owner, "Number_of_Licenses_This_Account__c": a.Licenses,
		"Technical_Account_Manager_Name__c": a.TAM, "Account_Demographics_Geo__c": a.Geo, "GS_Health_Score_Color__c": a.HealthScore,
		"Next_Renewal_Date__c": a.NextRenewalDate, "Restricted_Account__c": a.Restricted,
		"Ultimate_Parent_Sales_Segment_Employees__c": a.Employees}
	var subs []any
	for _, s := range a.CustomerSubscriptions {
		if s.Status == "Active" {
			subs = append(subs, map[string]any{"Current_Subscription_Status__c": s.Status, "Current_Term_End_Date__c": s.EndDate, "Product_Tier_Name_Short__c": s.Tier})
		}
	}
	if subs != nil {
		rec["Customer_Subscriptions__r"] = map[string]any{"records": subs}
	}
	return syncer.DecodeAccount(rec, nil)
}

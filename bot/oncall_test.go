package bot_test

import (
	"fmt"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

const sampleAccount = "0014M00001aaaaaAAA"

// sampleExplanation is an explanation of a greatly expired customer kept
// by a guard, with n changes for the next run.
func sampleExplanation(n int) *syncer.Explanation {
	global := syncer.JobExplanation{Job: syncer.JobGlobalOrgs, InQuery: true,
		Query: syncer.QueryVerdict{Selected: true, Decides: "selected as a customer: Type = 'Former Customer'", Conditions: []syncer.Condition{
			{Name: "customer type", SOQL: "Account.Type IN ('Customer', 'Former Customer')", Holds: true, Values: "Type = 'Former Customer'"},
			{Name: "partner", SOQL: "Account.Type = 'Partner'", Values: "Type = 'Former Customer'"},
		}},
		Values: []syncer.FieldExplanation{
			{Field: "support_level", Value: "premium", From: "the highest tier among the active subscriptions: Zuora subscription A-S00012345 (tier \"Premium\", ending 2021-03-31)"},
			{Field: "expiration_date", Value: "2021-03-31", From: "the latest end date of the active subscriptions: Zuora subscription A-S00012345"},
		},
		Notes: []string{"greatly expired since 2024-03-31 (expired 2021-03-31, 3 years before)", "kept while org 1001 has tickets that are not closed"},
		Orgs:  []syncer.Org{{ID: 1001, Name: "Acme & Co", ExternalID: sampleAccount, Tags: []string{"greatly_expired", "vip"}, Fields: syncer.FieldsOf(map[string]any{"support_level": "premium"})}},
	}
	for i := range n {
		global.Next = append(global.Next, syncer.Change{Action: syncer.Update, Kind: "org", Key: sampleAccount, Name: "Acme & Co", ID: 1001,
			Diffs: []syncer.FieldDiff{{Field: fmt.Sprintf("field_%d", i), Before: "old", After: "new"}}})
	}
	federal := syncer.JobExplanation{Job: syncer.JobFederalOrgs, InSync: true,
		Query: syncer.QueryVerdict{Decides: "not selected: a customer outside the federal territory (Account_Demographics_Territory__c = 'AMER_ENT')"}}
	return &syncer.Explanation{Account: sampleAccount, Name: "Acme & Co", At: epoch, Jobs: []syncer.JobExplanation{global, federal},
		Recent: sampleEntries(3)}
}

func sampleEntries(n int) []syncer.HistoryEntry {
	var out []syncer.HistoryEntry
	for i := range n {
		out = append(out, syncer.HistoryEntry{RunID: fmt.Sprintf("20250301T09%02d00-abcdef", i%60), Job: syncer.JobGlobalOrgs, By: syncer.BySchedule,
			AppliedChange: syncer.AppliedChange{At: epoch.Add(time.Duration(i) * time.Hour), Change: syncer.Change{Action: syncer.Update, Kind: "org",
				Key: sampleAccount, Name: "Acme & Co", Diffs: []syncer.FieldDiff{{Field: "account_owner", Before: "Ann", After: "Bob"}}}}})
	}
	return out
}

// sampleHistory is the history of a run with n changes, undone once.
func sampleHistory(n int) *syncer.History {
	run := &syncer.Summary{RunID: "20250301T090000-abcdef", Job: syncer.JobGlobalOrgs, StartedAt: epoch, By: "UWRITER", Updated: n}
	return &syncer.History{Subject: syncer.Subject{Kind: syncer.SubjectRun, Value: run.RunID}, Run: run,
		UndoneBy: []string{"20250301T100000-fedcba"}, Changes: sampleEntries(n),
		Commands: []syncer.CommandRecord{{At: epoch, User: "UWRITER", Command: "undo", Args: run.RunID, Outcome: "ok"}}}
}

// sampleUndoPlan is a stored undo plan of n changes, one of them stale.
func sampleUndoPlan(n int) *syncer.StoredPlan {
	p := &syncer.StoredPlan{ID: "plan-9", Job: syncer.JobGlobalOrgs, CreatedAt: epoch, ExpiresAt: epoch.Add(30 * time.Minute), CreatedBy: writer,
		UndoOf: "20250301T090000-abcdef"}
	for i := range n {
		c := syncer.Change{Action: syncer.Update, Kind: "org", Key: fmt.Sprintf("0015g%013d", i), Name: fmt.Sprintf("Org %d", i), ID: int64(1000 + i),
			Diffs: []syncer.FieldDiff{{Field: "account_owner", Before: "Bob", After: "Ann"}}, Reason: "undo of run " + p.UndoOf}
		if i == 0 {
			c = syncer.Change{Action: syncer.Skip, Kind: "org", Key: c.Key, Name: c.Name, SkipCode: syncer.CodePlanStale,
				Reason: "not reverted: account_owner is Cleo now, run " + p.UndoOf + " wrote Bob"}
		}
		p.Changes = append(p.Changes, c)
	}
	return p
}

package bot_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares v, as indented JSON, with testdata/name.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file; run go test ./bot -update and review the diff.\ngot:\n%s", path, got)
	}
}

func blockKitJSON(t *testing.T, m bot.Message) []byte {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"text": m.Text, "blocks": m.Blocks}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func manyChanges(n int) []syncer.Change {
	var cs []syncer.Change
	for i := range n {
		c := syncer.Change{Action: syncer.Update, Kind: "org", Key: fmt.Sprintf("0015g%013d", i), Name: fmt.Sprintf("Org %d & Sons <Ltd>", i), ID: int64(i + 1),
			Diffs: []syncer.FieldDiff{{Field: "support_level", Before: "gold", After: "platinum"}, {Field: "renewal_date", Before: "", After: "2026-01-31"}}}
		switch i % 4 {
		case 1:
			c.Action, c.Diffs = syncer.Create, nil
		case 2:
			c.Action, c.Diffs, c.Reason = syncer.Delete, nil, "greatly expired: "+strings.Repeat("x", 500)
		case 3:
			c.Action, c.Diffs, c.Reason = syncer.Skip, nil, "no 18-character external_id"
		}
		cs = append(cs, c)
	}
	return cs
}

func manyErrors(n int, code syncer.Code) []syncer.RecordError {
	var es []syncer.RecordError
	for i := range n {
		es = append(es, syncer.RecordError{Code: code, Name: code.Info().Name, Record: fmt.Sprint(4000 + i), Message: strings.Repeat("refused ", 30)})
	}
	return es
}

// messages returns every kind of message the bot renders, for inputs of n
// changes.
func messages(n int) map[string]bot.Message {
	changed := &syncer.Summary{RunID: "run-42", Job: syncer.JobGlobalOrgs, StartedAt: epoch, FinishedAt: epoch.Add(83 * time.Second),
		DurationMS: 83400, Fetched: 5000, Created: n / 4, Updated: n - 3*(n/4), Deleted: n / 4, Skipped: n / 4, Unchanged: 4200, APICalls: 61,
		Changes: manyChanges(n),
		Errors:  append(manyErrors(2, syncer.CodeItemFailed), syncer.RecordError{Code: syncer.CodeNoCaseID, Name: "No case ID to update", Record: "991"}),
		Notices: []string{"Zendesk refused POST /users/create_many.json (Data imports are not enabled), so the users were written one at a time with POST /users.json, one API call each, under the rate limit. Ask Zendesk Customer Support to enable bulk user imports (README, \"Zendesk account settings\")."}}
	failed := &syncer.Summary{RunID: "run-43", Job: syncer.JobGlobalOrgs, StartedAt: epoch, DurationMS: 30000,
		Code: syncer.CodeConnectionFailed, Message: "connect to Salesforce: connection refused", Errors: manyErrors(n, syncer.CodeConnectionFailed)}
	casePush := &syncer.Summary{RunID: "run-44", Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Message: "UNABLE_TO_LOCK_ROW after 4 attempts",
		Errors: manyErrors(max(1, n/1000), syncer.CodeUnableToLockRow)}
	incremental := &syncer.Summary{RunID: "run-48", Job: syncer.JobGlobalOrgs, StartedAt: epoch.Add(-5 * time.Minute), Updated: 1, Unchanged: 2,
		Changes: manyChanges(1), Incremental: &syncer.IncrementalRun{Since: epoch.Add(-7 * time.Minute), Changed: 4, New: 3, SalesforceCalls: 2, ZendeskCalls: 3}}
	digest, _ := bot.RenderDigest(epoch, epoch.Add(time.Hour), []syncer.Summary{*incremental, *changed, {RunID: "run-49", Job: syncer.JobFederalUsers,
		Created: 1, Changes: []syncer.Change{{Action: syncer.Create, Kind: "user", Key: "pat@agency.example", Name: "Pat Lee"}}}})
	plan := samplePlan("plan-7", syncer.JobFederalUsers, syncer.Create, n)
	approval := samplePlan("plan-8", syncer.JobGlobalOrgs, syncer.Delete, n)
	status := syncer.Status{
		Jobs: []syncer.JobStatus{
			{Job: syncer.JobGlobalOrgs, Schedule: "0 * * * *", NextRun: epoch.Add(time.Hour), LastRun: changed,
				Incremental: &syncer.IncrementalStatus{Schedule: "* * * * *", Caught: epoch.Add(-40 * time.Second), Freshness: 40 * time.Second,
					Tally: syncer.Tally{Since: epoch, Runs: 58, SalesforceCalls: 60, ZendeskCalls: 4}, Retrying: 1, LastRun: incremental}},
			{Job: syncer.JobFederalOrgs, Schedule: "0 * * * *", NextRun: epoch.Add(time.Hour), Incremental: &syncer.IncrementalStatus{Schedule: "* * * * *"}},
			{Job: syncer.JobFederalUsers, Schedule: "0 * * * *", NextRun: epoch.Add(time.Hour)},
			{Job: syncer.JobCaseSweep, Schedule: "off"},
		},
		FailedPushes: []syncer.FailedPush{{TicketID: 4521, Code: syncer.CodeOpenTimeout, Message: "timeout", At: epoch}},
		OpenAlerts:   []syncer.OpenAlert{{Job: syncer.JobGlobalOrgs, Code: syncer.CodeConnectionFailed, Count: 3, FirstAt: epoch}},
		Allowance:    &syncer.APIAllowance{Max: 100000, Remaining: 61250},
		Reserve:      0.1,
		Deletions:    []syncer.PendingDeletion{{Account: sampleAccount, OrgID: 1001, Name: "Acme & Co", Since: epoch, DeleteAfter: epoch.Add(7 * 24 * time.Hour)}},
	}
	for range n / 10 {
		status.FailedPushes = append(status.FailedPushes, status.FailedPushes[0])
	}
	view := bot.AlertView{Job: syncer.JobGlobalOrgs, Code: syncer.CodeConnectionFailed, Count: 3, FirstAt: epoch, LastAt: epoch.Add(2 * time.Hour), Latest: failed}
	resolved := view
	resolved.ResolvedAt, resolved.ResolvedBy = epoch.Add(3*time.Hour), "run-45"
	return map[string]bot.Message{
		"summary":        bot.RenderSummary(changed),
		"summary_quiet":  bot.RenderSummary(&syncer.Summary{RunID: "run-46", Job: syncer.JobFederalOrgs, Unchanged: 300, DurationMS: 900}),
		"summary_failed": bot.RenderSummary(failed),
		"alert":          bot.RenderAlert(view),
		"alert_reply":    bot.RenderAlertReply(view),
		"alert_resolved": bot.RenderAlert(resolved),
		"alert_case":     bot.RenderAlert(bot.AlertView{Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Count: 1, FirstAt: epoch, LastAt: epoch, Latest: casePush}),
		"preview":        bot.RenderPreview(plan, &syncer.Summary{Job: syncer.JobFederalUsers, DryRun: true, Errors: manyErrors(2, syncer.CodeItemFailed)}),
		"approval":       bot.RenderApproval(approval, changed),
		"quiet":          bot.RenderQuiet([]bot.QuietRun{{Job: syncer.JobGlobalOrgs, Last: epoch, Count: 5}, {Job: syncer.JobCaseSweep, Last: epoch, Count: 1, Silent: 2}}),
		"status":         bot.RenderStatus(status),
		"digest":         digest,
		"reply_help":     bot.RenderReply(commands.Reply{Kind: commands.KindText, Text: commands.Help()}),
		"reply_usage":    bot.RenderReply(commands.Reply{Kind: commands.KindUsage, Text: "\"12345\" is not a Salesforce ID (15 or 18 letters and digits) — usage: /zdsync account <SFID> [global|federal] [--dry-run]"}),
		"reply_denied":   bot.RenderReply(commands.Reply{Kind: commands.KindDenied, Text: "Sorry, run changes Zendesk or Salesforce and is allowed only to the users and groups in SLACK_WRITERS."}),
		"reply_error":    bot.RenderReply(commands.Reply{Kind: commands.KindError, Code: syncer.CodePlanStale, Text: "Failed (code 11: PlanStale): plan expired"}),
		"reply_applied":  bot.RenderReply(commands.Reply{Kind: commands.KindSummary, Command: commands.ActionApply, Text: "Plan plan-7 applied by <@UWRITER>: federal-users: 3 created", Summary: &syncer.Summary{RunID: "run-47", Job: syncer.JobFederalUsers, Created: 3, PlanID: "plan-7"}}),
		"summary_pending": bot.RenderSummary(&syncer.Summary{RunID: "run-48", Job: syncer.JobGlobalOrgs, Updated: 1, DurationMS: 900,
			Pending: []syncer.PendingDeletion{{Account: sampleAccount, OrgID: 1001, Name: "Acme & Co", Since: epoch, DeleteAfter: epoch.Add(7 * 24 * time.Hour), New: true}}}),
		"explain":      bot.RenderReply(commands.Reply{Kind: commands.KindExplain, Explanation: sampleExplanation(n)}),
		"history":      bot.RenderReply(commands.Reply{Kind: commands.KindHistory, History: sampleHistory(n)}),
		"undo_preview": bot.RenderReply(commands.Reply{Kind: commands.KindPreview, Plan: sampleUndoPlan(n)}),
	}
}

func TestRenderedMessagesMatchGoldenFiles(t *testing.T) {
	for name, m := range messages(25) {
		t.Run(name, func(t *testing.T) {
			if err := bot.CheckLimits(m); err != nil {
				t.Errorf("exceeds Slack's limits: %v", err)
			}
			golden(t, name+".json", blockKitJSON(t, m))
			golden(t, name+".txt", []byte(bot.Text(m)))
		})
	}
}

func TestNoMessageExceedsSlackLimitsFor10000Changes(t *testing.T) {
	for name, m := range messages(10000) {
		t.Run(name, func(t *testing.T) {
			if err := bot.CheckLimits(m); err != nil {
				t.Fatal(err)
			}
			if len(m.Blocks) > bot.MaxBlocks {
				t.Fatalf("%d blocks", len(m.Blocks))
			}
			b, err := json.Marshal(m.Blocks)
			if err != nil {
				t.Fatal(err)
			}
			// Anything long was cut and the whole list attached.
			if (strings.Contains(string(b), "more (all in the attached CSV)") || strings.Contains(string(b), "more (all in the attached text)")) && m.CSV == nil {
				t.Errorf("a list was cut but no file is attached")
			}
		})
	}
	m := bot.RenderSummary(&syncer.Summary{Job: syncer.JobGlobalOrgs, Changes: manyChanges(10000)})
	if m.CSV == nil || strings.Count(string(m.CSV.Content), "\n") < 10000 {
		t.Errorf("the CSV of 10,000 changes is missing rows")
	}
}

func TestCheckLimitsCatchesOversizedMessages(t *testing.T) {
	var blocks []slack.Block
	for range bot.MaxBlocks + 1 {
		blocks = append(blocks, slack.NewDividerBlock())
	}
	if bot.CheckLimits(bot.Message{Blocks: blocks}) == nil {
		t.Error("51 blocks passed")
	}
	long := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", bot.MaxSectionText+1), false, false), nil, nil)
	if bot.CheckLimits(bot.Message{Blocks: []slack.Block{long}}) == nil {
		t.Error("a 3001-character section passed")
	}
}

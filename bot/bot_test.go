package bot_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

func TestSlashCommandsEndToEnd(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, user, text string
		// want is a substring of the answer's text; call the service
		// call expected ("" for none).
		want, call   string
		responseType string
		outcome      string
	}{
		{"help lists the commands", reader, "help", "/zdsync case retry &lt;ticket-id&gt;", "", "ephemeral", commands.OutcomeOK},
		{"status shows the jobs", reader, "status", "zdsync status", "status", "ephemeral", commands.OutcomeOK},
		{"a writer resyncs one account", writer, "account 0015g00000ABCDEAA5", "1 updated", "account 0015g00000ABCDEAA5 global dry=false by=UWRITER", "in_channel", commands.OutcomeOK},
		{"an on-call group member resyncs a federal account", oncall, "account 0015g00000ABCDEAA5 federal", "1 updated", "account 0015g00000ABCDEAA5 federal dry=false by=UONCALL", "in_channel", commands.OutcomeOK},
		{"a reader may dry-run an account", reader, "account 0015g00000ABCDEAA5 --dry-run", "1 to update", "account 0015g00000ABCDEAA5 global dry=true by=UREADER", "ephemeral", commands.OutcomeOK},
		{"a bad account ID gets a one-line usage", writer, "account 12345", "usage: /zdsync account", "", "ephemeral", commands.OutcomeUsage},
		{"a reader is refused a writing command", reader, "account 0015g00000ABCDEAA5", "allowed only to the users and groups in SLACK_WRITERS", "", "ephemeral", commands.OutcomeDenied},
		{"a writer retries a case push", writer, "case retry 4521", "case 500Dn000001XYZ", "retry 4521 by=UWRITER", "in_channel", commands.OutcomeOK},
		{"a reader is refused a case retry", reader, "case retry 4521", "Sorry", "", "ephemeral", commands.OutcomeDenied},
		{"a bad ticket ID gets a usage", writer, "case retry abc", "not a ticket ID", "", "ephemeral", commands.OutcomeUsage},
		{"a writer runs a job", writer, "run global-orgs", "global-orgs: 1 updated", "run global-orgs dry=false by=UWRITER", "in_channel", commands.OutcomeOK},
		{"a reader dry-runs a job", reader, "run federal-orgs --dry-run", "federal-orgs (dry run): 1 to update", "run federal-orgs dry=true by=UREADER", "ephemeral", commands.OutcomeOK},
		{"an unknown job gets a usage", writer, "run everything", "unknown job", "", "ephemeral", commands.OutcomeUsage},
		{"a reader is refused a run", reader, "run global-orgs", "Sorry", "", "ephemeral", commands.OutcomeDenied},
		{"anyone may preview federal users", reader, "federal-users preview", "Preview of federal-users", "preview by=UREADER", "in_channel", commands.OutcomeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := len(h.svc.Calls())
			audits := len(h.audit.Records())
			ack, r := h.command(t, tt.user, tt.text)
			if !strings.Contains(string(ack.Body), bot.WorkingText) {
				t.Errorf("ack payload = %s, want %q", ack.Body, bot.WorkingText)
			}
			if !strings.Contains(r.Text+string(r.Blocks), tt.want) {
				t.Errorf("answer = %q %s, want it to contain %q", r.Text, r.Blocks, tt.want)
			}
			if r.ResponseType != tt.responseType {
				t.Errorf("response_type = %q, want %q", r.ResponseType, tt.responseType)
			}
			got := h.svc.Calls()[calls:]
			if tt.call == "" && len(got) > 0 || tt.call != "" && !slices.Equal(got, []string{tt.call}) {
				t.Errorf("service calls = %q, want %q", got, tt.call)
			}
			recs := h.audit.Records()
			if len(recs) != audits+1 {
				t.Fatalf("audit records = %d, want %d", len(recs), audits+1)
			}
			if rec := recs[audits]; rec.User != tt.user || rec.Outcome != tt.outcome {
				t.Errorf("audit = %+v, want user %s outcome %s", rec, tt.user, tt.outcome)
			}
		})
	}
}

func TestAckArrivesBeforeTheWorkIsDone(t *testing.T) {
	h := newHarness(t)
	gate := make(chan struct{})
	h.svc.Hold(gate)
	x, err := h.srv.SendSlashCommand(h.ctx, slacktest.SlashCommand{User: writer, Text: "run global-orgs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Ack(h.ctx); err != nil {
		t.Fatal(err)
	}
	// The work is held at the gate: acked, not answered.
	for _, e := range h.srv.Events() {
		if e.Kind == "response" && e.URL == x.ResponseURL {
			t.Fatal("answered before the work finished")
		}
	}
	close(gate)
	rs, err := x.Responses(h.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := decode(t, rs[0]); !strings.Contains(r.Text, "global-orgs: 1 updated") {
		t.Errorf("answer = %q", r.Text)
	}
}

// messageOf turns a response_url answer into the message a button is
// pressed on.
func messageOf(r response) slacktest.Message {
	return slacktest.Message{Channel: "CCMD", TS: "1700000000.900000", Text: r.Text, Blocks: r.Blocks}
}

func TestPreviewIsAppliedByButton(t *testing.T) {
	h := newHarness(t)
	_, r := h.command(t, reader, "federal-users preview")
	btns := slacktest.Buttons(r.Blocks)
	if len(btns) != 2 || btns[0].Text != "Apply" || btns[1].Text != "Discard" || btns[0].Value != "plan-fed" {
		t.Fatalf("buttons = %+v, want Apply and Discard of plan-fed", btns)
	}
	// The 25 changes are cut at 10, with the full list attached as CSV.
	if !strings.Contains(string(r.Blocks), "and 15 more") {
		t.Errorf("preview does not say how many more: %s", r.Blocks)
	}
	if _, err := h.srv.WaitCalls(h.ctx, "files.completeUploadExternal", 1); err != nil {
		t.Fatal(err)
	}
	files := h.srv.Files()
	if len(files) != 1 || !files[0].Done || strings.Count(string(files[0].Content), "\n") != 26 {
		t.Fatalf("CSV = %+v", files)
	}

	// A reader may not apply it: refused, nothing replaced.
	_, denied := h.press(t, reader, commands.ActionApply, messageOf(r))
	if denied.ReplaceOriginal || !strings.Contains(denied.Text, "Sorry") {
		t.Errorf("reader's Apply = %+v, want an ephemeral refusal", denied)
	}
	// A writer applies it: the message is replaced with the outcome.
	_, applied := h.press(t, writer, commands.ActionApply, messageOf(r))
	if !applied.ReplaceOriginal || !strings.Contains(applied.Text, "Plan plan-fed applied by <@UWRITER>") {
		t.Errorf("writer's Apply = %+v, want the message replaced by the outcome", applied)
	}
	if len(slacktest.Buttons(applied.Blocks)) != 0 {
		t.Errorf("the applied message still has buttons")
	}
	if got := h.svc.Calls(); !slices.Contains(got, "apply plan-fed by=UWRITER") || slices.Contains(got, "apply plan-fed by=UREADER") {
		t.Errorf("service calls = %q", got)
	}
}

func TestMassDeletionApprovals(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	run := &syncer.Summary{RunID: "run-77", Job: syncer.JobGlobalOrgs, Updated: 3}
	for _, id := range []string{"plan-del-1", "plan-del-2"} {
		if err := n.RequestApproval(h.ctx, samplePlan(id, syncer.JobGlobalOrgs, syncer.Delete, 73), run); err != nil {
			t.Fatal(err)
		}
	}
	msgs := h.srv.Messages("CALERT")
	if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "73 deletions need approval") {
		t.Fatalf("approval messages = %+v", msgs)
	}
	if files := h.srv.Files(); len(files) != 2 || files[0].ThreadTS != msgs[0].TS {
		t.Fatalf("approval CSVs = %+v, want one in each thread", files)
	}
	_, applied := h.press(t, oncall, commands.ActionApply, msgs[0])
	if !applied.ReplaceOriginal || !strings.Contains(applied.Text, "applied by <@UONCALL>") {
		t.Errorf("Apply = %+v", applied)
	}
	_, discarded := h.press(t, writer, commands.ActionDiscard, msgs[1])
	if !discarded.ReplaceOriginal || !strings.Contains(discarded.Text, "Plan plan-del-2 discarded by <@UWRITER>") {
		t.Errorf("Discard = %+v", discarded)
	}
	want := []string{"apply plan-del-1 by=UONCALL", "discard plan-del-2 by=UWRITER"}
	if got := h.svc.Calls(); !slices.Equal(got, want) {
		t.Errorf("service calls = %q, want %q", got, want)
	}
	// The bot itself may never approve.
	h.srv.BotUserID = "UBOT"
	_, botPress := h.press(t, "UBOT", commands.ActionApply, msgs[1])
	if !strings.Contains(botPress.Text, "cannot approve") {
		t.Errorf("bot's own press = %+v", botPress)
	}
}

func failing(runID string, code syncer.Code) *syncer.Summary {
	return &syncer.Summary{RunID: runID, Job: syncer.JobGlobalOrgs, StartedAt: epoch, FinishedAt: epoch.Add(time.Second),
		Code: code, Message: "dial tcp 10.0.0.1:443: connect: connection refused",
		Errors: []syncer.RecordError{{Code: code, Name: code.Info().Name, Record: "0015g00000ABCDEAA5", Message: "connection refused"}}}
}

func TestAlertsAreGroupedAndResolved(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	for i, id := range []string{"run-1", "run-2", "run-3"} {
		s := failing(id, syncer.CodeConnectionFailed)
		s.FinishedAt = epoch.Add(time.Duration(i) * time.Hour)
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	alerts := h.srv.Messages("CALERT")
	if len(alerts) != 3 {
		t.Fatalf("alert channel holds %d messages, want 1 alert and 2 thread replies", len(alerts))
	}
	top := alerts[0]
	if top.ThreadTS != "" || alerts[1].ThreadTS != top.TS || alerts[2].ThreadTS != top.TS {
		t.Fatalf("replies are not in the alert's thread: %+v", alerts)
	}
	if top.Updates != 2 || !strings.Contains(string(top.Blocks), "failed 3 times") {
		t.Errorf("alert updates = %d, blocks %s; want the count 3", top.Updates, top.Blocks)
	}
	for _, want := range []string{"code 4 ConnectionFailed", "Runbook", "run-3", "0015g00000ABCDEAA5", "Run again"} {
		if !strings.Contains(string(top.Blocks), want) {
			t.Errorf("alert lacks %q: %s", want, top.Blocks)
		}
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != 1 || open[0].Count != 3 {
		t.Fatalf("open alerts = %+v", open)
	}
	if got := len(h.srv.Messages("CSUMMARY")); got != 3 {
		t.Errorf("summary channel holds %d messages, want a summary of each failed run", got)
	}

	// A silent code never alerts.
	silent := &syncer.Summary{RunID: "run-s", Job: syncer.JobCaseSweep, Errors: []syncer.RecordError{{Code: syncer.CodeNoCaseID, Record: "77"}}}
	if err := n.Notify(h.ctx, silent); err != nil {
		t.Fatal(err)
	}
	if got := len(h.srv.Messages("CALERT")); got != 3 {
		t.Errorf("a silent code alerted")
	}

	// The next successful run resolves it, in place.
	ok := sampleSummary(syncer.JobGlobalOrgs)
	ok.RunID = "run-4"
	if err := n.Notify(h.ctx, ok); err != nil {
		t.Fatal(err)
	}
	top = h.srv.Messages("CALERT")[0]
	if top.Updates != 3 || !strings.Contains(string(top.Blocks), "Resolved") || len(slacktest.Buttons(top.Blocks)) != 0 {
		t.Errorf("alert after success: updates %d, blocks %s", top.Updates, top.Blocks)
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != 0 {
		t.Errorf("open alerts after success = %+v", open)
	}
	// A new failure opens a new alert.
	if err := n.Notify(h.ctx, failing("run-5", syncer.CodeConnectionFailed)); err != nil {
		t.Fatal(err)
	}
	if msgs := h.srv.Messages("CALERT"); len(msgs) != 4 || msgs[3].ThreadTS != "" {
		t.Errorf("a failure after resolution did not open a new alert")
	}
}

// Someone deletes an open alert in Slack: the next failure of the same kind
// posts the alert again, with the count so far, and adopts it, instead of
// replying to and editing a message nobody can see; the next success
// resolves the new one.
func TestDeletedAlertIsPostedAgain(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	if err := n.Notify(h.ctx, failing("run-1", syncer.CodeConnectionFailed)); err != nil {
		t.Fatal(err)
	}
	first := h.srv.Messages("CALERT")[0]
	if !h.srv.DeleteMessage("CALERT", first.TS) {
		t.Fatal("the alert was not there to delete")
	}
	if err := n.Notify(h.ctx, failing("run-2", syncer.CodeConnectionFailed)); err != nil {
		t.Fatalf("a repeat of a deleted alert: %v", err)
	}
	var tops []slacktest.Message
	for _, m := range h.srv.Messages("CALERT") {
		if m.ThreadTS == "" {
			tops = append(tops, m)
		}
	}
	if len(tops) != 1 || tops[0].TS == first.TS || !strings.Contains(string(tops[0].Blocks), "failed 2 times") {
		t.Fatalf("alerts in the channel after the deletion: %+v", tops)
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != 1 || open[0].TS != tops[0].TS || open[0].Count != 2 {
		t.Fatalf("open alerts = %+v, want the new message adopted with count 2", open)
	}
	if err := n.Notify(h.ctx, sampleSummary(syncer.JobGlobalOrgs)); err != nil {
		t.Fatal(err)
	}
	resolved := false
	for _, m := range h.srv.Messages("CALERT") {
		resolved = resolved || m.TS == tops[0].TS && strings.Contains(string(m.Blocks), "Resolved")
	}
	if !resolved {
		t.Errorf("the new alert was not resolved: %+v", h.srv.Messages("CALERT"))
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != 0 {
		t.Errorf("open alerts after success = %+v", open)
	}
}

// Quiet runs edit one status message, at most once a StatusEditInterval:
// runs in between only count, and the next edit (by a later run, or by
// FlushStatus, which serve calls from Notifier.Run) shows them all.
func TestQuietRunsEditOneMessage(t *testing.T) {
	h := newHarness(t)
	now := epoch
	n := h.notifierAt(t, func() time.Time { return now })
	quiet := func(job syncer.Job, created, hour int) {
		t.Helper()
		s := &syncer.Summary{RunID: "q", Job: job, Created: created, Unchanged: 120, FinishedAt: epoch.Add(time.Duration(hour) * time.Hour)}
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	quiet(syncer.JobGlobalOrgs, 0, 0)
	for i := range 20 { // a burst of case pushes, each one a ticket
		now = now.Add(time.Second)
		quiet(syncer.JobCases, 1, 1)
		if i == 0 {
			quiet(syncer.JobGlobalOrgs, 0, 2)
		}
	}
	msgs := h.srv.Messages("CSUMMARY")
	if len(msgs) != 1 || msgs[0].Updates != 0 {
		t.Fatalf("summary channel = %+v, want one message, not edited within the interval", msgs)
	}
	if err := n.FlushStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.srv.Messages("CSUMMARY")[0].Updates; got != 0 {
		t.Fatalf("edited %d times within %v of its post", got, bot.StatusEditInterval)
	}
	now = epoch.Add(bot.StatusEditInterval)
	if err := n.FlushStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	msgs = h.srv.Messages("CSUMMARY")
	if len(msgs) != 1 || msgs[0].Updates != 1 {
		t.Fatalf("summary channel = %+v, want the one message edited once", msgs)
	}
	for _, want := range []string{"`global-orgs` last quiet run 2025-03-01 11:00 UTC, 2 quiet runs in a row",
		"`cases` last quiet run 2025-03-01 10:00 UTC, 20 quiet runs in a row"} {
		if !strings.Contains(string(msgs[0].Blocks), want) {
			t.Errorf("quiet message lacks %q: %s", want, msgs[0].Blocks)
		}
	}
	// Nothing new: no edit, however much later.
	now = now.Add(time.Hour)
	if err := n.FlushStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.srv.Messages("CSUMMARY")[0].Updates; got != 1 {
		t.Errorf("edited %d times with nothing new to show", got)
	}
	// A run that changes something ends its job's quiet runs, and posts
	// its summary.
	quiet(syncer.JobGlobalOrgs, 1, 3)
	now = now.Add(bot.StatusEditInterval)
	if err := n.FlushStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	msgs = h.srv.Messages("CSUMMARY")
	if len(msgs) != 2 || strings.Contains(string(msgs[0].Blocks), "global-orgs") || msgs[0].Updates != 2 {
		t.Errorf("after a run that changed something: %d messages, status message %s", len(msgs), msgs[0].Blocks)
	}
	if got := len(h.srv.Calls(bot.MethodUpdate)); got != 2 {
		t.Errorf("%d chat.update calls, want 2", got)
	}
}

func TestRunAgainAndRetryAnswerInTheAlertThread(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	if err := n.Notify(h.ctx, failing("run-1", syncer.CodeOpenTimeout)); err != nil {
		t.Fatal(err)
	}
	caseFail := &syncer.Summary{RunID: "run-c", Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Message: "row locked",
		Errors: []syncer.RecordError{{Code: syncer.CodeUnableToLockRow, Record: "ticket 4521", Message: "UNABLE_TO_LOCK_ROW"}}}
	if err := n.Notify(h.ctx, caseFail); err != nil {
		t.Fatal(err)
	}
	alerts := h.srv.Messages("CALERT")
	if len(alerts) != 2 {
		t.Fatalf("alerts = %d", len(alerts))
	}
	// A reader's press is refused.
	_, denied := h.press(t, reader, commands.ActionRunAgain, alerts[0])
	if !strings.Contains(denied.Text, "Sorry") {
		t.Errorf("reader's Run again = %+v", denied)
	}
	for i, p := range []struct{ action, call string }{
		{commands.ActionRunAgain, "run global-orgs dry=false by=UWRITER"},
		{commands.ActionRetry + ":4521", "retry 4521 by=UWRITER"},
	} {
		if _, err := h.srv.PressButton(h.ctx, slacktest.ButtonPress{User: writer, ActionID: p.action, Message: alerts[i]}); err != nil {
			t.Fatal(err)
		}
		msgs, err := h.srv.WaitMessages(h.ctx, "CALERT", 3+i)
		if err != nil {
			t.Fatal(err)
		}
		reply := msgs[len(msgs)-1]
		if reply.ThreadTS != alerts[i].TS {
			t.Errorf("%s answered outside the alert's thread: %+v", p.action, reply)
		}
		if got := h.svc.Calls(); got[len(got)-1] != p.call {
			t.Errorf("service calls = %q, want last %q", got, p.call)
		}
	}
}

func TestBotReconnectsOnItsOwn(t *testing.T) {
	h := newHarness(t)
	if err := h.srv.Disconnect(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.WaitConnected(h.ctx, 2); err != nil {
		t.Fatal(err)
	}
	_, r := h.command(t, reader, "help")
	if !strings.Contains(r.Text, "Commands") {
		t.Errorf("help after reconnecting = %q", r.Text)
	}
}

func TestResponsesStayWithinSlackLimits(t *testing.T) {
	h := newHarness(t)
	_, r := h.command(t, reader, "status")
	var blocks []json.RawMessage
	if err := json.Unmarshal(r.Blocks, &blocks); err != nil || len(blocks) == 0 || len(blocks) > bot.MaxBlocks {
		t.Errorf("status blocks = %d (%v)", len(blocks), err)
	}
}

// A Socket Mode envelope can arrive again, with the same envelope_id and
// retry_attempt/retry_reason set, when Slack did not count the first ack
// (a connection refreshed before it arrived, a late ack). The redelivery
// is acknowledged again, and the command or press is not run twice.
func TestRedeliveredEnvelopeRunsOnce(t *testing.T) {
	tests := []struct {
		name string
		// send sends the envelope and waits for its answer.
		send func(t *testing.T, h *harness) *slacktest.Exchange
		// call is the one service call; responses the posts to the
		// response_url of one run.
		call      string
		responses int
	}{
		{"a redelivered slash command runs once", func(t *testing.T, h *harness) *slacktest.Exchange {
			x, err := h.srv.SendSlashCommand(h.ctx, slacktest.SlashCommand{User: writer, Text: "run global-orgs"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x.Responses(h.ctx, 1); err != nil {
				t.Fatal(err)
			}
			return x
		}, "run global-orgs dry=false by=UWRITER", 1},
		{"a redelivered Apply press applies once", func(t *testing.T, h *harness) *slacktest.Exchange {
			n := h.notifier(t)
			if err := n.RequestApproval(h.ctx, samplePlan("plan-del", syncer.JobGlobalOrgs, syncer.Delete, 3), &syncer.Summary{RunID: "run-1"}); err != nil {
				t.Fatal(err)
			}
			x, _ := h.press(t, writer, commands.ActionApply, h.srv.Messages("CALERT")[0])
			return x
		}, "apply plan-del by=UWRITER", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			x := tt.send(t, h)
			for _, reason := range []string{"timeout", "timeout"} {
				if err := x.Redeliver(h.ctx, reason); err != nil {
					t.Fatal(err)
				}
			}
			acks, err := x.Acks(h.ctx, 3)
			if err != nil {
				t.Fatalf("the redeliveries were not acknowledged: %v", err)
			}
			if !bytes.Equal(acks[2].Body, acks[0].Body) {
				t.Errorf("ack of the redelivery = %s, want the first ack's %s", acks[2].Body, acks[0].Body)
			}
			h.stop() // every command's work is done
			if got := h.svc.Calls(); !slices.Equal(got, []string{tt.call}) {
				t.Errorf("service calls = %q, want %q once", got, tt.call)
			}
			var posts int
			for _, e := range h.srv.Events() {
				if e.Kind == "response" && e.URL == x.ResponseURL {
					posts++
				}
			}
			if posts != tt.responses {
				t.Errorf("response_url used %d times, want %d", posts, tt.responses)
			}
			if got := len(h.audit.Records()); got != 1 {
				t.Errorf("audit records = %d, want 1", got)
			}
		})
	}
}

// Scheduled runs skipped for Salesforce's API reserve raise one alert,
// grouped like the others (no summary for runs that did nothing), and the
// job's next successful run resolves it.
func TestAPIReserveSkipsAlertOnce(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	for i := range 3 {
		s := &syncer.Summary{RunID: fmt.Sprintf("run-%d", i), Job: syncer.JobGlobalOrgs, StartedAt: epoch, FinishedAt: epoch.Add(time.Duration(i) * time.Hour),
			Code: syncer.CodeAPIReserve, Message: "Salesforce API allowance below the reserve: 900 of 15000 daily requests left"}
		s.Errors = []syncer.RecordError{{Code: s.Code, Name: s.Code.Info().Name, Message: s.Message}}
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	alerts := h.srv.Messages("CALERT")
	if len(alerts) != 3 || alerts[1].ThreadTS != alerts[0].TS || alerts[2].ThreadTS != alerts[0].TS {
		t.Fatalf("alert channel = %+v, want one alert and two replies in its thread", alerts)
	}
	if !strings.Contains(string(alerts[0].Blocks), "code 19 APIReserve") {
		t.Errorf("alert %s", alerts[0].Blocks)
	}
	if got := len(h.srv.Messages("CSUMMARY")); got != 0 {
		t.Errorf("summary channel holds %d messages for runs that were skipped", got)
	}
	ok := &syncer.Summary{RunID: "run-ok", Job: syncer.JobGlobalOrgs, StartedAt: epoch, FinishedAt: epoch.Add(4 * time.Hour), Unchanged: 10}
	if err := n.Notify(h.ctx, ok); err != nil {
		t.Fatal(err)
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != 0 {
		t.Errorf("open alerts after the runs resumed: %+v", open)
	}
}

// A case sweep reports each ticket it skips once, so a sweep with
// warnings posts its summary, warnings listed; the next sweep, with none,
// is quiet again. A full run's warnings recur every run: without changes
// they stay out of the summary channel, and its history shows them.
func TestSweepWarningsArePostedOnce(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	bad := syncer.RecordError{Code: syncer.CodeBadResponse, Name: "BadFieldValue", Record: "ticket 4521",
		Message: `the case ID field holds "N/A", which is not a Salesforce ID: the ticket is skipped (correct or clear the field)`}
	runs := []*syncer.Summary{
		{RunID: "sweep-1", Job: syncer.JobCaseSweep, Fetched: 40, Warnings: []syncer.RecordError{bad}},
		{RunID: "sweep-2", Job: syncer.JobCaseSweep, Fetched: 40},
		{RunID: "orgs-1", Job: syncer.JobGlobalOrgs, Fetched: 40, Unchanged: 40,
			Warnings: []syncer.RecordError{{Code: syncer.CodeBadResponse, Record: "001A", Message: "support_level = \"gold\": not a level"}}},
	}
	for _, s := range runs {
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var posted []string
	for _, m := range h.srv.Messages("CSUMMARY") {
		if strings.Contains(string(m.Blocks), "Warnings") {
			posted = append(posted, string(m.Blocks))
		}
	}
	if len(posted) != 1 || !strings.Contains(posted[0], "ticket 4521") || !strings.Contains(posted[0], "N/A") ||
		!strings.Contains(posted[0], "case-sweep: already in sync, 1 warning(s)") {
		t.Errorf("summaries with warnings = %q, want the first sweep's only, naming ticket 4521", posted)
	}
	if len(h.srv.Messages("CALERT")) != 0 {
		t.Errorf("warnings raised an alert: %+v", h.srv.Messages("CALERT"))
	}
	m := bot.RenderHistory(&syncer.History{Subject: syncer.Subject{Kind: syncer.SubjectRun, Value: "orgs-1"}, Run: runs[2]})
	if b, _ := json.Marshal(m.Blocks); !strings.Contains(string(b), "Warnings of the run") || !strings.Contains(string(b), "001A") {
		t.Errorf("history of the run does not show its warning: %s", b)
	}
}

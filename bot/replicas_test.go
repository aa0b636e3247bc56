package bot_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// Slack redelivers an envelope whose ack it did not count to any of the
// app's connections: to another replica. Each replica acknowledges it,
// and the command runs once in all, through the envelopes remembered in
// the shared database.
func TestRedeliveryOnAnotherReplicaRunsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		h := newHarness(t, d.Open(t))
		_, stopB := h.startBot(t, d.Open(t)) // a second replica, its own connection to the database
		if err := h.srv.WaitOpen(h.ctx, 2); err != nil {
			t.Fatal(err)
		}
		x, err := h.srv.SendSlashCommand(h.ctx, slacktest.SlashCommand{User: writer, Text: "run global-orgs"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Responses(h.ctx, 1); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := x.Redeliver(h.ctx, "timeout"); err != nil {
				t.Fatal(err)
			}
		}
		acks, err := x.Acks(h.ctx, 3)
		if err != nil {
			t.Fatalf("the redeliveries were not acknowledged: %v", err)
		}
		if acks[0].Conn == acks[1].Conn && acks[1].Conn == acks[2].Conn {
			t.Fatalf("every delivery went to connection %d: the test proves nothing", acks[0].Conn)
		}
		h.stop()
		stopB()
		if got := h.svc.Calls(); !slices.Equal(got, []string{"run global-orgs dry=false by=UWRITER"}) {
			t.Errorf("service calls = %q, want one run", got)
		}
		if got := len(h.audit.Records()); got != 1 {
			t.Errorf("audit records = %d, want 1", got)
		}
	})
}

// More alerts than Slack's short burst, at once: the fake Slack answers
// 429 beyond its limit, the pacer waits each Retry-After out, and every
// alert arrives.
func TestAlertsArriveThroughRateLimits(t *testing.T) {
	h := newHarness(t)
	h.srv.SetRateLimit(bot.MethodPostMessage, slacktest.RateLimit{PerMinute: slacktest.PostMessagesPerMinute, Burst: 1, PerChannel: true})
	n := h.notifier(t)
	jobs := []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCaseSweep}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, job := range jobs {
		wg.Go(func() {
			s := failing(fmt.Sprint("run-", i), syncer.CodeConnectionFailed)
			s.Job = job
			errs[i] = n.Notify(h.ctx, s)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("notify %s: %v", jobs[i], err)
		}
	}
	var alerted []string
	for _, m := range h.srv.Messages("CALERT") {
		alerted = append(alerted, m.Text)
	}
	for _, job := range jobs {
		if !slices.ContainsFunc(alerted, func(s string) bool { return strings.Contains(s, string(job)+" failed") }) {
			t.Errorf("no alert of %s among %q", job, alerted)
		}
	}
	if len(h.srv.RateLimited(bot.MethodPostMessage)) == 0 {
		t.Error("Slack never answered 429: the test proves nothing")
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != len(jobs) {
		t.Errorf("%d open alerts, want %d", len(open), len(jobs))
	}
}

// An Apply that does not apply the plan (another press applied it first,
// it expired, it is unknown) answers the presser alone and leaves the
// plan's message with its buttons.
func TestRefusedApplyAnswersOnlyThePresser(t *testing.T) {
	h := newHarness(t)
	answer := h.svc.Answer
	h.svc.Answer = func(req syncer.Request) *syncer.Summary {
		if req.PlanID == "plan-fed" {
			return &syncer.Summary{Job: syncer.JobFederalUsers, PlanID: req.PlanID, Code: syncer.CodePlanStale, Refused: true,
				Message: "plan plan-fed was already applied by <@UONCALL> at 2025-03-01 09:01:00 UTC (run r-1); nothing applied again"}
		}
		return answer(req)
	}
	_, preview := h.command(t, reader, "federal-users preview")
	x, r := h.press(t, writer, commands.ActionApply, messageOf(preview))
	if r.ResponseType != "ephemeral" || r.ReplaceOriginal {
		t.Errorf("answer = %+v, want ephemeral, not replacing the preview", r)
	}
	if !strings.Contains(r.Text, "already applied by <@UONCALL> at 2025-03-01 09:01:00 UTC") {
		t.Errorf("answer text = %q", r.Text)
	}
	h.stop()
	if n := len(h.srv.Messages("")); n != 0 {
		t.Errorf("%d messages posted for a refused Apply", n)
	}
	for _, e := range h.srv.Events() {
		if e.Kind == "response" && e.URL == x.ResponseURL && strings.Contains(string(e.Body), `"replace_original":true`) {
			t.Errorf("the preview was rewritten: %s", e.Body)
		}
	}
}

// Whatever a user types is shown as typed: escaped for mrkdwn in the
// message's text as in its blocks, and the command echo's code span is
// never broken.
func TestUserValuesAreEscaped(t *testing.T) {
	h := newHarness(t)
	ack, _ := h.command(t, writer, "run <!channel> `x` & <https://evil.example|click>")
	var echo struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(ack.Body, &echo); err != nil {
		t.Fatal(err)
	}
	if strings.Count(echo.Text, "`") != 2 || strings.ContainsAny(echo.Text, "<>") ||
		!strings.Contains(echo.Text, "&lt;!channel&gt; ˋxˋ &amp; &lt;https://evil.example|click&gt;") {
		t.Errorf("ack echo = %q, want one unbroken code span, the text escaped", echo.Text)
	}
	_, r := h.command(t, writer, "run x<!channel>&<https://evil.example|click>")
	for where, text := range map[string]string{"text": r.Text, "blocks": string(r.Blocks)} {
		if strings.Contains(text, "<!channel>") || strings.Contains(text, "<https://evil") || strings.Contains(text, `\u003c!channel`) {
			t.Errorf("the reply's %s carries the user's markup unescaped: %s", where, text)
		}
	}
	if !strings.Contains(r.Text, "x&lt;!channel&gt;&amp;&lt;https://evil.example|click&gt;") {
		t.Errorf("reply text = %q, want the typed value escaped", r.Text)
	}
}

func TestPacerIsSharedByBotAndNotifier(t *testing.T) {
	h := newHarness(t)
	if h.bot.Pacer() == nil {
		t.Fatal("the bot has no pacer")
	}
	// The bot's own posts (an answer in an alert's thread) and the
	// notifier's go through the one pacer: together they stay within the
	// fake's limits, so Slack never answers 429.
	n := h.notifier(t)
	for i := range 3 {
		if err := n.Notify(h.ctx, failing(fmt.Sprint("run-", i), syncer.CodeOpenTimeout)); err != nil {
			t.Fatal(err)
		}
	}
	alert := h.srv.Messages("CALERT")[0]
	for range 2 {
		if _, err := h.srv.PressButton(h.ctx, slacktest.ButtonPress{User: writer, ActionID: commands.ActionRunAgain, Message: alert}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.srv.WaitMessages(h.ctx, "CALERT", 5); err != nil {
		t.Fatal(err)
	}
	if n := len(h.srv.RateLimited(bot.MethodPostMessage)) + len(h.srv.RateLimited(bot.MethodUpdate)); n != 0 {
		t.Errorf("%d calls answered 429", n)
	}
}

// A burst of failing case pushes of one code: one alert, and its repeats
// only count until AlertRepeatInterval has passed; then one reply says how
// many there were, and the alert shows the count. The burst costs a few
// Slack calls, not two a push.
func TestAlertRepeatsInABurstCountWithoutPostingEachOne(t *testing.T) {
	h := newHarness(t)
	now := epoch
	n := h.notifierAt(t, func() time.Time { return now })
	fail := func(i int) {
		t.Helper()
		s := &syncer.Summary{RunID: fmt.Sprint("run-", i), Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Message: "row locked",
			FinishedAt: epoch.Add(time.Duration(i) * time.Second),
			Errors:     []syncer.RecordError{{Code: syncer.CodeUnableToLockRow, Record: fmt.Sprint("ticket ", 100+i), Message: "UNABLE_TO_LOCK_ROW"}}}
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		now = epoch.Add(time.Duration(i) * time.Second)
		fail(i)
	}
	if got := len(h.srv.Messages("CALERT")); got != 1 {
		t.Fatalf("%d messages in the alert channel during the burst, want the alert alone", got)
	}
	if err := n.FlushAlerts(h.ctx); err != nil { // still within the interval: nothing
		t.Fatal(err)
	}
	if got := len(h.srv.Messages("CALERT")); got != 1 {
		t.Fatalf("%d messages before the interval passed", got)
	}
	now = epoch.Add(bot.AlertRepeatInterval)
	if err := n.FlushAlerts(h.ctx); err != nil {
		t.Fatal(err)
	}
	msgs := h.srv.Messages("CALERT")
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS || !strings.Contains(msgs[1].Text, "30 times now") {
		t.Fatalf("after the interval: %+v, want one reply in the thread with the count", msgs)
	}
	if msgs[0].Updates != 1 || !strings.Contains(string(msgs[0].Blocks), "failed 30 times") {
		t.Errorf("alert edited %d times: %s", msgs[0].Updates, msgs[0].Blocks)
	}
	if open, _ := h.db.OpenAlerts(h.ctx); len(open) != 1 || open[0].Count != 30 {
		t.Errorf("open alerts = %+v, want one counting 30", open)
	}
	// Nothing new: no more replies.
	now = now.Add(time.Hour)
	if err := n.FlushAlerts(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(h.srv.Messages("CALERT")); got != 2 {
		t.Errorf("%d messages after a flush with nothing new", got)
	}
}

// Replicas failing alike at once (case pushes failing on each of them):
// one alert, and its count is every failure, none lost to another
// replica's write.
func TestAlertCountsEveryReplicasRepeats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		h := newHarness(t)
		var replicas []*bot.Notifier
		for range 3 {
			h.db = d.Open(t) // each replica its own connection to the database
			replicas = append(replicas, h.notifierAt(t, func() time.Time { return epoch }))
		}
		fail := func(n *bot.Notifier, run string) {
			s := &syncer.Summary{RunID: run, Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Message: "row locked",
				Errors: []syncer.RecordError{{Code: syncer.CodeUnableToLockRow, Record: "ticket " + run, Message: "UNABLE_TO_LOCK_ROW"}}}
			if err := n.Notify(h.ctx, s); err != nil {
				t.Error(err)
			}
		}
		fail(replicas[0], "first")
		const each = 10
		var wg sync.WaitGroup
		for r, n := range replicas {
			for i := range each {
				wg.Go(func() { fail(n, fmt.Sprintf("run-%d-%d", r, i)) })
			}
		}
		wg.Wait()
		open, err := h.db.OpenAlerts(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + len(replicas)*each; len(open) != 1 || open[0].Count != want {
			t.Errorf("open alerts = %+v, want one counting %d", open, want)
		}
		// Each replica replies in the thread at most once an
		// AlertRepeatInterval: the one that posted the alert not at all.
		msgs := h.srv.Messages("CALERT")
		replies := 0
		for _, m := range msgs[1:] {
			if m.ThreadTS != msgs[0].TS {
				t.Errorf("a second alert: %+v", m)
			}
			replies++
		}
		if replies > len(replicas)-1 {
			t.Errorf("%d replies in the alert's thread, want at most one per other replica", replies)
		}
	})
}

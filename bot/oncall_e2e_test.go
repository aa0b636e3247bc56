package bot_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store/storetest"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

func noSleep(context.Context, time.Duration) error { return nil }

// TestOnCallCommandsOverSlack drives explain, history and undo through the
// fake Slack, the real application core, the fakes of Salesforce and
// Zendesk over HTTP and a real store: history spans a scheduled run and a
// run a writer started with a slash command; undo is for writers only, and
// so are its buttons; everything is audited with who did it.
func TestOnCallCommandsOverSlack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Database) {
		ctx := context.Background()
		sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 3, Accounts: 150, Now: epoch})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sb.Close)
		sf, err := salesforce.New(ctx, sb.SalesforceConfig())
		if err != nil {
			t.Fatal(err)
		}
		zd := func(s *zendesktest.Server) *zendesk.Client {
			c, err := zendesk.New(zendesk.Config{URL: s.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
				Sleep: noSleep, RequestsPerMinute: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		db := d.Open(t)
		rules := sandbox.Rules()
		rules.DeleteGrace = 0
		core := &app.Core{Store: db, Runner: &syncer.Runner{Salesforce: sf, Global: zd(sb.Global), Federal: zd(sb.Federal), Store: db,
			Rules: rules, PlanTTL: 30 * time.Minute, Now: func() time.Time { return epoch }}}
		h := newHarnessOver(t, core, db)

		run := core.Run(ctx, syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{By: syncer.BySchedule}})
		if !run.OK() || run.Updated == 0 || run.Deleted == 0 {
			t.Fatalf("scheduled run: %s (%s)", run.Headline(), run.Message)
		}
		var key string
		for _, ch := range run.Changes {
			if ch.Action == syncer.Update && ch.Kind == "org" && !ch.AfterUsers {
				key = ch.Key
				break
			}
		}
		org, _ := orgOf(sb, key)
		ownerBefore := org.Fields.Get("account_owner")
		sb.Salesforce.UpdateAccount(key, func(a *salesforcetest.Account) { a.Owner = "Owner Changed In Salesforce" })
		if _, r := h.command(t, writer, "account "+key); !strings.Contains(r.Text, "1 updated") {
			t.Fatalf("account %s by a writer: %q", key, r.Text)
		}
		runs, err := db.ListRuns(ctx, syncer.JobGlobalOrgs, 0)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(runs, func(s syncer.Summary) bool { return s.Account == key && s.By == writer })
		if i < 0 {
			t.Fatalf("the writer's run of account %s is not stored (%d runs)", key, len(runs))
		}
		slashRun := runs[i].RunID

		_, hist := h.command(t, reader, "history "+key)
		if !strings.Contains(hist.Text, "History of account "+key+": 2 change(s)") {
			t.Errorf("history text %q", hist.Text)
		}
		blocks := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(hist.Blocks))
		for _, want := range []string{"(global-orgs, by the schedule)", "(global-orgs, by <@UWRITER>)", "account_owner:", "Owner Changed In Salesforce",
			"<@UWRITER> ran account " + key} {
			if !strings.Contains(blocks, want) {
				t.Errorf("history lacks %q: %s", want, hist.Blocks)
			}
		}
		if _, ex := h.command(t, reader, "explain "+key); !strings.Contains(ex.Text, "global-orgs: in sync") ||
			!strings.Contains(string(ex.Blocks), "in the query") {
			t.Errorf("explain %q", ex.Text)
		}

		_, denied := h.command(t, reader, "undo "+slashRun)
		if !strings.Contains(denied.Text, "Sorry, undo changes Zendesk") {
			t.Errorf("a reader's undo: %q", denied.Text)
		}
		_, preview := h.command(t, writer, "undo "+slashRun)
		btns := slacktest.Buttons(preview.Blocks)
		if !strings.Contains(preview.Text, "Undo of run "+slashRun) || len(btns) != 2 || btns[0].Text != "Apply" || btns[1].Text != "Discard" {
			t.Fatalf("a writer's undo: %q, buttons %+v", preview.Text, btns)
		}
		writes := sb.Global.WriteCalls()
		if _, r := h.press(t, reader, commands.ActionApply, messageOf(preview)); !strings.Contains(r.Text, "Sorry") || sb.Global.WriteCalls() != writes {
			t.Errorf("a reader's Apply: %q, %d writes", r.Text, sb.Global.WriteCalls()-writes)
		}
		_, applied := h.press(t, writer, commands.ActionApply, messageOf(preview))
		if !applied.ReplaceOriginal || !strings.Contains(applied.Text, "applied by <@UWRITER>") || sb.Global.WriteCalls() == writes {
			t.Errorf("a writer's Apply: %+v", applied)
		}
		if _, again := h.command(t, writer, "undo "+slashRun); !strings.Contains(again.Text, "code 23: AlreadyUndone") {
			t.Errorf("a second undo: %q", again.Text)
		}

		undos, err := db.UndoRuns(ctx, slashRun)
		if err != nil || len(undos) != 1 || undos[0].By != writer || undos[0].Job != syncer.JobGlobalOrgs || undos[0].Updated != 1 {
			t.Errorf("the undo runs: %d, err %v", len(undos), err)
		}
		if o, _ := orgOf(sb, key); o.Fields.Get("account_owner") != ownerBefore || ownerBefore == nil {
			t.Errorf("account_owner after the undo: %v, want %v as before the slash command's run", o.Fields.Get("account_owner"), ownerBefore)
		}
		recs, err := db.ListCommands(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var audited []string
		for _, r := range recs {
			audited = append(audited, r.User+" "+r.Command+" "+r.Outcome)
		}
		for _, want := range []string{"UREADER undo denied", "UWRITER undo ok", "UREADER button apply denied", "UWRITER button apply ok",
			"UWRITER undo failed", "UREADER history ok", "UREADER explain ok", "UWRITER account ok"} {
			if !slices.Contains(audited, want) {
				t.Errorf("the audit lacks %q: %q", want, audited)
			}
		}
	})
}

// orgOf returns the Global org with the external ID.
func orgOf(sb *sandbox.Sandbox, ext string) (syncer.Org, bool) {
	for _, o := range sb.Global.Orgs() {
		if o.ExternalID == ext {
			return o, true
		}
	}
	return syncer.Org{}, false
}

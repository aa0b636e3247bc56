package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// demo is one run of `zdsync demo`: the sandboxes, zdsync wired over
// them, and the runs made so far.
type demo struct {
	ctx    context.Context
	out    io.Writer
	sb     *sandbox.Sandbox
	p      *parts
	secret string
	runs   []*syncer.Summary
	failed bool
}

// demoSecret signs the demo's webhooks.
const demoSecret = "demo-webhook-secret"

// runDemo runs every job against built-in sandboxes: no credentials, no
// network beyond loopback, a throw-away database.
func (m *Main) runDemo(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	accounts := fs.Int("accounts", 300, "")
	seed := fs.Int64("seed", 1, "")
	if _, err := parseArgs(fs, args); err != nil {
		return 0, err
	}
	if *accounts < 10 || *accounts > 200000 {
		return 0, usagef("--accounts must be between 10 and 200000")
	}
	dir, err := os.MkdirTemp("", "zdsync-demo-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	d, err := m.startDemo(ctx, sandbox.Options{Seed: *seed, Accounts: *accounts}, filepath.Join(dir, "zdsync.db"))
	if err != nil {
		return 0, err
	}
	defer d.sb.Close()
	if err := d.syncJobs(); err != nil {
		return 0, err
	}
	if err := d.onCall(); err != nil {
		return 0, err
	}
	lockFailure, err := d.cases()
	if err != nil {
		return 0, err
	}
	d.slack(lockFailure)
	section(d.out, "Done")
	if d.failed {
		fmt.Fprintln(d.out, "  some runs failed; see above")
		return exitFail, nil
	}
	fmt.Fprintln(d.out, "  every job ran against the sandboxes; run `go test ./...` for the tests")
	return exitOK, nil
}

// startDemo starts the sandboxes and wires zdsync over them, as serve
// would from the same environment.
func (m *Main) startDemo(ctx context.Context, opts sandbox.Options, dbPath string) (*demo, error) {
	out := m.Stdout
	section(out, "Starting sandboxes: a fake Salesforce and fake Zendesk Global and US Federal instances on loopback")
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	env := sb.Env()
	env["DATABASE_URL"] = dbPath
	env["LOG_LEVEL"] = "warn"
	env["CASE_PUSH_RETRY_DELAY"] = "100ms"
	env["ZENDESK_WEBHOOK_SECRET"] = demoSecret
	fmt.Fprintf(out, "  Salesforce: %d generated accounts and %d contacts; Zendesk Global: %d orgs; Zendesk US Federal: %d orgs, %d users\n",
		len(sb.Salesforce.Accounts()), len(sb.Salesforce.Contacts()), len(sb.Global.Orgs()), len(sb.Federal.Orgs()), len(sb.Federal.Users()))
	cfg, err := LoadConfig(ctx, envconfig.MapLookuper(env))
	if err == nil {
		var p *parts
		if p, err = m.wire(ctx, cfg, syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCases); err == nil {
			p.core.Runner.Progress = m.progress()
			return &demo{ctx: ctx, out: out, sb: sb, p: p, secret: demoSecret}, nil
		}
	}
	sb.Close()
	return nil, err
}

// run runs one request through the core, as the demo.
func (d *demo) run(req syncer.Request) *syncer.Summary {
	req.By = "demo"
	return d.p.core.Run(d.ctx, req)
}

// report prints a run and keeps it.
func (d *demo) report(s *syncer.Summary) {
	s.WriteText(d.out, 12)
	d.runs = append(d.runs, s)
	if !s.OK() {
		d.failed = true
	}
}

// syncJobs shows the sync jobs (sections 1 to 5).
func (d *demo) syncJobs() error {
	out, sb := d.out, d.sb
	section(out, "1. global-orgs: Salesforce accounts → Zendesk Global organizations")
	before := sb.Global.WriteCalls()
	d.report(d.run(syncer.Request{Job: syncer.JobGlobalOrgs}))
	fmt.Fprintf(out, "  Zendesk write calls: %d; greatly expired orgs wait DELETE_GRACE (7 days) tagged %s, except the %d a person tagged %s;\n"+
		"  the first full run after it deletes them, except those with open tickets\n",
		sb.Global.WriteCalls()-before, syncer.TagPendingDeletion, 2, syncer.TagDoNotDelete)

	section(out, "2. global-orgs again: everything is in sync, so nothing is written")
	before = sb.Global.WriteCalls()
	d.report(d.run(syncer.Request{Job: syncer.JobGlobalOrgs}))
	fmt.Fprintf(out, "  Zendesk write calls: %d\n", sb.Global.WriteCalls()-before)
	d.incremental()

	section(out, "3. federal-orgs: federal accounts → Zendesk US Federal organizations (never deletes, no contacts)")
	d.report(d.run(syncer.Request{Job: syncer.JobFederalOrgs}))

	section(out, "4. federal-users preview: a dry run stored as a plan that can be applied")
	s := d.run(syncer.Request{Job: syncer.JobFederalUsers, Options: syncer.Options{DryRun: true, SavePlan: true}})
	if s.PlanID == "" {
		d.report(s)
		return nil
	}
	plan, err := d.p.db.GetPlan(d.ctx, s.PlanID)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "  what `zdsync plan show "+plan.ID+"` prints: the changes, then the skipped contacts (dirty data) and why")
	syncer.WritePlanText(out, plan, 6)
	section(out, "5. federal-users: applying exactly the stored plan "+plan.ID)
	d.report(d.run(syncer.Request{PlanID: plan.ID}))
	fmt.Fprintln(out, "  applying it a second time is refused:")
	fmt.Fprintf(out, "  %s\n", d.run(syncer.Request{PlanID: plan.ID}).Message)
	return nil
}

// incremental shows near real time (section 2b): a subscription renewed
// in Salesforce after the full run reaches Zendesk with an incremental
// run, which reads only what changed; the next one finds nothing new.
func (d *demo) incremental() {
	out, sb := d.out, d.sb
	section(out, "2b. Near real time: a subscription is renewed in Salesforce; an incremental run carries it over")
	var renewed salesforcetest.Account
	for _, a := range sb.Salesforce.Accounts() {
		o, ok := orgOf(sb.Global, a.ID)
		if ok && salesforcetest.MatchesGlobalQuery(&a) && len(a.CustomerSubscriptions) > 0 && o.Fields.Get(syncer.FieldSupportLevel) != "ultimate" &&
			!slices.Contains(o.Tags, "expired") {
			renewed = a
			break
		}
	}
	if renewed.ID == "" {
		fmt.Fprintln(out, "  (no account to renew in this sandbox)")
		return
	}
	end := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	sb.Salesforce.UpdateAccount(renewed.ID, func(a *salesforcetest.Account) {
		a.CustomerSubscriptions[0].Status, a.CustomerSubscriptions[0].Tier, a.CustomerSubscriptions[0].EndDate = "Active", "Ultimate", end
	})
	fmt.Fprintf(out, "  account %s (%s): its customer subscription renewed as Ultimate until %s\n", renewed.ID, renewed.Name, end)
	s := d.run(syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{Incremental: true}})
	d.report(s)
	if inc := s.Incremental; inc != nil {
		fmt.Fprintf(out, "  %d Salesforce records changed since %s; %d accounts read; %d Salesforce and %d Zendesk API calls\n",
			inc.Changed, inc.Since.Local().Format(time.TimeOnly), s.Fetched, inc.SalesforceCalls, inc.ZendeskCalls)
	}
	again := d.run(syncer.Request{Job: syncer.JobGlobalOrgs, Options: syncer.Options{Incremental: true}})
	if again.Incremental != nil {
		fmt.Fprintf(out, "  the next incremental run (every minute in serve): %d written, %d Salesforce and %d Zendesk API calls — quiet: nothing posted\n",
			again.Created+again.Updated+again.Deleted, again.Incremental.SalesforceCalls, again.Incremental.ZendeskCalls)
	}
	if !again.OK() {
		d.report(again)
	}
}

// orgOf returns the org of zd whose external ID is id.
func orgOf(zd *zendesktest.Server, id string) (syncer.Org, bool) {
	for _, o := range zd.Orgs() {
		if o.ExternalID == id {
			return o, true
		}
	}
	return syncer.Org{}, false
}

// slack shows what the bot posts for the demo's runs (section 9).
func (d *demo) slack(lockFailure *syncer.Summary) {
	section(d.out, "9. What the bot posts in Slack for these runs (rendered as text)")
	fmt.Fprintln(d.out, "  #summary channel, after the first global-orgs run:")
	fmt.Fprintln(d.out, indent(bot.Text(bot.RenderSummary(d.runs[0])), "    "))
	fmt.Fprintln(d.out, "  #alerts channel, for the case push that failed with code 3:")
	fmt.Fprintln(d.out, indent(bot.Text(bot.RenderAlert(bot.AlertView{Job: syncer.JobCases, Code: lockFailure.Code, Count: 1,
		FirstAt: lockFailure.StartedAt, LastAt: lockFailure.StartedAt, Latest: lockFailure})), "    "))
}

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n== %s\n%s\n", title, strings.Repeat("-", min(78, len(title)+3)))
}

// cases shows the case sync (section 8): signed webhooks for new tickets
// become durable queue jobs and then cases; a closed ticket closes its
// case; a push that keeps hitting UnableToLockRow fails with code 3 after
// its retries and succeeds when retried. It returns that failed push.
func (d *demo) cases() (*syncer.Summary, error) {
	out, sb := d.out, d.sb
	section(out, "8. cases: Zendesk ticket events → Salesforce cases, through the signed webhook and the durable queue")
	var orgs []syncer.Org
	var foreign syncer.Org
	for _, o := range sb.Global.Orgs() {
		switch {
		case syncer.IsAccountID(o.ExternalID) && len(orgs) < 3:
			orgs = append(orgs, o)
		case !syncer.IsAccountID(o.ExternalID):
			foreign = o
		}
	}
	var tickets []int64
	for i, o := range orgs {
		tickets = append(tickets, sb.Global.AddTicket(syncer.Ticket{Subject: fmt.Sprintf("Pipeline %d is stuck", i+1),
			Description: "Our CI jobs wait forever since this morning.", Priority: "high", Status: "new", OrgID: o.ID}))
	}
	internal := sb.Global.AddTicket(syncer.Ticket{Subject: "Internal question", Status: "new", OrgID: foreign.ID})
	if err := d.webhooks(tickets, internal); err != nil {
		return nil, err
	}

	fmt.Fprintln(out, "\n  Salesforce keeps the case row locked (UNABLE_TO_LOCK_ROW) for the next 4 writes:")
	sb.Salesforce.FailCaseWrites(4, salesforcetest.ErrUnableToLockRow)
	locked := sb.Global.AddTicket(syncer.Ticket{Subject: "Locked account", Status: "new", OrgID: orgs[len(orgs)-1].ID})
	push := syncer.Request{Job: syncer.JobCases, TicketID: locked, Event: syncer.EventCreated}
	lockFailure := d.run(push) // fails on purpose: not counted
	lockFailure.WriteText(out, 5)
	fmt.Fprintf(out, "  on-call retries it (zdsync case push %d, or /zdsync case retry %d):\n", locked, locked)
	d.report(d.run(push))
	return lockFailure, nil
}

// webhooks sends signed ticket events through the webhook and the durable
// queue, a redelivery and a close included, and prints each push.
func (d *demo) webhooks(tickets []int64, internal int64) error {
	out := d.out
	done := make(chan *syncer.Summary, 16)
	q, err := pushqueue.New(d.ctx, d.p.db, d.p.core, pushqueue.Config{PollInterval: 50 * time.Millisecond,
		Done: func(_ context.Context, s *syncer.Summary) { done <- s }})
	if err != nil {
		return err
	}
	if err := q.Start(d.ctx); err != nil {
		return err
	}
	defer q.Stop(context.WithoutCancel(d.ctx))
	hook := httptest.NewServer(zendesk.NewWebhookHandler(d.secret, q, d.p.log))
	defer hook.Close()
	send := func(id int64, event syncer.Event) error {
		body := fmt.Appendf(nil, `{"ticket_id": "%d", "event": %q}`, id, event)
		req, err := zendesktest.NewWebhookRequest(hook.URL+zendesk.WebhookPath, d.secret, body, time.Now())
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		fmt.Fprintf(out, "  webhook ticket %d %s → HTTP %d\n", id, event, resp.StatusCode)
		return nil
	}
	wait := func(n int) {
		for range n {
			select {
			case s := <-done:
				fmt.Fprintf(out, "  pushed: %s\n", pushLine(s))
			case <-time.After(30 * time.Second):
				fmt.Fprintln(out, "  (timed out waiting for the queue)")
				return
			}
		}
	}
	for _, id := range append(tickets, internal, tickets[0]) { // the last one is a redelivery
		if err := send(id, syncer.EventCreated); err != nil {
			return err
		}
	}
	wait(len(tickets) + 1)
	fmt.Fprintf(out, "  Salesforce now has %d cases (the redelivered event made no second one)\n", len(d.sb.Salesforce.Cases()))
	d.sb.Global.SetTicketStatus(tickets[0], "closed")
	if err := send(tickets[0], syncer.EventClosed); err != nil {
		return err
	}
	wait(1)
	return nil
}

// pushLine renders one push outcome on one line.
func pushLine(s *syncer.Summary) string {
	line := s.Message
	switch {
	case s.Created > 0:
		line = "case " + s.CaseID + " created"
	case s.Updated > 0:
		line = "case " + s.CaseID + " closed"
	case s.CaseID != "":
		line = "case " + s.CaseID + " already there"
	}
	for _, e := range s.Errors {
		line += fmt.Sprintf(" [code %d %s]", e.Code, e.Name)
	}
	return line
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/commands/commandstest"
	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store"
)

// The users of the tests: a writer (in SLACK_WRITERS by user ID), an
// on-call member (through the user group SONCALL) and a reader.
const (
	writer = "UWRITER"
	oncall = "UONCALL"
	reader = "UREADER"
)

var epoch = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func sampleSummary(job syncer.Job) *syncer.Summary {
	return &syncer.Summary{RunID: "run-" + string(job), Job: job, StartedAt: epoch, FinishedAt: epoch.Add(1500 * time.Millisecond),
		DurationMS: 1500, Fetched: 120, Updated: 1, Unchanged: 119, APICalls: 7,
		Changes: []syncer.Change{{Action: syncer.Update, Kind: "org", Key: "0015g00000ABCDEFGH", Name: "Acme <Corp>", ID: 42,
			Diffs: []syncer.FieldDiff{{Field: "support_level", Before: "gold", After: "platinum"}}}}}
}

func samplePlan(id string, job syncer.Job, action syncer.Action, n int) *syncer.StoredPlan {
	p := &syncer.StoredPlan{ID: id, Job: job, CreatedAt: epoch, ExpiresAt: epoch.Add(30 * time.Minute), CreatedBy: writer}
	for i := range n {
		c := syncer.Change{Action: action, Kind: "user", Key: fmt.Sprintf("user%03d@example.com", i), Name: fmt.Sprintf("User %d", i)}
		if action == syncer.Delete {
			c.Kind, c.Key, c.Name, c.ID, c.Reason = "org", fmt.Sprintf("0015g%013d", i), fmt.Sprintf("Org %d", i), int64(1000+i), "greatly expired"
		}
		p.Changes = append(p.Changes, c)
	}
	return p
}

// newService is the application behind the commands: it records its calls
// and answers with fixed summaries.
func newService() *commandstest.Service {
	return &commandstest.Service{
		Answer: func(req syncer.Request) *syncer.Summary {
			switch {
			case req.PlanID == "plan-stale":
				return &syncer.Summary{Job: syncer.JobFederalUsers, PlanID: req.PlanID, Code: syncer.CodePlanStale, Message: "plan " + req.PlanID + " expired"}
			case req.PlanID != "":
				return &syncer.Summary{RunID: "run-apply", Job: syncer.JobFederalUsers, Created: 25, PlanID: req.PlanID}
			case req.Job == syncer.JobCases:
				return &syncer.Summary{RunID: "run-case", Job: syncer.JobCases, Created: 1, CaseID: "500Dn000001XYZ"}
			case req.SavePlan:
				return &syncer.Summary{Job: syncer.JobFederalUsers, DryRun: true, Created: 25, PlanID: "plan-fed"}
			}
			s := sampleSummary(req.Job)
			s.Account, s.DryRun = req.Account, req.DryRun
			return s
		},
		Plans: map[string]*syncer.StoredPlan{"plan-fed": samplePlan("plan-fed", syncer.JobFederalUsers, syncer.Create, 25)},
		State: syncer.Status{Jobs: []syncer.JobStatus{
			{Job: syncer.JobGlobalOrgs, Schedule: "0 * * * *", NextRun: epoch.Add(time.Hour), LastRun: sampleSummary(syncer.JobGlobalOrgs)},
			{Job: syncer.JobFederalOrgs, Schedule: "off"},
		}},
	}
}

// harness is a bot connected to a fake Slack.
type harness struct {
	srv *slacktest.Server
	// svc and audit are the fakes the harness runs over (nil when it
	// runs over a real application: see newHarnessOver).
	svc   *commandstest.Service
	audit *commandstest.Audit
	// service and auditor are what the bots run commands against.
	service commands.Service
	auditor commands.Auditor
	bot     *bot.Bot
	db      *store.DB
	ctx     context.Context
	// stop stops the bot and returns once the work of every command it
	// received is done.
	stop func()
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newHarness starts a bot on a fake Slack; envelopes, when set, is where
// it remembers the envelopes it received (nil: its memory).
func newHarness(t testing.TB, envelopes ...bot.EnvelopeStore) *harness {
	t.Helper()
	svc, audit := newService(), &commandstest.Audit{}
	h := startHarness(t, svc, audit, envelopes...)
	h.svc, h.audit = svc, audit
	return h
}

// newHarnessOver starts a bot on a fake Slack over a given application
// and audit.
func newHarnessOver(t testing.TB, svc commands.Service, audit commands.Auditor) *harness {
	t.Helper()
	return startHarness(t, svc, audit)
}

func startHarness(t testing.TB, svc commands.Service, audit commands.Auditor, envelopes ...bot.EnvelopeStore) *harness {
	t.Helper()
	srv := slacktest.NewServer()
	srv.SetGroup("SONCALL", oncall)
	t.Cleanup(srv.Close) // after the bots stop: cleanups run last first
	h := &harness{srv: srv, service: svc, auditor: audit}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(wcancel)
	h.ctx = wctx
	var env bot.EnvelopeStore
	if len(envelopes) > 0 {
		env = envelopes[0]
	}
	h.bot, h.stop = h.startBot(t, env)
	if err := srv.WaitConnected(wctx, 1); err != nil {
		t.Fatal(err)
	}
	return h
}

// startBot starts a bot (a replica) over the harness's service and fake
// Slack, and returns it and the function that stops it once the work of
// every command it received is done.
func (h *harness) startBot(t testing.TB, envelopes bot.EnvelopeStore) (*bot.Bot, func()) {
	t.Helper()
	api := bot.NewClient(slacktest.BotToken, slacktest.AppToken, h.srv.APIURL(), nil)
	cmds := commands.New(commands.Config{
		Service:    h.service,
		Authorizer: commands.NewAuthorizer([]string{writer}, []string{"SONCALL"}, bot.GroupMembers{API: api}, 0, nil),
		Auditor:    h.auditor,
		Logger:     quietLogger(),
	})
	b, err := bot.New(bot.Config{BotToken: slacktest.BotToken, AppToken: slacktest.AppToken, APIURL: h.srv.APIURL(),
		Commands: cmds, Envelopes: envelopes, Logger: quietLogger(), MaxConcurrent: 16})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return b, stop
}

// openStore opens a real SQLite store in a temporary directory.
func openStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "zdsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// notifier is the harness's notifier on a clock that moves an hour each
// time it is read: every alert repeat and quiet run is past the intervals
// that space the edits of a message.
func (h *harness) notifier(t testing.TB) *bot.Notifier {
	t.Helper()
	var hours atomic.Int64
	return h.notifierAt(t, func() time.Time { return epoch.Add(time.Duration(hours.Add(1)) * time.Hour) })
}

// notifierAt is the harness's notifier on the clock now, sharing the bot's
// pacer.
func (h *harness) notifierAt(t testing.TB, now func() time.Time) *bot.Notifier {
	t.Helper()
	if h.db == nil {
		h.db = openStore(t)
	}
	n, err := bot.NewNotifier(bot.NotifierConfig{API: h.bot.API(), Pacer: h.bot.Pacer(), SummaryChannel: "CSUMMARY", AlertChannel: "CALERT",
		Store: h.db, Logger: quietLogger(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// response is a decoded post to a response_url.
type response struct {
	Text            string          `json:"text"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	Blocks          json.RawMessage `json:"blocks"`
}

func decode(t testing.TB, e slacktest.Event) response {
	t.Helper()
	var r response
	if err := json.Unmarshal(e.Body, &r); err != nil {
		t.Fatalf("response body %s: %v", e.Body, err)
	}
	return r
}

// command sends a slash command and returns its ack and its final answer.
// (That the ack comes before the answer is checked with slow work in
// TestAckArrivesBeforeTheWorkIsDone: with instant work the two race on
// loopback.)
func (h *harness) command(t testing.TB, user, text string) (slacktest.Event, response) {
	t.Helper()
	x, err := h.srv.SendSlashCommand(h.ctx, slacktest.SlashCommand{User: user, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := x.Ack(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := x.Responses(h.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return ack, decode(t, rs[0])
}

// press presses a button of msg and returns the final answer to it (the
// second post to its response_url, after "working on it").
func (h *harness) press(t testing.TB, user, actionID string, msg slacktest.Message) (*slacktest.Exchange, response) {
	t.Helper()
	x, err := h.srv.PressButton(h.ctx, slacktest.ButtonPress{User: user, ActionID: actionID, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Ack(h.ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := x.Responses(h.ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r := decode(t, rs[0]); !strings.Contains(r.Text, bot.WorkingText) || r.ReplaceOriginal {
		t.Errorf("first answer to a press = %+v, want an ephemeral %q", r, bot.WorkingText)
	}
	return x, decode(t, rs[1])
}

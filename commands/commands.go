// Package commands is the grammar, authorization and handlers of the
// /zdsync slash command and of the buttons on zdsync's Slack messages. It is
// transport-agnostic: requests come in as plain values (who, what text) and
// replies go out as plain data (a line of text plus a structured summary,
// plan or status) that package bot renders as Block Kit and the demo renders
// as text.
//
// Every command is described once, in Table, which also produces
// `/zdsync help`. Commands that write are allowed only to the users and
// user groups of SLACK_WRITERS (see Authorizer), and every command and
// button press is audited through Auditor.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// Service is what the commands need of the application: the application
// core (app.Core) implements it. Requests carry who asked (By: the Slack
// user ID), for the run's audit.
type Service interface {
	// Run runs one job (a sync job, one account, a stored plan, a case
	// push, the sweep) and returns its summary, which says whether it
	// ran (another run of the job in progress is code 16).
	Run(ctx context.Context, req syncer.Request) *syncer.Summary
	// Plan returns the stored plan id.
	Plan(ctx context.Context, id string) (*syncer.StoredPlan, error)
	// DiscardPlan marks the stored plan id discarded.
	DiscardPlan(ctx context.Context, id, by string) error
	// Status reports the last and next run of each job, failed case
	// pushes, open alerts and the Salesforce API allowance.
	Status(ctx context.Context) (syncer.Status, error)
}

// Auditor records who ran which command, when, and how it ended.
// *store.DB satisfies it.
type Auditor interface {
	RecordCommand(ctx context.Context, c syncer.CommandRecord) error
}

// The outcomes written to the audit.
const (
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeDenied  = "denied"
	OutcomeUsage   = "usage"
	OutcomeUnknown = "unknown"
)

// Kind says what a Reply carries, so that a renderer can pick its layout.
type Kind string

// The kinds of reply.
const (
	// KindText is plain text (help).
	KindText Kind = "text"
	// KindUsage is a one-line argument error.
	KindUsage Kind = "usage"
	// KindDenied is a refusal: the user may not run a writing command.
	KindDenied Kind = "denied"
	// KindError is a command that failed; Code says how.
	KindError Kind = "error"
	// KindSummary is the result of a run, in Summary.
	KindSummary Kind = "summary"
	// KindPreview is a stored plan awaiting Apply or Discard, in Plan and
	// Summary.
	KindPreview Kind = "preview"
	// KindDiscarded is a stored plan that was discarded, in Plan.
	KindDiscarded Kind = "discarded"
	// KindStatus is the answer to status, in Status.
	KindStatus Kind = "status"
)

// Reply is the answer to a command or a button press, as plain data.
type Reply struct {
	Kind Kind `json:"kind"`
	// Command is the command's name ("account", "case retry", "apply").
	Command string `json:"command"`
	// User is who asked.
	User string `json:"user"`
	// Text is a one-line (help: several lines) plain-text answer,
	// always set.
	Text string `json:"text"`
	// Public is set when the answer should be visible to the channel
	// (results of commands that write, previews); otherwise only the
	// user sees it.
	Public  bool               `json:"public,omitempty"`
	Code    syncer.Code        `json:"code,omitempty"`
	Summary *syncer.Summary    `json:"summary,omitempty"`
	Plan    *syncer.StoredPlan `json:"plan,omitempty"`
	Status  *syncer.Status     `json:"status,omitempty"`
}

// Request is one /zdsync invocation.
type Request struct {
	// User is the Slack user ID of the caller.
	User string
	// Text is what followed /zdsync.
	Text string
}

// The button actions. Their Slack action_id is the action name; the value
// is the plan ID (Apply, Discard), the ticket ID (Retry) or the job (Run
// again).
const (
	ActionApply    = "apply"
	ActionDiscard  = "discard"
	ActionRetry    = "retry"
	ActionRunAgain = "run_again"
)

// Press is a button press.
type Press struct {
	// Action is one of the Action constants.
	Action string
	// Value is the button's value.
	Value string
	// User is the Slack user ID of whoever pressed.
	User string
	// FromBot is set when the press comes from the bot's own user, which
	// may never approve anything.
	FromBot bool
}

// Command is one entry of the command table.
type Command struct {
	// Name is the command's words ("case retry").
	Name string
	// ArgsUsage describes its arguments ("<ticket-id>").
	ArgsUsage string
	// Description is one sentence for help.
	Description string
	// Writes is set when the command changes Zendesk or Salesforce
	// (unless run with --dry-run), so needs a writer.
	Writes bool
	// DryRun is set when the command accepts --dry-run.
	DryRun bool

	parseArgs func(a *Args, words []string) error
	run       func(ctx context.Context, c *Commands, call Call, user string) Reply
}

// Usage returns the command's one-line usage.
func (c *Command) Usage() string {
	u := "/zdsync " + c.Name
	if c.ArgsUsage != "" {
		u += " " + c.ArgsUsage
	}
	return u
}

// Table returns the command table: every /zdsync subcommand, in the order
// help lists them.
func Table() []Command {
	return []Command{
		{Name: "help", Description: "Show this list of commands.", run: runHelp},
		{Name: "status", Description: "Show the last and next run of each job, failed case pushes and open alerts.", run: runStatus},
		{Name: "account", ArgsUsage: "<SFID> [global|federal] [--dry-run]", Writes: true, DryRun: true,
			Description: "Resync one Salesforce account now (default global) and show its changes, before → after.",
			parseArgs:   parseAccountArgs, run: runAccount},
		{Name: "case retry", ArgsUsage: "<ticket-id>", Writes: true,
			Description: "Push one Zendesk ticket's Salesforce case again and show the outcome and code.",
			parseArgs:   parseTicketArgs, run: runCaseRetry},
		{Name: "federal-users preview",
			Description: "Plan the federal-users job, attach the changes as CSV and offer Apply / Discard.",
			run:         runPreview},
		{Name: "run", ArgsUsage: "<job> [--dry-run]", Writes: true, DryRun: true,
			Description: "Run one job now: " + jobList() + ".",
			parseArgs:   parseJobArgs, run: runJob},
	}
}

func jobList() string {
	var names []string
	for _, j := range runnableJobs() {
		names = append(names, string(j))
	}
	return strings.Join(names, ", ")
}

func runnableJobs() []syncer.Job { return syncer.RunnableJobs }

// Help returns the text of /zdsync help, made from Table.
func Help() string {
	var b strings.Builder
	b.WriteString("zdsync keeps Zendesk in step with Salesforce. Commands:\n")
	for _, c := range Table() {
		fmt.Fprintf(&b, "• %s — %s", c.Usage(), c.Description)
		if c.Writes {
			b.WriteString(" (writes: allowed writers only")
			if c.DryRun {
				b.WriteString(", unless --dry-run")
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
	}
	b.WriteString("Buttons: Apply and Discard (previews, mass-deletion approvals), Retry (failed case push), Run again (failed job); Apply, Discard, Retry and Run again are for allowed writers only.")
	return b.String()
}

func parseAccountArgs(a *Args, words []string) error {
	if len(words) == 0 {
		return errors.New("missing Salesforce account ID")
	}
	if len(words) > 2 {
		return fmt.Errorf("unexpected argument %q", clip(words[2], 40))
	}
	id, err := syncer.NormalizeID(words[0])
	if err != nil {
		return errors.New(syncer.ErrorMessage(err))
	}
	a.SFID, a.Scope = id, syncer.Global
	if len(words) == 2 {
		switch strings.ToLower(words[1]) {
		case string(syncer.Global):
			a.Scope = syncer.Global
		case string(syncer.Federal):
			a.Scope = syncer.Federal
		default:
			return fmt.Errorf("scope must be global or federal, not %q", clip(words[1], 40))
		}
	}
	return nil
}

func parseTicketArgs(a *Args, words []string) error {
	if len(words) == 0 {
		return errors.New("missing ticket ID")
	}
	if len(words) > 1 {
		return fmt.Errorf("unexpected argument %q", clip(words[1], 40))
	}
	id, err := ParseTicketID(words[0])
	if err != nil {
		return err
	}
	a.TicketID = id
	return nil
}

func parseJobArgs(a *Args, words []string) error {
	if len(words) == 0 {
		return errors.New("missing job name")
	}
	if len(words) > 1 {
		return fmt.Errorf("unexpected argument %q", clip(words[1], 40))
	}
	for _, j := range runnableJobs() {
		if strings.EqualFold(words[0], string(j)) {
			a.Job = j
			return nil
		}
	}
	return fmt.Errorf("unknown job %q (jobs: %s)", clip(words[0], 40), jobList())
}

// Config configures Commands.
type Config struct {
	// Service does the work. Required.
	Service Service
	// Authorizer decides who may write. Nil means nobody may.
	Authorizer *Authorizer
	// Auditor records every command and press. Nil means commands are
	// only logged.
	Auditor Auditor
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives audit failures; nil means slog.Default().
	Logger *slog.Logger
}

// Commands runs /zdsync commands and button presses. It is safe for
// concurrent use.
type Commands struct {
	svc   Service
	auth  *Authorizer
	audit Auditor
	now   func() time.Time
	log   *slog.Logger
}

// New returns Commands over cfg.Service.
func New(cfg Config) *Commands {
	c := &Commands{svc: cfg.Service, auth: cfg.Authorizer, audit: cfg.Auditor, now: cfg.Now, log: cfg.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// Run parses and runs one /zdsync command: usage errors and refusals are
// answered without calling the Service, and every outcome is audited.
func (c *Commands) Run(ctx context.Context, req Request) Reply {
	call, err := Parse(req.Text)
	if err != nil {
		r := Reply{Kind: KindUsage, Command: firstWord(req.Text), User: req.User, Text: err.Error()}
		c.record(ctx, req.User, r.Command, strings.TrimSpace(req.Text), OutcomeUsage, r.Text)
		return r
	}
	name, args := call.Command.Name, call.Args.String()
	if call.Writes() {
		if r, denied := c.authorize(ctx, req.User, name); denied {
			c.record(ctx, req.User, name, args, OutcomeDenied, r.Text)
			return r
		}
	}
	r := call.Command.run(ctx, c, call, req.User)
	r.Command, r.User = name, req.User
	c.record(ctx, req.User, name, args, outcome(r), detail(r))
	return r
}

// Press runs one button press. Every press needs a writer (Discard too: it
// decides the fate of a mass-deletion approval), the bot itself may never
// press, and every outcome is audited.
func (c *Commands) Press(ctx context.Context, p Press) Reply {
	name := "button " + p.Action
	if p.FromBot {
		r := Reply{Kind: KindDenied, Command: name, User: p.User, Text: "The bot cannot approve its own requests."}
		c.record(ctx, p.User, name, p.Value, OutcomeDenied, r.Text)
		return r
	}
	var r Reply
	switch p.Action {
	case ActionApply, ActionDiscard, ActionRetry, ActionRunAgain:
		if denied, refused := c.authorize(ctx, p.User, name); refused {
			c.record(ctx, p.User, name, p.Value, OutcomeDenied, denied.Text)
			return denied
		}
	default:
		r = Reply{Kind: KindUsage, Text: fmt.Sprintf("unknown button %q", clip(p.Action, 40))}
		r.Command, r.User = name, p.User
		c.record(ctx, p.User, name, p.Value, OutcomeUnknown, r.Text)
		return r
	}
	switch p.Action {
	case ActionApply:
		r = c.apply(ctx, p.Value, p.User)
	case ActionDiscard:
		r = c.discard(ctx, p.Value, p.User)
	case ActionRetry:
		id, err := ParseTicketID(p.Value)
		if err != nil {
			r = Reply{Kind: KindUsage, Text: err.Error()}
			break
		}
		r = summaryReply(c.svc.Run(ctx, syncer.Request{Job: syncer.JobCases, TicketID: id, Options: syncer.Options{By: p.User}}))
		r.Public = true
	case ActionRunAgain:
		job, ok := syncer.ParseJob(p.Value)
		if !ok {
			r = Reply{Kind: KindUsage, Text: fmt.Sprintf("unknown job %q", clip(p.Value, 40))}
			break
		}
		r = summaryReply(c.svc.Run(ctx, syncer.Request{Job: job, Options: syncer.Options{By: p.User}}))
		r.Public = true
	}
	r.Command, r.User = p.Action, p.User
	c.record(ctx, p.User, name, p.Value, outcome(r), detail(r))
	return r
}

// authorize returns a refusal and true when user may not run a writing
// command.
func (c *Commands) authorize(ctx context.Context, user, name string) (Reply, bool) {
	if c.auth == nil {
		return Reply{Kind: KindDenied, Command: name, User: user,
			Text: "Sorry, " + name + " changes Zendesk or Salesforce, and no writers are configured (SLACK_WRITERS)."}, true
	}
	ok, err := c.auth.CanWrite(ctx, user)
	if err != nil {
		c.log.WarnContext(ctx, "check writer", "user", user, "err", err)
		return Reply{Kind: KindDenied, Command: name, User: user,
			Text: "Sorry, your Slack user groups could not be checked right now, so " + name + " was not run. Try again in a minute."}, true
	}
	if !ok {
		return Reply{Kind: KindDenied, Command: name, User: user,
			Text: "Sorry, " + name + " changes Zendesk or Salesforce and is allowed only to the users and groups in SLACK_WRITERS. Read-only commands (help, status, --dry-run) are open to everyone."}, true
	}
	return Reply{}, false
}

func (c *Commands) record(ctx context.Context, user, command, args, outcome, detail string) {
	c.log.InfoContext(ctx, "command", "user", user, "command", command, "args", args, "outcome", outcome)
	if c.audit == nil {
		return
	}
	// The audit must not be lost when the command's own context ends.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rec := syncer.CommandRecord{At: c.now(), User: user, Command: command, Args: args, Outcome: outcome, Detail: clip(detail, 500)}
	if err := c.audit.RecordCommand(actx, rec); err != nil {
		c.log.ErrorContext(ctx, "audit command", "user", user, "command", command, "err", err)
	}
}

func (c *Commands) apply(ctx context.Context, planID, user string) Reply {
	r := summaryReply(c.svc.Run(ctx, syncer.Request{PlanID: planID, Options: syncer.Options{By: user}}))
	r.Public = true
	if r.Code == syncer.CodeNone || r.Code.Silent() {
		r.Text = fmt.Sprintf("Plan %s applied by <@%s>: %s", planID, user, r.Text)
	}
	return r
}

func (c *Commands) discard(ctx context.Context, planID, user string) Reply {
	if err := c.svc.DiscardPlan(ctx, planID, user); err != nil {
		return errorReply(err)
	}
	return Reply{Kind: KindDiscarded, Public: true, Plan: &syncer.StoredPlan{ID: planID, Discarded: true},
		Text: fmt.Sprintf("Plan %s discarded by <@%s>; nothing was changed.", planID, user)}
}

func runHelp(_ context.Context, _ *Commands, _ Call, _ string) Reply {
	return Reply{Kind: KindText, Text: Help()}
}

func runStatus(ctx context.Context, c *Commands, _ Call, _ string) Reply {
	st, err := c.svc.Status(ctx)
	if err != nil {
		return errorReply(err)
	}
	return Reply{Kind: KindStatus, Status: &st, Text: statusLine(st)}
}

func runAccount(ctx context.Context, c *Commands, call Call, user string) Reply {
	job := syncer.JobGlobalOrgs
	if call.Args.Scope == syncer.Federal {
		job = syncer.JobFederalOrgs
	}
	r := summaryReply(c.svc.Run(ctx, syncer.Request{Job: job, Options: syncer.Options{DryRun: call.Args.DryRun, Account: call.Args.SFID, By: user}}))
	r.Public = !call.Args.DryRun
	return r
}

func runCaseRetry(ctx context.Context, c *Commands, call Call, user string) Reply {
	r := summaryReply(c.svc.Run(ctx, syncer.Request{Job: syncer.JobCases, TicketID: call.Args.TicketID, Options: syncer.Options{By: user}}))
	r.Public = true
	return r
}

func runPreview(ctx context.Context, c *Commands, _ Call, user string) Reply {
	sum := c.svc.Run(ctx, syncer.Request{Job: syncer.JobFederalUsers, Options: syncer.Options{DryRun: true, SavePlan: true, By: user}})
	if sum.PlanID == "" {
		// The dry run failed, so no plan was stored: say how it failed.
		return summaryReply(sum)
	}
	plan, err := c.svc.Plan(ctx, sum.PlanID)
	if err != nil {
		return errorReply(err)
	}
	writes := 0
	for _, ch := range plan.Changes {
		if ch.Action != syncer.Skip {
			writes++
		}
	}
	return Reply{Kind: KindPreview, Public: true, Plan: plan, Summary: sum,
		Text: fmt.Sprintf("Preview %s of %s: %d changes to review; Apply or Discard.", plan.ID, plan.Job, writes)}
}

func runJob(ctx context.Context, c *Commands, call Call, user string) Reply {
	r := summaryReply(c.svc.Run(ctx, syncer.Request{Job: call.Args.Job, Options: syncer.Options{DryRun: call.Args.DryRun, By: user}}))
	r.Public = !call.Args.DryRun
	return r
}

func summaryReply(s *syncer.Summary) Reply {
	return Reply{Kind: KindSummary, Summary: s, Code: s.Code, Text: SummaryLine(s)}
}

func errorReply(err error) Reply {
	code := syncer.ErrorCode(err)
	return Reply{Kind: KindError, Code: code,
		Text: fmt.Sprintf("Failed (code %s): %s", code, syncer.ErrorMessage(err))}
}

// SummaryLine says in one line what a run did: "global-orgs: 2 created, 1
// updated …", "already in sync", or how it failed.
func SummaryLine(s *syncer.Summary) string {
	subject := string(s.Job)
	if s.Account != "" {
		subject += " " + s.Account
	}
	if s.DryRun {
		subject += " (dry run)"
	}
	if !s.OK() {
		return fmt.Sprintf("%s failed with code %s: %s", subject, s.Code, s.Message)
	}
	verb := []string{"created", "updated", "deleted"}
	if s.DryRun {
		verb = []string{"to create", "to update", "to delete"}
	}
	var parts []string
	for i, n := range []int{s.Created, s.Updated, s.Deleted} {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, verb[i]))
		}
	}
	if s.CaseID != "" {
		parts = append(parts, "case "+s.CaseID)
	}
	line := subject + ": "
	switch {
	case len(parts) > 0:
		line += strings.Join(parts, ", ")
	case s.Account != "" && s.Fetched == 0:
		line += "no such account in the job's query"
	default:
		line += "already in sync"
	}
	if s.Failed > 0 {
		line += fmt.Sprintf(", %d failed", s.Failed)
	}
	silent := s.SilentCounts()
	n := 0
	for _, sc := range silent {
		n += sc.Count
	}
	if n > 0 {
		line += fmt.Sprintf(", %d silent", n)
	}
	if f := s.FirstFailure(); f != syncer.CodeNone {
		line += fmt.Sprintf(" (code %s)", f)
	} else if n > 0 {
		line += fmt.Sprintf(" (code %s)", silent[0].Code)
	}
	return line
}

func statusLine(st syncer.Status) string {
	return fmt.Sprintf("%d jobs, %d failed case pushes, %d open alerts", len(st.Jobs), len(st.FailedPushes), len(st.OpenAlerts))
}

func outcome(r Reply) string {
	switch r.Kind {
	case KindUsage:
		return OutcomeUsage
	case KindDenied:
		return OutcomeDenied
	case KindError:
		return OutcomeFailed
	case KindSummary:
		if r.Code != syncer.CodeNone && !r.Code.Silent() {
			return OutcomeFailed
		}
	}
	return OutcomeOK
}

func detail(r Reply) string {
	var parts []string
	if r.Summary != nil && r.Summary.RunID != "" {
		parts = append(parts, "run "+r.Summary.RunID)
	}
	if r.Plan != nil && r.Plan.ID != "" {
		parts = append(parts, "plan "+r.Plan.ID)
	}
	if r.Kind != KindText && r.Kind != KindStatus {
		parts = append(parts, r.Text)
	}
	if r.Code != syncer.CodeNone {
		parts = append(parts, "code "+strconv.Itoa(int(r.Code)))
	}
	return strings.Join(parts, "; ")
}

func firstWord(text string) string {
	w, _ := Tokenize(text)
	if len(w) == 0 {
		return ""
	}
	return clip(strings.ToLower(w[0]), 40)
}

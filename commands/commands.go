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
	"fmt"
	"log/slog"
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
	// pushes, open alerts, the deletions due soon and the Salesforce API
	// allowance.
	Status(ctx context.Context) (syncer.Status, error)
	// Explain explains one account (an account ID or an org's Zendesk
	// ID) for the org jobs given, read live; it writes nothing.
	Explain(ctx context.Context, arg string, jobs []syncer.Job) *syncer.Explanation
	// History returns the audited history of an account, a Zendesk ID
	// or a run, at most limit entries of each kind.
	History(ctx context.Context, arg string, limit int) (*syncer.History, error)
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
		r = Reply{Kind: KindUsage, Text: fmt.Sprintf("unknown button %q", syncer.Clip(p.Action, 40))}
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
			r = Reply{Kind: KindUsage, Text: fmt.Sprintf("unknown job %q", syncer.Clip(p.Value, 40))}
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
	rec := syncer.CommandRecord{At: c.now(), User: user, Command: command, Args: args, Outcome: outcome, Detail: syncer.Clip(detail, 500)}
	if err := c.audit.RecordCommand(actx, rec); err != nil {
		c.log.ErrorContext(ctx, "audit command", "user", user, "command", command, "err", err)
	}
}

// apply applies a stored plan. An apply that did not start (the plan was
// applied by another press, expired, discarded or unknown, or its job is
// running) is answered to the presser only, and leaves the plan's message
// as it is.
func (c *Commands) apply(ctx context.Context, planID, user string) Reply {
	s := c.svc.Run(ctx, syncer.Request{PlanID: planID, Options: syncer.Options{By: user}})
	if s.Refused {
		return Reply{Kind: KindError, Code: s.Code, Summary: s, Text: "Not applied: " + s.Message}
	}
	r := summaryReply(s)
	r.Public = true
	switch s := r.Summary; {
	case r.Code == syncer.CodeNone || r.Code.Silent():
		r.Text = fmt.Sprintf("Plan %s applied by <@%s>: %s", planID, user, r.Text)
	case s != nil && s.Created+s.Updated+s.Deleted > 0:
		r.Text = fmt.Sprintf("Plan %s applied in part by <@%s> (%d created, %d updated, %d deleted): %s", planID, user,
			s.Created, s.Updated, s.Deleted, r.Text)
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

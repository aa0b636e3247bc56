package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

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
		{Name: "status", Description: "Show the last and next run of each job, failed case pushes, open alerts, the orgs to be deleted in the next 7 days and Salesforce's remaining API allowance.", run: runStatus},
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
		{Name: "explain", ArgsUsage: "<SFID|org-id>",
			Description: "Explain one account's org, read live: why each job's query selects it or not, the value each field should have and where it comes from, the org in Zendesk now, the next run's changes, and its last changes.",
			parseArgs:   parseExplainArgs, run: runExplain},
		{Name: "history", ArgsUsage: "<SFID|org-id|ticket-id|run-id> [N]",
			Description: fmt.Sprintf("Show the audited changes (and a ticket's case pushes) in time order, with who or what caused each; the last N (default %d).", DefaultHistoryLimit),
			parseArgs:   parseHistoryArgs, run: runHistory},
		{Name: "undo", ArgsUsage: "<run-id>", Writes: true,
			Description: "Preview the reversal of a run from its before-images, with Apply / Discard.",
			parseArgs:   parseUndoArgs, run: runUndo},
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
	b.WriteString("Buttons: Apply and Discard (previews, undos, mass-deletion approvals), Retry (failed case push), Run again (failed job); Apply, Discard, Retry and Run again are for allowed writers only.")
	return b.String()
}

func parseAccountArgs(a *Args, words []string) error {
	if len(words) == 0 {
		return errors.New("missing Salesforce account ID")
	}
	if len(words) > 2 {
		return fmt.Errorf("unexpected argument %q", syncer.Clip(words[2], 40))
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
			return fmt.Errorf("scope must be global or federal, not %q", syncer.Clip(words[1], 40))
		}
	}
	return nil
}

func parseTicketArgs(a *Args, words []string) error {
	word, err := oneWord(words, "ticket ID")
	if err != nil {
		return err
	}
	id, err := ParseTicketID(word)
	if err != nil {
		return err
	}
	a.TicketID = id
	return nil
}

func parseJobArgs(a *Args, words []string) error {
	word, err := oneWord(words, "job name")
	if err != nil {
		return err
	}
	for _, j := range runnableJobs() {
		if strings.EqualFold(word, string(j)) {
			a.Job = j
			return nil
		}
	}
	return fmt.Errorf("unknown job %q (jobs: %s)", syncer.Clip(word, 40), jobList())
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
	return previewReply(ctx, c, sum, func(plan *syncer.StoredPlan, writes int) string {
		return fmt.Sprintf("Preview %s of %s: %d changes to review; Apply or Discard.", plan.ID, plan.Job, writes)
	})
}

// previewReply shows the plan a dry run saved (sum.PlanID) for Apply or
// Discard, with the text that text makes of the plan and its number of
// writes.
func previewReply(ctx context.Context, c *Commands, sum *syncer.Summary, text func(plan *syncer.StoredPlan, writes int) string) Reply {
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
	return Reply{Kind: KindPreview, Public: true, Plan: plan, Summary: sum, Text: text(plan, writes)}
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

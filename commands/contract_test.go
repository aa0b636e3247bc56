package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/commands/commandstest"
	"github.com/zdsync/zdsync/syncer"
)

// A case push's errors carry the record "ticket 4521"; the bot makes the
// Retry button of a failed push from it, so it must parse.
func TestParseTicketIDReadsTheRecordForm(t *testing.T) {
	for _, s := range []string{"4521", "#4521", "ticket 4521", "Ticket #4521"} {
		if id, err := commands.ParseTicketID(s); err != nil || id != 4521 {
			t.Errorf("ParseTicketID(%q) = %d, %v; want 4521", s, id, err)
		}
	}
	for _, s := range []string{"ticket", "ticket ", "ticket x", "tickets 1", "ticket -1", "0"} {
		if _, err := commands.ParseTicketID(s); err == nil {
			t.Errorf("ParseTicketID(%q) accepted", s)
		}
	}
}

func TestPreviewThatStoredNoPlanSaysWhy(t *testing.T) {
	// The federal-users dry run failed, so it stored no plan.
	svc := &commandstest.Service{Answer: func(syncer.Request) *syncer.Summary {
		return &syncer.Summary{Job: syncer.JobFederalUsers, DryRun: true, Code: syncer.CodeAuthFailed, Message: "login refused"}
	}}
	c := commands.New(commands.Config{Service: svc})
	r := c.Run(context.Background(), commands.Request{User: "U1", Text: "federal-users preview"})
	if r.Kind != commands.KindSummary || r.Code != syncer.CodeAuthFailed || r.Plan != nil {
		t.Errorf("reply %+v; want a failed summary with code 9 and no plan", r)
	}
}

// A valid account ID that the job's query does not return says so, rather
// than "already in sync".
func TestAccountNotInTheQuerySaysSo(t *testing.T) {
	svc := &commandstest.Service{Answer: func(req syncer.Request) *syncer.Summary {
		return &syncer.Summary{Job: req.Job, Account: req.Account, Fetched: 0}
	}}
	c := commands.New(commands.Config{Service: svc})
	r := c.Run(context.Background(), commands.Request{User: "U1", Text: "account 0014M00001sGJ8xQAG --dry-run"})
	if !strings.Contains(r.Text, "no such account in the job's query") || strings.Contains(r.Text, "already in sync") {
		t.Errorf("reply %q", r.Text)
	}
}

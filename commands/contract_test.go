package commands_test

import (
	"context"
	"testing"

	"github.com/zdsync/zdsync/commands"
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

// failedPreview is a Service whose federal-users dry run failed, so it
// stored no plan (what serve's PreviewFederalUsers returns then).
type failedPreview struct{ fakeService }

func (f *failedPreview) PreviewFederalUsers(context.Context, string) (*syncer.StoredPlan, *syncer.Summary, error) {
	return nil, &syncer.Summary{Job: syncer.JobFederalUsers, DryRun: true, Code: syncer.CodeAuthFailed, Message: "login refused"}, nil
}

func TestPreviewThatStoredNoPlanSaysWhy(t *testing.T) {
	c := commands.New(commands.Config{Service: &failedPreview{}})
	r := c.Run(context.Background(), commands.Request{User: "U1", Text: "federal-users preview"})
	if r.Kind != commands.KindSummary || r.Code != syncer.CodeAuthFailed || r.Plan != nil {
		t.Errorf("reply %+v; want a failed summary with code 9 and no plan", r)
	}
}

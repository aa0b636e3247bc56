package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

// History limits of /zdsync history: the default number of entries, and
// the most one may ask for (the full list goes to an attached file).
const (
	DefaultHistoryLimit = 20
	MaxHistoryLimit     = 500
)

// oneWord returns the one argument of a command, or says that it is
// missing (what) or followed by another.
func oneWord(words []string, what string) (string, error) {
	if len(words) == 0 {
		return "", errors.New("missing " + what)
	}
	if len(words) > 1 {
		return "", fmt.Errorf("unexpected argument %q", syncer.Clip(words[1], 40))
	}
	return words[0], nil
}

func parseExplainArgs(a *Args, words []string) error {
	word, err := oneWord(words, "Salesforce account ID or Zendesk org ID")
	if err != nil {
		return err
	}
	sub, err := syncer.ParseSubject(word)
	if err != nil {
		return errors.New(syncer.ErrorMessage(err))
	}
	if sub.Kind == syncer.SubjectRun {
		return fmt.Errorf("%s is a run ID: explain takes a Salesforce account ID or a Zendesk org ID (try history)", sub.Value)
	}
	a.Subject = sub.Value
	return nil
}

func parseHistoryArgs(a *Args, words []string) error {
	if len(words) == 0 {
		return errors.New("missing Salesforce account ID, Zendesk ID or run ID")
	}
	if len(words) > 2 {
		return fmt.Errorf("unexpected argument %q", syncer.Clip(words[2], 40))
	}
	sub, err := syncer.ParseSubject(words[0])
	if err != nil {
		return errors.New(syncer.ErrorMessage(err))
	}
	a.Subject, a.Limit = sub.Value, DefaultHistoryLimit
	if len(words) == 2 {
		n, err := strconv.Atoi(words[1])
		if err != nil || n < 1 || n > MaxHistoryLimit {
			return fmt.Errorf("N must be a number from 1 to %d, not %q", MaxHistoryLimit, syncer.Clip(words[1], 40))
		}
		a.Limit = n
	}
	return nil
}

func parseUndoArgs(a *Args, words []string) error {
	word, err := oneWord(words, "run ID")
	if err != nil {
		return err
	}
	if !syncer.IsRunID(word) {
		return fmt.Errorf("%q is not a run ID (such as 20260101T120000-a1b2c3)", syncer.Clip(word, 40))
	}
	a.RunID = word
	return nil
}

func runExplain(ctx context.Context, c *Commands, call Call, _ string) Reply {
	ex := c.svc.Explain(ctx, call.Args.Subject, []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs})
	r := Reply{Kind: KindExplain, Explanation: ex, Code: ex.Code, Text: ExplainLine(ex)}
	if ex.Code != syncer.CodeNone {
		r.Kind = KindError
	}
	return r
}

// ExplainLine says in one line what explain found: per job, in the query
// or not, and in sync or how many changes the next run makes.
func ExplainLine(ex *syncer.Explanation) string {
	if ex.Code != syncer.CodeNone {
		return fmt.Sprintf("Failed (code %s): %s", ex.Code, ex.Message)
	}
	subject := ex.Account
	if ex.Name != "" {
		subject += " " + ex.Name
	}
	var parts []string
	for _, je := range ex.Jobs {
		switch {
		case je.Error != "":
			parts = append(parts, string(je.Job)+": "+je.Error)
		case !je.InQuery:
			parts = append(parts, string(je.Job)+": not in the query")
		case je.InSync:
			parts = append(parts, string(je.Job)+": in sync")
		default:
			parts = append(parts, fmt.Sprintf("%s: the next run makes %d change(s)", je.Job, len(je.Next)))
		}
	}
	return "Explain " + subject + ": " + strings.Join(parts, "; ")
}

func runHistory(ctx context.Context, c *Commands, call Call, _ string) Reply {
	h, err := c.svc.History(ctx, call.Args.Subject, call.Args.Limit)
	if err != nil {
		return errorReply(err)
	}
	return Reply{Kind: KindHistory, History: h, Text: HistoryLine(h)}
}

// HistoryLine says in one line what a history holds.
func HistoryLine(h *syncer.History) string {
	line := fmt.Sprintf("History of %s: %d change(s)", h.Subject, len(h.Changes)+h.More)
	if len(h.Pushes) > 0 {
		line += fmt.Sprintf(", %d case push record(s)", len(h.Pushes))
	}
	if len(h.Commands) > 0 {
		line += fmt.Sprintf(", %d command(s)", len(h.Commands))
	}
	if h.Run != nil && len(h.UndoneBy) > 0 {
		line += "; undone by run " + strings.Join(h.UndoneBy, ", ")
	}
	return line
}

func runUndo(ctx context.Context, c *Commands, call Call, user string) Reply {
	sum := c.svc.Run(ctx, syncer.Request{UndoOf: call.Args.RunID, Options: syncer.Options{DryRun: true, SavePlan: true, By: user}})
	if sum.PlanID == "" {
		// Nothing stored: the undo was refused, failed or has nothing to do.
		r := summaryReply(sum)
		if sum.OK() && sum.Message != "" {
			r.Text = "Undo of run " + call.Args.RunID + ": " + sum.Message
		}
		return r
	}
	return previewReply(ctx, c, sum, func(plan *syncer.StoredPlan, writes int) string {
		return fmt.Sprintf("Undo preview %s of run %s (%s): %d change(s) to review; Apply or Discard.", plan.ID, call.Args.RunID, plan.Job, writes)
	})
}

package syncer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Headline is the one-line outcome of a run, e.g. "global-orgs: 3 created,
// 10 updated, 0 deleted, 9,987 unchanged, 2 skipped, 1 failed in 4.2s".
func (s *Summary) Headline() string {
	verb := ""
	if s.DryRun {
		verb = " (dry run: would be)"
	}
	h := fmt.Sprintf("%s%s: %d created, %d updated, %d deleted, %d unchanged, %d skipped, %d failed in %s",
		s.Job, verb, s.Created, s.Updated, s.Deleted, s.Unchanged, s.Skipped, s.Failed,
		(time.Duration(s.DurationMS) * time.Millisecond).String())
	if s.Account != "" {
		h += " (account " + s.Account + ")"
	}
	return h
}

// DescribeChange renders one change on one line, the same wherever a
// change is shown (the CLI, the demo, Slack): action, kind, key, name, and
// the fields before → after (∅ for empty) or the reason, e.g. "update org
// 0015g00000ABCDEFGH Acme: support_level: gold → platinum".
func DescribeChange(c Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", c.Action, c.Kind, c.Key)
	if c.Name != "" && c.Name != c.Key {
		b.WriteString(" " + c.Name)
	}
	for i, d := range c.Diffs {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s: %s → %s", sep, d.Field, orNone(d.Before), orNone(d.After))
	}
	if c.Reason != "" {
		b.WriteString(" (" + c.Reason + ")")
	}
	return b.String()
}

// orNone shows an empty value as ∅.
func orNone(s string) string {
	if s == "" {
		return "∅"
	}
	return s
}

// WriteText writes a readable report of the run: the headline, the run's
// own failure, its notices, the record errors and warnings, and up to maxChanges changes
// ("and N more" after that).
func (s *Summary) WriteText(w io.Writer, maxChanges int) {
	fmt.Fprintln(w, s.Headline())
	fmt.Fprintf(w, "  run %s", s.RunID)
	if s.PlanID != "" {
		fmt.Fprintf(w, ", plan %s", s.PlanID)
	}
	if s.CaseID != "" {
		fmt.Fprintf(w, ", case %s", s.CaseID)
	}
	if s.UndoOf != "" {
		fmt.Fprintf(w, ", %s", UndoLine(s.UndoOf, s.UndoRecord))
	}
	fmt.Fprintln(w)
	if inc := s.Incremental; inc != nil {
		fmt.Fprintf(w, "  incremental: changes since %s (%d changed, %d not carried over yet), %d Salesforce and %d Zendesk API calls",
			inc.Since.UTC().Format(time.RFC3339), inc.Changed, inc.New, inc.SalesforceCalls, inc.ZendeskCalls)
		if !inc.Watermark.IsZero() {
			fmt.Fprintf(w, "; watermark now %s", inc.Watermark.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	}
	if !s.OK() {
		info := s.Code.Info()
		fmt.Fprintf(w, "  FAILED with code %s: %s\n  what to do: %s\n", s.Code, s.Message, info.Runbook)
	}
	if s.HeldPlanID != "" {
		fmt.Fprintf(w, "  deletions held for approval in plan %s (zdsync plan show %s)\n", s.HeldPlanID, s.HeldPlanID)
	}
	for _, sc := range s.SilentCounts() {
		fmt.Fprintf(w, "  silent code %s: %d (no action needed)\n", sc.Code, sc.Count)
	}
	for _, n := range s.Notices {
		fmt.Fprintf(w, "  notice: %s\n", n)
	}
	if len(s.Pending) > 0 {
		fmt.Fprintf(w, "  %d org(s) newly pending deletion (tagged %s):\n", len(s.Pending), TagPendingDeletion)
		for i, p := range s.Pending {
			if i == maxChanges {
				fmt.Fprintf(w, "    … and %d more\n", len(s.Pending)-i)
				break
			}
			fmt.Fprintln(w, "    "+PendingLine(p))
		}
	}
	printList(w, "error", s.Errors, maxChanges)
	printList(w, "warning", s.Warnings, maxChanges)
	shown := 0
	for _, c := range s.Changes {
		if shown == maxChanges {
			fmt.Fprintf(w, "  … and %d more changes\n", len(s.Changes)-shown)
			break
		}
		fmt.Fprintln(w, "  "+DescribeChange(c))
		shown++
	}
}

// printList prints record errors or warnings; the run's own failure (an
// error without a record) is printed above as the run's.
func printList(w io.Writer, what string, list []RecordError, max int) {
	shown := 0
	for i, e := range list {
		if e.Record == "" {
			continue
		}
		if shown == max {
			fmt.Fprintf(w, "  … and %d more %ss\n", len(list)-i, what)
			return
		}
		fmt.Fprintf(w, "  %s %s: code %d %s: %s\n", what, e.Record, e.Code, e.Name, e.Message)
		shown++
	}
}

// WritePlanText writes a stored plan as a short preview: counts by action,
// expiry, up to maxChanges changes with before → after, then up to
// maxChanges of its skips with their reasons (the plan lists them as the
// dry run that stored it did).
func WritePlanText(w io.Writer, p *StoredPlan, maxChanges int) {
	counts := map[Action]int{}
	var writes, skips []Change
	for _, c := range p.Changes {
		counts[c.Action]++
		if c.Action == Skip {
			skips = append(skips, c)
		} else {
			writes = append(writes, c)
		}
	}
	fmt.Fprintf(w, "plan %s (%s): %d to create, %d to update, %d to delete, %d skipped; expires %s\n", p.ID, p.Job,
		counts[Create], counts[Update], counts[Delete], counts[Skip], p.ExpiresAt.UTC().Format(time.RFC3339))
	switch {
	case p.Discarded:
		fmt.Fprintln(w, "  discarded")
	case !p.AppliedAt.IsZero():
		fmt.Fprintf(w, "  applied at %s in run %s\n", p.AppliedAt.UTC().Format(time.RFC3339), p.AppliedRun)
	}
	for _, list := range [][]Change{writes, skips} {
		for i, c := range list {
			if i == maxChanges {
				fmt.Fprintf(w, "  … and %d more (zdsync plan show %s --csv)\n", len(list)-i, p.ID)
				break
			}
			fmt.Fprintln(w, "  "+DescribeChange(c))
		}
	}
}

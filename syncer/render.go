package syncer

import (
	"encoding/csv"
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

// Silent returns how many record errors had each silent code.
func (s *Summary) Silent() map[Code]int {
	out := map[Code]int{}
	for _, e := range s.Errors {
		if e.Code.Silent() {
			out[e.Code]++
		}
	}
	return out
}

// DescribeChange renders one change on one line: action, kind, key, name,
// and the fields before → after or the reason.
func DescribeChange(c Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %s %s", c.Action, c.Kind, c.Key)
	if c.Name != "" && c.Name != c.Key {
		fmt.Fprintf(&b, " (%s)", c.Name)
	}
	for i, d := range c.Diffs {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s %s → %s", sep, d.Field, quoteEmpty(d.Before), quoteEmpty(d.After))
	}
	if c.Reason != "" {
		b.WriteString(" — " + c.Reason)
	}
	return b.String()
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// WriteText writes a readable report of the run: the headline, the run's
// own failure, the record errors and warnings, and up to maxChanges changes
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
	fmt.Fprintln(w)
	if !s.OK() {
		info := s.Code.Info()
		fmt.Fprintf(w, "  FAILED with code %s: %s\n  what to do: %s\n", s.Code, s.Message, info.Runbook)
	}
	if s.HeldPlanID != "" {
		fmt.Fprintf(w, "  deletions held for approval in plan %s (zdsync plan show %s)\n", s.HeldPlanID, s.HeldPlanID)
	}
	for c, n := range s.Silent() {
		fmt.Fprintf(w, "  silent code %s: %d (no action needed)\n", c, n)
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

func printList(w io.Writer, what string, list []RecordError, max int) {
	for i, e := range list {
		if i == max {
			fmt.Fprintf(w, "  … and %d more %ss\n", len(list)-i, what)
			return
		}
		fmt.Fprintf(w, "  %s %s: code %d %s: %s\n", what, e.Record, e.Code, e.Name, e.Message)
	}
}

// WritePlanText writes a stored plan as a short preview: counts by action,
// expiry, and up to maxChanges changes with before → after.
func WritePlanText(w io.Writer, p *StoredPlan, maxChanges int) {
	counts := map[Action]int{}
	for _, c := range p.Changes {
		counts[c.Action]++
	}
	fmt.Fprintf(w, "plan %s (%s): %d to create, %d to update, %d to delete; expires %s\n", p.ID, p.Job,
		counts[Create], counts[Update], counts[Delete], p.ExpiresAt.UTC().Format(time.RFC3339))
	switch {
	case p.Discarded:
		fmt.Fprintln(w, "  discarded")
	case !p.AppliedAt.IsZero():
		fmt.Fprintf(w, "  applied at %s in run %s\n", p.AppliedAt.UTC().Format(time.RFC3339), p.AppliedRun)
	}
	for i, c := range p.Changes {
		if i == maxChanges {
			fmt.Fprintf(w, "  … and %d more changes (zdsync plan show %s --csv)\n", len(p.Changes)-i, p.ID)
			break
		}
		fmt.Fprintln(w, "  "+DescribeChange(c))
	}
}

// CSVHeader is the header row of a plan or summary's changes as CSV.
var CSVHeader = []string{"action", "kind", "key", "name", "zendesk_id", "field", "before", "after", "reason"}

// WriteCSV writes changes as CSV: a header row, then one row per change
// (the fields of an update joined as "field: before → after" in one cell
// each of field, before and after, separated by newlines).
func WriteCSV(w io.Writer, changes []Change) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, c := range changes {
		var fields, before, after []string
		for _, d := range c.Diffs {
			fields, before, after = append(fields, d.Field), append(before, d.Before), append(after, d.After)
		}
		id := ""
		if c.ID != 0 {
			id = fmt.Sprint(c.ID)
		}
		if err := cw.Write([]string{string(c.Action), c.Kind, c.Key, c.Name, id,
			strings.Join(fields, "\n"), strings.Join(before, "\n"), strings.Join(after, "\n"), c.Reason}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

package syncer

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText writes the explanation as people read it, on the command line,
// in the demo and in the text attached in Slack: per job, the query's
// verdict and its conditions, the values the org should have and where
// they come from, what decides its fate, the org as it is, and the next
// run's changes; then the account's last changes.
func (ex *Explanation) WriteText(w io.Writer) {
	title := "explain " + ex.Account
	if ex.Name != "" {
		title += " " + ex.Name
	}
	fmt.Fprintf(w, "%s (read live %s)\n", title, ex.At.UTC().Format("2006-01-02 15:04 UTC"))
	if ex.Code != CodeNone {
		fmt.Fprintf(w, "  FAILED with code %s: %s\n  what to do: %s\n", ex.Code, ex.Message, ex.Code.Info().Runbook)
		return
	}
	if ex.Message != "" {
		fmt.Fprintln(w, "  "+ex.Message)
	}
	for _, je := range ex.Jobs {
		je.writeText(w)
	}
	fmt.Fprintln(w, "\nlast changes (audit):")
	if len(ex.Recent) == 0 {
		fmt.Fprintln(w, "  none recorded")
	}
	for _, e := range ex.Recent {
		fmt.Fprintln(w, "  "+HistoryLine(e))
	}
}

func (je *JobExplanation) writeText(w io.Writer) {
	verdict := "not in the query"
	if je.InQuery {
		verdict = "in the query"
	}
	fmt.Fprintf(w, "\n%s: %s — %s\n", je.Job, verdict, je.Query.Decides)
	for _, c := range je.Query.Conditions {
		mark := "✗"
		if c.Holds {
			mark = "✓"
		}
		fmt.Fprintf(w, "    %s %s: %s — %s\n", mark, c.Name, c.SOQL, c.Values)
	}
	if je.Error != "" {
		fmt.Fprintln(w, "  could not explain: "+je.Error)
		return
	}
	if len(je.Values) > 0 {
		fmt.Fprintln(w, "  the org should have:")
		for _, v := range je.Values {
			fmt.Fprintf(w, "    %s = %s ← %s\n", v.Field, orNone(v.Value), v.From)
		}
	}
	for _, n := range je.Notes {
		fmt.Fprintln(w, "  • "+n)
	}
	switch len(je.Orgs) {
	case 0:
		fmt.Fprintln(w, "  Zendesk now: no org has this external_id")
	default:
		for _, o := range je.Orgs {
			fmt.Fprintln(w, "  Zendesk now: "+OrgLine(o))
		}
	}
	if je.InSync {
		fmt.Fprintln(w, "  next run: in sync, nothing to change")
		return
	}
	fmt.Fprintln(w, "  next run would:")
	for _, c := range je.Next {
		fmt.Fprintln(w, "    "+DescribeChange(c))
	}
}

// OrgLine renders an org as it is in Zendesk on one line: ID, name, tags
// and fields (sorted).
func OrgLine(o Org) string {
	var b strings.Builder
	fmt.Fprintf(&b, "org %d %q", o.ID, o.Name)
	if len(o.Tags) > 0 {
		tags := slices.Clone(o.Tags)
		slices.Sort(tags)
		b.WriteString("; tags: " + strings.Join(tags, " "))
	}
	var fields []string
	for _, f := range o.Fields {
		if f.Value != nil {
			fields = append(fields, fmt.Sprintf("%s=%v", f.Key, f.Value))
		}
	}
	if len(fields) > 0 {
		b.WriteString("; fields: " + strings.Join(fields, ", "))
	}
	return b.String()
}

package bot

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

// AlertView is what a failure alert shows: the job and code it groups, how
// many failed runs it counts and since when, and the latest failed run.
type AlertView struct {
	Job        syncer.Job
	Code       syncer.Code
	Count      int
	FirstAt    time.Time
	LastAt     time.Time
	ResolvedAt time.Time
	// ResolvedBy is the run ID of the successful run that resolved it.
	ResolvedBy string
	// Latest is the newest failed run's summary.
	Latest *syncer.Summary
}

// QuietRun is one line of the quiet-runs status message.
type QuietRun = syncer.QuietRun

// ChangeLine renders one change as a list line (mrkdwn, escaped, at most
// MaxLineRunes): syncer.DescribeChange, the one rendering of a change.
func ChangeLine(c syncer.Change) string {
	return "• " + esc(cut(syncer.DescribeChange(c), MaxLineRunes))
}

// orNone shows an empty ID as ∅.
func orNone(s string) string {
	if s == "" {
		return "∅"
	}
	return s
}

func errorLine(e syncer.RecordError) string {
	s := fmt.Sprintf("%s — code %d %s", e.Record, int(e.Code), e.Code.Info().Name)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return "• " + esc(cut(s, MaxLineRunes))
}

// warningLine is one line of a run's warnings: a record that did not fail
// the run but needs a person (a value Salesforce holds that Zendesk cannot
// take, a ticket whose case-ID field is not a Salesforce ID).
func warningLine(w syncer.RecordError) string {
	return "⚠️ " + esc(cut(w.Record+": "+w.Message, MaxLineRunes))
}

// csvFile is a file of changes and record errors in syncer.WriteCSV's
// format (spreadsheet-safe), the same as `zdsync plan show --csv`.
func csvFile(name, title string, changes []syncer.Change, errs []syncer.RecordError) *File {
	var buf bytes.Buffer
	_ = syncer.WriteCSV(&buf, changes, errs) // a bytes.Buffer does not fail
	return &File{Name: name, Title: title, Content: buf.Bytes()}
}

// recordErrors are a run's errors of records, without the run's own
// failure (which messages show as the run's code).
func recordErrors(errs []syncer.RecordError) []syncer.RecordError {
	var out []syncer.RecordError
	for _, e := range errs {
		if e.Record != "" {
			out = append(out, e)
		}
	}
	return out
}

func silentCounts(s *syncer.Summary) string {
	var parts []string
	for _, sc := range s.SilentCounts() {
		parts = append(parts, fmt.Sprintf("%d × code %s", sc.Count, sc.Code))
	}
	if len(parts) == 0 {
		return ""
	}
	return "silent (counted, not alerted): " + strings.Join(parts, ", ")
}

func runIcon(s *syncer.Summary) string {
	switch {
	case !s.OK() || s.FirstFailure() != syncer.CodeNone:
		return "❌"
	case s.DryRun:
		return "🔍"
	default:
		return "✅"
	}
}

// RenderSummary renders a run's summary: counts by action, duration and
// API calls, silent codes counted, the run's notices, the first changes before → after, the
// first errors, and how to see more (the attached CSV, the run ID).
func RenderSummary(s *syncer.Summary) Message {
	line := commands.SummaryLine(s)
	blocks := []slack.Block{
		header(runIcon(s) + " " + line),
		fieldsBlock("Created", strconv.Itoa(s.Created), "Updated", strconv.Itoa(s.Updated),
			"Deleted", strconv.Itoa(s.Deleted), "Unchanged", strconv.Itoa(s.Unchanged),
			"Skipped", strconv.Itoa(s.Skipped), "Failed", strconv.Itoa(s.Failed)),
		contextBlock("Run `"+esc(orNone(s.RunID))+"`", "took "+fmtDuration(s.DurationMS),
			strconv.Itoa(s.APICalls)+" API calls", "started "+fmtTime(s.StartedAt), silentCounts(s)),
	}
	if !s.OK() {
		info := s.Code.Info()
		blocks = append(blocks, section(fmt.Sprintf("*Code %d %s:* %s", int(s.Code), esc(info.Name), esc(cut(s.Message, 1000)))))
	}
	if len(s.Notices) > 0 {
		lines := make([]string, len(s.Notices))
		for i, n := range s.Notices {
			lines[i] = "ℹ️ " + esc(n)
		}
		b, _ := listSection("*Notices*", lines, MaxListedErrors, "")
		blocks = append(blocks, b)
	}
	msg := Message{Text: escText(line)}
	var listCut bool
	if len(s.Changes) > 0 {
		lines := make([]string, len(s.Changes))
		for i, c := range s.Changes {
			lines[i] = ChangeLine(c)
		}
		title := "*Changes*"
		if s.DryRun {
			title = "*Planned changes*"
		}
		b, c := listSection(title, lines, MaxListedChanges, " (all in the attached CSV)")
		blocks = append(blocks, b)
		listCut = listCut || c
	}
	if len(s.Pending) > 0 {
		blocks = append(blocks, pendingSection(s.Pending))
	}
	if len(s.Warnings) > 0 {
		lines := make([]string, len(s.Warnings))
		for i, w := range s.Warnings {
			lines[i] = warningLine(w)
		}
		b, _ := listSection("*Warnings* (synced or skipped, not failed)", lines, MaxListedErrors,
			": `zdsync history "+esc(orNone(s.RunID))+"` lists them all")
		blocks = append(blocks, b)
	}
	if errs := recordErrors(s.Errors); len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = errorLine(e)
		}
		b, c := listSection("*Errors*", lines, MaxListedErrors, " (all in the attached CSV)")
		blocks = append(blocks, b)
		listCut = listCut || c
	}
	more := "Details: `zdsync sync " + string(s.Job) + " --dry-run --json` shows the full plan"
	if s.PlanID != "" {
		more = "Full plan: `zdsync plan show " + esc(s.PlanID) + "`"
	}
	if listCut {
		msg.CSV = csvFile(csvName(s.Job, s.RunID), "All changes and errors of "+string(s.Job)+" run "+s.RunID, s.Changes, s.Errors)
		more = "Full list attached as CSV · " + more
	}
	blocks = append(blocks, contextBlock(more))
	msg.Blocks = blocks
	return msg
}

func csvName(job syncer.Job, id string) string {
	if id == "" {
		id = "run"
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
	return string(job) + "-" + cut(safe, 80) + ".csv"
}

// RenderAlert renders a failure alert: the code and name from syncer.Codes,
// what happened to which records, the runbook text, the run ID, the count
// of grouped failures, and Retry (failed case push) or Run again (failed
// job) buttons. A resolved alert loses its buttons and says which run
// resolved it.
func RenderAlert(a AlertView) Message {
	info := a.Code.Info()
	title := fmt.Sprintf("🚨 %s failed: code %d %s", a.Job, int(a.Code), info.Name)
	if !a.ResolvedAt.IsZero() {
		title = fmt.Sprintf("✅ Resolved: %s code %d %s", a.Job, int(a.Code), info.Name)
	}
	s := a.Latest
	if s == nil {
		s = &syncer.Summary{Job: a.Job}
	}
	what := "*What happened:* " + esc(info.Meaning)
	if s.Message != "" {
		what += "\n> " + esc(cut(s.Message, 1000))
	}
	blocks := []slack.Block{header(title), section(what)}
	var recs []syncer.RecordError
	for _, e := range recordErrors(s.Errors) {
		if e.Code == a.Code {
			recs = append(recs, e)
		}
	}
	msg := Message{Text: esc(title)}
	if len(recs) > 0 {
		lines := make([]string, len(recs))
		for i, e := range recs {
			lines[i] = errorLine(e)
		}
		b, c := listSection(fmt.Sprintf("*Records affected (%d):*", len(recs)), lines, MaxListedErrors, " (all in the attached CSV)")
		blocks = append(blocks, b)
		if c {
			msg.CSV = csvFile(csvName(a.Job, s.RunID), "Failed records of "+string(a.Job)+" run "+s.RunID, nil, recs)
		}
	}
	blocks = append(blocks, section("*Runbook:* "+esc(info.Runbook)))
	count := "failed once"
	if a.Count > 1 {
		count = fmt.Sprintf("failed %d times", a.Count)
	}
	ctx := []string{"Run `" + esc(orNone(s.RunID)) + "`", count + " since " + fmtTime(a.FirstAt), "last " + fmtTime(a.LastAt)}
	switch {
	case !a.ResolvedAt.IsZero() && a.ResolvedBy != "":
		ctx = append(ctx, "resolved "+fmtTime(a.ResolvedAt)+" by run `"+esc(a.ResolvedBy)+"`")
	case !a.ResolvedAt.IsZero():
		ctx = append(ctx, "resolved "+fmtTime(a.ResolvedAt))
	}
	blocks = append(blocks, contextBlock(ctx...))
	if a.ResolvedAt.IsZero() {
		if a.Job == syncer.JobCases {
			var bs []*slack.ButtonBlockElement
			seen := map[int64]bool{}
			for _, e := range recs {
				id, err := commands.ParseTicketID(e.Record)
				if err != nil || seen[id] || len(bs) >= MaxRetryButtons {
					continue
				}
				seen[id] = true
				label := "Retry"
				if len(recs) > 1 {
					label = "Retry #" + strconv.FormatInt(id, 10)
				}
				bs = append(bs, button(commands.ActionRetry+":"+strconv.FormatInt(id, 10), label, strconv.FormatInt(id, 10), "primary"))
			}
			if len(bs) > 0 {
				blocks = append(blocks, actions("alert_actions", bs...))
			}
		} else if _, runnable := syncer.ParseJob(string(a.Job)); runnable {
			blocks = append(blocks, actions("alert_actions", button(commands.ActionRunAgain, "Run again", string(a.Job), "primary")))
		}
	}
	msg.Blocks = blocks
	return msg
}

// RenderAlertReply renders the thread reply that a repeated failure adds
// under its open alert.
func RenderAlertReply(a AlertView) Message {
	s := a.Latest
	if s == nil {
		s = &syncer.Summary{Job: a.Job}
	}
	t := fmt.Sprintf("Failed again (%d times now): run `%s` at %s", a.Count, esc(orNone(s.RunID)), fmtTime(a.LastAt))
	if s.Message != "" {
		t += " — " + esc(cut(s.Message, 500))
	}
	return Message{Text: t, Blocks: []slack.Block{section(t)}}
}

func planCounts(p *syncer.StoredPlan) (create, update, del, skip int) {
	for _, c := range p.Changes {
		switch c.Action {
		case syncer.Create:
			create++
		case syncer.Update:
			update++
		case syncer.Delete:
			del++
		case syncer.Skip:
			skip++
		}
	}
	return
}

func planList(p *syncer.StoredPlan, title string) (slack.Block, bool) {
	lines := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		lines[i] = ChangeLine(c)
	}
	return listSection(title, lines, MaxListedChanges, " (all in the attached CSV)")
}

func planActions(p *syncer.StoredPlan) slack.Block {
	return actions("plan_actions",
		button(commands.ActionApply, "Apply", p.ID, "primary"),
		button(commands.ActionDiscard, "Discard", p.ID, "danger"))
}

func planContext(p *syncer.StoredPlan) slack.Block {
	by := ""
	if p.CreatedBy != "" {
		by = "made by <@" + esc(p.CreatedBy) + ">"
	}
	return contextBlock("Plan "+codeSpan(p.ID), "expires "+fmtTime(p.ExpiresAt), by,
		"Only allowed writers can Apply or Discard", codeSpan("zdsync plan show "+p.ID)+" shows it all")
}

// RenderPreview renders a stored plan awaiting approval: counts by action,
// the first changes, and Apply / Discard buttons; the full list is
// attached as CSV.
func RenderPreview(p *syncer.StoredPlan, s *syncer.Summary) Message {
	c, u, d, _ := planCounts(p)
	title := fmt.Sprintf("🔍 Preview of %s: %d changes", p.Job, c+u+d)
	var notes []slack.Block
	if s != nil && len(recordErrors(s.Errors)) > 0 {
		notes = append(notes, contextBlock(fmt.Sprintf("%d records reported during planning (in the CSV)", len(recordErrors(s.Errors))), silentCounts(s)))
	}
	msg := Message{Text: title, Blocks: planBlocks(p, title, "Nothing to change: Zendesk is already in step.", notes...)}
	var errs []syncer.RecordError
	if s != nil {
		errs = recordErrors(s.Errors)
	}
	if len(p.Changes) > 0 || len(errs) > 0 {
		msg.CSV = csvFile(csvName(p.Job, p.ID), "Preview "+p.ID+" of "+string(p.Job), p.Changes, errs)
	}
	return msg
}

// planBlocks are the blocks of a stored plan awaiting Apply or Discard:
// the title, its counts by action, the notes, its first changes (nothing
// when it changes nothing), who made it and the buttons.
func planBlocks(p *syncer.StoredPlan, title, nothing string, notes ...slack.Block) []slack.Block {
	c, u, d, k := planCounts(p)
	blocks := []slack.Block{
		header(title),
		fieldsBlock("To create", strconv.Itoa(c), "To update", strconv.Itoa(u), "To delete", strconv.Itoa(d), "Skipped", strconv.Itoa(k)),
	}
	blocks = append(blocks, notes...)
	if c+u+d == 0 {
		blocks = append(blocks, section(nothing))
	} else {
		b, _ := planList(p, "*First changes*")
		blocks = append(blocks, b)
	}
	return append(blocks, planContext(p), planActions(p))
}

// RenderApproval renders a mass-deletion approval: the deletions a run held
// back because they exceeded the threshold, with Apply / Discard.
func RenderApproval(p *syncer.StoredPlan, s *syncer.Summary) Message {
	_, _, d, _ := planCounts(p)
	title := fmt.Sprintf("⚠️ %s: %d deletions need approval", p.Job, d)
	text := fmt.Sprintf("The run wanted to delete %d organizations, more than the threshold allows without approval. "+
		"These deletions were held back as a stored plan; the rest of the run was applied. "+
		"Check that Salesforce returned the full account list before you Apply.", d)
	if s != nil && s.RunID != "" {
		text += " Run `" + esc(s.RunID) + "`."
	}
	blocks := []slack.Block{header(title), section(text)}
	b, _ := planList(p, "*Deletions*")
	blocks = append(blocks, b, planContext(p), planActions(p))
	return Message{Text: title, Blocks: blocks, CSV: csvFile(csvName(p.Job, p.ID), "Deletions held for approval, plan "+p.ID, p.Changes, nil)}
}

// RenderQuiet renders the status message that quiet runs edit in place.
func RenderQuiet(runs []QuietRun) Message {
	var lines []string
	for _, q := range runs {
		l := fmt.Sprintf("• `%s` last quiet run %s, %d quiet run", q.Job, fmtTime(q.Last), q.Count)
		if q.Count != 1 {
			l += "s"
		}
		l += " in a row"
		if q.Silent > 0 {
			l += fmt.Sprintf(" (%d silent codes counted)", q.Silent)
		}
		lines = append(lines, l)
	}
	b, _ := listSection("*Quiet runs* (nothing changed, nothing failed)", lines, 40, "")
	return Message{Text: "zdsync quiet runs", Blocks: []slack.Block{b}}
}

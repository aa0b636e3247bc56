package bot

import (
	"fmt"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

// RenderStatus renders /zdsync status.
func RenderStatus(st syncer.Status) Message {
	blocks := []slack.Block{header("zdsync status")}
	var jobs []string
	for _, j := range st.Jobs {
		sched := j.Schedule
		if sched == "" {
			sched = "off"
		}
		next := "not scheduled"
		if !j.NextRun.IsZero() {
			next = "next " + fmtTime(j.NextRun)
		}
		l := fmt.Sprintf("• *%s* — schedule `%s`, %s", j.Job, esc(sched), next)
		if j.LastRun != nil {
			l += fmt.Sprintf("\n   last %s %s", fmtTime(j.LastRun.StartedAt), esc(runIcon(j.LastRun)+" "+commands.SummaryLine(j.LastRun)))
		} else {
			l += "\n   never ran"
		}
		if j.Incremental != nil {
			l += "\n   " + incrementalLine(j.Incremental)
		}
		jobs = append(jobs, l)
	}
	b, _ := listSection("*Jobs*", jobs, 20, "")
	blocks = append(blocks, b)
	var pushes []string
	for _, p := range st.FailedPushes {
		pushes = append(pushes, esc(fmt.Sprintf("• ticket %d — code %s at %s: %s", p.TicketID, p.Code, fmtTime(p.At), cut(p.Message, 200))))
	}
	if len(pushes) == 0 {
		pushes = []string{"none"}
	}
	b, _ = listSection("*Failed case pushes*", pushes, MaxListedChanges, "")
	blocks = append(blocks, b)
	var alerts []string
	for _, a := range st.OpenAlerts {
		alerts = append(alerts, esc(fmt.Sprintf("• %s code %s — %d failures since %s", a.Job, a.Code, a.Count, fmtTime(a.FirstAt))))
	}
	if len(alerts) == 0 {
		alerts = []string{"none"}
	}
	b, _ = listSection("*Open alerts*", alerts, MaxListedChanges, "")
	blocks = append(blocks, b, deletionsSection(st.Deletions), section("*Salesforce API allowance*\n"+esc(allowanceLine(st))))
	return Message{Text: "zdsync status", Blocks: blocks}
}

// incrementalLine says how fresh a job's incremental runs keep Zendesk:
// their schedule, the freshness (now − watermark), this hour's runs and
// API calls, the accounts retried and the last run that changed something
// or failed.
func incrementalLine(inc *syncer.IncrementalStatus) string {
	sched := inc.Schedule
	if sched == "" {
		sched = "off"
	}
	l := fmt.Sprintf("near real time `%s`", esc(sched))
	if inc.Caught.IsZero() {
		return l + ", no change carried over yet"
	}
	l += fmt.Sprintf(", fresh to %s ago (%s)", inc.Freshness.Round(time.Second), fmtTime(inc.Caught))
	if t := inc.Tally; t.Runs > 0 {
		l += fmt.Sprintf("; since %s: %d runs, %d Salesforce and %d Zendesk API calls", t.Since.UTC().Format("15:04"),
			t.Runs, t.SalesforceCalls, t.ZendeskCalls)
	}
	if inc.Retrying > 0 {
		l += fmt.Sprintf("; %d accounts being retried", inc.Retrying)
	}
	if inc.LastRun != nil {
		l += fmt.Sprintf("\n   last incremental change %s %s", fmtTime(inc.LastRun.StartedAt), esc(runIcon(inc.LastRun)+" "+commands.SummaryLine(inc.LastRun)))
	}
	return l
}

// allowanceLine says how much of Salesforce's daily API allowance is left,
// against the reserve of scheduled full runs.
func allowanceLine(st syncer.Status) string {
	reserve := strconv.FormatFloat(st.Reserve*100, 'f', -1, 64) + "%"
	switch {
	case st.Allowance == nil && st.AllowanceError != "":
		return "could not be read: " + cut(st.AllowanceError, 200)
	case st.Allowance == nil:
		return "not read"
	case st.Allowance.Max <= 0:
		return fmt.Sprintf("%d requests left (no daily maximum reported)", st.Allowance.Remaining)
	}
	a := st.Allowance
	line := fmt.Sprintf("%d of %d daily requests left (%.0f%%); scheduled runs are skipped below the reserve of %s",
		a.Remaining, a.Max, 100*float64(a.Remaining)/float64(a.Max), reserve)
	if float64(a.Remaining) < st.Reserve*float64(a.Max) {
		line += " — below it now"
	}
	return line
}

// RenderReply renders the answer to a command or a button press. Every
// value a user supplied is escaped in the message's text as in its blocks.
func RenderReply(r commands.Reply) Message {
	if m, ok := onCallReply(r); ok {
		return m
	}
	text := escText(r.Text)
	switch r.Kind {
	case commands.KindSummary:
		if r.Summary != nil {
			m := RenderSummary(r.Summary)
			if r.Command == commands.ActionApply || r.Command == commands.ActionRetry || r.Command == commands.ActionRunAgain {
				m.Blocks = append([]slack.Block{section(text)}, m.Blocks...)
			}
			m.Text = text
			return m
		}
	case commands.KindPreview:
		if r.Plan != nil {
			return RenderPreview(r.Plan, r.Summary)
		}
	case commands.KindStatus:
		if r.Status != nil {
			return RenderStatus(*r.Status)
		}
	case commands.KindUsage:
		return Message{Text: text, Blocks: []slack.Block{section("⚠️ " + text)}}
	case commands.KindDenied:
		return Message{Text: text, Blocks: []slack.Block{section("⛔ " + text)}}
	case commands.KindError:
		info := r.Code.Info()
		return Message{Text: text, Blocks: []slack.Block{section("❌ " + text), contextBlock("*Runbook:* " + esc(info.Runbook))}}
	case commands.KindDiscarded:
		return Message{Text: text, Blocks: []slack.Block{section("🗑️ " + text)}}
	}
	return Message{Text: text, Blocks: []slack.Block{section(text)}}
}

// deletionsSection lists the orgs a full run will delete within
// syncer.DeletionHorizon, when their grace period ends.
func deletionsSection(pending []syncer.PendingDeletion) slack.Block {
	lines := make([]string, len(pending))
	for i, p := range pending {
		lines[i] = "• " + esc(cut(syncer.PendingLine(p), MaxLineRunes))
	}
	if len(lines) == 0 {
		lines = []string{"none"}
	}
	b, _ := listSection("*To be deleted in the next 7 days* (tagged `"+syncer.TagPendingDeletion+"`; `do_not_delete` keeps one)", lines, MaxListedChanges, "")
	return b
}

// pendingSection lists the orgs a run newly tagged pending deletion, with
// the day from which a full run deletes them.
func pendingSection(pending []syncer.PendingDeletion) slack.Block {
	lines := make([]string, len(pending))
	for i, p := range pending {
		lines[i] = "• " + esc(cut(syncer.PendingLine(p), MaxLineRunes))
	}
	b, _ := listSection(fmt.Sprintf("*Newly pending deletion (%d)* — tagged `%s`; tag `do_not_delete` to keep one", len(pending), syncer.TagPendingDeletion),
		lines, MaxListedChanges, "")
	return b
}

package bot

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

// mention is a Slack user mention as esc leaves it: escaped.
var mention = regexp.MustCompile(`&lt;@([UW][A-Z0-9]+)&gt;`)

// escMentions escapes s for mrkdwn but keeps the user mentions <@U…> that
// syncer.ByWho writes, so that Slack shows the user's name.
func escMentions(s string) string { return mention.ReplaceAllString(esc(s), "<@$1>") }

// MaxListedHistory is how many entries a history message lists before
// "and N more"; the full history is attached as text.
const MaxListedHistory = 15

// textFile is a plain-text attachment holding a long answer whole.
func textFile(name, title string, write func(w *bytes.Buffer)) *File {
	var buf bytes.Buffer
	write(&buf)
	return &File{Name: name, Title: title, Content: buf.Bytes()}
}

// RenderExplanation renders explain's answer: per job, the query's verdict
// with the conditions that decide it, the values the org should have and
// where they come from, what decides its fate, the org in Zendesk now and
// the next run's changes; then the last audited changes. A list cut short
// attaches the whole answer as text.
func RenderExplanation(ex *syncer.Explanation) Message {
	title := "🔎 Explain " + ex.Account
	if ex.Name != "" {
		title += " " + ex.Name
	}
	blocks := []slack.Block{header(title)}
	cutAny := false
	add := func(b slack.Block, cut bool) {
		blocks = append(blocks, b)
		cutAny = cutAny || cut
	}
	for _, je := range ex.Jobs {
		verdict := "not in the query"
		if je.InQuery {
			verdict = "in the query"
		}
		lines := []string{}
		for _, c := range je.Query.Conditions {
			mark := "✗"
			if c.Holds {
				mark = "✓"
			}
			lines = append(lines, esc(fmt.Sprintf("%s %s — %s", mark, c.Name, c.Values)))
		}
		add(listSection(fmt.Sprintf("*%s: %s* — %s", je.Job, verdict, esc(je.Query.Decides)), lines, 10, ""))
		if je.Error != "" {
			add(section("⚠️ "+esc(je.Error)), false)
			continue
		}
		if len(je.Values) > 0 {
			lines = lines[:0]
			for _, v := range je.Values {
				lines = append(lines, "• "+esc(cut(fmt.Sprintf("%s = %s ← %s", v.Field, orNone(v.Value), v.From), MaxLineRunes)))
			}
			add(listSection("*Should have*", lines, 20, " (all in the attached text)"))
		}
		lines = lines[:0]
		for _, n := range je.Notes {
			lines = append(lines, "• "+esc(cut(n, MaxLineRunes)))
		}
		for _, o := range je.Orgs {
			lines = append(lines, "• Zendesk now: "+esc(cut(syncer.OrgLine(o), MaxLineRunes)))
		}
		if len(je.Orgs) == 0 {
			lines = append(lines, "• Zendesk now: no org has this external_id")
		}
		add(listSection("*Notes*", lines, 10, " (all in the attached text)"))
		if je.InSync {
			add(section("*Next run:* in sync, nothing to change"), false)
			continue
		}
		lines = lines[:0]
		for _, c := range je.Next {
			lines = append(lines, ChangeLine(c))
		}
		add(listSection("*Next run would*", lines, MaxListedChanges, " (all in the attached text)"))
	}
	lines := []string{}
	for _, e := range ex.Recent {
		lines = append(lines, "• "+escMentions(cut(syncer.HistoryLine(e), MaxLineRunes)))
	}
	if len(lines) == 0 {
		lines = []string{"none recorded"}
	}
	add(listSection("*Last changes*", lines, commandsRecent, ""))
	blocks = append(blocks, contextBlock("Read live "+fmtTime(ex.At), "`zdsync explain "+esc(ex.Account)+"` prints it all"))
	msg := Message{Text: commands.ExplainLine(ex), Blocks: blocks}
	if cutAny {
		msg.CSV = textFile("explain-"+ex.Account+".txt", "Explain "+ex.Account, func(w *bytes.Buffer) { ex.WriteText(w) })
	}
	return msg
}

// commandsRecent is how many recent changes explain's message lists.
const commandsRecent = 5

// RenderHistory renders a history: the run asked about, then the audited
// changes, case pushes and commands in time order. A list cut short
// attaches the whole history as text.
func RenderHistory(h *syncer.History) Message {
	blocks := []slack.Block{header("🕘 History of " + h.Subject.String())}
	if r := h.Run; r != nil {
		t := fmt.Sprintf("*Run* `%s`: %s, started %s by %s", esc(r.RunID), esc(commands.SummaryLine(r)), fmtTime(r.StartedAt), escMentions(syncer.ByWho(r.By)))
		if r.UndoOf != "" {
			t += "\nAn undo of run `" + esc(r.UndoOf) + "`"
		}
		for _, u := range h.UndoneBy {
			t += "\nUndone by run `" + esc(u) + "`"
		}
		blocks = append(blocks, section(t))
	}
	cutAny := h.More > 0
	list := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		b, c := listSection(title, lines, MaxListedHistory, " (all in the attached text)")
		blocks = append(blocks, b)
		cutAny = cutAny || c
	}
	var lines []string
	for _, e := range h.Changes {
		lines = append(lines, "• "+escMentions(cut(syncer.HistoryLine(e), MaxLineRunes)))
	}
	title := fmt.Sprintf("*Changes (%d)*", len(h.Changes)+h.More)
	if h.More > 0 {
		title += fmt.Sprintf(" — %d shown", len(h.Changes))
	}
	list(title, lines)
	lines = nil
	if h.Run != nil {
		for _, w := range h.Run.Warnings {
			lines = append(lines, warningLine(w))
		}
		list("*Warnings of the run*", lines)
		lines = nil
	}
	for _, p := range h.Pushes {
		lines = append(lines, "• "+esc(cut(syncer.PushLine(p), MaxLineRunes)))
	}
	list("*Case pushes*", lines)
	lines = nil
	for _, c := range h.Commands {
		lines = append(lines, "• "+escMentions(cut(syncer.CommandLine(c), MaxLineRunes)))
	}
	list("*Commands*", lines)
	if len(h.Changes)+len(h.Pushes)+len(h.Commands) == 0 {
		blocks = append(blocks, section("Nothing recorded."))
	}
	blocks = append(blocks, contextBlock("`zdsync history "+esc(h.Subject.Value)+" --limit N` prints more"))
	msg := Message{Text: commands.HistoryLine(h), Blocks: blocks}
	if cutAny {
		msg.CSV = textFile("history-"+h.Subject.Value+".txt", "History of "+h.Subject.String(), func(w *bytes.Buffer) { h.WriteText(w) })
	}
	return msg
}

// RenderUndoPreview renders a stored undo plan awaiting approval: what it
// reverses, counts by action, the records changed since (skipped with code
// 11 when applied), the first changes and Apply / Discard; the full list is
// attached as CSV.
func RenderUndoPreview(p *syncer.StoredPlan) Message {
	c, u, d, _ := planCounts(p)
	what := "run " + p.UndoOf
	if p.UndoRecord != "" {
		what = "record " + p.UndoRecord + " of run " + p.UndoOf
	}
	title := fmt.Sprintf("↩️ Undo of %s (%s): %d changes", what, p.Job, c+u+d)
	stale := 0
	for _, ch := range p.Changes {
		if ch.SkipCode != syncer.CodeNone {
			stale++
		}
	}
	var notes []slack.Block
	if stale > 0 {
		notes = append(notes, section(fmt.Sprintf("⚠️ %d record(s) changed since the run: they are left as they are and reported with code %s.", stale, syncer.CodePlanStale)))
	}
	msg := Message{Text: title, Blocks: planBlocks(p, title, "Nothing to change.", notes...)}
	if len(p.Changes) > 0 {
		msg.CSV = csvFile(csvName(p.Job, p.ID), "Undo "+p.ID+" of "+what, p.Changes, nil)
	}
	return msg
}

// onCallReply renders the replies of explain and history, and undo
// previews; ok is false for any other reply.
func onCallReply(r commands.Reply) (Message, bool) {
	switch {
	case r.Kind == commands.KindExplain && r.Explanation != nil:
		return RenderExplanation(r.Explanation), true
	case r.Kind == commands.KindHistory && r.History != nil:
		return RenderHistory(r.History), true
	case r.Kind == commands.KindPreview && r.Plan != nil && r.Plan.UndoOf != "":
		return RenderUndoPreview(r.Plan), true
	}
	return Message{}, false
}

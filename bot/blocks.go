package bot

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's documented Block Kit limits
// (https://api.slack.com/reference/block-kit/blocks and the pages of each
// block and element). Every rendered message stays within them; CheckLimits
// verifies it.
const (
	// MaxBlocks is the most blocks a message may carry.
	MaxBlocks = 50
	// MaxSectionText is the longest text of a section block.
	MaxSectionText = 3000
	// MaxSectionFields is the most fields a section block may carry.
	MaxSectionFields = 10
	// MaxFieldText is the longest text of one section field.
	MaxFieldText = 2000
	// MaxHeaderText is the longest plain text of a header block.
	MaxHeaderText = 150
	// MaxContextElements is the most elements a context block may carry.
	MaxContextElements = 10
	// MaxActionElements is the most elements an actions block may carry.
	MaxActionElements = 25
	// MaxButtonText is the longest label of a button.
	MaxButtonText = 75
	// MaxButtonValue is the longest value of a button.
	MaxButtonValue = 2000
	// MaxActionID is the longest action_id (and block_id).
	MaxActionID = 255
	// MaxMessageText is the longest top-level text of chat.postMessage;
	// Slack truncates beyond it.
	MaxMessageText = 40000
)

// Our own presentation limits, well within Slack's.
const (
	// MaxListedChanges is how many changes a message lists before "and N
	// more"; the full list is attached as CSV.
	MaxListedChanges = 10
	// MaxListedErrors is how many record errors a message lists.
	MaxListedErrors = 5
	// MaxLineRunes is the longest single line of a list (one change with
	// its diffs, one error).
	MaxLineRunes = 400
	// MaxRetryButtons is how many Retry buttons a case alert offers.
	MaxRetryButtons = 5
)

// Message is one rendered Slack message: its notification text, its blocks
// and, when a list was cut, the full list as a CSV file to attach.
type Message struct {
	Text   string
	Blocks []slack.Block
	CSV    *File
}

// File is a file to upload beside a message.
type File struct {
	Name    string
	Title   string
	Content []byte
}

// esc escapes the three characters Slack's mrkdwn requires escaped
// (https://api.slack.com/reference/surfaces/formatting#escaping).
var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// escapedMention is a user mention (<@U…>, <@W…>: "Mentioning users",
// https://api.slack.com/reference/surfaces/formatting#mentioning-users)
// after esc.
var escapedMention = regexp.MustCompile(`&lt;@([UW][A-Z0-9]{2,20})&gt;`)

// escText escapes a text for Slack's mrkdwn (the top-level text of a
// message, or a block's), keeping the user mentions that the replies of
// package commands write ("applied by <@U…>"): every other <, > and & is
// shown as itself, never read as a link, a mention or a command.
func escText(s string) string {
	return escapedMention.ReplaceAllString(esc(s), "<@$1>")
}

// codeSpan renders s as inline code that s cannot break out of: Slack's
// mrkdwn has no escape for a backtick, so one in s becomes the look-alike
// ˋ (U+02CB), and a line break a space (inline code is one line).
func codeSpan(s string) string {
	return "`" + esc(strings.NewReplacer("`", "ˋ", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)) + "`"
}

// cut shortens s to n runes, ending it with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d < time.Second {
		return d.String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func header(s string) slack.Block {
	return slack.NewHeaderBlock(plain(cut(s, MaxHeaderText)))
}

func section(s string) slack.Block {
	return slack.NewSectionBlock(mrkdwn(cut(s, MaxSectionText)), nil, nil)
}

func fieldsBlock(pairs ...string) slack.Block {
	var fs []*slack.TextBlockObject
	for i := 0; i+1 < len(pairs) && len(fs) < MaxSectionFields; i += 2 {
		fs = append(fs, mrkdwn(cut("*"+pairs[i]+"*\n"+pairs[i+1], MaxFieldText)))
	}
	return slack.NewSectionBlock(nil, fs, nil)
}

func contextBlock(parts ...string) slack.Block {
	var els []slack.MixedElement
	for _, p := range parts {
		if p != "" && len(els) < MaxContextElements {
			els = append(els, mrkdwn(cut(p, MaxSectionText)))
		}
	}
	return slack.NewContextBlock("", els...)
}

func button(actionID, label, value, style string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(cut(actionID, MaxActionID), cut(value, MaxButtonValue), plain(cut(label, MaxButtonText)))
	if style != "" {
		b.Style = slack.Style(style)
	}
	return b
}

func actions(blockID string, bs ...*slack.ButtonBlockElement) slack.Block {
	var els []slack.BlockElement
	for _, b := range bs {
		if len(els) < MaxActionElements {
			els = append(els, b)
		}
	}
	return slack.NewActionBlock(blockID, els...)
}

// listSection renders title and as many lines as fit (at most max, and
// within MaxSectionText) in one section, ending with "…and N more" when some
// were left out.
func listSection(title string, lines []string, max int, more string) (slack.Block, bool) {
	var b strings.Builder
	b.WriteString(title)
	shown := 0
	// Reserve room for the "and N more" line.
	const reserve = 120
	for _, l := range lines {
		if shown >= max || b.Len()+1+len(l)+reserve > MaxSectionText {
			break
		}
		b.WriteString("\n")
		b.WriteString(l)
		shown++
	}
	cutList := shown < len(lines)
	if cutList {
		fmt.Fprintf(&b, "\n…and %d more%s", len(lines)-shown, more)
	}
	return section(b.String()), cutList
}

// CheckLimits reports the first way m exceeds Slack's documented Block Kit
// limits, or nil.
func CheckLimits(m Message) error {
	if len(m.Blocks) > MaxBlocks {
		return fmt.Errorf("%d blocks, more than %d", len(m.Blocks), MaxBlocks)
	}
	if n := utf8.RuneCountInString(m.Text); n > MaxMessageText {
		return fmt.Errorf("message text of %d characters, more than %d", n, MaxMessageText)
	}
	text := func(where string, t *slack.TextBlockObject, max int) error {
		if t != nil && utf8.RuneCountInString(t.Text) > max {
			return fmt.Errorf("%s text of %d characters, more than %d", where, utf8.RuneCountInString(t.Text), max)
		}
		return nil
	}
	for i, b := range m.Blocks {
		where := fmt.Sprintf("block %d (%s)", i, b.BlockType())
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if err := text(where, b.Text, MaxHeaderText); err != nil {
				return err
			}
		case *slack.SectionBlock:
			if err := text(where, b.Text, MaxSectionText); err != nil {
				return err
			}
			if len(b.Fields) > MaxSectionFields {
				return fmt.Errorf("%s has %d fields, more than %d", where, len(b.Fields), MaxSectionFields)
			}
			for _, f := range b.Fields {
				if err := text(where+" field", f, MaxFieldText); err != nil {
					return err
				}
			}
		case *slack.ContextBlock:
			if len(b.ContextElements.Elements) > MaxContextElements {
				return fmt.Errorf("%s has %d elements, more than %d", where, len(b.ContextElements.Elements), MaxContextElements)
			}
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					if err := text(where+" element", t, MaxSectionText); err != nil {
						return err
					}
				}
			}
		case *slack.ActionBlock:
			if len(b.Elements.ElementSet) > MaxActionElements {
				return fmt.Errorf("%s has %d elements, more than %d", where, len(b.Elements.ElementSet), MaxActionElements)
			}
			ids := map[string]bool{}
			for _, e := range b.Elements.ElementSet {
				btn, ok := e.(*slack.ButtonBlockElement)
				if !ok {
					continue
				}
				if err := text(where+" button", btn.Text, MaxButtonText); err != nil {
					return err
				}
				if len(btn.Value) > MaxButtonValue || len(btn.ActionID) > MaxActionID {
					return fmt.Errorf("%s button value or action_id too long", where)
				}
				if ids[btn.ActionID] {
					return fmt.Errorf("%s has duplicate action_id %q", where, btn.ActionID)
				}
				ids[btn.ActionID] = true
			}
		}
	}
	return nil
}

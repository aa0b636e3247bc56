package bot

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"
)

// unesc undoes esc for the terminal.
var unesc = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace

// Text renders a Message as readable plain text: what the bot would post,
// for the terminal demo and for logs. Buttons appear as [Label], and an
// attached CSV is named with its size.
func Text(m Message) string {
	var b strings.Builder
	for _, blk := range m.Blocks {
		switch blk := blk.(type) {
		case *slack.HeaderBlock:
			t := unesc(blk.Text.Text)
			fmt.Fprintf(&b, "%s\n%s\n", t, strings.Repeat("=", min(len([]rune(t)), 72)))
		case *slack.SectionBlock:
			if blk.Text != nil {
				b.WriteString(unesc(blk.Text.Text) + "\n")
			}
			var fs []string
			for _, f := range blk.Fields {
				fs = append(fs, strings.ReplaceAll(unesc(f.Text), "\n", ": "))
			}
			if len(fs) > 0 {
				b.WriteString(strings.Join(fs, " | ") + "\n")
			}
		case *slack.ContextBlock:
			var parts []string
			for _, e := range blk.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					parts = append(parts, unesc(t.Text))
				}
			}
			b.WriteString(strings.Join(parts, " · ") + "\n")
		case *slack.ActionBlock:
			var parts []string
			for _, e := range blk.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					parts = append(parts, "["+btn.Text.Text+"]")
				}
			}
			b.WriteString(strings.Join(parts, " ") + "\n")
		case *slack.DividerBlock:
			b.WriteString("---\n")
		}
	}
	if len(m.Blocks) == 0 {
		b.WriteString(unesc(m.Text) + "\n")
	}
	if m.CSV != nil {
		fmt.Fprintf(&b, "(attached: %s, %d bytes)\n", m.CSV.Name, len(m.CSV.Content))
	}
	return b.String()
}

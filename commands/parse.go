package commands

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/zdsync/zdsync/syncer"
)

// MaxTextLength is the longest command text Parse reads; Slack's own limit
// for a slash command's text is far lower, so anything longer is refused
// rather than tokenized.
const MaxTextLength = 4000

// UsageError is a command-line mistake: a one-line message saying what was
// wrong and, when a command was recognised, its usage.
type UsageError struct {
	// Message is the single line to show the user.
	Message string
}

// Error returns the one-line message.
func (e *UsageError) Error() string { return e.Message }

func usageErr(c *Command, format string, args ...any) *UsageError {
	msg := fmt.Sprintf(format, args...)
	if c != nil {
		msg += " — usage: " + c.Usage()
	}
	return &UsageError{Message: msg}
}

// Args holds the validated arguments of a command. Only the fields the
// command takes are set.
type Args struct {
	// SFID is an 18-character Salesforce account ID, as syncer.NormalizeID
	// returns it (a 15-character ID gets its suffix, a mistyped case is
	// restored).
	SFID string
	// Scope is the Salesforce query and Zendesk instance of an account
	// command.
	Scope syncer.Scope
	// TicketID is the Zendesk ticket of a case command.
	TicketID int64
	// Job is the job of a run command.
	Job syncer.Job
	// DryRun is set by --dry-run: plan only, write nothing.
	DryRun bool
	// Subject is what explain and history are about: an account ID
	// (normalized), a Zendesk ID or a run ID.
	Subject string
	// RunID is the run an undo reverses.
	RunID string
	// Limit is how many entries history shows.
	Limit int
}

// String renders the arguments in the canonical form the audit records.
func (a Args) String() string {
	var parts []string
	for _, first := range []string{a.SFID, a.Subject, a.RunID} {
		if first != "" {
			parts = append(parts, first)
		}
	}
	if a.Scope != "" {
		parts = append(parts, string(a.Scope))
	}
	if a.TicketID != 0 {
		parts = append(parts, strconv.FormatInt(a.TicketID, 10))
	}
	if a.Job != "" {
		parts = append(parts, string(a.Job))
	}
	if a.Limit != 0 {
		parts = append(parts, strconv.Itoa(a.Limit))
	}
	if a.DryRun {
		parts = append(parts, "--dry-run")
	}
	return strings.Join(parts, " ")
}

// Call is a parsed command line: the command found in the table and its
// validated arguments.
type Call struct {
	Command *Command
	Args    Args
}

// Writes reports whether the call would change Zendesk or Salesforce, and
// so needs a writer.
func (c Call) Writes() bool { return c.Command.Writes && !c.Args.DryRun }

// Parse reads the text of a /zdsync command against the command table. It
// tolerates extra and non-breaking spaces, Slack's smart quotes, HTML
// escapes, mentions (which it drops) and a "—" typed for "--". An empty
// text means help. Errors are *UsageError with one line to show.
func Parse(text string) (Call, error) {
	return parse(Table(), text)
}

func parse(table []Command, text string) (Call, error) {
	if len(text) > MaxTextLength {
		return Call{}, &UsageError{Message: fmt.Sprintf("command text is longer than %d characters", MaxTextLength)}
	}
	words, err := Tokenize(text)
	if err != nil {
		return Call{}, err
	}
	var flags []string
	var pos []string
	for _, w := range words {
		if strings.HasPrefix(w, "--") {
			flags = append(flags, strings.ToLower(w))
		} else {
			pos = append(pos, w)
		}
	}
	if len(pos) == 0 && len(flags) == 0 {
		pos = []string{"help"}
	}
	if len(pos) == 0 {
		return Call{}, &UsageError{Message: "no command given; try /zdsync help"}
	}
	cmd, n := lookup(table, pos)
	if cmd == nil {
		first := strings.ToLower(pos[0])
		for i := range table {
			if strings.Fields(table[i].Name)[0] == first {
				return Call{}, usageErr(&table[i], "unknown %s command %q", first, syncer.Clip(strings.Join(pos[1:min(2, len(pos))], ""), 40))
			}
		}
		return Call{}, &UsageError{Message: fmt.Sprintf("unknown command %q; try /zdsync help", syncer.Clip(pos[0], 40))}
	}
	call := Call{Command: cmd}
	for _, f := range flags {
		switch {
		case f == "--dry-run" && cmd.DryRun:
			call.Args.DryRun = true
		default:
			return Call{}, usageErr(cmd, "unknown option %q", syncer.Clip(f, 40))
		}
	}
	if cmd.parseArgs != nil {
		if err := cmd.parseArgs(&call.Args, pos[n:]); err != nil {
			return Call{}, usageErr(cmd, "%s", err.Error())
		}
	} else if len(pos) > n {
		return Call{}, usageErr(cmd, "unexpected argument %q", syncer.Clip(pos[n], 40))
	}
	if call.Args.Job == syncer.JobCaseSweep && call.Args.DryRun {
		return Call{}, usageErr(cmd, "the case sweep has no dry run: it only enqueues pushes")
	}
	return call, nil
}

// lookup finds the command whose name's words start pos (case-insensitive),
// preferring the longest name, and returns it with its number of words.
func lookup(table []Command, pos []string) (*Command, int) {
	var best *Command
	bestN := 0
	for i := range table {
		name := strings.Fields(table[i].Name)
		if len(name) > len(pos) || len(name) <= bestN {
			continue
		}
		ok := true
		for j, w := range name {
			if !strings.EqualFold(w, pos[j]) {
				ok = false
				break
			}
		}
		if ok {
			best, bestN = &table[i], len(name)
		}
	}
	return best, bestN
}

// smartQuotes maps the quotes and dashes that Slack clients and operating
// systems substitute while typing to their ASCII forms.
var smartQuotes = strings.NewReplacer(
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u201f", `"`, "\u00ab", `"`, "\u00bb", `"`,
	"\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'",
	"&lt;", "<", "&gt;", ">", "&amp;", "&",
	"\u200b", "", "\u200c", "", "\u200d", "", "\ufeff", "",
)

// Tokenize splits command text into words. Quotes (straight or smart) group
// words and are removed; mentions of users, groups and channels (<@U…>,
// <!here>, <#C…|name>, @name) are dropped; a leading "—" or "–" becomes
// "--". An unterminated quote is a usage error.
func Tokenize(text string) ([]string, error) {
	text = smartQuotes.Replace(text)
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  rune
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for _, r := range text {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case unicode.IsSpace(r):
			flush()
		case unicode.IsControl(r):
			// dropped
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, &UsageError{Message: "unterminated quote in command text"}
	}
	flush()
	out := words[:0]
	for _, w := range words {
		switch {
		case w == "":
			continue
		case strings.HasPrefix(w, "<@"), strings.HasPrefix(w, "<!"), strings.HasPrefix(w, "<#"), strings.HasPrefix(w, "@"):
			continue // a mention is never an argument
		case strings.HasPrefix(w, "\u2014"):
			w = "--" + strings.TrimPrefix(w, "\u2014")
		case strings.HasPrefix(w, "\u2013"):
			w = "--" + strings.TrimPrefix(w, "\u2013")
		}
		out = append(out, w)
	}
	return out, nil
}

// ParseTicketID validates a Zendesk ticket ID: a positive integer, with an
// optional leading "#", or the record form "ticket 123" that case-push
// errors carry (the bot makes Retry buttons from those records).
func ParseTicketID(s string) (int64, error) {
	t := s
	if len(t) > len("ticket ") && strings.EqualFold(t[:len("ticket ")], "ticket ") {
		t = t[len("ticket "):]
	}
	t = strings.TrimPrefix(t, "#")
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil || id <= 0 || strings.HasPrefix(t, "+") {
		return 0, fmt.Errorf("%q is not a ticket ID (a positive number)", syncer.Clip(s, 40))
	}
	return id, nil
}

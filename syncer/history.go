package syncer

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HistoryEntry is one audited change with the run that made it: when,
// which job, who started the run, and which run it undid if it was an
// undo.
type HistoryEntry struct {
	AppliedChange
	RunID  string `json:"run_id"`
	Job    Job    `json:"job,omitempty"`
	By     string `json:"by,omitempty"`
	UndoOf string `json:"undo_of,omitempty"`
}

// History is what `zdsync history` and /zdsync history answer about one
// subject (README, "History"): the audited changes in time order (for a
// run, its own changes in the order they were made), the case pushes of a
// ticket, and the commands people ran about it.
type History struct {
	Subject Subject `json:"subject"`
	// Run is the run asked about, with the runs that undid it.
	Run      *Summary       `json:"run,omitempty"`
	UndoneBy []string       `json:"undone_by,omitempty"`
	Changes  []HistoryEntry `json:"changes"`
	// More is how many older changes (for a run: later ones) the limit
	// left out.
	More     int             `json:"more,omitempty"`
	Pushes   []PushRecord    `json:"pushes,omitempty"`
	Commands []CommandRecord `json:"commands,omitempty"`
}

// SubjectKind says what a history or explain argument names.
type SubjectKind string

// The kinds of subject.
const (
	// SubjectAccount is a Salesforce account ID (15 or 18 characters).
	SubjectAccount SubjectKind = "account"
	// SubjectZendesk is a Zendesk ID: an org, a user or a ticket (the
	// number alone cannot say which).
	SubjectZendesk SubjectKind = "zendesk"
	// SubjectRun is a run ID.
	SubjectRun SubjectKind = "run"
)

// Subject is a parsed history or explain argument.
type Subject struct {
	Kind SubjectKind `json:"kind"`
	// Value is the normalized argument: an 18-character account ID, a
	// run ID, or the Zendesk ID in decimal.
	Value string `json:"value"`
	// ZendeskID is set for SubjectZendesk.
	ZendeskID int64 `json:"zendesk_id,omitempty"`
}

// runIDPattern is the form of NewID's IDs.
var runIDPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$`)

// IsRunID reports whether s has the form of a run or plan ID.
func IsRunID(s string) bool { return runIDPattern.MatchString(s) }

// ParseSubject reads what a history or explain argument names: a run ID,
// a Zendesk ID (digits only, never a leading zero) or a Salesforce account
// ID (its key prefix 001 starts with a zero), which NormalizeID checks.
// Anything else is CodeInvalidInput.
func ParseSubject(s string) (Subject, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "#"))
	switch {
	case IsRunID(s):
		return Subject{Kind: SubjectRun, Value: s}, nil
	case s != "" && s[0] != '0' && strings.Trim(s, "0123456789") == "":
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return Subject{}, Errorf(CodeInvalidInput, "%q is not a Zendesk ID (a positive number)", Clip(s, 40))
		}
		return Subject{Kind: SubjectZendesk, Value: strconv.FormatInt(id, 10), ZendeskID: id}, nil
	}
	id, err := NormalizeID(s)
	if err != nil {
		return Subject{}, Errorf(CodeInvalidInput, "%q is not a Salesforce account ID, a Zendesk ID or a run ID", Clip(s, 40))
	}
	return Subject{Kind: SubjectAccount, Value: id}, nil
}

// String renders the subject for people: "account 0015…", "Zendesk ID
// 123", "run 2026…".
func (s Subject) String() string {
	switch s.Kind {
	case SubjectZendesk:
		return "Zendesk ID " + s.Value
	case SubjectRun:
		return "run " + s.Value
	}
	return "account " + s.Value
}

// ByWho says who started a run (Summary.By) in words: the schedule, the
// command line, the push queue, or a Slack user as <@U…> (which Slack
// shows as the user's name).
func ByWho(by string) string {
	switch by {
	case "":
		return "unknown"
	case BySchedule:
		return "the schedule"
	case ByCLI:
		return "the command line"
	case ByQueue:
		return "the push queue"
	}
	if strings.HasPrefix(by, "U") || strings.HasPrefix(by, "W") {
		return "<@" + by + ">"
	}
	return by
}

// HistoryLine renders one audited change on one line: when, the run, its
// job and who started it, then the change (DescribeChange) and its
// outcome when it failed.
func HistoryLine(e HistoryEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s run %s", e.At.UTC().Format("2006-01-02 15:04 UTC"), e.RunID)
	var about []string
	if e.Job != "" {
		about = append(about, string(e.Job))
	}
	if e.UndoOf != "" {
		about = append(about, "undo of "+e.UndoOf)
	}
	if e.By != "" {
		about = append(about, "by "+ByWho(e.By))
	}
	if len(about) > 0 {
		b.WriteString(" (" + strings.Join(about, ", ") + ")")
	}
	b.WriteString(": " + DescribeChange(e.Change))
	if e.Code != CodeNone {
		fmt.Fprintf(&b, " — failed with code %s: %s", e.Code, e.Message)
	}
	return b.String()
}

// PushLine renders one case push record on one line.
func PushLine(p PushRecord) string {
	s := fmt.Sprintf("%s ticket %d %s: %s", p.At.UTC().Format("2006-01-02 15:04 UTC"), p.TicketID, p.Event, p.Status)
	if p.CaseID != "" {
		s += ", case " + p.CaseID
	}
	if p.Code != CodeNone {
		s += fmt.Sprintf(", code %s", p.Code)
	}
	if p.Attempts > 1 {
		s += fmt.Sprintf(", attempt %d", p.Attempts)
	}
	if p.Message != "" {
		s += ": " + p.Message
	}
	return s
}

// CommandLine renders one audited command on one line.
func CommandLine(c CommandRecord) string {
	s := fmt.Sprintf("%s %s ran %s", c.At.UTC().Format("2006-01-02 15:04 UTC"), ByWho(c.User), c.Command)
	if c.Args != "" {
		s += " " + c.Args
	}
	s += ": " + c.Outcome
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// WriteText writes the history for a terminal: the run asked about, then
// the changes, case pushes and commands, each in time order.
func (h *History) WriteText(w io.Writer) {
	fmt.Fprintf(w, "history of %s\n", h.Subject)
	if h.Run != nil {
		r := h.Run
		fmt.Fprintf(w, "  run %s: %s, started %s by %s\n", r.RunID, r.Headline(), r.StartedAt.UTC().Format(time.RFC3339), ByWho(r.By))
		if r.UndoOf != "" {
			fmt.Fprintf(w, "  an undo of run %s\n", r.UndoOf)
		}
		for _, u := range h.UndoneBy {
			fmt.Fprintf(w, "  undone by run %s\n", u)
		}
		for _, wn := range r.Warnings {
			fmt.Fprintf(w, "  warning: %s: %s\n", wn.Record, wn.Message)
		}
	}
	if len(h.Changes)+len(h.Pushes)+len(h.Commands) == 0 {
		fmt.Fprintln(w, "  nothing recorded")
		return
	}
	if h.More > 0 && h.Run == nil {
		fmt.Fprintf(w, "  … %d older changes not shown (--limit)\n", h.More)
	}
	for _, e := range h.Changes {
		fmt.Fprintln(w, "  "+HistoryLine(e))
	}
	if h.More > 0 && h.Run != nil {
		fmt.Fprintf(w, "  … and %d more changes (--limit)\n", h.More)
	}
	for _, p := range h.Pushes {
		fmt.Fprintln(w, "  "+PushLine(p))
	}
	for _, c := range h.Commands {
		fmt.Fprintln(w, "  "+CommandLine(c))
	}
}

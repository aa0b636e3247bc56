package commands

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

// Kind says what a Reply carries, so that a renderer can pick its layout.
type Kind string

// The kinds of reply.
const (
	// KindText is plain text (help).
	KindText Kind = "text"
	// KindUsage is a one-line argument error.
	KindUsage Kind = "usage"
	// KindDenied is a refusal: the user may not run a writing command.
	KindDenied Kind = "denied"
	// KindError is a command that failed; Code says how.
	KindError Kind = "error"
	// KindSummary is the result of a run, in Summary.
	KindSummary Kind = "summary"
	// KindPreview is a stored plan awaiting Apply or Discard, in Plan and
	// Summary.
	KindPreview Kind = "preview"
	// KindDiscarded is a stored plan that was discarded, in Plan.
	KindDiscarded Kind = "discarded"
	// KindStatus is the answer to status, in Status.
	KindStatus Kind = "status"
	// KindExplain is the answer to explain, in Explanation.
	KindExplain Kind = "explain"
	// KindHistory is the answer to history, in History.
	KindHistory Kind = "history"
)

// Reply is the answer to a command or a button press, as plain data.
type Reply struct {
	Kind Kind `json:"kind"`
	// Command is the command's name ("account", "case retry", "apply").
	Command string `json:"command"`
	// User is who asked.
	User string `json:"user"`
	// Text is a one-line (help: several lines) plain-text answer,
	// always set.
	Text string `json:"text"`
	// Public is set when the answer should be visible to the channel
	// (results of commands that write, previews); otherwise only the
	// user sees it.
	Public  bool               `json:"public,omitempty"`
	Code    syncer.Code        `json:"code,omitempty"`
	Summary *syncer.Summary    `json:"summary,omitempty"`
	Plan    *syncer.StoredPlan `json:"plan,omitempty"`
	Status  *syncer.Status     `json:"status,omitempty"`
	// Explanation and History answer explain and history.
	Explanation *syncer.Explanation `json:"explanation,omitempty"`
	History     *syncer.History     `json:"history,omitempty"`
}

// SummaryLine says in one line what a run did: "global-orgs: 2 created, 1
// updated …", "already in sync", or how it failed.
func SummaryLine(s *syncer.Summary) string {
	subject := string(s.Job)
	if s.Account != "" {
		subject += " " + s.Account
	}
	if s.DryRun {
		subject += " (dry run)"
	}
	if !s.OK() {
		return fmt.Sprintf("%s failed with code %s: %s", subject, s.Code, s.Message)
	}
	verb := []string{"created", "updated", "deleted"}
	if s.DryRun {
		verb = []string{"to create", "to update", "to delete"}
	}
	var parts []string
	for i, n := range []int{s.Created, s.Updated, s.Deleted} {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, verb[i]))
		}
	}
	if s.CaseID != "" {
		parts = append(parts, "case "+s.CaseID)
	}
	line := subject + ": "
	switch {
	case len(parts) > 0:
		line += strings.Join(parts, ", ")
	case s.Account != "" && s.Fetched == 0:
		line += "no such account in the job's query"
	default:
		line += "already in sync"
	}
	if s.Failed > 0 {
		line += fmt.Sprintf(", %d failed", s.Failed)
	}
	if len(s.Warnings) > 0 {
		line += fmt.Sprintf(", %d warning(s)", len(s.Warnings))
	}
	silent := s.SilentCounts()
	n := 0
	for _, sc := range silent {
		n += sc.Count
	}
	if n > 0 {
		line += fmt.Sprintf(", %d silent", n)
	}
	if f := s.FirstFailure(); f != syncer.CodeNone {
		line += fmt.Sprintf(" (code %s)", f)
	} else if n > 0 {
		line += fmt.Sprintf(" (code %s)", silent[0].Code)
	}
	return line
}

func statusLine(st syncer.Status) string {
	return fmt.Sprintf("%d jobs, %d failed case pushes, %d open alerts", len(st.Jobs), len(st.FailedPushes), len(st.OpenAlerts))
}

func outcome(r Reply) string {
	switch r.Kind {
	case KindUsage:
		return OutcomeUsage
	case KindDenied:
		return OutcomeDenied
	case KindError:
		return OutcomeFailed
	case KindSummary:
		if r.Code != syncer.CodeNone && !r.Code.Silent() {
			return OutcomeFailed
		}
	}
	return OutcomeOK
}

func detail(r Reply) string {
	var parts []string
	if r.Summary != nil && r.Summary.RunID != "" {
		parts = append(parts, "run "+r.Summary.RunID)
	}
	if r.Plan != nil && r.Plan.ID != "" {
		parts = append(parts, "plan "+r.Plan.ID)
	}
	if r.Kind != KindText && r.Kind != KindStatus {
		parts = append(parts, r.Text)
	}
	if r.Summary != nil && r.Summary.UndoOf != "" {
		parts = append(parts, "undo of run "+r.Summary.UndoOf)
	}
	if r.Code != syncer.CodeNone {
		parts = append(parts, "code "+strconv.Itoa(int(r.Code)))
	}
	return strings.Join(parts, "; ")
}

func firstWord(text string) string {
	w, _ := Tokenize(text)
	if len(w) == 0 {
		return ""
	}
	return syncer.Clip(strings.ToLower(w[0]), 40)
}

package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/commands/commandstest"
	"github.com/zdsync/zdsync/syncer"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, text string
		command    string
		args       commands.Args
		usage      string // substring of the usage error, "" for success
	}{
		{"empty text means help", "", "help", commands.Args{}, ""},
		{"account with an 18-character ID defaults to global", "account 0015g00000ABCDEAA5", "account",
			commands.Args{SFID: "0015g00000ABCDEAA5", Scope: syncer.Global}, ""},
		{"account with a 15-character ID is converted to 18", "account 001000000000000 federal --dry-run", "account",
			commands.Args{SFID: "001000000000000AAA", Scope: syncer.Federal, DryRun: true}, ""},
		{"extra spaces, smart quotes and an em dash are tolerated", "  ACCOUNT   \u201c0015g00000ABCDEAA5\u201d\u00a0global   \u2014dry-run ", "account",
			commands.Args{SFID: "0015g00000ABCDEAA5", Scope: syncer.Global, DryRun: true}, ""},
		{"mentions are dropped", "<@U123|zdsync> run global-orgs <!here>", "run", commands.Args{Job: syncer.JobGlobalOrgs}, ""},
		{"case retry takes a ticket with a hash", "case retry #4521", "case retry", commands.Args{TicketID: 4521}, ""},
		{"federal-users preview has two words", "federal-users preview", "federal-users preview", commands.Args{}, ""},
		{"run with dry-run", "run federal-users --dry-run", "run", commands.Args{Job: syncer.JobFederalUsers, DryRun: true}, ""},
		{"a short SFID is refused", "account 001abc", "", commands.Args{}, "not a Salesforce ID"},
		{"an SFID with punctuation is refused", "account 0015g00000ABCDEF-H", "", commands.Args{}, "not a Salesforce ID"},
		{"a bad scope is refused", "account 0015g00000ABCDEAA5 europe", "", commands.Args{}, "scope must be global or federal"},
		{"a missing ticket is refused", "case retry", "", commands.Args{}, "missing ticket ID"},
		{"a negative ticket is refused", "case retry -5", "", commands.Args{}, "not a ticket ID"},
		{"an unknown case subcommand names the usage", "case push 12", "", commands.Args{}, "usage: /zdsync case retry <ticket-id>"},
		{"an unknown job is refused", "run everything", "", commands.Args{}, "unknown job"},
		{"dry-run where it is not accepted is refused", "case retry 12 --dry-run", "", commands.Args{}, "unknown option"},
		{"an unknown command points to help", "deploy prod", "", commands.Args{}, "try /zdsync help"},
		{"an unterminated quote is refused", `account "0015g00000ABCDEAA5`, "", commands.Args{}, "unterminated quote"},
		{"help takes no arguments", "help me", "", commands.Args{}, "unexpected argument"},
		{"explain takes an account ID", "explain 001000000000000", "explain", commands.Args{Subject: "001000000000000AAA"}, ""},
		{"explain takes a Zendesk org ID", "explain #360012345", "explain", commands.Args{Subject: "360012345"}, ""},
		{"explain refuses a run ID", "explain 20260101T120000-a1b2c3", "", commands.Args{}, "is a run ID"},
		{"history takes a run ID and a limit", "history 20260101T120000-a1b2c3 5", "history", commands.Args{Subject: "20260101T120000-a1b2c3", Limit: 5}, ""},
		{"history defaults to 20 entries", "history 4521", "history", commands.Args{Subject: "4521", Limit: commands.DefaultHistoryLimit}, ""},
		{"history refuses a limit of 0", "history 4521 0", "", commands.Args{}, "N must be a number from 1"},
		{"history refuses an unknown subject", "history acme", "", commands.Args{}, "not a Salesforce account ID, a Zendesk ID or a run ID"},
		{"undo takes a run ID", "undo 20260101T120000-a1b2c3", "undo", commands.Args{RunID: "20260101T120000-a1b2c3"}, ""},
		{"undo refuses anything else", "undo last", "", commands.Args{}, "is not a run ID"},
		{"undo has no dry run", "undo 20260101T120000-a1b2c3 --dry-run", "", commands.Args{}, "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, err := commands.Parse(tt.text)
			if tt.usage != "" {
				var ue *commands.UsageError
				if !errors.As(err, &ue) || !strings.Contains(ue.Message, tt.usage) {
					t.Fatalf("Parse(%q) error = %v, want usage error containing %q", tt.text, err, tt.usage)
				}
				if strings.Contains(ue.Message, "\n") {
					t.Errorf("usage error is not one line: %q", ue.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			if call.Command.Name != tt.command || call.Args != tt.args {
				t.Errorf("Parse(%q) = %s %+v, want %s %+v", tt.text, call.Command.Name, call.Args, tt.command, tt.args)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "help", "account 0015g00000ABCDEAA5 federal --dry-run", "case retry #12",
		"\u201crun\u201d global-orgs \u2014dry-run", "<@U1> status", `"unterminated`, "run \x00 \u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		call, err := commands.Parse(text)
		if err != nil {
			var ue *commands.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) returned a non-usage error %T", text, err)
			}
			if strings.Contains(ue.Message, "\n") || ue.Message == "" {
				t.Fatalf("Parse(%q) usage error is not one line: %q", text, ue.Message)
			}
			if len(ue.Message) > 600 {
				t.Fatalf("Parse(%q) usage error is %d bytes long", text, len(ue.Message))
			}
			return
		}
		if call.Command == nil {
			t.Fatalf("Parse(%q) returned no command", text)
		}
		if a := call.Args; a.SFID != "" && len(a.SFID) != 18 {
			t.Fatalf("Parse(%q) SFID %q is not 18 characters", text, a.SFID)
		}
		if call.Args.TicketID < 0 {
			t.Fatalf("Parse(%q) negative ticket", text)
		}
		if !utf8.ValidString(call.Args.String()) && utf8.ValidString(text) {
			t.Fatalf("Parse(%q) made invalid UTF-8 args", text)
		}
	})
}

// An account ID typed with its case changed is restored from its suffix;
// one whose suffix cannot belong to it is a usage error.
func TestAccountIDIsNormalized(t *testing.T) {
	for _, tt := range []struct{ text, sfid, usage string }{
		{"account 001Dn00000AbCdE", "001Dn00000AbCdEIAV", ""},
		{"account 001dn00000abcdeiav", "001Dn00000AbCdEIAV", ""},
		{"account 001Dn00000AbCdEBAV", "", "cannot belong to the first 15"},
		{"account 001Dn00000AbCdEI9V", "", "cannot belong to the first 15"},
		{"account 0015g00000ABCDEFG", "", "not a Salesforce ID (15 or 18 letters and digits)"},
	} {
		call, err := commands.Parse(tt.text)
		switch {
		case tt.usage != "":
			var ue *commands.UsageError
			if !errors.As(err, &ue) || !strings.Contains(ue.Message, tt.usage) || !strings.Contains(ue.Message, "usage: /zdsync account") {
				t.Errorf("Parse(%q) = %v, want a usage error saying %q", tt.text, err, tt.usage)
			}
		case err != nil || call.Args.SFID != tt.sfid:
			t.Errorf("Parse(%q) = %q, %v; want %s", tt.text, call.Args.SFID, err, tt.sfid)
		}
	}
}

// The case sweep has no dry run: asking for one is a usage error, and
// nothing runs.
func TestSweepDryRunIsAUsageError(t *testing.T) {
	_, err := commands.Parse("run case-sweep --dry-run")
	var ue *commands.UsageError
	if !errors.As(err, &ue) || !strings.Contains(ue.Message, "no dry run") {
		t.Errorf("Parse = %v, want a usage error", err)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	h := commands.Help()
	for _, c := range commands.Table() {
		if !strings.Contains(h, c.Usage()) {
			t.Errorf("help does not list %q", c.Usage())
		}
	}
	for _, label := range []string{"Apply", "Discard", "Retry", "Run again"} {
		if !strings.Contains(h, label) {
			t.Errorf("help does not mention the %s button", label)
		}
	}
}

// newService is the service of the tests: a failed case retry, every
// other run a summary of its request.
func newService() *commandstest.Service {
	return &commandstest.Service{Answer: func(req syncer.Request) *syncer.Summary {
		switch {
		case req.Job == syncer.JobCases:
			return &syncer.Summary{Job: syncer.JobCases, Code: syncer.CodeUnableToLockRow, Message: "locked"}
		case req.Account != "":
			return &syncer.Summary{Job: req.Job, Account: req.Account, DryRun: req.DryRun, Updated: 1}
		}
		return &syncer.Summary{Job: req.Job, DryRun: req.DryRun}
	}}
}

type groups map[string][]string

func (g groups) GroupMembers(_ context.Context, id string) ([]string, error) {
	m, ok := g[id]
	if !ok {
		return nil, errors.New("no such group")
	}
	return m, nil
}

func TestRunAuthorizesAndAudits(t *testing.T) {
	svc := newService()
	audit := &commandstest.Audit{}
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	c := commands.New(commands.Config{
		Service:    svc,
		Authorizer: commands.NewAuthorizer([]string{"UWRITER"}, []string{"SONCALL"}, groups{"SONCALL": {"UONCALL"}}, 0, nil),
		Auditor:    audit,
		Now:        func() time.Time { return now },
	})
	ctx := context.Background()
	tests := []struct {
		name, user, text string
		kind             commands.Kind
		outcome          string
		calls            int
	}{
		{"a writer runs a job", "UWRITER", "run global-orgs", commands.KindSummary, commands.OutcomeOK, 1},
		{"a group member runs a job", "UONCALL", "run global-orgs", commands.KindSummary, commands.OutcomeOK, 1},
		{"anyone else is refused a writing command", "UREADER", "account 0015g00000ABCDEAA5", commands.KindDenied, commands.OutcomeDenied, 0},
		{"anyone may dry-run", "UREADER", "account 0015g00000ABCDEAA5 --dry-run", commands.KindSummary, commands.OutcomeOK, 1},
		{"anyone may ask for status", "UREADER", "status", commands.KindStatus, commands.OutcomeOK, 1},
		{"a bad argument is a usage reply", "UWRITER", "case retry abc", commands.KindUsage, commands.OutcomeUsage, 0},
		{"a failed retry is a failed outcome", "UWRITER", "case retry 7", commands.KindSummary, commands.OutcomeFailed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(svc.Calls())
			n := len(audit.Records())
			r := c.Run(ctx, commands.Request{User: tt.user, Text: tt.text})
			if r.Kind != tt.kind {
				t.Fatalf("kind = %s (%s), want %s", r.Kind, r.Text, tt.kind)
			}
			if got := len(svc.Calls()) - before; got != tt.calls {
				t.Errorf("service calls = %d, want %d", got, tt.calls)
			}
			recs := audit.Records()
			if len(recs) != n+1 {
				t.Fatalf("audit records = %d, want %d", len(recs), n+1)
			}
			rec := recs[n]
			if rec.User != tt.user || rec.Outcome != tt.outcome || !rec.At.Equal(now) {
				t.Errorf("audit = %+v, want user %s outcome %s", rec, tt.user, tt.outcome)
			}
		})
	}
}

func TestPressNeedsAWriterAndNotTheBot(t *testing.T) {
	svc := newService()
	audit := &commandstest.Audit{}
	c := commands.New(commands.Config{Service: svc, Authorizer: commands.NewAuthorizer([]string{"UWRITER"}, nil, nil, 0, nil), Auditor: audit})
	ctx := context.Background()
	if r := c.Press(ctx, commands.Press{Action: commands.ActionApply, Value: "p1", User: "UREADER"}); r.Kind != commands.KindDenied {
		t.Errorf("reader apply: %s", r.Kind)
	}
	if r := c.Press(ctx, commands.Press{Action: commands.ActionApply, Value: "p1", User: "UBOT", FromBot: true}); r.Kind != commands.KindDenied {
		t.Errorf("bot apply: %s", r.Kind)
	}
	if len(svc.Calls()) != 0 {
		t.Fatalf("service called: %v", svc.Calls())
	}
	if r := c.Press(ctx, commands.Press{Action: commands.ActionDiscard, Value: "p1", User: "UWRITER"}); r.Kind != commands.KindDiscarded {
		t.Errorf("writer discard: %s %s", r.Kind, r.Text)
	}
	if r := c.Press(ctx, commands.Press{Action: commands.ActionRunAgain, Value: "global-orgs", User: "UWRITER"}); r.Kind != commands.KindSummary {
		t.Errorf("writer run again: %s %s", r.Kind, r.Text)
	}
	if len(audit.Records()) != 4 {
		t.Errorf("audit records = %d, want 4", len(audit.Records()))
	}
}

type countingGroups struct {
	mu sync.Mutex
	n  int
}

func (g *countingGroups) GroupMembers(context.Context, string) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return []string{"U1"}, nil
}

func TestAuthorizerCachesGroupsBriefly(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g := &countingGroups{}
	a := commands.NewAuthorizer(nil, []string{"SGROUP"}, g, time.Minute, func() time.Time { return now })
	for range 3 {
		if ok, err := a.CanWrite(context.Background(), "U1"); !ok || err != nil {
			t.Fatalf("CanWrite = %v, %v", ok, err)
		}
	}
	if g.n != 1 {
		t.Errorf("lookups = %d, want 1 within the TTL", g.n)
	}
	now = now.Add(2 * time.Minute)
	if ok, _ := a.CanWrite(context.Background(), "U2"); ok {
		t.Error("U2 allowed")
	}
	if g.n != 2 {
		t.Errorf("lookups = %d, want 2 after the TTL", g.n)
	}
}

func TestParseWriters(t *testing.T) {
	users, groups, err := commands.ParseWriters("U01ABC, S02DEF W03GHI")
	if err != nil || len(users) != 2 || len(groups) != 1 {
		t.Fatalf("ParseWriters = %v %v %v", users, groups, err)
	}
	if _, _, err := commands.ParseWriters("U01ABC,#oncall"); err == nil {
		t.Error("a channel name was accepted")
	}
}

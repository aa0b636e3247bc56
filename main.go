// Command zdsync keeps Zendesk in step with Salesforce and pushes Zendesk
// tickets into Salesforce cases; on-call engineers drive it from Slack.
//
//	zdsync demo                       run every job against built-in sandboxes
//	zdsync serve                      the bot: Slack Socket Mode + scheduler + HTTP
//	zdsync sync <job> [--dry-run [--save-plan]] [--account SFID] [--json]
//	zdsync sync <job> --incremental [--since RFC3339] [--dry-run] [--json]
//	zdsync plan show <plan-id> [--json|--csv] | zdsync plan apply <plan-id> [--json]
//	zdsync case push <ticket-id> [--event created|closed] [--json]
//	zdsync explain <SFID|org-id> [--job global|federal] [--json]
//	zdsync history <SFID|org-id|ticket-id|run-id> [--limit N] [--json]
//	zdsync undo <run-id> [--record KEY] [--dry-run [--save-plan]] [--json]
//
// Package main only parses the command line, loads the configuration and
// wires the parts together (wire.go, serve.go): it is the only place that
// knows every part. What a run does is the application core's
// (syncer/app) and the domain's (syncer).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/syncer"
)

// Exit statuses (README, "Command line").
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage:
  zdsync demo                       run every job against built-in sandboxes; no credentials needed
  zdsync serve                      the bot: Slack Socket Mode + scheduler + HTTP (webhooks, /healthz, /metrics)
  zdsync sync <job> [--dry-run [--save-plan]] [--account SFID] [--json]
  zdsync sync <job> --incremental [--since RFC3339] [--dry-run] [--json]
                                    jobs: global-orgs, federal-orgs, federal-users
  zdsync plan show <plan-id> [--json|--csv]
  zdsync plan apply <plan-id> [--json]
  zdsync case push <ticket-id> [--event created|closed] [--json]
  zdsync explain <SFID|org-id> [--job global|federal] [--json]
  zdsync history <SFID|org-id|ticket-id|run-id> [--limit N] [--json]
  zdsync undo <run-id> [--record KEY] [--dry-run [--save-plan]] [--json]
Configuration is read from environment variables; see the README.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	code := m.Run(ctx, os.Args[1:])
	m.Close()
	os.Exit(code)
}

// Main is the program: what a test starts to run zdsync end to end.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	// Env is where configuration is read from (the process environment
	// by default).
	Env envconfig.Lookuper
	// Terminal says that Stderr is a terminal: long phases show progress.
	Terminal bool
	// Ready, if set, receives the HTTP address once serve listens.
	Ready chan<- string

	closers []func()
}

// NewMain returns a Main on the process's standard streams and environment.
func NewMain() *Main {
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Env: envconfig.OsLookuper()}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		m.Terminal = true
	}
	return m
}

// Close releases what Run opened.
func (m *Main) Close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
}

func (m *Main) onClose(f func()) { m.closers = append(m.closers, f) }

// Run runs one command and returns its exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, usage)
		return exitUsage
	}
	var err error
	code := exitOK
	switch args[0] {
	case "demo":
		code, err = m.runDemo(ctx, args[1:])
	case "serve":
		err = m.runServe(ctx, args[1:])
	case "sync":
		code, err = m.runSync(ctx, args[1:])
	case "plan":
		code, err = m.runPlan(ctx, args[1:])
	case "case":
		code, err = m.runCase(ctx, args[1:])
	case "explain":
		code, err = m.runExplain(ctx, args[1:])
	case "history":
		code, err = m.runHistory(ctx, args[1:])
	case "undo":
		code, err = m.runUndo(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(m.Stdout, usage)
		return exitOK
	default:
		err = usagef("unknown command %q", args[0])
	}
	var ue *usageError
	switch {
	case errors.Is(err, errHelp):
		fmt.Fprintln(m.Stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintln(m.Stderr, "zdsync: "+ue.msg)
		if strings.HasPrefix(ue.msg, "usage") || strings.HasPrefix(ue.msg, "unknown") {
			fmt.Fprintln(m.Stderr, usage)
		}
		return exitUsage
	case err != nil:
		fmt.Fprintln(m.Stderr, "zdsync: "+err.Error())
		return exitFail
	}
	return code
}

// errHelp is returned by parseArgs for -h or --help: Run prints the usage
// on stdout and exits 0, as `zdsync help` does.
var errHelp = errors.New("help requested")

// parseArgs parses flags placed anywhere among the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usagef("usage: %s", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (m *Main) config(ctx context.Context) (Config, error) {
	return LoadConfig(ctx, m.Env)
}

// logger returns the structured JSON logger on stderr.
func (m *Main) logger(cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}

// progress returns a syncer.Runner.Progress that writes to stderr; the
// runner calls it from its fetching goroutines, so writes are serialized.
func (m *Main) progress() func(job syncer.Job, msg string) {
	var mu sync.Mutex
	return func(job syncer.Job, msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(m.Stderr, "  · %s: %s\n", job, msg)
	}
}

// printSummary prints a summary as the single JSON object of --json, or as
// text, and returns the exit status it calls for.
func (m *Main) printSummary(s *syncer.Summary, asJSON bool) int {
	if asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	} else {
		s.WriteText(m.Stdout, 20)
	}
	if s.OK() {
		return exitOK
	}
	return exitFail
}

// runFailed reports a run that could not start once its arguments and
// configuration were accepted (a refused login, an unreachable database, a
// missing plan): with --json, stdout still gets its one Summary, carrying
// the error's code (in errors too, with an empty record); the error line
// goes to stderr. Exit status 1.
func (m *Main) runFailed(base syncer.Summary, err error, asJSON bool) (int, error) {
	var ue *usageError
	if !asJSON || errors.As(err, &ue) {
		return 0, err
	}
	fmt.Fprintln(m.Stderr, "zdsync: "+err.Error())
	now := time.Now()
	s := syncer.NewSummary(base.Job, now)
	s.DryRun, s.Account, s.PlanID, s.UndoOf, s.UndoRecord = base.DryRun, base.Account, base.PlanID, base.UndoOf, base.UndoRecord
	if se := (*syncer.Error)(nil); errors.As(err, &se) && se.Op != "" {
		err = syncer.WithOp(err, se.Op, "")
	}
	s.Fail(err)
	s.Finish(now)
	m.printSummary(s, true)
	return exitFail, nil
}

func (m *Main) runSync(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "")
	save := fs.Bool("save-plan", false, "")
	account := fs.String("account", "", "")
	asJSON := fs.Bool("json", false, "")
	incremental := fs.Bool("incremental", false, "")
	sinceArg := fs.String("since", "", "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 1 {
		return 0, usagef("usage: zdsync sync <global-orgs|federal-orgs|federal-users> [--dry-run [--save-plan]] [--account SFID] [--json]\n" +
			"       zdsync sync <global-orgs|federal-orgs|federal-users> --incremental [--since RFC3339] [--dry-run] [--json]")
	}
	since, err := incrementalArgs(*incremental, *sinceArg, *account, *save)
	if err != nil {
		return 0, err
	}
	job, ok := syncer.ParseJob(pos[0])
	if !ok || job == syncer.JobCaseSweep {
		return 0, usagef("unknown job %q: use global-orgs, federal-orgs or federal-users", pos[0])
	}
	if *save && !*dry {
		return 0, usagef("--save-plan needs --dry-run")
	}
	normalized := ""
	if *account != "" {
		if normalized, err = syncer.NormalizeID(*account); err != nil {
			return 0, usagef("--account: %s", syncer.ErrorMessage(err))
		}
	}
	cfg, err := m.config(ctx)
	if err != nil {
		return 0, err
	}
	p, err := m.wire(ctx, cfg, job)
	if err != nil {
		return m.runFailed(syncer.Summary{Job: job, DryRun: *dry, Account: normalized}, err, *asJSON)
	}
	if m.Terminal {
		p.core.Runner.Progress = m.progress()
	}
	s := p.core.Run(ctx, syncer.Request{Job: job, Options: syncer.Options{DryRun: *dry, SavePlan: *save, Account: normalized, By: syncer.ByCLI,
		Incremental: *incremental, Since: since}})
	return m.printSummary(s, *asJSON), nil
}

// incrementalArgs checks the flags of an incremental run and returns the
// start of its window (zero: the job's watermark).
func incrementalArgs(incremental bool, since, account string, save bool) (time.Time, error) {
	switch {
	case !incremental && since != "":
		return time.Time{}, usagef("--since needs --incremental")
	case !incremental:
		return time.Time{}, nil
	case account != "":
		return time.Time{}, usagef("--incremental reads every changed account: it takes no --account")
	case save:
		return time.Time{}, usagef("--incremental runs cannot --save-plan")
	case since == "":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return time.Time{}, usagef("--since %q: not an RFC 3339 time such as 2026-12-03T08:00:00Z", since)
	}
	if t.After(time.Now()) {
		return time.Time{}, usagef("--since %q is in the future", since)
	}
	return t, nil
}

func (m *Main) runPlan(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	asCSV := fs.Bool("csv", false, "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 0, err
	}
	const planUsage = "usage: zdsync plan show <plan-id> [--json|--csv] | zdsync plan apply <plan-id> [--json]"
	if len(pos) != 2 || (pos[0] != "show" && pos[0] != "apply") {
		return 0, usagef(planUsage)
	}
	switch {
	case *asCSV && pos[0] == "apply":
		return 0, usagef("--csv is for plan show only; " + planUsage)
	case *asCSV && *asJSON:
		return 0, usagef("--json and --csv exclude each other; " + planUsage)
	}
	applyJSON := *asJSON && pos[0] == "apply"
	cfg, err := m.config(ctx)
	if err != nil {
		return 0, err
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return m.runFailed(syncer.Summary{PlanID: pos[1]}, err, applyJSON)
	}
	p, err := db.GetPlan(ctx, pos[1])
	if err != nil {
		err = &syncer.Error{Code: syncer.CodePlanStale, Message: fmt.Sprintf("plan %s: %s", pos[1], syncer.ErrorMessage(err)), Err: err}
		return m.runFailed(syncer.Summary{PlanID: pos[1]}, err, applyJSON)
	}
	if pos[0] == "show" {
		switch {
		case *asJSON:
			enc := json.NewEncoder(m.Stdout)
			enc.SetIndent("", "  ")
			return exitOK, enc.Encode(p)
		case *asCSV:
			return exitOK, syncer.WriteCSV(m.Stdout, p.Changes, nil)
		}
		syncer.WritePlanText(m.Stdout, p, 50)
		return exitOK, nil
	}
	w, err := m.wire(ctx, cfg, p.Job)
	if err != nil {
		return m.runFailed(syncer.Summary{Job: p.Job, Account: p.Account, PlanID: p.ID}, err, applyJSON)
	}
	s := w.core.Run(ctx, syncer.Request{PlanID: p.ID, Options: syncer.Options{By: syncer.ByCLI}})
	return m.printSummary(s, *asJSON), nil
}

func (m *Main) runCase(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("case", flag.ContinueOnError)
	event := fs.String("event", "created", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 2 || pos[0] != "push" {
		return 0, usagef("usage: zdsync case push <ticket-id> [--event created|closed] [--json]")
	}
	id, err := strconv.ParseInt(pos[1], 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("ticket ID %q is not a positive number", pos[1])
	}
	ev, ok := syncer.ParseEvent(*event)
	if !ok {
		return 0, usagef("--event %q: use created or closed", *event)
	}
	cfg, err := m.config(ctx)
	if err != nil {
		return 0, err
	}
	p, err := m.wire(ctx, cfg, syncer.JobCases)
	if err != nil {
		return m.runFailed(syncer.Summary{Job: syncer.JobCases}, err, *asJSON)
	}
	s := p.core.Run(ctx, syncer.Request{Job: syncer.JobCases, TicketID: id, Event: ev, Options: syncer.Options{By: syncer.ByCLI}})
	return m.printSummary(s, *asJSON), nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
)

// defaultCLIHistory is how many entries `zdsync history` prints without
// --limit.
const defaultCLIHistory = 50

// printJSON prints v as the one JSON object of --json.
func (m *Main) printJSON(v any) {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// failure is the one JSON object of a read-only command (explain, history)
// that failed: what it was about, the code and the message.
type failure struct {
	Subject string      `json:"subject"`
	Code    syncer.Code `json:"code"`
	Message string      `json:"message"`
}

func (m *Main) runExplain(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	job := fs.String("job", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 0, err
	}
	const explainUsage = "usage: zdsync explain <SFID|org-id> [--job global|federal] [--json]"
	if len(pos) != 1 {
		return 0, usagef(explainUsage)
	}
	sub, err := syncer.ParseSubject(pos[0])
	if err != nil || sub.Kind == syncer.SubjectRun {
		return 0, usagef("%q is not a Salesforce account ID or a Zendesk org ID; %s", pos[0], explainUsage)
	}
	var jobs []syncer.Job
	switch strings.TrimSuffix(*job, "-orgs") {
	case "":
	case string(syncer.Global):
		jobs = []syncer.Job{syncer.JobGlobalOrgs}
	case string(syncer.Federal):
		jobs = []syncer.Job{syncer.JobFederalOrgs}
	default:
		return 0, usagef("--job %q: use global or federal; %s", *job, explainUsage)
	}
	cfg, err := m.config(ctx)
	if err != nil {
		return 0, err
	}
	if jobs == nil { // both, as far as they are configured
		jobs = []syncer.Job{syncer.JobGlobalOrgs}
		if cfg.ZendeskFederal.configured() {
			jobs = append(jobs, syncer.JobFederalOrgs)
		}
	}
	p, err := m.wire(ctx, cfg, jobs...)
	var ex *syncer.Explanation
	switch {
	case err != nil && (!*asJSON || isUsage(err)):
		return 0, err
	case err != nil:
		fmt.Fprintln(m.Stderr, "zdsync: "+err.Error())
		ex = &syncer.Explanation{Account: sub.Value, Code: syncer.ErrorCode(err), Message: syncer.ErrorMessage(err), Recent: []syncer.HistoryEntry{}}
	default:
		ex = p.core.Explain(ctx, sub.Value, jobs)
	}
	if *asJSON {
		m.printJSON(ex)
	} else {
		ex.WriteText(m.Stdout)
	}
	if ex.Code != syncer.CodeNone {
		return exitFail, nil
	}
	return exitOK, nil
}

func isUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

func (m *Main) runHistory(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	limit := fs.Int("limit", defaultCLIHistory, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 0, err
	}
	const historyUsage = "usage: zdsync history <SFID|org-id|ticket-id|run-id> [--limit N] [--json]"
	if len(pos) != 1 {
		return 0, usagef(historyUsage)
	}
	if _, err := syncer.ParseSubject(pos[0]); err != nil {
		return 0, usagef("%s; %s", syncer.ErrorMessage(err), historyUsage)
	}
	if *limit < 1 {
		return 0, usagef("--limit must be 1 or more; %s", historyUsage)
	}
	cfg, err := m.config(ctx)
	if err != nil {
		return 0, err
	}
	fail := func(err error) (int, error) {
		if !*asJSON {
			return 0, err
		}
		fmt.Fprintln(m.Stderr, "zdsync: "+err.Error())
		m.printJSON(failure{Subject: pos[0], Code: syncer.ErrorCode(err), Message: syncer.ErrorMessage(err)})
		return exitFail, nil
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	h, err := (&app.Core{Store: db}).History(ctx, pos[0], *limit)
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		m.printJSON(h)
	} else {
		h.WriteText(m.Stdout)
	}
	return exitOK, nil
}

func (m *Main) runUndo(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("undo", flag.ContinueOnError)
	record := fs.String("record", "", "")
	dry := fs.Bool("dry-run", false, "")
	save := fs.Bool("save-plan", false, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 0, err
	}
	const undoUsage = "usage: zdsync undo <run-id> [--record KEY] [--dry-run [--save-plan]] [--json]"
	switch {
	case len(pos) != 1:
		return 0, usagef(undoUsage)
	case !syncer.IsRunID(pos[0]):
		return 0, usagef("%q is not a run ID (such as 20260101T120000-a1b2c3); %s", pos[0], undoUsage)
	case *save && !*dry:
		return 0, usagef("--save-plan needs --dry-run")
	}
	key, err := recordKey(*record)
	if err != nil {
		return 0, err
	}
	cfg, err := m.config(ctx)
	if err != nil {
		return 0, err
	}
	base := syncer.Summary{DryRun: *dry, UndoOf: pos[0], UndoRecord: key}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return m.runFailed(base, err, *asJSON)
	}
	run, err := db.GetRun(ctx, pos[0])
	if err != nil {
		if errors.Is(err, syncer.ErrNotFound) {
			err = syncer.Errorf(syncer.CodeNotFound, "no run %s is recorded", pos[0])
		}
		return m.runFailed(base, err, *asJSON)
	}
	base.Job = run.Job
	job := run.Job
	if !job.IsSync() {
		job = syncer.JobGlobalOrgs // wired only to refuse it with its reason
	}
	p, err := m.wire(ctx, cfg, job)
	if err != nil {
		return m.runFailed(base, err, *asJSON)
	}
	s := p.core.Run(ctx, syncer.Request{UndoOf: pos[0], UndoRecord: key, Options: syncer.Options{DryRun: *dry, SavePlan: *save, By: syncer.ByCLI}})
	return m.printSummary(s, *asJSON), nil
}

// recordKey checks an undo's --record: the key of an org (its Salesforce
// account ID) or of a user (its e-mail).
func recordKey(s string) (string, error) {
	switch {
	case s == "":
		return "", nil
	case strings.Contains(s, "@"):
		if e := syncer.NormalizeEmail(s); syncer.ValidEmail(e) {
			return e, nil
		}
		return "", usagef("--record %q is not a valid e-mail", s)
	}
	id, err := syncer.NormalizeID(s)
	if err != nil {
		return "", usagef("--record: %s (a record is an org's Salesforce account ID or a user's e-mail)", syncer.ErrorMessage(err))
	}
	return id, nil
}

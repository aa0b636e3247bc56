package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// The on-call commands' usage errors exit 2, with one line on stderr, and
// touch nothing (not even the database).
func TestOnCallUsageErrorsExit2(t *testing.T) {
	const run1 = "20260101T120000-a1b2c3"
	tests := []struct {
		name string
		set  map[string]string
		args []string
		want string
	}{
		{"undo needs a run ID", nil, []string{"undo"}, "usage: zdsync undo"},
		{"undo refuses what is not a run ID", nil, []string{"undo", "yesterday"}, `"yesterday" is not a run ID`},
		{"undo's --save-plan needs --dry-run", nil, []string{"undo", run1, "--save-plan"}, "--save-plan needs --dry-run"},
		{"undo's --record is an account ID or an e-mail", nil, []string{"undo", run1, "--record", "acme"}, "--record"},
		{"history needs a subject", nil, []string{"history"}, "usage: zdsync history"},
		{"history refuses an unknown subject", nil, []string{"history", "acme corp"}, "not a Salesforce account ID, a Zendesk ID or a run ID"},
		{"history's --limit is 1 or more", nil, []string{"history", run1, "--limit", "0"}, "--limit must be 1 or more"},
		{"explain refuses a run ID", nil, []string{"explain", run1}, "is not a Salesforce account ID or a Zendesk org ID"},
		{"explain's --job is global or federal", nil, []string{"explain", "001000000000000", "--job", "cases"}, `--job "cases"`},
		{"a malformed DELETE_GRACE", map[string]string{"DELETE_GRACE": "a week"}, []string{"sync", "global-orgs"}, "DELETE_GRACE: not a number of days or a duration"},
		{"a negative DELETE_GRACE", map[string]string{"DELETE_GRACE": "-1d"}, []string{"sync", "global-orgs"}, "DELETE_GRACE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := okEnv(t)
			for k, v := range tt.set {
				env[k] = v
			}
			code, out, errOut := run(t, env, tt.args...)
			if code != exitUsage || out != "" || !strings.HasPrefix(errOut, "zdsync: ") || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			if _, err := os.Stat(env["DATABASE_URL"]); err == nil {
				t.Errorf("the database was created")
			}
		})
	}
}

// DELETE_GRACE is written in days or as a duration; 0 deletes at once.
func TestDeleteGrace(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 7 * 24 * time.Hour, "7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "0": 0, "0d": 0} {
		cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"DELETE_GRACE": value}))
		if err != nil || cfg.rules().DeleteGrace != want {
			t.Errorf("DELETE_GRACE=%q: %v, %v; want %v", value, cfg.rules().DeleteGrace, err, want)
		}
	}
}

// undo is a run like any other on the command line: --json prints one
// summary with the undone run's job and undo_of; a dry run can store its
// plan, which plan apply applies; a second undo is refused (exit 1, code
// 23); history and explain print one JSON object too.
func TestOnCallCommandLine(t *testing.T) {
	sb, env := sandboxEnv(t, sandbox.Options{Seed: 3, Accounts: 150})
	env["DELETE_GRACE"] = "0"
	code, out, errOut := run(t, env, "sync", "global-orgs", "--json")
	first := decodeOne(t, out)
	runID, _ := first["run_id"].(string)
	if code != exitOK || first["deleted"] == float64(0) || runID == "" {
		t.Fatalf("sync: exit %d %v\n%s", code, first, errOut)
	}

	code, out, _ = run(t, env, "undo", runID, "--dry-run", "--save-plan", "--json")
	preview := decodeOne(t, out)
	planID, _ := preview["plan_id"].(string)
	if code != exitOK || preview["job"] != "global-orgs" || preview["undo_of"] != runID || preview["dry_run"] != true || planID == "" ||
		preview["created"] != first["deleted"] {
		t.Fatalf("undo --dry-run --save-plan: exit %d %v", code, preview)
	}
	if _, ok := preview["changes"].([]any); !ok {
		t.Errorf("the dry run lists no changes: %v", preview)
	}
	orgs := len(sb.Global.Orgs())
	code, out, _ = run(t, env, "plan", "apply", planID, "--json")
	applied := decodeOne(t, out)
	if code != exitOK || applied["job"] != "global-orgs" || applied["undo_of"] != runID || applied["by"] != syncer.ByCLI ||
		applied["created"] != first["deleted"] || len(sb.Global.Orgs()) != orgs+int(applied["created"].(float64))-int(applied["deleted"].(float64)) {
		t.Errorf("plan apply of the undo: exit %d, job %v, undo_of %v, by %v, %v created, %v deleted; %d orgs, were %d",
			code, applied["job"], applied["undo_of"], applied["by"], applied["created"], applied["deleted"], len(sb.Global.Orgs()), orgs)
	}

	code, out, errOut = run(t, env, "undo", runID, "--json")
	again := decodeOne(t, out)
	if code != exitFail || again["code"] != float64(syncer.CodeAlreadyUndone) || again["undo_of"] != runID || again["job"] != "global-orgs" ||
		!runFailureListed(again, float64(syncer.CodeAlreadyUndone)) {
		t.Errorf("second undo: exit %d %v\n%s", code, again, errOut)
	}
	code, out, _ = run(t, env, "undo", "20200101T000000-000000", "--json")
	if s := decodeOne(t, out); code != exitFail || s["code"] != float64(syncer.CodeNotFound) || s["undo_of"] != "20200101T000000-000000" {
		t.Errorf("undo of an unknown run: exit %d %v", code, s)
	}

	code, out, _ = run(t, env, "history", runID, "--json")
	h := decodeOne(t, out)
	if undone, _ := h["undone_by"].([]any); code != exitOK || h["run"] == nil || len(undone) != 1 || undone[0] != applied["run_id"] {
		t.Errorf("history --json: exit %d, run %v, undone by %v", code, h["run"] != nil, h["undone_by"])
	}
	code, out, _ = run(t, env, "history", "20200101T000000-000000", "--json")
	if f := decodeOne(t, out); code != exitFail || f["code"] != float64(syncer.CodeNotFound) {
		t.Errorf("history of an unknown run: exit %d %v", code, f)
	}
	code, out, _ = run(t, env, "history", runID, "--limit", "3")
	if code != exitOK || !strings.Contains(out, "history of run "+runID) || !strings.Contains(out, "more changes (--limit)") {
		t.Errorf("history text: exit %d\n%s", code, out)
	}

	account := firstSyncedOrg(t, sb).ExternalID
	code, out, _ = run(t, env, "explain", account, "--json")
	ex := decodeOne(t, out)
	if jobs, _ := ex["jobs"].([]any); code != exitOK || ex["account"] != account || len(jobs) != 2 {
		t.Errorf("explain --json: exit %d %v", code, ex)
	}
	code, out, _ = run(t, env, "explain", account, "--job", "global")
	if code != exitOK || !strings.Contains(out, "global-orgs: ") || strings.Contains(out, "federal-orgs: ") || !strings.Contains(out, "last changes (audit):") {
		t.Errorf("explain --job global: exit %d\n%s", code, out)
	}
}

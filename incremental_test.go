package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
)

// The flags of an incremental run are checked before any network call:
// exit 2, one line, nothing created.
func TestIncrementalFlagsAreChecked(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		args []string
		want string
	}{
		{"--since needs --incremental", nil, []string{"sync", "global-orgs", "--since", "2026-12-03T08:00:00Z"}, "--since needs --incremental"},
		{"--incremental takes no account", nil, []string{"sync", "global-orgs", "--incremental", "--account", "0014M00001sGJ8xQAG"}, "takes no --account"},
		{"--incremental stores no plan", nil, []string{"sync", "federal-users", "--incremental", "--dry-run", "--save-plan"}, "cannot --save-plan"},
		{"a malformed --since", nil, []string{"sync", "global-orgs", "--incremental", "--since", "yesterday"}, "not an RFC 3339 time"},
		{"a --since in the future", nil, []string{"sync", "global-orgs", "--incremental", "--since", "2999-01-01T00:00:00Z"}, "is in the future"},
		{"a negative INCREMENTAL_OVERLAP", map[string]string{"INCREMENTAL_OVERLAP": "-1m"}, []string{"sync", "global-orgs", "--incremental"},
			"INCREMENTAL_OVERLAP must not be negative"},
		{"a zero INCREMENTAL_MAX_AGE", map[string]string{"INCREMENTAL_MAX_AGE": "0s"}, []string{"sync", "global-orgs", "--incremental"},
			"INCREMENTAL_MAX_AGE must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := okEnv(t)
			for k, v := range tt.set {
				env[k] = v
			}
			code, out, errOut := run(t, env, tt.args...)
			first, _, _ := strings.Cut(errOut, "\n")
			if code != exitUsage || out != "" || !strings.HasPrefix(first, "zdsync: ") || !strings.Contains(first, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			if _, err := os.Stat(env["DATABASE_URL"]); err == nil {
				t.Error("the database was created")
			}
		})
	}
}

// zdsync sync <job> --incremental carries a change made after the full
// run over and prints the window and the watermark in --json; a --since
// window later than the job's reads but leaves the watermark; a second
// run writes nothing.
func TestSyncIncrementalCommand(t *testing.T) {
	sb, env := sandboxEnv(t, sandbox.Options{Seed: 2, Accounts: 60})
	if code, out, _ := run(t, env, "sync", "global-orgs"); code != exitOK {
		t.Fatalf("full run: exit %d\n%s", code, out)
	}
	var changed string
	for _, o := range sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) && sb.Salesforce.UpdateAccount(o.ExternalID, func(a *salesforcetest.Account) { a.Owner = "Casey Newowner" }) {
			changed = o.ExternalID
			break
		}
	}

	code, out, errOut := run(t, env, "sync", "global-orgs", "--incremental", "--dry-run", "--json")
	var dry syncer.Summary
	if err := json.Unmarshal([]byte(out), &dry); err != nil || code != exitOK || dry.Updated != 1 || dry.Incremental == nil || !dry.Incremental.Watermark.IsZero() {
		t.Fatalf("dry run: exit %d, %v, %+v\n%s", code, err, dry.Incremental, errOut)
	}

	code, out, _ = run(t, env, "sync", "global-orgs", "--incremental", "--json")
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != exitOK {
		t.Fatalf("exit %d, stdout is not one JSON object (%v):\n%s", code, err, out)
	}
	inc, _ := s["incremental"].(map[string]any)
	if s["updated"] != float64(1) || inc == nil || inc["since"] == nil || inc["watermark"] == nil || inc["salesforce_calls"] == nil {
		t.Errorf("summary %v; want the change updated and the incremental window", s)
	}
	if o, _ := orgOf(sb.Global, changed); o.Fields.Get("account_owner") != "Casey Newowner" {
		t.Errorf("account_owner = %v", o.Fields.Get("account_owner"))
	}
	db, err := store.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wm, _, _ := db.Watermark(context.Background(), syncer.JobGlobalOrgs)

	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	code, out, _ = run(t, env, "sync", "global-orgs", "--incremental", "--since", since)
	if code != exitOK || !strings.Contains(out, "0 created, 0 updated, 0 deleted") {
		t.Errorf("--since run: exit %d\n%s", code, out)
	}
	if again, _, _ := db.Watermark(context.Background(), syncer.JobGlobalOrgs); !again.At.Equal(wm.At) {
		t.Errorf("a --since window later than the job's moved the watermark from %v to %v", wm.At, again.At)
	}
}

// The freshness alarm covers incremental runs: a job whose changes waited
// longer than INCREMENTAL_MAX_AGE alerts once with code 26, and its next
// successful incremental run resolves the alert.
func TestFreshnessAlarmCoversIncrementalRuns(t *testing.T) {
	ctx := context.Background()
	f, n, db, slack := freshnessFor(t)
	f.Jobs = func() []syncer.Job { return nil }
	f.IncrementalJobs = func() []syncer.Job { return []syncer.Job{syncer.JobGlobalOrgs} }
	f.IncrementalMaxAge = 15 * time.Minute
	start := f.Started
	if err := db.SaveWatermark(ctx, syncer.Watermark{Job: syncer.JobGlobalOrgs, At: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.Check(ctx, start.Add(time.Hour+10*time.Minute))
	if got := len(slack.Messages("CALERT")); got != 0 {
		t.Fatalf("%d alerts within the limit", got)
	}
	f.Check(ctx, start.Add(time.Hour+20*time.Minute))
	f.Check(ctx, start.Add(time.Hour+21*time.Minute))
	msgs := slack.Messages("CALERT")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "Behind") || !strings.Contains(string(msgs[0].Blocks), "INCREMENTAL_MAX_AGE=15m") {
		t.Fatalf("alerts %+v; want one Behind alert", msgs)
	}
	ok := &syncer.Summary{RunID: "inc-ok", Job: syncer.JobGlobalOrgs, StartedAt: start.Add(2 * time.Hour), FinishedAt: start.Add(2 * time.Hour),
		Errors: []syncer.RecordError{}, Incremental: &syncer.IncrementalRun{Watermark: start.Add(2 * time.Hour)}}
	if err := n.Notify(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if _, open, _ := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeBehind); open {
		t.Error("the Behind alert is still open after a successful incremental run")
	}
}

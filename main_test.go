package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/syncer/sandbox"
)

// sandboxEnv starts the sandboxes and returns them with the environment that points
// zdsync at them, with a database of its own.
func sandboxEnv(t *testing.T, opts sandbox.Options) (*sandbox.Sandbox, map[string]string) {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	env := sb.Env()
	env["DATABASE_URL"] = filepath.Join(t.TempDir(), "zdsync.db")
	return sb, env
}

// run runs zdsync with args and env, returning exit status, stdout, stderr.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Env: envconfig.MapLookuper(env)}
	defer m.Close()
	code := m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestUsageAndConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in stderr
	}{
		{"no command prints the usage", nil, nil, "usage:"},
		{"an unknown command is named", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"an unknown job is named", nil, []string{"sync", "everything"}, `unknown job "everything"`},
		{"a bad account ID is refused", nil, []string{"sync", "global-orgs", "--account", "x'; DROP"}, "not a Salesforce ID"},
		{"--save-plan needs --dry-run", nil, []string{"sync", "federal-users", "--save-plan"}, "--save-plan needs --dry-run"},
		{"a missing variable is named", map[string]string{}, []string{"sync", "global-orgs"}, "SALESFORCE_URL is not set"},
		{"a missing Zendesk variable is named", map[string]string{"SALESFORCE_URL": "http://127.0.0.1:1", "SALESFORCE_CLIENT_ID": "a", "SALESFORCE_CLIENT_SECRET": "b"},
			[]string{"sync", "federal-orgs"}, "ZENDESK_FEDERAL_URL is not set"},
		{"a malformed duration is named", map[string]string{"HTTP_TIMEOUT": "soon"}, []string{"sync", "global-orgs"}, "HTTP_TIMEOUT"},
		{"a malformed number is named", map[string]string{"CASE_PUSH_RETRIES": "three"}, []string{"case", "push", "12"}, "CASE_PUSH_RETRIES"},
		{"a bad ticket ID is refused", nil, []string{"case", "push", "twelve"}, `ticket ID "twelve"`},
		{"a bad event is refused", nil, []string{"case", "push", "12", "--event", "reopened"}, `--event "reopened"`},
		{"an unknown flag is refused", nil, []string{"sync", "global-orgs", "--force"}, "flag provided but not defined: -force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = map[string]string{}
			}
			code, out, errOut := run(t, env, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and %q", code, errOut, out, tt.want)
			}
			if first, _, _ := strings.Cut(errOut, "\n"); tt.args != nil && !strings.HasPrefix(first, "zdsync: ") {
				t.Errorf("first line %q is not one clear error", first)
			}
		})
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	env := map[string]string{"SALESFORCE_URL": "http://127.0.0.1:1", "SALESFORCE_CLIENT_ID": "id",
		"SALESFORCE_CLIENT_SECRET": "s3cr3t-client", "SALESFORCE_PASSWORD": "hunter2-pass", "SALESFORCE_USERNAME": "u",
		"SALESFORCE_SECURITY_TOKEN": "tok-secret", "ZENDESK_GLOBAL_URL": "http://127.0.0.1:1", "ZENDESK_GLOBAL_EMAIL": "a@b",
		"ZENDESK_GLOBAL_API_TOKEN": "zd-secret-token", "DATABASE_URL": filepath.Join(t.TempDir(), "db")}
	code, out, errOut := run(t, env, "sync", "global-orgs", "--json")
	if code != exitFail {
		t.Errorf("exit %d", code)
	}
	for _, secret := range []string{"s3cr3t-client", "hunter2-pass", "tok-secret", "zd-secret-token"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("secret %q printed:\n%s\n%s", secret, out, errOut)
		}
	}
}

func TestSyncCommandJSON(t *testing.T) {
	sb, env := sandboxEnv(t, sandbox.Options{Seed: 2, Accounts: 60})

	code, out, errOut := run(t, env, "sync", "global-orgs", "--dry-run", "--json")
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != exitOK {
		t.Fatalf("exit %d, stdout is not one JSON object (%v):\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	for _, key := range []string{"job", "dry_run", "created", "updated", "deleted", "unchanged", "skipped", "errors", "changes"} {
		if _, ok := s[key]; !ok {
			t.Errorf("summary has no %q", key)
		}
	}
	if s["dry_run"] != true || sb.Global.WriteCalls() != 0 {
		t.Errorf("dry run wrote %d times", sb.Global.WriteCalls())
	}
	if ch, _ := s["changes"].([]any); len(ch) == 0 || ch[0].(map[string]any)["action"] == nil || ch[0].(map[string]any)["key"] == nil {
		t.Errorf("changes %v", s["changes"])
	}

	code, out, _ = run(t, env, "sync", "global-orgs", "--json")
	if code != exitOK || !json.Valid([]byte(out)) || sb.Global.WriteCalls() == 0 {
		t.Fatalf("exit %d, writes %d, out %s", code, sb.Global.WriteCalls(), out)
	}
	code, out, _ = run(t, env, "sync", "global-orgs")
	if code != exitOK || !strings.Contains(out, "0 created, 0 updated, 0 deleted") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes a few seconds")
	}
	code, out, errOut := run(t, nil, "demo", "--accounts", "60")
	if code != exitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"global-orgs again", "Zendesk write calls: 0", "federal-users preview", "already applied"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

// `zdsync plan show` lists what the dry run that stored the plan listed,
// skipped records and their reasons included, in JSON and in CSV.
func TestPlanShowListsTheDryRunsSkips(t *testing.T) {
	_, env := sandboxEnv(t, sandbox.Options{Seed: 6, Accounts: 40})
	if code, out, errOut := run(t, env, "sync", "federal-orgs"); code != exitOK {
		t.Fatalf("federal-orgs: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := run(t, env, "sync", "federal-users", "--dry-run", "--save-plan", "--json")
	if code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	var dry struct {
		PlanID  string `json:"plan_id"`
		Changes []struct{ Action, Key, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &dry); err != nil || dry.PlanID == "" {
		t.Fatalf("dry run summary (%v): %s", err, out)
	}
	code, out, _ = run(t, env, "plan", "show", dry.PlanID, "--json")
	var plan struct {
		Changes []struct{ Action, Key, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || code != exitOK {
		t.Fatalf("plan show: exit %d (%v): %s", code, err, out)
	}
	skips := 0
	for _, c := range dry.Changes {
		if c.Action == "skip" {
			skips++
		}
	}
	if skips == 0 || fmt.Sprint(plan.Changes) != fmt.Sprint(dry.Changes) {
		t.Errorf("plan lists %v\ndry run listed %v (%d skips)", plan.Changes, dry.Changes, skips)
	}
	code, out, _ = run(t, env, "plan", "show", dry.PlanID, "--csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || code != exitOK || len(rows) != len(dry.Changes)+1 {
		t.Errorf("plan show --csv: exit %d, %d rows (%v), want %d", code, len(rows), err, len(dry.Changes)+1)
	}
}

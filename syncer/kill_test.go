package syncer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
)

// killChildEnv carries, to the child process of TestKilledGlobalOrgsRunConverges,
// the sandbox's configuration and the database path, as JSON.
const killChildEnv = "ZDSYNC_KILL_CHILD"

// killChildConfig is what the child needs to run global-orgs.
type killChildConfig struct {
	Env map[string]string
	DB  string
	Now time.Time
	// Schema is the Postgres schema of DB, when DB is a Postgres URL.
	Schema string
}

// adaptersFor builds the real Salesforce and Zendesk Global adapters of a
// child process from the parent's sandbox configuration (sandbox.Env),
// with no real sleeps.
func adaptersFor(t testing.TB, env map[string]string, tweak func(*zendesk.Config)) (*salesforce.Client, *zendesk.Client) {
	t.Helper()
	sf, err := salesforce.New(context.Background(), salesforce.Config{URL: env["SALESFORCE_URL"], ClientID: env["SALESFORCE_CLIENT_ID"],
		ClientSecret: env["SALESFORCE_CLIENT_SECRET"], Username: env["SALESFORCE_USERNAME"],
		Password: env["SALESFORCE_PASSWORD"], SecurityToken: env["SALESFORCE_SECURITY_TOKEN"]})
	if err != nil {
		t.Fatal(err)
	}
	field, _ := strconv.ParseInt(env["ZENDESK_CASE_ID_FIELD"], 10, 64)
	cfg := zendesk.Config{URL: env["ZENDESK_GLOBAL_URL"], Email: env["ZENDESK_GLOBAL_EMAIL"], Token: env["ZENDESK_GLOBAL_API_TOKEN"],
		Sleep: noSleep, RequestsPerMinute: 1 << 20, CaseIDField: field}
	if tweak != nil {
		tweak(&cfg)
	}
	zd, err := zendesk.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sf, zd
}

// killRunner builds the runner the child and the restarted run use: the
// real adapters against the parent's sandbox, one bulk job in flight so that
// the run is still applying when it is killed.
func killRunner(t testing.TB, cfg killChildConfig) (*syncer.Runner, *store.DB) {
	ctx := context.Background()
	sf, zd := adaptersFor(t, cfg.Env, func(c *zendesk.Config) { c.MaxJobsInFlight = 1 })
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	rules := sandbox.Rules()
	rules.ApprovalThreshold = rules.MaxDeletes // nothing held for approval
	rules.DeleteGrace = 0                      // deletions at once, as the converged state expects
	now := cfg.Now
	return &syncer.Runner{Salesforce: sf, Global: zd, Federal: zd, Store: db, Rules: rules, ApplyBatch: 100,
		Now: func() time.Time { return now }}, db
}

// TestKillChild is the child process of TestKilledGlobalOrgsRunConverges:
// it runs global-orgs against the parent's sandbox until the parent kills
// it.
func TestKillChild(t *testing.T) {
	cfg := childConfig(t, killChildEnv)
	r, _ := killRunner(t, cfg)
	s := r.Run(context.Background(), syncer.JobGlobalOrgs, syncer.Options{})
	fmt.Fprintf(os.Stderr, "child finished unexpectedly: %s\n", s.Headline())
	os.Exit(4)
}

// TestKilledGlobalOrgsRunConverges runs global-orgs in a child process,
// SIGKILLs it once the fake Zendesk has received some bulk jobs (the one
// being received is handled, its answer never read), then runs the job
// again in this process and checks that the sync converged with nothing
// lost and nothing doubled.
func TestKilledGlobalOrgsRunConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 23, Accounts: 1500, Missing: 0.2, Stale: 0.3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	cfg := killChildConfig{Env: sb.Env(), DB: filepath.Join(t.TempDir(), "zdsync.db"), Now: now}
	// The plan of the run about to be killed, from a dry run on a database
	// of its own.
	preview, pdb := killRunner(t, killChildConfig{Env: cfg.Env, DB: filepath.Join(t.TempDir(), "preview.db"), Now: now})
	before := preview.Run(ctx, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
	pdb.Close()
	// Kill the child when the third bulk request arrives: org creates or
	// updates have been applied, more are pending, sold-to users and
	// deletions have not started.
	const killAt = 3
	var bulk atomic.Int32
	killChild(t, sb, "TestKillChild", killChildEnv, cfg, func(method, _ string) bool {
		return method != "GET" && bulk.Add(1) == killAt
	}, nil)
	if n := bulk.Load(); n < killAt {
		t.Fatalf("child died after %d bulk requests", n)
	}
	t.Logf("killed at bulk request %d; %d orgs in Zendesk", killAt, len(sb.Global.Orgs()))

	r, db := killRunner(t, cfg)
	t.Cleanup(func() { db.Close() })
	s := r.Run(ctx, syncer.JobGlobalOrgs, syncer.Options{})
	if !s.OK() || s.Failed != 0 {
		t.Fatalf("restarted run: %s (%s) %+v", s.Headline(), s.Message, s.Errors)
	}
	dry := r.Run(ctx, syncer.JobGlobalOrgs, syncer.Options{DryRun: true})
	if n := dry.Created + dry.Updated + dry.Deleted; n != 0 {
		t.Errorf("after the restarted run a dry run still plans %d changes: %+v", n, actionable(dry.Changes))
	}
	exts := map[string]int{}
	for _, o := range sb.Global.Orgs() {
		if exts[o.ExternalID]++; o.ExternalID != "" && exts[o.ExternalID] == 2 {
			t.Errorf("two orgs with external_id %s", o.ExternalID)
		}
	}
	emails := map[string]int{}
	for _, u := range sb.Global.Users() {
		if emails[u.Email]++; emails[u.Email] == 2 {
			t.Errorf("two users with e-mail %s", u.Email)
		}
	}
	// Every sold-to contact of every org the killed run was to create is
	// a user of that org.
	orgOf := map[string]int64{}
	for _, o := range sb.Global.Orgs() {
		orgOf[o.ExternalID] = o.ID
	}
	userOrg := map[string]int64{}
	for _, u := range sb.Global.Users() {
		userOrg[u.Email] = u.OrgID
	}
	soldTo, lost := 0, 0
	for _, c := range before.Changes {
		if c.Kind != "user" || c.Action != syncer.Create {
			continue
		}
		soldTo++
		if id, ok := userOrg[c.Key]; !ok || id != orgOf[c.Parent] {
			lost++
		}
	}
	if soldTo == 0 {
		t.Error("the plan had no sold-to users to check")
	}
	if lost > 0 {
		t.Errorf("%d of %d sold-to users of orgs created by the killed run were never created", lost, soldTo)
	}
}

// childConfig returns the configuration a kill test passed its child
// process in envName, and skips the test when it does not run as that
// child.
func childConfig(t *testing.T, envName string) killChildConfig {
	t.Helper()
	raw := os.Getenv(envName)
	if raw == "" {
		t.Skip("only run as the child process of a kill test")
	}
	var cfg killChildConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pushUntilKilled starts q in a kill test's child process and waits for
// the parent's SIGKILL; a child still alive after a minute exits 4.
func pushUntilKilled(t *testing.T, q *pushqueue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
	fmt.Fprintln(os.Stderr, "child was never killed")
	os.Exit(4)
}

// killChild is the SIGKILL harness of the kill tests. It starts this test
// binary again as a child running only the test named run, with cfg as
// JSON in the variable envName; SIGKILLs it from inside the fake Zendesk
// Global's handler of the first request for which kill returns true (that
// request is handled, its answer never read by the dead child), then runs
// after, if set, before the request returns; and fails the test unless
// the child died of the signal.
func killChild(t *testing.T, sb *sandbox.Sandbox, run, envName string, cfg killChildConfig, kill func(method, endpoint string) bool, after func()) {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$")
	cmd.Env = append(os.Environ(), envName+"="+string(raw))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	var pid atomic.Int64 // set once the child started
	var once sync.Once
	dead := make(chan struct{})
	sb.Global.OnRequest(func(method, endpoint string) {
		if !kill(method, endpoint) {
			return
		}
		once.Do(func() {
			for pid.Load() == 0 { // never signal pid 0: that is our own group
				time.Sleep(time.Millisecond)
			}
			_ = syscall.Kill(int(pid.Load()), syscall.SIGKILL)
			<-dead
			if after != nil {
				after()
			}
		})
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid.Store(int64(cmd.Process.Pid))
	err := cmd.Wait()
	close(dead)
	sb.Global.OnRequest(nil)
	var ee *exec.ExitError
	if !asExitError(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed (%v):\n%s", err, out.String())
	}
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// asExitError reports whether err is an *exec.ExitError, setting *ee.
func asExitError(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}

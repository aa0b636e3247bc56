package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// runDemo runs every job against built-in sandboxes: no credentials, no
// network beyond loopback, a throw-away database.
func (m *Main) runDemo(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	accounts := fs.Int("accounts", 300, "")
	seed := fs.Int64("seed", 1, "")
	if _, err := parseArgs(fs, args); err != nil {
		return 0, err
	}
	if *accounts < 10 || *accounts > 200000 {
		return 0, usagef("--accounts must be between 10 and 200000")
	}
	dir, err := os.MkdirTemp("", "zdsync-demo-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	out := m.Stdout
	section(out, "Starting sandboxes: a fake Salesforce and fake Zendesk Global and US Federal instances on loopback")
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: *seed, Accounts: *accounts})
	if err != nil {
		return 0, err
	}
	defer sb.Close()
	env := sb.Env()
	env["DATABASE_URL"] = filepath.Join(dir, "zdsync.db")
	env["LOG_LEVEL"] = "warn"
	env["CASE_PUSH_RETRY_DELAY"] = "100ms"
	fmt.Fprintf(out, "  Salesforce: %d generated accounts and %d contacts; Zendesk Global: %d orgs; Zendesk US Federal: %d orgs, %d users\n",
		len(sb.Salesforce.Accounts()), len(sb.Salesforce.Contacts()), len(sb.Global.Orgs()), len(sb.Federal.Orgs()), len(sb.Federal.Users()))

	cfg, err := LoadConfig(ctx, envconfig.MapLookuper(env))
	if err != nil {
		return 0, err
	}
	app, err := m.app(ctx, cfg, syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCases)
	if err != nil {
		return 0, err
	}
	app.Runner.Progress = func(job syncer.Job, msg string) { fmt.Fprintf(m.Stderr, "  · %s: %s\n", job, msg) }
	failed := false
	report := func(s *syncer.Summary) {
		s.WriteText(out, 12)
		if !s.OK() {
			failed = true
		}
	}

	section(out, "1. global-orgs: Salesforce accounts → Zendesk Global organizations")
	before := sb.Global.WriteCalls()
	report(app.Runner.Run(ctx, syncer.JobGlobalOrgs, syncer.Options{By: "demo"}))
	fmt.Fprintf(out, "  Zendesk write calls: %d; %d greatly expired orgs were kept by the guards (do_not_delete, open tickets)\n",
		sb.Global.WriteCalls()-before, len(sb.Protected))

	section(out, "2. global-orgs again: everything is in sync, so nothing is written")
	before = sb.Global.WriteCalls()
	s := app.Runner.Run(ctx, syncer.JobGlobalOrgs, syncer.Options{By: "demo"})
	report(s)
	fmt.Fprintf(out, "  Zendesk write calls: %d\n", sb.Global.WriteCalls()-before)

	section(out, "3. federal-orgs: federal accounts → Zendesk US Federal organizations (never deletes, no contacts)")
	report(app.Runner.Run(ctx, syncer.JobFederalOrgs, syncer.Options{By: "demo"}))

	section(out, "4. federal-users preview: a dry run stored as a plan that can be applied")
	s = app.Runner.Run(ctx, syncer.JobFederalUsers, syncer.Options{DryRun: true, SavePlan: true, By: "demo"})
	if s.PlanID == "" {
		report(s)
		return exitFail, nil
	}
	plan, err := app.DB.GetPlan(ctx, s.PlanID)
	if err != nil {
		return 0, err
	}
	syncer.WritePlanText(out, plan, 8)
	fmt.Fprintf(out, "  skipped contacts (dirty data), first few:\n")
	shown := 0
	for _, c := range s.Changes {
		if c.Action == syncer.Skip && shown < 6 {
			fmt.Fprintln(out, "    "+syncer.DescribeChange(c))
			shown++
		}
	}
	section(out, "5. federal-users: applying exactly the stored plan "+plan.ID)
	report(app.Runner.ApplyPlan(ctx, plan.ID, "demo"))
	fmt.Fprintln(out, "  applying it a second time is refused:")
	again := app.Runner.ApplyPlan(ctx, plan.ID, "demo")
	fmt.Fprintf(out, "  %s\n", again.Message)

	section(out, "Done")
	if failed {
		fmt.Fprintln(out, "  some runs failed; see above")
		return exitFail, nil
	}
	fmt.Fprintln(out, "  every job ran against the sandboxes; run `go test ./...` for the tests")
	return exitOK, nil
}

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n== %s\n%s\n", title, strings.Repeat("-", min(78, len(title)+3)))
}

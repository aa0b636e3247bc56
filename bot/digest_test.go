package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/syncer"
)

// incrementalRun is an incremental run of job that finished at, saved as
// the application core saves it before reporting it.
func (h *harness) incrementalRun(t *testing.T, runID string, job syncer.Job, at time.Time, edit func(*syncer.Summary)) *syncer.Summary {
	t.Helper()
	s := &syncer.Summary{RunID: runID, Job: job, StartedAt: at.Add(-time.Second), FinishedAt: at, Errors: []syncer.RecordError{},
		Incremental: &syncer.IncrementalRun{Since: at.Add(-3 * time.Minute), SalesforceCalls: 1}}
	if edit != nil {
		edit(s)
	}
	if !s.QuietIncremental() {
		if err := h.db.SaveRun(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func renamed(key, before, after string) syncer.Change {
	return syncer.Change{Action: syncer.Update, Kind: "org", Key: key, Name: before, ID: 42,
		Diffs: []syncer.FieldDiff{{Field: "name", Before: before, After: after}}}
}

// A failed incremental run alerts at once; its repeats every minute update
// the alert in place instead of replying in its thread; the next success
// resolves it, and leaves a full run's alert of the same job open.
func TestIncrementalRunsAlertOnceAndResolve(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	full := failing("full-1", syncer.CodeGuardRefused)
	if err := h.db.SaveRun(h.ctx, full); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(h.ctx, full); err != nil {
		t.Fatal(err)
	}
	before := len(h.srv.Messages("CALERT"))
	for i := range 5 {
		s := h.incrementalRun(t, "inc-"+string(rune('a'+i)), syncer.JobGlobalOrgs, epoch.Add(time.Duration(i)*time.Minute), func(s *syncer.Summary) {
			s.Code, s.Message = syncer.CodeConnectionFailed, "dial tcp: connection refused"
			s.Errors = []syncer.RecordError{{Code: syncer.CodeConnectionFailed, Message: "dial tcp: connection refused"}}
		})
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	alerts := h.srv.Messages("CALERT")[before:]
	if len(alerts) != 1 || alerts[0].ThreadTS != "" {
		t.Fatalf("alert channel got %d messages, want one alert and no thread reply: %+v", len(alerts), alerts)
	}
	if alerts[0].Updates != 4 || !strings.Contains(string(alerts[0].Blocks), "failed 5 times") {
		t.Errorf("alert updates = %d, blocks %s; want the count 5 edited in place", alerts[0].Updates, alerts[0].Blocks)
	}
	if len(h.srv.Messages("CSUMMARY")) != 1 {
		t.Errorf("summary channel: %d messages, want the full run's only", len(h.srv.Messages("CSUMMARY")))
	}

	ok := h.incrementalRun(t, "inc-ok", syncer.JobGlobalOrgs, epoch.Add(10*time.Minute), nil)
	if err := n.Notify(h.ctx, ok); err != nil {
		t.Fatal(err)
	}
	open, err := h.db.OpenAlerts(h.ctx)
	if err != nil || len(open) != 1 || open[0].Code != syncer.CodeGuardRefused {
		t.Errorf("open alerts = %+v, %v; want the full run's only", open, err)
	}
	if top := h.srv.Messages("CALERT")[before]; !strings.Contains(string(top.Blocks), "Resolved") {
		t.Errorf("the incremental alert after success: %s", top.Blocks)
	}
	if got := len(h.srv.Messages("CSUMMARY")); got != 1 {
		t.Errorf("a quiet incremental run posted: %d summary messages", got)
	}
}

// The changes of incremental runs go out once an hour, in one digest: the
// counts of each job, the first changes before → after, and a CSV of each
// job's changes; an hour with no change posts nothing.
func TestIncrementalChangesRollUpIntoAnHourlyDigest(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t)
	hour := epoch.Truncate(time.Hour)
	report := func(s *syncer.Summary) {
		t.Helper()
		if err := n.Notify(h.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	report(h.incrementalRun(t, "q0", syncer.JobGlobalOrgs, hour.Add(time.Minute), nil)) // starts the count
	report(h.incrementalRun(t, "g1", syncer.JobGlobalOrgs, hour.Add(5*time.Minute), func(s *syncer.Summary) {
		s.Updated, s.Changes = 1, []syncer.Change{renamed("0015g00000ABCDEAA5", "Acme", "Acme Corp")}
	}))
	report(h.incrementalRun(t, "f1", syncer.JobFederalUsers, hour.Add(7*time.Minute), func(s *syncer.Summary) {
		s.Created = 1
		s.Changes = []syncer.Change{{Action: syncer.Create, Kind: "user", Key: "pat@agency.example", Name: "=Pat",
			User: &syncer.UserWrite{Email: "pat@agency.example", Name: "=Pat", OrgID: 7}}}
	}))
	report(h.incrementalRun(t, "g2", syncer.JobGlobalOrgs, hour.Add(40*time.Minute), func(s *syncer.Summary) {
		s.Updated, s.Changes = 1, []syncer.Change{renamed("0015g00000ABCDEBB5", "Beta", "Beta Labs")}
	}))
	if got := len(h.srv.Messages("CSUMMARY")); got != 0 {
		t.Fatalf("%d messages within the hour, want none", got)
	}

	report(h.incrementalRun(t, "q1", syncer.JobFederalOrgs, hour.Add(61*time.Minute), nil))
	msgs := h.srv.Messages("CSUMMARY")
	if len(msgs) != 1 {
		t.Fatalf("%d summary messages after the hour, want one digest", len(msgs))
	}
	d := string(msgs[0].Blocks)
	for _, want := range []string{"1 created, 2 updated", "global-orgs", "2 runs that changed something", "federal-users",
		"Acme → Acme Corp", "Beta → Beta Labs", "create user pat@agency.example"} {
		if !strings.Contains(d, want) {
			t.Errorf("digest lacks %q: %s", want, d)
		}
	}
	files := h.srv.Files()
	if len(files) != 2 {
		t.Fatalf("%d files attached, want one CSV per job", len(files))
	}
	for _, f := range files {
		if strings.Contains(f.Name, "federal-users") && !strings.Contains(string(f.Content), "'=Pat") {
			t.Errorf("federal-users CSV is not spreadsheet-safe: %s", f.Content)
		}
	}

	report(h.incrementalRun(t, "q2", syncer.JobGlobalOrgs, hour.Add(90*time.Minute), nil))
	report(h.incrementalRun(t, "q3", syncer.JobGlobalOrgs, hour.Add(121*time.Minute), nil))
	if got := len(h.srv.Messages("CSUMMARY")); got != 1 {
		t.Errorf("%d summary messages; an hour without changes posted a digest", got)
	}
}

// Every digest stays within Slack's Block Kit limits, however many runs
// and changes it rolls up.
func TestDigestStaysWithinSlackLimits(t *testing.T) {
	var runs []syncer.Summary
	for i := range 300 {
		s := syncer.Summary{RunID: "r", Job: syncer.SyncJobs[i%3], Updated: 40, Incremental: &syncer.IncrementalRun{}}
		for k := range 40 {
			s.Changes = append(s.Changes, renamed("0015g00000ABCDEAA5", strings.Repeat("Old name ", k), strings.Repeat("New name ", k)))
		}
		runs = append(runs, s)
	}
	m, files := bot.RenderDigest(epoch, epoch.Add(time.Hour), runs)
	if err := bot.CheckLimits(m); err != nil {
		t.Error(err)
	}
	if len(files) != 3 {
		t.Errorf("%d files, want one per job", len(files))
	}
}

package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/metrics"
)

// scrape returns the text /metrics serves.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var finished = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestScrapeFindsEverySeries(t *testing.T) {
	m := metrics.New()
	m.ObserveRun(&syncer.Summary{Job: syncer.JobGlobalOrgs, DurationMS: 1500, FinishedAt: finished,
		Created: 2, Updated: 3, Deleted: 1, Skipped: 4,
		Errors: []syncer.RecordError{{Code: syncer.CodeItemFailed, Record: "001"}}})
	m.ObserveRun(&syncer.Summary{Job: syncer.JobFederalOrgs, DryRun: true, Created: 9, DurationMS: 200})
	m.ObserveRun(&syncer.Summary{Job: syncer.JobFederalUsers, Code: syncer.CodeAuthFailed, DurationMS: 100})
	m.ObserveRun(&syncer.Summary{Job: syncer.JobCases, Code: syncer.CodeNoCaseID,
		Errors: []syncer.RecordError{{Code: syncer.CodeNoCaseID, Record: "42"}}})
	m.ObserveCall("zendesk", "/organizations/create_many.json", "POST", 200, 120*time.Millisecond)
	m.ObserveCall("zendesk", "/organizations/create_many.json", "POST", 429, 10*time.Millisecond)
	m.ObserveCall("salesforce", "/query", "GET", 0, 30*time.Second)
	m.ObserveRateLimitWait("zendesk", 7*time.Second)
	m.SetQueueFunc(func() (int, time.Duration) { return 5, 90 * time.Second })
	m.SetLeaderFunc(func() bool { return true })
	m.SetReady("database", true)
	m.SetReady("slack", false)

	out := scrape(t, m)
	want := []string{
		`zdsync_runs_total{job="global-orgs",outcome="ok"} 1`,
		`zdsync_runs_total{job="federal-orgs",outcome="dry_run"} 1`,
		`zdsync_runs_total{job="federal-users",outcome="failed"} 1`,
		`zdsync_runs_total{job="cases",outcome="ok"} 1`,
		`zdsync_runs_total{job="case-sweep",outcome="failed"} 0`,
		`zdsync_run_duration_seconds_sum{job="global-orgs",outcome="ok"} 1.5`,
		`zdsync_run_duration_seconds_count{job="federal-users",outcome="failed"} 1`,
		`zdsync_run_duration_seconds_bucket{job="global-orgs",outcome="ok",le="5"} 1`,
		`zdsync_changes_total{action="create",job="global-orgs"} 2`,
		`zdsync_changes_total{action="update",job="global-orgs"} 3`,
		`zdsync_changes_total{action="delete",job="global-orgs"} 1`,
		`zdsync_changes_total{action="skip",job="global-orgs"} 4`,
		`zdsync_errors_total{code="7",job="global-orgs",name="ItemFailed",silent="false"} 1`,
		`zdsync_errors_total{code="9",job="federal-users",name="AuthFailed",silent="false"} 1`,
		`zdsync_errors_total{code="1",job="cases",name="No case ID to update",silent="true"} 1`,
		`zdsync_last_success_timestamp_seconds{job="global-orgs"} 1.741064767e+09`,
		`zdsync_api_calls_total{endpoint="/organizations/create_many.json",method="POST",status="2xx",system="zendesk"} 1`,
		`zdsync_api_calls_total{endpoint="/organizations/create_many.json",method="POST",status="4xx",system="zendesk"} 1`,
		`zdsync_api_calls_total{endpoint="/query",method="GET",status="error",system="salesforce"} 1`,
		`zdsync_api_call_duration_seconds_count{endpoint="/organizations/create_many.json",method="POST",system="zendesk"} 2`,
		`zdsync_api_call_duration_seconds_bucket{endpoint="/query",method="GET",system="salesforce",le="30"} 1`,
		`zdsync_rate_limit_wait_seconds_sum{system="zendesk"} 7`,
		`zdsync_rate_limit_wait_seconds_count{system="zendesk"} 1`,
		`zdsync_push_queue_depth 5`,
		`zdsync_push_queue_oldest_age_seconds 90`,
		`zdsync_scheduler_leader 1`,
		`zdsync_ready{check="database"} 1`,
		`zdsync_ready{check="slack"} 0`,
		`go_goroutines `,
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("scrape lacks %s", w)
		}
	}
	for _, unwanted := range []string{
		`zdsync_changes_total{action="create",job="federal-orgs"}`,                              // a dry run writes nothing
		`zdsync_last_success_timestamp_seconds{job="federal-orgs"}`,                             // nor is it a success of the job
		`zdsync_last_success_timestamp_seconds{job="federal-users"}`,                            // a failure is not
		`zdsync_errors_total{code="1",job="cases",name="No case ID to update",silent="true"} 2`, // the run's code is its record's
	} {
		if strings.Contains(out, unwanted) {
			t.Errorf("scrape has %s", unwanted)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
}

func TestLastSuccess(t *testing.T) {
	tests := []struct {
		name string
		runs []*syncer.Summary
		seed time.Time
		want string // the gauge line, or "" for none
	}{
		{"a single-account run is not a success of the job",
			[]*syncer.Summary{{Job: syncer.JobGlobalOrgs, Account: "001000000000000AAA", FinishedAt: finished}}, time.Time{}, ""},
		{"a run with a silent code is a success",
			[]*syncer.Summary{{Job: syncer.JobGlobalOrgs, Code: syncer.CodeInsufficientAccess, FinishedAt: finished}}, time.Time{},
			`zdsync_last_success_timestamp_seconds{job="global-orgs"} 1.741064767e+09`},
		{"a seed from the store older than the last run does not move it back",
			[]*syncer.Summary{{Job: syncer.JobGlobalOrgs, FinishedAt: finished}}, finished.Add(-time.Hour),
			`zdsync_last_success_timestamp_seconds{job="global-orgs"} 1.741064767e+09`},
		{"a seed from the store shows a job this replica has not run",
			nil, finished, `zdsync_last_success_timestamp_seconds{job="global-orgs"} 1.741064767e+09`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			for _, s := range tc.runs {
				m.ObserveRun(s)
			}
			m.SetLastSuccess(syncer.JobGlobalOrgs, tc.seed)
			out := scrape(t, m)
			has := strings.Contains(out, "zdsync_last_success_timestamp_seconds{")
			if tc.want == "" && has || tc.want != "" && !strings.Contains(out, tc.want) {
				t.Errorf("want %q in:\n%s", tc.want, grep(out, "zdsync_last_success"))
			}
		})
	}
}

func TestInstancesDoNotShareState(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.ObserveRateLimitWait("zendesk", time.Second)
	if out := scrape(t, b); strings.Contains(out, "zdsync_rate_limit_wait_seconds_count") {
		t.Errorf("a second instance sees the first's observations")
	}
	a.ObserveRun(nil) // ignored
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

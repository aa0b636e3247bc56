package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/metrics"
)

// Incremental runs count in their own series — runs, API calls by system,
// the watermark a successful one left — and stay out of the full runs'
// counts and last success, so that a job's alert rules keep judging its
// full runs.
func TestIncrementalRunsHaveTheirOwnSeries(t *testing.T) {
	m := metrics.New()
	at := finished.Add(-2 * time.Minute)
	m.ObserveRun(&syncer.Summary{Job: syncer.JobGlobalOrgs, FinishedAt: finished, Updated: 2,
		Incremental: &syncer.IncrementalRun{SalesforceCalls: 2, ZendeskCalls: 3, Watermark: at}})
	m.ObserveRun(&syncer.Summary{Job: syncer.JobGlobalOrgs, FinishedAt: finished, Code: syncer.CodeConnectionFailed,
		Incremental: &syncer.IncrementalRun{SalesforceCalls: 1}})
	out := scrape(t, m)
	for _, want := range []string{
		`zdsync_incremental_runs_total{job="global-orgs",outcome="ok"} 1`,
		`zdsync_incremental_runs_total{job="global-orgs",outcome="failed"} 1`,
		`zdsync_incremental_runs_total{job="federal-users",outcome="ok"} 0`,
		`zdsync_incremental_api_calls_total{job="global-orgs",system="salesforce"} 3`,
		`zdsync_incremental_api_calls_total{job="global-orgs",system="zendesk"} 3`,
		`zdsync_incremental_watermark_timestamp_seconds{job="global-orgs"} 1.741064647e+09`,
		`zdsync_changes_total{action="update",job="global-orgs"} 2`,
		`zdsync_errors_total{code="4",job="global-orgs",name="ConnectionFailed",silent="false"} 1`,
		`zdsync_runs_total{job="global-orgs",outcome="ok"} 0`,
		`zdsync_runs_total{job="global-orgs",outcome="failed"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, `zdsync_last_success_timestamp_seconds{job="global-orgs"}`) {
		t.Error("an incremental run set the last success of the job's full runs")
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", grep(out, "global-orgs"))
	}
}

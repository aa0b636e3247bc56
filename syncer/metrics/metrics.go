// Package metrics is zdsync's Prometheus instrumentation: sync runs and
// their outcomes, changes and errors, API calls, rate-limit waits,
// incremental runs and their watermarks, the case-push queue, readiness
// and the scheduler's leadership, served in the Prometheus text format by
// Handler (the /metrics endpoint of `zdsync serve`).
//
// A Metrics has its own registry: nothing is registered globally, so tests
// and several instances in one process do not interfere. Every series is
// named zdsync_…; the list is in the README's "Metrics" section.
//
// Metrics are per replica. Only the scheduler's leader runs scheduled jobs,
// and any replica may push a case, so queries aggregate over replicas
// (max by (job) for timestamps, sum for counters); the suggested alert
// rules in deploy/prometheus-rules.yaml do.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zdsync/zdsync/syncer"
)

// The outcomes of a run, as the outcome label of zdsync_runs_total.
const (
	OutcomeOK     = "ok"      // a run that did its work (silent codes included)
	OutcomeFailed = "failed"  // a run that failed (exit status 1)
	OutcomeDryRun = "dry_run" // a dry run (preview) that did its work
)

// Histogram buckets, in seconds.
var (
	// runBuckets span a single-account run (seconds) to a full global run
	// under a tight rate limit (an hour).
	runBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600}
	// callBuckets span a fast API answer to the default HTTP_TIMEOUT (30 s).
	callBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// waitBuckets span a pacing delay to a long Retry-After.
	waitBuckets = []float64{.1, .5, 1, 5, 10, 30, 60, 120, 300}
)

// Metrics holds zdsync's metrics and the registry that serves them. It is
// safe for concurrent use; the zero value is not usable, call New.
type Metrics struct {
	reg *prometheus.Registry

	runs         *prometheus.CounterVec
	runDuration  *prometheus.HistogramVec
	changes      *prometheus.CounterVec
	recordErrors *prometheus.CounterVec
	lastSuccess  *prometheus.GaugeVec
	apiCalls     *prometheus.CounterVec
	apiDuration  *prometheus.HistogramVec
	rateWaits    *prometheus.HistogramVec
	ready        *prometheus.GaugeVec
	incRuns      *prometheus.CounterVec
	incCalls     *prometheus.CounterVec
	incCaught    *prometheus.GaugeVec

	funcs *funcCollector

	mu   sync.Mutex
	last map[syncer.Job]float64 // the values of lastSuccess
}

// New returns metrics registered on a new registry of their own, with the
// Go runtime and process collectors, and the run counters of every known
// job at zero (so that increase() sees their first failure).
func New() *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		last: map[syncer.Job]float64{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zdsync_runs_total",
			Help: "Sync runs finished, by job and outcome (ok, failed, dry_run).",
		}, []string{"job", "outcome"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zdsync_run_duration_seconds",
			Help:    "Duration of sync runs, by job and outcome.",
			Buckets: runBuckets,
		}, []string{"job", "outcome"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zdsync_changes_total",
			Help: "Records changed by sync runs that wrote (not dry runs), by job and action (create, update, delete, skip).",
		}, []string{"job", "action"}),
		recordErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zdsync_errors_total",
			Help: "Pipeline errors of sync runs, by job and code (record errors, and the run's own failure code when no record carries it); silent is true for codes 1 and 2.",
		}, []string{"job", "code", "name", "silent"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "zdsync_last_success_timestamp_seconds",
			Help: "Unix time at which the last successful full run (not a dry run, not a single account) of each job finished; time() minus it is the time since.",
		}, []string{"job"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zdsync_api_calls_total",
			Help: "Outbound API requests (each attempt), by system, endpoint pattern, method and status class (2xx, 3xx, 4xx, 5xx, or error when no answer came).",
		}, []string{"system", "endpoint", "method", "status"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zdsync_api_call_duration_seconds",
			Help:    "Latency of outbound API requests (each attempt), by system, endpoint pattern and method.",
			Buckets: callBuckets,
		}, []string{"system", "endpoint", "method"}),
		rateWaits: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zdsync_rate_limit_wait_seconds",
			Help:    "Waits imposed by API rate limits (Retry-After of a 429, or slowing down near the limit), by system.",
			Buckets: waitBuckets,
		}, []string{"system"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "zdsync_ready",
			Help: "Outcome of the last readiness check of each dependency (1 ready, 0 not), as /readyz saw it.",
		}, []string{"check"}),
		incRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zdsync_incremental_runs_total",
			Help: "Incremental runs finished, by job and outcome (ok, failed, dry_run); they count here, not in zdsync_runs_total.",
		}, []string{"job", "outcome"}),
		incCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zdsync_incremental_api_calls_total",
			Help: "API calls made by incremental runs, by job and system (salesforce, zendesk).",
		}, []string{"job", "system"}),
		incCaught: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "zdsync_incremental_watermark_timestamp_seconds",
			Help: "Unix time before which every Salesforce change of each job is in Zendesk, as the last successful incremental run left it; time() minus it is the job's freshness.",
		}, []string{"job"}),
		funcs: &funcCollector{
			queueDepth: prometheus.NewDesc("zdsync_push_queue_depth",
				"Case pushes waiting to be done (queued, scheduled or retrying), shared by all replicas.", nil, nil),
			queueAge: prometheus.NewDesc("zdsync_push_queue_oldest_age_seconds",
				"Age of the oldest case push waiting to be done, 0 when none waits.", nil, nil),
			leader: prometheus.NewDesc("zdsync_scheduler_leader",
				"1 when this replica is the scheduler's leader (runs the scheduled jobs), else 0.", nil, nil),
		},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runs, m.runDuration, m.changes, m.recordErrors, m.lastSuccess,
		m.apiCalls, m.apiDuration, m.rateWaits, m.ready, m.funcs, m.incRuns, m.incCalls, m.incCaught,
	)
	for _, j := range append(append([]syncer.Job{}, syncer.SyncJobs...), syncer.JobCaseSweep, syncer.JobCases) {
		for _, o := range []string{OutcomeOK, OutcomeFailed, OutcomeDryRun} {
			m.runs.WithLabelValues(string(j), o)
			if j.IsSync() {
				m.incRuns.WithLabelValues(string(j), o)
			}
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format, for
// /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Registerer returns the registry, so that other parts can add collectors
// of their own to the same /metrics.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Outcome returns the outcome label of a run: ok, failed or dry_run.
func Outcome(s *syncer.Summary) string {
	switch {
	case !s.OK():
		return OutcomeFailed
	case s.DryRun:
		return OutcomeDryRun
	default:
		return OutcomeOK
	}
}

// ObserveRun records a finished run: its outcome and duration, the
// changes it wrote (dry runs write none), its errors by code, and, for a
// successful full run that wrote, the time of the last success of its job.
// An incremental run counts in the incremental series instead of the runs
// and their durations: its outcome, its API calls by system and the
// watermark it left. A nil summary is ignored.
func (m *Metrics) ObserveRun(s *syncer.Summary) {
	if s == nil {
		return
	}
	job, outcome := string(s.Job), Outcome(s)
	if inc := s.Incremental; inc != nil {
		m.incRuns.WithLabelValues(job, outcome).Inc()
		m.incCalls.WithLabelValues(job, "salesforce").Add(float64(inc.SalesforceCalls))
		m.incCalls.WithLabelValues(job, "zendesk").Add(float64(inc.ZendeskCalls))
		if !inc.Watermark.IsZero() {
			m.incCaught.WithLabelValues(job).Set(float64(inc.Watermark.UnixNano()) / 1e9)
		}
	} else {
		m.runs.WithLabelValues(job, outcome).Inc()
		d := time.Duration(s.DurationMS) * time.Millisecond
		if d == 0 && !s.StartedAt.IsZero() && s.FinishedAt.After(s.StartedAt) {
			d = s.FinishedAt.Sub(s.StartedAt)
		}
		m.runDuration.WithLabelValues(job, outcome).Observe(d.Seconds())
	}

	if !s.DryRun {
		for _, c := range []struct {
			action syncer.Action
			n      int
		}{{syncer.Create, s.Created}, {syncer.Update, s.Updated}, {syncer.Delete, s.Deleted}, {syncer.Skip, s.Skipped}} {
			if c.n > 0 {
				m.changes.WithLabelValues(job, string(c.action)).Add(float64(c.n))
			}
		}
	}

	own := s.Code != syncer.CodeNone
	for _, e := range s.Errors {
		m.countError(job, e.Code)
		if e.Code == s.Code {
			own = false
		}
	}
	if own {
		m.countError(job, s.Code)
	}

	if outcome == OutcomeOK && s.Account == "" && s.Incremental == nil {
		at := s.FinishedAt
		if at.IsZero() {
			at = time.Now()
		}
		m.SetLastSuccess(s.Job, at)
	}
}

// Report records a finished run (ObserveRun): the metrics are one of the
// application core's reporters (app.Reporter).
func (m *Metrics) Report(_ context.Context, s *syncer.Summary) { m.ObserveRun(s) }

func (m *Metrics) countError(job string, c syncer.Code) {
	m.recordErrors.WithLabelValues(job, strconv.Itoa(int(c)), c.Info().Name, strconv.FormatBool(c.Silent())).Inc()
}

// SetLastSuccess sets the time of the last successful run of job, unless
// the gauge already holds a later one. At start-up, seed it from the
// store's last successful run of each job, so that a replica that has not
// run the job yet (a follower, a restarted leader) reports it too.
func (m *Metrics) SetLastSuccess(job syncer.Job, at time.Time) {
	if at.IsZero() {
		return
	}
	v := float64(at.UnixNano()) / 1e9
	m.mu.Lock()
	defer m.mu.Unlock()
	if v > m.last[job] {
		m.last[job] = v
		m.lastSuccess.WithLabelValues(string(job)).Set(v)
	}
}

// ObserveCall records one outbound API request (one attempt): system is
// "zendesk", "salesforce" or "slack", endpoint a path pattern without IDs
// (as in "/organizations/{id}.json", so that the label stays bounded),
// status the HTTP status or 0 when no answer came, d its latency.
func (m *Metrics) ObserveCall(system, endpoint, method string, status int, d time.Duration) {
	m.apiCalls.WithLabelValues(system, endpoint, method, statusClass(status)).Inc()
	m.apiDuration.WithLabelValues(system, endpoint, method).Observe(d.Seconds())
}

// statusClass returns "2xx", "4xx"… for an HTTP status, "error" for 0.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// ObserveRateLimitWait records that a request to system waited d because of
// the rate limit (a 429's Retry-After, or slowing down near the limit).
func (m *Metrics) ObserveRateLimitWait(system string, d time.Duration) {
	m.rateWaits.WithLabelValues(system).Observe(d.Seconds())
}

// SetQueueFunc sets the function that reports, at each scrape, how many
// case pushes wait and how old the oldest of them is. It is called once a
// scrape, so it should answer quickly (bound its query); until it is set,
// the queue series are absent.
func (m *Metrics) SetQueueFunc(f func() (depth int, oldestAge time.Duration)) {
	m.funcs.mu.Lock()
	m.funcs.queue = f
	m.funcs.mu.Unlock()
}

// SetLeaderFunc sets the function that reports, at each scrape, whether
// this replica is the scheduler's leader (store.Elector.Leading).
func (m *Metrics) SetLeaderFunc(f func() bool) {
	m.funcs.mu.Lock()
	m.funcs.isLeader = f
	m.funcs.mu.Unlock()
}

// SetReady records the outcome of a readiness check ("database", "slack"),
// as /readyz computes it.
func (m *Metrics) SetReady(check string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.ready.WithLabelValues(check).Set(v)
}

// funcCollector reports the series computed at scrape time from the
// functions set with SetQueueFunc and SetLeaderFunc.
type funcCollector struct {
	queueDepth, queueAge, leader *prometheus.Desc

	mu       sync.Mutex
	queue    func() (int, time.Duration)
	isLeader func() bool
}

// Describe implements prometheus.Collector.
func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queueDepth
	ch <- c.queueAge
	ch <- c.leader
}

// Collect implements prometheus.Collector.
func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	queue, isLeader := c.queue, c.isLeader
	c.mu.Unlock()
	if queue != nil {
		depth, age := queue()
		ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(depth))
		ch <- prometheus.MustNewConstMetric(c.queueAge, prometheus.GaugeValue, age.Seconds())
	}
	if isLeader != nil {
		v := 0.0
		if isLeader() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.leader, prometheus.GaugeValue, v)
	}
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

// Off disables a schedule.
const Off = "off"

// The default schedules (DESIGN.md): global and federal hourly, the case
// parity sweep every 10 minutes.
const (
	// DefaultScheduleGlobalOrgs is SCHEDULE_GLOBAL_ORGS's default: hourly.
	DefaultScheduleGlobalOrgs = "0 * * * *"
	// DefaultScheduleFederal is SCHEDULE_FEDERAL's default: hourly.
	DefaultScheduleFederal = "0 * * * *"
	// DefaultScheduleCaseSweep is SCHEDULE_CASE_SWEEP's default: every
	// 10 minutes.
	DefaultScheduleCaseSweep = "*/10 * * * *"
)

// Schedules holds one cron expression (5 fields) per scheduled task, or
// Off.
type Schedules struct {
	// GlobalOrgs (SCHEDULE_GLOBAL_ORGS) runs global-orgs.
	GlobalOrgs string
	// Federal (SCHEDULE_FEDERAL) runs federal-orgs, then federal-users.
	Federal string
	// CaseSweep (SCHEDULE_CASE_SWEEP) runs the case parity sweep.
	CaseSweep string
}

// DefaultSchedules returns the default schedules.
func DefaultSchedules() Schedules {
	return Schedules{GlobalOrgs: DefaultScheduleGlobalOrgs, Federal: DefaultScheduleFederal, CaseSweep: DefaultScheduleCaseSweep}
}

// RunFunc runs one job for the scheduler; it is expected to save and
// Notify the run itself, as it does for runs asked from Slack.
type RunFunc func(ctx context.Context, job syncer.Job) (*syncer.Summary, error)

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	Schedules Schedules
	// Run runs a job. Required.
	Run RunFunc
	// Location of the cron expressions; nil means UTC.
	Location *time.Location
	// StopTimeout bounds how long Shutdown waits for running jobs
	// (their context is cancelled at once); 0 means 30 s.
	StopTimeout time.Duration
	// Options are added to gocron's, e.g. gocron.WithDistributedElector
	// or gocron.WithDistributedLocker for several replicas (tasks are
	// named, so the lock keys are stable: "zdsync-global-orgs",
	// "zdsync-federal", "zdsync-case-sweep"), or gocron.WithClock in
	// tests.
	Options []gocron.SchedulerOption
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// task is one scheduled task: its lock name, the env var of its
// schedule, and the jobs it runs in order.
type task struct {
	name string
	env  string
	cron string
	jobs []syncer.Job
	job  gocron.Job
}

// Scheduler runs the sync jobs on their cron schedules with gocron, each
// task in singleton mode (a run still going is never started twice; the
// next one is rescheduled).
type Scheduler struct {
	s     gocron.Scheduler
	tasks []*task
	run   RunFunc
	log   *slog.Logger
}

// Validate checks the cron expressions as NewScheduler does, registering
// nothing that runs: serve calls it before any network call.
func (s Schedules) Validate() error {
	sc, err := NewScheduler(SchedulerConfig{Schedules: s,
		Run: func(context.Context, syncer.Job) (*syncer.Summary, error) { return nil, nil }})
	if err != nil {
		return err
	}
	return sc.Shutdown()
}

// NewScheduler validates the schedules and registers the tasks. It starts
// nothing: call Start.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Run == nil {
		return nil, errors.New("bot: scheduler needs a RunFunc")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts := append([]gocron.SchedulerOption{gocron.WithLocation(cfg.Location), gocron.WithStopTimeout(cfg.StopTimeout)}, cfg.Options...)
	gs, err := gocron.NewScheduler(opts...)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	sc := &Scheduler{s: gs, run: cfg.Run, log: cfg.Logger}
	for _, t := range []*task{
		{name: "zdsync-global-orgs", env: "SCHEDULE_GLOBAL_ORGS", cron: cfg.Schedules.GlobalOrgs, jobs: []syncer.Job{syncer.JobGlobalOrgs}},
		{name: "zdsync-federal", env: "SCHEDULE_FEDERAL", cron: cfg.Schedules.Federal, jobs: []syncer.Job{syncer.JobFederalOrgs, syncer.JobFederalUsers}},
		{name: "zdsync-case-sweep", env: "SCHEDULE_CASE_SWEEP", cron: cfg.Schedules.CaseSweep, jobs: []syncer.Job{syncer.JobCaseSweep}},
	} {
		t.cron = strings.TrimSpace(t.cron)
		sc.tasks = append(sc.tasks, t)
		if t.cron == "" || strings.EqualFold(t.cron, Off) {
			t.cron = Off
			continue
		}
		if len(strings.Fields(t.cron)) != 5 {
			_ = gs.Shutdown()
			return nil, fmt.Errorf("%s: %q is not a 5-field cron expression (or %q)", t.env, t.cron, Off)
		}
		t.job, err = gs.NewJob(gocron.CronJob(t.cron, false), gocron.NewTask(sc.runTask, t),
			gocron.WithName(t.name), gocron.WithSingletonMode(gocron.LimitModeReschedule))
		if err != nil {
			_ = gs.Shutdown()
			return nil, fmt.Errorf("%s: invalid cron expression %q: %w", t.env, t.cron, err)
		}
	}
	return sc, nil
}

// runTask runs a task's jobs in order. federal-users does not run when
// federal-orgs failed as a whole (no data, a refused login, a guard): its
// users would miss what that run did not do. It does run when only some of
// federal-orgs' records failed, else one org rejected every hour would
// stop every user update; those users are skipped as having no org.
func (sc *Scheduler) runTask(ctx context.Context, t *task) error {
	var errs []error
	for _, job := range t.jobs {
		s, err := sc.run(ctx, job)
		if err == nil && s != nil && !s.OK() {
			err = fmt.Errorf("%s failed with code %s", job, s.Code)
		}
		if err == nil {
			continue
		}
		sc.log.ErrorContext(ctx, "scheduled run failed", "job", job, "task", t.name, "err", err)
		errs = append(errs, fmt.Errorf("scheduled %s: %w", job, err))
		if s == nil || !someRecordsFailed(s) {
			break
		}
	}
	return errors.Join(errs...)
}

// someRecordsFailed reports whether a failed run did its work but for some
// of its records.
func someRecordsFailed(s *syncer.Summary) bool {
	return s.Failed > 0 && s.Created+s.Updated+s.Deleted+s.Unchanged > 0
}

// Start starts the schedules. Nothing runs before its first scheduled time.
func (sc *Scheduler) Start() { sc.s.Start() }

// Shutdown stops the schedules, cancels running jobs' contexts and waits
// for them up to StopTimeout.
func (sc *Scheduler) Shutdown() error { return sc.s.Shutdown() }

// Schedule returns the cron expression of the task that runs job, or Off.
func (sc *Scheduler) Schedule(job syncer.Job) string {
	for _, t := range sc.tasks {
		for _, j := range t.jobs {
			if j == job {
				return t.cron
			}
		}
	}
	return Off
}

// NextRun returns when job next runs on schedule, and false when it is not
// scheduled (or the scheduler is not started).
func (sc *Scheduler) NextRun(job syncer.Job) (time.Time, bool) {
	for _, t := range sc.tasks {
		if t.job == nil {
			continue
		}
		for _, j := range t.jobs {
			if j == job {
				next, err := t.job.NextRun()
				return next, err == nil && !next.IsZero()
			}
		}
	}
	return time.Time{}, false
}

// JobStatuses returns the schedule and next run of each scheduled job, in
// schedule order, for commands.Status (LastRun is left for the caller).
func (sc *Scheduler) JobStatuses() []commands.JobStatus {
	var out []commands.JobStatus
	for _, t := range sc.tasks {
		for _, j := range t.jobs {
			next, _ := sc.NextRun(j)
			out = append(out, commands.JobStatus{Job: j, Schedule: t.cron, NextRun: next})
		}
	}
	return out
}

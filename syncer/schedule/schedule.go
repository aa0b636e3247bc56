// Package schedule runs zdsync's jobs on their cron schedules
// (SCHEDULE_GLOBAL_ORGS, SCHEDULE_FEDERAL, SCHEDULE_CASE_SWEEP, and
// SCHEDULE_INCREMENTAL for the incremental runs of the three sync jobs)
// with gocron, and holds the rule of their order: federal-users runs right
// after federal-orgs, so that the orgs of new accounts exist first, unless
// federal-orgs failed as a whole (or, for incremental runs, did not run).
// Each schedule is a task run in singleton mode, so a run still going is
// never started twice; with several replicas, gocron's distributed elector
// (store.Elector) lets one replica run the ticks. The runs themselves go
// through the application core (syncer/app), like every other run; an
// incremental tick that meets a run of its job in progress is skipped
// quietly.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/zdsync/zdsync/syncer"
)

// Off disables a schedule.
const Off = "off"

// Schedules holds one cron expression (5 fields, UTC) per scheduled task,
// or Off (or empty). Their defaults are the configuration's.
type Schedules struct {
	// GlobalOrgs (SCHEDULE_GLOBAL_ORGS) runs global-orgs.
	GlobalOrgs string
	// Federal (SCHEDULE_FEDERAL) runs federal-orgs, then federal-users.
	Federal string
	// CaseSweep (SCHEDULE_CASE_SWEEP) runs the case parity sweep.
	CaseSweep string
	// Incremental (SCHEDULE_INCREMENTAL) runs the incremental runs of
	// global-orgs, and of federal-orgs then federal-users.
	Incremental string
}

// RunFunc runs one job for the scheduler (the application core's Run): it
// saves and reports the run, as it does for every other caller.
type RunFunc func(ctx context.Context, req syncer.Request) *syncer.Summary

// Config configures a Scheduler.
type Config struct {
	Schedules Schedules
	// Run runs a job. Required.
	Run RunFunc
	// Location of the cron expressions; nil means UTC.
	Location *time.Location
	// StopTimeout bounds how long Shutdown waits for running jobs
	// (their context is cancelled at once); 0 means 30 s.
	StopTimeout time.Duration
	// Options are added to gocron's, e.g. gocron.WithDistributedElector
	// for several replicas (tasks are named, so lock keys are stable:
	// "zdsync-global-orgs", "zdsync-federal", "zdsync-case-sweep",
	// "zdsync-incremental-global", "zdsync-incremental-federal"), or
	// gocron.WithClock in tests.
	Options []gocron.SchedulerOption
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// task is one scheduled task: its lock name, the variable of its schedule,
// the jobs it runs in order, and whether it runs their incremental runs.
type task struct {
	name        string
	env         string
	cron        string
	jobs        []syncer.Job
	incremental bool
	job         gocron.Job
}

// tasks are the scheduled tasks and the jobs each runs, in order.
func tasks(s Schedules) []*task {
	return []*task{
		{name: "zdsync-global-orgs", env: "SCHEDULE_GLOBAL_ORGS", cron: s.GlobalOrgs, jobs: []syncer.Job{syncer.JobGlobalOrgs}},
		{name: "zdsync-federal", env: "SCHEDULE_FEDERAL", cron: s.Federal, jobs: []syncer.Job{syncer.JobFederalOrgs, syncer.JobFederalUsers}},
		{name: "zdsync-case-sweep", env: "SCHEDULE_CASE_SWEEP", cron: s.CaseSweep, jobs: []syncer.Job{syncer.JobCaseSweep}},
		{name: "zdsync-incremental-global", env: "SCHEDULE_INCREMENTAL", cron: s.Incremental, incremental: true,
			jobs: []syncer.Job{syncer.JobGlobalOrgs}},
		{name: "zdsync-incremental-federal", env: "SCHEDULE_INCREMENTAL", cron: s.Incremental, incremental: true,
			jobs: []syncer.Job{syncer.JobFederalOrgs, syncer.JobFederalUsers}},
	}
}

// Scheduler runs the jobs on their cron schedules.
type Scheduler struct {
	s     gocron.Scheduler
	tasks []*task
	run   RunFunc
	log   *slog.Logger
}

// Validate checks the cron expressions as New does, registering nothing
// that runs: serve calls it before any network call.
func (s Schedules) Validate() error {
	sc, err := New(Config{Schedules: s, Run: func(context.Context, syncer.Request) *syncer.Summary { return nil }})
	if err != nil {
		return err
	}
	return sc.Shutdown()
}

// New validates the schedules and registers the tasks. It starts nothing:
// call Start.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Run == nil {
		return nil, errors.New("schedule: no RunFunc")
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
	for _, t := range tasks(cfg.Schedules) {
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
// federal-orgs failed as a whole (no data, a refused login, a guard, a
// skip for the API reserve): its users would miss what that run did not
// do. It does run when only some of federal-orgs' records failed, else one
// org rejected every hour would stop every user update; those users are
// skipped as having no org. An incremental run refused because a run of
// its job is in progress (a full run, most often) is skipped quietly, and
// ends its task's tick.
func (sc *Scheduler) runTask(ctx context.Context, t *task) error {
	var errs []error
	for _, job := range t.jobs {
		s := sc.run(ctx, syncer.Request{Job: job, Options: syncer.Options{By: syncer.BySchedule, Incremental: t.incremental}})
		if s == nil || s.OK() {
			continue
		}
		if t.incremental && s.Code == syncer.CodeRunInProgress {
			sc.log.DebugContext(ctx, "incremental run skipped: a run of the job is in progress", "job", job, "task", t.name)
			break
		}
		err := fmt.Errorf("scheduled %s failed with code %s", job, s.Code)
		sc.log.ErrorContext(ctx, "scheduled run failed", "job", job, "task", t.name, "err", err)
		errs = append(errs, err)
		if !someRecordsFailed(s) {
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

// Schedule returns the cron expression of the task that runs job's full
// runs (incremental: its incremental runs), or Off.
func (sc *Scheduler) Schedule(job syncer.Job, incremental bool) string {
	for _, t := range sc.tasks {
		if t.incremental == incremental && slices.Contains(t.jobs, job) {
			return t.cron
		}
	}
	return Off
}

// Jobs returns the jobs whose full runs run on a schedule, in schedule
// order.
func (sc *Scheduler) Jobs() []syncer.Job { return sc.jobs(false) }

// IncrementalJobs returns the jobs whose incremental runs run on a
// schedule, in schedule order.
func (sc *Scheduler) IncrementalJobs() []syncer.Job { return sc.jobs(true) }

func (sc *Scheduler) jobs(incremental bool) []syncer.Job {
	var out []syncer.Job
	for _, t := range sc.tasks {
		if t.cron != Off && t.incremental == incremental {
			out = append(out, t.jobs...)
		}
	}
	return out
}

// NextRun returns when job's full run next runs on schedule, and false
// when it is not scheduled (or the scheduler is not started).
func (sc *Scheduler) NextRun(job syncer.Job) (time.Time, bool) {
	for _, t := range sc.tasks {
		if t.job == nil || t.incremental {
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

// JobStatuses returns the schedule and next run of each job, in schedule
// order, and the schedule of the incremental runs of the sync jobs, for
// the status (the runs are left to the caller): app.Schedule.
func (sc *Scheduler) JobStatuses() []syncer.JobStatus {
	var out []syncer.JobStatus
	for _, t := range sc.tasks {
		if t.incremental {
			continue
		}
		for _, j := range t.jobs {
			next, _ := sc.NextRun(j)
			st := syncer.JobStatus{Job: j, Schedule: t.cron, NextRun: next}
			if j.IsSync() {
				st.Incremental = &syncer.IncrementalStatus{Schedule: sc.Schedule(j, true)}
			}
			out = append(out, st)
		}
	}
	return out
}

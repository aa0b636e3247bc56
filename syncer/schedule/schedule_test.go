package schedule_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/schedule"
)

func TestSchedulerRunsJobsOnTheirSchedules(t *testing.T) {
	start := time.Date(2025, 3, 1, 9, 59, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	var mu sync.Mutex
	var ran []syncer.Job
	runs := make(chan syncer.Job, 10)
	sc, err := schedule.New(schedule.Config{
		Schedules: schedule.Schedules{GlobalOrgs: "0 * * * *", Federal: "0 * * * *", CaseSweep: "off"},
		Run: func(_ context.Context, req syncer.Request) *syncer.Summary {
			if req.By != syncer.BySchedule {
				t.Errorf("a scheduled run asked by %q", req.By)
			}
			mu.Lock()
			ran = append(ran, req.Job)
			mu.Unlock()
			runs <- req.Job
			return &syncer.Summary{Job: req.Job}
		},
		Options: []gocron.SchedulerOption{gocron.WithClock(clock)},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	sc.Start()
	defer sc.Shutdown()

	want := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Next-run times are exposed for status once the scheduler runs.
	for {
		if next, ok := sc.NextRun(syncer.JobGlobalOrgs); ok && next.Equal(want) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("next run never computed")
		case <-clock.After(0):
		}
	}
	if _, ok := sc.NextRun(syncer.JobCaseSweep); ok {
		t.Error("the case sweep is scheduled though off")
	}
	if got := sc.Schedule(syncer.JobFederalUsers, false); got != "0 * * * *" {
		t.Errorf("federal-users schedule = %q", got)
	}
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	got := map[syncer.Job]bool{}
	for len(got) < 3 {
		select {
		case j := <-runs:
			got[j] = true
		case <-ctx.Done():
			t.Fatalf("runs = %v", got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	fo, fu := -1, -1
	for i, j := range ran {
		switch j {
		case syncer.JobFederalOrgs:
			fo = i
		case syncer.JobFederalUsers:
			fu = i
		}
	}
	if fo < 0 || fu < fo {
		t.Errorf("runs = %v, want federal-users after federal-orgs", ran)
	}
}

func TestSchedulerRefusesABadCronExpression(t *testing.T) {
	_, err := schedule.New(schedule.Config{
		Schedules: schedule.Schedules{GlobalOrgs: "every hour", Federal: schedule.Off, CaseSweep: schedule.Off},
		Run:       func(context.Context, syncer.Request) *syncer.Summary { return nil },
	})
	if err == nil || !strings.Contains(err.Error(), "SCHEDULE_GLOBAL_ORGS") {
		t.Errorf("err = %v, want one naming SCHEDULE_GLOBAL_ORGS", err)
	}
}

// SCHEDULE_INCREMENTAL runs the incremental runs of the three sync jobs,
// federal-users after federal-orgs; an incremental run refused because a
// run of its job is in progress ends its task's tick quietly.
func TestSchedulerRunsIncrementalRuns(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 1, 9, 59, 30, 0, time.UTC))
	type ran struct {
		job         syncer.Job
		incremental bool
	}
	runs := make(chan ran, 10)
	federalDone := make(chan struct{}, 10) // the incremental federal task ended a tick
	var busy sync.Map                      // jobs whose incremental runs are refused as in progress
	sc, err := schedule.New(schedule.Config{
		Schedules: schedule.Schedules{GlobalOrgs: "off", Federal: "0 * * * *", CaseSweep: "off", Incremental: "* * * * *"},
		Run: func(_ context.Context, req syncer.Request) *syncer.Summary {
			runs <- ran{req.Job, req.Incremental}
			s := &syncer.Summary{Job: req.Job}
			if _, refused := busy.Load(req.Job); refused && req.Incremental {
				s.Code = syncer.CodeRunInProgress
			}
			return s
		},
		Options: []gocron.SchedulerOption{gocron.WithClock(clock), gocron.WithGlobalJobOptions(gocron.WithEventListeners(
			gocron.AfterJobRuns(func(_ uuid.UUID, name string) {
				if name == "zdsync-incremental-federal" {
					federalDone <- struct{}{}
				}
			})))},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.IncrementalJobs(); len(got) != 3 || got[0] != syncer.JobGlobalOrgs || got[2] != syncer.JobFederalUsers {
		t.Errorf("incremental jobs = %v", got)
	}
	if got := sc.Jobs(); len(got) != 2 {
		t.Errorf("full-run jobs = %v, want federal-orgs and federal-users", got)
	}
	for _, st := range sc.JobStatuses() {
		if st.Job.IsSync() && (st.Incremental == nil || st.Incremental.Schedule != "* * * * *") {
			t.Errorf("status of %s: %+v", st.Job, st.Incremental)
		}
	}
	sc.Start()
	defer sc.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := func(want int) []ran {
		t.Helper()
		if err := clock.BlockUntilContext(ctx, 3); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		var got []ran
		for len(got) < want {
			select {
			case r := <-runs:
				got = append(got, r)
			case <-ctx.Done():
				t.Fatalf("runs = %v, want %d", got, want)
			}
		}
		return got
	}
	// 10:00: the federal full runs and the three incremental runs.
	got := tick(5)
	incremental := map[syncer.Job]bool{}
	fo, fu := -1, -1
	for i, r := range got {
		if r.incremental {
			incremental[r.job] = true
			switch r.job {
			case syncer.JobFederalOrgs:
				fo = i
			case syncer.JobFederalUsers:
				fu = i
			}
		}
	}
	if len(incremental) != 3 || fu < fo {
		t.Errorf("runs = %v; want the three incremental runs, federal-users after federal-orgs", got)
	}
	// 10:01: federal-orgs is busy: its incremental run is refused and
	// federal-users' is not run.
	<-federalDone
	busy.Store(syncer.JobFederalOrgs, true)
	got = tick(2)
	select {
	case <-federalDone:
	case <-ctx.Done():
		t.Fatal("the incremental federal task did not end")
	}
	for len(runs) > 0 {
		got = append(got, <-runs)
	}
	for _, r := range got {
		if r.job == syncer.JobFederalUsers {
			t.Errorf("federal-users ran after federal-orgs was refused: %v", got)
		}
	}
}

package schedule_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
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
	if got := sc.Schedule(syncer.JobFederalUsers); got != "0 * * * *" {
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

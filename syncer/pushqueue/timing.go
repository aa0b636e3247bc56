package pushqueue

import "time"

// ResumeWithin is how soon the pushes a dead replica had taken (SIGKILL, a
// lost node) run again on another replica, at the latest (README,
// "Several replicas on Postgres"). Timing derives River's settings from
// the push's bound so that Timing.Resume stays within it.
const ResumeWithin = 2 * time.Minute

// MaxPushTime caps a push's time (PushBound), whatever its retries and
// timeouts: a push that needs longer is interrupted and tried again.
const MaxPushTime = time.Minute

// River's own periods behind the rescue of a dead replica's jobs (River
// v0.51: the job rescuer runs every 30 s on the leader, the job scheduler
// makes rescued jobs available every 5 s, and a leader that died loses
// its leadership 15 s after its last renewal, well within RescueAfter).
const (
	riverRescuerInterval   = 30 * time.Second
	riverSchedulerInterval = 5 * time.Second
	riverFetchPoll         = time.Second // River's FetchPollInterval default
)

// The margins of Timing: River's job timeout leaves jobTimeoutMargin after
// the push's bound to save and report it; a job is rescued rescueMargin
// after its job timeout.
const (
	jobTimeoutMargin = 5 * time.Second
	rescueMargin     = 10 * time.Second
)

// PushBound is the longest one push may take: its attempts (retries + 1),
// each bounded by callTimeout (an attempt ends at its first failing call),
// and the delays between them, capped at MaxPushTime.
func PushBound(retries int, delay, callTimeout time.Duration) time.Duration {
	return min(time.Duration(retries+1)*callTimeout+time.Duration(max(retries, 0))*delay, MaxPushTime)
}

// Timing is how long a push may take and how soon one left running by a
// dead replica runs again.
type Timing struct {
	// Push bounds one push (its context's deadline).
	Push time.Duration
	// Job is River's job timeout: Push plus the time to save and report.
	Job time.Duration
	// RescueAfter is River's RescueStuckJobsAfter: how long a job stays
	// running before River takes it from a replica that died.
	RescueAfter time.Duration
	// Resume is the longest a push taken by a replica that died waits for
	// another replica to start it again: RescueAfter, then River's
	// rescuer, scheduler and fetch periods.
	Resume time.Duration
}

// TimingFor returns the timing of pushes bounded by push.
func TimingFor(push time.Duration) Timing {
	t := Timing{Push: push, Job: push + jobTimeoutMargin}
	t.RescueAfter = t.Job + rescueMargin
	t.Resume = t.RescueAfter + riverRescuerInterval + riverSchedulerInterval + riverFetchPoll
	return t
}

// Package pushqueue is the durable queue of case pushes: each Zendesk
// ticket event accepted by the webhook (or found missing by the parity
// sweep) becomes a River job in zdsync's own database, and a worker pushes
// it to Salesforce through the application core (syncer/app), which runs
// syncer.Pusher under the ticket's run lock, saves and reports the push.
//
// River runs on the store's database: through riversqlite on the SQLite
// default (on the store's single-connection pool, as the driver requires:
// SQLite has one writer and the driver otherwise fails with SQLITE_BUSY)
// and through riverpgxv5 on Postgres, where several replicas share the
// queue. River's own schema is migrated with rivermigrate when the queue is
// opened.
//
// Jobs are unique by (ticket, event) among queued, running and completed
// jobs, so a redelivered webhook is one push. One River attempt is one
// push, with the pipeline's own retries (CASE_PUSH_RETRIES, for the codes
// the code table retries soon); River does not retry a push that failed:
// the job is cancelled with the push's error, the push log keeps it as
// failed, and `zdsync case push` or the sweep retries it (a cancelled job
// no longer blocks a new one for the same event). A push that failed with
// a code retried later (rate limits: Salesforce's REQUEST_LIMIT_EXCEEDED,
// 429s) goes back to the queue with a growing delay, and one that found
// another push of its ticket running waits 15 s; River also retries a
// job whose push was interrupted (the process stopped, the job timed out,
// or it crashed and River rescued the job).
//
// A push's time is bounded (PushBound), and River's job timeout and
// stuck-job rescue are set just above that bound (Timing), so that the
// pushes a dead replica had taken run again on another within
// ResumeWithin.
package pushqueue

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/zdsync/zdsync/syncer"
)

// JobKind is the River kind of a case push job.
const JobKind = "zdsync_case_push"

// Defaults of Config.
const (
	// DefaultWorkers is how many pushes run at once in one process
	// without Config.Workers (serve sets it to SALESFORCE_MAX_CONCURRENCY).
	DefaultWorkers = 4
	// MaxInterruptions is how many times River runs a job whose push was
	// interrupted (never a push that failed), River's MaxAttempts.
	MaxInterruptions = 5
)

// Args are the arguments of a case push job. Both fields take part in the
// job's uniqueness.
type Args struct {
	TicketID int64        `json:"ticket_id" river:"unique"`
	Event    syncer.Event `json:"event" river:"unique"`
}

// Kind returns JobKind.
func (Args) Kind() string { return JobKind }

// InsertOpts makes a push unique by (ticket, event) among available,
// pending, scheduled, running, retryable and completed jobs (River's
// default states): a redelivered or re-found event is one job, and a
// cancelled (failed) job does not prevent a new one.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxInterruptions, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Pusher pushes one ticket event; the application core (app.Core.Push)
// implements it.
type Pusher interface {
	Push(ctx context.Context, ticketID int64, event syncer.Event) *syncer.Summary
}

// Database is the database the queue lives in; *store.DB implements it.
// Pool returns the pgx pool on Postgres and nil on SQLite, where SQL
// returns a single-connection pool.
type Database interface {
	SQL() *sql.DB
	Pool() *pgxpool.Pool
}

// Config configures a Queue. Every field is optional.
type Config struct {
	// Workers is how many pushes run at once: 0 means DefaultWorkers.
	Workers int
	// PushTimeout bounds one push (PushBound of the pusher's retries,
	// delay and HTTP timeout): 0 means MaxPushTime. River's job timeout
	// and rescue follow from it (TimingFor).
	PushTimeout time.Duration
	// Hold, if set, is asked before each push: while it returns an error
	// (a system the push needs has not answered since the start), the
	// push waits holdDelay without being tried, as often as it takes, or
	// until Release.
	Hold func() error
	// PollInterval is how often idle workers look for new jobs: 0 is
	// River's default (1 s). Jobs inserted by this process are picked up
	// at once.
	PollInterval time.Duration
	// Done, if set, is called with the summary of every push the workers
	// make (the core already saved and reported it).
	Done func(ctx context.Context, s *syncer.Summary)
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// fetchCooldown is how soon a worker freed by a finished push fetches the
// next queued one (River's FetchCooldown, 100 ms by default). Under a
// backlog every push waits for it: at 100 ms Salesforce latency a push
// takes about 200 ms, and River's default made a backlog drain half as
// slowly again (README, "Performance"). A fetch is one query, made only
// when a worker is free and jobs may be waiting.
const fetchCooldown = 10 * time.Millisecond

// riverClient is what Queue uses of a river.Client, whatever its driver.
type riverClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// Queue is the durable push queue. It implements syncer.Enqueuer. A Queue
// opened without a Pusher can only enqueue (for a command that fills the
// queue of a running server).
type Queue struct {
	client riverClient
	log    *slog.Logger
	work   bool
	timing Timing
	held   *heldJobs
}

// Verify that Queue can take the webhook's and the sweep's events.
var _ syncer.Enqueuer = (*Queue)(nil)

// New opens the push queue in db: it brings River's schema up to date and
// makes a client whose workers push with p (nil: enqueue only). Call Start
// to begin working and Stop before closing db.
func New(ctx context.Context, db Database, p Pusher, cfg Config) (*Queue, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "pushqueue")
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	timing := TimingFor(cmp.Or(cfg.PushTimeout, MaxPushTime))
	rc := &river.Config{
		Logger:            log,
		JobTimeout:        timing.Job,
		MaxAttempts:       MaxInterruptions,
		FetchPollInterval: cfg.PollInterval,
		// A push whose process died (SIGKILL, a lost node) stays
		// "running" until River rescues it; no push runs longer than its
		// bound, so it is rescued soon after that instead of River's
		// default hour. The push is idempotent (it finds the case by
		// ticket ID first), so a rescued push never doubles.
		RescueStuckJobsAfter: timing.RescueAfter,
	}
	rc.FetchCooldown = fetchCooldown
	if cfg.PollInterval > 0 && cfg.PollInterval < fetchCooldown {
		rc.FetchCooldown = cfg.PollInterval
	}
	held := &heldJobs{ids: map[int64]bool{}}
	if p != nil {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &worker{pusher: p, done: cfg.Done, hold: cfg.Hold, held: held, timing: timing, log: log}); err != nil {
			return nil, fmt.Errorf("push queue: %w", err)
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
	}
	q := &Queue{log: log, work: p != nil, timing: timing, held: held}
	var err error
	if pool := db.Pool(); pool != nil {
		q.client, err = openPostgres(ctx, pool, rc)
	} else {
		q.client, err = openSQLite(ctx, db.SQL(), rc)
	}
	if err != nil {
		return nil, err
	}
	return q, nil
}

func openSQLite(ctx context.Context, db *sql.DB, rc *river.Config) (riverClient, error) {
	driver := riversqlite.New(db)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: rc.Logger})
	if err != nil {
		return nil, fmt.Errorf("push queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("push queue: migrate River schema: %w", err)
	}
	c, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("push queue: %w", err)
	}
	return c, nil
}

// riverMigrationLock is the Postgres advisory lock key that serializes
// River migrations between replicas starting at once.
const riverMigrationLock = 0x7a6473796e6352 // "zdsyncR"

func openPostgres(ctx context.Context, pool *pgxpool.Pool, rc *river.Config) (riverClient, error) {
	driver := riverpgxv5.New(pool)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: rc.Logger})
	if err != nil {
		return nil, fmt.Errorf("push queue: %w", err)
	}
	// River's migrations cannot share one transaction (a new enum value
	// must be committed before use), so a session-level lock held on one
	// connection serializes whole migration runs instead.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("push queue: migrate River schema: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(riverMigrationLock)); err != nil {
		return nil, fmt.Errorf("push queue: migrate River schema: take lock: %w", err)
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(riverMigrationLock)); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return nil, fmt.Errorf("push queue: migrate River schema: %w", err)
	}
	c, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("push queue: %w", err)
	}
	return c, nil
}

// Release makes the pushes this process held (Config.Hold) available at
// once, for when what held them answers again.
func (q *Queue) Release(ctx context.Context) error {
	var errs []error
	for _, id := range q.held.take() {
		j, err := q.client.JobGet(ctx, id)
		if err == nil && j.State == rivertype.JobStateScheduled { // not pushed meanwhile
			_, err = q.client.JobRetry(ctx, id)
		}
		if err != nil && !errors.Is(err, river.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("push queue: release held pushes: %w", err)
	}
	return nil
}

// Timing returns how long the queue's pushes may take and how soon one
// left running by a dead replica runs again.
func (q *Queue) Timing() Timing { return q.timing }

// Enqueue stores a push of event for ticket durably: when it returns nil,
// the job is committed. Enqueuing an event that is already queued,
// running or done is a no-op.
func (q *Queue) Enqueue(ctx context.Context, ticketID int64, event syncer.Event) error {
	if _, ok := syncer.ParseEvent(string(event)); !ok || ticketID <= 0 {
		return fmt.Errorf("enqueue push: invalid ticket %d or event %q", ticketID, event)
	}
	res, err := q.client.Insert(ctx, Args{TicketID: ticketID, Event: event}, nil)
	if err != nil {
		return fmt.Errorf("enqueue %s push of ticket %d: %w", event, ticketID, err)
	}
	q.log.Debug("push enqueued", "ticket_id", ticketID, "event", event, "job_id", res.Job.ID, "duplicate", res.UniqueSkippedAsDuplicate)
	return nil
}

// Start starts the workers; they run until Stop (or until ctx is done).
func (q *Queue) Start(ctx context.Context) error {
	if !q.work {
		return errors.New("push queue: opened without a pusher, it can only enqueue")
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("push queue: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running pushes to finish, or
// until ctx is done; interrupted pushes are run again after a restart.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.work {
		return nil
	}
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("push queue: stop: %w", err)
	}
	return nil
}

// JobCounts are the numbers of push jobs in each state.
type JobCounts struct {
	Queued    int // available, scheduled or retryable (interrupted pushes)
	Running   int
	Completed int // pushed, or nothing to push (kept a day by River)
	Failed    int // cancelled after a failed push (the push log keeps it)
	// OldestQueued is the age of the oldest queued push (0 when none).
	OldestQueued time.Duration
}

// maxCounted bounds how many jobs of one state Counts reads.
const maxCounted = 10000

// Counts returns the numbers of push jobs by state, for status and metrics.
func (q *Queue) Counts(ctx context.Context) (JobCounts, error) {
	var c JobCounts
	for _, st := range []struct {
		n      *int
		states []rivertype.JobState
	}{
		{&c.Queued, []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending}},
		{&c.Running, []rivertype.JobState{rivertype.JobStateRunning}},
		{&c.Completed, []rivertype.JobState{rivertype.JobStateCompleted}},
		{&c.Failed, []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateDiscarded}},
	} {
		res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(JobKind).States(st.states...).First(maxCounted))
		if err != nil {
			return JobCounts{}, fmt.Errorf("push queue: count jobs: %w", err)
		}
		*st.n = len(res.Jobs)
		if st.n == &c.Queued {
			for _, j := range res.Jobs {
				c.OldestQueued = max(c.OldestQueued, time.Since(j.CreatedAt))
			}
		}
	}
	return c, nil
}

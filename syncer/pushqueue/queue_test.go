package pushqueue_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/store"
)

// countingPusher records every push; fail makes a ticket's pushes fail.
type countingPusher struct {
	mu     sync.Mutex
	pushes map[string]int
	fail   map[int64]syncer.Code
	total  int
}

func newCountingPusher() *countingPusher {
	return &countingPusher{pushes: map[string]int{}, fail: map[int64]syncer.Code{}}
}

func (p *countingPusher) Push(_ context.Context, id int64, ev syncer.Event) *syncer.Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes[fmt.Sprintf("%d/%s", id, ev)]++
	p.total++
	s := &syncer.Summary{Job: syncer.JobCases}
	if c, ok := p.fail[id]; ok {
		s.Code, s.Message = c, "injected"
	}
	return s
}

func (p *countingPusher) count(id int64, ev syncer.Event) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pushes[fmt.Sprintf("%d/%s", id, ev)]
}

func (p *countingPusher) sum() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

func openStore(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var fast = pushqueue.Config{PollInterval: 20 * time.Millisecond, Workers: 2}

func openQueue(t *testing.T, db *store.DB, p pushqueue.Pusher) *pushqueue.Queue {
	t.Helper()
	q, err := pushqueue.New(t.Context(), db, p, fast)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func start(t *testing.T, q *pushqueue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
}

// waitIdle waits until no push job is queued or running and at least
// settled jobs are completed or failed.
func waitIdle(t *testing.T, q *pushqueue.Queue, settled int) pushqueue.JobCounts {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := q.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.Queued == 0 && c.Running == 0 && c.Completed+c.Failed >= settled {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not idle: %+v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSameEventEnqueuedTwiceIsOnePush(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "zdsync.db"))
	p := newCountingPusher()
	q := openQueue(t, db, p)
	ctx := t.Context()
	for range 3 {
		if err := q.Enqueue(ctx, 101, syncer.EventCreated); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(ctx, 101, syncer.EventClosed); err != nil {
		t.Fatal(err)
	}
	start(t, q)
	waitIdle(t, q, 2)
	// Delivered again after it was pushed: still one push.
	if err := q.Enqueue(ctx, 101, syncer.EventCreated); err != nil {
		t.Fatal(err)
	}
	c := waitIdle(t, q, 2)
	if p.count(101, syncer.EventCreated) != 1 || p.count(101, syncer.EventClosed) != 1 || c.Completed != 2 {
		t.Fatalf("pushes %v, counts %+v", p.pushes, c)
	}
}

func TestFailedPushIsNotRetriedByRiverAndCanBeEnqueuedAgain(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "zdsync.db"))
	p := newCountingPusher()
	p.fail[7] = syncer.CodeUnableToLockRow
	q := openQueue(t, db, p)
	start(t, q)
	if err := q.Enqueue(t.Context(), 7, syncer.EventCreated); err != nil {
		t.Fatal(err)
	}
	c := waitIdle(t, q, 1)
	time.Sleep(200 * time.Millisecond) // River would retry within this if it tried
	if n := p.count(7, syncer.EventCreated); n != 1 || c.Failed != 1 {
		t.Fatalf("pushes %d, counts %+v: want one push, kept failed", n, c)
	}
	// The sweep (or on-call) enqueues it again once Salesforce is fine.
	p.mu.Lock()
	delete(p.fail, 7)
	p.mu.Unlock()
	if err := q.Enqueue(t.Context(), 7, syncer.EventCreated); err != nil {
		t.Fatal(err)
	}
	c = waitIdle(t, q, 2)
	if n := p.count(7, syncer.EventCreated); n != 2 || c.Completed != 1 {
		t.Fatalf("pushes %d, counts %+v", n, c)
	}
}

func TestEnqueueOnlyQueueCannotStart(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "zdsync.db"))
	q, err := pushqueue.New(t.Context(), db, nil, fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(t.Context(), 1, syncer.EventCreated); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err == nil {
		t.Fatal("Start of an enqueue-only queue succeeded")
	}
	if err := q.Enqueue(t.Context(), 0, syncer.EventCreated); err == nil {
		t.Fatal("Enqueue of ticket 0 succeeded")
	}
	if err := q.Enqueue(t.Context(), 1, "solved"); err == nil {
		t.Fatal("Enqueue of event solved succeeded")
	}
}

// crashEnv names the database a crashing child process fills.
const crashEnv = "PUSHQUEUE_CRASH_DB"

const crashEvents = 25

// TestCrashChild is the child process of TestCrashedProcessPushesEveryEventOnceAfterRestart:
// it accepts events into the queue and dies without stopping anything.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only run as the child of the crash test")
	}
	db, err := store.Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// A worker that would push is configured, as in zdsync serve, but the
	// process dies before starting it.
	q, err := pushqueue.New(context.Background(), db, newCountingPusher(), fast)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := range crashEvents {
		ev := syncer.EventCreated
		if i%5 == 4 {
			ev = syncer.EventClosed
		}
		for range 2 { // each event delivered twice
			if err := q.Enqueue(context.Background(), int64(1000+i), ev); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
	os.Exit(3) // crash: no Stop, no Close
}

func TestCrashedProcessPushesEveryEventOnceAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "zdsync.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}

	db := openStore(t, path)
	p := newCountingPusher()
	q := openQueue(t, db, p)
	start(t, q)
	c := waitIdle(t, q, crashEvents)
	if c.Completed != crashEvents || p.sum() != crashEvents {
		t.Fatalf("counts %+v, pushes %d, want %d", c, p.sum(), crashEvents)
	}
	for i := range crashEvents {
		ev := syncer.EventCreated
		if i%5 == 4 {
			ev = syncer.EventClosed
		}
		if n := p.count(int64(1000+i), ev); n != 1 {
			t.Errorf("ticket %d %s pushed %d times", 1000+i, ev, n)
		}
	}
}

func TestQueueOnPostgres(t *testing.T) {
	u := os.Getenv("ZDSYNC_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("ZDSYNC_TEST_POSTGRES_URL is not set")
	}
	schema := "zdsync_test_pushqueue_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	db, err := store.Open(t.Context(), u, store.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.SQL().Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
		db.Close()
	})
	p := newCountingPusher()
	q := openQueue(t, db, p)
	for range 2 {
		if err := q.Enqueue(t.Context(), 5, syncer.EventCreated); err != nil {
			t.Fatal(err)
		}
	}
	start(t, q)
	waitIdle(t, q, 1)
	if n := p.count(5, syncer.EventCreated); n != 1 {
		t.Fatalf("pushes %d, want 1", n)
	}
}

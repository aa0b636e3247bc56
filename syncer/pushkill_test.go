package syncer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
)

// pushKillChildEnv carries the sandbox and database to the child process
// of TestKilledCasePushesConverge, as JSON.
const pushKillChildEnv = "ZDSYNC_PUSH_KILL_CHILD"

// pushParts builds the pusher the child and the restarted process use: the
// real adapters against the parent's sandbox, on the database file db.
func pushParts(t testing.TB, env map[string]string, dbPath string) (*syncer.Pusher, *store.DB) {
	ctx := context.Background()
	sf, zd := adaptersFor(t, env, nil)
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	return &syncer.Pusher{Salesforce: sf, Zendesk: zd, Log: db, Retries: 0}, db
}

// TestPushKillChild is the child of TestKilledCasePushesConverge: it works
// the push queue until the parent kills it.
func TestPushKillChild(t *testing.T) {
	cfg := childConfig(t, pushKillChildEnv)
	p, db := pushParts(t, cfg.Env, cfg.DB)
	q, err := pushqueue.New(context.Background(), db, p, pushqueue.Config{Workers: 1, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pushUntilKilled(t, q)
}

// TestKilledCasePushesConverge queues ticket events, lets a child process
// push them, and SIGKILLs it at the worst moment: a case created in
// Salesforce, its ID not yet written back to the ticket. A restarted
// process pushes what was still queued, River rescues the interrupted push
// and its retry finds the orphaned case instead of making another: one
// case per ticket, each written back, with nobody retrying anything.
func TestKilledCasePushesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 31, Accounts: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	var org syncer.Org
	for _, o := range sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) {
			org = o
			break
		}
	}
	cfg := killChildConfig{Env: sb.Env(), DB: filepath.Join(t.TempDir(), "zdsync.db")}
	p, db := pushParts(t, cfg.Env, cfg.DB)
	enq, err := pushqueue.New(ctx, db, nil, pushqueue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var tickets []int64
	for i := range 6 {
		id := sb.Global.AddTicket(syncer.Ticket{Subject: fmt.Sprintf("ticket %d", i), Status: "new", OrgID: org.ID})
		tickets = append(tickets, id)
		if err := enq.Enqueue(ctx, id, syncer.EventCreated); err != nil {
			t.Fatal(err)
		}
	}
	db.Close() // the child has the database to itself while it runs

	const killAt = 3 // the third write-back: two pushes done, one case orphaned
	var writeBacks atomic.Int32
	killChild(t, sb, "TestPushKillChild", pushKillChildEnv, cfg, func(method, endpoint string) bool {
		return method == "PUT" && endpoint == "/tickets/{id}.json" && writeBacks.Add(1) == killAt
	}, func() {
		// The request was read whole before the kill: make sure the dead
		// process's write-back is not applied after it.
		sb.Global.DropNext("PUT", "/tickets/{id}.json", 1, false)
	})

	// The kill left a case in Salesforce whose ID never reached its ticket.
	orphans := 0
	written := map[string]bool{}
	for _, tk := range sb.Global.Tickets() {
		if tk.CaseID != "" {
			written[strconv.FormatInt(tk.ID, 10)] = true
		}
	}
	for _, c := range sb.Salesforce.Cases() {
		if !written[c.ZendeskTicketID] {
			orphans++
		}
	}
	if orphans != 1 {
		t.Fatalf("%d orphaned cases after the kill, want 1 (the test did not kill at the worst moment)", orphans)
	}

	// Restart: a new process on the same database works what is queued,
	// and River's rescuer takes up the push the kill interrupted (left
	// "running" by the dead process) without anyone retrying it. Two waits
	// of production are skipped by moving the database on rather than
	// sleeping: the interrupted push is made an hour old (past the queue's
	// RescueAfter, pushqueue.Timing), and the dead process's
	// leadership of the queue, which lapses after River's 15-second lease,
	// is deleted (only the leader rescues).
	p, db = pushParts(t, cfg.Env, cfg.DB)
	defer db.Close()
	for _, stmt := range []string{
		"DELETE FROM river_leader",
		"UPDATE river_job SET attempted_at = datetime(attempted_at, '-1 hour') WHERE state = 'running'",
	} {
		if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	q, err := pushqueue.New(ctx, db, p, pushqueue.Config{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	writtenBack := func() (n int) {
		for _, tk := range sb.Global.Tickets() {
			if tk.OrgID == org.ID && tk.CaseID != "" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for writtenBack() < len(tickets) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	c, _ := q.Counts(ctx)
	q.Stop(ctx)
	if n := writtenBack(); n != len(tickets) {
		t.Fatalf("after the restart %d of %d tickets have their case; queue %+v", n, len(tickets), c)
	}
	// Retrying every ticket (`zdsync case push`, the sweep) finds the
	// cases; it never makes another.
	for _, id := range tickets {
		if s := p.Push(ctx, id, syncer.EventCreated); !s.OK() || s.CaseID == "" {
			t.Errorf("retry of ticket %d: %s (%s)", id, s.Headline(), s.Message)
		}
	}
	perTicket := map[string]int{}
	for _, c := range sb.Salesforce.Cases() {
		perTicket[c.ZendeskTicketID]++
	}
	for _, id := range tickets {
		if n := perTicket[strconv.FormatInt(id, 10)]; n != 1 {
			t.Errorf("ticket %d has %d cases", id, n)
		}
	}
	for _, tk := range sb.Global.Tickets() {
		if tk.OrgID == org.ID && tk.CaseID == "" {
			t.Errorf("ticket %d has no case ID written back", tk.ID)
		}
	}
}

package syncer_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/app"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// replicaKillChildEnv carries the sandbox and the database to the child
// replica of TestKilledReplicasPushResumesOnAnother, as JSON.
const replicaKillChildEnv = "ZDSYNC_REPLICA_KILL_CHILD"

// pushReplica is the push path of one serve replica on a Postgres schema:
// the real adapters against the sandbox, the application core, and the
// push queue with serve's timing (the defaults), working with workers.
func pushReplica(t testing.TB, cfg killChildConfig, workers int) (*pushqueue.Queue, *store.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.DB, store.WithSchema(cfg.Schema))
	if err != nil {
		t.Fatal(err)
	}
	sf, zd := adaptersFor(t, cfg.Env, nil)
	core := &app.Core{Pusher: &syncer.Pusher{Salesforce: sf, Zendesk: zd, Log: db, Retries: 3}, Store: db}
	q, err := pushqueue.New(ctx, db, core, pushqueue.Config{Workers: workers, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return q, db
}

// TestPushReplicaChild is the replica that TestKilledReplicasPushResumesOnAnother
// kills mid-push.
func TestPushReplicaChild(t *testing.T) {
	q, _ := pushReplica(t, childConfig(t, replicaKillChildEnv), 1)
	pushUntilKilled(t, q)
}

// TestKilledReplicasPushResumesOnAnother runs a replica as a child process
// on a Postgres queue and SIGKILLs it mid-push: its case created in
// Salesforce, the ID not yet written back to the ticket. Another replica
// takes the push up through River's rescue alone — nobody retries it —
// and finishes it: one case per ticket, written back. The wait is proven
// against River's settings, not the clock: the interrupted push is aged
// by exactly the queue's RescueAfter (a replica's production timing), and
// that timing resumes a dead replica's pushes within ResumeWithin.
func TestKilledReplicasPushResumesOnAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	pg := storetest.Postgres(t)
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 37, Accounts: 30})
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
	cfg := killChildConfig{Env: sb.Env(), DB: pg.URL, Schema: pg.Schema}
	enq, db := pushReplica(t, cfg, 1)
	var tickets []int64
	for i := range 4 {
		id := sb.Global.AddTicket(syncer.Ticket{Subject: fmt.Sprintf("ticket %d", i), Status: "new", OrgID: org.ID})
		tickets = append(tickets, id)
		if err := enq.Enqueue(ctx, id, syncer.EventCreated); err != nil {
			t.Fatal(err)
		}
	}

	// The child replica's first write-back: its case exists, the ticket
	// does not know it.
	var killed int64
	killChild(t, sb, "TestPushReplicaChild", replicaKillChildEnv, cfg, func(method, endpoint string) bool {
		return method == "PUT" && endpoint == "/tickets/{id}.json"
	}, func() {
		// The request was read whole before the kill: the dead replica's
		// write-back must not be applied after it.
		sb.Global.DropNext("PUT", "/tickets/{id}.json", 1, false)
	})
	var running []int64
	rows, err := db.SQL().QueryContext(ctx, `SELECT (args->>'ticket_id')::bigint FROM river_job WHERE state = 'running'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		running = append(running, id)
	}
	rows.Close()
	if len(running) != 1 {
		t.Fatalf("%d pushes left running by the killed replica, want 1", len(running))
	}
	killed = running[0]
	if cases := casesOf(sb, killed); cases != 1 {
		t.Fatalf("the killed push left %d cases for ticket %d, want 1 (the test did not kill mid-push)", cases, killed)
	}

	// Another replica, with serve's timing.
	survivor, sdb := pushReplica(t, cfg, 4)
	timing := survivor.Timing()
	if timing.Resume > pushqueue.ResumeWithin {
		t.Fatalf("a dead replica's pushes resume after up to %v (rescue after %v), more than %v", timing.Resume, timing.RescueAfter, pushqueue.ResumeWithin)
	}
	// Skip the waits of production by moving the database on by
	// RescueAfter: the dead replica's push has been running that long, its
	// River leadership (a 15 s lease) and its lock on the ticket (30 s)
	// have lapsed.
	age := timing.RescueAfter + time.Second
	for _, stmt := range []string{
		`DELETE FROM river_leader`,
		fmt.Sprintf(`UPDATE river_job SET attempted_at = attempted_at - interval '%d milliseconds' WHERE state = 'running'`, age.Milliseconds()),
		fmt.Sprintf(`UPDATE run_locks SET expires_at = expires_at - %d`, age.Nanoseconds()),
	} {
		if _, err := sdb.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := survivor.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer survivor.Stop(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for writtenBack(sb, org.ID) < len(tickets) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := writtenBack(sb, org.ID); n != len(tickets) {
		rows, _ := sdb.SQL().QueryContext(ctx, `SELECT id, state, attempt, args::text, coalesce(errors::text, ''), attempted_at, scheduled_at, now() FROM river_job`)
		for rows.Next() {
			var id, attempt int
			var st, args, errs string
			var at, sched, now any
			rows.Scan(&id, &st, &attempt, &args, &errs, &at, &sched, &now)
			t.Logf("job %d %s attempt %d %s %s at %v sched %v now %v", id, st, attempt, args, errs, at, sched, now)
		}
		t.Fatalf("%d of %d tickets have their case after the rescue", n, len(tickets))
	}
	for _, id := range tickets {
		if n := casesOf(sb, id); n != 1 {
			t.Errorf("ticket %d has %d cases", id, n)
		}
	}
	var attempt int
	var state string
	for state != "completed" && time.Now().Before(deadline) { // River records the completion after the push
		if err := sdb.SQL().QueryRowContext(ctx, `SELECT attempt, state FROM river_job WHERE (args->>'ticket_id')::bigint = $1`, killed).
			Scan(&attempt, &state); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if state != "completed" || attempt != 2 {
		t.Errorf("the killed push's job: %s after %d attempts, want completed at its second (River's rescue)", state, attempt)
	}
}

// casesOf counts the Salesforce cases of a ticket.
func casesOf(sb *sandbox.Sandbox, ticketID int64) int {
	n := 0
	for _, c := range sb.Salesforce.Cases() {
		if c.ZendeskTicketID == strconv.FormatInt(ticketID, 10) {
			n++
		}
	}
	return n
}

// writtenBack counts the tickets of org whose case ID was written back.
func writtenBack(sb *sandbox.Sandbox, orgID int64) int {
	n := 0
	for _, tk := range sb.Global.Tickets() {
		if tk.OrgID == orgID && tk.CaseID != "" {
			n++
		}
	}
	return n
}

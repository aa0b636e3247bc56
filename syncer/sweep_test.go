package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
	"github.com/zdsync/zdsync/syncer/zendesk"
)

// memCursors is an in-memory syncer.CursorStore.
type memCursors struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *memCursors) GetCursor(_ context.Context, name string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[name]
	return v, ok, nil
}

func (c *memCursors) SetCursor(_ context.Context, name, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[name] = value
	return nil
}

type enqueued struct {
	id int64
	ev syncer.Event
}

// recordingQueue is a syncer.Enqueuer that records what it was given, and
// optionally pushes it at once.
type recordingQueue struct {
	mu   sync.Mutex
	got  []enqueued
	err  error
	push *syncer.Pusher
}

func (q *recordingQueue) Enqueue(ctx context.Context, id int64, ev syncer.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.got = append(q.got, enqueued{id, ev})
	if q.push != nil {
		q.push.Push(ctx, id, ev)
	}
	return nil
}

func newSweep(f *pushFixture) (*syncer.Sweeper, *recordingQueue, *memCursors) {
	q := &recordingQueue{}
	c := &memCursors{}
	return &syncer.Sweeper{Zendesk: f.zd, Salesforce: f.sf, Cursors: c, Queue: q, Log: f.log}, q, c
}

func TestSweepFindsMissingPushes(t *testing.T) {
	f := newPushFixture()                                                                   // ticket 101: org with account, no case
	f.zd.put(syncer.Ticket{ID: 102, OrgID: 2, Status: "open"})                              // org without account
	f.zd.put(syncer.Ticket{ID: 103, Status: "open"})                                        // no org
	f.zd.put(syncer.Ticket{ID: 104, OrgID: 1, Status: "open", CaseID: "500OPENAAAAAAAA"})   // has case, open
	f.zd.put(syncer.Ticket{ID: 105, OrgID: 1, Status: "closed", CaseID: "500OPENAAAAAAAA"}) // closed, case open
	f.zd.put(syncer.Ticket{ID: 106, OrgID: 1, Status: "closed", CaseID: "500CLOSEDAAAAAA"}) // closed, case closed
	f.zd.put(syncer.Ticket{ID: 107, OrgID: 1, Status: "closed"})                            // closed, never got a case
	f.zd.put(syncer.Ticket{ID: 108, OrgID: 1, Status: "closed", CaseID: "500GONEAAAAAAAA"}) // case does not exist
	f.sf.cases["500OPENAAAAAAAA"] = syncer.Case{ID: "500OPENAAAAAAAA", Status: "Working"}
	f.sf.cases["500CLOSEDAAAAAA"] = syncer.Case{ID: "500CLOSEDAAAAAA", Status: "Closed"}
	w, q, cursors := newSweep(f)

	s := w.Run(t.Context())
	if !s.OK() || s.Job != syncer.JobCaseSweep || s.Fetched != 8 {
		t.Fatalf("summary = %+v", s)
	}
	want := []enqueued{{101, syncer.EventCreated}, {105, syncer.EventClosed}, {107, syncer.EventCreated}}
	slices.SortFunc(q.got, func(a, b enqueued) int { return int(a.id - b.id) })
	if !slices.Equal(q.got, want) {
		t.Errorf("enqueued %v, want %v", q.got, want)
	}
	if s.Created != 2 || s.Updated != 1 {
		t.Errorf("created %d updated %d", s.Created, s.Updated)
	}
	if cursors.m[syncer.SweepCursor] != "8" {
		t.Errorf("cursor = %q, want 8", cursors.m[syncer.SweepCursor])
	}

	// The next sweep goes on from the cursor: nothing new, nothing enqueued.
	q.got = nil
	if s := w.Run(t.Context()); !s.OK() || s.Fetched != 0 || len(q.got) != 0 {
		t.Errorf("second sweep: %+v, enqueued %v", s, q.got)
	}
}

func TestSweepFixesTicketWhoseWebhookNeverArrived(t *testing.T) {
	f := newPushFixture() // ticket 101 was created, its webhook never arrived
	w, q, _ := newSweep(f)
	q.push = f.p
	if s := w.Run(t.Context()); !s.OK() || s.Created != 1 {
		t.Fatalf("sweep = %+v", s)
	}
	cs := f.sf.casesOf(101)
	if len(cs) != 1 || f.zd.ticket(101).CaseID != cs[0].ID {
		t.Fatalf("cases %+v, ticket case ID %q", cs, f.zd.ticket(101).CaseID)
	}
	// The ticket is closed and that webhook is lost too.
	tk := f.zd.ticket(101)
	tk.Status = "closed"
	f.zd.put(tk)
	if s := w.Run(t.Context()); !s.OK() || s.Updated != 1 {
		t.Fatalf("sweep = %+v", s)
	}
	if st := f.sf.casesOf(101)[0].Status; st != syncer.CaseStatusClosed {
		t.Errorf("case status %q, want closed", st)
	}
}

func TestSweepEnqueuesFailedPushesAgain(t *testing.T) {
	f := newPushFixture()
	f.p.Retries = -1
	f.sf.failNext(1, syncer.CodeUnableToLockRow)
	if s := f.p.Push(t.Context(), 101, syncer.EventCreated); s.OK() {
		t.Fatal("push should fail")
	}
	w, q, cursors := newSweep(f)
	cursors.SetCursor(t.Context(), syncer.SweepCursor, "1") // past ticket 101 in the export
	q.push = f.p
	if s := w.Run(t.Context()); !s.OK() {
		t.Fatalf("sweep = %+v", s)
	}
	if !slices.Equal(q.got, []enqueued{{101, syncer.EventCreated}}) || len(f.sf.casesOf(101)) != 1 {
		t.Fatalf("enqueued %v, cases %d", q.got, len(f.sf.casesOf(101)))
	}
	if failed, _ := f.log.Pushes(t.Context(), syncer.PushFailed); len(failed) != 0 {
		t.Errorf("failed pushes left: %+v", failed)
	}
}

func TestSweepKeepsCursorWhenEnqueueFails(t *testing.T) {
	f := newPushFixture()
	w, q, cursors := newSweep(f)
	q.err = errors.New("database is locked")
	s := w.Run(t.Context())
	if s.OK() || s.Code != syncer.CodeInternal {
		t.Fatalf("summary = %+v", s)
	}
	if _, ok := cursors.m[syncer.SweepCursor]; ok {
		t.Errorf("cursor advanced past a page whose pushes were not enqueued")
	}
}

func TestSweepReadsAtMostMaxPages(t *testing.T) {
	f := newPushFixture()
	for id := int64(200); id < 220; id++ {
		f.zd.put(syncer.Ticket{ID: id, Status: "open"})
	}
	w, _, cursors := newSweep(f)
	w.MaxPages = 3
	s := w.Run(t.Context())
	if !s.OK() || s.Fetched != 6 { // 3 pages of 2
		t.Fatalf("summary = %+v", s)
	}
	if cursors.m[syncer.SweepCursor] != "6" {
		t.Errorf("cursor = %q", cursors.m[syncer.SweepCursor])
	}
}

// A ticket whose case ID field holds something that is not a Salesforce
// ID ("N/A", typed by an agent), or whose organization no longer exists,
// is skipped and reported once, and the sweep goes on past it: newer
// tickets are still pushed and the cursor moves. Real adapters over HTTP:
// the Salesforce adapter refuses "N/A" in a query with code 12, which
// used to fail every sweep at the same cursor.
func TestSweepSkipsTicketsWithUnusableDataAndGoesOn(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 11, Accounts: 30})
	var org syncer.Org
	for _, o := range e.sb.Global.Orgs() {
		if syncer.IsAccountID(o.ExternalID) {
			org = o
			break
		}
	}
	field := e.sb.Options.CaseIDField
	closedNA := e.sb.Global.AddTicket(syncer.Ticket{Subject: "closed, N/A", OrgID: org.ID, Status: "closed", CaseID: "N/A"})
	openNA := e.sb.Global.AddTicket(syncer.Ticket{Subject: "open, N/A", OrgID: org.ID, Status: "open"})
	e.sb.Global.SetTicketCustomField(openNA, field, "N/A")
	numeric := e.sb.Global.AddTicket(syncer.Ticket{Subject: "a number", OrgID: org.ID, Status: "closed"})
	e.sb.Global.SetTicketCustomField(numeric, field, 12345)
	orphan := e.sb.Global.AddTicket(syncer.Ticket{Subject: "org gone", OrgID: 987654321, Status: "open"})
	newer := e.sb.Global.AddTicket(syncer.Ticket{Subject: "newer", OrgID: org.ID, Status: "open"})

	zd := e.r.Global.(*zendesk.Client)
	q := &recordingQueue{}
	cursors := &memCursors{}
	w := &syncer.Sweeper{Zendesk: zd, Salesforce: e.r.Salesforce.(syncer.CaseStore), Cursors: cursors, Queue: q}
	s := w.Run(t.Context())
	if !s.OK() {
		t.Fatalf("sweep failed: %s (%s)", s.Message, s.Headline())
	}
	if !slices.Contains(q.got, enqueued{newer, syncer.EventCreated}) {
		t.Errorf("the newer ticket was not pushed: enqueued %v", q.got)
	}
	warned := map[string]bool{}
	for _, wn := range s.Warnings {
		warned[wn.Record] = true
	}
	for _, id := range []int64{closedNA, openNA, numeric, orphan} {
		if !warned[fmt.Sprint("ticket ", id)] {
			t.Errorf("ticket %d was not reported: %+v", id, s.Warnings)
		}
	}
	if _, ok := cursors.m[syncer.SweepCursor]; !ok {
		t.Fatal("the cursor did not move")
	}
	again := w.Run(t.Context())
	if !again.OK() || len(again.Warnings) != 0 {
		t.Errorf("the next sweep reports them again: %s %+v", again.Message, again.Warnings)
	}
}

// A closed push of a ticket whose case ID field holds "N/A" is skipped
// with code 1 (no case to update), not failed: a failed push would be
// enqueued again by every sweep and fail the same way.
func TestClosedPushWithAnUnusableCaseIDIsNoCaseToUpdate(t *testing.T) {
	f := newPushFixture()
	f.zd.put(syncer.Ticket{ID: 120, OrgID: 1, Status: "closed", CaseID: "N/A"})
	s := f.p.Push(t.Context(), 120, syncer.EventClosed)
	if !s.OK() || s.Code != syncer.CodeNoCaseID || s.Skipped != 1 || !strings.Contains(s.Message, `"N/A"`) {
		t.Fatalf("summary = %+v", s)
	}
	if f.sf.closes != 0 {
		t.Errorf("Salesforce was asked to close case N/A")
	}
	if failed, _ := f.log.Pushes(t.Context(), syncer.PushFailed); len(failed) != 0 {
		t.Errorf("the push is left failed, to be retried by every sweep: %+v", failed)
	}
}

package syncer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

const caseTestAccount = "0014M00001sGJ8xQAG"

// caseTickets is an in-memory syncer.Tickets for the push and sweep tests.
type caseTickets struct {
	mu       sync.Mutex
	tickets  map[int64]syncer.Ticket
	orgs     map[int64]syncer.Org
	setErrs  []error // next SetTicketCaseID calls fail with these
	getErrs  []error // next GetTicket calls fail with these
	setCalls int
	order    []int64 // export stream: a ticket ID for each update
}

func newCaseTickets() *caseTickets {
	return &caseTickets{tickets: map[int64]syncer.Ticket{}, orgs: map[int64]syncer.Org{
		1: {ID: 1, Name: "Acme", ExternalID: caseTestAccount},
		2: {ID: 2, Name: "No account"},
		3: {ID: 3, Name: "Field only", Fields: syncer.FieldsOf(map[string]any{"salesforce_id": "0014M00001sGJ8yQAG"})},
	}}
}

func (z *caseTickets) put(t syncer.Ticket) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.tickets[t.ID] = t
	z.order = append(z.order, t.ID)
}

func (z *caseTickets) ticket(id int64) syncer.Ticket {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.tickets[id]
}

func (z *caseTickets) GetTicket(_ context.Context, id int64) (syncer.Ticket, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.getErrs) > 0 {
		err := z.getErrs[0]
		z.getErrs = z.getErrs[1:]
		return syncer.Ticket{}, err
	}
	t, ok := z.tickets[id]
	if !ok {
		return syncer.Ticket{}, syncer.ErrNotFound
	}
	return t, nil
}

func (z *caseTickets) GetOrg(_ context.Context, id int64) (syncer.Org, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	o, ok := z.orgs[id]
	if !ok {
		return syncer.Org{}, syncer.ErrNotFound
	}
	return o, nil
}

func (z *caseTickets) SetTicketCaseID(_ context.Context, id int64, caseID string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.setCalls++
	if len(z.setErrs) > 0 {
		err := z.setErrs[0]
		z.setErrs = z.setErrs[1:]
		return err
	}
	t := z.tickets[id]
	t.CaseID = caseID
	z.tickets[id] = t
	return nil
}

// TicketsSince pages through the tickets in update order, two a page; the
// cursor is the index of the next ticket.
func (z *caseTickets) TicketsSince(_ context.Context, cursor string, _ time.Time) ([]syncer.Ticket, string, bool, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	i := 0
	if cursor != "" {
		fmt.Sscanf(cursor, "%d", &i)
	}
	var out []syncer.Ticket
	for ; i < len(z.order) && len(out) < 2; i++ {
		out = append(out, z.tickets[z.order[i]])
	}
	return out, fmt.Sprint(i), i >= len(z.order), nil
}

// caseSalesforce is an in-memory syncer.CaseStore with fault injection.
type caseSalesforce struct {
	mu         sync.Mutex
	cases      map[string]syncer.Case
	writeErrs  []error // next case writes (create, close) fail with these
	lostErrs   []error // next creates succeed but answer with these (lost response)
	creates    int
	closes     int
	findCalls  int
	nextNumber int
}

func newCaseSalesforce() *caseSalesforce {
	return &caseSalesforce{cases: map[string]syncer.Case{}}
}

func (f *caseSalesforce) failNext(n int, code syncer.Code) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.writeErrs = append(f.writeErrs, syncer.Errorf(code, "injected %s", code.Info().Name))
	}
}

func (f *caseSalesforce) takeWriteErr() error {
	if len(f.writeErrs) == 0 {
		return nil
	}
	err := f.writeErrs[0]
	f.writeErrs = f.writeErrs[1:]
	return err
}

func (f *caseSalesforce) FindCase(_ context.Context, ticketID int64) (syncer.Case, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.findCalls++
	for _, c := range f.cases {
		if c.TicketID == ticketID {
			return c, true, nil
		}
	}
	return syncer.Case{}, false, nil
}

func (f *caseSalesforce) CreateCase(_ context.Context, c syncer.Case) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	if err := f.takeWriteErr(); err != nil {
		return "", err
	}
	f.nextNumber++
	c.ID = fmt.Sprintf("500AAAAAAAA%04d", f.nextNumber)
	f.cases[c.ID] = c
	if len(f.lostErrs) > 0 {
		err := f.lostErrs[0]
		f.lostErrs = f.lostErrs[1:]
		return "", err
	}
	return c.ID, nil
}

func (f *caseSalesforce) CloseCase(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	if err := f.takeWriteErr(); err != nil {
		return err
	}
	c, ok := f.cases[id]
	if !ok {
		return syncer.Errorf(syncer.CodeAPIError, "case %s not found", id)
	}
	c.Status = syncer.CaseStatusClosed
	f.cases[id] = c
	return nil
}

func (f *caseSalesforce) CaseStatuses(_ context.Context, ids []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, id := range ids {
		if c, ok := f.cases[id]; ok {
			out[id] = c.Status
		}
	}
	return out, nil
}

func (f *caseSalesforce) casesOf(ticketID int64) []syncer.Case {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []syncer.Case
	for _, c := range f.cases {
		if c.TicketID == ticketID {
			out = append(out, c)
		}
	}
	return out
}

// memPushLog is an in-memory syncer.PushLog.
type memPushLog struct {
	mu      sync.Mutex
	records []syncer.PushRecord
}

func (l *memPushLog) RecordPush(_ context.Context, r syncer.PushRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	return nil
}

func (l *memPushLog) Pushes(_ context.Context, statuses ...syncer.PushStatus) ([]syncer.PushRecord, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	type key struct {
		id int64
		ev syncer.Event
	}
	latest := map[key]int{}
	var order []key
	for i, r := range l.records {
		k := key{r.TicketID, r.Event}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = i
	}
	var out []syncer.PushRecord
	for _, k := range order {
		r := l.records[latest[k]]
		if len(statuses) == 0 || slices.Contains(statuses, r.Status) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *memPushLog) all() []syncer.PushRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// sleeps records the delays a Pusher waited, without waiting.
type sleeps struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeps) Sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = append(s.delays, d)
	return nil
}

type pushFixture struct {
	zd     *caseTickets
	sf     *caseSalesforce
	log    *memPushLog
	sleeps *sleeps
	p      *syncer.Pusher
}

func newPushFixture() *pushFixture {
	f := &pushFixture{zd: newCaseTickets(), sf: newCaseSalesforce(), log: &memPushLog{}, sleeps: &sleeps{}}
	// Retries and RetryDelay are the configuration's defaults.
	f.p = &syncer.Pusher{Salesforce: f.sf, Zendesk: f.zd, Log: f.log, Sleep: f.sleeps.Sleep, Retries: 3, RetryDelay: 5 * time.Second,
		TicketURL: func(id int64) string { return fmt.Sprintf("https://example.zendesk.com/agent/tickets/%d", id) }}
	f.zd.put(syncer.Ticket{ID: 101, Subject: "Pipeline broken", Description: "It fails.", Priority: "urgent", Status: "new",
		OrgID: 1, RequesterEmail: "ada@example.com", RequesterName: "Ada"})
	return f
}

func codes(s *syncer.Summary) []syncer.Code {
	var out []syncer.Code
	for _, e := range s.Errors {
		out = append(out, e.Code)
	}
	return out
}

func TestPushCreatedMakesOneCaseAndWritesItsIDBack(t *testing.T) {
	f := newPushFixture()
	s := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if !s.OK() || s.Code != syncer.CodeNone || s.Created != 1 || len(s.Errors) != 0 {
		t.Fatalf("summary = %+v, want one case created", s)
	}
	if s.Job != syncer.JobCases || s.CaseID == "" || s.Account != caseTestAccount {
		t.Fatalf("summary job %q case %q account %q", s.Job, s.CaseID, s.Account)
	}
	cs := f.sf.casesOf(101)
	if len(cs) != 1 {
		t.Fatalf("cases for ticket = %d, want 1", len(cs))
	}
	want := syncer.Case{ID: s.CaseID, Subject: "Pipeline broken", Description: "It fails.", Priority: "High", Status: "New",
		Origin: "Zendesk", AccountID: caseTestAccount, Email: "ada@example.com", Name: "Ada", TicketID: 101,
		TicketURL: "https://example.zendesk.com/agent/tickets/101"}
	if cs[0] != want {
		t.Errorf("case = %+v\nwant   %+v", cs[0], want)
	}
	if got := f.zd.ticket(101).CaseID; got != s.CaseID {
		t.Errorf("ticket case ID field = %q, want %q", got, s.CaseID)
	}
	recs := f.log.all()
	if len(recs) != 1 || recs[0].Status != syncer.PushDone || recs[0].Attempts != 1 || recs[0].CaseID != s.CaseID {
		t.Errorf("push log = %+v", recs)
	}
}

func TestPushCreatedNeedsNothing(t *testing.T) {
	tests := []struct {
		name   string
		ticket syncer.Ticket
		status syncer.PushStatus
	}{
		{"ticket whose org has no Salesforce account ID is not pushed", syncer.Ticket{ID: 7, OrgID: 2}, syncer.PushSkipped},
		{"ticket without an organization is not pushed", syncer.Ticket{ID: 7}, syncer.PushSkipped},
		{"ticket that already has a case is done", syncer.Ticket{ID: 7, OrgID: 1, CaseID: "500AAAAAAAAXXXX"}, syncer.PushDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPushFixture()
			f.zd.put(tt.ticket)
			s := f.p.Push(t.Context(), 7, syncer.EventCreated)
			if !s.OK() || s.Code != syncer.CodeNone || len(s.Errors) != 0 || s.Created != 0 {
				t.Fatalf("summary = %+v", s)
			}
			if f.sf.creates != 0 || f.zd.setCalls != 0 {
				t.Errorf("creates = %d, write-backs = %d, want none", f.sf.creates, f.zd.setCalls)
			}
			if recs := f.log.all(); len(recs) != 1 || recs[0].Status != tt.status {
				t.Errorf("push log = %+v, want one %s", recs, tt.status)
			}
		})
	}
}

func TestPushUsesOrgFieldSalesforceID(t *testing.T) {
	f := newPushFixture()
	f.zd.put(syncer.Ticket{ID: 8, OrgID: 3, Subject: "x"})
	s := f.p.Push(t.Context(), 8, syncer.EventCreated)
	if s.Created != 1 || s.Account != "0014M00001sGJ8yQAG" {
		t.Fatalf("summary = %+v", s)
	}
}

func TestPushCode1ClosedTicketWithoutCaseIDIsSilent(t *testing.T) {
	f := newPushFixture()
	s := f.p.Push(t.Context(), 101, syncer.EventClosed)
	if !s.OK() || s.Code != syncer.CodeNoCaseID || !slices.Equal(codes(s), []syncer.Code{syncer.CodeNoCaseID}) {
		t.Fatalf("summary = %+v, want silent code 1 listed", s)
	}
	if s.Failed != 0 || s.Skipped != 1 || len(f.sleeps.delays) != 0 || f.sf.closes != 0 {
		t.Errorf("failed %d skipped %d sleeps %v closes %d", s.Failed, s.Skipped, f.sleeps.delays, f.sf.closes)
	}
	recs := f.log.all()
	if len(recs) != 1 || recs[0].Code != syncer.CodeNoCaseID || recs[0].Status != syncer.PushSkipped {
		t.Errorf("push log = %+v", recs)
	}
}

func TestPushCode2InsufficientAccessIsSilentAndNotRetried(t *testing.T) {
	for _, event := range []syncer.Event{syncer.EventCreated, syncer.EventClosed} {
		t.Run(string(event), func(t *testing.T) {
			f := newPushFixture()
			if event == syncer.EventClosed {
				f.zd.put(syncer.Ticket{ID: 101, OrgID: 1, Status: "closed", CaseID: "500AAAAAAAAXXXX"})
			}
			f.sf.failNext(5, syncer.CodeInsufficientAccess)
			s := f.p.Push(t.Context(), 101, event)
			if !s.OK() || s.Code != syncer.CodeInsufficientAccess || !slices.Equal(codes(s), []syncer.Code{syncer.CodeInsufficientAccess}) {
				t.Fatalf("summary = %+v, want silent code 2 listed", s)
			}
			if writes := f.sf.creates + f.sf.closes; writes != 1 || len(f.sleeps.delays) != 0 {
				t.Errorf("writes = %d, sleeps = %v: want one attempt, no retry", writes, f.sleeps.delays)
			}
			recs := f.log.all()
			if len(recs) != 1 || recs[0].Attempts != 1 || recs[0].Status != syncer.PushSkipped || recs[0].Code != syncer.CodeInsufficientAccess {
				t.Errorf("push log = %+v", recs)
			}
		})
	}
}

var retriedCodes = []syncer.Code{syncer.CodeUnableToLockRow, syncer.CodeConnectionFailed, syncer.CodeOpenTimeout}

func TestPushCodes3To5AreRetried3Times5SecondsApartThenFail(t *testing.T) {
	for _, code := range retriedCodes {
		for _, event := range []syncer.Event{syncer.EventCreated, syncer.EventClosed} {
			t.Run(fmt.Sprintf("code %d %s", code, event), func(t *testing.T) {
				f := newPushFixture()
				if event == syncer.EventClosed {
					f.sf.cases["500AAAAAAAAXXXX"] = syncer.Case{ID: "500AAAAAAAAXXXX", TicketID: 101, Status: "Working"}
					f.zd.put(syncer.Ticket{ID: 101, OrgID: 1, Status: "closed", CaseID: "500AAAAAAAAXXXX"})
				}
				f.sf.failNext(10, code)
				s := f.p.Push(t.Context(), 101, event)
				if s.OK() || s.Code != code || s.Failed != 1 || !slices.Equal(codes(s), []syncer.Code{code}) {
					t.Fatalf("summary = %+v, want failure with code %d", s, code)
				}
				if writes := f.sf.creates + f.sf.closes; writes != 4 {
					t.Errorf("attempts = %d, want 4 (1 + 3 retries)", writes)
				}
				want := []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}
				if !slices.Equal(f.sleeps.delays, want) {
					t.Errorf("delays = %v, want %v", f.sleeps.delays, want)
				}
				recs := f.log.all()
				if len(recs) != 4 {
					t.Fatalf("push log has %d records, want 4: %+v", len(recs), recs)
				}
				for i, r := range recs {
					wantStatus := syncer.PushRetrying
					if i == 3 {
						wantStatus = syncer.PushFailed
					}
					if r.Attempts != i+1 || r.Status != wantStatus || r.Code != code || r.TicketID != 101 || r.Event != event {
						t.Errorf("record %d = %+v", i, r)
					}
				}
				failed, _ := f.log.Pushes(t.Context(), syncer.PushFailed)
				if len(failed) != 1 || failed[0].TicketID != 101 {
					t.Errorf("failed pushes = %+v, want the push kept as failed", failed)
				}
				if len(f.sf.casesOf(101)) > 1 {
					t.Errorf("more than one case")
				}
			})
		}
	}
}

func TestPushCodes3To5SucceedOnARetry(t *testing.T) {
	for _, code := range retriedCodes {
		t.Run(fmt.Sprintf("code %d", code), func(t *testing.T) {
			f := newPushFixture()
			f.sf.failNext(2, code)
			s := f.p.Push(t.Context(), 101, syncer.EventCreated)
			if !s.OK() || s.Code != syncer.CodeNone || s.Created != 1 || len(s.Errors) != 0 {
				t.Fatalf("summary = %+v", s)
			}
			if len(f.sleeps.delays) != 2 || len(f.sf.casesOf(101)) != 1 {
				t.Errorf("delays %v, cases %d", f.sleeps.delays, len(f.sf.casesOf(101)))
			}
			recs := f.log.all()
			if last := recs[len(recs)-1]; last.Status != syncer.PushDone || last.Attempts != 3 {
				t.Errorf("last record = %+v, want done after 3 attempts", last)
			}
		})
	}
}

func TestPushRetryConfiguration(t *testing.T) {
	tests := []struct {
		name      string
		retries   int
		delay     time.Duration
		wantWrite int
		wantDelay []time.Duration
	}{
		{"one retry two seconds apart", 1, 2 * time.Second, 2, []time.Duration{2 * time.Second}},
		{"zero retries mean none", 0, time.Second, 1, nil},
		{"zero delay means no wait", 2, 0, 3, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPushFixture()
			f.p.Retries, f.p.RetryDelay = tt.retries, tt.delay
			f.sf.failNext(10, syncer.CodeUnableToLockRow)
			s := f.p.Push(t.Context(), 101, syncer.EventCreated)
			if s.Code != syncer.CodeUnableToLockRow || f.sf.creates != tt.wantWrite || !slices.Equal(f.sleeps.delays, tt.wantDelay) {
				t.Errorf("code %d, writes %d, delays %v", s.Code, f.sf.creates, f.sleeps.delays)
			}
		})
	}
}

func TestPushOtherFailuresAreNotRetried(t *testing.T) {
	f := newPushFixture()
	f.sf.failNext(1, syncer.CodeAPIError)
	s := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if s.OK() || s.Code != syncer.CodeAPIError || f.sf.creates != 1 || len(f.sleeps.delays) != 0 {
		t.Fatalf("summary %+v, creates %d, delays %v", s, f.sf.creates, f.sleeps.delays)
	}
}

func TestPushRetryAfterLostResponseLeavesOneCase(t *testing.T) {
	f := newPushFixture()
	f.sf.lostErrs = []error{syncer.Errorf(syncer.CodeOpenTimeout, "no answer in time")}
	s := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if !s.OK() || len(f.sf.casesOf(101)) != 1 || f.sf.creates != 1 {
		t.Fatalf("summary %+v, cases %d, creates %d: want the retry to find the case", s, len(f.sf.casesOf(101)), f.sf.creates)
	}
	if s.CaseID != f.sf.casesOf(101)[0].ID || f.zd.ticket(101).CaseID != s.CaseID {
		t.Errorf("case ID %q not written back", s.CaseID)
	}
}

func TestPushSameEventTwiceLeavesOneCase(t *testing.T) {
	f := newPushFixture()
	first := f.p.Push(t.Context(), 101, syncer.EventCreated)
	second := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if !first.OK() || !second.OK() || first.CaseID != second.CaseID || second.Created != 0 || second.Unchanged != 1 {
		t.Fatalf("first %+v\nsecond %+v", first, second)
	}
	if n := len(f.sf.casesOf(101)); n != 1 {
		t.Errorf("cases = %d, want 1", n)
	}
}

func TestPushWriteBackFailureIsFoundByTheNextPush(t *testing.T) {
	f := newPushFixture()
	f.p.Retries = -1
	f.zd.setErrs = []error{syncer.Errorf(syncer.CodeConnectionFailed, "connection refused")}
	s := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if s.OK() || s.Code != syncer.CodeConnectionFailed || s.CaseID == "" {
		t.Fatalf("summary = %+v, want failure naming the created case", s)
	}
	again := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if !again.OK() || again.CaseID != s.CaseID || len(f.sf.casesOf(101)) != 1 || f.sf.findCalls != 2 {
		t.Fatalf("retry = %+v, cases %d", again, len(f.sf.casesOf(101)))
	}
	if f.zd.ticket(101).CaseID != s.CaseID {
		t.Errorf("case ID not written back on retry")
	}
}

func TestPushZendeskReadFailureIsRetried(t *testing.T) {
	f := newPushFixture()
	f.zd.getErrs = []error{syncer.Errorf(syncer.CodeOpenTimeout, "timeout")}
	s := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if !s.OK() || s.Created != 1 || len(f.sleeps.delays) != 1 {
		t.Fatalf("summary %+v delays %v", s, f.sleeps.delays)
	}
}

func TestPushClosedClosesTheCase(t *testing.T) {
	f := newPushFixture()
	created := f.p.Push(t.Context(), 101, syncer.EventCreated)
	tk := f.zd.ticket(101)
	tk.Status = "closed"
	f.zd.put(tk)
	s := f.p.Push(t.Context(), 101, syncer.EventClosed)
	if !s.OK() || s.Updated != 1 || s.CaseID != created.CaseID {
		t.Fatalf("summary = %+v", s)
	}
	if st := f.sf.casesOf(101)[0].Status; st != syncer.CaseStatusClosed {
		t.Errorf("case status = %q", st)
	}
}

func TestPushInterruptedWhileWaitingFails(t *testing.T) {
	f := newPushFixture()
	ctx, cancel := context.WithCancel(t.Context())
	f.p.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
	f.sf.failNext(10, syncer.CodeUnableToLockRow)
	s := f.p.Push(ctx, 101, syncer.EventCreated)
	if s.OK() || s.Code != syncer.CodeUnableToLockRow || !strings.Contains(s.Message, "interrupted") {
		t.Fatalf("summary = %+v", s)
	}
	if recs := f.log.all(); recs[len(recs)-1].Status != syncer.PushFailed {
		t.Errorf("last record = %+v", recs[len(recs)-1])
	}
}

func TestPushRejectsInvalidRequests(t *testing.T) {
	f := newPushFixture()
	for _, tc := range []struct {
		id int64
		ev syncer.Event
	}{{0, syncer.EventCreated}, {101, "solved"}} {
		if s := f.p.Push(t.Context(), tc.id, tc.ev); s.OK() {
			t.Errorf("Push(%d, %q) OK", tc.id, tc.ev)
		}
	}
}

func TestPushDefaultSleepHonoursContext(t *testing.T) {
	f := newPushFixture()
	f.p.Sleep = nil
	f.p.RetryDelay = time.Hour
	f.sf.failNext(10, syncer.CodeUnableToLockRow)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if s := f.p.Push(ctx, 101, syncer.EventCreated); s.OK() || f.sf.creates != 1 {
		t.Fatalf("summary %+v, creates %d", s, f.sf.creates)
	}
}

func TestCaseFromTicketMapping(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	c := syncer.CaseFromTicket(syncer.Ticket{ID: 5, Subject: long, Priority: "low", Status: "pending"}, caseTestAccount, "u")
	if len(c.Subject) > 255 || !strings.HasPrefix(long, c.Subject) || c.Priority != "Low" || c.Status != "Working" ||
		c.Origin != syncer.CaseOrigin || c.TicketID != 5 || c.TicketURL != "u" || c.AccountID != caseTestAccount {
		t.Errorf("case = %+v", c)
	}
	for _, tc := range []struct{ in, prio, status string }{
		{"urgent", "High", "New"}, {"high", "High", "New"}, {"normal", "Medium", "New"}, {"", "Medium", "New"},
	} {
		if got := syncer.CasePriority(tc.in); got != tc.prio {
			t.Errorf("CasePriority(%q) = %q", tc.in, got)
		}
	}
	for in, want := range map[string]string{"new": "New", "open": "Working", "hold": "Working", "solved": "Closed", "closed": "Closed"} {
		if got := syncer.CaseStatus(in); got != want {
			t.Errorf("CaseStatus(%q) = %q, want %q", in, got, want)
		}
	}
	if len(syncer.CaseFields) != 10 {
		t.Errorf("mapping has %d rows", len(syncer.CaseFields))
	}
}

func TestParseEvent(t *testing.T) {
	for s, ok := range map[string]bool{"created": true, "closed": true, "Created": false, "": false, "solved": false} {
		if _, got := syncer.ParseEvent(s); got != ok {
			t.Errorf("ParseEvent(%q) ok = %v", s, got)
		}
	}
}

// A push rate limited after the client's own waits (Salesforce's
// REQUEST_LIMIT_EXCEEDED, Zendesk's 429s) is not retried in a loop nor
// failed for good: it is left to the push queue, which tries it again
// later.
func TestPushRateLimitedIsLeftToTheQueue(t *testing.T) {
	f := newPushFixture()
	f.sf.failNext(10, syncer.CodeRateLimited)
	s := f.p.Push(t.Context(), 101, syncer.EventCreated)
	if s.OK() || s.Code != syncer.CodeRateLimited || f.sf.creates != 1 || len(f.sleeps.delays) != 0 {
		t.Fatalf("summary %+v, creates %d, delays %v", s, f.sf.creates, f.sleeps.delays)
	}
	if !strings.Contains(s.Message, "retried later") {
		t.Errorf("message %q", s.Message)
	}
	recs := f.log.records
	if last := recs[len(recs)-1]; last.Status != syncer.PushRetrying || last.Code != syncer.CodeRateLimited {
		t.Errorf("last push record %+v, want retrying with code 6", last)
	}
}

package pushqueue_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/pushqueue"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

const (
	itSecret  = "webhook-signing-secret"
	itAccount = salesforcetest.SpecialAccountID
)

// system is the case sync wired as zdsync serve wires it, against the
// Salesforce and Zendesk sandboxes over HTTP and a SQLite store.
type system struct {
	sf      *salesforcetest.Server
	zd      *zendesktest.Server
	db      *store.DB
	pusher  *syncer.Pusher
	queue   *pushqueue.Queue
	webhook *httptest.Server
	sweep   *syncer.Sweeper
	org     int64

	mu     sync.Mutex
	delays []time.Duration
	done   []*syncer.Summary
}

func newSystem(t *testing.T) *system {
	t.Helper()
	ctx := t.Context()
	s := &system{
		sf: salesforcetest.NewServer(salesforcetest.WithAccounts(salesforcetest.Account{ID: itAccount, Name: "Acme", Type: "Customer"})),
		zd: zendesktest.NewServer(),
	}
	t.Cleanup(s.sf.Close)
	t.Cleanup(s.zd.Close)
	creds := s.sf.Credentials()
	sfc, err := salesforce.New(ctx, salesforce.Config{URL: s.sf.URL(), ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		Username: creds.Username, Password: creds.Password, SecurityToken: creds.SecurityToken})
	if err != nil {
		t.Fatal(err)
	}
	noSleep := func(context.Context, time.Duration) error { return nil }
	zdc, err := zendesk.New(zendesk.Config{URL: s.zd.URL(), Email: zendesktest.DefaultEmail, Token: zendesktest.DefaultToken,
		CaseIDField: zendesktest.DefaultCaseIDField, Sleep: noSleep, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.db, err = store.Open(ctx, filepath.Join(t.TempDir(), "zdsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	s.pusher = &syncer.Pusher{Salesforce: sfc, Zendesk: zdc, Log: s.db, Retries: 3, RetryDelay: 5 * time.Second, Sleep: func(_ context.Context, d time.Duration) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.delays = append(s.delays, d)
		return nil
	}}
	cfg := fast
	cfg.Done = func(_ context.Context, sum *syncer.Summary) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.done = append(s.done, sum)
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s.queue, err = pushqueue.New(ctx, s.db, s.pusher, cfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s.queue)
	mux := http.NewServeMux()
	mux.Handle("POST "+zendesk.WebhookPath, zendesk.NewWebhookHandler(itSecret, s.queue, nil))
	s.webhook = httptest.NewServer(mux)
	t.Cleanup(s.webhook.Close)
	s.sweep = &syncer.Sweeper{Zendesk: zdc, Salesforce: sfc, Cursors: s.db, Queue: s.queue, Log: s.db}
	s.org = s.zd.AddOrg(syncer.Org{Name: "Acme", ExternalID: itAccount, Fields: syncer.FieldsOf(map[string]any{"salesforce_id": itAccount})})
	return s
}

func (s *system) ticket(subject string) int64 {
	uid := s.zd.AddUser(syncer.User{Name: "Ada Lovelace", Email: fmt.Sprintf("ada+%d@example.com", time.Now().UnixNano()), Role: "end-user"})
	return s.zd.AddTicket(syncer.Ticket{Subject: subject, Description: "It broke.", Priority: "high", OrgID: s.org, RequesterID: uid})
}

// deliver sends the webhook Zendesk sends for a ticket event.
func (s *system) deliver(t *testing.T, id int64, ev syncer.Event) {
	t.Helper()
	body := fmt.Sprintf(`{"ticket_id": "%d", "event": %q}`, id, ev)
	req, err := zendesktest.NewWebhookRequest(s.webhook.URL+zendesk.WebhookPath, itSecret, []byte(body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code := send(t, req); code != http.StatusAccepted {
		t.Fatalf("webhook answered %d", code)
	}
}

func send(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *system) casesOf(id int64) []salesforcetest.Case {
	var out []salesforcetest.Case
	for _, c := range s.sf.Cases() {
		if c.ZendeskTicketID == fmt.Sprint(id) {
			out = append(out, c)
		}
	}
	return out
}

func (s *system) caseField(t *testing.T, id int64) string {
	t.Helper()
	for _, tk := range s.zd.Tickets() {
		if tk.ID == id {
			return tk.CaseID
		}
	}
	t.Fatalf("no ticket %d", id)
	return ""
}

func (s *system) summaries() []*syncer.Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.done)
}

func TestWebhookEventsBecomeOneCaseOverHTTP(t *testing.T) {
	s := newSystem(t)
	id := s.ticket("Runner stuck")
	s.deliver(t, id, syncer.EventCreated)
	s.deliver(t, id, syncer.EventCreated) // Zendesk redelivers
	waitIdle(t, s.queue, 1)
	cs := s.casesOf(id)
	if len(cs) != 1 {
		t.Fatalf("cases = %+v, want one", cs)
	}
	c := cs[0]
	if c.Subject != "Runner stuck" || c.Priority != "High" || c.Origin != "Zendesk" || c.AccountID != itAccount ||
		c.SuppliedName != "Ada Lovelace" || c.ZendeskTicketURL == "" {
		t.Errorf("case = %+v", c)
	}
	if got := s.caseField(t, id); got != c.ID {
		t.Fatalf("ticket case field = %q, want %q", got, c.ID)
	}
	// Zendesk did not get our answer and delivers again later; on-call
	// pushes it by hand too: still one case.
	s.deliver(t, id, syncer.EventCreated)
	if sum := s.pusher.Push(t.Context(), id, syncer.EventCreated); !sum.OK() || sum.CaseID != c.ID {
		t.Fatalf("manual push = %+v", sum)
	}
	waitIdle(t, s.queue, 1)
	if n := len(s.casesOf(id)); n != 1 {
		t.Fatalf("cases = %d after redelivery and manual push", n)
	}

	s.zd.SetTicketStatus(id, "closed")
	s.deliver(t, id, syncer.EventClosed)
	waitIdle(t, s.queue, 2)
	if st := s.casesOf(id)[0].Status; st != syncer.CaseStatusClosed {
		t.Fatalf("case status = %q, want Closed", st)
	}
}

func TestPipelineErrorsOverHTTP(t *testing.T) {
	t.Run("code 1: closed ticket without case ID is silent", func(t *testing.T) {
		s := newSystem(t)
		id := s.ticket("never pushed")
		s.zd.SetTicketStatus(id, "closed")
		sum := s.pusher.Push(t.Context(), id, syncer.EventClosed)
		if !sum.OK() || sum.Code != syncer.CodeNoCaseID || len(sum.Errors) != 1 || s.sf.Calls().CaseUpdate != 0 {
			t.Fatalf("summary = %+v", sum)
		}
	})
	t.Run("code 2: missing account is silent and not retried", func(t *testing.T) {
		s := newSystem(t)
		id := s.ticket("account gone")
		s.sf.FailCaseWrites(1, salesforcetest.ErrInsufficientAccess)
		sum := s.pusher.Push(t.Context(), id, syncer.EventCreated)
		if !sum.OK() || sum.Code != syncer.CodeInsufficientAccess || s.sf.Calls().CaseCreate != 1 || len(s.delays) != 0 {
			t.Fatalf("summary = %+v, creates %d, delays %v", sum, s.sf.Calls().CaseCreate, s.delays)
		}
	})
	t.Run("code 3: lock errors are retried 3 times 5 s apart, then kept failed and fixed by the sweep", func(t *testing.T) {
		s := newSystem(t)
		id := s.ticket("locked")
		s.sf.FailCaseWrites(4, salesforcetest.ErrUnableToLockRow)
		s.deliver(t, id, syncer.EventCreated)
		c := waitIdle(t, s.queue, 1)
		sums := s.summaries()
		if c.Failed != 1 || len(sums) != 1 || sums[0].Code != syncer.CodeUnableToLockRow || sums[0].OK() {
			t.Fatalf("counts %+v, summaries %+v", c, sums)
		}
		if s.sf.Calls().CaseCreate != 4 || !slices.Equal(s.delays, []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}) {
			t.Fatalf("creates %d, delays %v", s.sf.Calls().CaseCreate, s.delays)
		}
		failed, err := s.db.Pushes(t.Context(), syncer.PushFailed)
		if err != nil || len(failed) != 1 || failed[0].Attempts != 4 || failed[0].Code != syncer.CodeUnableToLockRow {
			t.Fatalf("failed pushes = %+v, %v", failed, err)
		}
		if sum := s.sweep.Run(t.Context()); !sum.OK() {
			t.Fatalf("sweep = %+v", sum)
		}
		waitIdle(t, s.queue, 2)
		if cs := s.casesOf(id); len(cs) != 1 || s.caseField(t, id) != cs[0].ID {
			t.Fatalf("cases after the sweep = %+v", cs)
		}
	})
	t.Run("code 4: refused connections are retried", func(t *testing.T) {
		s := newSystem(t)
		id := s.ticket("network")
		s.sf.RefuseConnections(2)
		sum := s.pusher.Push(t.Context(), id, syncer.EventCreated)
		if !sum.OK() || sum.Created != 1 || len(s.delays) != 2 {
			t.Fatalf("summary = %+v, delays %v", sum, s.delays)
		}
		s.sf.RefuseConnections(10)
		id2 := s.ticket("network down")
		sum = s.pusher.Push(t.Context(), id2, syncer.EventCreated)
		if sum.OK() || sum.Code != syncer.CodeConnectionFailed {
			t.Fatalf("summary = %+v, want code 4", sum)
		}
		if n := len(s.casesOf(id2)); n != 0 {
			t.Fatalf("%d cases for a push that never reached Salesforce", n)
		}
	})
	t.Run("code 5: slow answers time out and are retried", func(t *testing.T) {
		s := newSystem(t)
		id := s.ticket("slow")
		old := http.DefaultClient.Timeout
		salesforce.SetHTTPTimeout(300 * time.Millisecond)
		t.Cleanup(func() { salesforce.SetHTTPTimeout(old) })
		s.sf.SetResponseDelay(5 * time.Second)
		sum := s.pusher.Push(t.Context(), id, syncer.EventCreated)
		if sum.OK() || sum.Code != syncer.CodeOpenTimeout || len(s.delays) != 3 {
			t.Fatalf("summary = %+v, delays %v", sum, s.delays)
		}
		s.sf.SetResponseDelay(0)
		if sum := s.pusher.Push(t.Context(), id, syncer.EventCreated); !sum.OK() || len(s.casesOf(id)) != 1 {
			t.Fatalf("retry = %+v, cases %d", sum, len(s.casesOf(id)))
		}
	})
}

func TestSweepFixesTicketWhoseWebhookNeverArrivedOverHTTP(t *testing.T) {
	s := newSystem(t)
	lost := s.ticket("webhook lost")
	noOrg := s.zd.AddTicket(syncer.Ticket{Subject: "no org"})
	sum := s.sweep.Run(t.Context())
	if !sum.OK() || sum.Created != 1 {
		t.Fatalf("sweep = %+v", sum)
	}
	waitIdle(t, s.queue, 1)
	if cs := s.casesOf(lost); len(cs) != 1 || s.caseField(t, lost) != cs[0].ID {
		t.Fatalf("cases = %+v", cs)
	}
	if n := len(s.casesOf(noOrg)); n != 0 {
		t.Fatalf("ticket without org got %d cases", n)
	}
	// Closed, and that webhook is lost too.
	s.zd.SetTicketStatus(lost, "closed")
	if sum := s.sweep.Run(t.Context()); !sum.OK() || sum.Updated != 1 {
		t.Fatalf("second sweep = %+v", sum)
	}
	waitIdle(t, s.queue, 2)
	if st := s.casesOf(lost)[0].Status; st != syncer.CaseStatusClosed {
		t.Fatalf("case status = %q", st)
	}

	// Closed before any push: its case is created closed, and the push is
	// done although Zendesk refuses to write a closed ticket's case ID
	// field; a later push finds that case by ticket ID.
	late := s.ticket("closed before its push")
	s.zd.SetTicketStatus(late, "closed")
	if sum := s.sweep.Run(t.Context()); !sum.OK() || sum.Created != 1 {
		t.Fatalf("third sweep = %+v", sum)
	}
	waitIdle(t, s.queue, 3)
	cs := s.casesOf(late)
	if len(cs) != 1 || cs[0].Status != syncer.CaseStatusClosed {
		t.Fatalf("cases of the closed ticket = %+v", cs)
	}
	if sum := s.pusher.Push(t.Context(), late, syncer.EventCreated); !sum.OK() || sum.CaseID != cs[0].ID || len(s.casesOf(late)) != 1 {
		t.Fatalf("push again = %+v, %d cases", sum, len(s.casesOf(late)))
	}
}

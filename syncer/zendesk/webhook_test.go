package zendesk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/zendesk"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

const webhookSecret = "dGhpcyBpcyBub3QgYmFzZTY0IGRlY29kZWQ="

var webhookNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type storedEvent struct {
	id int64
	ev syncer.Event
}

type memQueue struct {
	mu  sync.Mutex
	got []storedEvent
	err error
}

func (q *memQueue) Enqueue(_ context.Context, id int64, ev syncer.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.got = append(q.got, storedEvent{id, ev})
	return nil
}

func newWebhookServer(t *testing.T) (*httptest.Server, *memQueue) {
	t.Helper()
	q := &memQueue{}
	h := zendesk.NewWebhookHandler(webhookSecret, q, nil)
	h.Now = func() time.Time { return webhookNow }
	mux := http.NewServeMux()
	mux.Handle(zendesk.WebhookPath, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, q
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

func signed(t *testing.T, url, body string, at time.Time) *http.Request {
	t.Helper()
	req, err := zendesktest.NewWebhookRequest(url, webhookSecret, []byte(body), at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestWebhookStoresSignedEventsBeforeAnswering(t *testing.T) {
	srv, q := newWebhookServer(t)
	url := srv.URL + zendesk.WebhookPath
	bodies := map[string]storedEvent{
		`{"ticket_id": "123", "event": "created"}`:                      {123, syncer.EventCreated},
		`{"ticket_id": 124, "event": "closed", "via": "trigger 9"}`:     {124, syncer.EventClosed},
		`{"event":"Closed","ticket_id":" 125 ","extra":{"nested":[1]}}`: {125, syncer.EventClosed},
	}
	for body, want := range bodies {
		q.got = nil
		if code := send(t, signed(t, url, body, webhookNow.Add(-4*time.Minute))); code != http.StatusAccepted {
			t.Errorf("%s: status %d, want 202", body, code)
		}
		if len(q.got) != 1 || q.got[0] != want {
			t.Errorf("%s: stored %v, want %v", body, q.got, want)
		}
	}
}

func TestWebhookAcceptsUnixSecondsTimestamp(t *testing.T) {
	srv, q := newWebhookServer(t)
	body := []byte(`{"ticket_id":"7","event":"created"}`)
	ts := strconv.FormatInt(webhookNow.Add(-time.Minute).Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+zendesk.WebhookPath, bytes.NewReader(body))
	req.Header.Set(zendesk.WebhookTimestampHeader, ts)
	req.Header.Set(zendesk.WebhookSignatureHeader, zendesk.WebhookSignature(webhookSecret, ts, body))
	if code := send(t, req); code != http.StatusAccepted || len(q.got) != 1 {
		t.Fatalf("status %d, stored %v", code, q.got)
	}
}

func TestWebhookRefusesAndStoresNothing(t *testing.T) {
	good := `{"ticket_id":"123","event":"created"}`
	tests := []struct {
		name string
		req  func(url string) *http.Request
		want int
	}{
		{"unsigned request is refused", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(good))
			return req
		}, http.StatusUnauthorized},
		{"request without timestamp is refused", func(url string) *http.Request {
			req := signed(t, url, good, webhookNow)
			req.Header.Del(zendesk.WebhookTimestampHeader)
			return req
		}, http.StatusUnauthorized},
		{"request signed with another secret is refused", func(url string) *http.Request {
			req, _ := zendesktest.NewWebhookRequest(url, "not the secret", []byte(good), webhookNow)
			return req
		}, http.StatusUnauthorized},
		{"request whose body was changed after signing is refused", func(url string) *http.Request {
			req := signed(t, url, good, webhookNow)
			changed := []byte(strings.Replace(good, "123", "124", 1))
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(changed)), int64(len(changed))
			return req
		}, http.StatusUnauthorized},
		{"request whose timestamp was changed after signing is refused", func(url string) *http.Request {
			req := signed(t, url, good, webhookNow.Add(-time.Hour))
			req.Header.Set(zendesk.WebhookTimestampHeader, webhookNow.Format(time.RFC3339))
			return req
		}, http.StatusUnauthorized},
		{"signature that is not base64 is refused", func(url string) *http.Request {
			req := signed(t, url, good, webhookNow)
			req.Header.Set(zendesk.WebhookSignatureHeader, "!!!")
			return req
		}, http.StatusUnauthorized},
		{"request signed six minutes ago is refused as stale", func(url string) *http.Request {
			return signed(t, url, good, webhookNow.Add(-6*time.Minute))
		}, http.StatusUnauthorized},
		{"request signed ten minutes in the future is refused", func(url string) *http.Request {
			return signed(t, url, good, webhookNow.Add(10*time.Minute))
		}, http.StatusUnauthorized},
		{"request signed thirty years in the future is refused", func(url string) *http.Request {
			return signed(t, url, good, webhookNow.AddDate(30, 0, 0))
		}, http.StatusUnauthorized},
		{"request signed in the year 9999 is refused", func(url string) *http.Request {
			return signed(t, url, good, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
		}, http.StatusUnauthorized},
		{"request signed at Unix second 99999999999 (year 5138) is refused", func(url string) *http.Request {
			body := []byte(good)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set(zendesk.WebhookTimestampHeader, "99999999999")
			req.Header.Set(zendesk.WebhookSignatureHeader, zendesk.WebhookSignature(webhookSecret, "99999999999", body))
			return req
		}, http.StatusUnauthorized},
		{"request signed in the year 1 is refused", func(url string) *http.Request {
			return signed(t, url, good, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
		}, http.StatusUnauthorized},
		{"unreadable timestamp is refused", func(url string) *http.Request {
			body := []byte(good)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set(zendesk.WebhookTimestampHeader, "yesterday")
			req.Header.Set(zendesk.WebhookSignatureHeader, zendesk.WebhookSignature(webhookSecret, "yesterday", body))
			return req
		}, http.StatusUnauthorized},
		{"oversized body is refused", func(url string) *http.Request {
			body := `{"ticket_id":"123","event":"created","pad":"` + strings.Repeat("x", zendesk.MaxWebhookBody) + `"}`
			return signed(t, url, body, webhookNow)
		}, http.StatusRequestEntityTooLarge},
		{"oversized body without a length is refused", func(url string) *http.Request {
			body := `{"ticket_id":"123","event":"created","pad":"` + strings.Repeat("x", zendesk.MaxWebhookBody) + `"}`
			req := signed(t, url, body, webhookNow)
			req.ContentLength = -1 // chunked
			req.Body = io.NopCloser(strings.NewReader(body))
			req.GetBody = nil
			return req
		}, http.StatusRequestEntityTooLarge},
		{"malformed JSON is refused", func(url string) *http.Request {
			return signed(t, url, `{"ticket_id":"123",`, webhookNow)
		}, http.StatusBadRequest},
		{"unknown event is refused", func(url string) *http.Request {
			return signed(t, url, `{"ticket_id":"123","event":"solved"}`, webhookNow)
		}, http.StatusBadRequest},
		{"missing ticket ID is refused", func(url string) *http.Request {
			return signed(t, url, `{"event":"created"}`, webhookNow)
		}, http.StatusBadRequest},
		{"non-numeric ticket ID is refused", func(url string) *http.Request {
			return signed(t, url, `{"ticket_id":"{{ticket.id}}","event":"created"}`, webhookNow)
		}, http.StatusBadRequest},
		{"GET is refused", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			return req
		}, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, q := newWebhookServer(t)
			if code := send(t, tt.req(srv.URL+zendesk.WebhookPath)); code != tt.want {
				t.Errorf("status %d, want %d", code, tt.want)
			}
			if len(q.got) != 0 {
				t.Errorf("stored %v, want nothing", q.got)
			}
		})
	}
}

func TestWebhookStoreFailureAnswers503(t *testing.T) {
	srv, q := newWebhookServer(t)
	q.err = errors.New("database is locked")
	req := signed(t, srv.URL+zendesk.WebhookPath, `{"ticket_id":"1","event":"created"}`, webhookNow)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestWebhookWithoutSecretRefusesEverything(t *testing.T) {
	q := &memQueue{}
	h := zendesk.NewWebhookHandler("", q, nil)
	body := []byte(`{"ticket_id":"1","event":"created"}`)
	ts := time.Now().UTC().Format(time.RFC3339)
	req := httptest.NewRequest(http.MethodPost, zendesk.WebhookPath, bytes.NewReader(body))
	req.Header.Set(zendesk.WebhookTimestampHeader, ts)
	req.Header.Set(zendesk.WebhookSignatureHeader, zendesk.WebhookSignature("", ts, body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || len(q.got) != 0 {
		t.Fatalf("status %d, stored %v", rec.Code, q.got)
	}
}

func TestWebhookSignatureMatchesSandboxSigner(t *testing.T) {
	body := []byte(`{"ticket_id":"1","event":"created"}`)
	if a, b := zendesk.WebhookSignature("s", "2026-03-02T10:00:00Z", body), zendesktest.Signature("s", "2026-03-02T10:00:00Z", body); a != b {
		t.Fatalf("signatures differ: %s, %s", a, b)
	}
}

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		body string
		want zendesk.WebhookEvent
		ok   bool
	}{
		{`{"ticket_id":"42","event":"created"}`, zendesk.WebhookEvent{TicketID: 42, Event: syncer.EventCreated}, true},
		{`{"ticket_id":42,"event":"closed"}`, zendesk.WebhookEvent{TicketID: 42, Event: syncer.EventClosed}, true},
		{` {"ticket_id":42,"event":"closed"} `, zendesk.WebhookEvent{TicketID: 42, Event: syncer.EventClosed}, true},
		{`{"ticket_id":0,"event":"closed"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":-3,"event":"closed"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":4.5,"event":"closed"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":1e3,"event":"closed"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":"99999999999999999999","event":"closed"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":null,"event":"closed"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":"1","event":5}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":"1"}`, zendesk.WebhookEvent{}, false},
		{`{"ticket_id":"1","event":"created"}{}`, zendesk.WebhookEvent{}, false},
		{`[1]`, zendesk.WebhookEvent{}, false},
		{`null`, zendesk.WebhookEvent{}, false},
		{``, zendesk.WebhookEvent{}, false},
	}
	for _, tt := range tests {
		got, err := zendesk.ParseWebhook([]byte(tt.body))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseWebhook(%s) = %+v, %v", tt.body, got, err)
		}
		if err != nil && !errors.Is(err, zendesk.ErrWebhookBody) {
			t.Errorf("ParseWebhook(%s) error %v does not wrap ErrWebhookBody", tt.body, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("secret", []byte(`{"ticket_id":"1","event":"created"}`), int64(0), "sig", "2026-03-02T10:00:00Z")
	f.Add("", []byte{}, int64(-301), "", "1772445600")
	f.Add("k", []byte("x"), int64(299), "AAAA", "")
	f.Fuzz(func(t *testing.T, secret string, body []byte, offset int64, sig, ts string) {
		// Arbitrary headers never panic and never verify unless they are
		// the real signature.
		err := zendesk.VerifyWebhook(secret, sig, ts, body, webhookNow)
		if err == nil && (secret == "" || sig != zendesk.WebhookSignature(secret, ts, body) && strings.TrimSpace(sig) != zendesk.WebhookSignature(secret, ts, body)) {
			t.Fatalf("forged signature %q verified", sig)
		}
		// A real signature verifies exactly when the timestamp is fresh.
		offset %= 3600
		stamp := webhookNow.Add(time.Duration(offset) * time.Second).Format(time.RFC3339)
		real := zendesk.WebhookSignature(secret, stamp, body)
		err = zendesk.VerifyWebhook(secret, real, stamp, body, webhookNow)
		fresh := offset >= -300 && offset <= 300
		if want := secret != "" && fresh; (err == nil) != want {
			t.Fatalf("offset %ds secret %q: err %v", offset, secret, err)
		}
		// Any change to the body breaks it.
		if secret != "" && fresh {
			changed := append(append([]byte{}, body...), 'x')
			if zendesk.VerifyWebhook(secret, real, stamp, changed, webhookNow) == nil {
				t.Fatal("changed body verified")
			}
		}
	})
}

// FuzzVerifyTimestamp signs a body at any instant, decades or centuries
// away included, in either accepted form (RFC 3339, Unix seconds): the
// signature verifies exactly when the instant is within the window.
func FuzzVerifyTimestamp(f *testing.F) {
	for _, off := range []int64{0, 300, -300, 301, -301, 86400, 30 * 365 * 86400, -30 * 365 * 86400,
		3000 * 365 * 86400, 99999999999 - webhookNow.Unix(), 253402300799 - webhookNow.Unix(), 1 << 40, -(1 << 40), math.MaxInt64, math.MinInt64} {
		f.Add(off, true)
		f.Add(off, false)
	}
	f.Fuzz(func(t *testing.T, offset int64, unix bool) {
		if offset > 1<<50 || offset < -(1<<50) {
			offset %= 1 << 50
		}
		at := time.Unix(webhookNow.Unix()+offset, 0).UTC()
		stamp := at.Format(time.RFC3339)
		if unix {
			stamp = strconv.FormatInt(at.Unix(), 10)
		} else if at.Year() < 0 || at.Year() > 9999 {
			return // no RFC 3339 form
		}
		body := []byte(`{"ticket_id":"1","event":"created"}`)
		err := zendesk.VerifyWebhook(webhookSecret, zendesk.WebhookSignature(webhookSecret, stamp, body), stamp, body, webhookNow)
		if fresh := offset >= -300 && offset <= 300; (err == nil) != fresh {
			t.Fatalf("signed at %s (%ds from now): err %v", stamp, offset, err)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"ticket_id":"42","event":"created"}`, `{"ticket_id":42,"event":"closed"}`,
		`{"ticket_id":"0","event":"x"}`, `[]`, `{"ticket_id":1e9}`, `{"ticket_id":" 7 ","event":" CLOSED "}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := zendesk.ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, zendesk.ErrWebhookBody) {
				t.Fatalf("error %v does not wrap ErrWebhookBody", err)
			}
			return
		}
		if ev.TicketID <= 0 || (ev.Event != syncer.EventCreated && ev.Event != syncer.EventClosed) {
			t.Fatalf("accepted invalid event %+v", ev)
		}
		again, err := zendesk.ParseWebhook([]byte(fmt.Sprintf(`{"ticket_id":%d,"event":%q}`, ev.TicketID, ev.Event)))
		if err != nil || again != ev {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

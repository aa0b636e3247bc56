package zendesk

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// WebhookPath is where zdsync serve receives the Zendesk ticket webhook.
const WebhookPath = "/webhooks/zendesk"

// Header names Zendesk signs webhook requests with ("Verifying webhook
// authenticity", Zendesk webhooks documentation).
const (
	WebhookSignatureHeader = "X-Zendesk-Webhook-Signature"
	WebhookTimestampHeader = "X-Zendesk-Webhook-Signature-Timestamp"
)

// MaxWebhookBody bounds the body of a webhook request. The payload zdsync
// expects is a few dozen bytes; 64 KiB leaves room for triggers that send
// more keys without letting a client make the server buffer megabytes.
const MaxWebhookBody = 64 << 10

// WebhookMaxAge is how old a webhook's signature timestamp may be before the
// request is refused as stale (a replay); WebhookMaxSkew is how far in the
// future it may be (clock skew).
const (
	WebhookMaxAge  = 5 * time.Minute
	WebhookMaxSkew = 5 * time.Minute
)

// maxSignatureLen bounds the signature header: base64 of a 32-byte
// HMAC-SHA256 is 44 characters.
const maxSignatureLen = 128

// Errors of VerifyWebhook.
var (
	// ErrWebhookUnsigned means the signature or timestamp header is
	// missing.
	ErrWebhookUnsigned = errors.New("webhook request is not signed")
	// ErrWebhookSignature means the signature does not match the body.
	ErrWebhookSignature = errors.New("webhook signature does not match")
	// ErrWebhookStale means the timestamp is unreadable, too old or too
	// far in the future.
	ErrWebhookStale = errors.New("webhook timestamp is stale")
	// ErrWebhookNoSecret means no signing secret is configured, so
	// nothing can be verified.
	ErrWebhookNoSecret = errors.New("webhook signing secret is not configured")
)

// WebhookSignature returns the signature Zendesk sends for body at the
// timestamp header value ts: base64 of HMAC-SHA256(secret, ts + body), the
// secret used as-is.
func WebhookSignature(secret, ts string, body []byte) string {
	return base64.StdEncoding.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a Zendesk webhook request: signature must be the
// base64 HMAC-SHA256 of the timestamp header's string followed by the raw
// body, keyed with secret and compared in constant time, and the timestamp
// (RFC 3339, or Unix seconds) must be within WebhookMaxAge before now and
// WebhookMaxSkew after it.
func VerifyWebhook(secret, signature, timestamp string, body []byte, now time.Time) error {
	if secret == "" {
		return ErrWebhookNoSecret
	}
	if signature == "" || timestamp == "" {
		return ErrWebhookUnsigned
	}
	if len(signature) > maxSignatureLen {
		return ErrWebhookSignature
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil || !hmac.Equal(got, webhookMAC(secret, timestamp, body)) {
		return ErrWebhookSignature
	}
	at, ok := parseWebhookTime(timestamp)
	if !ok {
		return fmt.Errorf("%w: unreadable timestamp", ErrWebhookStale)
	}
	// The window is judged on the instants, not on now.Sub(at): that
	// difference saturates for a timestamp centuries away, and a negated
	// minimum Duration is still negative, so a timestamp far enough in
	// the future used to pass as "not too far ahead".
	switch {
	case at.Before(now.Add(-WebhookMaxAge)):
		return fmt.Errorf("%w: signed at %s, more than %s ago", ErrWebhookStale, at.UTC().Format(time.RFC3339), WebhookMaxAge)
	case at.After(now.Add(WebhookMaxSkew)):
		return fmt.Errorf("%w: signed at %s, more than %s in the future", ErrWebhookStale, at.UTC().Format(time.RFC3339), WebhookMaxSkew)
	}
	return nil
}

// parseWebhookTime reads a signature timestamp: RFC 3339 (Zendesk sends
// ISO 8601 UTC) or Unix seconds.
func parseWebhookTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}, false
	}
	if allDigits(s) {
		if len(s) > 11 { // beyond year 5138: not a timestamp in seconds
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// WebhookEvent is a parsed webhook body: a ticket event to push.
type WebhookEvent struct {
	TicketID int64
	Event    syncer.Event
}

// ErrWebhookBody is wrapped by ParseWebhook's errors: the body is not the
// payload zdsync expects.
var ErrWebhookBody = errors.New("malformed webhook body")

// ParseWebhook reads the body the Zendesk triggers send: a JSON object
// {"ticket_id": "123", "event": "created"} or with "event": "closed". The
// ticket ID may be a string or a number and must be a positive integer;
// other keys are ignored.
func ParseWebhook(body []byte) (WebhookEvent, error) {
	var raw struct {
		TicketID json.RawMessage `json:"ticket_id"`
		Event    *string         `json:"event"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %v", ErrWebhookBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return WebhookEvent{}, fmt.Errorf("%w: data after the JSON object", ErrWebhookBody)
	}
	id, err := parseTicketID(raw.TicketID)
	if err != nil {
		return WebhookEvent{}, err
	}
	if raw.Event == nil {
		return WebhookEvent{}, fmt.Errorf("%w: event is missing", ErrWebhookBody)
	}
	ev, ok := syncer.ParseEvent(strings.ToLower(strings.TrimSpace(*raw.Event)))
	if !ok {
		return WebhookEvent{}, fmt.Errorf("%w: event %q is neither created nor closed", ErrWebhookBody, truncateForError(*raw.Event))
	}
	return WebhookEvent{TicketID: id, Event: ev}, nil
}

// parseTicketID reads ticket_id: a JSON number or string holding a
// positive decimal integer.
func parseTicketID(raw json.RawMessage) (int64, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" {
		return 0, fmt.Errorf("%w: ticket_id is missing", ErrWebhookBody)
	}
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("%w: ticket_id: %v", ErrWebhookBody, err)
		}
		text = strings.TrimSpace(s)
	}
	if !allDigits(text) {
		return 0, fmt.Errorf("%w: ticket_id %q is not a positive integer", ErrWebhookBody, truncateForError(text))
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: ticket_id %q is not a positive integer", ErrWebhookBody, truncateForError(text))
	}
	return id, nil
}

func truncateForError(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// WebhookHandler serves POST /webhooks/zendesk: it verifies the request's
// signature, parses the ticket event and stores it in Queue before
// answering 202 Accepted, so a 2xx always means the event is stored. A
// request it refuses stores nothing: 401 when unsigned, forged or stale,
// 400 when malformed, 413 when larger than MaxWebhookBody, 405 for another
// method, and 503 when the event could not be stored (Zendesk retries).
type WebhookHandler struct {
	// Secret is the webhook's signing secret (ZENDESK_WEBHOOK_SECRET).
	Secret string
	// Queue stores accepted events durably.
	Queue syncer.Enqueuer
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// NewWebhookHandler returns a handler that verifies requests with secret
// and stores accepted events in q.
func NewWebhookHandler(secret string, q syncer.Enqueuer, logger *slog.Logger) *WebhookHandler {
	return &WebhookHandler{Secret: secret, Queue: q, Logger: logger}
}

// ServeHTTP handles one webhook request.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("path", r.URL.Path, "remote", r.RemoteAddr)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		webhookAnswer(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if r.ContentLength > MaxWebhookBody {
		log.Warn("webhook refused: body too large", "content_length", r.ContentLength)
		webhookAnswer(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("webhook refused: body too large")
			webhookAnswer(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		log.Warn("webhook refused: body unreadable", "err", err)
		webhookAnswer(w, http.StatusBadRequest, "body unreadable")
		return
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	if err := VerifyWebhook(h.Secret, r.Header.Get(WebhookSignatureHeader), r.Header.Get(WebhookTimestampHeader), body, now); err != nil {
		if errors.Is(err, ErrWebhookNoSecret) {
			log.Error("webhook refused: ZENDESK_WEBHOOK_SECRET is not set")
		} else {
			log.Warn("webhook refused", "err", err)
		}
		webhookAnswer(w, http.StatusUnauthorized, "signature verification failed")
		return
	}
	ev, err := ParseWebhook(body)
	if err != nil {
		log.Warn("webhook refused", "err", err)
		webhookAnswer(w, http.StatusBadRequest, err.Error())
		return
	}
	log = log.With("ticket_id", ev.TicketID, "event", ev.Event)
	if err := h.Queue.Enqueue(r.Context(), ev.TicketID, ev.Event); err != nil {
		log.Error("webhook event not stored", "err", err)
		w.Header().Set("Retry-After", "10")
		webhookAnswer(w, http.StatusServiceUnavailable, "event not stored, retry later")
		return
	}
	log.Info("webhook event stored")
	webhookAnswer(w, http.StatusAccepted, "stored")
}

func webhookAnswer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"status": http.StatusText(status), "message": msg})
	w.Write(append(b, '\n'))
}

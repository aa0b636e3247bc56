package zendesktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"time"
)

// Header names Zendesk signs webhook requests with ("Verifying webhook
// authenticity", Zendesk webhooks documentation).
const (
	SignatureHeader          = "X-Zendesk-Webhook-Signature"
	SignatureTimestampHeader = "X-Zendesk-Webhook-Signature-Timestamp"
)

// Signature returns the signature Zendesk sends for body at timestamp ts
// (the timestamp header's string exactly as sent): base64 of
// HMAC-SHA256(secret, ts + body), the secret used as-is.
func Signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignWebhook sets req's body to body and signs it as Zendesk signs webhook
// requests, with the timestamp ts written as RFC 3339 in UTC.
func SignWebhook(req *http.Request, secret string, body []byte, ts time.Time) {
	stamp := ts.UTC().Format(time.RFC3339)
	req.Header.Set(SignatureTimestampHeader, stamp)
	req.Header.Set(SignatureHeader, Signature(secret, stamp, body))
	req.Header.Set("Content-Type", "application/json")
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// NewWebhookRequest returns a POST request to url carrying body, signed
// with secret at ts as Zendesk signs webhook requests.
func NewWebhookRequest(url, secret string, body []byte, ts time.Time) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	SignWebhook(req, secret, body, ts)
	return req, nil
}

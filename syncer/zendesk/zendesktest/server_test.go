package zendesktest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

func do(t *testing.T, s *zendesktest.Server, method, path string, body any) *http.Response {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, s.URL()+"/api/v2"+path, bytes.NewReader(b))
	req.SetBasicAuth(zendesktest.DefaultEmail+"/token", zendesktest.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestServerEnforcesDocumentedLimits(t *testing.T) {
	s := zendesktest.NewServer()
	defer s.Close()
	orgs := make([]map[string]any, 101)
	for i := range orgs {
		orgs[i] = map[string]any{"name": fmt.Sprint(i)}
	}
	if r := do(t, s, "POST", "/organizations/create_many.json", map[string]any{"organizations": orgs}); r.StatusCode != 400 {
		t.Fatalf("101 records: %d", r.StatusCode)
	}
	if r := do(t, s, "GET", "/organizations.json?page[size]=101", nil); r.StatusCode != 400 {
		t.Fatalf("page size 101: %d", r.StatusCode)
	}
	if r := do(t, s, "GET", "/organizations.json?page[size]=100&junk=1", nil); r.StatusCode != 200 || r.Header.Get("X-Rate-Limit-Remaining") == "" {
		t.Fatalf("list: %d %v", r.StatusCode, r.Header)
	}
	if s.WriteCalls() != 1 || s.TotalCalls() != 3 {
		t.Fatalf("calls %v", s.Calls())
	}
}

func TestServerRateLimitUsesItsClock(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.WithRateLimit(2), zendesktest.WithClock(func() time.Time { return now }))
	defer s.Close()
	do(t, s, "GET", "/organizations.json", nil)
	do(t, s, "GET", "/organizations.json", nil)
	r := do(t, s, "GET", "/organizations.json", nil)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "60" {
		t.Fatalf("third request: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	now = now.Add(time.Minute)
	if r := do(t, s, "GET", "/organizations.json", nil); r.StatusCode != 200 {
		t.Fatalf("next window: %d", r.StatusCode)
	}
}

func TestSignWebhookSignsTimestampAndBody(t *testing.T) {
	body := []byte(`{"ticket_id":"1","event":"created"}`)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	req, err := zendesktest.NewWebhookRequest("http://example.com/webhooks/zendesk", "s3cret", body, ts)
	if err != nil {
		t.Fatal(err)
	}
	stamp := req.Header.Get(zendesktest.SignatureTimestampHeader)
	if stamp != "2025-01-02T02:04:05Z" {
		t.Fatalf("timestamp %q", stamp)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte(stamp))
	m.Write(body)
	if got := req.Header.Get(zendesktest.SignatureHeader); got != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		t.Fatalf("signature %q", got)
	}
}
